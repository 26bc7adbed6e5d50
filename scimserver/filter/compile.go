package filter

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// compiler turns the parser's syntax tree into an expr resolved against a resource type, checking
// every attribute name and every operator against the attribute's type.
type compiler struct {
	rt *schema.ResourceType
	// valueFilters are the bracketed value filters parsed on their own, which placeholders in the
	// tree stand for (see extractValueFilters); nil when the tree has none.
	valueFilters []scimfilter.Expression
	comparisons  int
	// missingMatchNothing compiles a comparison of an attribute rt lacks to one that matches
	// nothing (Options.MissingAttributesMatchNothing).
	missingMatchNothing bool
}

func invalidFilter(format string, args ...any) *scimerror.Error {
	return scimerror.BadRequest(scimerror.InvalidFilter, format, args...)
}

func (c *compiler) compile(e scimfilter.Expression) (expr, error) { return c.expr(e, nil) }

// expr compiles e. scope is nil at the top level and the complex attribute whose values e tests
// inside a value filter.
func (c *compiler) expr(e scimfilter.Expression, scope *schema.Attribute) (expr, error) {
	switch e := e.(type) {
	case *scimfilter.LogicalExpression:
		return c.logical(e, scope)
	case *scimfilter.NotExpression:
		if e == nil || e.Expression == nil {
			break
		}
		operand, err := c.expr(e.Expression, scope)
		if err != nil {
			return nil, err
		}
		return &negation{operand: operand}, nil
	case *scimfilter.AttributeExpression:
		if e != nil {
			return c.comparison(e, scope)
		}
	case *scimfilter.ValuePath:
		if e != nil {
			return c.valuePath(e, scope)
		}
	}
	return nil, invalidFilter("unsupported filter expression %v", e)
}

func (c *compiler) logical(e *scimfilter.LogicalExpression, scope *schema.Attribute) (expr, error) {
	if e == nil || e.Left == nil || e.Right == nil {
		return nil, invalidFilter("incomplete logical expression")
	}
	left, err := c.expr(e.Left, scope)
	if err != nil {
		return nil, err
	}
	right, err := c.expr(e.Right, scope)
	if err != nil {
		return nil, err
	}
	return &logical{and: e.Operator == scimfilter.AND, left: left, right: right}, nil
}

// attrRef is an attribute path resolved to the keys that lead to it in a document.
type attrRef struct {
	// name is the canonical path, for messages.
	name string
	// keys lead from the document (or, in a value filter, from one value) to the attribute.
	keys []string
	// leaf is the attribute the path ends at; parent is its complex parent, or nil.
	leaf, parent *schema.Attribute
}

// resolve resolves an attribute path at the top level of a resource type. Unknown names are 400s of
// the given scimType.
func resolve(rt *schema.ResourceType, ap scimfilter.AttributePath, scimType string) (attrRef, schema.Path, error) {
	written := ap.String()
	p, ok := rt.Resolve(written)
	if !ok {
		return attrRef{}, schema.Path{}, scimerror.BadRequest(scimType, "unknown attribute %q: resource type %s has no such attribute", written, rt.Name)
	}
	ref := attrRef{name: p.Attr.Name, keys: []string{p.Attr.Name}, leaf: p.Attr}
	if p.Extension(rt) {
		ref.name = p.Schema.ID + ":" + ref.name
		ref.keys = []string{p.Schema.ID, p.Attr.Name}
	}
	if p.Sub != nil {
		ref = ref.child(p.Sub)
	}
	return ref, p, nil
}

func (r attrRef) child(sub *schema.Attribute) attrRef {
	return attrRef{name: r.name + "." + sub.Name, keys: append(append([]string(nil), r.keys...), sub.Name), leaf: sub, parent: r.leaf}
}

// resolveIn resolves an attribute path inside a value filter of scope, where names are
// sub-attributes of scope.
func resolveIn(scope *schema.Attribute, ap scimfilter.AttributePath) (attrRef, error) {
	sub := scope.SubAttribute(ap.AttributeName)
	if ap.URIPrefix != nil || ap.SubAttribute != nil || sub == nil {
		return attrRef{}, invalidFilter("unknown sub-attribute %q in a value filter of %s", ap.String(), scope.Name)
	}
	return attrRef{name: scope.Name + "." + sub.Name, keys: []string{sub.Name}, leaf: sub, parent: scope}, nil
}

func (c *compiler) ref(ap scimfilter.AttributePath, scope *schema.Attribute) (attrRef, error) {
	if scope != nil {
		return resolveIn(scope, ap)
	}
	ref, _, err := resolve(c.rt, ap, scimerror.InvalidFilter)
	return ref, err
}

func (c *compiler) comparison(e *scimfilter.AttributeExpression, scope *schema.Attribute) (expr, error) {
	if c.comparisons++; c.comparisons > MaxExpressions {
		return nil, invalidFilter("filter combines more than %d expressions", MaxExpressions)
	}
	ref, err := c.ref(e.AttributePath, scope)
	if err != nil && scope == nil && c.missingMatchNothing {
		return nothing{}, nil
	}
	if err != nil {
		return nil, err
	}
	if e.Operator == scimfilter.PR {
		return &comparison{ref: ref, op: scimfilter.PR}, nil
	}
	if ref, err = comparable(ref); err != nil {
		return nil, err
	}
	if e.CompareValue == nil {
		return nullComparison(ref, e.Operator)
	}
	return newComparison(ref, e.Operator, e.CompareValue)
}

// comparable returns the attribute a comparison of ref compares: ref itself, or for a multi-valued
// complex attribute its "value" sub-attribute (`emails eq "x"` means `emails.value eq "x"`).
func comparable(ref attrRef) (attrRef, error) {
	if ref.leaf.Type != schema.Complex {
		return ref, nil
	}
	if value := ref.leaf.SubAttribute("value"); ref.leaf.MultiValued && value != nil {
		return ref.child(value), nil
	}
	example := ""
	if len(ref.leaf.SubAttributes) > 0 {
		example = ", such as " + ref.name + "." + ref.leaf.SubAttributes[0].Name
	}
	return attrRef{}, invalidFilter("%s is a complex attribute and cannot be compared; compare one of its sub-attributes%s", ref.name, example)
}

// nullComparison compiles `x eq null` (x is unassigned) and `x ne null` (x is present).
func nullComparison(ref attrRef, op scimfilter.CompareOperator) (expr, error) {
	present := &comparison{ref: ref, op: scimfilter.PR}
	switch op {
	case scimfilter.EQ:
		return &negation{operand: present}, nil
	case scimfilter.NE:
		return present, nil
	}
	return nil, invalidFilter("%s %s null: only eq and ne compare with null", ref.name, op)
}

func newComparison(ref attrRef, op scimfilter.CompareOperator, value any) (expr, error) {
	c := &comparison{ref: ref, op: op}
	var err error
	switch ref.leaf.Type {
	case schema.Boolean:
		err = c.booleanOperand(value)
	case schema.Integer, schema.Decimal:
		err = c.numberOperand(value)
	case schema.DateTime:
		err = c.dateTimeOperand(value)
	default:
		err = c.stringOperand(value)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func isSubstringOp(op scimfilter.CompareOperator) bool {
	return op == scimfilter.CO || op == scimfilter.SW || op == scimfilter.EW
}

func isOrderingOp(op scimfilter.CompareOperator) bool {
	return op == scimfilter.GT || op == scimfilter.GE || op == scimfilter.LT || op == scimfilter.LE
}

func (c *comparison) booleanOperand(value any) error {
	if c.op != scimfilter.EQ && c.op != scimfilter.NE {
		return invalidFilter("%s is a boolean attribute: it supports only eq, ne and pr, not %s", c.ref.name, c.op)
	}
	b, ok := value.(bool)
	if !ok {
		return invalidFilter("%s is a boolean attribute: compare it with true or false, not %v", c.ref.name, literal(value))
	}
	c.operand, c.key = b, b
	return nil
}

func (c *comparison) numberOperand(value any) error {
	if isSubstringOp(c.op) {
		return invalidFilter("%s is a number: it supports eq, ne, gt, ge, lt, le and pr, not %s", c.ref.name, c.op)
	}
	n, ok := value.(json.Number)
	if !ok {
		return invalidFilter("%s is a number: compare it with a number, not %v", c.ref.name, literal(value))
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return invalidFilter("%s: %v is not a usable number", c.ref.name, n)
	}
	c.operand, c.key = n, f
	return nil
}

func (c *comparison) dateTimeOperand(value any) error {
	s, err := stringOperand(c.ref, value)
	if err != nil {
		return err
	}
	c.operand, c.key = s, s
	if isSubstringOp(c.op) {
		return nil // co, sw and ew compare the text
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return invalidFilter("%s is a dateTime: compare it with a timestamp such as \"2011-05-13T04:42:34Z\", not %q", c.ref.name, s)
	}
	c.key = t
	return nil
}

func (c *comparison) stringOperand(value any) error {
	if isOrderingOp(c.op) && c.ref.leaf.Type == schema.Binary {
		return invalidFilter("%s is binary: it supports eq, ne, co, sw, ew and pr, not %s", c.ref.name, c.op)
	}
	s, err := stringOperand(c.ref, value)
	if err != nil {
		return err
	}
	c.operand, c.key = s, foldCase(c.ref.leaf, s)
	return nil
}

func stringOperand(ref attrRef, value any) (string, error) {
	raw, ok := value.(string)
	if !ok {
		return "", invalidFilter("%s is a %s attribute: compare it with a quoted string, not %v", ref.name, ref.leaf.Type, literal(value))
	}
	s, err := decodeString(raw)
	if err != nil {
		return "", invalidFilter("%s: %v", ref.name, err)
	}
	return s, nil
}

// foldCase returns s in the form the attribute compares strings in: as is when it is case-exact, its
// key when it has one (userName, a Group's displayName), lower-cased otherwise.
func foldCase(attr *schema.Attribute, s string) string {
	switch {
	case attr.CaseExact:
		return s
	case attr.Key != nil:
		return attr.Key(s)
	}
	return strings.ToLower(s)
}

// literal renders a comparison value as the client wrote it in the filter: "x", 5, true, null.
// Unlike schema.Describe, which names the JSON type of a body's value, it answers in the filter's
// own syntax, as the client will look for it in the filter it sent.
func literal(value any) string {
	switch v := value.(type) {
	case string:
		return strconv.Quote(v)
	case nil:
		return "null"
	}
	return fmt.Sprint(value)
}

func (c *compiler) valuePath(e *scimfilter.ValuePath, scope *schema.Attribute) (expr, error) {
	if scope != nil {
		return nil, invalidFilter("a value filter cannot contain another value filter (%s)", e.AttributePath.String())
	}
	ref, err := c.ref(e.AttributePath, nil)
	if err != nil && c.missingMatchNothing {
		return nothing{}, nil
	}
	if err != nil {
		return nil, err
	}
	cond, err := c.valueFilter(ref, e.ValueFilter)
	if err != nil {
		return nil, err
	}
	return &valueSelection{keys: ref.keys, cond: cond}, nil
}

// valueFilter compiles the bracketed filter of the complex attribute ref, which may be a
// placeholder for a value filter parsed on its own.
func (c *compiler) valueFilter(ref attrRef, e scimfilter.Expression) (expr, error) {
	if ref.leaf.Type != schema.Complex || ref.parent != nil {
		return nil, invalidFilter("%s is not a complex attribute: a value filter [...] selects values of a complex attribute", ref.name)
	}
	if c.valueFilters != nil {
		i, ok := placeholderIndex(e)
		if !ok || i >= len(c.valueFilters) {
			return nil, invalidFilter("malformed value filter of %s", ref.name)
		}
		e = c.valueFilters[i]
	}
	return c.expr(e, ref.leaf)
}

// placeholderIndex returns n for the placeholder comparison `vf eq n`.
func placeholderIndex(e scimfilter.Expression) (int, bool) {
	placeholder, ok := e.(*scimfilter.AttributeExpression)
	if !ok || placeholder == nil || placeholder.AttributePath.AttributeName != placeholderAttr {
		return 0, false
	}
	n, _ := placeholder.CompareValue.(json.Number)
	i, err := strconv.Atoi(string(n))
	return i, err == nil && i >= 0
}
