package filter

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatalf("test document: %v", err)
	}
	return doc
}

const aliceJSON = `{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"id": "a-0001",
	"externalId": "Ext-1",
	"userName": "Alice@Example.com",
	"name": {"givenName": "Alice", "familyName": "Glick", "formatted": "Alice Glick"},
	"displayName": "Alice Glick",
	"active": true,
	"userType": "user",
	"title": "",
	"emails": [
		{"value": "alice@example.com", "type": "work", "primary": true},
		{"value": "alice@home.org", "type": "home"}
	],
	"phoneNumbers": [],
	"groups": [{"value": "r-01", "display": "Admins"}],
	"meta": {"resourceType": "User", "created": "2024-01-02T03:04:05Z", "lastModified": "2024-06-01T12:00:00.5+02:00", "location": "Users/a-0001"},
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
		"department": "Engineering",
		"manager": {"value": "a-0002", "displayName": "Bob"}
	}
}`

const groupJSON = `{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
	"id": "r-0001",
	"displayName": "Admins",
	"members": [{"value": "a-0001", "display": "alice"}, {"value": "a-0002", "display": "bob"}],
	"meta": {"resourceType": "Group", "location": "Groups/r-0001"}
}`

func TestMatchUser(t *testing.T) {
	alice := decode(t, aliceJSON)
	tests := []struct {
		filter string
		want   bool
	}{
		// eq, case rules: userName and displayName are case-insensitive, id and externalId case-exact.
		{`userName eq "alice@example.com"`, true},
		{`userName eq "ALICE@EXAMPLE.COM"`, true},
		{`userName eq "bob@example.com"`, false},
		{`displayName eq "alice glick"`, true},
		{`id eq "a-0001"`, true},
		{`id eq "A-0001"`, false},
		{`externalId eq "Ext-1"`, true},
		{`externalId eq "ext-1"`, false},
		// userName compares by its identity key, as uniqueness does: full case folding and
		// compatibility normalization. The User's displayName is not unique: it is only lower-cased.
		{`userName eq " ALICE@EXAMPLE.COM "`, true},
		{`userName eq "alice@example.co"`, false},
		{`userName eq "\uff21lice@example.com"`, true},
		{`userName eq "alice\uff20example.com"`, true},
		{`userName eq "ALICE@EXAMPLE.COM" and active eq true`, true},
		{`userName ne "\uff21lice@example.com"`, false},
		{`displayName eq "\uff21lice glick"`, false},
		// Attribute names and operators are case-insensitive.
		{`USERNAME EQ "alice@example.com"`, true},
		{`DisplayName eq "Alice Glick"`, true},
		{`name.FamilyName eq "glick"`, true},
		{`userName Eq "alice@example.com" AND active EQ TRUE`, true},
		// ne is the negation of eq, also when the attribute is unassigned.
		{`userName ne "bob"`, true},
		{`userName ne "alice@example.com"`, false},
		{`nickName ne "x"`, true},
		{`emails.value ne "alice@home.org"`, false},
		{`emails.value ne "nobody@example.com"`, true},
		// co, sw, ew.
		{`userName co "example"`, true},
		{`userName co "EXAMPLE"`, true},
		{`userName sw "alice@"`, true},
		{`userName sw "bob"`, false},
		{`userName ew ".COM"`, true},
		{`id sw "a-"`, true},
		{`id sw "A-"`, false},
		{`externalId co "ext"`, false},
		// gt, ge, lt, le on strings are lexicographic.
		{`userName gt "a"`, true},
		{`userName gt "b"`, false},
		{`userName ge "alice@example.com"`, true},
		{`userName lt "b"`, true},
		{`userName le "alice@example.com"`, true},
		{`userName le "ALICE@EXAMPLE.CO"`, false},
		// pr.
		{`userName pr`, true},
		{`nickName pr`, false},
		{`title pr`, false},
		{`phoneNumbers pr`, false},
		{`emails pr`, true},
		{`name pr`, true},
		{`name.middleName pr`, false},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr`, true},
		// Booleans.
		{`active eq true`, true},
		{`active eq false`, false},
		{`active ne false`, true},
		{`active eq TRUE`, true},
		// dateTime compares chronologically, whatever the offset and precision.
		{`meta.lastModified gt "2024-06-01T09:59:59Z"`, true},
		{`meta.lastModified gt "2024-06-01T10:00:00Z"`, true},
		{`meta.lastModified eq "2024-06-01T10:00:00.5Z"`, true},
		{`meta.lastModified lt "2024-06-01T10:00:01Z"`, true},
		{`meta.lastModified ge "2024-06-01T12:00:00.5+02:00"`, true},
		{`meta.lastModified le "2024-06-01T10:00:00.4Z"`, false},
		{`meta.created gt "2015-10-10T14:38:21.8617979-07:00"`, true},
		{`meta.created sw "2024-01"`, true},
		{`meta.resourceType eq "User"`, true},
		{`meta.resourceType eq "user"`, false},
		// Multi-valued attributes match when any value matches.
		{`emails.value eq "alice@home.org"`, true},
		{`emails.value eq "ALICE@HOME.ORG"`, true},
		{`emails eq "alice@home.org"`, true},
		{`emails co "example.com"`, true},
		{`emails.type eq "other"`, false},
		{`groups.value eq "r-01"`, true},
		{`groups.display eq "admins"`, true},
		// Value paths test each value on its own.
		{`emails[type eq "work"]`, true},
		{`emails[type eq "work" and value co "@example.com"]`, true},
		{`emails[type eq "home" and value co "@example.com"]`, false},
		{`emails[type eq "home" or value co "@nowhere"]`, true},
		{`emails[not (type eq "work")]`, true},
		{`emails[primary eq true and type eq "work"]`, true},
		{`emails[primary eq true and type eq "home"]`, false},
		{`emails[TYPE eq "work"]`, true},
		{`phoneNumbers[type eq "work"]`, false},
		// Value filters beyond the parser's narrow grammar.
		{`emails[type eq "work" and value co "@example.com" and primary eq true]`, true},
		{`emails[type eq "home" and (value co "@example.com" or value co "@home.org")]`, true},
		{`emails[(type eq "home")] and userName sw "alice"`, true},
		{`emails[type eq "home" and value co "x" and primary eq true] or emails[type eq "work"]`, true},
		// Sub-attribute paths and URN-qualified names.
		{`name.givenName eq "Alice"`, true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "alice@example.com"`, true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:name.givenName sw "Al"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "engineering"`, true},
		{`URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:DEPARTMENT eq "engineering"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "a-0002"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "A-0002"`, false},
		// Logic and grouping.
		{`userName sw "alice" and (emails.value co "example.org" or emails.value co "home.org")`, true},
		{`userName sw "alice" and (emails.value co "example.org" or emails.value co "nowhere.org")`, false},
		{`not (userName sw "bob")`, true},
		{`not(active eq true)`, false},
		{`userName eq "x" or userName eq "y" or displayName co "glick"`, true},
		{`((((userName pr))))`, true},
		{`not (not (userName pr))`, true},
		// Escapes in strings, lower-case hex included.
		{`userName eq "alice\u0040example.com"`, true},
		{`userName eq "alice\u0040EXAMPLE.com"`, true},
		{`displayName eq "Alice\u0020Glick"`, true},
		{`displayName eq "Alice\"Glick"`, false},
		// null.
		{`nickName eq null`, true},
		{`userName eq null`, false},
		{`userName ne null`, true},
		// Leading and trailing spaces, and repeated spaces the parser takes.
		{`  userName pr  `, true},
		{`userName  eq  "alice@example.com"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := Parse(schema.UserResourceType, tt.filter)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := f.Match(alice); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchGroup(t *testing.T) {
	group := decode(t, groupJSON)
	tests := []struct {
		filter string
		want   bool
	}{
		{`displayName eq "admins"`, true},
		{`displayName eq "myRole"`, false},
		// displayName compares by its identity key, as uniqueness does: long s, fullwidth and
		// surrounding white space make no difference; inner white space does.
		{`displayName eq "admin\u017f"`, true},
		{`displayName eq "\uff21dmins"`, true},
		{`displayName eq " Admins\t"`, true},
		{`displayName eq "Ad mins"`, false},
		{`displayName sw "ADMIN\u017f"`, true},
		{`members.display eq "\uff22ob"`, false},
		{`members[value eq "a-0001"]`, true},
		{`members[value eq "A-0001"]`, false},
		{`members.value eq "a-0002"`, true},
		{`members eq "a-0002"`, true},
		{`members.display eq "BOB"`, true},
		{`members[value eq "a-0009"]`, false},
		{`id eq "r-0001"`, true},
		{`urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "Admins"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := Parse(schema.GroupResourceType, tt.filter)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := f.Match(group); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMatchOddDocuments checks that documents holding unexpected shapes never match by accident
// and never panic.
func TestMatchOddDocuments(t *testing.T) {
	docs := []string{
		`{}`,
		`{"userName": 5, "active": "true", "emails": "x", "name": [], "meta": {"lastModified": "yesterday"}}`,
		`{"userName": null, "emails": [null, 3, "x", {"value": null}], "name": {"givenName": {"x": 1}}}`,
		`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "x"}`,
	}
	filters := []string{
		`userName eq "5"`, `active eq true`, `emails.value eq "x"`, `emails[value eq "x"]`,
		`name.givenName eq "x"`, `meta.lastModified gt "2000-01-01T00:00:00Z"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr`, `emails eq "x"`,
	}
	for _, d := range docs {
		doc := decode(t, d)
		for _, s := range filters {
			f, err := Parse(schema.UserResourceType, s)
			if err != nil {
				t.Fatalf("Parse(%q): %v", s, err)
			}
			if f.Match(doc) {
				t.Errorf("%q matches %s", s, d)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		rt     *schema.ResourceType
		filter string
		detail string // a fragment the detail must hold
	}{
		{schema.UserResourceType, `foo eq "x"`, `unknown attribute "foo"`},
		{schema.UserResourceType, `name.foo eq "x"`, `unknown attribute "name.foo"`},
		{schema.UserResourceType, `urn:example:x:userName eq "x"`, `unknown attribute "urn:example:x:userName"`},
		{schema.GroupResourceType, `userName eq "x"`, `unknown attribute "userName": resource type Group`},
		{schema.GroupResourceType, `urn:ietf:params:scim:schemas:core:2.0:User:displayName eq "x"`, `unknown attribute`},
		{schema.UserResourceType, `emails[foo eq "x"]`, `unknown sub-attribute "foo" in a value filter of emails`},
		{schema.UserResourceType, `emails[value.x eq "x"]`, `unknown sub-attribute "value.x"`},
		{schema.UserResourceType, `userName[value eq "x"]`, `userName is not a complex attribute`},
		{schema.UserResourceType, `name.givenName[value eq "x"]`, `name.givenName is not a complex attribute`},
		// Syntax errors carry the parser's message.
		{schema.UserResourceType, `userName eq`, `invalid filter "userName eq": parse conflict`},
		{schema.UserResourceType, `userName eq "x" and`, `parse conflict`},
		{schema.UserResourceType, `userName equals "x"`, `parse conflict`},
		{schema.UserResourceType, `userName eq x`, `parse conflict`},
		{schema.UserResourceType, `a.b.c eq "x"`, `parse conflict`},
		{schema.UserResourceType, `emails[type eq "work"].value eq "x"`, `parse conflict`},
		{schema.UserResourceType, `emails[type eq "work" and]`, `invalid value filter "type eq \"work\" and"`},
		{schema.UserResourceType, ``, `filter is empty`},
		{schema.UserResourceType, `   `, `filter is empty`},
		// Lexical errors get a precise message.
		{schema.UserResourceType, `userName eq "x`, `never closed`},
		{schema.UserResourceType, `userName eq "x\"`, `never closed`},
		{schema.UserResourceType, `(userName eq "x"`, `missing a closing ")"`},
		{schema.UserResourceType, `userName eq "x")`, `unmatched ")"`},
		{schema.UserResourceType, `emails[type eq "x")`, `unmatched ")"`},
		{schema.UserResourceType, `emails[type eq "x"`, `missing a closing "]"`},
		{schema.UserResourceType, `emails[type eq "x" and groups[value eq "y"]]`, `cannot contain another value filter`},
		// Operators that do not fit the attribute's type.
		{schema.UserResourceType, `active gt true`, `active is a boolean attribute: it supports only eq, ne and pr, not gt`},
		{schema.UserResourceType, `active co "t"`, `not co`},
		{schema.UserResourceType, `active eq "true"`, `compare it with true or false, not "true"`},
		{schema.UserResourceType, `active eq 1`, `not 1`},
		{schema.UserResourceType, `userName eq 1`, `compare it with a quoted string, not 1`},
		{schema.UserResourceType, `userName eq true`, `not true`},
		{schema.UserResourceType, `userName gt null`, `only eq and ne compare with null`},
		{schema.UserResourceType, `name eq "x"`, `name is a complex attribute and cannot be compared; compare one of its sub-attributes, such as name.formatted`},
		{schema.UserResourceType, `meta gt "x"`, `meta is a complex attribute`},
		{schema.UserResourceType, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "a-1"`, `complex attribute`},
		{schema.UserResourceType, `meta.lastModified gt "yesterday"`, `meta.lastModified is a dateTime`},
		{schema.UserResourceType, `meta.lastModified gt 5`, `quoted string`},
		{schema.UserResourceType, `emails[primary gt true]`, `emails.primary is a boolean attribute`},
		// Limits.
		{schema.UserResourceType, strings.Repeat("(", 65) + `userName pr` + strings.Repeat(")", 65), `nests more than 64 levels`},
		{schema.UserResourceType, strings.Repeat("not (", 65) + `userName pr` + strings.Repeat(")", 65), `nests more than 64 levels`},
		{schema.UserResourceType, strings.Repeat(`userName pr or `, 64) + `userName pr`, `combines more than 64 expressions`},
		{schema.UserResourceType, `userName eq "` + strings.Repeat("x", MaxLength) + `"`, `at most 4096 are accepted`},
	}
	for _, tt := range tests {
		name := tt.filter
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tt.rt, tt.filter)
			assertSCIMError(t, err, scimerror.InvalidFilter, tt.detail)
		})
	}
}

func assertSCIMError(t *testing.T, err error, scimType, detail string) {
	t.Helper()
	e := scimerror.As(err)
	if e == nil {
		t.Fatalf("error = %v, want a *scimerror.Error", err)
	}
	if e.Status != http.StatusBadRequest || e.ScimType != scimType {
		t.Errorf("error = %d %s, want 400 %s", e.Status, e.ScimType, scimType)
	}
	if !strings.Contains(e.Detail, detail) {
		t.Errorf("detail = %q, want it to contain %q", e.Detail, detail)
	}
}

func TestLimitsAreCheap(t *testing.T) {
	inputs := []string{
		strings.Repeat("(", MaxLength),
		strings.Repeat("(", 64) + `userName pr` + strings.Repeat(")", 64),
		strings.Repeat("not (", 64),
		strings.Repeat(`emails[type eq "x"] and `, 63) + `userName pr`,
		strings.Repeat(`userName eq "x" and `, 60) + `userName eq "x"`,
		strings.Repeat("[", MaxLength),
		strings.Repeat(`"`, MaxLength-1),
		`userName eq "` + strings.Repeat(`\u00e9`, (MaxLength-20)/6) + `"`,
	}
	for _, s := range inputs {
		start := time.Now()
		_, _ = Parse(schema.UserResourceType, s)
		_, _ = ParsePath(schema.UserResourceType, s)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("parsing %.30q… took %v", s, d)
		}
	}
}

func TestAtTheLimits(t *testing.T) {
	nested := strings.Repeat("(", 64) + `userName pr` + strings.Repeat(")", 64)
	combined := strings.Repeat(`userName pr or `, 63) + `userName pr`
	for _, s := range []string{nested, combined} {
		f, err := Parse(schema.UserResourceType, s)
		if err != nil {
			t.Fatalf("Parse(%.30q…): %v", s, err)
		}
		if !f.Match(decode(t, aliceJSON)) {
			t.Errorf("%.30q… does not match", s)
		}
	}
}

func TestUnquotedStrings(t *testing.T) {
	alice := decode(t, aliceJSON)
	lenient := Options{UnquotedStrings: true}
	tests := []struct {
		filter string
		want   bool
	}{
		// The shapes of Microsoft's SCIM test collection.
		{`userName sw A`, true},
		{`name.FamilyName eq Glick and (emails.Value co example.com or emails.Value co example.org)`, true},
		{`name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`, false},
		{`meta.Created gt 2015-10-10T14:38:21.8617979-07:00`, true},
		{`emails[type eq work]`, true},
		// Literals stay literals.
		{`active eq true`, true},
		{`userName eq "alice@example.com" and active eq True`, true},
		{`userName eq null`, false},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := lenient.Parse(schema.UserResourceType, tt.filter)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := f.Match(alice); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
	// Strict parsing rejects them, and a number stays a number for a string attribute.
	for _, s := range []string{`userName sw A`, `meta.created gt 2015-10-10T14:38:21Z`} {
		if _, err := Parse(schema.UserResourceType, s); err == nil {
			t.Errorf("strict Parse(%q) succeeded", s)
		}
	}
	_, err := lenient.Parse(schema.UserResourceType, `userName eq 12`)
	assertSCIMError(t, err, scimerror.InvalidFilter, "quoted string")
	_, err = lenient.Parse(schema.UserResourceType, `nonsense eq x`)
	assertSCIMError(t, err, scimerror.InvalidFilter, `unknown attribute "nonsense"`)
	_, err = lenient.Parse(schema.UserResourceType, `userName eq`)
	assertSCIMError(t, err, scimerror.InvalidFilter, "parse conflict")
}

func TestEquality(t *testing.T) {
	tests := []struct {
		rt        *schema.ResourceType
		filter    string
		attr, val string
		indexable bool
	}{
		{schema.UserResourceType, `userName eq "Alice@Example.com"`, "userName", "Alice@Example.com", true},
		{schema.UserResourceType, `USERNAME eq "bjensen"`, "userName", "bjensen", true},
		{schema.UserResourceType, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen"`, "userName", "bjensen", true},
		{schema.UserResourceType, `externalId eq "E-1"`, "externalId", "E-1", true},
		{schema.UserResourceType, `ID eq "a-1"`, "id", "a-1", true},
		{schema.UserResourceType, `displayName eq "Alice"`, "displayName", "Alice", true},
		{schema.GroupResourceType, `displayName eq "myRole"`, "displayName", "myRole", true},
		{schema.GroupResourceType, `displayName eq "my\"Role"`, "displayName", `my"Role`, true},
		{schema.UserResourceType, `userName ne "x"`, "", "", false},
		{schema.UserResourceType, `userName sw "x"`, "", "", false},
		{schema.UserResourceType, `userName eq null`, "", "", false},
		{schema.UserResourceType, `nickName eq "x"`, "", "", false},
		{schema.UserResourceType, `userName eq "x" and active eq true`, "", "", false},
		{schema.UserResourceType, `(userName eq "x")`, "userName", "x", true},
		{schema.UserResourceType, `not (userName eq "x")`, "", "", false},
		{schema.UserResourceType, `emails.value eq "x"`, "", "", false},
		{schema.UserResourceType, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x"`, "", "", false},
		{schema.GroupResourceType, `members[value eq "x"]`, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := Parse(tt.rt, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			attr, val, ok := f.Equality()
			if attr != tt.attr || val != tt.val || ok != tt.indexable {
				t.Errorf("Equality() = %q, %q, %v; want %q, %q, %v", attr, val, ok, tt.attr, tt.val, tt.indexable)
			}
		})
	}
}

func TestString(t *testing.T) {
	s := ` userName eq "x" `
	f, err := Parse(schema.UserResourceType, s)
	if err != nil {
		t.Fatal(err)
	}
	if f.String() != s {
		t.Errorf("String() = %q, want %q", f.String(), s)
	}
}

// TestMissingAttributesMatchNothing: at the server root, a comparison of an attribute the resource
// type lacks matches nothing, inside and/or/not as a false term would.
func TestMissingAttributesMatchNothing(t *testing.T) {
	o := Options{MissingAttributesMatchNothing: true}
	group := map[string]any{"displayName": "Admins"}
	for f, want := range map[string]bool{
		`userName eq "x"`: false,
		`userName eq "x" or displayName eq "Admins"`: true,
		`userName pr and displayName eq "Admins"`:    false,
		`emails[type eq "work"]`:                     false,
		`not (userName eq "x")`:                      true,
	} {
		parsed, err := o.Parse(schema.GroupResourceType, f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if got := parsed.Match(group); got != want {
			t.Errorf("%s: match = %v, want %v", f, got, want)
		}
	}
	if _, err := Parse(schema.GroupResourceType, `userName eq "x"`); err == nil {
		t.Error("strict parsing must still refuse an unknown attribute")
	}
}
