package filter

import (
	"reflect"
	"testing"

	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/scim-operator/scim-operator/scimserver/schema"
)

// quickSeeds are filters the quick path takes — the lookups of Okta (userName eq, RFC 7644's
// example), Entra ID (externalId eq, displayName eq) and StrongDM's client — and near misses it
// must leave to the parser: escapes, other values, other spacing, URNs, value paths, logic.
var quickSeeds = []string{
	`userName eq "bjensen"`,
	`userName EQ "bjensen@example.com"`,
	`externalId eq "00u1abcd2EFGH3ijk4x7"`,
	`displayName eq "Ops – on call"`,
	`name.familyName sw "O'Malley"`,
	`emails.value co "@example.com"`,
	`meta.lastModified gt "2011-05-13T04:42:34Z"`,
	`userName eq ""`,
	`userName eq "a\"b"`,
	`userName eq "\u00e9"`,
	`userName  eq "x"`,
	`userName eq  "x"`,
	`userName eq "x" `,
	`userName eq x`,
	`active eq true`,
	`x eq 1.5e3`,
	`title pr`,
	`$ref eq "x"`,
	`1x eq "x"`,
	`a.b.c eq "x"`,
	`a. eq "x"`,
	`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`,
	`emails[type eq "work"]`,
	`userName eq "a" and title pr`,
	`userName xx "x"`,
	"userName eq \"\x7f\xff\"",
	"userName eq \"tab\there\"",
}

// The quick path returns what the parser returns for every filter it takes, and takes the
// identity providers' lookups.
func TestQuickFilterAgreesWithTheParser(t *testing.T) {
	for _, s := range quickSeeds {
		checkQuick(t, s)
	}
	for _, s := range quickSeeds[:8] {
		if _, ok := quickFilter(s); !ok {
			t.Errorf("the quick path did not take %q", s)
		}
	}
}

func FuzzQuickFilter(f *testing.F) {
	for _, s := range quickSeeds {
		f.Add(s)
	}
	f.Fuzz(checkQuick)
}

// checkQuick fails when the quick path takes s and the parser rejects it or parses it otherwise.
func checkQuick(t *testing.T, s string) {
	got, ok := quickFilter(s)
	if !ok {
		return
	}
	want, err := scimfilter.ParseFilterNumber([]byte(s))
	if err != nil {
		t.Fatalf("the quick path took %q, which the parser rejects: %v", s, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: the quick path returned %#v, the parser %#v", s, got, want)
	}
}

// BenchmarkParseQuick parses an identity provider's lookup through Parse, the quick path, against
// the parser alone on the same filter.
func BenchmarkParseQuick(b *testing.B) {
	const s = `userName eq "alice@example.com"`
	b.Run("Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(schema.UserResourceType, s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parser alone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := scimfilter.ParseFilterNumber([]byte(s)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
