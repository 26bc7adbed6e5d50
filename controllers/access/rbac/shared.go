package rbac

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
	"github.com/scim-operator/scim-operator/internal/index"
)

// The shared layout (Options.Shared): one set of bindings per grant — a ClusterRole cluster-wide,
// or a Role or ClusterRole in one namespace — holding the union of the active members of every
// role that grants it. A user in 1,000 roles that grant view is then a subject of one binding, not
// 1,000: suspending the user is one write, and the API server's RBAC authorizer, which walks the
// subjects of every ClusterRoleBinding for each request of every client, walks a fifth as many at
// five roles per user.
//
// A shared binding carries the role label empty (so the operator's cache of bindings holds both
// layouts, and a binding of either layout is never taken for the other) and the grant label; it
// has no owner: no single role controls it. Applying one grant reads every role that grants it, so
// applications of a grant are serialized and coalesced: a role that asks while another application
// is running waits for it and then for one more that starts after it asked, which covers every role
// that asked meanwhile.

const (
	// sharedPrefix starts the name of every shared binding.
	sharedPrefix = "scim-shared-"

	// indexGrant indexes shared bindings by grantKey of what they grant, and all of them under
	// anyGrant.
	indexGrant = "shared.grant"
	anyGrant   = "*"
	// indexSubject indexes shared bindings by the names of their User subjects.
	indexSubject = "shared.subject"
	// indexRoleGrant indexes ScimRoles that are not being deleted by grantKey of each grant.
	indexRoleGrant = "spec.access.grant"

	// cacheWait bounds how long an application of a shared grant waits for the cache to show
	// what it wrote, so that the next application does not write over a stale resourceVersion.
	cacheWait = 5 * time.Second
)

// GrantLabelValue is the value of the LabelGrant label of the shared bindings of g.
func GrantLabelValue(g access.Grant) string { return grantKey(g) }

// grantKey identifies a grant in the grant label and the indexes.
func grantKey(g access.Grant) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{g.Kind, g.Namespace, g.Name}, "\x00")))
	return hex.EncodeToString(sum[:])[:hashLen]
}

// sharedBase is the name shared by the bindings of a shared grant before the index suffix:
// scim-shared-<granted role>-<hash of the grant>.
func sharedBase(g access.Grant) string {
	return sharedPrefix + truncate(g.Name, maxGrantInName) + "-" + grantKey(g)
}

// isShared reports whether obj is a shared binding: the operator's (it has the role label) and no
// single role's (the label is empty).
func isShared(obj client.Object) bool {
	role, ok := obj.GetLabels()[identityv1alpha1.LabelRole]
	return ok && role == ""
}

func grantOfShared(obj client.Object) []string {
	if !isShared(obj) {
		return nil
	}
	return []string{grantKey(wrap(obj).grant()), anyGrant}
}

func subjectsOfShared(obj client.Object) []string {
	if !isShared(obj) {
		return nil
	}
	subjects := *wrap(obj).subjects
	names := make([]string, 0, len(subjects))
	for _, s := range subjects {
		if s.Kind == rbacv1.UserKind && s.APIGroup == rbacv1.GroupName {
			names = append(names, s.Name)
		}
	}
	return names
}

func grantsOfRole(obj client.Object) []string {
	role := obj.(*identityv1alpha1.ScimRole)
	if identityv1alpha1.IsTerminating(role) {
		return nil
	}
	grants := access.GrantsOf(role.Spec.Access)
	keys := make([]string, len(grants))
	for i, g := range grants {
		keys[i] = grantKey(g)
	}
	return keys
}

// sharedState is what the system keeps for shared grants.
type sharedState struct {
	mu     sync.Mutex
	grants map[access.Grant]*grantState
	// tickets orders requests and applications of every grant.
	tickets atomic.Uint64
	// inputs counts the changes to what an application reads (roles, member shards, users' access,
	// shared bindings edited by others): Observe and changeOf move it.
	inputs atomic.Uint64
	// written holds the resourceVersion of the shared bindings the system last wrote, by
	// bindingKey, so that their watch events are not taken for someone else's edit.
	written sync.Map
	// members keeps each role's active members as an application last read them.
	members memberCache
	// contributors are, by grant, the roles its last application read (under mu).
	contributors map[access.Grant]map[string]bool
}

// contributed records the roles an application of g read.
func (st *sharedState) contributed(g access.Grant, roles map[string]bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.contributors == nil {
		st.contributors = map[access.Grant]map[string]bool{}
	}
	st.contributors[g] = roles
}

// grantsWith returns the grants whose last application in this process read the role named role,
// and with unknown those of grants that were not applied in this process.
func (st *sharedState) grantsWith(role string, unknown []access.Grant) []access.Grant {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []access.Grant
	for g, roles := range st.contributors {
		if roles[role] {
			out = append(out, g)
		}
	}
	for _, g := range unknown {
		if _, ok := st.contributors[g]; !ok && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// memberCache keeps the active members of each role (Options.Members) between applications, so that
// an application reads again only the roles that changed: at 250,000 memberships reading every
// role's is most of an application. An entry holds while the role and its shards keep their
// resourceVersions and no user of the role changed its access (epochs, moved by Observe).
type memberCache struct {
	mu      sync.Mutex
	entries map[string]memberEntry
	// epochs count, by role name, the user changes that may change the role's active members;
	// all counts them for every role.
	epochs map[string]uint64
	all    uint64
}

type memberEntry struct {
	key   string
	epoch uint64
	users []string
}

// epoch is the count of user changes of the role named role.
func (mc *memberCache) epoch(role string) uint64 {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return mc.epochs[role] + mc.all
}

// userChanged notes a change of a user's access in roles (every role when roles is nil).
func (mc *memberCache) userChanged(roles []identityv1alpha1.ScimRole, all bool) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if all {
		mc.all++
		return
	}
	if mc.epochs == nil {
		mc.epochs = map[string]uint64{}
	}
	for i := range roles {
		mc.epochs[roles[i].Name]++
	}
}

// forget drops what the cache keeps for the role named role, deleted.
func (mc *memberCache) forget(role string) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	delete(mc.entries, role)
	delete(mc.epochs, role)
}

// membersOf returns the active members of role, from the cache when they cannot have changed.
func (s *System) membersOf(ctx context.Context, role *identityv1alpha1.ScimRole) ([]string, error) {
	mc := &s.shared.members
	shards, err := index.ShardsOf(ctx, s.client, role)
	if err != nil {
		return nil, err
	}
	var key strings.Builder
	key.WriteString(string(role.UID) + "/" + role.ResourceVersion)
	for i := range shards {
		key.WriteString("/" + shards[i].Name + "=" + shards[i].ResourceVersion)
	}
	// The epoch is read before the members: a user change after it moves it again.
	epoch := mc.epoch(role.Name)
	mc.mu.Lock()
	e, ok := mc.entries[role.Name]
	mc.mu.Unlock()
	if ok && e.key == key.String() && e.epoch == epoch {
		return e.users, nil
	}
	users, err := s.opts.Members(ctx, role)
	if err != nil {
		return nil, err
	}
	mc.mu.Lock()
	if mc.entries == nil {
		mc.entries = map[string]memberEntry{}
	}
	mc.entries[role.Name] = memberEntry{key: key.String(), epoch: epoch, users: users}
	mc.mu.Unlock()
	return users, nil
}

// grantState serializes the applications of one grant and keeps the last one's outcome.
type grantState struct {
	mu sync.Mutex
	// began is the ticket the last application took as it began; reading the inputs it read then.
	began   uint64
	reading uint64
	applied bool
	changed bool
	refs    []identityv1alpha1.BindingReference
	err     error
}

func newSharedState() sharedState { return sharedState{grants: map[access.Grant]*grantState{}} }

func (st *sharedState) of(g access.Grant) *grantState {
	st.mu.Lock()
	defer st.mu.Unlock()
	gs := st.grants[g]
	if gs == nil {
		gs = &grantState{}
		st.grants[g] = gs
	}
	return gs
}

// wrote records a successful write of b, when it is shared.
func (st *sharedState) wrote(b binding, err error) {
	if err == nil && isShared(b) {
		st.written.Store(bindingKey(b), b.GetResourceVersion())
	}
}

// own reports whether obj is, as far as the system knows, what it last wrote.
func (st *sharedState) own(obj client.Object) bool {
	rv, ok := st.written.Load(bindingKey(wrap(obj)))
	return ok && rv == obj.GetResourceVersion()
}

func bindingKey(b binding) string { return b.kind() + "/" + b.GetNamespace() + "/" + b.GetName() }

// applyShared is Apply in the shared layout. The bindings of the role's grants are applied, and
// those of grants it contributed to but no longer declares; the bindings of its own layout, from
// a run without Options.Shared, go once its grants hold.
func (s *System) applyShared(ctx context.Context, role *identityv1alpha1.ScimRole, users []string) (access.Result, error) {
	var result access.Result
	grants := access.GrantsOf(role.Spec.Access)
	for _, g := range grants {
		changed, refs, err := s.applySharedGrant(ctx, g)
		result.Changed = result.Changed || changed
		if err == nil {
			refs, err = s.refsHolding(ctx, g, refs, users)
		}
		result.Bindings = append(result.Bindings, refs...)
		if err != nil {
			result.Failures = append(result.Failures, access.Failure{Grant: g, Forbidden: apierrors.IsForbidden(err), Err: err})
		}
	}
	// Grants whose last application read the role but that it no longer declares. (A grant not
	// applied since the process started is brought up to date by the sweep at start.)
	for _, g := range s.shared.grantsWith(role.Name, nil) {
		if slices.Contains(grants, g) {
			continue
		}
		changed, _, err := s.applySharedGrant(ctx, g)
		result.Changed = result.Changed || changed
		if err != nil {
			return result, fmt.Errorf("apply %s, no longer granted by role %s: %w", g, role.Name, err)
		}
	}
	// The role's own bindings go, but those of a grant that failed: until its shared bindings
	// hold, they are what its members have.
	owned, err := s.bindingsOf(ctx, role.Name)
	if err != nil {
		return result, err
	}
	owned = slices.DeleteFunc(owned, func(b binding) bool { return failed(result, b.grant()) })
	if len(owned) == 0 {
		return result, nil
	}
	result.Changed = true
	return result, s.deleteAll(ctx, owned)
}

// failed reports whether grant g is among result's failures.
func failed(result access.Result, g access.Grant) bool {
	return slices.ContainsFunc(result.Failures, func(f access.Failure) bool { return f.Grant == g })
}

// refsHolding returns those of refs, the bindings of shared grant g, that name one of users (or
// the first, when none does: the status still records the grant), so that a role's status does
// not change when a binding that holds none of its members comes or goes.
func (s *System) refsHolding(ctx context.Context, g access.Grant, refs []identityv1alpha1.BindingReference, users []string) ([]identityv1alpha1.BindingReference, error) {
	if len(refs) <= 1 {
		return refs, nil
	}
	held := map[string]bool{}
	for _, u := range users {
		holding, err := s.sharedHolding(ctx, identityv1alpha1.SubjectName(s.opts.UserPrefix, u))
		if err != nil {
			return nil, err
		}
		for _, b := range holding {
			if slices.Contains(refs, b.ref()) {
				held[b.GetName()] = true
			}
		}
		if len(held) >= len(refs) {
			break
		}
	}
	out := slices.DeleteFunc(slices.Clone(refs), func(r identityv1alpha1.BindingReference) bool { return !held[r.Name] })
	if len(out) == 0 {
		out = refs[:1]
	}
	return out, nil
}

// applySharedGrant applies grant g: its bindings hold exactly the active members of the roles that
// grant it. Concurrent callers are coalesced (see the top of this file). It reports whether the
// application wrote and the bindings that hold the grant.
func (s *System) applySharedGrant(ctx context.Context, g access.Grant) (bool, []identityv1alpha1.BindingReference, error) {
	ticket := s.shared.tickets.Add(1)
	gs := s.shared.of(g)
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.began > ticket {
		// An application that began after this call read the cache after it: it covers it.
		return gs.changed, gs.refs, gs.err
	}
	reading := s.shared.inputs.Load()
	if gs.applied && gs.err == nil && gs.reading == reading {
		// Nothing the last application read has changed since it began (a role's status
		// reconcile, the other roles of a coalesced batch): it holds.
		return false, gs.refs, nil
	}
	gs.began, gs.reading = s.shared.tickets.Add(1), reading
	gs.changed, gs.refs, gs.err = s.writeShared(ctx, g)
	gs.applied = true
	return gs.changed, gs.refs, gs.err
}

// Observe counts, in inputs, every change of a role, member shard or user that may change what an
// application of a shared grant writes, and moves the member cache's epochs of the roles of a user
// whose access changed. The controllers call it in the handler that queues the reconciles a change
// causes, before queueing them (access.System): an application that reads inputs then either
// finds them moved or began after the change was counted, and reads the cache after it.
func (s *System) Observe(ctx context.Context, old, cur client.Object) {
	if !s.opts.Shared {
		return
	}
	obj := cur
	if obj == nil {
		obj = old
	}
	switch o := obj.(type) {
	case *identityv1alpha1.ScimUser:
		prev, ok1 := old.(*identityv1alpha1.ScimUser)
		next, ok2 := cur.(*identityv1alpha1.ScimUser)
		if ok1 && ok2 && !identityv1alpha1.AccessChanged(prev, next) {
			return
		}
		roles, err := index.RolesWithMember(ctx, s.client, o.Name)
		s.shared.members.userChanged(roles, err != nil)
	case *identityv1alpha1.ScimRole:
		if old != nil && cur != nil && !identityv1alpha1.MembershipChanged(old, cur) {
			return
		}
		if cur == nil {
			s.shared.members.forget(o.Name)
		}
	case *identityv1alpha1.ScimRoleMembers:
		if old != nil && cur != nil && !identityv1alpha1.MembershipChanged(old, cur) {
			return
		}
	}
	s.shared.inputs.Add(1)
}

// writeShared writes the bindings of grant g from the cache's roles and users, and waits until the
// cache shows what it wrote.
func (s *System) writeShared(ctx context.Context, g access.Grant) (bool, []identityv1alpha1.BindingReference, error) {
	var roles identityv1alpha1.ScimRoleList
	if err := s.client.List(ctx, &roles, client.MatchingFields{indexRoleGrant: grantKey(g)}, client.UnsafeDisableDeepCopy); err != nil {
		return false, nil, fmt.Errorf("list the roles that grant %s: %w", g, err)
	}
	existing, err := s.sharedBindingsOf(ctx, g)
	if err != nil {
		return false, nil, err
	}
	wanted := map[string]bool{}
	granted := false
	read := map[string]bool{}
	for i := range roles.Items {
		role := &roles.Items[i]
		if identityv1alpha1.IsTerminating(role) || !slices.Contains(access.GrantsOf(role.Spec.Access), g) {
			continue
		}
		granted = true
		read[role.Name] = true
		members, err := s.membersOf(ctx, role)
		if err != nil {
			return false, nil, fmt.Errorf("members of role %s: %w", role.Name, err)
		}
		for _, u := range members {
			wanted[u] = true
		}
	}
	s.shared.contributed(g, read)
	if !granted {
		// No role grants it any more.
		return len(existing) > 0, nil, s.deleteAll(ctx, existing)
	}
	users := make([]string, 0, len(wanted))
	for u := range wanted {
		users = append(users, u)
	}
	before := map[string]versions{}
	for _, b := range existing {
		v := versions{cached: b.GetResourceVersion()}
		v.written, _ = s.shared.written.Load(bindingKey(b))
		before[b.GetName()] = v
	}
	changed := false
	refs, err := s.applyGrant(ctx, sharedBase(g), g, users, existing, func(name string, members []string) (binding, error) {
		b := newBinding(g, name)
		b.SetLabels(map[string]string{identityv1alpha1.LabelRole: "", identityv1alpha1.LabelGrant: grantKey(g)})
		*b.subjects = subjectsFor(members, s.opts.UserPrefix)
		return b, nil
	}, &changed)
	if changed {
		s.waitCached(ctx, g, refs, before)
	}
	return changed, refs, err
}

// versions are the resourceVersions of a binding before an application: the cache's, and the one
// the system last wrote (nil when it wrote none).
type versions struct {
	cached  string
	written any
}

// waitCached waits, at most cacheWait, until the cache holds each of refs that this application
// wrote (its written resourceVersion moved from before's, by name) at another resourceVersion than
// it had.
func (s *System) waitCached(ctx context.Context, g access.Grant, refs []identityv1alpha1.BindingReference, before map[string]versions) {
	ctx, cancel := context.WithTimeout(ctx, cacheWait)
	defer cancel()
	for _, ref := range refs {
		b := newBinding(g, ref.Name)
		v, existed := before[ref.Name]
		if written, ok := s.shared.written.Load(bindingKey(b)); !ok || written == v.written {
			continue // not written by this application
		}
		for {
			err := s.client.Get(ctx, client.ObjectKeyFromObject(b.Object), b.Object, client.UnsafeDisableDeepCopy)
			if err == nil && (!existed || v.cached != b.GetResourceVersion()) {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
}

// sharedBindingsOf returns the cached shared bindings of grant g, read-only.
func (s *System) sharedBindingsOf(ctx context.Context, g access.Grant) ([]binding, error) {
	found, err := s.listBindings(ctx, client.MatchingFields{indexGrant: grantKey(g)}, "of "+g.String())
	return slices.DeleteFunc(found, func(b binding) bool { return b.grant() != g }), err
}

// sharedHolding returns the cached shared bindings that name the User subject name, read-only.
func (s *System) sharedHolding(ctx context.Context, name string) ([]binding, error) {
	return s.listBindings(ctx, client.MatchingFields{indexSubject: name}, "naming "+name)
}

// deleteSharedOf deletes the shared bindings of grants; it reports whether there were any.
func (s *System) deleteSharedOf(ctx context.Context, grants []access.Grant) (bool, error) {
	deleted := false
	for _, g := range grants {
		existing, err := s.sharedBindingsOf(ctx, g)
		if err != nil {
			return deleted, err
		}
		deleted = deleted || len(existing) > 0
		if err := s.deleteAll(ctx, existing); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// reapplyShared brings every grant that has shared bindings up to date: applied again in the shared
// layout; in the other, deleted when no role grants it (the roles that do delete them once their own
// bindings hold).
//
// With role set, only the grants that role may have contributed to (sharedState.grantsWith) are:
// those whose last application read it, and those not applied in this process yet.
func (s *System) reapplyShared(ctx context.Context, role string) error {
	all, err := s.listBindings(ctx, client.MatchingFields{indexGrant: anyGrant}, "shared")
	if err != nil {
		return err
	}
	var grants []access.Grant
	for _, b := range all {
		if g := b.grant(); !slices.Contains(grants, g) {
			grants = append(grants, g)
		}
	}
	if role != "" {
		grants = s.shared.grantsWith(role, grants)
	}
	var errs []error
	for _, g := range grants {
		if s.opts.Shared {
			if _, _, err := s.applySharedGrant(ctx, g); err != nil {
				errs = append(errs, fmt.Errorf("apply %s: %w", g, err))
			}
			continue
		}
		declared, err := s.rolesGranting(ctx, g)
		if err == nil && declared == "" {
			_, err = s.deleteSharedOf(ctx, []access.Grant{g})
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// rolesGranting returns the name of a role that grants g and is not being deleted (the first by
// name), or "".
func (s *System) rolesGranting(ctx context.Context, g access.Grant) (string, error) {
	var roles identityv1alpha1.ScimRoleList
	if err := s.client.List(ctx, &roles, client.MatchingFields{indexRoleGrant: grantKey(g)}, client.UnsafeDisableDeepCopy); err != nil {
		return "", fmt.Errorf("list the roles that grant %s: %w", g, err)
	}
	first := ""
	for i := range roles.Items {
		role := &roles.Items[i]
		if slices.Contains(access.GrantsOf(role.Spec.Access), g) && (first == "" || role.Name < first) {
			first = role.Name
		}
	}
	return first, nil
}

// sweeper brings the shared bindings up to date once, as the leader starts (reapplyShared): a grant
// whose last role went while the operator was down, or was running with the other layout, keeps
// no binding.
type sweeper struct{ s *System }

// Start retries until the sweep succeeds or ctx ends: a failed sweep leaves what it found, and the
// roles' reconciles apply their own grants meanwhile.
func (w sweeper) Start(ctx context.Context) error {
	for delay := time.Second; ; delay = min(2*delay, time.Minute) {
		err := w.s.reapplyShared(ctx, "")
		if err == nil || ctx.Err() != nil {
			return nil
		}
		ctrl.LoggerFrom(ctx).Error(err, "Cannot bring the shared bindings up to date; retrying", "after", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// NeedLeaderElection makes the sweep run on the leader only, beside the controllers.
func (sweeper) NeedLeaderElection() bool { return true }
