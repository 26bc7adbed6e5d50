package store

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// clockCache is the render cache's store: renderings by UID, at most size of them, the one to drop
// when a new one comes chosen by the CLOCK algorithm (second chance): a hand sweeps the slots in
// order, clearing the mark a read left on each rendering and dropping the first it finds unmarked.
// It approximates least-recently-used eviction without an LRU's list: a read takes a shared lock
// and sets a flag, where k8s.io/utils/lru took an exclusive lock and moved a list element (6% of
// the manager's CPU under GETs in a profile), and a held rendering costs a map entry and a slot (about 50
// bytes) where the LRU's element, entry, boxed key and map entry cost about 130. Safe for
// concurrent use.
type clockCache struct {
	mu      sync.RWMutex
	entries map[types.UID]*rendered
	// slots are the UIDs in the order the hand visits them, at most size; a slot whose UID the map
	// no longer holds (removed) is free for the next rendering the hand reaches it for.
	slots []types.UID
	hand  int
	size  int
}

func newClockCache(size int) *clockCache {
	return &clockCache{entries: make(map[types.UID]*rendered), size: size}
}

// Get returns the rendering held for uid, and marks it read.
func (c *clockCache) Get(uid types.UID) (*rendered, bool) {
	c.mu.RLock()
	r, ok := c.entries[uid]
	c.mu.RUnlock()
	if ok && !r.read.Load() { // a store only when the mark is clear: reads share the cache line
		r.read.Store(true)
	}
	return r, ok
}

// Add holds r for uid, replacing what was held for it; when the cache is full, the rendering the
// hand finds first without a mark is dropped for it.
func (c *clockCache) Add(uid types.UID, r *rendered) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[uid]; ok {
		c.entries[uid] = r
		return
	}
	if len(c.slots) < c.size {
		c.slots = append(c.slots, uid)
		c.entries[uid] = r
		return
	}
	// Full: every slot is visited at most twice (the first visit clears a mark), unless reads mark
	// them again meanwhile; past two rounds the hand drops what it reaches.
	for step := 0; ; step++ {
		held := c.slots[c.hand]
		e, ok := c.entries[held]
		if ok && e.read.Load() && step < 2*len(c.slots) {
			e.read.Store(false)
			c.hand = (c.hand + 1) % len(c.slots)
			continue
		}
		delete(c.entries, held)
		c.slots[c.hand] = uid
		c.entries[uid] = r
		c.hand = (c.hand + 1) % len(c.slots)
		return
	}
}

// Remove drops the rendering held for uid; its slot is reused when the hand reaches it.
func (c *clockCache) Remove(uid types.UID) {
	c.mu.Lock()
	delete(c.entries, uid)
	c.mu.Unlock()
}

// Len returns how many renderings are held.
func (c *clockCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
