package store

// Order: the names of the ScimUsers and ScimRoles, in order, kept from the informers' events, so
// that a list page reads the page's objects only (Page) instead of listing and sorting every one.

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/btree"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// order holds the names of the objects of one kind that exist and are not being deleted, sorted.
type order struct {
	mu    sync.RWMutex
	names *btree.BTreeG[string]
	// synced reports whether the informer has delivered every object it held at start.
	synced func() bool
	// changed wakes those waiting for the informer (waitForCache) at each of its events.
	changed broadcast
	// deleted, when set, is told of each object the informer deletes.
	deleted func(client.Object)
	// sorted is names as a slice, made by the first page read since names last changed (nil
	// until then), so that a page is a slice of it: a walk of the tree to the page's offset cost
	// O(offset) a page, and an import walking every page O(N²). It is never written once made.
	sorted []string
}

// broadcast wakes every waiter at once: wait returns a channel that the next notify closes.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *broadcast) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}

func newOrder() *order {
	return &order{names: btree.NewG(32, func(a, b string) bool { return a < b }), synced: func() bool { return true }}
}

// observe records obj as an informer reports it: held, unless deleted or being deleted.
func (o *order) observe(obj client.Object, deleted bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var changed bool
	if deleted || v1.IsTerminating(obj) {
		_, changed = o.names.Delete(obj.GetName())
	} else {
		_, replaced := o.names.ReplaceOrInsert(obj.GetName())
		changed = !replaced // an update of an object held changes no name
	}
	if changed {
		o.sorted = nil
	}
}

// page returns the count names from the 0-based offset, and the number of names: a slice of the
// sorted names, which the caller must not change.
func (o *order) page(offset, count int) ([]string, int) {
	names := o.sortedNames()
	from := min(max(offset, 0), len(names))
	to := from + min(max(count, 0), len(names)-from)
	return names[from:to:to], len(names)
}

// sortedNames returns o.sorted, made from the tree when a change has dropped it.
func (o *order) sortedNames() []string {
	o.mu.RLock()
	names := o.sorted
	o.mu.RUnlock()
	if names != nil {
		return names
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sorted == nil {
		names := make([]string, 0, o.names.Len())
		o.names.Ascend(func(name string) bool {
			names = append(names, name)
			return true
		})
		o.sorted = names
	}
	return o.sorted
}

// has reports whether the object named name is held.
func (o *order) has(name string) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.names.Has(name)
}

// Informers are where IndexOrder finds the informers of users and roles: the manager's cache.
type Informers interface {
	GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error)
}

// watch keeps o from the events of the informer of obj's kind.
func (o *order) watch(ctx context.Context, informers Informers, obj client.Object) error {
	inf, err := informers.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("informer of %T: %w", obj, err)
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { o.observeEvent(obj, false) },
		UpdateFunc: func(_, obj any) { o.observeEvent(obj, false) },
		DeleteFunc: func(obj any) {
			o.observeEvent(obj, true)
			forgetLastWrite(obj)
			if deleted, ok := unwrapTombstone(obj).(client.Object); ok && o.deleted != nil {
				o.deleted(deleted)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("watch %T: %w", obj, err)
	}
	o.synced = reg.HasSynced
	return nil
}

func (o *order) observeEvent(obj any, deleted bool) {
	if c, ok := unwrapTombstone(obj).(client.Object); ok {
		o.observe(c, deleted)
	}
	// The informer's store holds the object by now: a waiter reading the cache sees it.
	o.changed.notify()
}

// orders are the order of users and roles; nil until IndexOrder.
type orders struct {
	users, roles *order
}

// IndexOrder keeps the names of the ScimUsers and ScimRoles in order from the informers, so that
// a list page reads only its objects; without it, Page lists every object and sorts them. Call it
// before the informers start.
func (s *Store) IndexOrder(ctx context.Context, informers Informers) error {
	o := orders{users: newOrder(), roles: newOrder()}
	// A deleted user's rendering is dropped with it: the render cache then holds live users only.
	o.users.deleted = func(u client.Object) { s.forgetRendered(u.GetUID()) }
	if err := o.users.watch(ctx, informers, &v1.ScimUser{}); err != nil {
		return err
	}
	if err := o.roles.watch(ctx, informers, &v1.ScimRole{}); err != nil {
		return err
	}
	s.order = o
	return nil
}

// orderOf returns the order of obj's kind, or nil when there is none (yet) to read from.
func (s *Store) orderOf(obj client.Object) *order {
	var o *order
	switch obj.(type) {
	case *v1.ScimUser:
		o = s.order.users
	case *v1.ScimRole:
		o = s.order.roles
	}
	if o == nil || !o.synced() {
		return nil
	}
	return o
}

// unwrapTombstone returns the object a delete event's tombstone (DeletedFinalStateUnknown) holds,
// or obj as it is.
func unwrapTombstone(obj any) any {
	if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		return tombstone.Obj
	}
	return obj
}
