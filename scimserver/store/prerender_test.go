package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/cachetest"
)

// prerenderUsers returns n users with distinct UIDs (the render cache's keys), in role r-1.
func prerenderUsers(n int) []client.Object {
	objs := []client.Object{&v1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: "r-1", ResourceVersion: "1"},
		Spec: v1.ScimRoleSpec{DisplayName: "Guides"}}}
	role := objs[0].(*v1.ScimRole)
	for i := range n {
		name := fmt.Sprintf("a-%d", i)
		objs = append(objs, &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), ResourceVersion: "1"},
			Spec: v1.ScimUserSpec{UserName: fmt.Sprintf("user%d@example.com", i)}})
		role.Spec.Members = append(role.Spec.Members, v1.Member{Value: name})
	}
	return objs
}

// prerenderStore returns a store over an in-memory cache of n users in one role (prerenderUsers)
// with a render cache of cacheSize (0: the default), and the cache.
func prerenderStore(t *testing.T, n, cacheSize int) (*Store, *cachetest.Cache) {
	t.Helper()
	c := cachetest.New(prerenderUsers(n)...)
	if err := RegisterIndexes(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return &Store{Client: c, Live: c, RenderCacheSize: cacheSize}, c
}

// cached returns the rendering the render cache holds for the user named name, or nil.
func cached(t *testing.T, s *Store, c *cachetest.Cache, name string) *rendered {
	t.Helper()
	u := &v1.ScimUser{}
	if err := c.Get(context.Background(), client.ObjectKey{Name: name}, u); err != nil {
		t.Fatal(err)
	}
	e, ok := s.renderCache().entries.Get(u.UID)
	if !ok {
		return nil
	}
	return e
}

// Rendering ahead renders a user's current version with its groups, once; it fills the render
// cache but never pushes a rendering out of a full one, and still refreshes the users it holds.
func TestPrerenderRendersWithinTheCache(t *testing.T) {
	ctx := context.Background()
	s, c := prerenderStore(t, 3, 2)
	p := &Prerenderer{store: s}
	ahead := func() float64 { return testutil.ToFloat64(rendersTotal.WithLabelValues(renderAhead)) }

	before := ahead()
	p.render(ctx, "a-0")
	first := cached(t, s, c, "a-0")
	if first == nil || first.version != "1" || !strings.Contains(string(first.json), `"groups":[{"display":"Guides",`) {
		t.Fatalf("a-0 rendered ahead as %+v, want version 1 in group Guides", first)
	}
	p.render(ctx, "a-0")
	if got := cached(t, s, c, "a-0"); got != first || ahead()-before != 1 {
		t.Fatalf("an unchanged user rendered again (%d renders)", int(ahead()-before))
	}
	p.render(ctx, "a-1")
	p.render(ctx, "a-2") // the cache (2) is full of others
	if cached(t, s, c, "a-2") != nil || cached(t, s, c, "a-0") == nil || cached(t, s, c, "a-1") == nil {
		t.Fatal("rendering ahead pushed a rendering out of a full cache")
	}
	// A changed user the full cache holds is rendered again.
	u := &v1.ScimUser{}
	if err := c.Get(ctx, client.ObjectKey{Name: "a-0"}, u); err != nil {
		t.Fatal(err)
	}
	u.Spec.DisplayName = "Ada"
	if err := c.Update(ctx, u); err != nil {
		t.Fatal(err)
	}
	p.render(ctx, "a-0")
	if got := cached(t, s, c, "a-0"); got == first || got.version != u.ResourceVersion {
		t.Fatalf("a changed user kept its old rendering (version %s, want %s)", got.version, u.ResourceVersion)
	}
	p.render(ctx, "a-404") // gone: nothing to render
	if n := ahead() - before; n != 3 {
		t.Fatalf("%d renders ahead, want 3 (a-0 twice, a-1)", int(n))
	}
}

// The informer's events queue users for rendering ahead: a running Prerenderer renders every user
// the informer holds, without a read.
func TestPrerenderRendersTheInformersUsers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, c := prerenderStore(t, 5, 0)
	if _, err := s.Prerender(ctx, c, 0); err == nil {
		t.Fatal("a delay of 0 was accepted")
	}
	p, err := s.Prerender(ctx, c, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- p.Start(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for s.renderCache().entries.Len() < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 5 users rendered ahead after 10 s", s.renderCache().entries.Len())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 5 {
		if r := cached(t, s, c, fmt.Sprintf("a-%d", i)); r == nil || r.version != "1" {
			t.Fatalf("a-%d: rendered as %+v", i, r)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A user that changes again and again within the delay is rendered once, as it is at the end of
// the delay, not once per change.
func TestPrerenderRendersABurstOfChangesOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, c := prerenderStore(t, 1, 0)
	const delay = 500 * time.Millisecond
	p, err := s.Prerender(ctx, c, delay)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.Start(ctx) }()
	waitFor := func(version string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for r := cached(t, s, c, "a-0"); r == nil || r.version != version; r = cached(t, s, c, "a-0") {
			if time.Now().After(deadline) {
				t.Fatalf("version %s not rendered ahead after 10 s (%+v)", version, r)
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(3 * delay) // and nothing after it
	}
	waitFor("1")
	ahead := testutil.ToFloat64(rendersTotal.WithLabelValues(renderAhead))
	u := &v1.ScimUser{}
	for i := range 5 { // each write is an informer event, all well within the delay (about 50 ms)
		if err := c.Get(ctx, client.ObjectKey{Name: "a-0"}, u); err != nil {
			t.Fatal(err)
		}
		u.Spec.DisplayName = fmt.Sprintf("Ada %d", i)
		if err := c.Update(ctx, u); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // apart: rendered on each event, they would render each
	}
	waitFor(u.ResourceVersion)
	if n := testutil.ToFloat64(rendersTotal.WithLabelValues(renderAhead)) - ahead; n != 1 {
		t.Fatalf("5 changes within the delay rendered %d times, want once", int(n))
	}
}

// A group joined or left changes a role or a shard, not the user: rendering ahead renders the
// members the change adds or removes again (and all of a role's, its shards' too, when it is
// renamed), so that their GETs find renderings that list their groups, and renders no other user.
func TestPrerenderRendersTheMembersAGroupChangeMoves(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, c := prerenderStore(t, 4, 0)
	r1 := &v1.ScimRole{}
	if err := c.Get(ctx, client.ObjectKey{Name: "r-1"}, r1); err != nil {
		t.Fatal(err)
	}
	r1.UID = "uid-r-1"
	r1.Spec.Members = r1.Spec.Members[:3] // a-3 joins r-1 through a shard below
	if err := c.Update(ctx, r1); err != nil {
		t.Fatal(err)
	}
	if err := s.WatchMemberships(ctx, c); err != nil {
		t.Fatal(err)
	}
	p, err := s.Prerender(ctx, c, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.Start(ctx) }()
	onRequest := func() float64 { return testutil.ToFloat64(rendersTotal.WithLabelValues(renderOnRequest)) }
	requests := onRequest()
	// waitFor waits until user name's rendering says want (or, with not, no longer says it).
	waitFor := func(name, want string, not bool) *rendered {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := cached(t, s, c, name)
			if r != nil && strings.Contains(string(r.json), want) != not {
				return r
			}
			if time.Now().After(deadline) {
				var got []byte
				if r != nil {
					got = r.json
				}
				t.Fatalf("%s: after 10 s rendered ahead as %s, want it to say %q: %v", name, got, want, !not)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for i := range 3 {
		waitFor(fmt.Sprintf("a-%d", i), `"Guides"`, false)
	}
	a1 := waitFor("a-1", `"Guides"`, false)

	joined := &v1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: "r-2", UID: "uid-r-2"},
		Spec: v1.ScimRoleSpec{DisplayName: "Pilots", Members: []v1.Member{{Value: "a-0"}}}}
	if err := c.Create(ctx, joined); err != nil {
		t.Fatal(err)
	}
	waitFor("a-0", `"Pilots"`, false)
	joined.Spec.Members = []v1.Member{{Value: "a-2"}}
	if err := c.Update(ctx, joined); err != nil {
		t.Fatal(err)
	}
	waitFor("a-0", `"Pilots"`, true)
	waitFor("a-2", `"Pilots"`, false)

	yes := true
	shard := &v1.ScimRoleMembers{ObjectMeta: metav1.ObjectMeta{Name: v1.ShardName("r-1", 1), UID: "uid-shard",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: v1.GroupVersion.String(), Kind: "ScimRole", Name: "r-1", UID: r1.UID, Controller: &yes}}},
		Spec: v1.ScimRoleMembersSpec{Role: "r-1", Members: []v1.Member{{Value: "a-3"}}}}
	if err := c.Create(ctx, shard); err != nil {
		t.Fatal(err)
	}
	waitFor("a-3", `"Guides"`, false)
	if got := cached(t, s, c, "a-1"); got != a1 {
		t.Error("a user no change moved was rendered again")
	}

	if err := c.Get(ctx, client.ObjectKey{Name: "r-1"}, r1); err != nil {
		t.Fatal(err)
	}
	r1.Spec.DisplayName = "Guides of old"
	if err := c.Update(ctx, r1); err != nil {
		t.Fatal(err)
	}
	for i := range 4 { // a-3 through the shard
		waitFor(fmt.Sprintf("a-%d", i), `"Guides of old"`, false)
	}
	if n := onRequest() - requests; n != 0 {
		t.Errorf("%d users were rendered on request, want none", int(n))
	}
}
