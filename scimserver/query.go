package scimserver

import (
	"cmp"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/scim-operator/scim-operator/scimserver/filter"
	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
	"github.com/scim-operator/scim-operator/scimserver/store"
)

// query is a list or read request's parameters (RFC 7644 §3.4.2), from the URL or a SearchRequest.
type query struct {
	rt         *schema.ResourceType
	filter     *filter.Filter
	sort       *filter.SortKey
	descending bool
	startIndex int
	count      int
	attributes []*filter.Path
	excluded   []*filter.Path
}

// queryParams are the parameters as strings, whichever way they came.
type queryParams struct {
	filter, sortBy, sortOrder, startIndex, count string
	attributes, excluded                         []string
}

func queryFromURL(rt *schema.ResourceType, v url.Values, maxResults int, fo filter.Options) (*query, error) {
	p := queryParams{filter: v.Get("filter"), sortBy: v.Get("sortBy"), sortOrder: v.Get("sortOrder"),
		startIndex: v.Get("startIndex"), count: v.Get("count"),
		attributes: splitList(v.Get("attributes")), excluded: splitList(v.Get("excludedAttributes"))}
	return p.parse(rt, maxResults, fo)
}

func queryFromSearch(rt *schema.ResourceType, body map[string]any, maxResults int, fo filter.Options) (*query, error) {
	p := queryParams{}
	hasSchema := false
	for k, v := range body {
		key := strings.ToLower(k)
		switch key {
		case "schemas":
			list, _ := v.([]any)
			if len(list) != 1 || !strings.EqualFold(toString(list[0]), schema.SearchRequestURN) {
				return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "schemas must be [%q]", schema.SearchRequestURN)
			}
			hasSchema = true
			continue
		case "attributes", "excludedattributes":
			list := toStrings(v)
			if list == nil && v != nil {
				return nil, scimerror.BadRequest(scimerror.InvalidValue, "%s must be an array of attribute paths", k)
			}
			if key == "attributes" {
				p.attributes = list
			} else {
				p.excluded = list
			}
			continue
		}
		value := toString(v)
		if value == "" && v != nil && v != "" {
			return nil, scimerror.BadRequest(scimerror.InvalidValue, "%s must be a string or a whole number", k)
		}
		switch key {
		case "filter":
			p.filter = value
		case "sortby":
			p.sortBy = value
		case "sortorder":
			p.sortOrder = value
		case "startindex":
			p.startIndex = value
		case "count":
			p.count = value
		default:
			return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "unknown SearchRequest attribute %q", k)
		}
	}
	if !hasSchema {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "schemas must be [%q]", schema.SearchRequestURN)
	}
	return p.parse(rt, maxResults, fo)
}

func (p queryParams) parse(rt *schema.ResourceType, maxResults int, fo filter.Options) (*query, error) {
	q := &query{rt: rt, startIndex: 1, count: maxResults}
	var err error
	if p.filter != "" {
		if q.filter, err = fo.Parse(rt, p.filter); err != nil {
			return nil, err
		}
	}
	if p.sortBy != "" {
		if q.sort, err = filter.ParseSortKey(rt, p.sortBy); err != nil {
			return nil, err
		}
	}
	switch strings.ToLower(p.sortOrder) {
	case "", "ascending":
	case "descending":
		q.descending = true
	default:
		return nil, scimerror.BadRequest(scimerror.InvalidValue, "sortOrder must be ascending or descending, not %q", p.sortOrder)
	}
	// startIndex < 1 is read as 1 (RFC 7644 §3.4.2.4; StrongDM's examples send 0); a negative count
	// as 0; a count above the limit is capped to it.
	if p.startIndex != "" {
		n, err := strconv.Atoi(p.startIndex)
		if err != nil {
			return nil, scimerror.BadRequest(scimerror.InvalidValue, "startIndex must be an integer, not %q", p.startIndex)
		}
		q.startIndex = max(n, 1)
	}
	if p.count != "" {
		n, err := strconv.ParseInt(p.count, 10, 64)
		if err != nil {
			return nil, scimerror.BadRequest(scimerror.InvalidValue, "count must be an integer, not %q", p.count)
		}
		q.count = int(min(max(n, 0), int64(maxResults)))
	}
	if q.attributes, err = resolvePaths(rt, "attributes", p.attributes); err != nil {
		return nil, err
	}
	if q.excluded, err = resolvePaths(rt, "excludedAttributes", p.excluded); err != nil {
		return nil, err
	}
	return q, nil
}

// resolvePaths parses the attribute paths of attributes or excludedAttributes; a path may carry a
// value filter (`emails[type eq "work"]`), as Microsoft's test collection sends.
func resolvePaths(rt *schema.ResourceType, param string, names []string) ([]*filter.Path, error) {
	var out []*filter.Path
	for _, n := range names {
		p, err := filter.ParsePath(rt, n)
		if err != nil {
			if e := scimerror.As(err); e != nil {
				e.Detail = param + ": " + e.Detail
			}
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (q *query) sortResources(list []*store.Resource) {
	sort.SliceStable(list, func(i, j int) bool {
		c := q.sort.Compare(list[i].Doc, list[j].Doc)
		if q.descending {
			c = -c
		}
		return c < 0
	})
}

// project applies attributes / excludedAttributes (RFC 7644 §3.4.2.5) to a document. Attributes
// returned "always" (id, schemas, userName) stay whatever is asked.
func (q *query) project(doc map[string]any) map[string]any {
	if q == nil || (len(q.attributes) == 0 && len(q.excluded) == 0) {
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
		for k, v := range doc {
			out[k] = v
		}
		for _, p := range q.excluded {
			if p.Leaf().Returned != schema.ReturnedAlways || p.Filter != nil {
				removePath(q.rt, out, p)
			}
		}
	}
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

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

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

func removePath(rt *schema.ResourceType, doc map[string]any, p *filter.Path) {
	c := p.Container(rt, doc, false)
	if c == nil {
		return
	}
	if p.Filter != nil && p.Sub == nil {
		c[p.Attr.Name] = selectValues(c[p.Attr.Name], p.Filter, false)
		return
	}
	if p.Sub == nil {
		delete(c, p.Attr.Name)
		return
	}
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

// splitList splits a comma-separated list of attribute paths, leaving commas inside value filters
// and quoted strings alone.
func splitList(s string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	flush := func(end int) {
		if part := strings.TrimSpace(s[start:end]); part != "" {
			out = append(out, part)
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '[' && !quoted:
			depth++
		case c == ']' && !quoted && depth > 0:
			depth--
		case c == ',' && !quoted && depth == 0:
			flush(i)
			start = i + 1
		}
	}
	flush(len(s))
	return out
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatInt(int64(x), 10)
	case nil:
		return ""
	}
	return ""
}

func toStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return splitList(x)
	case []any:
		var out []string
		for _, item := range x {
			if s, ok := item.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
