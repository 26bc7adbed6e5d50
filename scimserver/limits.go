package scimserver

import (
	"github.com/scim-operator/scim-operator/scimserver/patch"
	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// The limits on the work one request may ask for, besides the body size. A request over one is
// 400 invalidValue: RFC 7644 §3.12 defines tooMany for a filter that yields more results than the
// server will process (GET and POST /.search), not for a write, whereas invalidValue is a value
// "not compatible with the operation", which holds for too long an Operations array or attribute.
// (413 is what §3.7.4 prescribes for the limits of /Bulk: bulk.go.)

// checkOperations rejects a PATCH request of more operations than MaxPatchOperations.
func (s *Server) checkOperations(req *patch.Request) error {
	if n, limit := len(req.Operations), s.opts.MaxPatchOperations; n > limit {
		return scimerror.BadRequest(scimerror.InvalidValue,
			"the request has %d operations, more than the %d one PATCH may hold (--scim-max-patch-operations)", n, limit)
	}
	return nil
}

// limitedAttributes returns the multi-valued attributes of rt whose number of values
// MaxMultiValues bounds: those of a User that clients write. A User's groups are read-only (they
// are the roles it is in), and Group members are bounded apart: groups hold thousands of them.
func limitedAttributes(rt *schema.ResourceType) []schema.Path {
	if rt != schema.UserResourceType {
		return nil
	}
	var out []schema.Path
	for _, s := range rt.Schemas() {
		for _, a := range s.Attributes {
			if a.MultiValued && a.Mutability != schema.ReadOnly {
				out = append(out, schema.Path{Schema: s, Attr: a})
			}
		}
	}
	return out
}

// valueCounts returns the number of values doc, a resource of type rt, holds in each limited
// attribute.
func valueCounts(rt *schema.ResourceType, doc map[string]any) map[*schema.Attribute]int {
	counts := map[*schema.Attribute]int{}
	for _, p := range limitedAttributes(rt) {
		counts[p.Attr] = countValues(rt, doc, p)
	}
	return counts
}

// countValues returns the number of values doc holds in the multi-valued attribute p.
func countValues(rt *schema.ResourceType, doc map[string]any, p schema.Path) int {
	c := p.Container(rt, doc, false)
	if c == nil {
		return 0
	}
	list, _ := c[p.Attr.Name].([]any)
	return len(list)
}

// checkValues rejects doc, a resource of type rt about to be stored, when one of its limited
// attributes holds more than MaxMultiValues values. With before, the counts of the stored resource
// a PATCH started from, an attribute the request did not grow passes whatever its size, so that a
// user stored with more values (written with kubectl, or under a higher limit) can still be
// patched, and above all suspended.
func (s *Server) checkValues(rt *schema.ResourceType, doc map[string]any, before map[*schema.Attribute]int) error {
	limit := s.opts.MaxMultiValues
	for _, p := range limitedAttributes(rt) {
		n := countValues(rt, doc, p)
		if n <= limit || (before != nil && n <= before[p.Attr]) {
			continue
		}
		return scimerror.BadRequest(scimerror.InvalidValue,
			"%s would hold %d values, more than the %d one attribute may hold (--scim-max-multi-values)", p.Attr.Name, n, limit)
	}
	return nil
}
