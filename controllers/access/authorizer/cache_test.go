package authorizer

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/index"
)

// The webhook over controller-runtime's informer cache — the manager's own code, index included —
// fed by a list and a watch of ScimUsers in memory instead of an API server.

// userSource lists users and then streams the events sent to it.
type userSource struct {
	users   []identityv1alpha1.ScimUser
	watcher *watch.FakeWatcher
}

func (s *userSource) List(metav1.ListOptions) (runtime.Object, error) {
	return &identityv1alpha1.ScimUserList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}, Items: s.users}, nil
}

func (s *userSource) Watch(metav1.ListOptions) (watch.Interface, error) { return s.watcher, nil }

// IsWatchListSemanticsUnSupported makes the reflector list, then watch: the source sends no
// initial-events bookmark.
func (s *userSource) IsWatchListSemanticsUnSupported() bool { return true }

// informerCache returns a started, synced cache of users with the index.UserNameFolded index, the
// ScimUser informer, and the watcher through which events reach it.
func informerCache(tb testing.TB, users []identityv1alpha1.ScimUser) (cache.Cache, cache.Informer, *watch.FakeWatcher) {
	tb.Helper()
	src := &userSource{users: users, watcher: watch.NewFakeWithChanSize(1024, false)}
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(identityv1alpha1.GroupVersion.WithKind("ScimUser"), meta.RESTScopeRoot)
	c, err := cache.New(&rest.Config{Host: "https://127.0.0.1:1"}, cache.Options{
		Scheme: scheme, Mapper: mapper,
		NewInformer: func(_ toolscache.ListerWatcher, obj runtime.Object, resync time.Duration, indexers toolscache.Indexers) toolscache.SharedIndexInformer {
			return toolscache.NewSharedIndexInformer(src, obj, resync, indexers)
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	if err := index.Register(ctx, c, index.UserNameFolded); err != nil {
		tb.Fatal(err)
	}
	inf, err := c.GetInformer(ctx, &identityv1alpha1.ScimUser{})
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		tb.Fatal("the cache did not sync")
	}
	return c, inf, src.watcher
}

// TestDeniedAtTheFirstCacheEvent suspends a user through one watch event: the first review after
// the cache has handled it is denied, and so after a deletion.
func TestDeniedAtTheFirstCacheEvent(t *testing.T) {
	alice := *user("a-alice", "alice@example.com")
	c, inf, events := informerCache(t, []identityv1alpha1.ScimUser{alice})
	seen := make(chan struct{}, 2)
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(any, any) { seen <- struct{}{} },
	}); err != nil {
		t.Fatal(err)
	}
	a := New(c, "oidc:")
	spec := &authorizationv1.SubjectAccessReviewSpec{User: "oidc:alice@example.com"}
	review := func() authorizationv1.SubjectAccessReviewStatus {
		t.Helper()
		status, err := a.Review(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		return status
	}
	if status := review(); status.Denied {
		t.Fatalf("active user: %+v", status)
	}

	for _, step := range []struct {
		change func(*identityv1alpha1.ScimUser)
		reason string
	}{
		{suspendedBy(identityv1alpha1.SuspendedByProvider), "ScimUser a-alice is suspended (by provider)"},
		{deleted, "ScimUser a-alice is being deleted"},
	} {
		step.change(&alice)
		alice.ResourceVersion = fmt.Sprint(len(step.reason)) // any new version
		events.Modify(alice.DeepCopy())
		<-seen // handlers run once the cache's indexer holds the change
		if status := review(); !status.Denied || status.Reason != ReasonPrefix+step.reason {
			t.Errorf("after one event: %+v, want denied: %s", status, step.reason)
		}
	}
}

// BenchmarkServeHTTP measures what the webhook adds to a request: decoding a review, the cache
// lookup and the answer, with every core asking at once, a cache of 50,000 users, and users
// suspended and reactivated throughout. It reports percentiles per review; the network between
// the API server and the webhook is not in it (see BenchmarkServeTLS).
//
//	go test ./controllers/access/authorizer/ -run '^$' -bench ServeHTTP -benchtime 200000x
func BenchmarkServeHTTP(b *testing.B) {
	c, bodies, stop := loadedCache(b, 50000)
	defer stop()
	a := New(c, "oidc:")
	var next atomic.Int64
	lat := &latencies{}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			body := bodies[next.Add(1)%int64(len(bodies))]
			start := time.Now()
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
			mine = append(mine, time.Since(start))
			if rec.Code != http.StatusOK {
				b.Errorf("%d %s", rec.Code, rec.Body)
			}
		}
		lat.add(mine)
	})
	b.StopTimer()
	lat.report(b)
}

// loadedCache returns a cache of n users — one in ten suspended — the
// bodies of reviews for them and for users that are not provisioned, and a function that stops
// the writer that suspends and reactivates users all along.
func loadedCache(b *testing.B, n int) (cache.Cache, []string, func()) {
	b.Helper()
	users := make([]identityv1alpha1.ScimUser, n)
	for i := range users {
		users[i] = *user(fmt.Sprintf("a-%d", i), fmt.Sprintf("user-%d@example.com", i))
		if i%10 == 0 {
			suspendedBy(identityv1alpha1.SuspendedByProvider)(&users[i])
		}
	}
	c, _, events := informerCache(b, users)
	bodies := make([]string, 0, 1000)
	for i := range cap(bodies) {
		name := fmt.Sprintf("oidc:user-%d@example.com", i*(n/1000))
		if i%20 == 0 {
			name = fmt.Sprintf("oidc:nobody-%d@example.com", i)
		}
		bodies = append(bodies, fmt.Sprintf(`{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview",`+
			`"spec":{"user":%q,"groups":["oidc:team-a","system:authenticated"],"uid":"u-%d",`+
			`"resourceAttributes":{"namespace":"team-a","verb":"list","group":"apps","version":"v1","resource":"deployments"}}}`, name, i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			u := users[(i*7919)%n].DeepCopy()
			u.Spec.Active = new(i%2 == 0)
			u.ResourceVersion = fmt.Sprint(i + 2)
			events.Modify(u)
		}
	})
	return c, bodies, func() { cancel(); wg.Wait() }
}

// latencies collects the durations of operations from several goroutines.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, d...)
}

// report reports the 50th, 99th and 99.9th percentiles and the maximum in microseconds.
func (l *latencies) report(b *testing.B) {
	slices.Sort(l.all)
	if len(l.all) == 0 {
		return
	}
	at := func(p float64) float64 { return float64(l.all[int(p*float64(len(l.all)-1))].Nanoseconds()) / 1000 }
	b.ReportMetric(at(0.5), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(at(0.999), "p99.9-µs")
	b.ReportMetric(at(1), "max-µs")
}
