package store

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
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
