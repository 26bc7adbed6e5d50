package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/scim-operator/scim-operator/controllers"
)

// revocationResult is the time from a suspension's SCIM response to the last binding written
// without the user, as a watch of the bindings sees it.
type revocationResult struct {
	// roles is the number of roles the one user is in; oneUser its suspensions, one after another.
	roles   int
	oneUser *result
	// burst is that many of the tenant's users suspended at once by the clients.
	burst *result
}

// Suspending and reactivating: the PatchOp bodies.
var (
	suspendBody  = []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`)
	activateBody = []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`)
)

// revocation measures rule 5 through SCIM: a new user added to the roles smallest groups of the
// tenant and suspended times times (reactivated in between), then burst of the tenant's users
// suspended at once.
func revocation(ctx context.Context, e *env, c *scimClient, t *tenant, o options) (*revocationResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tr, err := newBindingTracker(ctx, e)
	if err != nil {
		return nil, err
	}
	res := &revocationResult{roles: min(o.revocationRoles, len(t.groups))}

	target := namedUser("bench.revoked@example.com", 0)
	body, _, err := c.do(ctx, http.MethodPost, "/Users", target.body, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	if target.id, err = idOf(body); err != nil {
		return nil, err
	}
	bySize := make([]int, len(t.groups))
	for i := range bySize {
		bySize[i] = i
	}
	sort.SliceStable(bySize, func(i, j int) bool { return len(t.groups[bySize[i]].members) < len(t.groups[bySize[j]].members) })
	add := fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, target.id)
	joined := measureN(ctx, "join", o.clients, res.roles, func(ctx context.Context, i int) outcome {
		_, retries, err := c.do(ctx, http.MethodPatch, "/Groups/"+t.groups[bySize[i]].id, add, http.StatusOK, http.StatusNoContent)
		return outcome{retries: retries, err: err}
	})
	if err := joined.check(); err != nil {
		return nil, err
	}
	subject := userPrefix + target.userName
	if err := tr.waitHeld(ctx, subject, res.roles); err != nil {
		return nil, err
	}
	rec := newRecorder(fmt.Sprintf("suspend 1 user in %d roles", res.roles))
	start := time.Now()
	for range o.revocations {
		r := tr.expect(subject)
		_, retries, err := c.do(ctx, http.MethodPatch, "/Users/"+target.id, suspendBody, http.StatusOK, http.StatusNoContent)
		if err != nil {
			return nil, err
		}
		last, err := tr.waitRevoked(ctx, r, time.Now())
		rec.add(last, outcome{retries: retries, err: err})
		if _, _, err := c.do(ctx, http.MethodPatch, "/Users/"+target.id, activateBody, http.StatusOK, http.StatusNoContent); err != nil {
			return nil, err
		}
		if err := tr.waitHeld(ctx, subject, res.roles); err != nil {
			return nil, err
		}
	}
	res.oneUser = rec.finish(start)

	n := min(o.burst, len(t.users))
	revocations := make([]*pendingRevocation, n)
	for i := range n {
		revocations[i] = tr.expect(userPrefix + t.users[i].userName)
	}
	responded := make([]time.Time, n)
	suspended := measureN(ctx, "burst", o.clients, n, func(ctx context.Context, i int) outcome {
		_, retries, err := c.do(ctx, http.MethodPatch, "/Users/"+t.users[i].id, suspendBody, http.StatusOK, http.StatusNoContent)
		responded[i] = time.Now()
		return outcome{retries: retries, err: err}
	})
	if err := suspended.check(); err != nil {
		return nil, err
	}
	rec = newRecorder(fmt.Sprintf("suspend %d users at once (%d roles each)", n, len(t.users[0].groups)))
	start = time.Now()
	for i, r := range revocations {
		last, err := tr.waitRevoked(ctx, r, responded[i])
		rec.add(last, outcome{err: err})
	}
	res.burst = rec.finish(start)
	return res, errorsOf(res.oneUser, res.burst)
}

func errorsOf(results ...*result) error {
	for _, r := range results {
		if err := r.check(); err != nil {
			return err
		}
	}
	return nil
}

// bindingTracker follows the subjects of the operator's ClusterRoleBindings through a watch and
// notes when a suspended user leaves each of them.
type bindingTracker struct {
	mu       sync.Mutex
	subjects map[string][]string // binding → subject names
	pending  map[string]*pendingRevocation
	changed  chan struct{}
}

// pendingRevocation is a suspended user on its way out of its bindings.
type pendingRevocation struct {
	subject   string
	remaining map[string]bool
	last      time.Time // when the last binding was seen without the user
	done      chan struct{}
}

func newBindingTracker(ctx context.Context, e *env) (*bindingTracker, error) {
	tr := &bindingTracker{subjects: map[string][]string{}, pending: map[string]*pendingRevocation{}, changed: make(chan struct{}, 1)}
	c, err := cache.New(e.adminCfg, cache.Options{Scheme: scheme, ByObject: controllers.CacheByObject()})
	if err != nil {
		return nil, err
	}
	inf, err := c.GetInformer(ctx, &rbacv1.ClusterRoleBinding{})
	if err != nil {
		return nil, err
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { tr.observe(obj.(*rbacv1.ClusterRoleBinding), false) },
		UpdateFunc: func(_, obj any) { tr.observe(obj.(*rbacv1.ClusterRoleBinding), false) },
		DeleteFunc: func(obj any) {
			if crb, ok := obj.(*rbacv1.ClusterRoleBinding); ok {
				tr.observe(crb, true)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the binding watch did not sync")
	}
	return tr, nil
}

func (tr *bindingTracker) observe(crb *rbacv1.ClusterRoleBinding, deleted bool) {
	now := time.Now()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var names []string
	if deleted {
		delete(tr.subjects, crb.Name)
	} else {
		for _, s := range crb.Subjects {
			names = append(names, s.Name)
		}
		tr.subjects[crb.Name] = names
	}
	for subject, r := range tr.pending {
		if !r.remaining[crb.Name] || slices.Contains(names, subject) {
			continue
		}
		delete(r.remaining, crb.Name)
		r.last = now
		if len(r.remaining) == 0 {
			close(r.done)
			delete(tr.pending, subject)
		}
	}
	select {
	case tr.changed <- struct{}{}:
	default:
	}
}

// holding returns the number of bindings that name subject.
func (tr *bindingTracker) holding(subject string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, names := range tr.subjects {
		if slices.Contains(names, subject) {
			n++
		}
	}
	return n
}

// waitHeld waits until subject is in n bindings.
func (tr *bindingTracker) waitHeld(ctx context.Context, subject string, n int) error {
	timeout := time.After(5 * time.Minute)
	for tr.holding(subject) != n {
		select {
		case <-tr.changed:
		case <-time.After(100 * time.Millisecond):
		case <-timeout:
			return fmt.Errorf("%s is in %d bindings, want %d", subject, tr.holding(subject), n)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// expect notes the bindings that name subject before it is suspended.
func (tr *bindingTracker) expect(subject string) *pendingRevocation {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	r := &pendingRevocation{subject: subject, remaining: map[string]bool{}, done: make(chan struct{})}
	for name, names := range tr.subjects {
		if slices.Contains(names, subject) {
			r.remaining[name] = true
		}
	}
	if len(r.remaining) == 0 {
		close(r.done)
	} else {
		tr.pending[subject] = r
	}
	return r
}

// waitRevoked waits until no binding names r's subject and returns the time from start to the
// last binding seen without it.
func (tr *bindingTracker) waitRevoked(ctx context.Context, r *pendingRevocation, start time.Time) (time.Duration, error) {
	select {
	case <-r.done:
	case <-time.After(2 * time.Minute):
		return 0, fmt.Errorf("%s is still in %d bindings", r.subject, len(r.remaining))
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return max(r.last.Sub(start), 0), nil
}
