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

// assigned reports whether a value is assigned: unassigned are null, and arrays and objects that
// hold no assigned value (RFC 7643 §2.5).
func assigned(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case []any:
		for _, sub := range v {
			if assigned(sub) {
				return true
			}
		}
		return false
	case map[string]any:
		for _, sub := range v {
			if assigned(sub) {
				return true
			}
		}
		return false
	}
	return true
}

// equivalent reports whether two JSON values are equal in state (RFC 7643 §2.5): unassigned values
// equal each other whatever their form, members holding unassigned values equal absent ones, and
// numbers compare by value whether float64 or json.Number.
func equivalent(a, b any) bool {
	if !assigned(a) || !assigned(b) {
		return !assigned(a) && !assigned(b)
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
			if _, ok := a[k]; !ok && assigned(v) {
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
