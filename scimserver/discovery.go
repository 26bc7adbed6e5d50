package scimserver

import (
	"net/http"
	"strings"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// serveDiscovery serves /ServiceProviderConfig, /ResourceTypes[/{name}] and /Schemas[/{id}]
// (RFC 7644 §4). They are read-only: any other method is 405.
func (s *Server) serveDiscovery(w http.ResponseWriter, r *request, segments []string) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, r, http.MethodGet)
	}
	var body any
	var err error
	switch {
	case segments[0] == "ServiceProviderConfig" && len(segments) == 1:
		body = s.serviceProviderConfig()
	case segments[0] == "ResourceTypes" && len(segments) <= 2:
		// Resource type names are matched exactly, schema ids (URNs) in any case.
		body, err = discoveryDocs(schema.ResourceTypes, segments[1:], resourceTypeDoc, "Resource type",
			func(rt *schema.ResourceType, name string) bool { return rt.Name == name })
	case segments[0] == "Schemas" && len(segments) <= 2:
		body, err = discoveryDocs(schema.Schemas, segments[1:], schemaDoc, "Schema",
			func(sc *schema.Schema, id string) bool { return strings.EqualFold(sc.ID, id) })
	default:
		return noEndpoint(r)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// discoveryDocs returns the ListResponse of every item's document or, given a name, the document
// of the item that has it; kind names the items in the 404 of a name none has.
func discoveryDocs[T any](items []T, name []string, docOf func(T) map[string]any, kind string, has func(T, string) bool) (any, error) {
	if len(name) == 0 {
		var docs []map[string]any
		for _, item := range items {
			docs = append(docs, docOf(item))
		}
		return discoveryList(docs), nil
	}
	for _, item := range items {
		if has(item, name[0]) {
			return docOf(item), nil
		}
	}
	return nil, scimerror.NotFound("%s %s not found.", kind, name[0])
}

// discoveryList wraps discovery documents in a ListResponse of one page.
func discoveryList(docs []map[string]any) listResponse {
	return listResponse{Schemas: []string{schema.ListResponseURN}, TotalResults: len(docs), StartIndex: 1,
		ItemsPerPage: len(docs), Resources: docs}
}

// serviceProviderConfig advertises exactly what the server does (RFC 7643 §5): bulk with the limits
// /Bulk enforces; filter.maxResults is the cap on a list's count (--scim-max-results). Its
// meta.location is relative to the provider's base URL, like every location the server writes.
func (s *Server) serviceProviderConfig() map[string]any {
	return map[string]any{
		"schemas":          []string{schema.ServiceProviderConfigURN},
		"documentationUri": "https://github.com/scim-operator/scim-operator",
		"patch":            map[string]any{"supported": true},
		"bulk": map[string]any{"supported": true, "maxOperations": s.opts.BulkMaxOperations,
			"maxPayloadSize": s.opts.BulkMaxPayloadBytes},
		"filter":         map[string]any{"supported": true, "maxResults": s.opts.MaxResults},
		"changePassword": map[string]any{"supported": false},
		"sort":           map[string]any{"supported": true},
		"etag":           map[string]any{"supported": true},
		"authenticationSchemes": []map[string]any{{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "A bearer token per provider, from the operator's token Secret.",
			"primary":     true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": "ServiceProviderConfig"},
	}
}

// resourceTypeDoc renders a resource type (RFC 7643 §6), schemaExtensions present even when empty.
func resourceTypeDoc(rt *schema.ResourceType) map[string]any {
	exts := []map[string]any{}
	for _, e := range rt.Extensions {
		exts = append(exts, map[string]any{"schema": e.Schema.ID, "required": e.Required})
	}
	return map[string]any{
		"schemas":          []string{schema.ResourceTypeURN},
		"id":               rt.Name,
		"name":             rt.Name,
		"endpoint":         rt.Endpoint,
		"description":      rt.Description,
		"schema":           rt.Schema.ID,
		"schemaExtensions": exts,
		"meta":             map[string]any{"resourceType": "ResourceType", "location": "ResourceTypes/" + rt.Name},
	}
}

// schemaDoc renders a schema (RFC 7643 §7): the attributes the server stores, and only those.
func schemaDoc(sc *schema.Schema) map[string]any {
	attrs := make([]map[string]any, 0, len(sc.Attributes))
	for _, a := range sc.Attributes {
		attrs = append(attrs, attributeDoc(a))
	}
	return map[string]any{
		"schemas":     []string{schema.SchemaURN},
		"id":          sc.ID,
		"name":        sc.Name,
		"description": sc.Description,
		"attributes":  attrs,
		"meta":        map[string]any{"resourceType": "Schema", "location": "Schemas/" + sc.ID},
	}
}

// attributeDoc renders an attribute's definition, its sub-attributes nested. canonicalValues,
// referenceTypes and subAttributes are present only when the attribute has some.
func attributeDoc(a *schema.Attribute) map[string]any {
	doc := map[string]any{
		"name":        a.Name,
		"type":        string(a.Type),
		"multiValued": a.MultiValued,
		"description": a.Description,
		"required":    a.Required,
		"caseExact":   a.CaseExact,
		"mutability":  a.Mutability,
		"returned":    a.Returned,
		"uniqueness":  a.Uniqueness,
	}
	if len(a.CanonicalValues) > 0 {
		doc["canonicalValues"] = a.CanonicalValues
	}
	if len(a.ReferenceTypes) > 0 {
		doc["referenceTypes"] = a.ReferenceTypes
	}
	if len(a.SubAttributes) > 0 {
		subs := make([]map[string]any, 0, len(a.SubAttributes))
		for _, sa := range a.SubAttributes {
			subs = append(subs, attributeDoc(sa))
		}
		doc["subAttributes"] = subs
	}
	return doc
}
