package scimserver

import (
	"maps"

	"github.com/scim-operator/scim-operator/scimserver/patch"
	"github.com/scim-operator/scim-operator/scimserver/schema"
)

// applyPatch returns the function the store's Patch applies to the stored document of a resource
// of type rt: the request's operations, then the limits on multi-valued attributes, then the
// canonical form with the provider's decoding, so that the store receives canonical documents
// only, from PATCH as from POST and PUT (readResource). The store may call it more than once, on a
// fresher document after a write conflict.
func (s *Server) applyPatch(r *request, rt *schema.ResourceType, req *patch.Request) func(doc map[string]any) (bool, error) {
	return func(doc map[string]any) (bool, error) {
		before := valueCounts(rt, doc)
		changed, err := req.Apply(rt, doc)
		if err == nil && changed {
			err = s.checkValues(rt, doc, before)
		}
		if err != nil {
			return changed, err
		}
		// Also when nothing changed: the store still turns the document into the object's spec,
		// which marking and drift repair may have to write. Canonicalizing drops the read-only id,
		// meta and groups of the stored document.
		canonical, err := schema.Canonicalize(rt, doc, r.quirks.Decoding)
		if err != nil {
			return changed, err
		}
		clear(doc)
		maps.Copy(doc, canonical)
		return changed, nil
	}
}
