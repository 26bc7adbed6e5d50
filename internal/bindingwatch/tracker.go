// Package bindingwatch follows the subjects of the operator's ClusterRoleBindings through a watch,
// for the revocation benchmarks (controllers' BenchmarkRevocation and hack/bench): how many
// bindings hold a user, and when a suspended user was last seen leaving one.
package bindingwatch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/scim-operator/scim-operator/controllers/access/rbac"
)

// Tracker keeps the subject names of every ClusterRoleBinding the operator writes, as a watch
// delivers them, and the revocations under way.
type Tracker struct {
	mu       sync.Mutex
	subjects map[string][]string // binding name → subject names
	pending  map[string]*Revocation
	changed  chan struct{}
}

// Revocation is a suspended subject on its way out of the bindings that held it.
type Revocation struct {
	subject   string
	remaining map[string]bool
	seen      []time.Time // when each binding was seen without the subject
	done      chan struct{}
}

// New starts a watch of the operator's ClusterRoleBindings with cfg and returns once it has synced;
// it stops with ctx.
func New(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) (*Tracker, error) {
	tr := &Tracker{subjects: map[string][]string{}, pending: map[string]*Revocation{}, changed: make(chan struct{}, 1)}
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, ByObject: rbac.CacheByObject()})
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
			if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
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

func (tr *Tracker) observe(crb *rbacv1.ClusterRoleBinding, deleted bool) {
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
		r.seen = append(r.seen, now)
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

// Holding returns the number of bindings that name subject.
func (tr *Tracker) Holding(subject string) int {
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

// WaitHeld waits until subject is in n bindings, for at most timeout.
func (tr *Tracker) WaitHeld(ctx context.Context, subject string, n int, timeout time.Duration) error {
	expired := time.After(timeout)
	for tr.Holding(subject) != n {
		select {
		case <-tr.changed:
		case <-time.After(100 * time.Millisecond):
		case <-expired:
			return fmt.Errorf("%s is in %d bindings, want %d", subject, tr.Holding(subject), n)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Expect notes the bindings that name subject, before it is suspended.
func (tr *Tracker) Expect(subject string) *Revocation {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	r := &Revocation{subject: subject, remaining: map[string]bool{}, done: make(chan struct{})}
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

// WaitRevoked waits, for at most timeout, until no binding that held r's subject names it, and
// returns for each binding the time from start (the suspension) to when it was seen without the
// subject — zero for one written before start — and the last of them.
func (tr *Tracker) WaitRevoked(ctx context.Context, r *Revocation, start time.Time, timeout time.Duration) (last time.Duration, each []time.Duration, err error) {
	select {
	case <-r.done:
	case <-time.After(timeout):
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return 0, nil, fmt.Errorf("%s is still in %d bindings", r.subject, len(r.remaining))
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	each = make([]time.Duration, len(r.seen))
	for i, t := range r.seen {
		each[i] = max(t.Sub(start), 0)
	}
	if len(each) > 0 {
		last = slices.Max(each)
	}
	return last, each, nil
}
