package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The identity rules of design.md ("The rules"), written once. The SCIM store applies them to what a
// request writes and the controllers apply them to what they observe; neither re-implements them.

// IsActive reports whether the spec is of an active user; an unset active means active.
func (s *ScimUserSpec) IsActive() bool { return s.Active == nil || *s.Active }

// IsActive reports whether the user is active (ScimUserSpec.IsActive).
func (u *ScimUser) IsActive() bool { return u.Spec.IsActive() }

// SuspendedBy returns who suspended the user (SuspendedByProvider, SuspendedByAdmin) or "".
func (u *ScimUser) SuspendedBy() string { return u.GetAnnotations()[AnnotationSuspendedBy] }

// ManagedBy returns the provider that manages obj, or "" when it is not marked.
func ManagedBy(obj metav1.Object) string { return obj.GetLabels()[LabelManagedBy] }

// MarkManagedBy marks obj as managed by provider (rule 1). It reports whether obj changed. Users are
// marked through ApplyProviderActive instead, which knows when suspension forbids the marking.
func MarkManagedBy(obj metav1.Object, provider string) bool {
	if ManagedBy(obj) == provider {
		return false
	}
	// A new map, not the object's changed in place: a cached object's labels may be shared with
	// other objects (the SCIM server's cache interns equal label maps).
	labels := maps.Clone(obj.GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = provider
	obj.SetLabels(labels)
	return true
}

// ApplyProviderActive applies a SCIM write of provider to the user, with active the value the request
// asks for (rules 1 and 4). u must carry the stored spec.active, not the request's:
//   - an admin-suspended user stays suspended and unmarked whatever the provider sends — including
//     one suspended a moment ago whose suspension the controller has not recorded yet: a stored
//     spec.active false without a suspended-by record was set by an admin (ObserveSuspension);
//   - active false suspends the user, records that the provider suspended it and removes the marking;
//   - active true (re)activates the user and marks it as managed by provider.
//
// It reports whether the user changed.
func (u *ScimUser) ApplyProviderActive(provider string, active bool) bool {
	before := u.DeepCopy()
	u.ObserveSuspension()
	switch {
	case u.SuspendedBy() == SuspendedByAdmin:
		u.setActive(false)
		u.unmark()
	case !active:
		u.setActive(false)
		u.setSuspendedBy(SuspendedByProvider)
		u.unmark()
	default:
		u.setActive(true)
		u.setSuspendedBy("")
		MarkManagedBy(u, provider)
	}
	return !metaAndActiveEqual(before, u)
}

// TouchByProvider applies rule 1 to a user used (not written) by a SCIM request of provider, e.g. a
// member added to a group: an active user is marked, a suspended one is left alone. It reports whether
// the user changed.
func (u *ScimUser) TouchByProvider(provider string) bool {
	if !u.IsActive() {
		return false
	}
	return MarkManagedBy(u, provider)
}

// ObserveSuspension records who suspended a user when the operator observes its spec (rule 4): a user
// that is not active and carries no suspended-by record was suspended by someone other than the
// operator, i.e. an admin; an active user carries no suspension record. A suspended user is never
// marked. It reports whether the user changed.
func (u *ScimUser) ObserveSuspension() bool {
	before := u.DeepCopy()
	if u.IsActive() {
		u.setSuspendedBy("")
	} else {
		if u.SuspendedBy() == "" {
			u.setSuspendedBy(SuspendedByAdmin)
		}
		u.unmark()
	}
	return !metaAndActiveEqual(before, u)
}

func (u *ScimUser) setActive(active bool) { u.Spec.Active = &active }

func (u *ScimUser) setSuspendedBy(who string) {
	ann := u.GetAnnotations()
	if who == "" {
		if _, ok := ann[AnnotationSuspendedBy]; ok {
			delete(ann, AnnotationSuspendedBy)
			u.SetAnnotations(ann)
		}
		return
	}
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationSuspendedBy] = who
	u.SetAnnotations(ann)
}

func (u *ScimUser) unmark() {
	if _, ok := u.GetLabels()[LabelManagedBy]; ok {
		labels := maps.Clone(u.GetLabels()) // a new map, as MarkManagedBy's
		delete(labels, LabelManagedBy)
		u.SetLabels(labels)
	}
}

func metaAndActiveEqual(a, b *ScimUser) bool {
	return a.IsActive() == b.IsActive() && (a.Spec.Active == nil) == (b.Spec.Active == nil) &&
		ManagedBy(a) == ManagedBy(b) && a.SuspendedBy() == b.SuspendedBy()
}

// HasAccess reports whether the user may hold the access of its roles (rule 5): it is active and
// not being deleted (IsTerminating).
func (u *ScimUser) HasAccess() bool { return u.IsActive() && !IsTerminating(u) }

// MembershipChanged reports whether an update of a ScimRole or ScimRoleMembers from old to cur may
// change who is in a role: anything but its status and the metadata the API server keeps. Anything
// else, or objects of different kinds, counts as a change.
func MembershipChanged(old, cur any) bool {
	o, ok1 := old.(metav1.Object)
	c, ok2 := cur.(metav1.Object)
	if !ok1 || !ok2 {
		return true
	}
	if o.GetUID() != c.GetUID() || o.GetGeneration() != c.GetGeneration() || !o.GetDeletionTimestamp().Equal(c.GetDeletionTimestamp()) ||
		!equality.Semantic.DeepEqual(o.GetOwnerReferences(), c.GetOwnerReferences()) {
		return true
	}
	switch o := o.(type) {
	case *ScimRole:
		c, ok := c.(*ScimRole)
		return !ok || !equality.Semantic.DeepEqual(o.Spec, c.Spec)
	case *ScimRoleMembers:
		c, ok := c.(*ScimRoleMembers)
		return !ok || !equality.Semantic.DeepEqual(o.Spec, c.Spec)
	}
	return true
}

// AccessChanged reports whether an update of a user from old to cur changes the subjects of its
// roles' bindings: it gained or lost access, or its userName changed.
func AccessChanged(old, cur *ScimUser) bool {
	return old.HasAccess() != cur.HasAccess() || old.Spec.UserName != cur.Spec.UserName
}

// IsTerminating reports whether obj is being deleted: to SCIM it is gone already, and it grants
// nothing while the operator removes what it granted.
func IsTerminating(obj metav1.Object) bool { return obj.GetDeletionTimestamp() != nil }

// HasFinalizerAccess reports whether obj carries FinalizerAccess.
func HasFinalizerAccess(obj metav1.Object) bool {
	return slices.Contains(obj.GetFinalizers(), FinalizerAccess)
}

// AddFinalizerAccess adds FinalizerAccess to obj; it reports whether obj changed.
func AddFinalizerAccess(obj metav1.Object) bool {
	if HasFinalizerAccess(obj) {
		return false
	}
	obj.SetFinalizers(append(obj.GetFinalizers(), FinalizerAccess))
	return true
}

// RemoveFinalizerAccess removes FinalizerAccess from obj; it reports whether obj changed.
func RemoveFinalizerAccess(obj metav1.Object) bool {
	if !HasFinalizerAccess(obj) {
		return false
	}
	obj.SetFinalizers(slices.DeleteFunc(slices.Clone(obj.GetFinalizers()), func(f string) bool { return f == FinalizerAccess }))
	return true
}

// ReservedSubjectPrefix starts the user and group names Kubernetes reserves for itself
// (system:anonymous, system:serviceaccount:…, system:node:…, system:masters, …).
const ReservedSubjectPrefix = "system:"

// SubjectName is the name of the RBAC User subject of a user named userName, with prefix the
// operator's --rbac-user-prefix (the API server's --oidc-username-prefix).
func SubjectName(prefix, userName string) string { return prefix + userName }

// IsReservedSubject reports whether name lies in Kubernetes' reserved "system:" namespace. No binding
// the operator writes ever names such a subject: with an empty prefix, a SCIM user named
// system:anonymous would otherwise hand a role's access to every unauthenticated client.
func IsReservedSubject(name string) bool { return strings.HasPrefix(name, ReservedSubjectPrefix) }

// MemberIDs returns the ids (ScimUser names) of the members, in order.
func (s *ScimRoleSpec) MemberIDs() []string {
	ids := make([]string, len(s.Members))
	for i, m := range s.Members {
		ids[i] = m.Value
	}
	return ids
}

// MemberIDs returns the ids (ScimUser names) of the role's members, in order.
func (r *ScimRole) MemberIDs() []string { return r.Spec.MemberIDs() }

// RemoveMember removes the member id from the role; it reports whether the role changed.
func (r *ScimRole) RemoveMember(id string) bool {
	before := len(r.Spec.Members)
	r.Spec.Members = slices.DeleteFunc(slices.Clone(r.Spec.Members), func(m Member) bool { return m.Value == id })
	return len(r.Spec.Members) != before
}

// OwnsShard reports whether shard holds members of r: it names r and r — this very object, by uid
// — is its controller owner. A shard left behind by a deleted role of the same name counts for no
// later one.
func (r *ScimRole) OwnsShard(shard *ScimRoleMembers) bool {
	if shard.Spec.Role != r.Name || IsTerminating(shard) {
		return false
	}
	owner := metav1.GetControllerOfNoCopy(shard)
	return owner != nil && owner.UID == r.UID && owner.Kind == "ScimRole" && owner.Name == r.Name
}

// RoleMembers returns the members of role given shards, the ScimRoleMembers naming it: the role's
// own spec.members, then those of each shard the role owns (OwnsShard), in the order given, each id
// once. Everything that reads a role's membership — SCIM, the controllers, the clean-up of a
// deleted user — reads it through this function, so that a role and its shards are one set.
func RoleMembers(role *ScimRole, shards []ScimRoleMembers) []Member {
	n := len(role.Spec.Members)
	owned := make([]*ScimRoleMembers, 0, len(shards))
	for i := range shards {
		if role.OwnsShard(&shards[i]) {
			owned = append(owned, &shards[i])
			n += len(shards[i].Spec.Members)
		}
	}
	if len(owned) == 0 {
		return role.Spec.Members
	}
	out := make([]Member, 0, n)
	seen := make(map[string]bool, n)
	add := func(members []Member) {
		for _, m := range members {
			if !seen[m.Value] {
				seen[m.Value] = true
				out = append(out, m)
			}
		}
	}
	add(role.Spec.Members)
	for _, s := range owned {
		add(s.Spec.Members)
	}
	return out
}

// RoleMemberIDs returns the ids of RoleMembers(role, shards).
func RoleMemberIDs(role *ScimRole, shards []ScimRoleMembers) []string {
	return (&ScimRoleSpec{Members: RoleMembers(role, shards)}).MemberIDs()
}

// ShardName returns the name of role's shard number n: "<role>.members-<n>", or, for a role whose
// name leaves no room for the suffix, a hash of the name in its place.
func ShardName(role string, n int) string {
	suffix := fmt.Sprintf(".members-%d", n)
	if len(role)+len(suffix) > 253 {
		h := sha256.Sum256([]byte(role))
		role = "r-" + hex.EncodeToString(h[:16])
	}
	return role + suffix
}

// NewShard returns role's empty shard number n: named by ShardName, naming the role, labelled
// with LabelRole and controlled by the role (owner reference), so that it goes with the role.
func NewShard(role *ScimRole, n int) *ScimRoleMembers {
	shard := &ScimRoleMembers{}
	shard.Name = ShardName(role.Name, n)
	shard.Labels = map[string]string{LabelRole: role.Name}
	shard.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(role, GroupVersion.WithKind("ScimRole"))}
	shard.Spec.Role = role.Name
	return shard
}

// MemberIDs returns the ids (ScimUser names) of the shard's members, in order.
func (s *ScimRoleMembersSpec) MemberIDs() []string {
	return (&ScimRoleSpec{Members: s.Members}).MemberIDs()
}

// RemoveMember removes the member id from the shard; it reports whether the shard changed.
func (s *ScimRoleMembers) RemoveMember(id string) bool {
	before := len(s.Spec.Members)
	s.Spec.Members = slices.DeleteFunc(slices.Clone(s.Spec.Members), func(m Member) bool { return m.Value == id })
	return len(s.Spec.Members) != before
}

// IdentityKey returns the key a userName or a role's displayName is unique by: two names are the same
// name when their keys are equal. Uniqueness checks, the cache indexes, generated ids and `eq` filters
// on those attributes all compare by this key and by nothing else.
//
// The key is Unicode compatibility caseless matching (The Unicode Standard §3.13, D146),
// NFKC(Fold(NFKC(Fold(NFD(s))))) with full default case folding, with leading and trailing white
// space trimmed. Compatibility (NFKC) rather than canonical (NFC) normalization is deliberate: a
// name is an identity, and a second identity must not be squatted under a look-alike of the first.
// NFKC also unifies what NFC keeps apart: fullwidth forms ("ＳＡＭ" is "sam"), ligatures ("ﬁ" is "fi"),
// the Kelvin and Ohm signs, superscripts. Wrongly calling two names the same costs a 409 the
// identity provider reports; wrongly calling them different lets one user hold a name that reads as
// another's. Full case folding makes "ſ" (long s) "s" and "ß" "ss"; the fold is not Turkic, so "I"
// is "i" and "ı" (dotless i) stays apart.
//
// White space around a name does not tell names apart: a role displayName may carry it (the key
// ignores it, so "Admins " and "Admins" collide), a userName may not (ValidateUserName). White space
// inside a name is kept as it is.
//
// An ASCII name without surrounding white space gets exactly strings.ToLower(s), the key ids were
// derived from before, so ids generated for ASCII names do not change.
func IdentityKey(s string) string {
	if isASCII(s) {
		return strings.ToLower(strings.TrimSpace(s))
	}
	fold := cases.Fold()
	key := norm.NFD.String(s)
	key = norm.NFKC.String(fold.String(key))
	key = norm.NFKC.String(fold.String(key))
	return strings.TrimSpace(key)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ValidateUserName returns why userName cannot name a user, or nil: it must not be blank, and it must
// not begin or end with white space, since it becomes the name of the user's RBAC User subject,
// which the API server compares exactly. The CRD's rules on spec.userName say the same to kubectl
// writes; white space is what strings.TrimSpace (and CEL's trim()) removes.
func ValidateUserName(userName string) error {
	trimmed := strings.TrimSpace(userName)
	switch {
	case trimmed == "":
		return errors.New("userName is required and must not be blank")
	case trimmed != userName:
		return fmt.Errorf("userName %q must not begin or end with white space: it is the name of the user's RBAC subject", userName)
	}
	return nil
}
