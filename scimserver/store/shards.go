package store

// Large groups: a role lists its first members itself (spec.members, up to InlineMembers) and the
// rest in ScimRoleMembers shards it owns (up to MembersPerShard each), so that no object grows
// with a group and a member PATCH writes only the objects it touches. A role and its shards are
// one set of members (v1.RoleMembers); every write of a role goes through updateGroup, under the
// role's write lock.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/index"
)

// Defaults of Store.InlineMembers and Store.MembersPerShard: a role lists up to 1,000 members
// itself, as it always did, and a group of 100,000 has 50 shards of 2,000. A PATCH writes one
// shard, whose size (not the group's) its cost follows: 2,000 members are about 120 KiB.
const (
	DefaultInlineMembers   = 1000
	DefaultMembersPerShard = 2000
)

// inlineMembers is the most members the store keeps in a role itself.
func (s *Store) inlineMembers() int {
	if s.InlineMembers > 0 {
		return s.InlineMembers
	}
	return DefaultInlineMembers
}

// membersPerShard is the most members the store puts in one shard.
func (s *Store) membersPerShard() int {
	if s.MembersPerShard > 0 {
		return min(s.MembersPerShard, v1.MaxMembersPerShard)
	}
	return DefaultMembersPerShard
}

// shardsOf returns the shards role owns (v1.ScimRole.OwnsShard), in name order, from the cache or
// live. Those from the cache are the cache's objects: read-only.
func (s *Store) shardsOf(ctx context.Context, role *v1.ScimRole, live bool) ([]v1.ScimRoleMembers, error) {
	all, err := s.shardsNaming(ctx, role.Name, live)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(sh v1.ScimRoleMembers) bool { return !role.OwnsShard(&sh) }), nil
}

// shardsNaming returns every shard whose spec.role is name, owned or not, in name order.
func (s *Store) shardsNaming(ctx context.Context, name string, live bool) ([]v1.ScimRoleMembers, error) {
	list := &v1.ScimRoleMembersList{}
	var err error
	if live {
		err = s.Live.List(ctx, list, client.MatchingLabels{v1.LabelRole: name})
	} else {
		err = s.Client.List(ctx, list, client.MatchingFields{index.ShardRole.Name: name}, client.UnsafeDisableDeepCopy)
	}
	if err != nil {
		return nil, apiError(err, "the members of group "+name)
	}
	items := slices.DeleteFunc(list.Items, func(sh v1.ScimRoleMembers) bool { return sh.Spec.Role != name })
	slices.SortFunc(items, func(a, b v1.ScimRoleMembers) int { return compareShardNames(a.Name, b.Name) })
	return items, nil
}

// compareShardNames orders shard names by their number, so that shard 10 follows shard 9.
func compareShardNames(a, b string) int {
	if na, nb := shardNumber(a), shardNumber(b); na != nb {
		return na - nb
	}
	return strings.Compare(a, b)
}

// shardNumber is the n of a name v1.ShardName made, or -1.
func shardNumber(name string) int {
	i := strings.LastIndex(name, ".members-")
	if i < 0 {
		return -1
	}
	n, err := strconv.Atoi(name[i+len(".members-"):])
	if err != nil {
		return -1
	}
	return n
}

// groupVersion is the weak ETag of a role with its shards: the role's resourceVersion, and for a
// sharded role a hash of its shards' names and resourceVersions, so that a write of any of them,
// or a shard going away, gives the group a new version.
func groupVersion(r *v1.ScimRole, shards []v1.ScimRoleMembers) string {
	if len(shards) == 0 {
		return version(r)
	}
	h := sha256.New()
	for _, sh := range shards {
		fmt.Fprintf(h, "%s\x00%s\x00", sh.Name, sh.ResourceVersion)
	}
	return fmt.Sprintf("W/%q", r.ResourceVersion+"-"+hex.EncodeToString(h.Sum(nil)[:6]))
}

// membership is a role and its shards as one write sees them: what it changes is kept apart
// (copy on write) until commit.
type membership struct {
	s *Store
	// role is the write's own copy of the role.
	role *v1.ScimRole
	// shards are the role's shards as read: read-only.
	shards []v1.ScimRoleMembers
	// next is the number for a new shard: past every shard that names the role.
	next int
	// live tells whether shards were read live; from the cache, members are found through the
	// ShardMember index.
	live bool
	// changed are the write's copies of the shards it changes, by position in shards; created are
	// the shards it adds.
	changed map[int]*v1.ScimRoleMembers
	created []*v1.ScimRoleMembers
	// holders maps each member of a live read to the positions of the shards holding it (built on
	// first use).
	holders map[string][]int
}

// shard returns the shard at position i as the write sees it.
func (m *membership) shard(i int) *v1.ScimRoleMembers {
	if c := m.changed[i]; c != nil {
		return c
	}
	return &m.shards[i]
}

// writable returns the write's own copy of the shard at position i.
func (m *membership) writable(i int) *v1.ScimRoleMembers {
	if m.changed[i] == nil {
		m.changed[i] = m.shards[i].DeepCopy()
	}
	return m.changed[i]
}

// current returns the shards as the write sees them, created ones included.
func (m *membership) current() []v1.ScimRoleMembers {
	out := make([]v1.ScimRoleMembers, 0, len(m.shards)+len(m.created))
	for i := range m.shards {
		if sh := m.shard(i); len(sh.Spec.Members) > 0 {
			out = append(out, *sh)
		}
	}
	for _, sh := range m.created {
		out = append(out, *sh)
	}
	return out
}

// all returns every member of the role, as RoleMembers does.
func (m *membership) all() []v1.Member { return v1.RoleMembers(m.role, m.current()) }

// sharded tells whether the role has shards.
func (m *membership) sharded() bool { return len(m.shards) > 0 || len(m.created) > 0 }

// holding returns the positions of the shards that hold member id.
func (m *membership) holding(ctx context.Context, id string) ([]int, error) {
	if len(m.shards) == 0 {
		return nil, nil
	}
	if m.live {
		if m.holders == nil {
			m.holders = map[string][]int{}
			for i := range m.shards {
				for _, v := range m.shards[i].Spec.MemberIDs() {
					m.holders[v] = append(m.holders[v], i)
				}
			}
		}
		return m.holders[id], nil
	}
	list := &v1.ScimRoleMembersList{}
	if err := m.s.Client.List(ctx, list, client.MatchingFields{index.ShardMember.Name: id}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, apiError(err, "the groups of "+id)
	}
	var out []int
	for _, sh := range list.Items {
		if i := slices.IndexFunc(m.shards, func(x v1.ScimRoleMembers) bool { return x.Name == sh.Name }); i >= 0 {
			out = append(out, i)
		}
	}
	return out, nil
}

// lookup returns the members among ids that the role has, in the order of ids: what a PATCH that
// names its members by value needs to see of a group, whatever its size.
func (m *membership) lookup(ctx context.Context, ids []string) ([]v1.Member, error) {
	inline := make(map[string]v1.Member, len(m.role.Spec.Members))
	for _, mem := range m.role.Spec.Members {
		inline[mem.Value] = mem
	}
	var out []v1.Member
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if mem, ok := inline[id]; ok {
			out = append(out, mem)
			continue
		}
		at, err := m.holding(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, i := range at {
			if j := slices.IndexFunc(m.shard(i).Spec.Members, func(x v1.Member) bool { return x.Value == id }); j >= 0 {
				out = append(out, m.shard(i).Spec.Members[j])
				break
			}
		}
	}
	return out, nil
}

// change turns the members before (all of the role's, or those lookup found) into after: removed
// members leave whichever objects hold them, members whose display changed are updated where they
// are, and new members are placed (place). A role without shards whose members fit inline takes
// after as it is, as do full rewrites (full: before is every member) that fit inline, which then
// drop every shard.
func (m *membership) change(ctx context.Context, before, after []v1.Member, full bool) error {
	if len(after) <= m.s.inlineMembers() && (full || !m.sharded()) && (full || len(m.role.Spec.Members) == len(before)) {
		m.role.Spec.Members = after
		for i := range m.shards {
			m.writable(i).Spec.Members = nil
		}
		m.created = nil
		return nil
	}
	want := make(map[string]v1.Member, len(after))
	for _, mem := range after {
		want[mem.Value] = mem
	}
	had := make(map[string]bool, len(before))
	for _, mem := range before {
		had[mem.Value] = true
		if a, ok := want[mem.Value]; !ok {
			if err := m.remove(ctx, mem.Value); err != nil {
				return err
			}
		} else if a.Display != mem.Display {
			if err := m.update(ctx, a); err != nil {
				return err
			}
		}
	}
	var added []v1.Member
	for _, mem := range after {
		if !had[mem.Value] {
			added = append(added, mem)
		}
	}
	m.place(added)
	return nil
}

// remove removes member id from the role and from every shard holding it.
func (m *membership) remove(ctx context.Context, id string) error {
	m.role.RemoveMember(id)
	at, err := m.holding(ctx, id)
	if err != nil {
		return err
	}
	for _, i := range at {
		if slices.ContainsFunc(m.shard(i).Spec.Members, func(x v1.Member) bool { return x.Value == id }) {
			m.writable(i).RemoveMember(id)
		}
	}
	return nil
}

// update rewrites the display of member mem where the role or its shards hold it.
func (m *membership) update(ctx context.Context, mem v1.Member) error {
	if i := slices.IndexFunc(m.role.Spec.Members, func(x v1.Member) bool { return x.Value == mem.Value }); i >= 0 {
		m.role.Spec.Members[i] = mem
	}
	at, err := m.holding(ctx, mem.Value)
	if err != nil {
		return err
	}
	for _, i := range at {
		if j := slices.IndexFunc(m.shard(i).Spec.Members, func(x v1.Member) bool { return x.Value == mem.Value }); j >= 0 {
			m.writable(i).Spec.Members[j] = mem
		}
	}
	return nil
}

// place adds new members in order, all into the first object with room for all of them — the
// role (up to InlineMembers), then each shard (up to MembersPerShard) — or else into new shards,
// so that a PATCH of new members writes one object.
func (m *membership) place(added []v1.Member) {
	if len(added) == 0 {
		return
	}
	if len(m.role.Spec.Members)+len(added) <= m.s.inlineMembers() {
		m.role.Spec.Members = append(slices.Clone(m.role.Spec.Members), added...)
		return
	}
	per := m.s.membersPerShard()
	for i := range m.shards {
		if len(m.shard(i).Spec.Members)+len(added) <= per {
			sh := m.writable(i)
			sh.Spec.Members = append(sh.Spec.Members, added...)
			return
		}
	}
	for _, sh := range m.created {
		if len(sh.Spec.Members)+len(added) <= per {
			sh.Spec.Members = append(sh.Spec.Members, added...)
			return
		}
	}
	for chunk := range slices.Chunk(added, per) {
		sh := v1.NewShard(m.role, m.next)
		m.next++
		sh.Spec.Members = slices.Clone(chunk)
		m.created = append(m.created, sh)
	}
}

// dirty tells whether commit has shards to write.
func (m *membership) dirty() bool {
	for i, c := range m.changed {
		if !equality.Semantic.DeepEqual(c.Spec.Members, m.shards[i].Spec.Members) {
			return true
		}
	}
	return len(m.created) > 0
}

// commit writes the shards the write changed, each with its resourceVersion as precondition: new
// ones are created, emptied ones deleted. A conflict (AlreadyExists for a shard another replica
// created a moment ago) sends updateGroup back to a live read. It waits for the cache to observe
// every write.
func (m *membership) commit(ctx context.Context) error {
	var written, deleted []client.Object
	for _, sh := range m.created {
		if err := m.s.Client.Create(ctx, sh); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(v1.GroupVersion.WithResource("scimrolemembers").GroupResource(), sh.Name, err)
			}
			return err
		}
		written = append(written, sh)
	}
	for i, c := range m.changed {
		if equality.Semantic.DeepEqual(c.Spec.Members, m.shards[i].Spec.Members) {
			continue
		}
		if len(c.Spec.Members) == 0 {
			rv := c.ResourceVersion
			if err := m.s.Client.Delete(ctx, c, client.Preconditions{ResourceVersion: &rv}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			deleted = append(deleted, c)
			continue
		}
		if err := m.s.Client.Update(ctx, c); err != nil {
			return err
		}
		written = append(written, c)
	}
	for _, obj := range written {
		m.s.waitForCache(ctx, obj, false)
	}
	for _, obj := range deleted {
		m.s.waitForCache(ctx, obj, true)
	}
	return nil
}

// readMembership reads role id, from the cache or live, and its shards.
func (s *Store) readMembership(ctx context.Context, id string, live bool) (*membership, error) {
	r := &v1.ScimRole{}
	var err error
	if live {
		err = s.getLive(ctx, id, r)
	} else {
		err = s.get(ctx, id, r)
	}
	if err != nil {
		return nil, err
	}
	naming, err := s.shardsNaming(ctx, r.Name, live)
	if err != nil {
		return nil, err
	}
	m := &membership{s: s, role: r, live: live, changed: map[int]*v1.ScimRoleMembers{}}
	for _, sh := range naming {
		m.next = max(m.next, shardNumber(sh.Name)+1)
		if r.OwnsShard(&sh) {
			m.shards = append(m.shards, sh)
		}
	}
	return m, nil
}

// updateGroup applies mutate to role id and its shards and writes what changed — the shards first,
// then the role — if the role passes checkUpdate; as updateObject, it starts from the cache,
// honours If-Match against the group's version, decides a write that changes nothing on a live
// read, and on a conflict starts again from a live read, so that no concurrent write is lost. It
// returns the role and its shards as written.
func (s *groups) updateGroup(ctx context.Context, w Write, id string, mutate func(*membership) error) (*v1.ScimRole, []v1.ScimRoleMembers, error) {
	// Lock order: a role before the users it marks (mutate touches users), never back.
	defer s.writes.lock(fmt.Sprintf("%T/%s", &v1.ScimRole{}, id))()
	validate := s.checkUpdate(ctx, id)
	var role *v1.ScimRole
	var shards []v1.ScimRoleMembers
	live := false
	err := retry.OnError(conflictBackoff, func(err error) bool { return apierrors.IsConflict(err) || err == errDecideLive }, func() error {
		fromCache := !live
		m, err := s.readMembership(ctx, id, live)
		live = true
		if err != nil {
			return err
		}
		if err := checkIfMatch(w.IfMatch, groupVersion(m.role, m.shards)); err != nil {
			if fromCache {
				return errDecideLive // the cache may be behind the version the client holds
			}
			return err
		}
		before := m.role.DeepCopy()
		if err := mutate(m); err != nil {
			return err
		}
		if err := validate(before, m.role); err != nil {
			return err
		}
		roleChanged := !equality.Semantic.DeepEqual(before, m.role)
		if !roleChanged && !m.dirty() {
			if fromCache {
				// Nothing to write according to the cache, which may miss another replica's write
				// that this request would undo: decide on the stored objects.
				return errDecideLive
			}
			role, shards = m.role, m.current()
			return nil
		}
		if err := m.commit(ctx); err != nil {
			return err
		}
		if roleChanged {
			if err := s.Client.Update(ctx, m.role); err != nil {
				return err
			}
			s.waitForCache(ctx, m.role, false)
		}
		role, shards = m.role, m.current()
		return nil
	})
	if err != nil {
		return nil, nil, apiError(err, "Resource "+id)
	}
	return role, shards, nil
}

// withoutMembersKey marks a context of WithoutMembers.
type withoutMembersKey struct{}

// WithoutMembers returns ctx telling the Groups reads (Get, Page) of the store to render groups
// without their members: for a request whose response leaves them out (excludedAttributes=members),
// so that it costs what an empty group's does however large the group. Never for a request that
// filters or sorts, which reads members.
func WithoutMembers(ctx context.Context) context.Context {
	return context.WithValue(ctx, withoutMembersKey{}, true)
}

// groupResourceWithoutMembers is groupResource without the members attribute.
func groupResourceWithoutMembers(r *v1.ScimRole, shards []v1.ScimRoleMembers) *Resource {
	doc := groupDoc(r, nil, shards)
	delete(doc, "members")
	return &Resource{ID: r.Name, Doc: doc, Version: groupVersion(r, shards), Location: "Groups/" + r.Name}
}
