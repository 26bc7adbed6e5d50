package patch

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		body string
		opts Options
		want []Operation
	}{
		{name: "lower-case member names",
			body: body(`{"op":"add","path":"nickName","value":"x"}`),
			want: []Operation{{Op: Add, Path: "nickName", Value: "x", hasValue: true}}},
		{name: "member names in any case",
			body: `{"SCHEMAS":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"operations":[{"OP":"remove","Path":"title"},{"Op":"replace","PATH":"active","VALUE":false}]}`,
			want: []Operation{{Op: Remove, Path: "title"}, {Op: Replace, Path: "active", Value: false, hasValue: true}}},
		{name: "the schema URN in any case, among others",
			body: `{"schemas":["urn:example:other","URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"],"Operations":[{"op":"remove","path":"title"}]}`,
			want: []Operation{{Op: Remove, Path: "title"}}},
		{name: "unknown members are ignored",
			body: `{"id":"r-1","schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"name":"addMember","op":"remove","path":"title"}]}`,
			want: []Operation{{Op: Remove, Path: "title"}}},
		{name: "op in any case with CaseInsensitiveOps", opts: Options{CaseInsensitiveOps: true},
			body: body(`{"op":"Add","value":{}}`, `{"op":"REMOVE","path":"x"}`, `{"op":"rEpLaCe","value":{}}`),
			want: []Operation{{Op: Add, Value: map[string]any{}, hasValue: true}, {Op: Remove, Path: "x"}, {Op: Replace, Value: map[string]any{}, hasValue: true}}},
		{name: "a null path is no path",
			body: body(`{"op":"add","path":null,"value":{}}`),
			want: []Operation{{Op: Add, Value: map[string]any{}, hasValue: true}}},
		{name: "a null value is a value",
			body: body(`{"op":"replace","path":"title","value":null}`),
			want: []Operation{{Op: Replace, Path: "title", hasValue: true}}},
		{name: "numbers are kept exactly",
			body: body(`{"op":"replace","path":"x","value":12345678901234567890}`),
			want: []Operation{{Op: Replace, Path: "x", Value: json.Number("12345678901234567890"), hasValue: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Parse([]byte(tt.body), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(req.Operations, tt.want) {
				t.Errorf("Operations = %#v, want %#v", req.Operations, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		detail string
	}{
		{"empty body", ``, "must be a JSON object"},
		{"not JSON", `op=add`, "must be a JSON object"},
		{"null", `null`, "must be a JSON object"},
		{"array", `[]`, "must be a JSON object"},
		{"trailing data", body(`{"op":"remove","path":"x"}`) + `{}`, "must be a JSON object"},
		{"no schemas", `{"Operations":[{"op":"remove","path":"x"}]}`, `schemas must be an array holding "urn:ietf:params:scim:api:messages:2.0:PatchOp"`},
		{"schemas not an array", `{"schemas":"urn:ietf:params:scim:api:messages:2.0:PatchOp","Operations":[{"op":"remove","path":"x"}]}`, "schemas must be an array"},
		{"wrong schema", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"Operations":[{"op":"remove","path":"x"}]}`, `schemas must hold "urn:ietf:params:scim:api:messages:2.0:PatchOp", got ["urn:ietf:params:scim:schemas:core:2.0:User"]`},
		{"schemas twice", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"x"}]}`, `the request has "schemas" more than once`},
		{"no Operations", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, "Operations must be an array of at least one operation"},
		{"empty Operations", body(), "Operations must be an array of at least one operation"},
		{"Operations not an array", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":{"op":"remove"}}`, "Operations must be an array"},
		{"operation not an object", body(`"remove"`), "Operations[0]: an operation must be an object"},
		{"null operation", body(`null`), "Operations[0]: an operation must be an object"},
		{"no op", body(`{"path":"x"}`), `Operations[0]: op must be one of "add", "remove" or "replace"`},
		{"op not a string", body(`{"op":1}`), `op must be one of`},
		{"unknown op", body(`{"op":"remove","path":"x"}`, `{"op":"move","path":"x"}`), `Operations[1]: op "move" is not one of "add", "remove" or "replace"`},
		{"op in other case", body(`{"op":"Replace","value":{}}`), `op "Replace" must be written in lower case: "replace"`},
		{"op twice", body(`{"op":"add","OP":"remove"}`), `the operation has "op" more than once`},
		{"path not a string", body(`{"op":"remove","path":1}`), "path must be a string"},
		{"empty path", body(`{"op":"remove","path":""}`), "path must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.body), Options{})
			assertSCIMError(t, err, scimerror.InvalidSyntax, tt.detail)
		})
	}
}

func TestOperationString(t *testing.T) {
	tests := []struct {
		op   Operation
		want string
	}{
		{Operation{Op: Add}, "add"},
		{Operation{Op: Remove, Path: `members[value eq "a"]`}, `remove members[value eq "a"]`},
	}
	for _, tt := range tests {
		if got := tt.op.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
