// Package filter parses SCIM filters (RFC 7644 §3.4.2.2), PATCH paths (RFC 7644 §3.5.2) and sortBy
// attributes (RFC 7644 §3.4.2.3) against a resource type's schema, and evaluates them against
// resources represented as JSON documents.
//
// A document is a map[string]any as produced by encoding/json (strings, bool, float64 or
// json.Number, []any, map[string]any), with keys in the schema's canonical case and extension
// attributes nested under the extension's URN. Attribute names in filters are case-insensitive
// (RFC 7643 §2.1) and resolved to the schema's canonical names when parsed, so that every unknown
// name is rejected up front and evaluation never fails.
//
// Syntax is parsed with github.com/scim2/filter-parser/v2. Where that parser's grammar is narrower
// than RFC 7644 (a value filter inside brackets may only be one comparison or two joined by and/or;
// \u escapes must use upper-case hex digits) this package widens it narrowly; see syntax.go.
package filter

import (
	"errors"
	"unicode/utf8"

	"github.com/q-uint/parser"

	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// Limits that keep a hostile filter cheap to reject.
const (
	// MaxLength is the longest filter accepted, in bytes.
	MaxLength = 4096
	// MaxExpressions is the most comparisons a filter may combine, and the deepest it may nest
	// parentheses, brackets and not.
	MaxExpressions = 64
)

// Options are the deviations from RFC 7644 a provider tolerates in its clients' filters. The zero
// value is strict RFC 7644.
type Options struct {
	// UnquotedStrings accepts a bare word as a string comparison value, as in `userName sw O`,
	// `name.familyName eq Employee` or `meta.created gt 2015-10-10T14:38:21.8617979-07:00`.
	// Microsoft's SCIM test collection (the "User tests with garbage" folder) sends such filters.
	// A filter is only rewritten when it fails to parse as it is.
	UnquotedStrings bool
	// MissingAttributesMatchNothing makes a comparison of an attribute the resource type does not
	// have match no resource instead of being a 400: a query at the server root spans resource
	// types that have different attributes (RFC 7644 §3.4.2.1).
	MissingAttributesMatchNothing bool
}

// Filter is a parsed SCIM filter, resolved against a resource type.
type Filter struct {
	source string
	root   expr
}

// Parse parses a strict RFC 7644 filter for resources of type rt. Every error is a 400
// invalidFilter *scimerror.Error.
func Parse(rt *schema.ResourceType, s string) (*Filter, error) {
	return Options{}.Parse(rt, s)
}

// Parse parses a filter for resources of type rt, with the tolerances o enables. Every error is a
// 400 invalidFilter *scimerror.Error.
func (o Options) Parse(rt *schema.ResourceType, s string) (*Filter, error) {
	src, err := scan(s, scimerror.InvalidFilter)
	if err != nil {
		return nil, err
	}
	root, err := o.parse(rt, src)
	if err != nil {
		return nil, err
	}
	return &Filter{source: s, root: root}, nil
}

func (o Options) parse(rt *schema.ResourceType, src *source) (expr, error) {
	root, err := o.parseFilter(rt, src)
	if err == nil || !o.UnquotedStrings {
		return root, err
	}
	quoted, ok := src.quoteBareValues()
	if !ok {
		return nil, err
	}
	return o.parseFilter(rt, quoted)
}

// parseFilter parses src as it is and, when the parser's narrow value-filter grammar rejects it,
// again with each bracketed value filter parsed on its own with the full filter grammar.
func (o Options) parseFilter(rt *schema.ResourceType, src *source) (expr, error) {
	c := &compiler{rt: rt, missingMatchNothing: o.MissingAttributesMatchNothing}
	if ast, ok := quickFilter(src.text); ok {
		return c.compile(ast)
	}
	ast, err := scimfilter.ParseFilterNumber([]byte(src.text))
	if err != nil {
		if ast, c.valueFilters, err = parseWithValueFilters(src, err); err != nil {
			return nil, err
		}
	}
	return c.compile(ast)
}

// parseWithValueFilters parses src with its value filters replaced by placeholders, and each value
// filter on its own. parseErr is the error of parsing src as it is, which is the one reported when
// the filter does not parse this way either.
func parseWithValueFilters(src *source, parseErr error) (scimfilter.Expression, []scimfilter.Expression, error) {
	outer, inner, err := src.extractValueFilters(scimerror.InvalidFilter)
	if err != nil {
		return nil, nil, err
	}
	if len(inner) == 0 {
		return nil, nil, syntaxError(scimerror.InvalidFilter, "filter", src.text, src.original, parseErr)
	}
	ast, err := scimfilter.ParseFilterNumber([]byte(outer))
	if err != nil {
		return nil, nil, syntaxError(scimerror.InvalidFilter, "filter", src.text, src.original, parseErr)
	}
	filters, err := parseValueFilters(inner)
	return ast, filters, err
}

// parseValueFilters parses the text of bracketed value filters with the full filter grammar.
func parseValueFilters(texts []string) ([]scimfilter.Expression, error) {
	filters := make([]scimfilter.Expression, len(texts))
	for i, text := range texts {
		var err error
		if filters[i], err = scimfilter.ParseFilterNumber([]byte(text)); err != nil {
			return nil, syntaxError(scimerror.InvalidFilter, "value filter", text, text, err)
		}
	}
	return filters, nil
}

// Match reports whether the document matches the filter.
func (f *Filter) Match(doc map[string]any) bool { return f.root.match(doc) }

// String returns the filter as the client wrote it.
func (f *Filter) String() string { return f.source }

// indexedAttributes are the attributes the server keeps an index of, by canonical name.
var indexedAttributes = map[string]bool{"userName": true, "externalId": true, "displayName": true, "id": true}

// Equality recognizes a filter the server can serve from an index: a single top-level
// `attr eq "value"` on userName, externalId, displayName or id. It returns the attribute's
// canonical name and the value as written (not case-folded); ok is false for any other filter.
func (f *Filter) Equality() (attr, value string, ok bool) {
	c, isComparison := f.root.(*comparison)
	if !isComparison || c.op != scimfilter.EQ || len(c.ref.keys) != 1 || !indexedAttributes[c.ref.keys[0]] {
		return "", "", false
	}
	s, isString := c.operand.(string)
	if !isString {
		return "", "", false
	}
	return c.ref.keys[0], s, true
}

// syntaxError is the 400 for text the parser rejects, with the parser's message. parsed is the text
// the parser saw, original the client's.
func syntaxError(scimType, what, parsed, original string, err error) *scimerror.Error {
	var conflict *parser.ExpectedParseError
	if errors.As(err, &conflict) && conflict.Expected == rune(parser.EOD) {
		// The parser read a complete filter or path and then found more text.
		if _, col := conflict.Conflict.Position(); col > 0 && col < utf8.RuneCountInString(parsed) {
			runes := []rune(parsed)
			return scimerror.BadRequest(scimType, "invalid %s %q: %q is a complete %s but %q follows it (parser: %v)",
				what, original, string(runes[:col]), what, string(runes[col:]), err)
		}
	}
	return scimerror.BadRequest(scimType, "invalid %s %q: %v; %s", what, original, err, examples[what])
}

var examples = map[string]string{
	"filter":       `a filter compares attributes with values, as in userName eq "bjensen" and not (emails[type eq "work"])`,
	"value filter": `a value filter compares sub-attributes with values, as in emails[type eq "work" and value co "@example.com"]`,
	"path":         `a path names an attribute, as in name.givenName, members[value eq "a-1"] or emails[type eq "work"].value`,
	"sortBy":       `sortBy names an attribute, as in userName or name.familyName`,
}
