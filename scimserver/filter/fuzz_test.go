package filter

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// FuzzParse checks that no input makes Parse, ParsePath, ParseSortKey or Match panic, and that
// every error is a SCIM 400.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`userName eq "bjensen"`,
		`name.familyName co "O'Malley"`,
		`userName sw "J"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`,
		`title pr`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`,
		`title pr and userType eq "Employee"`,
		`title pr or userType eq "Intern"`,
		`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`,
		`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`,
		`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
		`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`,
		`emails[type eq "work" and (value co "a" or value co "b")]`,
		`members[value eq "a-1"]`,
		`emails[type eq "work"].value`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`,
		`active eq true`,
		`userName eq "a\"b\u00e9"`,
		`name.FamilyName eq Employee and (emails.Value co example.com)`,
		`((((userName pr))))`,
		`not(not(active eq false))`,
		`x eq 1.5e3`,
		`emails[not (type eq "work")]`,
	} {
		f.Add(seed)
	}
	docs := fuzzDocs(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, rt := range []*schema.ResourceType{schema.UserResourceType, schema.GroupResourceType} {
			for _, opts := range []Options{{}, {UnquotedStrings: true}} {
				flt, err := opts.Parse(rt, s)
				checkError(t, err)
				if err == nil {
					for _, doc := range docs {
						flt.Match(doc)
					}
					flt.Equality()
				}
			}
			p, err := ParsePath(rt, s)
			checkError(t, err)
			if err == nil && p.Filter != nil {
				for _, doc := range docs {
					p.Filter.Match(doc)
				}
				p.Filter.Implied()
			}
			k, err := ParseSortKey(rt, s)
			checkError(t, err)
			if err == nil {
				k.Compare(docs[0], docs[1])
			}
		}
	})
}

func fuzzDocs(f *testing.F) []map[string]any {
	return []map[string]any{
		decode(f, aliceJSON),
		decode(f, groupJSON),
		decode(f, `{"userName": 5, "emails": "x", "name": [], "meta": {"lastModified": "x"}, "members": [null, 1, {"value": {}}]}`),
		{},
	}
}

func checkError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	e := scimerror.As(err)
	if e == nil || e.Status != http.StatusBadRequest || e.ScimType == "" || strings.TrimSpace(e.Detail) == "" {
		t.Fatalf("error %v is not a SCIM 400 with a detail", err)
	}
}
