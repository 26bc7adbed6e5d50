package schema

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// Decoding describes how lenient Canonicalize is with a client's deviations from RFC 7643. PATCH
// values are decoded with the same Decoding (patch.Options), of which only BooleanStrings concerns
// single values; the other fields are about whole bodies.
type Decoding struct {
	// BooleanStrings accepts "True"/"False" strings (any case) for boolean attributes. Microsoft
	// Entra ID sends `"active": "False"`; the strict generic provider rejects them.
	BooleanStrings bool
	// IgnoredSchemas are schema URNs accepted in "schemas" and otherwise ignored. Entra ID's
	// documented Create Group body lists Microsoft's own ADSCIM Group schema.
	IgnoredSchemas []string
	// IgnoreUnknownAttributes drops top-level attributes no schema defines instead of rejecting
	// them. Microsoft's SCIM test collection expects a misspelled attribute to be ignored.
	IgnoreUnknownAttributes bool
}

// MicrosoftEntra returns the Decoding for Microsoft Entra ID (formerly Azure AD) and Microsoft's SCIM
// test collection: every tolerance enabled. It is the one place the Entra tolerances for values are
// switched on: POST and PUT bodies and PATCH values (patch.MicrosoftEntra) both use it.
func MicrosoftEntra() Decoding {
	return Decoding{
		BooleanStrings:          true,
		IgnoredSchemas:          []string{"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"},
		IgnoreUnknownAttributes: true,
	}
}

// ignoredAttributes are attributes a client may send that this server never stores, dropped
// silently rather than rejected: passwords (Okta sends one when password sync is on) are never kept.
var ignoredAttributes = map[string]bool{"password": true}

// Canonicalize validates a resource body of resource type rt and returns it with every attribute
// name in its schema's canonical case, enterprise-extension attributes nested under the extension's
// URN. Attribute names are case-insensitive (RFC 7643 §2.1), "schemas" included. Read-only attributes
// (id, meta, groups, …) are dropped, as RFC 7644 §3.3 says they are ignored; null values are dropped.
// An unknown attribute, an unknown schema URN or a value of the wrong JSON type is a 400 error naming
// the attribute.
func Canonicalize(rt *ResourceType, body map[string]any, dec Decoding) (map[string]any, error) {
	out := map[string]any{}
	for key, value := range body {
		if value == nil {
			continue
		}
		if strings.EqualFold(key, "schemas") {
			schemas, err := canonicalSchemas(rt, value, dec)
			if err != nil {
				return nil, err
			}
			out["schemas"] = schemas
			continue
		}
		if ext := rt.Extension(key); ext != nil {
			obj, ok := value.(map[string]any)
			if !ok {
				return nil, scimerror.BadRequest(scimerror.InvalidValue, "%s must be an object", ext.ID)
			}
			// A "schemas" member naming the extension itself is ignored, as PATCH ignores it.
			obj = maps.Clone(obj)
			maps.DeleteFunc(obj, func(k string, _ any) bool { return strings.EqualFold(k, "schemas") })
			extOut, err := canonicalAttributes(ext.Attributes, ext.ID+":", obj, dec)
			if err != nil {
				return nil, err
			}
			if _, dup := out[ext.ID]; dup {
				return nil, errDuplicate(ext.ID)
			}
			if len(extOut) > 0 {
				out[ext.ID] = extOut
			}
			continue
		}
		if strings.HasPrefix(strings.ToLower(key), "urn:") {
			// "urn:…:User:userName" and "urn:…:enterprise:2.0:User:department" are qualified names.
			p, ok := rt.Resolve(key)
			if !ok || p.Sub != nil {
				return nil, scimerror.BadRequest(scimerror.InvalidValue, "unknown schema or attribute %q", key)
			}
			if err := setCanonical(rt, out, p, value, dec); err != nil {
				return nil, err
			}
			continue
		}
		if ignoredAttributes[strings.ToLower(key)] {
			continue
		}
		p, ok := rt.Resolve(key)
		if !ok && dec.IgnoreUnknownAttributes {
			continue
		}
		if !ok || p.Sub != nil {
			return nil, scimerror.BadRequest(scimerror.InvalidValue, "unknown attribute %q for %s", key, rt.Name)
		}
		if err := setCanonical(rt, out, p, value, dec); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func setCanonical(rt *ResourceType, out map[string]any, p Path, value any, dec Decoding) error {
	if p.Attr.Mutability == ReadOnly {
		return nil
	}
	v, err := canonicalValue(p.Attr, p.Attr.Name, value, dec)
	if err != nil || v == nil {
		return err
	}
	target := out
	if p.Extension(rt) {
		ext, _ := out[p.Schema.ID].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			out[p.Schema.ID] = ext
		}
		target = ext
	}
	if _, dup := target[p.Attr.Name]; dup {
		return errDuplicate(p.Attr.Name)
	}
	target[p.Attr.Name] = v
	return nil
}

func canonicalSchemas(rt *ResourceType, value any, dec Decoding) ([]any, error) {
	list, ok := value.([]any)
	if !ok {
		return nil, scimerror.BadRequest(scimerror.InvalidValue, "schemas must be an array of schema URNs")
	}
	out := make([]any, 0, len(list))
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			return nil, scimerror.BadRequest(scimerror.InvalidValue, "schemas must be an array of schema URNs")
		}
		if slices.ContainsFunc(dec.IgnoredSchemas, func(ignored string) bool { return strings.EqualFold(ignored, s) }) {
			continue
		}
		known := false
		for _, sc := range rt.Schemas() {
			if strings.EqualFold(s, sc.ID) {
				out, known = append(out, sc.ID), true
				break
			}
		}
		if !known {
			return nil, scimerror.BadRequest(scimerror.InvalidValue, "unknown schema %q for %s: supported are %s",
				s, rt.Name, strings.Join(schemaIDs(rt), ", "))
		}
	}
	return out, nil
}

func schemaIDs(rt *ResourceType) []string {
	var ids []string
	for _, s := range rt.Schemas() {
		ids = append(ids, s.ID)
	}
	return ids
}

func canonicalAttributes(attrs []*Attribute, prefix string, obj map[string]any, dec Decoding) (map[string]any, error) {
	out := map[string]any{}
	for key, value := range obj {
		if value == nil {
			continue
		}
		a := find(attrs, key)
		if a == nil {
			return nil, scimerror.BadRequest(scimerror.InvalidValue, "unknown attribute %q", prefix+key)
		}
		if a.Mutability == ReadOnly {
			continue
		}
		v, err := canonicalValue(a, prefix+a.Name, value, dec)
		if err != nil {
			return nil, err
		}
		if _, dup := out[a.Name]; dup {
			return nil, errDuplicate(prefix + a.Name)
		}
		if v != nil {
			out[a.Name] = v
		}
	}
	return out, nil
}

// canonicalValue validates value against attribute a (named name in errors) and returns it with the
// names of its sub-attributes in canonical case. It returns nil for a null value.
func canonicalValue(a *Attribute, name string, value any, dec Decoding) (any, error) {
	if value == nil {
		return nil, nil
	}
	if a.MultiValued {
		list, ok := value.([]any)
		if !ok {
			return nil, invalidValue("%s is multi-valued: its value must be an array, not %s", name, Describe(value))
		}
		out := make([]any, 0, len(list))
		seen := make(map[string]bool, len(list))
		for i, item := range list {
			v, err := singleValue(a, fmt.Sprintf("%s[%d]", name, i), item, dec)
			if err != nil {
				return nil, err
			}
			if v == nil {
				continue
			}
			// Exact duplicates are folded into one (RFC 7643 §2.4: a value appears once).
			// encoding/json writes map keys sorted, so equal values encode alike.
			key, _ := json.Marshal(v)
			if seen[string(key)] {
				continue
			}
			seen[string(key)] = true
			out = append(out, v)
		}
		return out, onePrimary(a, name, out)
	}
	return singleValue(a, name, value, dec)
}

// onePrimary enforces RFC 7643 §2.4's "the primary attribute value true MUST appear no more than
// once" on the values of a multi-valued attribute a.
func onePrimary(a *Attribute, name string, values []any) error {
	if a.SubAttribute("primary") == nil {
		return nil
	}
	primaries := 0
	for _, v := range values {
		if m, ok := v.(map[string]any); ok && m["primary"] == true {
			primaries++
		}
	}
	if primaries > 1 {
		return invalidValue("at most one value of %s may be primary: %d are", name, primaries)
	}
	return nil
}

// singleValue validates one value of attribute a: for a multi-valued attribute, one element.
func singleValue(a *Attribute, name string, value any, dec Decoding) (any, error) {
	if a.Type != Complex {
		return SimpleValue(a, name, value, dec)
	}
	obj, ok := value.(map[string]any)
	if !ok {
		return nil, invalidValue("%s must be an object, not %s", name, Describe(value))
	}
	return canonicalAttributes(a.SubAttributes, name+".", obj, dec)
}

// errDuplicate is the error for an attribute given twice under names that differ only in case.
func errDuplicate(name string) error {
	return scimerror.BadRequest(scimerror.InvalidSyntax, "attribute %q is given more than once (names are case-insensitive)", name)
}
