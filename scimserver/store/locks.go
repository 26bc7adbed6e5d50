package store

import "sync"

// objectLocks serializes the writes of one replica to one object: concurrent SCIM requests for
// the same group (an IdP pushing members in parallel) queue for it instead of stampeding on
// resourceVersion conflicts, and each starts from the cache its predecessor waited for. Writers on
// other replicas still race, and are retried on conflict. The zero value is ready to use.
type objectLocks struct {
	mu    sync.Mutex
	locks map[string]*objectLock
}

// objectLock is one object's lock and the number of writers holding or waiting for it.
type objectLock struct {
	sync.Mutex
	users int
}

// lock locks the object named key and returns its unlock. Entries go away with their last user, so
// the map holds only the objects being written.
func (l *objectLocks) lock(key string) (unlock func()) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*objectLock{}
	}
	ol := l.locks[key]
	if ol == nil {
		ol = &objectLock{}
		l.locks[key] = ol
	}
	ol.users++
	l.mu.Unlock()

	ol.Lock()
	return func() {
		ol.Unlock()
		l.mu.Lock()
		if ol.users--; ol.users == 0 {
			delete(l.locks, key)
		}
		l.mu.Unlock()
	}
}
