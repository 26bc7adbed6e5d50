// Package index defines the field indexes over the manager's cache that the controllers and the SCIM
// server read through. A cache can index a field name once, and both parts run in one manager, so
// an index is defined here once and registered by whichever part asks for it first.
package index

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// Index is a field index: a name and the values it indexes an object type by.
type Index struct {
	// Name is the field name that client.MatchingFields selects by.
	Name string
	// Object is the indexed type.
	Object client.Object
	// Extract returns the values an object is indexed by: for a bucketed index (Bucketed), the
	// buckets of its keys.
	Extract client.IndexerFunc
	// keyOf, for a bucketed index, returns the key an object has, "" for none.
	keyOf func(client.Object) string
}

// Buckets is how many buckets a bucketed index spreads its keys over. Set it before an index is
// registered (a test sets 1 to make every key collide); never while a cache indexes.
var Buckets uint64 = 1 << 14

// bucketSeed seeds the bucket hash: buckets live in this process's cache only.
var bucketSeed = maphash.MakeSeed()

// bucketOf returns the bucket (index value) of key.
func bucketOf(key string) string {
	return strconv.FormatUint(maphash.String(bucketSeed, key)%Buckets, 36)
}

// bucketed returns the index name of obj whose values are the buckets of the one key keyOf
// returns. A unique key indexed as itself costs a set of one object per value in client-go's
// indexer, about 350 bytes per object (BenchmarkIndexHeap); a bucket's set holds the few objects
// whose keys share it, so the index costs a set slot per object. A lookup (Keyed) reads the
// bucket and keeps the objects that have the key itself.
func bucketed(name string, obj client.Object, keyOf func(client.Object) string) Index {
	return Index{Name: name, Object: obj, keyOf: keyOf, Extract: func(o client.Object) []string {
		if key := keyOf(o); key != "" {
			return []string{bucketOf(key)}
		}
		return nil
	}}
}

// value returns the index value to select the objects with key by: key itself, or its bucket.
// A bucket holds other keys' objects too: keep those that match.
func (ix Index) value(key string) string {
	if ix.keyOf == nil {
		return key
	}
	return bucketOf(key)
}

// matches reports whether obj, selected by value(key), has key: always, for an index of keys.
func (ix Index) matches(obj client.Object, key string) bool {
	return ix.keyOf == nil || ix.keyOf(obj) == key
}

// Keyed returns a reader of c whose List lists, through ix, the objects that have key: those
// under value(key) that match. Its Get is c's.
func (ix Index) Keyed(c client.Reader, key string) client.Reader {
	return keyedReader{Reader: c, ix: ix, key: key}
}

type keyedReader struct {
	client.Reader
	ix  Index
	key string
}

func (r keyedReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := r.Reader.List(ctx, list, append(opts, client.MatchingFields{r.ix.Name: r.ix.value(r.key)})...); err != nil {
		return err
	}
	if r.ix.keyOf == nil {
		return nil
	}
	items, err := apimeta.ExtractList(list)
	if err != nil {
		return err
	}
	return apimeta.SetList(list, slices.DeleteFunc(items, func(o runtime.Object) bool {
		return !r.ix.matches(o.(client.Object), r.key)
	}))
}

// The indexes.
var (
	// RoleMember indexes ScimRoles by the value (ScimUser name) of each member: member → roles.
	RoleMember = Index{Name: "spec.members.value", Object: &v1.ScimRole{}, Extract: func(o client.Object) []string {
		return o.(*v1.ScimRole).MemberIDs()
	}}
	// ShardMember indexes ScimRoleMembers by the value (ScimUser name) of each member: with
	// RoleMember, member → roles for roles whose members are sharded.
	ShardMember = Index{Name: "spec.members.value", Object: &v1.ScimRoleMembers{}, Extract: func(o client.Object) []string {
		return o.(*v1.ScimRoleMembers).Spec.MemberIDs()
	}}
	// ShardRole indexes ScimRoleMembers by spec.role: role → its shards.
	ShardRole = Index{Name: "spec.role", Object: &v1.ScimRoleMembers{}, Extract: func(o client.Object) []string {
		return []string{o.(*v1.ScimRoleMembers).Spec.Role}
	}}
	// UserNameFolded indexes ScimUsers by the identity key (v1.IdentityKey) of spec.userName, which
	// is unique; bucketed.
	UserNameFolded = bucketed("scim.userName", &v1.ScimUser{}, func(o client.Object) string {
		return v1.IdentityKey(o.(*v1.ScimUser).Spec.UserName)
	})
	// UserExternalID indexes ScimUsers by spec.externalId; bucketed.
	UserExternalID = bucketed("scim.externalId", &v1.ScimUser{}, func(o client.Object) string {
		return o.(*v1.ScimUser).Spec.ExternalID
	})
	// RoleDisplayNameFolded indexes ScimRoles by the identity key (v1.IdentityKey) of
	// spec.displayName, which is unique; bucketed.
	RoleDisplayNameFolded = bucketed("scim.displayName", &v1.ScimRole{}, func(o client.Object) string {
		return v1.IdentityKey(o.(*v1.ScimRole).Spec.DisplayName)
	})
	// RoleExternalID indexes ScimRoles by spec.externalId; bucketed.
	RoleExternalID = bucketed("scim.externalId", &v1.ScimRole{}, func(o client.Object) string {
		return o.(*v1.ScimRole).Spec.ExternalID
	})
)

var (
	mu         sync.Mutex
	registered = map[client.FieldIndexer]map[string]bool{}
)

// Register registers the indexes with indexer, skipping those already registered with it.
func Register(ctx context.Context, indexer client.FieldIndexer, indexes ...Index) error {
	mu.Lock()
	defer mu.Unlock()
	done := registered[indexer]
	if done == nil {
		done = map[string]bool{}
		registered[indexer] = done
	}
	for _, ix := range indexes {
		key := fmt.Sprintf("%T/%s", ix.Object, ix.Name)
		if done[key] {
			continue
		}
		if err := indexer.IndexField(ctx, ix.Object, ix.Name, ix.Extract); err != nil {
			return fmt.Errorf("index %T by %s: %w", ix.Object, ix.Name, err)
		}
		done[key] = true
	}
	return nil
}

// UsersNamed lists from c (the cache) the users whose userName is exactly userName, through
// UserNameFolded: users with equal userNames have equal identity keys, so the users of the key's
// bucket, compared exactly, are those of the name. One index of every user serves the SCIM server's
// lookups by identity key and the controllers' and the authorizer's by exact name (a second one,
// of the exact name, held 17 MB of heap over 50,000 users in a client-go indexer). They are the cache's
// objects: read-only.
func UsersNamed(ctx context.Context, c client.Reader, userName string) ([]v1.ScimUser, error) {
	var list v1.ScimUserList
	if err := UserNameFolded.Keyed(c, v1.IdentityKey(userName)).List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list the users named %q: %w", userName, err)
	}
	return slices.DeleteFunc(list.Items, func(u v1.ScimUser) bool { return u.Spec.UserName != userName }), nil
}

// ShardsOf lists from c (the cache) the shards role owns (v1.ScimRole.OwnsShard), in name order.
// They are the cache's objects: read-only.
func ShardsOf(ctx context.Context, c client.Reader, role *v1.ScimRole) ([]v1.ScimRoleMembers, error) {
	var list v1.ScimRoleMembersList
	if err := c.List(ctx, &list, client.MatchingFields{ShardRole.Name: role.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list the member shards of role %s: %w", role.Name, err)
	}
	items := slices.DeleteFunc(list.Items, func(s v1.ScimRoleMembers) bool { return !role.OwnsShard(&s) })
	slices.SortFunc(items, func(a, b v1.ScimRoleMembers) int { return strings.Compare(a.Name, b.Name) })
	return items, nil
}

// RolesWithMember lists from c (the cache) the roles that have the user named id as a member,
// listing it themselves (RoleMember) or through a shard they own (ShardMember), each once, in no
// particular order. They are the cache's objects: read-only.
func RolesWithMember(ctx context.Context, c client.Reader, id string) ([]v1.ScimRole, error) {
	var roles v1.ScimRoleList
	if err := c.List(ctx, &roles, client.MatchingFields{RoleMember.Name: id}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list the roles of %s: %w", id, err)
	}
	var shards v1.ScimRoleMembersList
	if err := c.List(ctx, &shards, client.MatchingFields{ShardMember.Name: id}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list the member shards of %s: %w", id, err)
	}
	found := make([]*v1.ScimRole, 0, len(roles.Items))
	for i := range roles.Items {
		found = append(found, &roles.Items[i])
	}
	found, err := withShardRoles(found, shardPointers(shards.Items), func(name string) (*v1.ScimRole, error) {
		r := &v1.ScimRole{}
		err := c.Get(ctx, client.ObjectKey{Name: name}, r, client.UnsafeDisableDeepCopy)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return r, err
	})
	if err != nil {
		return nil, err
	}
	out := make([]v1.ScimRole, 0, len(found))
	for _, r := range found {
		out = append(out, *r)
	}
	return out, nil
}

func shardPointers(shards []v1.ScimRoleMembers) []*v1.ScimRoleMembers {
	out := make([]*v1.ScimRoleMembers, 0, len(shards))
	for i := range shards {
		out = append(out, &shards[i])
	}
	return out
}

// withShardRoles adds to roles, the roles that list a member themselves, the role of each of
// shards (the shards that list it) that owns the shard (v1.ScimRole.OwnsShard) and is not among
// them yet. get reads a role by name, nil when there is none.
func withShardRoles(roles []*v1.ScimRole, shards []*v1.ScimRoleMembers, get func(name string) (*v1.ScimRole, error)) ([]*v1.ScimRole, error) {
	for _, sh := range shards {
		if slices.ContainsFunc(roles, func(r *v1.ScimRole) bool { return r.Name == sh.Spec.Role }) {
			continue
		}
		r, err := get(sh.Spec.Role)
		if err != nil {
			return nil, fmt.Errorf("get role %s: %w", sh.Spec.Role, err)
		}
		if r != nil && r.OwnsShard(sh) {
			roles = append(roles, r)
		}
	}
	return roles, nil
}
