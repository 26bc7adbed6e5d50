package schema

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// This file is the SCIM value model: how a JSON value is checked against an attribute's data type
// (RFC 7643 §2.3), and the questions filter, patch and the server ask of JSON values. A value is
// what encoding/json produces: string, bool, float64 or json.Number, []any, map[string]any, nil.
// POST and PUT bodies (Canonicalize) and PATCH values (package patch) are checked by SimpleValue
// alike, so that a value one accepts the other accepts too.

// SimpleValue returns v as a value of the simple attribute a, named name in messages: a boolean
// (with dec.BooleanStrings also "true" or "false" in any case), a number (for an integer a whole
// one), a dateTime string (RFC 3339, as xsd:dateTime is), or a string for string, reference and
// binary attributes. A value of the wrong type is a 400 invalidValue naming the attribute.
func SimpleValue(a *Attribute, name string, v any, dec Decoding) (any, error) {
	switch a.Type {
	case Boolean:
		return booleanValue(name, v, dec)
	case Integer, Decimal:
		f, ok := Number(v)
		if !ok || (a.Type == Integer && f != float64(int64(f))) {
			return nil, invalidValue("%s must be %s number, not %s", name, article(a.Type), Describe(v))
		}
		return v, nil
	case DateTime:
		s, ok := v.(string)
		if _, err := time.Parse(time.RFC3339Nano, s); !ok || err != nil {
			return nil, invalidValue("%s must be a dateTime string such as \"2011-05-13T04:42:34Z\", not %s", name, Describe(v))
		}
		return s, nil
	case Complex:
		return nil, invalidValue("%s is complex and cannot be set here", name)
	}
	s, ok := v.(string)
	if !ok {
		return nil, invalidValue("%s must be a string, not %s", name, Describe(v))
	}
	return s, nil
}

func invalidValue(format string, args ...any) *scimerror.Error {
	return scimerror.BadRequest(scimerror.InvalidValue, format, args...)
}

func article(t Type) string {
	if t == Integer {
		return "an integer"
	}
	return "a decimal"
}

// booleanValue accepts a JSON boolean and, with dec.BooleanStrings, "true" or "false" in any case.
func booleanValue(name string, v any, dec Decoding) (any, error) {
	if b, ok := v.(bool); ok {
		return b, nil
	}
	if s, ok := v.(string); ok && dec.BooleanStrings {
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return nil, invalidValue("%s must be a boolean (true or false), not %s", name, Describe(v))
}

// Describe renders a JSON value for messages, with its type: `the string "x"`, `the number 5`,
// `an object`. Long strings are cut, so that a message never repeats a whole request.
func Describe(v any) string {
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

// Number returns a number as a float64, whether encoding/json decoded it as float64 or
// json.Number, or Go code put an int in a document.
func Number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// Assigned reports whether a value is assigned (RFC 7643 §2.5): null is unassigned, and so are
// arrays and complex values that hold no assigned value. PATCH drops what is unassigned.
func Assigned(v any) bool { return holdsValue(v, false) }

// Present reports whether a value is present as the filter operator pr means it (RFC 7644
// §3.4.2.2): assigned and not the empty string, and for arrays and complex values, holding a
// present value.
func Present(v any) bool { return holdsValue(v, true) }

func holdsValue(v any, nonEmpty bool) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return !nonEmpty || v != ""
	case []any:
		for _, sub := range v {
			if holdsValue(sub, nonEmpty) {
				return true
			}
		}
		return false
	case map[string]any:
		for _, sub := range v {
			if holdsValue(sub, nonEmpty) {
				return true
			}
		}
		return false
	}
	return true
}
