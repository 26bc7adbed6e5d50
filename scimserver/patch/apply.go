package patch

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/scim-operator/scim-operator/scimserver/filter"
	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// Apply applies the operations in order to doc, a resource of type rt, atomically: they work on a
// copy, which replaces doc's content only when every operation succeeded and the result differs
// from doc. It reports whether doc changed (the server answers 204 when it did not). Unassigned
// values are left out of the result: an attribute whose last value is removed disappears rather
// than staying as null, [] or {}. Apply does not modify the Request, so it may be applied again,
// for example to a fresher copy of the resource after a write conflict.
func (r *Request) Apply(rt *schema.ResourceType, doc map[string]any) (changed bool, err error) {
	if doc == nil {
		return false, errors.New("patch: no document to apply the request to")
	}
	p := &patcher{rt: rt, opts: r.opts, doc: deepCopy(doc).(map[string]any),
		paths: map[string]*filter.Path{}, indexes: map[string]*valueIndex{}}
	for i, op := range r.Operations {
		if err := p.apply(op); err != nil {
			return false, prefixed(fmt.Sprintf("Operations[%d] (%s)", i, op), err)
		}
	}
	p.tidyExtensions()
	if equivalent(doc, p.doc) {
		return false, nil
	}
	clear(doc)
	maps.Copy(doc, p.doc)
	return true, nil
}

// prefixed returns err with its detail prefixed, keeping its status and scimType.
func prefixed(prefix string, err error) error {
	if e := scimerror.As(err); e != nil {
		return &scimerror.Error{Status: e.Status, ScimType: e.ScimType, Detail: prefix + ": " + e.Detail}
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// patcher applies operations to a working copy of a document.
type patcher struct {
	rt   *schema.ResourceType
	opts Options
	doc  map[string]any
	// paths are the paths parsed so far, by their text.
	paths map[string]*filter.Path
	// indexes are the identity indexes of the multi-valued attributes an add wrote last, by
	// attribute name (see attrName). Every other write of an attribute drops its index.
	indexes map[string]*valueIndex
}

func (p *patcher) apply(op Operation) error {
	switch {
	case op.Path == "" && op.Op == Remove:
		return scimerror.BadRequest(scimerror.NoTarget, "remove needs a path naming what to remove")
	case op.Path == "":
		return p.applyObject(op.Op, op.Value)
	}
	if s := p.schemaNamed(op.Path); s != nil {
		return p.applySchema(op, s)
	}
	path, err := p.parsePath(op.Path)
	if err != nil {
		return err
	}
	return p.applyPath(op.Op, path, op.Value, op.hasValue)
}

// parsePath parses a path once for all the operations of the request that name it: IdPs repeat
// the same path ("members") in each operation, and parsing one costs more than applying most.
func (p *patcher) parsePath(s string) (*filter.Path, error) {
	if path, ok := p.paths[s]; ok {
		return path, nil
	}
	path, err := filter.ParsePath(p.rt, s)
	if err == nil {
		p.paths[s] = path
	}
	return path, err
}

// schemaNamed returns the resource type's schema whose URN is name, or nil.
func (p *patcher) schemaNamed(name string) *schema.Schema {
	for _, s := range p.rt.Schemas() {
		if strings.EqualFold(s.ID, name) {
			return s
		}
	}
	return nil
}

// applyObject applies an add or replace without a path: its value is an object whose keys are
// attribute paths ("userName", "name.givenName", URN-prefixed or with a value filter) or schema
// URNs holding an object of that schema's attributes. Keys apply in sorted order, so "name" comes
// before "name.givenName"; "schemas" is the server's to maintain and is ignored.
func (p *patcher) applyObject(op Op, value any) error {
	obj, ok := value.(map[string]any)
	if !ok {
		return scimerror.BadRequest(scimerror.InvalidValue, "without a path, the value must be an object of attributes, not %s", schema.Describe(value))
	}
	seen := map[string]bool{}
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		if strings.EqualFold(key, "schemas") {
			continue
		}
		var err error
		if s := p.schemaNamed(key); s != nil {
			err = p.applySchemaObject(op, s, obj[key], seen)
		} else {
			err = p.applyKey(op, key, obj[key], seen)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// applySchemaObject applies the attributes of schema s given as one object,
// {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "x"}}. A
// "schemas" member of the object, which clients copy from the extension's definition, is ignored
// as the resource's own is.
func (p *patcher) applySchemaObject(op Op, s *schema.Schema, value any, seen map[string]bool) error {
	obj, ok := value.(map[string]any)
	if !ok {
		return scimerror.BadRequest(scimerror.InvalidValue, "%s must be an object of that schema's attributes, not %s", s.ID, schema.Describe(value))
	}
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		if strings.EqualFold(key, "schemas") {
			continue
		}
		if err := p.applyKey(op, s.ID+":"+key, obj[key], seen); err != nil {
			return err
		}
	}
	return nil
}

// applyKey applies one member of a no-path value as an operation with the key as its path.
func (p *patcher) applyKey(op Op, key string, value any, seen map[string]bool) error {
	path, err := p.parsePath(key)
	if err != nil {
		return prefixed(fmt.Sprintf("value member %q", key), err)
	}
	if path.Filter == nil {
		n := pathName(p.rt, path.Path)
		if seen[n] {
			return scimerror.BadRequest(scimerror.InvalidValue, "the value sets %s more than once", n)
		}
		seen[n] = true
	}
	return p.applyPath(op, path, value, true)
}

// applySchema applies an operation whose path is a schema URN: an add or replace of some of the
// schema's attributes, or the removal of all of them.
func (p *patcher) applySchema(op Operation, s *schema.Schema) error {
	if op.Op != Remove {
		return p.applySchemaObject(op.Op, s, op.Value, map[string]bool{})
	}
	if s == p.rt.Schema {
		return scimerror.BadRequest(scimerror.InvalidPath, "the core schema %s cannot be removed", s.ID)
	}
	delete(p.doc, s.ID)
	clear(p.indexes)
	return nil
}

func (p *patcher) applyPath(op Op, path *filter.Path, value any, hasValue bool) error {
	switch {
	case op == Remove:
		return p.remove(path, value)
	case !hasValue || (op == Add && value == nil):
		return scimerror.BadRequest(scimerror.InvalidValue, "%s needs a value for %s", op, path)
	case isReadOnly(path.Path):
		return p.keepReadOnly(path, value)
	case path.Attr.Mutability == schema.Immutable && path.Sub == nil:
		return p.setImmutable(op, path, value)
	}
	return p.set(op, path, value)
}

func isReadOnly(path schema.Path) bool {
	return path.Attr.Mutability == schema.ReadOnly || (path.Sub != nil && path.Sub.Mutability == schema.ReadOnly)
}

// keepReadOnly accepts a write of a readOnly attribute that repeats its current value, as Okta
// repeats the resource's own id in a no-path replace; any other is a mutability error.
func (p *patcher) keepReadOnly(path *filter.Path, value any) error {
	if path.Filter == nil && !(path.Attr.MultiValued && path.Sub != nil) {
		if v, err := p.value(path.Leaf(), pathName(p.rt, path.Path), value); err == nil && equivalent(p.current(path.Path), v) {
			return nil
		}
	}
	return scimerror.BadRequest(scimerror.Mutability, "%s is readOnly and cannot be changed", pathName(p.rt, path.Path))
}

// setImmutable sets an immutable attribute, which may be set only while it is unassigned (RFC
// 7643 §7); repeating its current value changes nothing.
func (p *patcher) setImmutable(op Op, path *filter.Path, value any) error {
	current := p.current(path.Path)
	if !schema.Assigned(current) {
		return p.set(op, path, value)
	}
	if v, err := p.value(path.Attr, pathName(p.rt, path.Path), value); err == nil && equivalent(current, v) {
		return nil
	}
	return scimerror.BadRequest(scimerror.Mutability, "%s is immutable and cannot be changed once set", pathName(p.rt, path.Path))
}

// current returns the value a path without value filter addresses, or nil.
func (p *patcher) current(path schema.Path) any {
	container := path.Container(p.rt, p.doc, false)
	if container == nil {
		return nil
	}
	v := container[path.Attr.Name]
	if path.Sub == nil {
		return v
	}
	if m, ok := v.(map[string]any); ok {
		return m[path.Sub.Name]
	}
	return nil
}

// pathName returns the canonical name of a path for messages: "name.givenName",
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value".
func pathName(rt *schema.ResourceType, path schema.Path) string {
	n := path.Attr.Name
	if path.Extension(rt) {
		n = path.Schema.ID + ":" + n
	}
	if path.Sub != nil {
		n += "." + path.Sub.Name
	}
	return n
}

// attrName returns the canonical name of the attribute a path addresses, without its
// sub-attribute.
func attrName(rt *schema.ResourceType, path *filter.Path) string {
	return pathName(rt, schema.Path{Schema: path.Schema, Attr: path.Attr})
}

// tidyExtensions drops extension objects left empty and keeps the document's schemas, when it has
// them, listing exactly the extensions present (RFC 7643 §3).
func (p *patcher) tidyExtensions() {
	for _, ext := range p.rt.Extensions {
		id := ext.Schema.ID
		if m, ok := p.doc[id].(map[string]any); ok && !schema.Assigned(m) {
			delete(p.doc, id)
		}
		schemas, ok := p.doc["schemas"].([]any)
		if !ok {
			continue
		}
		listed := slices.ContainsFunc(schemas, func(s any) bool { u, _ := s.(string); return strings.EqualFold(u, id) })
		_, present := p.doc[id]
		switch {
		case present && !listed:
			p.doc["schemas"] = append(schemas, id)
		case !present && listed:
			p.doc["schemas"] = slices.DeleteFunc(schemas, func(s any) bool { u, _ := s.(string); return strings.EqualFold(u, id) })
		}
	}
}
