package patch_test

import (
	"slices"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/patch"
	"github.com/scim-operator/scim-operator/scimserver/schema"
)

// TestValues checks which Group PATCHes read and write members only by value, and so may be applied
// to a document holding only the members they name.
func TestValues(t *testing.T) {
	tests := []struct {
		name string
		ops  string
		opts patch.Options
		want []string // nil: not by value
	}{
		{name: "Okta adds members", ops: `{"op":"add","path":"members","value":[{"value":"a-1","display":"A"},{"value":"a-2"}]}`, want: []string{"a-1", "a-2"}},
		{name: "StrongDM removes by filter", ops: `{"op":"remove","path":"members[value eq \"a-3\"]"}`, want: []string{"a-3"}},
		{name: "Entra removes by value", ops: `{"op":"Remove","path":"members","value":[{"value":"a-4"}]}`, opts: patch.MicrosoftEntra(), want: []string{"a-4"}},
		{name: "a bare id, with the shorthand", ops: `{"op":"add","path":"members","value":"a-5"}`, opts: patch.MicrosoftEntra(), want: []string{"a-5"}},
		{name: "adds and removes together", ops: `{"op":"add","path":"members","value":[{"value":"a-1"}]},{"op":"remove","path":"members[value eq \"a-2\"]"}`, want: []string{"a-1", "a-2"}},
		{name: "a value as written (members.value is case-exact)", ops: `{"op":"remove","path":"members[value eq \"A-6\"]"}`, want: []string{"A-6"}},
		{name: "replace members", ops: `{"op":"replace","path":"members","value":[{"value":"a-1"}]}`},
		{name: "remove every member", ops: `{"op":"remove","path":"members"}`},
		{name: "remove by display", ops: `{"op":"remove","path":"members[display eq \"A\"]"}`},
		{name: "remove by value or display", ops: `{"op":"remove","path":"members[value eq \"a-1\" or display eq \"A\"]"}`},
		{name: "a member's display", ops: `{"op":"replace","path":"members[value eq \"a-1\"].display","value":"B"}`},
		{name: "a rename beside", ops: `{"op":"add","path":"members","value":[{"value":"a-1"}]},{"op":"replace","path":"displayName","value":"x"}`},
		{name: "no path", ops: `{"op":"add","value":{"members":[{"value":"a-1"}]}}`},
		{name: "a member without value", ops: `{"op":"add","path":"members","value":[{"display":"A"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := patch.Parse([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+tt.ops+`]}`), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := req.Values(schema.GroupResourceType, "members")
			if ok != (tt.want != nil) {
				t.Fatalf("by value = %v (%v), want %v", ok, got, tt.want != nil)
			}
			if ok && !slices.Equal(got, tt.want) {
				t.Errorf("values %v, want %v", got, tt.want)
			}
		})
	}
}
