package patch

import (
	"strings"

	"github.com/scim-operator/scim-operator/scimserver/filter"
	"github.com/scim-operator/scim-operator/scimserver/schema"
)

// Values returns the values of the multi-valued attribute named attr (such as a Group's
// members) that the request names, when it reads and writes that attribute only by value: every
// operation adds values to attr, removes `attr[value eq "…"]`, or removes listed values of attr
// (Microsoft Entra ID's remove with a value). Such a request does the same to a document that
// holds, of attr's values, only those named — which is what lets a PATCH of 100 members of a group
// of 100,000 cost 100, not 100,000. ok is false for any other request, including one whose
// values are malformed (applying it reports why). A value whose sub-attribute value is not
// case-exact is also named in lower case, as the patch compares it.
func (r *Request) Values(rt *schema.ResourceType, attr string) (values []string, ok bool) {
	p := &patcher{rt: rt, opts: r.opts, paths: map[string]*filter.Path{}}
	values = []string{}
	for _, op := range r.Operations {
		if op.Path == "" || op.Op == Replace || p.schemaNamed(op.Path) != nil {
			return nil, false
		}
		path, err := p.parsePath(op.Path)
		if err != nil || path.Attr.Name != attr || !path.Attr.MultiValued || path.Sub != nil || path.Path.Schema != rt.Schema {
			return nil, false
		}
		valueAttr := path.Attr.SubAttribute("value")
		if valueAttr == nil {
			return nil, false
		}
		var named []string
		switch {
		case path.Filter != nil:
			implied, exact := path.Filter.Implied()
			v, isString := implied["value"].(string)
			if op.Op != Remove || !exact || len(implied) != 1 || !isString {
				return nil, false
			}
			named = []string{v}
		case op.Value == nil:
			return nil, false // add of null, or remove of every value
		default:
			list, err := p.values(path.Attr, attr, op.Value)
			if err != nil {
				return nil, false
			}
			for _, element := range list {
				m, _ := element.(map[string]any)
				v, isString := m["value"].(string)
				if !isString {
					return nil, false
				}
				named = append(named, v)
			}
		}
		for _, v := range named {
			values = append(values, v)
			if !valueAttr.CaseExact && strings.ToLower(v) != v {
				values = append(values, strings.ToLower(v))
			}
		}
	}
	return values, true
}
