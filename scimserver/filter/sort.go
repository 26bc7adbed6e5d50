package filter

import (
	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// SortKey orders resources by the attribute a sortBy parameter names (RFC 7644 §3.4.2.3).
type SortKey struct {
	// keys lead from the document to the top-level attribute.
	keys []string
	// multiValued is true when the top-level attribute is multi-valued: then its primary value,
	// or else its first, is the one sorted by.
	multiValued bool
	// sub is the sub-attribute sorted by, or "".
	sub  string
	leaf *schema.Attribute
}

// ParseSortKey parses a sortBy attribute path for resources of type rt: a simple attribute
// ("userName", "meta.lastModified", "name.familyName", "emails.value") or a multi-valued complex
// attribute with a value sub-attribute ("emails", meaning "emails.value"). Every error is a 400
// invalidValue *scimerror.Error.
func ParseSortKey(rt *schema.ResourceType, sortBy string) (*SortKey, error) {
	if len(sortBy) > MaxLength {
		return nil, scimerror.BadRequest(scimerror.InvalidValue, "sortBy is %d bytes long; at most %d are accepted", len(sortBy), MaxLength)
	}
	ap, err := scimfilter.ParseAttrPath([]byte(sortBy))
	if err != nil {
		return nil, syntaxError(scimerror.InvalidValue, "sortBy", sortBy, sortBy, err)
	}
	ref, p, err := resolve(rt, ap, scimerror.InvalidValue)
	if err != nil {
		return nil, err
	}
	k := &SortKey{keys: ref.keys, multiValued: p.Attr.MultiValued, leaf: ref.leaf}
	if p.Sub != nil {
		k.keys, k.sub = ref.keys[:len(ref.keys)-1], p.Sub.Name
	}
	if k.leaf.Type != schema.Complex {
		return k, nil
	}
	if value := k.leaf.SubAttribute("value"); value != nil && k.multiValued {
		k.sub, k.leaf = value.Name, value
		return k, nil
	}
	return nil, scimerror.BadRequest(scimerror.InvalidValue, "sortBy %q names a complex attribute; name one of its sub-attributes", sortBy)
}

// Compare orders two documents by the key in ascending order: it returns a negative number when a
// sorts before b, a positive one when after, and 0 when they tie. Strings compare case-insensitively
// unless the attribute is case-exact, dateTimes chronologically, booleans false first. Documents
// without a value sort after those with one; negating the result for descending order puts them
// first.
func (k *SortKey) Compare(a, b map[string]any) int {
	ka, okA := k.value(a)
	kb, okB := k.value(b)
	switch {
	case !okA && !okB:
		return 0
	case !okA:
		return 1
	case !okB:
		return -1
	}
	r, _ := compareKeys(ka, kb)
	return r
}

// value returns the sort value of a document in the form orderKey makes.
func (k *SortKey) value(doc map[string]any) (any, bool) {
	var v any = doc
	for _, key := range k.keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		v = m[key]
	}
	if k.multiValued {
		v = primaryOrFirst(v)
	}
	if k.sub != "" {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		v = m[k.sub]
	}
	return orderKey(k.leaf, v)
}

// primaryOrFirst returns the value of a multi-valued attribute that sorting uses: the one marked
// primary, or else the first.
func primaryOrFirst(v any) any {
	values, ok := v.([]any)
	if !ok || len(values) == 0 {
		return nil
	}
	for _, value := range values {
		if m, ok := value.(map[string]any); ok && m["primary"] == true {
			return value
		}
	}
	return values[0]
}
