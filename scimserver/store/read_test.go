package store

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/cachetest"
	"github.com/scim-operator/scim-operator/scimserver/schema"
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
// the total — the same resources, in the same order, those being deleted left out — whether it
// reads through the order of names (IndexOrder) or lists every object.
func TestPageIsAPageOfTheList(t *testing.T) {
	ctx := context.Background()
	for _, ordered := range []bool{false, true} {
		objs := cachetest.Tenant(250, 20)
		gone := metav1.Now()
		for _, o := range []client.Object{objs[3], objs[120], objs[260]} {
			o.SetDeletionTimestamp(&gone) // two users, a role
		}
		s := pagingStore(t, ordered, objs...)
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
						t.Errorf("ordered %v: %s Page(%d, %d): %d resources of %d, want %d of %d", ordered, rs.Type().Name, offset, count, len(page), total, len(want), len(all))
					}
				}
			}
		}
	}
}

// TestPageReadsItsOwnWrites checks that a page read right after a create holds the new user, and
// one read right after a user is being deleted does not.
func TestPageReadsItsOwnWrites(t *testing.T) {
	ctx := context.Background()
	s := pagingStore(t, true, cachetest.Tenant(10, 2)...)
	doc := map[string]any{"schemas": []any{schema.UserURN}, "userName": "aaa@example.com"}
	created, err := s.Users().Create(ctx, Write{Provider: "okta"}, doc)
	if err != nil {
		t.Fatal(err)
	}
	page, total, err := s.Users().Page(ctx, 0, 100)
	if err != nil || total != 11 || !slices.ContainsFunc(page, func(r *Resource) bool { return r.ID == created.ID }) {
		t.Fatalf("after the create: %d of %d, %v", len(page), total, err)
	}
	u := &v1.ScimUser{}
	if err := s.Client.Get(ctx, client.ObjectKey{Name: created.ID}, u); err != nil {
		t.Fatal(err)
	}
	gone := metav1.Now()
	u.DeletionTimestamp = &gone
	if err := s.Client.Update(ctx, u); err != nil {
		t.Fatal(err)
	}
	if page, total, _ := s.Users().Page(ctx, 0, 100); total != 10 || len(page) != 10 {
		t.Errorf("after the deletion: %d of %d, want 10 of 10", len(page), total)
	}
}

// pagingStore returns a store over an in-memory cache of objs, with the order of names if ordered.
func pagingStore(t *testing.T, ordered bool, objs ...client.Object) *Store {
	t.Helper()
	ctx := context.Background()
	c := cachetest.New(objs...)
	if err := RegisterIndexes(ctx, c); err != nil {
		t.Fatal(err)
	}
	s := &Store{Client: c, Live: c}
	if ordered {
		if err := s.IndexOrder(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// hangingReader is an API server that never answers a read: each waits for its context.
type hangingReader struct{ client.Reader }

func (hangingReader) Get(ctx context.Context, _ client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestAReadThatMissesTheCacheIsBounded checks that a GET of a user the cache does not hold, whose
// live read the API server never answers, fails as unavailable (503, not "may have been applied")
// once the write timeout has passed, instead of waiting as long as the API server hangs.
func TestAReadThatMissesTheCacheIsBounded(t *testing.T) {
	c := cachetest.New(cachetest.Tenant(3, 1)...)
	if err := RegisterIndexes(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	timeout := 100 * time.Millisecond
	s := &Store{Client: c, Live: hangingReader{c}, WriteTimeout: timeout}
	for _, get := range map[string]func() error{
		"Get":        func() error { _, err := s.Users().Get(context.Background(), "not-cached"); return err },
		"GetEncoded": func() error { _, err := s.Users().GetEncoded(context.Background(), "not-cached"); return err },
	} {
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- get() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(time.Minute):
			t.Fatal("the read waited for the hung API server")
		}
		var unavailable *UnavailableError
		if !errors.As(err, &unavailable) || unavailable.TimedOut != 0 {
			t.Errorf("a read the API server did not answer: %v (%T), want an UnavailableError without TimedOut", err, err)
		}
		if elapsed := time.Since(start); elapsed < timeout {
			t.Errorf("answered after %s, before the timeout %s", elapsed, timeout)
		}
	}
}
