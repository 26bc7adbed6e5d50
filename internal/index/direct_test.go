package index

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// informers serves client-go informers of fixed objects, their field indexes named by keyPrefix
// as controller-runtime names them ("__all_namespaces/" for cluster-scoped objects) or not.
// The manager's own cache is exercised by the SCIM server's suite against a real API server
// (NewDirect's probe fails SetupWithManager there if controller-runtime names them otherwise).
type informers struct {
	keyPrefix string
	objects   map[string][]runtime.Object // by type name
	started   []toolscache.SharedIndexInformer
}

func (f *informers) GetInformer(_ context.Context, obj client.Object, _ ...cache.InformerGetOption) (cache.Informer, error) {
	kind := fmt.Sprintf("%T", obj)
	var list runtime.Object
	indexes := toolscache.Indexers{}
	index := func(ix Index) {
		indexes[fieldIndexPrefix+ix.Name] = func(o any) ([]string, error) {
			var out []string
			for _, v := range ix.Extract(o.(client.Object)) {
				out = append(out, f.keyPrefix+v)
			}
			return out, nil
		}
	}
	switch obj.(type) {
	case *v1.ScimUser:
		list = &v1.ScimUserList{}
		index(UserNameFolded)
	case *v1.ScimRole:
		list = &v1.ScimRoleList{}
		index(RoleMember)
	case *v1.ScimRoleMembers:
		list = &v1.ScimRoleMembersList{}
		index(ShardMember)
	}
	objects := f.objects[kind]
	lw := &toolscache.ListWatch{
		ListFunc: func(metav1.ListOptions) (runtime.Object, error) {
			l := list.DeepCopyObject()
			if err := setItems(l, objects); err != nil {
				return nil, err
			}
			return l, nil
		},
		WatchFunc: func(metav1.ListOptions) (watch.Interface, error) { return watch.NewFake(), nil },
	}
	inf := toolscache.NewSharedIndexInformer(listOnly{lw}, obj, 0, indexes)
	f.started = append(f.started, inf)
	return inf, nil
}

// listOnly makes the reflector list, not ask the fake watch for the initial events.
type listOnly struct{ *toolscache.ListWatch }

func (listOnly) IsWatchListSemanticsUnSupported() bool { return true }

func setItems(list runtime.Object, objects []runtime.Object) error {
	switch l := list.(type) {
	case *v1.ScimUserList:
		for _, o := range objects {
			l.Items = append(l.Items, *o.(*v1.ScimUser))
		}
	case *v1.ScimRoleList:
		for _, o := range objects {
			l.Items = append(l.Items, *o.(*v1.ScimRole))
		}
	case *v1.ScimRoleMembersList:
		for _, o := range objects {
			l.Items = append(l.Items, *o.(*v1.ScimRoleMembers))
		}
	default:
		return fmt.Errorf("no list %T", list)
	}
	return nil
}

func (f *informers) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, inf := range f.started {
		go inf.Run(ctx.Done())
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, inf := range f.started {
		for !inf.HasSynced() {
			if time.Now().After(deadline) {
				t.Fatal("informers did not sync")
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func members(ids ...string) []v1.Member {
	var out []v1.Member
	for _, id := range ids {
		out = append(out, v1.Member{Value: id})
	}
	return out
}

// NewDirect refuses indexes that do not key a member as controller-runtime's cache does: reading
// them would find nothing, and every user would render without its groups.
func TestNewDirectRefusesIndexesKeyedOtherwise(t *testing.T) {
	f := &informers{keyPrefix: "", objects: map[string][]runtime.Object{}}
	if _, err := NewDirect(context.Background(), f); err == nil {
		t.Fatal("NewDirect accepted member indexes keyed without the all-namespaces prefix")
	}
}

// RolesWithMember finds the roles that list a user themselves and those whose owned shards do,
// each once; a shard another role (or a deleted one of the same name) owns does not count; and it
// is the user found, not a copy.
func TestDirectReadsUsersAndTheirRoles(t *testing.T) {
	for _, buckets := range []uint64{Buckets, 1} { // 1: alice's bucket holds bob too
		t.Run(fmt.Sprintf("buckets=%d", buckets), func(t *testing.T) {
			setBuckets(t, buckets)
			testDirectReadsUsersAndTheirRoles(t)
		})
	}
}

func testDirectReadsUsersAndTheirRoles(t *testing.T) {
	role := func(name, uid string, ids ...string) *v1.ScimRole {
		return &v1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + uid)},
			Spec: v1.ScimRoleSpec{DisplayName: name, Members: members(ids...)}}
	}
	shard := func(name, role, ownerUID string, ids ...string) *v1.ScimRoleMembers {
		yes := true
		return &v1.ScimRoleMembers{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: []metav1.OwnerReference{{
			APIVersion: v1.GroupVersion.String(), Kind: "ScimRole", Name: role, UID: types.UID("uid-" + ownerUID), Controller: &yes}}},
			Spec: v1.ScimRoleMembersSpec{Role: role, Members: members(ids...)}}
	}
	alice := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: "a-alice"}, Spec: v1.ScimUserSpec{UserName: "alice"}}
	f := &informers{keyPrefix: clusterKeyPrefix, objects: map[string][]runtime.Object{
		"*v1alpha1.ScimUser": {alice, &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: "a-bob"}, Spec: v1.ScimUserSpec{UserName: "bob"}}},
		"*v1alpha1.ScimRole": {
			role("inline", "1", "a-alice", "a-bob"),
			role("both", "2", "a-alice"),
			role("sharded", "3"),
			role("reborn", "4"), // deleted and created again: its old shard is not its own
			role("other", "5", "a-bob"),
		},
		"*v1alpha1.ScimRoleMembers": {
			shard("both-1", "both", "2", "a-alice"),
			shard("sharded-1", "sharded", "3", "a-bob", "a-alice"),
			shard("reborn-1", "reborn", "old", "a-alice"),
		},
	}}
	d, err := NewDirect(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if _, synced, _ := d.RolesWithMember("a-alice"); synced {
		t.Fatal("RolesWithMember read informers that have not synced")
	}
	if _, read, _ := d.Users(UserNameFolded, v1.IdentityKey("alice")); read {
		t.Fatal("Users read an informer that has not synced")
	}
	f.start(t)
	roles, synced, err := d.RolesWithMember("a-alice")
	if err != nil || !synced {
		t.Fatalf("RolesWithMember: %v (synced %v)", err, synced)
	}
	var names []string
	for _, r := range roles {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	if want := []string{"both", "inline", "sharded"}; !slices.Equal(names, want) {
		t.Errorf("roles of a-alice: %v, want %v", names, want)
	}
	if u, synced := d.User("a-alice"); !synced || u == nil || u.Spec.UserName != "alice" {
		t.Errorf("User(a-alice) = %v, %v", u, synced)
	}
	if u, synced := d.User("a-nobody"); !synced || u != nil {
		t.Errorf("User(a-nobody) = %v, %v; want none", u, synced)
	}
	found, read, err := d.Users(UserNameFolded, v1.IdentityKey("alice"))
	if err != nil || !read || len(found) != 1 || found[0].Spec.UserName != "alice" {
		t.Errorf("Users(UserNameFolded, alice) = %v, %v, %v; want the cached alice", found, read, err)
	}
	if found, read, err := d.Users(UserNameFolded, v1.IdentityKey("nobody")); err != nil || !read || len(found) != 0 {
		t.Errorf("Users(UserNameFolded, nobody) = %v, %v, %v; want none", found, read, err)
	}
	// An index the informer does not have is for the cache reader to refuse.
	if _, read, _ := d.Users(UserExternalID, "x"); read {
		t.Error("Users read an index the informer does not have")
	}
}
