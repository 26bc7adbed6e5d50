package patch

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// FuzzApply checks that no request makes Parse or Apply panic, that every error is a SCIM 400 that
// leaves the document as it was, and that "unchanged" means unchanged.
func FuzzApply(f *testing.F) {
	for _, seed := range []string{
		body(`{"op":"replace","value":{"active":false}}`),
		`{"Schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"a-0001\"]"}]}`,
		body(`{"op":"add","path":"members","value":[{"value":"a-0003","display":"x"}]}`),
		body(`{"op":"replace","path":"members","value":[{"value":"a-0001"}]}`),
		body(`{"op":"Replace","path":"active","value":"False"}`),
		body(`{"op":"Remove","path":"members","value":[{"value":"a-0001"}]}`),
		body(`{"op":"Add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"a-9"}}`),
		body(`{"op":"add","path":"emails[type eq \"work\"].value","value":"x@example.com"}`),
		body(`{"op":"replace","value":{"name.givenName":"x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"y"}}}`),
		body(`{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}`),
		body(`{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}`),
		body(`{"op":"replace","value":{"id":"a-0001","displayName":"x"}}`),
		body(`{"op":"remove","path":"emails.type"}`),
	} {
		f.Add([]byte(seed), uint8(0))
		f.Add([]byte(seed), uint8(7))
	}
	docs := []string{userJSON, managedUserJSON, groupJSON}
	f.Fuzz(func(t *testing.T, data []byte, flags uint8) {
		opts := Options{
			CaseInsensitiveOps: flags&1 != 0, Decoding: schema.Decoding{BooleanStrings: flags&2 != 0}, ValueShorthand: flags&4 != 0,
			DisplayNameAlias: flags&8 != 0, FilteredReplaceAdds: flags&16 != 0,
		}
		req, err := Parse(data, opts)
		if err != nil {
			checkError(t, err)
			return
		}
		for _, rt := range []*schema.ResourceType{schema.UserResourceType, schema.GroupResourceType} {
			for _, d := range docs {
				doc, before := decodeDoc(t, d), decodeDoc(t, d)
				changed, err := req.Apply(rt, doc)
				if err != nil {
					checkError(t, err)
				}
				if (err != nil || !changed) && !reflect.DeepEqual(doc, before) {
					t.Fatalf("the document changed (err %v, changed %v)", err, changed)
				}
				if _, err := json.Marshal(doc); err != nil {
					t.Fatalf("the result does not marshal: %v", err)
				}
			}
		}
	})
}

func checkError(t *testing.T, err error) {
	t.Helper()
	e := scimerror.As(err)
	if e == nil || e.Status != http.StatusBadRequest || e.ScimType == "" || e.Detail == "" {
		t.Fatalf("error %v is not a SCIM 400 with a detail", err)
	}
}

// FuzzApplyOperation builds well-formed requests from an op, a path and a JSON value, to reach
// deeper into Apply than random bodies do.
func FuzzApplyOperation(f *testing.F) {
	for _, seed := range []struct{ op, path, value string }{
		{"replace", "", `{"active":false}`},
		{"add", "members", `[{"value":"a-0003","display":"x"}]`},
		{"remove", `members[value eq "a-0001"]`, ``},
		{"Remove", "members", `[{"value":"a-0001"}]`},
		{"add", `emails[type eq "work"].value`, `"x@example.com"`},
		{"replace", `emails[type eq "home" and primary eq false]`, `{"primary":true}`},
		{"add", "", `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"a-9"}`},
		{"replace", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", `{"manager":{"value":"a-9","displayName":"John Smith"}}`},
		{"add", "", `{"name.givenName":"x","emails[type eq \"work\"].value":"y"}`},
		{"replace", "emails", `[{"value":"a","primary":"True"},{"value":"b"}]`},
		{"remove", "emails.type", ``},
		{"replace", "name", `null`},
	} {
		f.Add(seed.op, seed.path, seed.value, uint8(0))
		f.Add(seed.op, seed.path, seed.value, uint8(31))
	}
	docs := []string{userJSON, managedUserJSON, groupJSON}
	f.Fuzz(func(t *testing.T, op, path, value string, flags uint8) {
		operation := map[string]json.RawMessage{"op": mustMarshal(t, op)}
		if path != "" {
			operation["path"] = mustMarshal(t, path)
		}
		if json.Valid([]byte(value)) {
			operation["value"] = json.RawMessage(value)
		}
		data, err := json.Marshal(map[string]any{"schemas": []string{schema.PatchOpURN}, "Operations": []any{operation}})
		if err != nil {
			t.Skip()
		}
		opts := Options{
			CaseInsensitiveOps: flags&1 != 0, Decoding: schema.Decoding{BooleanStrings: flags&2 != 0}, ValueShorthand: flags&4 != 0,
			DisplayNameAlias: flags&8 != 0, FilteredReplaceAdds: flags&16 != 0,
		}
		req, err := Parse(data, opts)
		if err != nil {
			checkError(t, err)
			return
		}
		for _, rt := range []*schema.ResourceType{schema.UserResourceType, schema.GroupResourceType} {
			for _, d := range docs {
				doc, before := decodeDoc(t, d), decodeDoc(t, d)
				changed, err := req.Apply(rt, doc)
				if err != nil {
					checkError(t, err)
				}
				if (err != nil || !changed) && !reflect.DeepEqual(doc, before) {
					t.Fatalf("the document changed (err %v, changed %v)", err, changed)
				}
			}
		}
	})
}

func mustMarshal(t *testing.T, v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
