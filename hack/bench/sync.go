package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers"
)

// syncResult is the initial sync: each step under load, and the time from the last SCIM response
// until the cluster reflects it.
type syncResult struct {
	createUsers, createGroups, declareAccess, addMembers *result
	// total is the wall time from the first SCIM request to the last response.
	total time.Duration
	// converged is the time from the last SCIM response until every binding is correct and every
	// ScimUser is Ready; convergence is that wait, with the work the cluster did meanwhile.
	converged   time.Duration
	convergence *result
}

// initialSync pushes the tenant as Okta and Entra ID do an initial sync: every user created, then
// every group created empty and filled by PATCH `add members` in batches. Between the two, GitOps
// declares what each group grants (view), so that members become subjects of a binding as they
// are added.
func initialSync(ctx context.Context, e *env, c *scimClient, t *tenant, o options) (*syncResult, error) {
	s := &syncResult{}
	start := time.Now()
	s.createUsers = measureN(ctx, "POST /Users", o.clients, len(t.users), func(ctx context.Context, i int) outcome {
		body, retries, err := c.do(ctx, http.MethodPost, "/Users", t.users[i].body, http.StatusCreated)
		if err == nil {
			t.users[i].id, err = idOf(body)
		}
		return outcome{items: 1, retries: retries, err: err}
	})
	if err := s.createUsers.check(); err != nil {
		return nil, err
	}
	s.createGroups = measureN(ctx, "POST /Groups (empty)", o.clients, len(t.groups), func(ctx context.Context, i int) outcome {
		body := fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"members":[]}`, t.groups[i].displayName)
		resp, retries, err := c.do(ctx, http.MethodPost, "/Groups", body, http.StatusCreated)
		if err == nil {
			t.groups[i].id, err = idOf(resp)
		}
		return outcome{items: 1, retries: retries, err: err}
	})
	if err := s.createGroups.check(); err != nil {
		return nil, err
	}
	pause := time.Now()
	s.declareAccess = measureN(ctx, "GitOps: spec.access on each role", o.clients, len(t.groups), func(ctx context.Context, i int) outcome {
		role := &v1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: t.groups[i].id}}
		patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"access":{"clusterRoles":["view"]}}}`))
		return outcome{items: 1, err: e.admin.Patch(ctx, role, patch)}
	})
	if err := s.declareAccess.check(); err != nil {
		return nil, err
	}
	resumed := time.Now()
	batches := t.batches(o.batch)
	s.addMembers = measureN(ctx, fmt.Sprintf("PATCH /Groups add members (%d)", o.batch), o.clients, len(batches), func(ctx context.Context, i int) outcome {
		b := batches[i]
		_, retries, err := c.do(ctx, http.MethodPatch, "/Groups/"+t.groups[b.group].id, t.patchBody(b), http.StatusOK, http.StatusNoContent)
		return outcome{items: b.to - b.from, retries: retries, err: err}
	})
	if err := s.addMembers.check(); err != nil {
		return nil, err
	}
	last := time.Now()
	s.total = last.Sub(start) - resumed.Sub(pause) // the GitOps step is not the IdP's
	rec := newRecorder("waiting for convergence")
	converged, err := waitConverged(ctx, e, t, o.convergeTimeout)
	if err != nil {
		return nil, err
	}
	s.converged = converged.Sub(last)
	rec.add(s.converged, outcome{})
	s.convergence = rec.finish(last)
	return s, nil
}

// waitConverged watches ScimUsers and the operator's ClusterRoleBindings until every binding names
// exactly the active members of its role and every ScimUser is Ready for its current generation,
// in the roles it should be in; it returns the moment it saw that.
func waitConverged(ctx context.Context, e *env, t *tenant, timeout time.Duration) (time.Time, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch, err := cache.New(e.adminCfg, cache.Options{Scheme: scheme, ByObject: controllers.CacheByObject()})
	if err != nil {
		return time.Time{}, err
	}
	// The users' readiness is followed through the informer's events rather than by listing 50,000
	// users at each poll, which cost the bench more CPU than the manager during the convergence.
	ready := t.newReadiness()
	for _, obj := range []client.Object{&v1.ScimUser{}, &rbacv1.ClusterRoleBinding{}} {
		inf, err := watch.GetInformer(ctx, obj)
		if err != nil {
			return time.Time{}, err
		}
		if _, ok := obj.(*v1.ScimUser); ok {
			if _, err := inf.AddEventHandler(ready.handler()); err != nil {
				return time.Time{}, err
			}
		}
	}
	go func() { _ = watch.Start(ctx) }()
	if !watch.WaitForCacheSync(ctx) {
		return time.Time{}, fmt.Errorf("the convergence watch did not sync")
	}
	var at time.Time
	var why string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		now := time.Now()
		ok, reason, err := t.converged(ctx, watch, ready)
		why = reason
		if ok {
			at = now
		}
		return ok, err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("not converged after %s: %s: %w", timeout, why, err)
	}
	if seen := ready.notReadySeen(); seen != "" {
		logf("Ready=False statuses seen from the last SCIM response on, by reason: %s", seen)
	}
	return at, nil
}

// readiness follows which of the tenant's users are not yet Ready in their roles.
type readiness struct {
	mu       sync.Mutex
	byID     map[string]*user
	notReady map[string]bool
	// notReadyWrites counts the Ready=False conditions seen, by reason: the status writes that
	// report a user not ready (each is followed by another when it becomes ready).
	notReadyWrites map[string]int
}

func (t *tenant) newReadiness() *readiness {
	r := &readiness{byID: map[string]*user{}, notReady: map[string]bool{}, notReadyWrites: map[string]int{}}
	for _, u := range t.users {
		r.byID[u.id] = u
		r.notReady[u.id] = true
	}
	return r
}

func (r *readiness) observe(obj any, deleted bool) {
	su, ok := obj.(*v1.ScimUser)
	if !ok {
		return
	}
	_, ok = r.byID[su.Name]
	if !ok {
		return // not the tenant's (the revocation's, the ceiling's)
	}
	c := apimeta.FindStatusCondition(su.Status.Conditions, v1.ConditionReady)
	ok = !deleted && c != nil && c.Status == metav1.ConditionTrue && su.Status.ObservedGeneration == su.Generation
	r.mu.Lock()
	defer r.mu.Unlock()
	if !deleted && c != nil && c.Status == metav1.ConditionFalse {
		r.notReadyWrites[c.Reason]++
	}
	if ok {
		delete(r.notReady, su.Name)
	} else {
		r.notReady[su.Name] = true
	}
}

func (r *readiness) handler() toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.observe(obj, false) },
		UpdateFunc: func(_, obj any) { r.observe(obj, false) },
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			r.observe(obj, true)
		},
	}
}

// notReadySeen describes the Ready=False conditions seen, by reason, or "".
func (r *readiness) notReadySeen() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for reason, n := range r.notReadyWrites {
		parts = append(parts, fmt.Sprintf("%s %d", reason, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func (r *readiness) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.notReady)
}

// converged reports whether the cluster, as read from c and followed by ready, reflects the
// tenant; if not, why.
func (t *tenant) converged(ctx context.Context, c client.Reader, ready *readiness) (bool, string, error) {
	if n := ready.count(); n > 0 {
		return false, fmt.Sprintf("%d of %d ScimUsers not Ready in their roles", n, len(t.users)), nil
	}
	var bindings rbacv1.ClusterRoleBindingList
	if err := c.List(ctx, &bindings, client.UnsafeDisableDeepCopy); err != nil {
		return false, "", err
	}
	subjects := map[string]map[string]bool{} // role → subject names
	for _, b := range bindings.Items {
		role := b.Labels[v1.LabelRole]
		if subjects[role] == nil {
			subjects[role] = map[string]bool{}
		}
		for _, s := range b.Subjects {
			subjects[role][s.Name] = true
		}
	}
	if shared, ok := subjects[""]; ok {
		// --rbac-shared-bindings: one set of bindings holds every group's members (all grant view).
		want := map[string]bool{}
		for _, g := range t.groups {
			for _, m := range g.members {
				want[userPrefix+t.users[m].userName] = true
			}
		}
		if len(subjects) > 1 || !maps.Equal(shared, want) {
			return false, fmt.Sprintf("the shared bindings hold %d subjects of %d (and %d roles' own bindings remain)", len(shared), len(want), len(subjects)-1), nil
		}
		return true, "", nil
	}
	wrong := 0
	for _, g := range t.groups {
		got := subjects[g.id]
		if len(got) != len(g.members) {
			wrong++
			continue
		}
		for _, m := range g.members {
			if !got[userPrefix+t.users[m].userName] {
				wrong++
				break
			}
		}
	}
	if wrong > 0 {
		return false, fmt.Sprintf("%d of %d roles' bindings not yet their members", wrong, len(t.groups)), nil
	}
	return true, "", nil
}
