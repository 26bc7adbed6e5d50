package patch

import (
	"reflect"

	"github.com/scim-operator/scim-operator/scimserver/schema"
)

// This file holds the operations on JSON documents that do not depend on a schema.

// deepCopy copies the maps and slices of a JSON document; other values are immutable.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, sub := range v {
			m[k] = deepCopy(sub)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, sub := range v {
			s[i] = deepCopy(sub)
		}
		return s
	}
	return v
}

// equivalent reports whether two JSON values are equal in state (RFC 7643 §2.5): unassigned values
// equal each other whatever their form, members holding unassigned values equal absent ones, and
// numbers compare by value whether float64 or json.Number.
func equivalent(a, b any) bool {
	if !schema.Assigned(a) || !schema.Assigned(b) {
		return !schema.Assigned(a) && !schema.Assigned(b)
	}
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range a {
			if !equivalent(v, bm[k]) {
				return false
			}
		}
		for k, v := range bm {
			if _, ok := a[k]; !ok && schema.Assigned(v) {
				return false
			}
		}
		return true
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return false
		}
		for i := range a {
			if !equivalent(a[i], bs[i]) {
				return false
			}
		}
		return true
	}
	if x, ok := schema.Number(a); ok {
		y, ok := schema.Number(b)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}
