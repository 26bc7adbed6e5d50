package store

// The informer cache holds ScimUsers and ScimRoles without their managedFields, which are most of a
// user's size and list every member of a role again. meta.lastModified, the time of the latest
// write they record, is kept aside by UID.

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/compact"
)

// lastWrites holds, by UID, the time of the latest write the managedFields of a cached ScimUser or
// ScimRole recorded before TransformCached dropped them. It is shared by the managers of a
// process (tests run several): the same object has the same times in each. A map under a lock,
// not a sync.Map: about 55 bytes an object against 150 (the sync.Map boxes each key and time).
var lastWrites = writeTimes{m: map[types.UID]time.Time{}}

type writeTimes struct {
	mu sync.RWMutex
	m  map[types.UID]time.Time
}

func (w *writeTimes) Store(uid types.UID, t time.Time) {
	w.mu.Lock()
	w.m[uid] = t
	w.mu.Unlock()
}

func (w *writeTimes) Load(uid types.UID) (time.Time, bool) {
	w.mu.RLock()
	t, ok := w.m[uid]
	w.mu.RUnlock()
	return t, ok
}

func (w *writeTimes) Delete(uid types.UID) {
	w.mu.Lock()
	delete(w.m, uid)
	w.mu.Unlock()
}

// TransformCached is the informer cache's transform of ScimUsers and ScimRoles: it drops their
// managedFields, keeping the time of the latest write for meta.lastModified, and interns the
// strings objects share (intern.go). Nothing else reads managedFields from the cache, and a write
// of a cached object without them (Update sends nil) leaves the stored ones as they are.
func TransformCached(obj any) (any, error) {
	o, ok := obj.(client.Object)
	if !ok {
		return obj, nil // a tombstone (DeletedFinalStateUnknown)
	}
	internObject(o)
	if fields := o.GetManagedFields(); len(fields) > 0 {
		if t := latestWrite(o); !t.IsZero() {
			lastWrites.Store(o.GetUID(), t)
		}
		o.SetManagedFields(nil)
	}
	return o, nil
}

// TransformShard is the informer cache's transform of ScimRoleMembers: it drops their
// managedFields and the room the decoder left in their list of members (compact.Clip).
func TransformShard(obj any) (any, error) {
	if s, ok := obj.(*v1.ScimRoleMembers); ok {
		s.SetManagedFields(nil)
		s.Spec.Members = compact.Clip(s.Spec.Members)
	}
	return obj, nil
}

// forgetLastWrite drops what TransformCached kept of a deleted object.
func forgetLastWrite(obj any) {
	if o, ok := unwrapTombstone(obj).(client.Object); ok {
		lastWrites.Delete(o.GetUID())
	}
}

// latestWrite is the time of the latest write obj's managedFields record, or zero.
func latestWrite(obj client.Object) time.Time {
	var last time.Time
	for _, f := range obj.GetManagedFields() {
		if f.Time != nil && f.Time.After(last) {
			last = f.Time.Time
		}
	}
	return last
}

// lastModified is when obj was last written: the latest time its managedFields record (an object
// read live, or as a write returned it), else what TransformCached kept of them, and never
// before it was created.
func lastModified(obj client.Object) time.Time {
	last := obj.GetCreationTimestamp().Time
	t := latestWrite(obj)
	if t.IsZero() {
		if kept, ok := lastWrites.Load(obj.GetUID()); ok {
			t = kept
		}
	}
	if t.After(last) {
		last = t
	}
	return last
}
