package rbac

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
	"github.com/scim-operator/scim-operator/internal/index"
)

// sharedSystem is a System in the shared layout over a fake client holding objs, whose Members
// counts its calls. A narrow test of the coalescing; the layout itself is tested against the API
// server (controllers' TestSharedBindings).
func sharedSystem(t *testing.T, members *atomic.Int64, objs ...client.Object) *System {
	return sharedSystemWith(t, members, interceptor.Funcs{}, objs...)
}

// viewRole is a ScimRole named name that grants view to members (user ids).
func viewRole(name string, members ...string) *identityv1alpha1.ScimRole {
	r := &identityv1alpha1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: identityv1alpha1.ScimRoleSpec{Access: &identityv1alpha1.Access{ClusterRoles: []string{"view"}}}}
	for _, m := range members {
		r.Spec.Members = append(r.Spec.Members, identityv1alpha1.Member{Value: m})
	}
	return r
}

// sharedSystemWith is sharedSystem with funcs intercepting the fake client's calls.
func sharedSystemWith(t *testing.T, members *atomic.Int64, funcs interceptor.Funcs, objs ...client.Object) *System {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := rbacv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := identityv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithIndex(&identityv1alpha1.ScimRole{}, indexRoleGrant, grantsOfRole).
		WithIndex(&rbacv1.ClusterRoleBinding{}, indexGrant, grantOfShared).
		WithIndex(&rbacv1.RoleBinding{}, indexGrant, grantOfShared).
		WithIndex(&rbacv1.ClusterRoleBinding{}, indexRole, roleLabelOf).
		WithIndex(&rbacv1.RoleBinding{}, indexRole, roleLabelOf).
		WithIndex(index.ShardRole.Object, index.ShardRole.Name, index.ShardRole.Extract).
		WithIndex(&rbacv1.ClusterRoleBinding{}, indexSubject, subjectsOfShared).
		WithIndex(&rbacv1.RoleBinding{}, indexSubject, subjectsOfShared).
		WithInterceptorFuncs(funcs).
		Build()
	return &System{client: c, live: c, scheme: scheme, shared: newSharedState(), opts: Options{Shared: true, MaxSubjects: 10,
		Members: func(_ context.Context, role *identityv1alpha1.ScimRole) ([]string, error) {
			members.Add(1)
			var out []string
			for _, m := range role.Spec.Members {
				out = append(out, m.Value)
			}
			return out, nil
		}}}
}

func TestSharedGrantAppliedOnlyWhenItsInputsChanged(t *testing.T) {
	ctx := context.Background()
	view := access.Grant{Kind: access.KindClusterRole, Name: "view"}
	var members atomic.Int64
	s := sharedSystem(t, &members, viewRole("a", "ann"), viewRole("b", "bob"))

	changed, refs, err := s.applySharedGrant(ctx, view)
	if err != nil || !changed || len(refs) != 1 {
		t.Fatalf("first application: changed %v, refs %v, err %v", changed, refs, err)
	}
	if got := members.Load(); got != 2 {
		t.Errorf("the first application read the members of %d roles, want both", got)
	}
	var crb rbacv1.ClusterRoleBinding
	if err := s.client.Get(ctx, client.ObjectKey{Name: refs[0].Name}, &crb); err != nil {
		t.Fatal(err)
	}
	if got := subjectsOfShared(&crb); len(got) != 2 {
		t.Errorf("the shared binding holds %v, want the union of both roles", got)
	}

	// Nothing changed: a second call (a role's status reconcile) reads nothing and writes nothing.
	changed, again, err := s.applySharedGrant(ctx, view)
	if err != nil || changed || len(again) != 1 || again[0] != refs[0] {
		t.Errorf("second application: changed %v, refs %v, err %v", changed, again, err)
	}
	if got := members.Load(); got != 2 {
		t.Errorf("an application without a changed input read members (%d calls)", got)
	}

	// Once the inputs moved, an application reads again only the roles whose members may have
	// changed: here none (the same roles, shards and epochs), then one after its user changed.
	s.shared.inputs.Add(1)
	if _, _, err := s.applySharedGrant(ctx, view); err != nil {
		t.Fatal(err)
	}
	if got := members.Load(); got != 2 {
		t.Errorf("an application read %d roles' members whose inputs had not changed", got-2)
	}
	s.shared.inputs.Add(1)
	s.shared.members.userChanged([]identityv1alpha1.ScimRole{*viewRole("a")}, false)
	if _, _, err := s.applySharedGrant(ctx, view); err != nil {
		t.Fatal(err)
	}
	if got := members.Load(); got != 3 {
		t.Errorf("after a user of role a changed, an application read %d roles' members, want 1", got-2)
	}
}

// TestSharedGrantApplicationsCoalesce: callers that wait while an application runs are covered by
// one application that begins after they asked, even while what it reads keeps changing.
func TestSharedGrantApplicationsCoalesce(t *testing.T) {
	ctx := context.Background()
	view := access.Grant{Kind: access.KindClusterRole, Name: "view"}
	var calls atomic.Int64
	var s *System
	entered, gate := make(chan struct{}), make(chan struct{})
	var first sync.Once
	s = sharedSystem(t, &calls, viewRole("a", "u-a"), viewRole("b", "u-b"))
	members := s.opts.Members
	s.opts.Members = func(ctx context.Context, role *identityv1alpha1.ScimRole) ([]string, error) {
		first.Do(func() { close(entered); <-gate })
		s.shared.inputs.Add(1) // the inputs change all the time
		s.shared.members.userChanged(nil, true)
		return members(ctx, role)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, _, err := s.applySharedGrant(ctx, view); err != nil {
			t.Error(err)
		}
	})
	<-entered
	asked := s.shared.tickets.Load()
	for range 15 {
		wg.Go(func() {
			if _, _, err := s.applySharedGrant(ctx, view); err != nil {
				t.Error(err)
			}
		})
	}
	for s.shared.tickets.Load() < asked+15 {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	if got := calls.Load(); got != 4 {
		t.Errorf("the roles' members were read %d times, want 4: the running application and one for the 15 that waited", got)
	}
}

// TestSharedGrantLeftBehind: a role that stops granting view before its status named a binding of
// view still takes its members out of view's bindings: the grant is known from the roles its last
// application read.
func TestSharedGrantLeftBehind(t *testing.T) {
	ctx := context.Background()
	view := access.Grant{Kind: access.KindClusterRole, Name: "view"}
	var calls atomic.Int64
	s := sharedSystem(t, &calls, viewRole("a", "ann"), viewRole("b", "bob"))
	if _, _, err := s.applySharedGrant(ctx, view); err != nil {
		t.Fatal(err)
	}
	a := &identityv1alpha1.ScimRole{}
	if err := s.client.Get(ctx, client.ObjectKey{Name: "a"}, a); err != nil {
		t.Fatal(err)
	}
	a.Spec.Access = &identityv1alpha1.Access{ClusterRoles: []string{"edit"}}
	if err := s.client.Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	s.Observe(ctx, viewRole("a", "ann"), a)
	if len(a.Status.Bindings) != 0 {
		t.Fatal("the role's status names bindings; the test needs one that does not")
	}
	if _, err := s.applyShared(ctx, a, []string{"ann"}); err != nil {
		t.Fatal(err)
	}
	bindings, err := s.sharedBindingsOf(ctx, view)
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, b := range bindings {
		held = append(held, subjectsOfShared(b.Object)...)
	}
	if !slices.Equal(held, []string{"bob"}) {
		t.Errorf("view's shared bindings hold %v after role a stopped granting it, want [bob]", held)
	}
}

// TestSharedGrantWaitsOnlyForWhatItWrote: after a restart (a new System over bindings an earlier
// process wrote), an application that rewrites one shard waits for the cache to show that shard
// only, not for the shards it left alone (which would hold the grant for cacheWait each).
func TestSharedGrantWaitsOnlyForWhatItWrote(t *testing.T) {
	ctx := context.Background()
	view := access.Grant{Kind: access.KindClusterRole, Name: "view"}
	var calls atomic.Int64
	gets := map[string]int{}
	var mu sync.Mutex
	earlier := sharedSystemWith(t, &calls, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*rbacv1.ClusterRoleBinding); ok {
				mu.Lock()
				gets[key.Name]++
				mu.Unlock()
			}
			return c.Get(ctx, key, obj, opts...)
		},
	}, viewRole("a", "ann"), viewRole("b", "bob"))
	earlier.opts.MaxSubjects = 1
	_, refs, err := earlier.applySharedGrant(ctx, view)
	if err != nil || len(refs) != 2 {
		t.Fatalf("the earlier process: refs %v, err %v", refs, err)
	}

	// A new process over the same objects; role b's member changes, so one shard is rewritten.
	s := &System{client: earlier.client, live: earlier.client, scheme: earlier.scheme, shared: newSharedState(), opts: earlier.opts}
	b := &identityv1alpha1.ScimRole{}
	if err := s.client.Get(ctx, client.ObjectKey{Name: "b"}, b); err != nil {
		t.Fatal(err)
	}
	b.Spec.Members = []identityv1alpha1.Member{{Value: "cy"}}
	if err := s.client.Update(ctx, b); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	clear(gets)
	mu.Unlock()
	changed, refs, err := s.applySharedGrant(ctx, view)
	if err != nil || !changed {
		t.Fatalf("changed %v, err %v", changed, err)
	}
	mu.Lock()
	read := maps.Clone(gets)
	mu.Unlock()
	for _, ref := range refs {
		var crb rbacv1.ClusterRoleBinding
		if err := s.client.Get(ctx, client.ObjectKey{Name: ref.Name}, &crb); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(subjectsOfShared(&crb), "ann") && read[ref.Name] != 0 {
			t.Errorf("the application read the shard it did not write %d times, waiting for it", read[ref.Name])
		}
	}
}
