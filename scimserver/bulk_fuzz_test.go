package scimserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// fuzzMaxOperations is the server's maxOperations in FuzzBulkRequest.
const fuzzMaxOperations = 50

// FuzzBulkRequest decodes a POST /Bulk body as serveBulk does, plans the order of its operations
// and resolves their bulkId references as if every POST succeeded. Never a panic; a refused request
// is a SCIM 400 or 413 with a detail; an operation is either refused alone (a SCIM 4xx with a
// detail) or well-formed; the plan runs every operation once, each after the POSTs it refers to;
// and no reference is left once they are resolved. The seed corpus (testdata/fuzz/FuzzBulkRequest)
// is RFC 7644 §3.7's examples.
func FuzzBulkRequest(f *testing.F) {
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[` +
		`{"method":"POST","path":"/Users","bulkId":"qwerty","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Alice"}},` +
		`{"method":"POST","path":"/Groups","bulkId":"ytrewq","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Tour Guides","members":[{"type":"User","value":"bulkId:qwerty"}]}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeBulk(body, fuzzMaxOperations)
		if err != nil {
			e := scimerror.As(err)
			if e == nil || (e.Status != http.StatusBadRequest && e.Status != http.StatusRequestEntityTooLarge) || strings.TrimSpace(e.Detail) == "" {
				t.Fatalf("error %v is not a SCIM 400 or 413 with a detail", err)
			}
			return
		}
		if len(req.ops) > fuzzMaxOperations || req.failOnErrors < 0 {
			t.Fatalf("%d operations, failOnErrors %d", len(req.ops), req.failOnErrors)
		}
		order := planBulk(req.ops)
		position := map[int]int{}
		for at, i := range order {
			if _, twice := position[i]; twice || i < 0 || i >= len(req.ops) {
				t.Fatalf("the plan %v does not run each of %d operations once", order, len(req.ops))
			}
			position[i] = at
		}
		if len(order) != len(req.ops) {
			t.Fatalf("the plan %v leaves out operations of %d", order, len(req.ops))
		}
		defs := map[string]int{}
		for _, op := range req.ops {
			if _, taken := defs[op.bulkID]; op.method == http.MethodPost && op.bulkID != "" && !taken {
				defs[op.bulkID] = op.index
			}
		}
		created := map[string]string{}
		for _, i := range order {
			op := req.ops[i]
			if op.err != nil {
				if e := scimerror.As(op.err); e == nil || e.Status < 400 || e.Status >= 500 || strings.TrimSpace(e.Detail) == "" {
					t.Fatalf("operation %d: error %v is not a SCIM 4xx with a detail", i, op.err)
				}
				continue
			}
			checkBulkOp(t, op)
			for _, ref := range op.refs {
				if def, ok := defs[ref]; !ok || position[def] > position[i] {
					t.Fatalf("operation %d runs before the POST of bulkId %q it refers to (plan %v)", i, ref, order)
				}
			}
			// Every POST the operation refers to ran before it: as if it succeeded.
			data, id, err := op.resolve(created)
			if err != nil {
				// A POST it refers to was refused: the operation fails with it.
				if e := scimerror.As(err); e == nil || e.Status != http.StatusConflict {
					t.Fatalf("operation %d: resolving: %v", i, err)
				}
				continue
			}
			if data != nil && !json.Valid(data) {
				t.Fatalf("operation %d: resolved data is not JSON: %s", i, data)
			}
			resolved := &bulkOp{id: id, data: data}
			if left := refsOf(resolved); len(left) > 0 {
				t.Fatalf("operation %d: references %q left in %s %s", i, left, id, data)
			}
			if op.method == http.MethodPost {
				created[op.bulkID] = fmt.Sprintf("a-%016x", i)
			}
		}
	})
}

// checkBulkOp fails t unless op, decoded without an error, is a well-formed operation.
func checkBulkOp(t *testing.T, op *bulkOp) {
	t.Helper()
	switch {
	case op.endpoint != "Users" && op.endpoint != "Groups":
		t.Fatalf("operation %d: endpoint %q", op.index, op.endpoint)
	case op.method == http.MethodPost && (op.bulkID == "" || op.id != "" || op.data == nil):
		t.Fatalf("operation %d: a POST with bulkId %q, id %q, data %s", op.index, op.bulkID, op.id, op.data)
	case op.method == http.MethodDelete && (op.data != nil || op.id == ""):
		t.Fatalf("operation %d: a DELETE of %q with data %s", op.index, op.id, op.data)
	case (op.method == http.MethodPut || op.method == http.MethodPatch) && (op.data == nil || op.id == ""):
		t.Fatalf("operation %d: a %s of %q with data %s", op.index, op.method, op.id, op.data)
	}
}
