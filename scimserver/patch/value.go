package patch

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// This file turns the values of a request into values of the schema's attributes: checked against
// the attribute's type, with the keys of complex values in the schema's case. Every value returned
// is newly made, so that documents never share maps or slices with the Request.

func invalidValue(format string, args ...any) *scimerror.Error {
	return scimerror.BadRequest(scimerror.InvalidValue, format, args...)
}

// value returns v as a value of attr, named n in messages. JSON null stays nil, meaning the
// attribute is to be unassigned.
func (p *patcher) value(attr *schema.Attribute, n string, v any) (any, error) {
	switch {
	case v == nil:
		return nil, nil
	case attr.MultiValued:
		return p.values(attr, n, v)
	case attr.Type == schema.Complex:
		return p.complexValue(attr, n, v)
	}
	return p.simpleValue(attr, n, v)
}

// values returns v as the values of the multi-valued attribute attr. It is never nil.
func (p *patcher) values(attr *schema.Attribute, n string, v any) ([]any, error) {
	list, ok := v.([]any)
	if !ok {
		if !p.opts.ValueShorthand {
			return nil, invalidValue("%s is multi-valued: its value must be an array, not %s", n, schema.Describe(v))
		}
		list = []any{v}
	}
	out := make([]any, 0, len(list))
	for i, element := range list {
		en := fmt.Sprintf("%s[%d]", n, i)
		var value any
		var err error
		switch {
		case element == nil:
			err = invalidValue("%s must not be null", en)
		case attr.Type == schema.Complex:
			value, err = p.complexValue(attr, en, element)
		default:
			value, err = p.simpleValue(attr, en, element)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, value)
	}
	return out, nil
}

// complexValue returns v as a value of the complex attribute attr: an object whose keys are
// sub-attributes of attr, in any case. A null sub-attribute stays, as nil, to unassign it when
// merged into the current value.
func (p *patcher) complexValue(attr *schema.Attribute, n string, v any) (map[string]any, error) {
	if _, isObject := v.(map[string]any); !isObject && p.opts.ValueShorthand && attr.SubAttribute("value") != nil {
		v = map[string]any{"value": v}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, invalidValue("%s must be an object with the sub-attributes %s, not %s", n, subNames(attr), schema.Describe(v))
	}
	out := make(map[string]any, len(obj))
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		sub := p.subAttribute(attr, key)
		if sub == nil && obj[key] == nil {
			continue // a null is no value: Entra sends "$ref": null in members
		}
		if sub == nil {
			return nil, invalidValue("%s has no sub-attribute %q; its sub-attributes are %s", n, key, subNames(attr))
		}
		if _, dup := out[sub.Name]; dup {
			return nil, invalidValue("%s has %s more than once (names are case-insensitive)", n, sub.Name)
		}
		value, err := p.value(sub, n+"."+sub.Name, obj[key])
		if err != nil {
			return nil, err
		}
		out[sub.Name] = value
	}
	return out, nil
}

// subAttribute returns attr's sub-attribute named key, case-insensitively, or nil.
func (p *patcher) subAttribute(attr *schema.Attribute, key string) *schema.Attribute {
	if sub := attr.SubAttribute(key); sub != nil {
		return sub
	}
	if p.opts.DisplayNameAlias && strings.EqualFold(key, "displayName") {
		return attr.SubAttribute("display")
	}
	return nil
}

func subNames(attr *schema.Attribute) string {
	names := make([]string, len(attr.SubAttributes))
	for i, sub := range attr.SubAttributes {
		names[i] = sub.Name
	}
	return strings.Join(names, ", ")
}

// simpleValue returns v as a value of the simple attribute attr, checked as POST and PUT bodies are.
func (p *patcher) simpleValue(attr *schema.Attribute, n string, v any) (any, error) {
	return schema.SimpleValue(attr, n, v, p.opts.Decoding)
}
