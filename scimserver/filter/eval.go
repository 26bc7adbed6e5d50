package filter

import (
	"cmp"
	"strings"
	"time"

	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/scim-operator/scim-operator/scimserver/schema"
)

// expr is a compiled filter expression. It tests a document, or inside a value filter one value of
// a complex attribute.
type expr interface {
	match(ctx map[string]any) bool
}

// nothing is a comparison of an attribute the resource type does not have: it matches nothing.
type nothing struct{}

func (nothing) match(map[string]any) bool { return false }

// logical is `left and right` or `left or right`.
type logical struct {
	and         bool
	left, right expr
}

func (l *logical) match(ctx map[string]any) bool {
	if l.and {
		return l.left.match(ctx) && l.right.match(ctx)
	}
	return l.left.match(ctx) || l.right.match(ctx)
}

// negation is `not (operand)`.
type negation struct{ operand expr }

func (n *negation) match(ctx map[string]any) bool { return !n.operand.match(ctx) }

// valueSelection is a value path `attr[cond]`: it matches when some value of attr matches cond.
type valueSelection struct {
	keys []string
	cond expr
}

func (v *valueSelection) match(ctx map[string]any) bool {
	for _, value := range lookup(ctx, v.keys) {
		if m, ok := value.(map[string]any); ok && v.cond.match(m) {
			return true
		}
	}
	return false
}

// comparison is `attr op operand` or `attr pr`. It matches when any value of attr (any value of a
// multi-valued attribute) satisfies it, except ne, which matches when no value equals the operand,
// so that `not (x eq "v")` and `x ne "v"` agree, also when x is unassigned.
type comparison struct {
	ref attrRef
	op  scimfilter.CompareOperator
	// operand is the value as written: a string, bool or json.Number.
	operand any
	// key is the operand in the form values are compared in (see orderKey); for co, sw and ew a
	// string.
	key any
}

func (c *comparison) match(ctx map[string]any) bool {
	values := lookup(ctx, c.ref.keys)
	switch c.op {
	case scimfilter.PR:
		return anyOf(values, schema.Present)
	case scimfilter.NE:
		return !anyOf(values, func(v any) bool { return c.test(scimfilter.EQ, v) })
	}
	return anyOf(values, func(v any) bool { return c.test(c.op, v) })
}

func anyOf(values []any, f func(any) bool) bool {
	for _, v := range values {
		if f(v) {
			return true
		}
	}
	return false
}

// test compares one value of the attribute with the operand.
func (c *comparison) test(op scimfilter.CompareOperator, value any) bool {
	if isSubstringOp(op) {
		s, ok := value.(string)
		if !ok {
			return false
		}
		s, operand := textKey(c.ref.leaf, s), c.key.(string)
		switch op {
		case scimfilter.CO:
			return strings.Contains(s, operand)
		case scimfilter.SW:
			return strings.HasPrefix(s, operand)
		default:
			return strings.HasSuffix(s, operand)
		}
	}
	k, ok := orderKey(c.ref.leaf, value)
	if !ok {
		return false
	}
	r, ok := compareKeys(k, c.key)
	if !ok {
		return false
	}
	switch op {
	case scimfilter.EQ:
		return r == 0
	case scimfilter.GT:
		return r > 0
	case scimfilter.GE:
		return r >= 0
	case scimfilter.LT:
		return r < 0
	case scimfilter.LE:
		return r <= 0
	}
	return false
}

// textKey is the form co, sw and ew compare a string value in: as is for case-exact attributes and
// dateTimes, lower-cased otherwise.
func textKey(attr *schema.Attribute, s string) string {
	if attr.Type == schema.DateTime {
		return s
	}
	return foldCase(attr, s)
}

// orderKey returns a value of attr in the form it is compared and sorted in: a string (lower-cased
// unless the attribute is case-exact), a float64, a time.Time or a bool. It reports false for a
// value of the wrong JSON type.
func orderKey(attr *schema.Attribute, value any) (any, bool) {
	switch attr.Type {
	case schema.Boolean:
		b, ok := value.(bool)
		return b, ok
	case schema.Integer, schema.Decimal:
		return schema.Number(value)
	case schema.DateTime:
		s, ok := value.(string)
		if !ok {
			return nil, false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		return t, err == nil
	case schema.Complex:
		return nil, false
	}
	s, ok := value.(string)
	if !ok {
		return nil, false
	}
	return foldCase(attr, s), true
}

// compareKeys orders two keys made by orderKey for the same attribute.
func compareKeys(a, b any) (int, bool) {
	switch a := a.(type) {
	case string:
		b, ok := b.(string)
		return strings.Compare(a, b), ok
	case float64:
		b, ok := b.(float64)
		return cmp.Compare(a, b), ok
	case time.Time:
		b, ok := b.(time.Time)
		return a.Compare(b), ok
	case bool:
		b, ok := b.(bool)
		return compareBools(a, b), ok
	}
	return 0, false
}

func compareBools(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1 // false sorts before true
	}
	return 1
}

// lookup returns the values found by following keys from ctx. Arrays met on the way are flattened,
// so the values of a multi-valued attribute, or a sub-attribute of each of them, come back one by
// one. Unassigned (null) values are left out.
func lookup(ctx map[string]any, keys []string) []any {
	values := []any{ctx}
	for _, key := range keys {
		var next []any
		for _, v := range values {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			switch child := m[key].(type) {
			case nil:
			case []any:
				next = append(next, child...)
			default:
				next = append(next, child)
			}
		}
		values = next
	}
	return values
}
