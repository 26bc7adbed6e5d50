package filter

import (
	"slices"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

func TestSortKey(t *testing.T) {
	docs := map[string]string{
		"ann":   `{"id": "b", "userName": "ann", "active": true, "name": {"familyName": "Zed"}, "meta": {"lastModified": "2024-01-01T10:00:00+02:00"}, "emails": [{"value": "z@x.org"}, {"value": "b@x.org", "primary": true}]}`,
		"Bob":   `{"id": "A", "userName": "Bob", "active": false, "name": {"familyName": "young"}, "meta": {"lastModified": "2024-01-01T09:00:00Z"}, "emails": [{"value": "a@x.org"}]}`,
		"carl":  `{"id": "a", "userName": "carl", "name": {"familyName": "Adams"}, "meta": {"lastModified": "2023-12-31T23:00:00Z"}, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"}}`,
		"empty": `{"id": "c"}`,
	}
	tests := []struct {
		sortBy string
		want   []string // the documents with a value, ascending; the others follow
	}{
		{"userName", []string{"ann", "Bob", "carl"}},
		{"USERNAME", []string{"ann", "Bob", "carl"}},
		{"id", []string{"Bob", "carl", "ann", "empty"}}, // case-exact: "A" < "a" < "b" < "c"
		{"name.familyName", []string{"carl", "Bob", "ann"}},
		{"meta.lastModified", []string{"carl", "ann", "Bob"}}, // 23:00Z, 08:00Z, 09:00Z
		{"active", []string{"Bob", "ann"}},
		{"emails", []string{"Bob", "ann"}},       // ann's primary b@ sorts after a@
		{"emails.value", []string{"Bob", "ann"}}, // the same
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", []string{"carl"}},
	}
	for _, tt := range tests {
		t.Run(tt.sortBy, func(t *testing.T) {
			k, err := ParseSortKey(schema.UserResourceType, tt.sortBy)
			if err != nil {
				t.Fatal(err)
			}
			names := []string{"empty", "carl", "Bob", "ann"}
			slices.SortStableFunc(names, func(a, b string) int {
				return k.Compare(decode(t, docs[a]), decode(t, docs[b]))
			})
			if !slices.Equal(names[:len(tt.want)], tt.want) {
				t.Errorf("sorted = %v, want %v first", names, tt.want)
			}
			if c := k.Compare(decode(t, docs[tt.want[0]]), decode(t, docs["empty"])); c >= 0 {
				t.Errorf("Compare(first, empty) = %d; want < 0", c)
			}
		})
	}
}

func TestSortKeyErrors(t *testing.T) {
	for sortBy, detail := range map[string]string{
		"nonsense":            `unknown attribute "nonsense"`,
		"name":                `names a complex attribute`,
		"meta":                `names a complex attribute`,
		"userName eq \"x\"":   `invalid sortBy`,
		"name..familyName":    `invalid sortBy`,
		"groups.nonsense":     `unknown attribute "groups.nonsense"`,
		"urn:example:x:title": `unknown attribute`,
	} {
		t.Run(sortBy, func(t *testing.T) {
			_, err := ParseSortKey(schema.UserResourceType, sortBy)
			assertSCIMError(t, err, scimerror.InvalidValue, detail)
		})
	}
}
