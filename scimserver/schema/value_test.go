package schema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// device has the attribute types the served schemas do not use.
var device = &ResourceType{Name: "Device", Schema: &Schema{ID: "urn:example:Device", Attributes: []*Attribute{
	{Name: "count", Type: Integer, Mutability: ReadWrite},
	{Name: "ratio", Type: Decimal, Mutability: ReadWrite},
	{Name: "seen", Type: DateTime, Mutability: ReadWrite},
}}}

// TestBodyValueTypes checks that a POST or PUT body is held to the data types (RFC 7643 §2.3) as
// PATCH values are: whole numbers for integers, RFC 3339 timestamps for dateTimes.
func TestBodyValueTypes(t *testing.T) {
	for body, want := range map[string]string{
		`{"count": 7, "ratio": 0.5, "seen": "2024-05-01T00:00:00Z"}`: "",
		`{"count": 7.0}`:        "",
		`{"count": 1.5}`:        "count must be an integer number, not the number 1.5",
		`{"count": "5"}`:        `count must be an integer number, not the string "5"`,
		`{"ratio": true}`:       "ratio must be a decimal number, not the boolean true",
		`{"seen": "yesterday"}`: `seen must be a dateTime string such as "2011-05-13T04:42:34Z", not the string "yesterday"`,
	} {
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			t.Fatal(err)
		}
		_, err := Canonicalize(device, obj, Decoding{})
		switch e := scimerror.As(err); {
		case want == "" && err != nil:
			t.Errorf("%s: %v", body, err)
		case want != "" && (e == nil || e.ScimType != scimerror.InvalidValue || e.Detail != want):
			t.Errorf("%s: err = %v, want 400 invalidValue %q", body, err, want)
		}
	}
}
