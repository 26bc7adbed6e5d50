package scimserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
	"github.com/scim-operator/scim-operator/scimserver/store"
)

// The fuzz targets of the list requests: a GET's query string and a POST /.search body go through
// the decoders the handlers use, and what they accept is run over stored documents (filter, sort,
// page, projection). Never a panic, and every refusal is a SCIM 400 with a detail. The seed
// corpora in testdata/fuzz are requests of Okta, Entra ID, StrongDM's client and RFC 7644.

// fuzzMaxResults is the server's maxResults in the fuzz targets.
const fuzzMaxResults = 50

// fuzzDocs are stored documents of each resource type, to run accepted queries over.
var fuzzDocs = map[*schema.ResourceType][]string{
	schema.UserResourceType: {
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"id":"a-0000000000000001","userName":"bjensen@example.com","name":{"givenName":"Barbara","familyName":"Jensen","formatted":"Barbara Jensen"},"displayName":"Babs","active":true,"title":"Tour Guide","emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],"groups":[{"value":"r-0000000000000001","display":"Tour Guides"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","manager":{"value":"a-0000000000000002","displayName":"John Smith"}},"meta":{"resourceType":"User","created":"2026-01-01T00:00:00Z","lastModified":"2026-01-02T00:00:00Z","location":"Users/a-0000000000000001","version":"W/\"1\""}}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"a-0000000000000002","userName":"jsmith","active":false,"groups":[],"meta":{"resourceType":"User"}}`,
	},
	schema.GroupResourceType: {
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"r-0000000000000001","displayName":"Tour Guides","externalId":"e-1","members":[{"value":"a-0000000000000001","display":"Babs"},{"value":"a-0000000000000002"}],"meta":{"resourceType":"Group"}}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"r-0000000000000002","displayName":"Empty","members":[],"meta":{"resourceType":"Group"}}`,
	},
}

// fuzzResources decodes the fuzz documents of rt, afresh for each run: a run may sort them.
func fuzzResources(t *testing.T, rt *schema.ResourceType) []*store.Resource {
	var out []*store.Resource
	for _, raw := range fuzzDocs[rt] {
		var doc map[string]any
		if err := json.Unmarshal([]byte(raw), &doc); err != nil {
			t.Fatal(err)
		}
		out = append(out, &store.Resource{ID: doc["id"].(string), Doc: doc})
	}
	return out
}

// runQuery checks what decoding returned, and runs an accepted query over the fuzz documents as
// serveList does.
func runQuery(t *testing.T, rt *schema.ResourceType, q *query, err error) {
	t.Helper()
	if err != nil {
		if e := scimerror.As(err); e == nil || e.Status != http.StatusBadRequest || strings.TrimSpace(e.Detail) == "" {
			t.Fatalf("error %v is not a SCIM 400 with a detail", err)
		}
		return
	}
	if q.startIndex < 1 || q.count < 0 || q.count > fuzzMaxResults {
		t.Fatalf("startIndex %d, count %d out of bounds (maxResults %d)", q.startIndex, q.count, fuzzMaxResults)
	}
	all := fuzzResources(t, rt)
	var matched []*store.Resource
	for _, res := range all {
		if q.filter == nil || q.filter.Match(res.Doc) {
			matched = append(matched, res)
		}
	}
	if q.filter != nil {
		q.filter.Equality()
	}
	if q.sort != nil {
		q.sortResources(matched)
	}
	for _, res := range paginate(matched, q.startIndex, q.count) {
		if _, err := json.Marshal(q.project(res.Doc)); err != nil {
			t.Fatalf("a projected document does not marshal: %v", err)
		}
	}
}

// fuzzProviders are the providers whose filter options the targets try: strict, and Entra ID's.
var fuzzProviders = []string{"generic", "azure"}

// FuzzListQuery decodes a list request's query string, as GET /Users and /Groups do.
func FuzzListQuery(f *testing.F) {
	for _, seed := range []string{
		"filter=" + url.QueryEscape(`userName eq "bjensen@example.com"`) + "&startIndex=1&count=100",
		"startIndex=0&count=2",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		values, err := url.ParseQuery(rawQuery)
		if err != nil {
			return // net/http hands the handler what it could parse; so does r.URL.Query()
		}
		for _, rt := range []*schema.ResourceType{schema.UserResourceType, schema.GroupResourceType} {
			for _, p := range fuzzProviders {
				q, err := queryFromURL(rt, values, fuzzMaxResults, QuirksFor(p).Filter)
				runQuery(t, rt, q, err)
			}
		}
	})
}

// FuzzSearchRequest decodes a POST /.search body, as serveSearch does: one JSON object, then the
// SearchRequest's attributes.
func FuzzSearchRequest(f *testing.F) {
	for _, seed := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName sw \"b\"","count":1}`,
		`{"Schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"attributes":"userName,emails","startIndex":"0"}`,
	} {
		f.Add([]byte(seed))
	}
	s := &Server{opts: Options{MaxBodyBytes: DefaultMaxBodyBytes}}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rt := range []*schema.ResourceType{schema.UserResourceType, schema.GroupResourceType} {
			for _, p := range fuzzProviders {
				r := &request{Request: httptest.NewRequest("POST", "/provisioning/"+p+"/v2/Users/.search", bytes.NewReader(body)),
					provider: p, quirks: QuirksFor(p)}
				obj, err := s.readObject(r)
				if err != nil {
					runQuery(t, rt, nil, err)
					continue
				}
				q, err := queryFromSearch(rt, obj, fuzzMaxResults, r.quirks.Filter)
				runQuery(t, rt, q, err)
			}
		}
	})
}
