package patch_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver"
	"github.com/scim-operator/scim-operator/scimserver/patch"
	"github.com/scim-operator/scim-operator/scimserver/schema"
)

// patchOf is a PATCH request body of the given operations.
func patchOf(ops []string) []byte {
	return []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + strings.Join(ops, ",") + `]}`)
}

// BenchmarkApplyAtOperationLimit applies a request of as many operations as the server accepts
// (scimserver.DefaultMaxPatchOperations), each adding one value, as IdPs add group members and as
// the request did that once took 12 s at 14,000 operations. The cost of an add must not grow with
// the number of values the attribute already holds.
func BenchmarkApplyAtOperationLimit(b *testing.B) {
	n := scimserver.DefaultMaxPatchOperations
	b.Run("emails", func(b *testing.B) {
		ops := make([]string, n)
		for i := range ops {
			ops[i] = fmt.Sprintf(`{"op":"add","path":"emails","value":[{"value":"user%d@example.com","type":"work"}]}`, i)
		}
		user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"a-1","userName":"alice"}`
		benchmarkApply(b, schema.UserResourceType, user, patchOf(ops))
	})
	b.Run("members of a group of 5000", func(b *testing.B) {
		members := make([]string, 5000)
		for i := range members {
			members[i] = fmt.Sprintf(`{"value":"a-%016x"}`, i)
		}
		group := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"r-1","displayName":"g","members":[` +
			strings.Join(members, ",") + `]}`
		ops := make([]string, n)
		for i := range ops {
			ops[i] = fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":"a-new%013x"}]}`, i)
		}
		benchmarkApply(b, schema.GroupResourceType, group, patchOf(ops))
	})
	// The worst case for the path cache: every operation has a path of its own, with a value
	// filter that is matched against every value.
	b.Run("a distinct filtered path each", func(b *testing.B) {
		ops := make([]string, n)
		for i := range ops {
			ops[i] = fmt.Sprintf(`{"op":"add","path":"emails[value eq \"user%d@example.com\"].type","value":"work"}`, i)
		}
		user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"a-1","userName":"alice"}`
		benchmarkApply(b, schema.UserResourceType, user, patchOf(ops))
	})
}

// benchmarkApply parses body once and applies it to a fresh copy of doc in each iteration.
func benchmarkApply(b *testing.B, rt *schema.ResourceType, doc string, body []byte) {
	req, err := patch.Parse(body, patch.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		var d map[string]any
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := req.Apply(rt, d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseAtOperationLimit parses a request of as many operations as the server accepts.
func BenchmarkParseAtOperationLimit(b *testing.B) {
	ops := make([]string, scimserver.DefaultMaxPatchOperations)
	for i := range ops {
		ops[i] = fmt.Sprintf(`{"op":"add","path":"emails","value":[{"value":"user%d@example.com","type":"work"}]}`, i)
	}
	body := patchOf(ops)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := patch.Parse(body, patch.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplySuspend applies the PATCH an identity provider suspends a user with.
func BenchmarkApplySuspend(b *testing.B) {
	user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"a-1","userName":"alice@example.com",` +
		`"name":{"givenName":"Alice","familyName":"Liddell"},"emails":[{"value":"alice@example.com","type":"work","primary":true}],"active":true}`
	benchmarkApply(b, schema.UserResourceType, user, patchOf([]string{`{"op":"replace","value":{"active":false}}`}))
}
