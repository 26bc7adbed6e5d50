package patch

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/scim-operator/scim-operator/scimserver/filter"
	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// set applies an add or replace with a path (RFC 7644 §3.5.2.1 and §3.5.2.3). The two differ only
// for a multi-valued attribute without value filter, which add appends to and replace replaces,
// and for a value filter matching nothing, which add answers by adding the value the filter
// describes and replace with noTarget. A complex value is merged into the current one: its
// sub-attributes not named stay as they are.
func (p *patcher) set(op Op, path *filter.Path, value any) error {
	switch {
	case path.Filter != nil:
		return p.setSelected(op, path, value)
	case path.Attr.MultiValued && path.Sub != nil:
		return p.setSubOfAll(path, value)
	case path.Attr.MultiValued:
		return p.setValues(op, path, value)
	case path.Attr.Type == schema.Complex:
		return p.mergeComplex(path, value)
	}
	return p.setSimple(path, value)
}

func (p *patcher) setSimple(path *filter.Path, value any) error {
	v, err := p.value(path.Attr, pathName(p.rt, path.Path), value)
	if err != nil {
		return err
	}
	if container := p.container(path.Path, v != nil); container != nil {
		store(container, path.Attr.Name, v)
	}
	return nil
}

// mergeComplex sets a single-valued complex attribute ("name", {"givenName": "x"}) or one of its
// sub-attributes ("name.givenName", "x").
func (p *patcher) mergeComplex(path *filter.Path, value any) error {
	if path.Sub == nil && value == nil {
		p.unassign(path.Path)
		return nil
	}
	update, err := p.update(path, value)
	if err != nil {
		return err
	}
	container := p.container(path.Path, true)
	current, _ := container[path.Attr.Name].(map[string]any)
	merged, err := mergeInto(path.Attr, attrName(p.rt, path), current, update)
	if err != nil {
		return err
	}
	store(container, path.Attr.Name, merged)
	return nil
}

// update returns what a value sets in a complex value: {sub: value} for a path ending at a
// sub-attribute, else the value as a complex value.
func (p *patcher) update(path *filter.Path, value any) (map[string]any, error) {
	n := pathName(p.rt, path.Path)
	if path.Sub == nil {
		return p.complexValue(path.Attr, n, value)
	}
	v, err := p.value(path.Sub, n, value)
	if err != nil {
		return nil, err
	}
	return map[string]any{path.Sub.Name: v}, nil
}

// setValues adds values to a multi-valued attribute, or replaces all of its values. A value equal to
// one already present (for values with a "value" sub-attribute, one with the same value) is not
// added twice: its other sub-attributes are merged into the one present.
func (p *patcher) setValues(op Op, path *filter.Path, value any) error {
	if value == nil {
		p.unassign(path.Path)
		return nil
	}
	n := pathName(p.rt, path.Path)
	values, err := p.values(path.Attr, n, value)
	if err != nil {
		return err
	}
	container := p.container(path.Path, true)
	var list []any
	if op == Add {
		list = currentValues(container, path.Attr)
	}
	index := indexValues(path.Attr, list)
	written := make([]int, 0, len(values))
	for _, v := range values {
		key := identity(path.Attr, v)
		i, present := index[key]
		if !present {
			list = append(list, nil)
			i = len(list) - 1
			index[key] = i
		} else if m, ok := v.(map[string]any); ok {
			// The value is already there: keep it as written, ALICE@x.org and alice@x.org alike.
			delete(m, "value")
		}
		if list[i], err = mergeValue(path.Attr, n, list[i], v); err != nil {
			return err
		}
		written = append(written, i)
	}
	return p.storeValues(container, path.Attr, n, list, written)
}

// setSubOfAll sets a sub-attribute of every value of a multi-valued attribute ("emails.type"),
// creating a value holding just it when there is none.
func (p *patcher) setSubOfAll(path *filter.Path, value any) error {
	update, err := p.update(path, value)
	if err != nil {
		return err
	}
	container := p.container(path.Path, true)
	list := currentValues(container, path.Attr)
	if len(list) == 0 {
		list = []any{map[string]any{}}
	}
	return p.mergeEach(container, path, list, allIndexes(list), update)
}

// setSelected sets the values a value filter selects, or a sub-attribute of them.
func (p *patcher) setSelected(op Op, path *filter.Path, value any) error {
	if value == nil {
		return p.remove(path, nil)
	}
	update, err := p.update(path, value)
	if err != nil {
		return err
	}
	container := p.container(path.Path, true)
	list := currentValues(container, path.Attr)
	matched := selected(list, path.Filter)
	if len(matched) == 0 {
		if op == Replace && !p.opts.FilteredReplaceAdds {
			return scimerror.BadRequest(scimerror.NoTarget, "no value of %s matches %s", path.Attr.Name, path)
		}
		implied, ok := path.Filter.Implied()
		if !ok {
			return scimerror.BadRequest(scimerror.NoTarget, "no value of %s matches %s, and the filter does not say what value to add", path.Attr.Name, path)
		}
		created, err := p.complexValue(path.Attr, path.Attr.Name, implied)
		if err != nil {
			return err
		}
		list = append(list, created)
		matched = []int{len(list) - 1}
	}
	return p.mergeEach(container, path, list, matched, update)
}

// mergeEach merges update into the values of list at the given indexes and stores the list.
func (p *patcher) mergeEach(container map[string]any, path *filter.Path, list []any, indexes []int, update map[string]any) error {
	n := attrName(p.rt, path)
	for _, i := range indexes {
		var err error
		if list[i], err = mergeValue(path.Attr, n, list[i], update); err != nil {
			return err
		}
	}
	return p.storeValues(container, path.Attr, n, list, indexes)
}

// remove applies a remove (RFC 7644 §3.5.2.2). Removing what is not there is not an error.
func (p *patcher) remove(path *filter.Path, value any) error {
	n := pathName(p.rt, path.Path)
	if isReadOnly(path.Path) {
		return scimerror.BadRequest(scimerror.Mutability, "%s is readOnly and cannot be removed", n)
	}
	if path.Leaf().Mutability == schema.Immutable {
		return scimerror.BadRequest(scimerror.Mutability, "%s is immutable and cannot be removed", n)
	}
	if !path.Attr.MultiValued && path.Sub == nil {
		p.unassign(path.Path)
		return nil
	}
	container := p.container(path.Path, false)
	if container == nil {
		return nil
	}
	if !path.Attr.MultiValued {
		// A sub-attribute of a single-valued complex attribute.
		if current, ok := container[path.Attr.Name].(map[string]any); ok {
			delete(current, path.Sub.Name)
			store(container, path.Attr.Name, current)
		}
		return nil
	}
	list := currentValues(container, path.Attr)
	indexes := allIndexes(list)
	switch {
	case path.Filter != nil:
		indexes = selected(list, path.Filter)
	case value != nil && path.Sub == nil:
		var err error
		if indexes, err = p.sameValues(path, list, value); err != nil {
			return err
		}
	}
	return p.removeValues(container, path, list, indexes)
}

// sameValues returns the indexes of the values of list equal to one of the given values, for a
// remove that names the values to remove, as Microsoft Entra ID sends:
// {"op":"Remove","path":"members","value":[{"value":"<id>"}]}.
func (p *patcher) sameValues(path *filter.Path, list []any, value any) ([]int, error) {
	values, err := p.values(path.Attr, pathName(p.rt, path.Path), value)
	if err != nil {
		return nil, err
	}
	remove := indexValues(path.Attr, values)
	var indexes []int
	for i, v := range list {
		if _, ok := remove[identity(path.Attr, v)]; ok {
			indexes = append(indexes, i)
		}
	}
	return indexes, nil
}

// removeValues removes the values of list at the given indexes, or with a path ending at a
// sub-attribute that sub-attribute of them, and stores the list.
func (p *patcher) removeValues(container map[string]any, path *filter.Path, list []any, indexes []int) error {
	for _, i := range indexes {
		if path.Sub == nil {
			list[i] = nil
		} else if m, ok := list[i].(map[string]any); ok {
			delete(m, path.Sub.Name)
		}
	}
	store(container, path.Attr.Name, slices.DeleteFunc(list, func(v any) bool { return !assigned(v) }))
	return nil
}

// storeValues stores the values of a multi-valued attribute after the values at the indexes
// written were written: when one of those is primary, the others no longer are (RFC 7643 §2.4).
// Values left empty are dropped.
func (p *patcher) storeValues(container map[string]any, attr *schema.Attribute, n string, list []any, written []int) error {
	if attr.SubAttribute("primary") != nil {
		primary := -1
		for _, i := range written {
			if isPrimary(list[i]) && primary != i {
				if primary >= 0 {
					return invalidValue("at most one value of %s may be primary", n)
				}
				primary = i
			}
		}
		for i, v := range list {
			if i != primary && primary >= 0 && isPrimary(v) {
				v.(map[string]any)["primary"] = false
			}
		}
	}
	store(container, attr.Name, slices.DeleteFunc(list, func(v any) bool { return !assigned(v) }))
	return nil
}

func isPrimary(v any) bool {
	m, ok := v.(map[string]any)
	return ok && m["primary"] == true
}

func (p *patcher) unassign(path schema.Path) {
	if container := p.container(path, false); container != nil {
		delete(container, path.Attr.Name)
	}
}

// currentValues returns the values of a multi-valued attribute held in container.
func currentValues(container map[string]any, attr *schema.Attribute) []any {
	list, _ := container[attr.Name].([]any)
	return list
}

func allIndexes(list []any) []int {
	indexes := make([]int, len(list))
	for i := range list {
		indexes[i] = i
	}
	return indexes
}

// selected returns the indexes of the values of list the filter selects.
func selected(list []any, f *filter.ValueFilter) []int {
	var indexes []int
	for i, v := range list {
		if m, ok := v.(map[string]any); ok && f.Match(m) {
			indexes = append(indexes, i)
		}
	}
	return indexes
}

// identity returns what makes a value of a multi-valued attribute the value it is: for complex
// values with a string "value" sub-attribute, that sub-attribute as it compares (members by exact
// id, emails case-insensitively); otherwise the whole value. Two values with the same identity are
// the same value, which add does not add twice.
func identity(attr *schema.Attribute, v any) string {
	if m, ok := v.(map[string]any); ok {
		if s, ok := m["value"].(string); ok && attr.SubAttribute("value") != nil {
			if !attr.SubAttribute("value").CaseExact {
				s = strings.ToLower(s)
			}
			return "value:" + s
		}
	}
	b, err := json.Marshal(v) // objects marshal with sorted keys
	if err != nil {
		return fmt.Sprintf("go:%#v", v)
	}
	return "json:" + string(b)
}

// indexValues maps the identity of each value of list to its index, the first one's for values
// that appear twice.
func indexValues(attr *schema.Attribute, list []any) map[string]int {
	index := make(map[string]int, len(list))
	for i := len(list) - 1; i >= 0; i-- {
		index[identity(attr, list[i])] = i
	}
	return index
}

// mergeValue merges update into one value of a multi-valued attribute. Simple values are replaced.
func mergeValue(attr *schema.Attribute, n string, current, update any) (any, error) {
	u, ok := update.(map[string]any)
	if !ok {
		return update, nil
	}
	m, _ := current.(map[string]any)
	return mergeInto(attr, n, m, u)
}

// mergeInto merges update, a complex value of attr (named n in messages), into current, which may
// be nil: null sub-attributes are unassigned, the others set. A readOnly sub-attribute may only
// repeat its current value; an immutable one may only be set while unassigned.
func mergeInto(attr *schema.Attribute, n string, current, update map[string]any) (map[string]any, error) {
	if current == nil {
		current = map[string]any{}
	}
	for _, key := range slices.Sorted(maps.Keys(update)) {
		sub, v := attr.SubAttribute(key), update[key]
		switch {
		case sub == nil:
			return nil, invalidValue("%s has no sub-attribute %q", n, key)
		case sub.Mutability == schema.ReadOnly:
			if !equivalent(current[key], v) {
				return nil, scimerror.BadRequest(scimerror.Mutability, "%s.%s is readOnly and cannot be changed", n, sub.Name)
			}
			continue
		case sub.Mutability == schema.Immutable && assigned(current[key]) && !equivalent(current[key], v):
			return nil, scimerror.BadRequest(scimerror.Mutability, "%s.%s is immutable and cannot be changed once set", n, sub.Name)
		}
		if v == nil {
			delete(current, key)
		} else {
			current[key] = v
		}
	}
	return current, nil
}

// store sets key in container to v, or deletes it when v is unassigned.
func store(container map[string]any, key string, v any) {
	if assigned(v) {
		container[key] = v
	} else {
		delete(container, key)
	}
}
