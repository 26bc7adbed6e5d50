package store

// Conversion between SCIM documents and ScimUsers and ScimRoles: the one place that knows how SCIM
// attributes map onto the API types.

import (
	"encoding/json"
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// userDoc renders a ScimUser as a SCIM User. groups are the roles it is a member of.
func userDoc(u *v1.ScimUser, roles []*v1.ScimRole) map[string]any {
	spec := u.Spec.DeepCopy()
	enterprise := spec.Enterprise
	spec.Enterprise = nil
	doc := withoutEmpty(toMap(spec))
	schemas := []any{schema.UserURN}
	if enterprise != nil {
		if ext := withoutEmpty(toMap(enterprise)); len(ext) > 0 {
			doc[schema.EnterpriseUserURN] = ext
			schemas = append(schemas, schema.EnterpriseUserURN)
		}
	}
	doc["schemas"] = schemas
	doc["id"] = u.Name
	doc["active"] = u.IsActive()
	groups := make([]any, 0, len(roles))
	for _, r := range roles {
		groups = append(groups, map[string]any{"value": r.Name, "display": r.Spec.DisplayName})
	}
	doc["groups"] = groups
	doc["meta"] = meta(u, version(u), "User", "Users/"+u.Name)
	return doc
}

// withoutEmpty drops from a rendered spec the complex values and arrays left without any value,
// such as the manager of `"manager": {"value": ""}`: the empty string is no value (docs/design.md,
// "Round trips"), and neither is what holds nothing else (RFC 7643 §2.5).
func withoutEmpty(m map[string]any) map[string]any {
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			if len(withoutEmpty(v)) == 0 {
				delete(m, k)
			}
		case []any:
			kept := v[:0]
			for _, item := range v {
				if obj, ok := item.(map[string]any); !ok || len(withoutEmpty(obj)) > 0 {
					kept = append(kept, item)
				}
			}
			if len(kept) == 0 {
				delete(m, k)
			} else {
				m[k] = kept
			}
		}
	}
	return m
}

// userSpec converts a canonical SCIM User document into a ScimUserSpec. The document's attribute
// names are the spec's JSON names, so the conversion is a JSON round trip; the enterprise extension
// moves from its URN to spec.enterprise.
func userSpec(doc map[string]any) (*v1.ScimUserSpec, error) {
	flat := make(map[string]any, len(doc))
	for k, v := range doc {
		switch k {
		case "schemas", "id", "meta", "groups":
		case schema.EnterpriseUserURN:
			flat["enterprise"] = v
		default:
			flat[k] = v
		}
	}
	spec := &v1.ScimUserSpec{}
	if err := fromMap(flat, spec); err != nil {
		return nil, scimerror.BadRequest(scimerror.InvalidValue, "invalid User: %v", err)
	}
	if strings.TrimSpace(spec.UserName) == "" {
		return nil, scimerror.BadRequest(scimerror.InvalidValue, "userName is required and must not be blank")
	}
	return spec, nil
}

// deriveUserDefaults fills what StrongDM derives on create: displayName and name.formatted from the
// given and family names, a primary e-mail from an e-mail-shaped userName, and userType "user".
func deriveUserDefaults(spec *v1.ScimUserSpec) {
	if spec.Name != nil {
		full := strings.TrimSpace(spec.Name.GivenName + " " + spec.Name.FamilyName)
		if spec.Name.Formatted == "" {
			spec.Name.Formatted = full
		}
		if spec.DisplayName == "" {
			spec.DisplayName = full
		}
	}
	if spec.DisplayName == "" {
		spec.DisplayName = spec.UserName
	}
	if len(spec.Emails) == 0 && strings.Contains(spec.UserName, "@") {
		spec.Emails = []v1.MultiValuedAttribute{{Value: spec.UserName, Primary: new(true)}}
	}
	if spec.UserType == "" {
		spec.UserType = "user"
	}
}

// groupDoc renders a ScimRole with the given members (v1.RoleMembers of the role and its shards)
// as a SCIM Group; members is always present. shards make its version (groupVersion).
func groupDoc(r *v1.ScimRole, list []v1.Member, shards []v1.ScimRoleMembers) map[string]any {
	members := make([]any, 0, len(list))
	for _, m := range list {
		members = append(members, map[string]any{"value": m.Value, "display": m.Display, "type": memberType, "$ref": memberRef(m.Value)})
	}
	doc := map[string]any{
		"schemas":     []any{schema.GroupURN},
		"id":          r.Name,
		"displayName": r.Spec.DisplayName,
		"members":     members,
		"meta":        meta(r, groupVersion(r, shards), "Group", "Groups/"+r.Name),
	}
	if r.Spec.ExternalID != "" {
		doc["externalId"] = r.Spec.ExternalID
	}
	return doc
}

// roleSpec converts a canonical SCIM Group document into the SCIM-owned part of a ScimRoleSpec.
// Duplicate members are merged.
func roleSpec(doc map[string]any) (*v1.ScimRoleSpec, error) {
	spec := &v1.ScimRoleSpec{}
	spec.DisplayName, _ = doc["displayName"].(string)
	spec.ExternalID, _ = doc["externalId"].(string)
	if strings.TrimSpace(spec.DisplayName) == "" {
		return nil, errEmptyDisplayName
	}
	seen := map[string]bool{}
	list, _ := doc["members"].([]any)
	for _, item := range list {
		m, _ := item.(map[string]any)
		value, _ := m["value"].(string)
		display, _ := m["display"].(string)
		if value == "" {
			return nil, scimerror.BadRequest(scimerror.InvalidValue, "every member needs a value (a User id)")
		}
		if err := checkMemberKind(m, value); err != nil {
			return nil, err
		}
		if seen[value] {
			continue
		}
		seen[value] = true
		spec.Members = append(spec.Members, v1.Member{Value: value, Display: display})
	}
	return spec, nil
}

// memberType is the type of every member: groups do not nest here.
const memberType = "User"

// memberRef is the $ref of member id: its User's location, relative like meta.location.
func memberRef(id string) string { return "Users/" + id }

// checkMemberKind checks a member's type and $ref against its value (RFC 7643 §4.2): the type, when
// given, is User — a Group is refused, since groups do not nest — and the $ref, when given, names
// the member's User at this server, relative ("Users/<id>") or absolute (".../Users/<id>").
func checkMemberKind(m map[string]any, value string) error {
	if t, _ := m["type"].(string); t != "" && !strings.EqualFold(t, memberType) {
		if strings.EqualFold(t, "Group") {
			return scimerror.BadRequest(scimerror.InvalidValue, "member %s is a Group: groups do not nest here, a member must be a User", value)
		}
		return scimerror.BadRequest(scimerror.InvalidValue, "member %s has type %q: a member must be a User", value, t)
	}
	if ref, _ := m["$ref"].(string); ref != "" {
		ref = strings.TrimSuffix(ref, "/")
		if ref != memberRef(value) && !strings.HasSuffix(ref, "/"+memberRef(value)) {
			return scimerror.BadRequest(scimerror.InvalidValue, "member %s has $ref %q, which does not name its User (…/%s)", value, ref, memberRef(value))
		}
	}
	return nil
}

func meta(obj client.Object, version, resourceType, location string) map[string]any {
	m := map[string]any{"resourceType": resourceType, "location": location, "version": version}
	if created := obj.GetCreationTimestamp(); !created.IsZero() {
		m["created"] = created.UTC().Format("2006-01-02T15:04:05Z")
		m["lastModified"] = lastModified(obj).UTC().Format("2006-01-02T15:04:05Z")
	}
	return m
}

func toMap(v any) map[string]any {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err)) // API types always marshal
	}
	m := map[string]any{}
	_ = json.Unmarshal(data, &m)
	return m
}

func fromMap(m map[string]any, v any) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// patchedSpec applies patch to doc, a stored object rendered as SCIM, and converts the patched
// (canonical) document back into a spec with toSpec; it reports whether patch changed doc.
func patchedSpec[S any](doc map[string]any, patch func(map[string]any) (bool, error), toSpec func(map[string]any) (*S, error)) (*S, bool, error) {
	changed, err := patch(doc)
	if err != nil {
		return nil, changed, err
	}
	spec, err := toSpec(doc)
	return spec, changed, err
}
