package store

// The writes of SCIM Groups: what a provider's create, replace, patch and delete do to a ScimRole,
// its member shards (shards.go) and its members. A role's access is never written here.

import (
	"cmp"
	"context"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// users is the Users view through which a role's writes mark its members.
func (s *groups) users() *users { return &users{s.Store} }

func (s *groups) Create(ctx context.Context, w Write, doc map[string]any) (*Resource, error) {
	spec, err := roleSpec(doc)
	if err != nil {
		return nil, err
	}
	// StrongDM: on create, member ids that are well-formed but unknown are ignored.
	if spec.Members, err = s.resolveMembers(ctx, spec.Members, true, false); err != nil {
		return nil, err
	}
	if err := s.checkDisplayNameFree(ctx, spec.DisplayName, "", ""); err != nil {
		return nil, err
	}
	// Members are marked before the role is written: a failure then leaves no role the client did
	// not see created (marking is idempotent, a retry completes it).
	if err := s.users().touch(ctx, w.Provider, spec.MemberIDs()); err != nil {
		return nil, err
	}
	// Members beyond what the role lists itself go into shards, which need the role's uid: they
	// are written once the role is.
	members := spec.Members
	if len(members) > s.inlineMembers() {
		spec.Members = members[:s.inlineMembers()]
	}
	r, err := createWithID(ctx, s.Store, rolePrefix, spec.DisplayName, func() *v1.ScimRole { return &v1.ScimRole{} },
		func(existing *v1.ScimRole) string { return existing.Spec.DisplayName }, nil,
		func(r *v1.ScimRole) error {
			r.Spec = *spec.DeepCopy()
			v1.MarkManagedBy(r, w.Provider)
			return nil
		})
	if err != nil {
		return nil, err
	}
	if len(members) == len(spec.Members) {
		return groupResource(r, nil), nil
	}
	created, shards, err := s.updateGroup(ctx, Write{}, r.Name, func(m *membership) error {
		m.place(members[len(spec.Members):])
		return nil
	})
	if err != nil {
		// No group the client did not see created: the role goes again (its finalizer lets the
		// operator remove whatever shard was written).
		_ = s.Delete(ctx, Write{}, r.Name)
		return nil, err
	}
	return groupResource(created, shards), nil
}

func (s *groups) Replace(ctx context.Context, w Write, id string, doc map[string]any) (*Resource, error) {
	spec, err := roleSpec(doc)
	if err != nil {
		return nil, err
	}
	// StrongDM: on replace, unknown member ids are 404.
	if spec.Members, err = s.resolveMembers(ctx, spec.Members, false, false); err != nil {
		return nil, err
	}
	if err := s.users().touch(ctx, w.Provider, spec.MemberIDs()); err != nil {
		return nil, err
	}
	r, shards, err := s.updateGroup(ctx, w, id, func(m *membership) error {
		m.role.Spec.DisplayName, m.role.Spec.ExternalID = spec.DisplayName, spec.ExternalID
		if err := m.change(ctx, m.all(), spec.Members, true); err != nil {
			return err
		}
		v1.MarkManagedBy(m.role, w.Provider)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return groupResource(r, shards), nil
}

func (s *groups) Patch(ctx context.Context, w Write, id string, patch func(map[string]any) (bool, error)) (*Resource, bool, error) {
	var changed bool
	r, shards, err := s.updateGroup(ctx, w, id, func(m *membership) error {
		// A PATCH that names its members by value sees only those of the group's members (and
		// changes nothing else); any other sees them all.
		full := w.PatchedMembers == nil
		var before []v1.Member
		var err error
		if full {
			before = m.all()
		} else if before, err = m.lookup(ctx, w.PatchedMembers); err != nil {
			return err
		}
		spec, patched, err := patchedSpec(groupDoc(m.role, before, nil), patch, roleSpec)
		if changed = patched; err != nil {
			return err
		}
		// StrongDM: members a PATCH adds must exist (404 otherwise); members already in the role
		// are kept as they are.
		// Only the members the PATCH adds are checked; the others stay as they are, even those
		// (declared with GitOps) whose user does not exist yet.
		added := newMembers(before, spec.Members)
		resolved, err := s.resolveMembers(ctx, membersWithIDs(spec.Members, added), w.IgnoreUnknownMembers, w.IgnoreUnknownMembers)
		if err != nil {
			return err
		}
		spec.Members = mergeResolved(spec.Members, added, resolved)
		if err := s.deriveClearedDisplays(ctx, before, spec.Members); err != nil {
			return err
		}
		// What the client sees changed: the document comparison also counts what is derived and
		// not stored (a member's type and $ref), so a PATCH that resends the group is no change.
		changed = changed && (spec.DisplayName != m.role.Spec.DisplayName || spec.ExternalID != m.role.Spec.ExternalID ||
			!sameMembers(before, spec.Members))
		added = (&v1.ScimRoleSpec{Members: resolved}).MemberIDs()
		// Marked before the role is written, as on create.
		if err := s.users().touch(ctx, w.Provider, added); err != nil {
			return err
		}
		m.role.Spec.DisplayName, m.role.Spec.ExternalID = spec.DisplayName, spec.ExternalID
		if err := m.change(ctx, before, spec.Members, full); err != nil {
			return err
		}
		v1.MarkManagedBy(m.role, w.Provider)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if w.PatchedMembers != nil && len(shards) > 0 {
		// A member PATCH of a large group is answered without its members (see Resource.Doc).
		return &Resource{ID: r.Name, Version: groupVersion(r, shards), Location: "Groups/" + r.Name}, changed, nil
	}
	return groupResource(r, shards), changed, nil
}

// sameMembers tells whether a and b hold the same members with the same displays, in any order.
func sameMembers(a, b []v1.Member) bool {
	if len(a) != len(b) {
		return false
	}
	display := make(map[string]string, len(a))
	for _, m := range a {
		display[m.Value] = m.Display
	}
	for _, m := range b {
		if d, ok := display[m.Value]; !ok || d != m.Display {
			return false
		}
	}
	return true
}

// deriveClearedDisplays gives the members of after that a PATCH left without the display they had
// in before (`replace members` with values without display) their User's displayName, else
// userName, as create and replace derive it; a member whose User is gone keeps its former display.
// Members that never had one, declared with kubectl, are left alone.
func (s *groups) deriveClearedDisplays(ctx context.Context, before, after []v1.Member) error {
	had := make(map[string]string, len(before))
	for _, m := range before {
		had[m.Value] = m.Display
	}
	var cleared []v1.Member
	for _, m := range after {
		if m.Display == "" && had[m.Value] != "" {
			cleared = append(cleared, m)
		}
	}
	if len(cleared) == 0 {
		return nil
	}
	resolved, err := s.resolveMembers(ctx, cleared, true, true)
	if err != nil {
		return err
	}
	derived := make(map[string]string, len(resolved))
	for _, m := range resolved {
		derived[m.Value] = m.Display
	}
	for i, m := range after {
		if m.Display == "" && had[m.Value] != "" {
			after[i].Display = cmp.Or(derived[m.Value], had[m.Value])
		}
	}
	return nil
}

func (s *groups) Delete(ctx context.Context, w Write, id string) error {
	// If-Match is checked against the group's version (its shards' included), decided live as
	// deleteObject does; the role's deletion then takes the shards with it (the operator's
	// clean-up, and the owner references).
	if w.IfMatch != "" {
		m, err := s.readMembership(ctx, id, false)
		if err == nil && checkIfMatch(w.IfMatch, groupVersion(m.role, m.shards)) != nil {
			m, err = s.readMembership(ctx, id, true)
		}
		if err != nil {
			return apiError(err, "Resource "+id)
		}
		if err := checkIfMatch(w.IfMatch, groupVersion(m.role, m.shards)); err != nil {
			return err
		}
		w.IfMatch = ""
	}
	return deleteObject(ctx, s.Store, w, id, &v1.ScimRole{}, func() error { return nil })
}

// groupResource renders a role with its shards as served. Every member carries a display, as
// StrongDM's do: one declared without (in YAML) shows its id.
func groupResource(r *v1.ScimRole, shards []v1.ScimRoleMembers) *Resource {
	doc := groupDoc(r, v1.RoleMembers(r, shards), shards)
	for _, m := range doc["members"].([]any) {
		if member := m.(map[string]any); member["display"] == "" {
			member["display"] = member["value"]
		}
	}
	return &Resource{ID: r.Name, Doc: doc, Version: groupVersion(r, shards), Location: "Groups/" + r.Name}
}
