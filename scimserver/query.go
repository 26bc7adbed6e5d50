package scimserver

import (
	"net/url"
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
	// rt is the resource type the filter and the paths were resolved against.
	rt *schema.ResourceType
	// filter is nil when every resource matches.
	filter *filter.Filter
	// sort is nil when the list keeps the store's id order.
	sort       *filter.SortKey
	descending bool
	// startIndex is 1-based and at least 1; count is at most the server's maxResults.
	startIndex int
	count      int
	// attributes and excluded are the projection's paths; given both, attributes wins.
	attributes []*filter.Path
	excluded   []*filter.Path
}

// queryParams are the parameters as strings, whichever way they came.
type queryParams struct {
	filter, sortBy, sortOrder, startIndex, count string
	attributes, excluded                         []string
}

// queryFromURL reads the parameters of a request's URL. maxResults bounds count; fo are the
// provider's filter options.
func queryFromURL(rt *schema.ResourceType, v url.Values, maxResults int, fo filter.Options) (*query, error) {
	return paramsFromURL(v).parse(rt, maxResults, fo)
}

// paramsFromURL reads the query parameters of a URL.
func paramsFromURL(v url.Values) queryParams {
	return queryParams{filter: v.Get("filter"), sortBy: v.Get("sortBy"), sortOrder: v.Get("sortOrder"),
		startIndex: v.Get("startIndex"), count: v.Get("count"),
		attributes: splitList(v.Get("attributes")), excluded: splitList(v.Get("excludedAttributes"))}
}

// queryFromSearch reads a SearchRequest body (RFC 7644 §3.4.3): attribute names in any case,
// schemas exactly [SearchRequest], and no attribute the request does not define.
func queryFromSearch(rt *schema.ResourceType, body map[string]any, maxResults int, fo filter.Options) (*query, error) {
	p, err := paramsFromSearch(body)
	if err != nil {
		return nil, err
	}
	return p.parse(rt, maxResults, fo)
}

// paramsFromSearch reads the parameters of a SearchRequest body.
func paramsFromSearch(body map[string]any) (queryParams, error) {
	p := queryParams{}
	hasSchema := false
	for k, v := range body {
		key := strings.ToLower(k)
		switch key {
		case "schemas":
			list, _ := v.([]any)
			if len(list) != 1 || !strings.EqualFold(toString(list[0]), schema.SearchRequestURN) {
				return p, scimerror.BadRequest(scimerror.InvalidSyntax, "schemas must be [%q]", schema.SearchRequestURN)
			}
			hasSchema = true
			continue
		case "attributes", "excludedattributes":
			list := toStrings(v)
			if list == nil && v != nil {
				return p, scimerror.BadRequest(scimerror.InvalidValue, "%s must be an array of attribute paths", k)
			}
			if key == "attributes" {
				p.attributes = list
			} else {
				p.excluded = list
			}
			continue
		}
		// JSON clients send startIndex and count as numbers; the other parameters are strings.
		value := toString(v)
		if value == "" && v != nil && v != "" {
			return p, scimerror.BadRequest(scimerror.InvalidValue, "%s must be a string or a whole number", k)
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
			return p, scimerror.BadRequest(scimerror.InvalidSyntax, "unknown SearchRequest attribute %q", k)
		}
	}
	if !hasSchema {
		return p, scimerror.BadRequest(scimerror.InvalidSyntax, "schemas must be [%q]", schema.SearchRequestURN)
	}
	return p, nil
}

// toString returns a SearchRequest string as it is, a number as its integer part, anything else as "".
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

// toStrings returns a SearchRequest's attribute paths, sent as an array of strings or as one
// comma-separated string; nil for any other value.
func toStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return append([]string{}, splitList(x)...)
	case []any:
		out := []string{} // an empty array is no restriction, not a malformed one
		for _, item := range x {
			if s, ok := item.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// parse resolves the parameters against rt: the filter, sort key and attribute paths are parsed,
// the paging numbers read and bounded. Any invalid one is a 400 naming it.
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

// sortResources orders list by the sort key, stably: resources with equal keys keep id order.
func (q *query) sortResources(list []*store.Resource) {
	sort.SliceStable(list, func(i, j int) bool {
		c := q.sort.Compare(list[i].Doc, list[j].Doc)
		if q.descending {
			c = -c
		}
		return c < 0
	})
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
			i++ // an escaped character, a quote included, stays inside the string
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
