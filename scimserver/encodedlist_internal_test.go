package scimserver

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/store"
)

// A page of encoded resources is answered with the very bytes of the page of their documents:
// the same ListResponse, key order, escaping and trailing newline; empty pages too.
func TestEncodedListIsTheListOfTheDocuments(t *testing.T) {
	docs := []map[string]any{
		{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}, "id": "a-1", "userName": "bjensen@example.com",
			"name": map[string]any{"givenName": "Barbara", "familyName": "Jensen <&> Ünïcødé \u2028"}, "active": true,
			"groups": []any{}, "meta": map[string]any{"resourceType": "User", "version": `W/"12"`}},
		{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}, "id": "a-2", "userName": "x", "emails": []any{
			map[string]any{"value": "x@example.com", "primary": true}}},
	}
	for _, n := range []int{0, 1, 2} {
		var plain, encoded []*store.Resource
		for _, d := range docs[:n] {
			plain = append(plain, &store.Resource{Doc: d})
			encoded = append(encoded, &store.Resource{JSON: store.EncodeJSON(d)})
		}
		q := &query{startIndex: 3}
		a, b := httptest.NewRecorder(), httptest.NewRecorder()
		writeList(a, q, plain, 7)
		writeEncodedList(b, q, encoded, 7)
		if !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) || a.Header().Get("Content-Type") != b.Header().Get("Content-Type") {
			t.Fatalf("%d resources:\n%s\n%s", n, a.Body.Bytes(), b.Body.Bytes())
		}
	}
}
