package patch

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"unicode/utf8"
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
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	}
	return 0, false
}

// describe renders a JSON value for messages, with its type.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if utf8.RuneCountInString(v) > 64 {
			v = string([]rune(v)[:64]) + "…"
		}
		return fmt.Sprintf("the string %q", v)
	case bool:
		return fmt.Sprintf("the boolean %t", v)
	case json.Number, float64:
		return fmt.Sprintf("the number %v", v)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("a %T", v)
}
