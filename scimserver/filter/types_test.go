package filter

import (
	"encoding/json"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// deviceType has the attribute types the served schemas do not use.
var deviceType = &schema.ResourceType{Name: "Device", Schema: &schema.Schema{ID: "urn:example:Device", Attributes: []*schema.Attribute{
	{Name: "count", Type: schema.Integer},
	{Name: "ratio", Type: schema.Decimal},
	{Name: "seen", Type: schema.DateTime},
	{Name: "blob", Type: schema.Binary, CaseExact: true},
	{Name: "tags", Type: schema.String, MultiValued: true},
	{Name: "flags", Type: schema.Boolean, MultiValued: true},
}}}

func TestOtherTypes(t *testing.T) {
	doc := decode(t, `{"count": 5, "ratio": 0.25, "seen": "2024-05-01T00:00:00Z", "blob": "QUJD", "tags": ["Red", "blue"], "flags": [false]}`)
	tests := []struct {
		filter string
		want   bool
	}{
		{`count eq 5`, true},
		{`count gt 4`, true},
		{`count ge 5.0`, true},
		{`count lt 5`, false},
		{`count le 5e0`, true},
		{`count ne 5`, false},
		{`ratio lt 0.5`, true},
		{`ratio gt -1`, true},
		{`seen lt "2024-05-01T00:00:01Z"`, true},
		{`seen eq "2024-05-01T02:00:00+02:00"`, true},
		{`seen ew "Z"`, true},
		{`blob eq "QUJD"`, true},
		{`blob eq "qujd"`, false},
		{`blob sw "QU"`, true},
		{`tags eq "red"`, true},
		{`tags co "LU"`, true},
		{`tags eq "green"`, false},
		{`tags pr`, true},
		{`flags eq false`, true},
		{`flags eq true`, false},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := Parse(deviceType, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(doc); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
	// Numbers stored as json.Number match too.
	f, err := Parse(deviceType, `count eq 5`)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Match(map[string]any{"count": jsonNumber5}) {
		t.Error("json.Number 5 does not match count eq 5")
	}
}

func TestOtherTypesErrors(t *testing.T) {
	for filter, detail := range map[string]string{
		`count co 5`:           "count is a number: it supports eq, ne, gt, ge, lt, le and pr, not co",
		`count eq "5"`:         `count is a number: compare it with a number, not "5"`,
		`count eq true`:        "not true",
		`blob gt "x"`:          "blob is binary",
		`tags[value eq "x"]`:   "tags is not a complex attribute",
		`seen gt "2024-05-01"`: "seen is a dateTime",
	} {
		t.Run(filter, func(t *testing.T) {
			_, err := Parse(deviceType, filter)
			assertSCIMError(t, err, scimerror.InvalidFilter, detail)
		})
	}
}

func TestSortOtherTypes(t *testing.T) {
	small, large := decode(t, `{"count": 2, "ratio": 0.5, "tags": ["b"]}`), decode(t, `{"count": 10, "ratio": 0.25, "tags": ["A", "z"]}`)
	for sortBy, want := range map[string]int{"count": -1, "ratio": 1, "tags": 1} {
		k, err := ParseSortKey(deviceType, sortBy)
		if err != nil {
			t.Fatal(err)
		}
		if got := k.Compare(small, large); got != want {
			t.Errorf("%s: Compare = %d, want %d", sortBy, got, want)
		}
	}
}

var jsonNumber5 = json.Number("5")
