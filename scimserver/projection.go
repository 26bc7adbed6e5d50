package scimserver

import (
	"cmp"
	"maps"
	"slices"

	"github.com/scim-operator/scim-operator/scimserver/filter"
	"github.com/scim-operator/scim-operator/scimserver/schema"
)

// project applies attributes / excludedAttributes (RFC 7644 §3.4.2.5) to a document. Attributes
// returned "always" (id, schemas, userName) stay whatever is asked.
func (q *query) project(doc map[string]any) map[string]any {
	if !q.projects() {
		return doc
	}
	out := map[string]any{}
	if len(q.attributes) > 0 {
		// Sub-attribute paths build new values; a path naming a whole attribute (filtered or not)
		// comes after them and wins, so that no copied value is written into.
		paths := slices.Clone(q.attributes)
		slices.SortStableFunc(paths, func(a, b *filter.Path) int {
			return cmp.Compare(boolRank(a.Sub == nil), boolRank(b.Sub == nil))
		})
		for _, p := range paths {
			copyPath(q.rt, doc, out, p)
		}
	} else {
		// A shallow copy: removePath copies a value before it takes a sub-attribute out of it.
		for k, v := range doc {
			out[k] = v
		}
		for _, p := range q.excluded {
			if p.Leaf().Returned != schema.ReturnedAlways || p.Filter != nil {
				removePath(q.rt, out, p)
			}
		}
	}
	for _, p := range slices.Concat(q.attributes, q.excluded) {
		tidy(q.rt, out, p)
	}
	// Whatever the paths, schemas, id and the attributes returned "always" (RFC 7643 §7) stay.
	for _, k := range []string{"schemas", "id"} {
		if v, ok := doc[k]; ok {
			out[k] = v
		}
	}
	for _, a := range q.rt.Schema.Attributes {
		if v, ok := doc[a.Name]; ok && a.Returned == schema.ReturnedAlways {
			out[a.Name] = v
		}
	}
	return out
}

// tidy drops from out, a projection, what p's selection or removal left without a value: the
// values of a multi-valued attribute that hold none of the sub-attributes asked for, a complex
// value, a multi-valued attribute or an extension object left empty. A multi-valued attribute
// that is [] in the document (groups, members) stays []. It writes only into out and the values the projection made.
func tidy(rt *schema.ResourceType, out map[string]any, p *filter.Path) {
	c := p.Container(rt, out, false)
	if c == nil {
		return
	}
	switch v := c[p.Attr.Name].(type) {
	case map[string]any:
		if len(v) == 0 {
			delete(c, p.Attr.Name)
		}
	case []any:
		if p.Sub != nil {
			kept := make([]any, 0, len(v)) // a new slice: v may be the document's
			for _, item := range v {
				if m, ok := item.(map[string]any); !ok || len(m) > 0 {
					kept = append(kept, item)
				}
			}
			if len(kept) == 0 && len(v) > 0 {
				delete(c, p.Attr.Name)
			} else {
				c[p.Attr.Name] = kept
			}
		}
	}
	if p.Extension(rt) && len(c) == 0 {
		delete(out, p.Schema.ID)
	}
}

// projects reports whether q asks for less than the full representation.
func (q *query) projects() bool {
	return q != nil && (len(q.attributes) > 0 || len(q.excluded) > 0)
}

// boolRank orders false before true.
func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// copyPath copies what p names from one document to another: an attribute, the values of a
// multi-valued one its filter selects, or a sub-attribute, merged into what the target holds.
func copyPath(rt *schema.ResourceType, from, to map[string]any, p *filter.Path) {
	src := p.Container(rt, from, false)
	if src == nil {
		return
	}
	v, ok := src[p.Attr.Name]
	if !ok {
		return
	}
	dst := p.Container(rt, to, true)
	if p.Filter != nil {
		v = selectValues(v, p.Filter, true)
	}
	if p.Sub == nil {
		dst[p.Attr.Name] = v
		return
	}
	switch val := v.(type) {
	case map[string]any:
		// Complex (name, manager): the sub-attribute joins those already copied.
		sub, _ := dst[p.Attr.Name].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
			dst[p.Attr.Name] = sub
		}
		if sv, ok := val[p.Sub.Name]; ok {
			sub[p.Sub.Name] = sv
		}
	case []any:
		// Multi-valued: keep the sub-attribute of every value, merged with what is already kept.
		kept, _ := dst[p.Attr.Name].([]any)
		for i, item := range val {
			m, _ := item.(map[string]any)
			if i >= len(kept) {
				kept = append(kept, map[string]any{})
			}
			if sv, ok := m[p.Sub.Name]; ok {
				kept[i].(map[string]any)[p.Sub.Name] = sv
			}
		}
		dst[p.Attr.Name] = kept
	}
}

// removePath removes what p names from doc, a shallow copy of the document projected: an
// attribute, the values of a multi-valued one its filter selects, or a sub-attribute of the
// attribute, of each of its values or of those its filter selects. What doc shares with the
// document projected is copied before anything is taken out of it.
func removePath(rt *schema.ResourceType, doc map[string]any, p *filter.Path) {
	c := p.Container(rt, doc, false)
	if c == nil {
		return
	}
	if p.Extension(rt) {
		c = maps.Clone(c)
		doc[p.Schema.ID] = c
	}
	if p.Filter != nil && p.Sub == nil {
		c[p.Attr.Name] = selectValues(c[p.Attr.Name], p.Filter, false)
		return
	}
	if p.Sub == nil {
		delete(c, p.Attr.Name)
		return
	}
	// The value is shared with the document projected: the sub-attribute is left out of a copy.
	switch val := c[p.Attr.Name].(type) {
	case map[string]any:
		copied := map[string]any{}
		for k, v := range val {
			if k != p.Sub.Name {
				copied[k] = v
			}
		}
		c[p.Attr.Name] = copied
	case []any:
		list := make([]any, 0, len(val))
		for _, item := range val {
			m, _ := item.(map[string]any)
			if p.Filter != nil && (m == nil || !p.Filter.Match(m)) {
				list = append(list, item) // `emails[type eq "work"].value` leaves the other values whole
				continue
			}
			copied := map[string]any{}
			for k, v := range m {
				if k != p.Sub.Name {
					copied[k] = v
				}
			}
			list = append(list, copied)
		}
		c[p.Attr.Name] = list
	}
}

// selectValues returns the values of a multi-valued attribute that match f (keep) or that do not.
func selectValues(v any, f *filter.ValueFilter, keep bool) any {
	list, ok := v.([]any)
	if !ok {
		return v
	}
	out := make([]any, 0, len(list))
	for _, item := range list {
		if m, ok := item.(map[string]any); ok && f.Match(m) == keep {
			out = append(out, item)
		}
	}
	return out
}
