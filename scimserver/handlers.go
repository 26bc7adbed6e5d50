package scimserver

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/scim-operator/scim-operator/scimserver/patch"
	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
	"github.com/scim-operator/scim-operator/scimserver/store"
)

// request is an authenticated SCIM request of one provider.
type request struct {
	*http.Request
	provider string
	quirks   Quirks
	base     string
}

func (r *request) write() store.Write {
	return store.Write{Provider: r.provider, IfMatch: r.Header.Get("If-Match"), IgnoreUnknownMembers: r.quirks.IgnoreUnknownMembers}
}

// route dispatches on the path below /provisioning/{provider}/v2.
func (s *Server) route(w http.ResponseWriter, r *request, segments []string) {
	if len(segments) == 0 {
		s.writeError(w, r.Request, scimerror.NotFound("no SCIM endpoint at %s", r.URL.Path))
		return
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
		s.serveDiscovery(w, r, segments)
		return
	case "Bulk", "Me":
		s.writeError(w, r.Request, scimerror.New(http.StatusNotImplemented, "", "/%s is not supported", segments[0]))
		return
	default:
		s.writeError(w, r.Request, scimerror.NotFound("no SCIM endpoint at %s", r.URL.Path))
		return
	}
	switch {
	case len(segments) == 1:
		s.serveCollection(w, r, resources)
	case len(segments) == 2 && segments[1] == ".search":
		if r.Method != http.MethodPost {
			s.methodNotAllowed(w, r, http.MethodPost)
			return
		}
		s.serveSearch(w, r, resources)
	case len(segments) == 2:
		s.serveResource(w, r, resources, segments[1])
	default:
		s.writeError(w, r.Request, scimerror.NotFound("no SCIM endpoint at %s", r.URL.Path))
	}
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *request, allowed ...string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	s.writeError(w, r.Request, scimerror.New(http.StatusMethodNotAllowed, "", "%s is not allowed on %s", r.Method, r.URL.Path))
}

func (s *Server) serveCollection(w http.ResponseWriter, r *request, resources store.Resources) {
	// The query parameters (filter, attributes, …) are checked before anything is written.
	q, err := queryFromURL(resources.Type(), r.URL.Query(), s.opts.MaxResults, r.quirks.Filter)
	if err != nil {
		s.writeError(w, r.Request, err)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.serveList(w, r, resources, q)
	case http.MethodPost:
		doc, err := s.readResource(r, resources.Type())
		if err != nil {
			s.writeError(w, r.Request, err)
			return
		}
		res, err := resources.Create(r.Context(), r.write(), doc)
		if err != nil {
			s.writeError(w, r.Request, err)
			return
		}
		w.Header().Set("Location", r.base+res.Doc["meta"].(map[string]any)["location"].(string))
		writeResource(w, http.StatusCreated, q, res)
	default:
		s.methodNotAllowed(w, r, http.MethodGet, http.MethodPost)
	}
}

func (s *Server) serveResource(w http.ResponseWriter, r *request, resources store.Resources, id string) {
	ctx := r.Context()
	q, err := queryFromURL(resources.Type(), r.URL.Query(), s.opts.MaxResults, r.quirks.Filter)
	if err != nil {
		s.writeError(w, r.Request, err)
		return
	}
	switch r.Method {
	case http.MethodGet:
		res, err := resources.Get(ctx, id)
		if err != nil {
			s.writeError(w, r.Request, err)
			return
		}
		if inm := r.Header.Get("If-None-Match"); inm != "" && inm == res.Version {
			w.Header().Set("ETag", res.Version)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		writeResource(w, http.StatusOK, q, res)
	case http.MethodPut:
		doc, err := s.readResource(r, resources.Type())
		if err != nil {
			s.writeError(w, r.Request, err)
			return
		}
		if bodyID, ok := doc["id"].(string); ok && bodyID != id {
			s.writeError(w, r.Request, scimerror.BadRequest(scimerror.Mutability, "id %q in the body does not match %q in the path", bodyID, id))
			return
		}
		res, err := resources.Replace(ctx, r.write(), id, doc)
		if err != nil {
			s.writeError(w, r.Request, err)
			return
		}
		writeResource(w, http.StatusOK, q, res)
	case http.MethodPatch:
		body, err := s.readBody(r)
		if err != nil {
			s.writeError(w, r.Request, err)
			return
		}
		req, err := patch.Parse(body, r.quirks.Patch)
		if err == nil {
			err = s.checkOperations(req)
		}
		if err != nil {
			s.writeError(w, r.Request, err)
			return
		}
		res, changed, err := resources.Patch(ctx, r.write(), id, s.applyPatch(r, resources.Type(), req))
		if err != nil {
			s.writeError(w, r.Request, err)
			return
		}
		if !changed || r.quirks.PatchNoContent {
			w.Header().Set("ETag", res.Version)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeResource(w, http.StatusOK, q, res)
	case http.MethodDelete:
		if err := resources.Delete(ctx, r.write(), id); err != nil {
			s.writeError(w, r.Request, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		s.methodNotAllowed(w, r, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete)
	}
}

// writeResource writes a single resource with its ETag, projected by attributes/excludedAttributes.
func writeResource(w http.ResponseWriter, status int, q *query, res *store.Resource) {
	w.Header().Set("ETag", res.Version)
	writeJSON(w, status, q.project(res.Doc))
}

// readBody reads the request body, whatever its Content-Type (StrongDM's client sends none).
func (s *Server) readBody(r *request) ([]byte, error) {
	if r.Body == nil {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "a JSON body is required")
	}
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, scimerror.New(http.StatusRequestEntityTooLarge, "", "the body is larger than %d bytes", s.opts.MaxBodyBytes)
	}
	if err != nil {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "cannot read the body: %v", err)
	}
	return body, nil
}

// readResource reads and canonicalizes a User or Group body of a POST or PUT, within the limits
// on multi-valued attributes.
func (s *Server) readResource(r *request, rt *schema.ResourceType) (map[string]any, error) {
	body, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
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

// decodeObject decodes a JSON object; anything else is invalidSyntax.
func decodeObject(body []byte) (map[string]any, error) {
	var obj map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		detail := "the body must be a JSON object"
		if err != nil {
			detail += ": " + err.Error()
		}
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "%s", detail)
	}
	if dec.More() {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "the body must be a single JSON object")
	}
	return obj, nil
}

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
func (s *Server) serveSearch(w http.ResponseWriter, r *request, resources store.Resources) {
	body, err := s.readBody(r)
	if err != nil {
		s.writeError(w, r.Request, err)
		return
	}
	obj, err := decodeObject(body)
	if err != nil {
		s.writeError(w, r.Request, err)
		return
	}
	q, err := queryFromSearch(resources.Type(), obj, s.opts.MaxResults, r.quirks.Filter)
	if err != nil {
		s.writeError(w, r.Request, err)
		return
	}
	s.serveList(w, r, resources, q)
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

func (s *Server) serveList(w http.ResponseWriter, r *request, resources store.Resources, q *query) {
	var eq *store.Equality
	if q.filter != nil {
		if attr, value, ok := q.filter.Equality(); ok {
			eq = &store.Equality{Attribute: attr, Value: value}
		}
	}
	all, err := resources.List(r.Context(), eq)
	if err != nil {
		s.writeError(w, r.Request, err)
		return
	}
	matched := all[:0:0]
	for _, res := range all {
		if q.filter == nil || q.filter.Match(res.Doc) {
			matched = append(matched, res)
		}
	}
	if q.sort != nil {
		q.sortResources(matched)
	}
	page := paginate(matched, q.startIndex, q.count)
	resp := listResponse{Schemas: []string{schema.ListResponseURN}, TotalResults: len(matched), StartIndex: q.startIndex,
		ItemsPerPage: len(page), Resources: make([]map[string]any, 0, len(page))}
	for _, res := range page {
		resp.Resources = append(resp.Resources, q.project(res.Doc))
	}
	writeJSON(w, http.StatusOK, resp)
}

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

func canonicalEndpoint(segment string) string {
	for _, e := range endpoints {
		if strings.EqualFold(e, segment) {
			return e
		}
	}
	return segment
}
