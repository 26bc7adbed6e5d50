package filter

import (
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/schema"
)

// benchFilters are filters identity providers and admins send, from an indexed equality to a
// value filter on a multi-valued attribute and a date comparison.
var benchFilters = []struct{ name, filter string }{
	{"userName eq", `userName eq "alice@example.com"`},
	{"emails value filter", `emails[type eq "work" and value co "@example.com"]`},
	{"pr and or", `title pr and (name.familyName sw "Gl" or active eq false)`},
	{"meta.lastModified gt", `meta.lastModified gt "2024-01-01T00:00:00Z"`},
}

// BenchmarkMatch evaluates parsed filters against a user document, as a list with a filter
// that no index serves does for every user.
func BenchmarkMatch(b *testing.B) {
	doc := decode(b, aliceJSON)
	for _, bf := range benchFilters {
		f, err := Parse(schema.UserResourceType, bf.filter)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bf.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f.Match(doc)
			}
		})
	}
}

// BenchmarkParse parses the filters, as every list request with a filter does once.
func BenchmarkParse(b *testing.B) {
	for _, bf := range benchFilters {
		b.Run(bf.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(schema.UserResourceType, bf.filter); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
