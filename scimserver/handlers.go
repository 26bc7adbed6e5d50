package scimserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
	"github.com/scim-operator/scim-operator/scimserver/store"
)

// request is an authenticated SCIM request of one provider.
type request struct {
	*http.Request
	// provider is the provider named in the path, whose token the request carries.
	provider string
	// quirks are the provider's fixes for its client.
	quirks Quirks
	// base is the provider's absolute base URL, ending in "/v2/", for Location headers.
	base string
	// tokenKey is the token Secret's key that holds the request's token: its rate limit's key.
	tokenKey string
}

// route dispatches on the path below /provisioning/{provider}/v2. It returns the error to answer
// with, which serve writes; a nil error means the response is written.
func (s *Server) route(w http.ResponseWriter, r *request, segments []string) error {
	switch {
	case len(segments) == 0 && r.Method == http.MethodGet:
		// A query at the server root spans every resource type (RFC 7644 §3.4.2.1).
		return s.serveRoot(w, r, paramsFromURL(r.URL.Query()))
	case len(segments) == 0:
		return methodNotAllowed(w, r, http.MethodGet)
	case len(segments) == 1 && segments[0] == ".search":
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, r, http.MethodPost)
		}
		obj, err := s.readObject(r)
		if err != nil {
			return err
		}
		p, err := paramsFromSearch(obj)
		if err != nil {
			return err
		}
		return s.serveRoot(w, r, p)
	}
	var resources store.Resources
	// Endpoint names are matched case-insensitively: Microsoft's test collection sends /users.
	segments[0] = canonicalEndpoint(segments[0])
	switch segments[0] {
	case "Users":
		resources = s.store.Users()
	case "Groups":
		resources = s.store.Groups()
	case "ServiceProviderConfig", "ResourceTypes", "Schemas":
		return s.serveDiscovery(w, r, segments)
	case "Bulk":
		return s.serveBulk(w, r, segments)
	case "Me":
		return scimerror.New(http.StatusNotImplemented, "", "/%s is not supported", segments[0])
	default:
		return noEndpoint(r)
	}
	switch {
	case len(segments) > 2:
		return noEndpoint(r)
	case len(segments) == 2 && segments[1] == ".search":
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, r, http.MethodPost)
		}
		return s.serveSearch(w, r, resources)
	}
	// The query parameters (filter, attributes, …) are checked first: a bad one is 400 even with a
	// method the endpoint does not serve.
	q, err := queryFromURL(resources.Type(), r.URL.Query(), s.opts.MaxResults, r.quirks.Filter)
	if err != nil {
		return err
	}
	if len(segments) == 1 {
		return s.serveCollection(w, r, resources, q)
	}
	return s.serveResource(w, r, resources, segments[1], q)
}

// noEndpoint is the 404 of a path below a provider's base URL that names no endpoint.
func noEndpoint(r *request) error {
	return scimerror.NotFound("no SCIM endpoint at %s", r.URL.Path)
}

// methodNotAllowed is the 405 of a method the endpoint does not serve; it sets Allow to those it does.
func methodNotAllowed(w http.ResponseWriter, r *request, allowed ...string) error {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	return scimerror.New(http.StatusMethodNotAllowed, "", "%s is not allowed on %s", r.Method, r.URL.Path)
}

// serveCollection serves GET (list) and POST (create) on /Users or /Groups.
func (s *Server) serveCollection(w http.ResponseWriter, r *request, resources store.Resources, q *query) error {
	switch r.Method {
	case http.MethodGet:
		return s.serveList(w, r, resources, q)
	case http.MethodPost:
		return s.serveWrite(w, r, writeOp{method: http.MethodPost, resources: resources}, q)
	default:
		return methodNotAllowed(w, r, http.MethodGet, http.MethodPost)
	}
}

// serveResource serves GET, PUT, PATCH and DELETE on /Users/{id} or /Groups/{id}.
func (s *Server) serveResource(w http.ResponseWriter, r *request, resources store.Resources, id string, q *query) error {
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet:
		// The full representation is served encoded, rendered once per version of the resource.
		var res *store.Resource
		var err error
		if q.projects() {
			res, err = resources.Get(withoutMembers(ctx, resources.Type(), q), id)
		} else {
			res, err = resources.GetEncoded(ctx, id)
		}
		if err != nil {
			return err
		}
		// A client that holds the current version gets 304 without a body (RFC 7644 §3.14).
		if inm := r.Header.Get("If-None-Match"); inm != "" && inm == res.Version {
			w.Header().Set("ETag", res.Version)
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		writeResource(w, http.StatusOK, q, res)
		return nil
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		return s.serveWrite(w, r, writeOp{method: r.Method, resources: resources, id: id}, q)
	default:
		return methodNotAllowed(w, r, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete)
	}
}

// writeResource writes a single resource with its ETag, projected by attributes/excludedAttributes
// (a resource already encoded is the full representation: q does not project).
func writeResource(w http.ResponseWriter, status int, q *query, res *store.Resource) {
	w.Header().Set("ETag", res.Version)
	if res.JSON != nil {
		writeEncoded(w, status, res.JSON)
		return
	}
	writeJSON(w, status, q.project(res.Doc))
}

// readBody reads the request body, whatever its Content-Type (StrongDM's client sends none).
func (s *Server) readBody(r *request) ([]byte, error) {
	if r.Body == nil {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "a JSON body is required")
	}
	return readAll(r.Body, scimerror.New(http.StatusRequestEntityTooLarge, "", "the body is larger than %d bytes", s.opts.MaxBodyBytes))
}

// readAll reads body; a body cut off by its http.MaxBytesReader is tooLarge, another failure to
// read it invalidSyntax.
func readAll(body io.Reader, tooLarge error) ([]byte, error) {
	b, err := io.ReadAll(body)
	var maxBytes *http.MaxBytesError
	if errors.As(err, &maxBytes) {
		return nil, tooLarge
	}
	if err != nil {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "cannot read the body: %v", err)
	}
	return b, nil
}

// resourceDoc decodes and canonicalizes a User or Group body of a POST or PUT, within the limits
// on multi-valued attributes.
func (s *Server) resourceDoc(r *request, rt *schema.ResourceType, body []byte) (map[string]any, error) {
	obj, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	doc, err := schema.Canonicalize(rt, obj, r.quirks.Decoding)
	if err != nil {
		return nil, err
	}
	if !listsSchema(doc, rt.Schema.ID) {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "schemas must include %s", rt.Schema.ID)
	}
	if err := s.checkValues(rt, doc, nil); err != nil {
		return nil, err
	}
	// id is read-only and was dropped; keep it for PUT's consistency check.
	for k, v := range obj {
		if strings.EqualFold(k, "id") {
			doc["id"] = v
		}
	}
	return doc, nil
}

// readObject reads a body that must be one JSON object; anything else is invalidSyntax.
func (s *Server) readObject(r *request) (map[string]any, error) {
	body, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	return decodeObject(body)
}

// decodeObject decodes a body that must be one JSON object; anything else is invalidSyntax.
func decodeObject(body []byte) (map[string]any, error) { return decodeOne[any](body, "the body") }

// decodeOne decodes body, which must be one JSON object, into its members; anything else is
// invalidSyntax. what names the object in errors ("the body", "a BulkRequest").
func decodeOne[T any](body []byte, what string) (map[string]T, error) {
	var obj map[string]T
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		detail := what + " must be a JSON object"
		if err != nil {
			detail += ": " + err.Error()
		}
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "%s", detail)
	}
	if dec.More() {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "%s must be a single JSON object", what)
	}
	return obj, nil
}

// listsSchema reports whether doc's schemas include urn.
func listsSchema(doc map[string]any, urn string) bool {
	list, _ := doc["schemas"].([]any)
	for _, s := range list {
		if s == urn {
			return true
		}
	}
	return false
}

// serveSearch serves POST /.search with a SearchRequest body (RFC 7644 §3.4.3).
func (s *Server) serveSearch(w http.ResponseWriter, r *request, resources store.Resources) error {
	obj, err := s.readObject(r)
	if err != nil {
		return err
	}
	q, err := queryFromSearch(resources.Type(), obj, s.opts.MaxResults, r.quirks.Filter)
	if err != nil {
		return err
	}
	return s.serveList(w, r, resources, q)
}

// matches returns the resources that q's filter matches, listing only those an index finds for eq
// when it is set.
func matches(ctx context.Context, resources store.Resources, q *query, eq *store.Equality) ([]*store.Resource, error) {
	all, err := resources.List(ctx, eq)
	if err != nil {
		return nil, err
	}
	return matching(all, q), nil
}

// matching returns those of all that q's filter matches.
func matching(all []*store.Resource, q *query) []*store.Resource {
	matched := all[:0:0]
	for _, res := range all {
		if q.filter == nil || q.filter.Match(res.Doc) {
			matched = append(matched, res)
		}
	}
	return matched
}

// serveRoot answers a query at the server root, GET / or POST /.search (RFC 7644 §3.4.2.1, §3.4.3),
// across Users and Groups: the parameters are resolved against each resource type, and a type whose
// schema does not have an attribute the filter or the sort names contributes nothing (a filter on a
// missing attribute matches no resource of it); only when no type can answer is the error the
// client's. Sorting, paging and projection apply to the combined list.
func (s *Server) serveRoot(w http.ResponseWriter, r *request, p queryParams) error {
	type found struct {
		res *store.Resource
		q   *query
	}
	var all []found
	var firstErr error
	// paging is the first type's query (every type's has the same paging); sortBy the first with a
	// sort key.
	var paging, sortBy *query
	types := []store.Resources{s.store.Users(), s.store.Groups()}
	// A filter naming an attribute no type has is the client's mistake; one that only some types
	// have matches nothing of the others.
	known := false
	for _, resources := range types {
		_, err := p.parse(resources.Type(), s.opts.MaxResults, r.quirks.Filter)
		if err == nil {
			known = true
		} else if firstErr == nil {
			firstErr = err
		}
	}
	if !known {
		return firstErr
	}
	lenient := r.quirks.Filter
	lenient.MissingAttributesMatchNothing = true
	for _, resources := range types {
		q, err := p.parse(resources.Type(), s.opts.MaxResults, lenient)
		if err != nil {
			continue // a sortBy or attributes path this type does not have
		}
		if paging == nil {
			paging = q
		}
		list, err := matches(r.Context(), resources, q, nil)
		if err != nil {
			return err
		}
		for _, res := range list {
			all = append(all, found{res, q})
		}
		if q.sort != nil && sortBy == nil {
			sortBy = q
		}
	}
	if paging == nil {
		return firstErr
	}
	if sortBy != nil {
		sort.SliceStable(all, func(i, j int) bool {
			c := sortBy.sort.Compare(all[i].res.Doc, all[j].res.Doc)
			if sortBy.descending {
				c = -c
			}
			return c < 0
		})
	}
	from := min(paging.startIndex-1, len(all))
	page := all[from:min(from+paging.count, len(all))]
	resp := listResponse{Schemas: []string{schema.ListResponseURN}, TotalResults: len(all), StartIndex: paging.startIndex,
		ItemsPerPage: len(page), Resources: make([]map[string]any, 0, len(page))}
	for _, f := range page {
		resp.Resources = append(resp.Resources, f.q.project(f.res.Doc))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// listResponse is a SCIM ListResponse. itemsPerPage is the number of resources returned, which
// StrongDM's client relies on to stop paging.
type listResponse struct {
	Schemas      []string         `json:"schemas"`
	TotalResults int              `json:"totalResults"`
	StartIndex   int              `json:"startIndex"`
	ItemsPerPage int              `json:"itemsPerPage"`
	Resources    []map[string]any `json:"Resources"`
}

// serveList answers a list or a search: the resources that match the filter, sorted, one page of
// them, each projected (RFC 7644 §3.4.2). Without a filter or a sort, the store renders the page
// only.
func (s *Server) serveList(w http.ResponseWriter, r *request, resources store.Resources, q *query) error {
	if q.filter == nil && q.sort == nil && !q.projects() {
		// What identity providers' imports ask for: the full representations, from the render cache.
		page, total, err := resources.PageEncoded(r.Context(), q.startIndex-1, q.count)
		if err != nil {
			return err
		}
		writeEncodedList(w, q, page, total)
		return nil
	}
	if q.filter == nil && q.sort == nil {
		page, total, err := resources.Page(withoutMembers(r.Context(), resources.Type(), q), q.startIndex-1, q.count)
		if err != nil {
			return err
		}
		writeList(w, q, page, total)
		return nil
	}
	// An equality on an indexed attribute lets the store list only the candidates an index finds;
	// the filter still decides on each of them.
	var eq *store.Equality
	if q.filter != nil {
		if attr, value, ok := q.filter.Equality(); ok {
			eq = &store.Equality{Attribute: attr, Value: value}
		}
	}
	if eq != nil && q.sort == nil && !q.projects() {
		// An identity provider's lookup by userName, externalId or displayName before it creates:
		// the full representations as GET answers them (users: from the render cache).
		found, err := resources.ListEncoded(r.Context(), eq)
		if err != nil {
			return err
		}
		matched := matching(found, q)
		writeEncodedList(w, q, paginate(matched, q.startIndex, q.count), len(matched))
		return nil
	}
	matched, err := matches(r.Context(), resources, q, eq)
	if err != nil {
		return err
	}
	if q.sort != nil {
		q.sortResources(matched)
	}
	writeList(w, q, paginate(matched, q.startIndex, q.count), len(matched))
	return nil
}

// writeList writes a ListResponse of one page of the total matches, each projected: totalResults
// counts every match, itemsPerPage only the page.
func writeList(w http.ResponseWriter, q *query, page []*store.Resource, total int) {
	resp := listResponse{Schemas: []string{schema.ListResponseURN}, TotalResults: total, StartIndex: q.startIndex,
		ItemsPerPage: len(page), Resources: make([]map[string]any, 0, len(page))}
	for _, res := range page {
		resp.Resources = append(resp.Resources, q.project(res.Doc))
	}
	writeJSON(w, http.StatusOK, resp)
}

// writeEncodedList writes what writeList writes, of resources whose JSON is their full
// representation (PageEncoded, ListEncoded), without decoding it: the same bytes. The envelope is
// written here rather than by encoding/json, which would check and compact every resource's bytes
// again (json.RawMessage): they are EncodeJSON's own compact output, and checking them took a
// tenth of an `eq` filter's CPU (BenchmarkReadUsers).
func writeEncodedList(w http.ResponseWriter, q *query, page []*store.Resource, total int) {
	size := len(encodedListHead) + 3*20 + len(`,"startIndex":,"itemsPerPage":,"Resources":[]}`) + 1
	for _, res := range page {
		size += len(res.JSON) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, encodedListHead...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"startIndex":`...)
	b = strconv.AppendInt(b, int64(q.startIndex), 10)
	b = append(b, `,"itemsPerPage":`...)
	b = strconv.AppendInt(b, int64(len(page)), 10)
	b = append(b, `,"Resources":[`...)
	for i, res := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, bytes.TrimSuffix(res.JSON, []byte("\n"))...)
	}
	b = append(b, "]}\n"...)
	writeEncoded(w, http.StatusOK, b)
}

// encodedListHead is how a ListResponse begins, as encoding/json writes listResponse: its fields
// in their order.
const encodedListHead = `{"schemas":["` + schema.ListResponseURN + `"],"totalResults":`

// paginate returns at most count resources from the 1-based startIndex; past the end, none.
func paginate(all []*store.Resource, startIndex, count int) []*store.Resource {
	from := startIndex - 1
	if from >= len(all) {
		return nil
	}
	to := len(all)
	if from+count < to {
		to = from + count
	}
	return all[from:to]
}

// endpoints are the endpoint names below a provider's base URL.
var endpoints = []string{"Users", "Groups", "ServiceProviderConfig", "ResourceTypes", "Schemas", "Bulk", "Me"}

// canonicalEndpoint returns the endpoint name that segment spells in any case, or segment itself.
func canonicalEndpoint(segment string) string {
	for _, e := range endpoints {
		if strings.EqualFold(e, segment) {
			return e
		}
	}
	return segment
}
