package filter

import (
	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// Path is the target of a PATCH operation (RFC 7644 §3.5.2: attrPath / valuePath [subAttr]),
// resolved against a resource type: "userName", "name.givenName",
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
// `members[value eq "a-1"]` or `emails[type eq "work"].value`.
type Path struct {
	// Path is the attribute addressed. Its Sub is the sub-attribute named after the attribute
	// ("name.givenName") or after the value filter (`emails[type eq "work"].value`).
	schema.Path
	// Filter selects the values of the multi-valued attribute Attr the operation applies to; nil
	// when the path has no value filter.
	Filter *ValueFilter
	source string
}

// String returns the path as the client wrote it.
func (p *Path) String() string { return p.source }

// ParsePath parses a PATCH path for resources of type rt. Malformed paths and unknown attributes
// are 400 invalidPath errors; a malformed or ill-typed value filter is a 400 invalidFilter.
func ParsePath(rt *schema.ResourceType, s string) (*Path, error) {
	src, err := scan(s, scimerror.InvalidPath)
	if err != nil {
		return nil, err
	}
	ast, filters, err := parsePathSyntax(src)
	if err != nil {
		return nil, err
	}
	ref, resolved, err := resolve(rt, ast.AttributePath, scimerror.InvalidPath)
	if err != nil {
		return nil, err
	}
	p := &Path{Path: resolved, source: s}
	if ast.ValueExpression == nil {
		return p, nil
	}
	if resolved.Sub != nil || !resolved.Attr.MultiValued || resolved.Attr.Type != schema.Complex {
		return nil, scimerror.BadRequest(scimerror.InvalidPath, "path %q: a value filter [...] selects values of a multi-valued complex attribute, which %s is not", s, ref.name)
	}
	c := &compiler{rt: rt, valueFilters: filters}
	cond, err := c.valueFilter(ref, ast.ValueExpression)
	if err != nil {
		return nil, err
	}
	p.Filter = &ValueFilter{cond: cond}
	if ast.SubAttribute != nil {
		if p.Sub = resolved.Attr.SubAttribute(*ast.SubAttribute); p.Sub == nil {
			return nil, scimerror.BadRequest(scimerror.InvalidPath, "path %q: %s has no sub-attribute %q", s, ref.name, *ast.SubAttribute)
		}
	}
	return p, nil
}

// parsePathSyntax parses src as a path and, when the parser's narrow value-filter grammar rejects
// it, again with the value filter parsed on its own with the full filter grammar.
func parsePathSyntax(src *source) (scimfilter.Path, []scimfilter.Expression, error) {
	ast, parseErr := scimfilter.ParsePathNumber([]byte(src.text))
	if parseErr == nil {
		return ast, nil, nil
	}
	outer, inner, err := src.extractValueFilters(scimerror.InvalidPath)
	if err != nil {
		return scimfilter.Path{}, nil, err
	}
	if len(inner) == 0 {
		return scimfilter.Path{}, nil, syntaxError(scimerror.InvalidPath, "path", src.text, src.original, parseErr)
	}
	if ast, err = scimfilter.ParsePathNumber([]byte(outer)); err != nil {
		return scimfilter.Path{}, nil, syntaxError(scimerror.InvalidPath, "path", src.text, src.original, parseErr)
	}
	filters, err := parseValueFilters(inner)
	return ast, filters, err
}

// ValueFilter is the filter of a value path: it selects values of one multi-valued complex
// attribute, as `type eq "work"` in `emails[type eq "work"]`.
type ValueFilter struct{ cond expr }

// Match reports whether one value of the attribute (one element of its array) matches the filter.
func (f *ValueFilter) Match(value map[string]any) bool { return f.cond.match(value) }

// Implied returns the sub-attribute values every value matching the filter has, by canonical
// name: {"type": "work"} for `type eq "work"`, and the union for eq comparisons joined by and. It
// reports false when the filter is anything else (or, not, other operators, contradictions), which
// pins no value down. PATCH add uses it to create the value a filter names when none exists yet.
func (f *ValueFilter) Implied() (map[string]any, bool) {
	implied := map[string]any{}
	if !collectImplied(f.cond, implied) {
		return nil, false
	}
	return implied, true
}

func collectImplied(e expr, into map[string]any) bool {
	switch e := e.(type) {
	case *logical:
		return e.and && collectImplied(e.left, into) && collectImplied(e.right, into)
	case *comparison:
		if e.op != scimfilter.EQ || len(e.ref.keys) != 1 || e.operand == nil {
			return false
		}
		name := e.ref.keys[0]
		if prior, seen := into[name]; seen && prior != e.operand {
			return false
		}
		into[name] = e.operand
		return true
	}
	return false
}
