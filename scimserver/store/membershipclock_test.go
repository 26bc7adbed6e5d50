package store

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/cachetest"
)

// listCounter counts the lists read through it: a user's roles are looked up by one.
type listCounter struct {
	*cachetest.Cache
	lists atomic.Int64
}

func (c *listCounter) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	c.lists.Add(1)
	return c.Cache.List(ctx, list, opts...)
}

// TestAUsersRenderingKeepsItsRolesUntilAMembershipChanges checks that, with the store watching
// memberships, a GET of a user whose rendering is current does not look its roles up again; that
// a role's status write leaves it so; and that a new role listing the user, an edit of a role's
// members or displayName, a member shard, a role's deletion and the store's own role writes each
// have the next GET look them up and show them. Without the watch, every GET looks them up.
func TestAUsersRenderingKeepsItsRolesUntilAMembershipChanges(t *testing.T) {
	ctx := context.Background()
	c := cachetest.New(cachetest.Tenant(10, 3)...)
	if err := RegisterIndexes(ctx, c); err != nil {
		t.Fatal(err)
	}
	counter := &listCounter{Cache: c}
	s := &Store{Client: counter, Live: counter}
	id := cachetest.UserID(3)
	get := func(wantLookup bool, what string) string {
		t.Helper()
		before := counter.lists.Load()
		r, err := s.Users().GetEncoded(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if looked := counter.lists.Load() > before; looked != wantLookup {
			t.Errorf("%s: looked the roles up %v, want %v", what, looked, wantLookup)
		}
		return string(r.JSON)
	}
	get(true, "unwatched, first GET")
	get(true, "unwatched, second GET")

	if err := s.WatchMemberships(ctx, c); err != nil {
		t.Fatal(err)
	}
	first := get(true, "watched, first GET")
	if again := get(false, "watched, again"); again != first {
		t.Fatalf("the rendering changed without a change: %s", again)
	}

	role := func(name string) *v1.ScimRole {
		r := &v1.ScimRole{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	// update writes the role named name as change leaves it, and returns it.
	update := func(name string, change func(*v1.ScimRole)) *v1.ScimRole {
		r := role(name)
		change(r)
		if err := c.Update(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	roleName := func(j int) string { return fmt.Sprintf("r-%016x", j) }
	update(roleName(0), func(r *v1.ScimRole) { r.Status.MemberCount = 42 })
	get(false, "after a role's status write")

	added := &v1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: "r-new", UID: "uid-r-new"},
		Spec: v1.ScimRoleSpec{DisplayName: "Newcomers", Members: []v1.Member{{Value: id}}}}
	if err := c.Create(ctx, added); err != nil {
		t.Fatal(err)
	}
	if got := get(true, "after a new role lists the user"); !strings.Contains(got, `"Newcomers"`) {
		t.Errorf("a new role of the user is not among its groups: %s", got)
	}
	get(false, "again")

	update("r-new", func(r *v1.ScimRole) { r.Spec.DisplayName = "Old hands" })
	if got := get(true, "after the role's rename"); !strings.Contains(got, `"Old hands"`) || strings.Contains(got, `"Newcomers"`) {
		t.Errorf("the renamed role's old name is served: %s", got)
	}

	left := update("r-new", func(r *v1.ScimRole) { r.Spec.Members = nil })
	if got := get(true, "after the user left the role"); strings.Contains(got, `"Old hands"`) {
		t.Errorf("a role the user left is among its groups: %s", got)
	}

	// Back through a member shard the role owns, then out with the role's deletion.
	yes := true
	shard := &v1.ScimRoleMembers{ObjectMeta: metav1.ObjectMeta{Name: "r-new-1", UID: "uid-r-new-1",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: v1.GroupVersion.String(), Kind: "ScimRole", Name: "r-new", UID: left.UID, Controller: &yes}}},
		Spec: v1.ScimRoleMembersSpec{Role: "r-new", Members: []v1.Member{{Value: id}}}}
	if err := c.Create(ctx, shard); err != nil {
		t.Fatal(err)
	}
	if got := get(true, "after a shard of the role lists the user"); !strings.Contains(got, `"Old hands"`) {
		t.Errorf("a role that lists the user in its shard is not among its groups: %s", got)
	}
	get(false, "again")
	if err := c.Delete(ctx, role("r-new")); err != nil {
		t.Fatal(err)
	}
	if got := get(true, "after the role's deletion"); strings.Contains(got, `"Old hands"`) {
		t.Errorf("a deleted role is among the user's groups: %s", got)
	}

	// The store's own write of a role counts once the cache holds it, before it is answered.
	written := update(roleName(1), func(*v1.ScimRole) {}) // as the write's API call
	get(false, "after an update that changes no member")  // so that only the store's own tick shows below
	reading, _ := s.memberships.read()
	s.waitForCache(ctx, written, false)
	if now, _ := s.memberships.read(); now == reading {
		t.Error("a role written by the store did not move the membership clock")
	}
	get(true, "after the store's own role write")
}
