package filter

import (
	"reflect"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

func TestParsePath(t *testing.T) {
	user, group := schema.UserResourceType, schema.GroupResourceType
	tests := []struct {
		rt        *schema.ResourceType
		path      string
		attr, sub string
		extension bool
		filtered  bool
	}{
		{user, "userName", "userName", "", false, false},
		{user, "USERNAME", "userName", "", false, false},
		{user, "name.givenName", "name", "givenName", false, false},
		{user, "id", "id", "", false, false},
		{user, "meta.lastModified", "meta", "lastModified", false, false},
		{user, "emails", "emails", "", false, false},
		{user, "emails.value", "emails", "value", false, false},
		{user, `emails[type eq "work"]`, "emails", "", false, true},
		{user, `emails[type eq "work"].value`, "emails", "value", false, true},
		{user, `Emails[Type eq "work"].Value`, "emails", "value", false, true},
		{user, `emails[type eq "work" and value co "@example.com" and primary eq true].display`, "emails", "display", false, true},
		{user, "urn:ietf:params:scim:schemas:core:2.0:User:userName", "userName", "", false, false},
		{user, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "department", "", true, false},
		{user, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "manager", "", true, false},
		{user, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "manager", "value", true, false},
		{group, "members", "members", "", false, false},
		{group, `members[value eq "a-1"]`, "members", "", false, true},
		{group, `members[value eq "a-1"].display`, "members", "display", false, true},
		{group, "displayName", "displayName", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := ParsePath(tt.rt, tt.path)
			if err != nil {
				t.Fatalf("ParsePath: %v", err)
			}
			sub := ""
			if p.Sub != nil {
				sub = p.Sub.Name
			}
			if p.Attr.Name != tt.attr || sub != tt.sub || p.Extension(tt.rt) != tt.extension || (p.Filter != nil) != tt.filtered {
				t.Errorf("ParsePath = %s.%s extension %v filtered %v; want %s.%s extension %v filtered %v",
					p.Attr.Name, sub, p.Extension(tt.rt), p.Filter != nil, tt.attr, tt.sub, tt.extension, tt.filtered)
			}
			if p.String() != tt.path {
				t.Errorf("String() = %q", p.String())
			}
		})
	}
}

func TestParsePathErrors(t *testing.T) {
	user, group := schema.UserResourceType, schema.GroupResourceType
	tests := []struct {
		rt       *schema.ResourceType
		path     string
		scimType string
		detail   string
	}{
		{user, "nonsense", scimerror.InvalidPath, `unknown attribute "nonsense"`},
		{user, "name.nonsense", scimerror.InvalidPath, `unknown attribute "name.nonsense"`},
		{group, "userName", scimerror.InvalidPath, `resource type Group has no such attribute`},
		{user, "name..givenName", scimerror.InvalidPath, `invalid path "name..givenName"`},
		{user, "name.givenName.x", scimerror.InvalidPath, `invalid path`},
		{user, "", scimerror.InvalidPath, "path is empty"},
		{user, `emails[type eq "work"]value`, scimerror.InvalidPath, `"emails[type eq \"work\"]" is a complete path but "value" follows it`},
		{user, `emails[type eq "work"`, scimerror.InvalidPath, `missing a closing "]"`},
		{user, `emails[type eq "work`, scimerror.InvalidPath, `never closed`},
		{user, `emails[type eq "work"].nonsense`, scimerror.InvalidPath, `emails has no sub-attribute "nonsense"`},
		{user, `name[givenName eq "x"]`, scimerror.InvalidPath, `which name is not`},
		{user, `emails.value[type eq "x"]`, scimerror.InvalidPath, `which emails.value is not`},
		{user, `userName[value eq "x"]`, scimerror.InvalidPath, `which userName is not`},
		{user, `emails[nonsense eq "x"]`, scimerror.InvalidFilter, `unknown sub-attribute "nonsense" in a value filter of emails`},
		{user, `emails[primary gt true]`, scimerror.InvalidFilter, `emails.primary is a boolean attribute`},
		{user, `emails[type eq "work" and]`, scimerror.InvalidFilter, `invalid value filter`},
		{group, `members[value eq "a" and display[value eq "b"]]`, scimerror.InvalidPath, `cannot contain another value filter`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, err := ParsePath(tt.rt, tt.path)
			assertSCIMError(t, err, tt.scimType, tt.detail)
		})
	}
}

func TestValueFilter(t *testing.T) {
	work := decode(t, `{"value": "bjensen@example.com", "type": "work", "primary": true}`)
	home := decode(t, `{"value": "babs@jensen.org", "type": "home"}`)
	tests := []struct {
		path       string
		work, home bool
		implied    map[string]any
	}{
		{`emails[type eq "work"]`, true, false, map[string]any{"type": "work"}},
		{`emails[TYPE eq "WORK"]`, true, false, map[string]any{"type": "WORK"}},
		{`emails[type eq "work" and primary eq true].value`, true, false, map[string]any{"type": "work", "primary": true}},
		{`emails[type eq "home" and value eq "x" and display eq "y"]`, false, false, map[string]any{"type": "home", "value": "x", "display": "y"}},
		{`emails[type eq "work" or type eq "home"]`, true, true, nil},
		{`emails[not (type eq "work")]`, false, true, nil},
		{`emails[value ew ".org"]`, false, true, nil},
		{`emails[primary pr]`, true, false, nil},
		{`emails[type eq "work" and type eq "home"]`, false, false, nil},
		{`emails[type eq null]`, false, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := ParsePath(schema.UserResourceType, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Filter.Match(work); got != tt.work {
				t.Errorf("Match(work) = %v", got)
			}
			if got := p.Filter.Match(home); got != tt.home {
				t.Errorf("Match(home) = %v", got)
			}
			implied, ok := p.Filter.Implied()
			if ok != (tt.implied != nil) || !reflect.DeepEqual(implied, tt.implied) {
				t.Errorf("Implied() = %v, %v; want %v", implied, ok, tt.implied)
			}
		})
	}
}
