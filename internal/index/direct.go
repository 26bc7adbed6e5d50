package index

// Direct reads of the cache: the informers' own indexers, without controller-runtime's reader. A
// List through the cache resolves the list's kind, copies each object it finds into the list by
// reflection and allocates the list, and a Get copies the object likewise; a GET of a user reads
// the user and its roles on every request, and those reads were a fifth of the manager's CPU under
// GETs. Read here, a lookup is an index read and a slice of pointers.

import (
	"context"
	"fmt"
	"slices"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// Informers are where NewDirect finds the informers of users, roles and shards: the manager's
// cache.
type Informers interface {
	GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error)
}

// Direct reads users and the roles of a user from the informers' indexers.
type Direct struct {
	users, roles, shards toolscache.SharedIndexInformer
}

// The names controller-runtime gives a field index and its values in an informer's indexer (its
// pkg/cache/internal FieldIndexName and KeyToNamespacedKey): "field:" + the field, and the value
// under the "__all_namespaces" namespace for a cluster-scoped object. NewDirect checks both
// against the indexers registered, so a change of them fails the manager's start, not a lookup.
const (
	fieldIndexPrefix = "field:"
	clusterKeyPrefix = "__all_namespaces/"
)

// NewDirect returns the direct reader of informers, which must have RoleMember and ShardMember
// registered (Register). Call it before the informers start. It fails when an informer is not a
// client-go SharedIndexInformer or does not index as controller-runtime's cache does.
func NewDirect(ctx context.Context, informers Informers) (*Direct, error) {
	m := &Direct{}
	inf, err := informers.GetInformer(ctx, &v1.ScimUser{}, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, fmt.Errorf("informer of %T: %w", &v1.ScimUser{}, err)
	}
	var ok bool
	if m.users, ok = inf.(toolscache.SharedIndexInformer); !ok {
		return nil, fmt.Errorf("the informer of %T is a %T, not a SharedIndexInformer", &v1.ScimUser{}, inf)
	}
	for _, x := range []struct {
		into  *toolscache.SharedIndexInformer
		obj   client.Object
		index Index
		probe client.Object
	}{
		{&m.roles, &v1.ScimRole{}, RoleMember,
			&v1.ScimRole{Spec: v1.ScimRoleSpec{Members: []v1.Member{{Value: "probe"}}}}},
		{&m.shards, &v1.ScimRoleMembers{}, ShardMember,
			&v1.ScimRoleMembers{Spec: v1.ScimRoleMembersSpec{Members: []v1.Member{{Value: "probe"}}}}},
	} {
		inf, err := informers.GetInformer(ctx, x.obj, cache.BlockUntilSynced(false))
		if err != nil {
			return nil, fmt.Errorf("informer of %T: %w", x.obj, err)
		}
		shared, ok := inf.(toolscache.SharedIndexInformer)
		if !ok {
			return nil, fmt.Errorf("the informer of %T is a %T, not a SharedIndexInformer", x.obj, inf)
		}
		fn := shared.GetIndexer().GetIndexers()[fieldIndexPrefix+x.index.Name]
		if fn == nil {
			return nil, fmt.Errorf("the informer of %T has no index %s%s", x.obj, fieldIndexPrefix, x.index.Name)
		}
		if vals, err := fn(x.probe); err != nil || !slices.Equal(vals, []string{clusterKeyPrefix + "probe"}) {
			return nil, fmt.Errorf("index %s of %T keys a member as %q (%v), not %q", x.index.Name, x.obj, vals, err, clusterKeyPrefix+"probe")
		}
		*x.into = shared
	}
	return m, nil
}

// User returns the cached ScimUser named name, the cache's own object (read-only), or nil when the
// cache holds none; and false when the informer has not synced yet, for the caller to read through
// the cache, which waits for it.
func (m *Direct) User(name string) (*v1.ScimUser, bool) {
	if !m.users.HasSynced() {
		return nil, false
	}
	obj, exists, err := m.users.GetIndexer().GetByKey(name)
	if u, ok := obj.(*v1.ScimUser); err == nil && exists && ok {
		return u, true
	}
	return nil, true
}

// Users returns the cached ScimUsers that index (one of the user indexes registered, such as
// UserNameFolded) holds under key (of a bucketed index: those of key's bucket that have key), the
// cache's own objects (read-only), and true; or false when the informer has not synced yet or has
// no such index, for the caller to list through the cache.
func (m *Direct) Users(index Index, key string) ([]*v1.ScimUser, bool, error) {
	indexer := m.users.GetIndexer()
	if !m.users.HasSynced() || indexer.GetIndexers()[fieldIndexPrefix+index.Name] == nil {
		return nil, false, nil
	}
	objs, err := indexer.ByIndex(fieldIndexPrefix+index.Name, clusterKeyPrefix+index.value(key))
	if err != nil {
		return nil, true, fmt.Errorf("the users of %s %q: %w", index.Name, key, err)
	}
	var users []*v1.ScimUser
	for _, o := range objs {
		if u := o.(*v1.ScimUser); index.matches(u, key) {
			users = append(users, u)
		}
	}
	return users, true, nil
}

// RolesWithMember returns what the function RolesWithMember lists from the cache, as the cache's
// own objects (read-only), and true; or false when the informers have not synced yet, for the
// caller to list through the cache, which waits for them.
func (m *Direct) RolesWithMember(id string) ([]*v1.ScimRole, bool, error) {
	if !m.roles.HasSynced() || !m.shards.HasSynced() {
		return nil, false, nil
	}
	key := clusterKeyPrefix + id
	objs, err := m.roles.GetIndexer().ByIndex(fieldIndexPrefix+RoleMember.Name, key)
	if err != nil {
		return nil, true, fmt.Errorf("the roles of %s: %w", id, err)
	}
	roles := make([]*v1.ScimRole, 0, len(objs))
	for _, o := range objs {
		roles = append(roles, o.(*v1.ScimRole))
	}
	objs, err = m.shards.GetIndexer().ByIndex(fieldIndexPrefix+ShardMember.Name, key)
	if err != nil {
		return nil, true, fmt.Errorf("the member shards of %s: %w", id, err)
	}
	shards := make([]*v1.ScimRoleMembers, 0, len(objs))
	for _, o := range objs {
		shards = append(shards, o.(*v1.ScimRoleMembers))
	}
	roles, err = withShardRoles(roles, shards, func(name string) (*v1.ScimRole, error) {
		obj, exists, err := m.roles.GetIndexer().GetByKey(name)
		if r, ok := obj.(*v1.ScimRole); err == nil && exists && ok {
			return r, nil
		}
		return nil, err
	})
	return roles, true, err
}
