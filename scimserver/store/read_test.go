package store

import (
	"context"
	"math"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scim-operator/scim-operator/internal/cachetest"
)

// TestReadsLeaveTheCacheUnchanged checks that rendering what the cache holds, which the reads do
// without copying it, changes none of its objects.
func TestReadsLeaveTheCacheUnchanged(t *testing.T) {
	ctx := context.Background()
	objs := cachetest.Tenant(50, 10)
	want := make([]client.Object, len(objs))
	for i, o := range objs {
		want[i] = o.DeepCopyObject().(client.Object)
	}
	c := cachetest.New(objs...)
	if err := RegisterIndexes(ctx, c); err != nil {
		t.Fatal(err)
	}
	s := &Store{Client: c, Live: c}
	for _, rs := range []Resources{s.Users(), s.Groups()} {
		all, err := rs.List(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range all {
			// What a client may do with a resource it got: the cache must not see it.
			r.Doc["displayName"] = "changed"
			if groups, ok := r.Doc["groups"].([]any); ok && len(groups) > 0 {
				groups[0].(map[string]any)["display"] = "changed"
			}
			if members, ok := r.Doc["members"].([]any); ok && len(members) > 0 {
				members[0].(map[string]any)["display"] = "changed"
			}
			if _, err := rs.Get(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, o := range objs {
		if !equality.Semantic.DeepEqual(o, want[i]) {
			t.Errorf("reading changed the cache's %T %s", o, o.GetName())
		}
	}
}

// TestPageIsAPageOfTheList checks that Page returns what List returns, paged, and its length as
// the total: the same resources, in the same order, those being deleted left out.
func TestPageIsAPageOfTheList(t *testing.T) {
	ctx := context.Background()
	objs := cachetest.Tenant(250, 20)
	gone := metav1.Now()
	for _, o := range []client.Object{objs[3], objs[120], objs[260]} {
		o.SetDeletionTimestamp(&gone) // two users, a role
	}
	c := cachetest.New(objs...)
	if err := RegisterIndexes(ctx, c); err != nil {
		t.Fatal(err)
	}
	s := &Store{Client: c, Live: c}
	for _, rs := range []Resources{s.Users(), s.Groups()} {
		all, err := rs.List(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, offset := range []int{0, 1, 99, 100, 240, len(all) - 1, len(all), len(all) + 5, math.MaxInt} {
			for _, count := range []int{0, 1, 100, math.MaxInt} {
				page, total, err := rs.Page(ctx, offset, count)
				if err != nil {
					t.Fatal(err)
				}
				from := min(offset, len(all))
				want := all[from : from+min(count, len(all)-from)]
				if total != len(all) || !equality.Semantic.DeepEqual(page, want) {
					t.Errorf("%s Page(%d, %d): %d resources of %d, want %d of %d", rs.Type().Name, offset, count, len(page), total, len(want), len(all))
				}
			}
		}
	}
}
