package store

import (
	"fmt"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func holds(c *clockCache, uids ...types.UID) error {
	for _, uid := range uids {
		c.mu.RLock()
		_, ok := c.entries[uid] // not Get: a check must not mark
		c.mu.RUnlock()
		if !ok {
			return fmt.Errorf("%s is not held (held: %d)", uid, c.Len())
		}
	}
	return nil
}

// A full cache drops, for a new rendering, the first the hand finds unread since it last passed:
// a rendering read since survives one sweep, one not read goes.
func TestClockCacheDropsWhatWasNotRead(t *testing.T) {
	c := newClockCache(3)
	for _, uid := range []types.UID{"a", "b", "c"} {
		c.Add(uid, &rendered{})
	}
	if _, ok := c.Get("a"); !ok {
		t.Fatal("a is not held")
	}
	c.Add("d", &rendered{}) // the hand passes a (read), drops b
	if err := holds(c, "a", "c", "d"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("b"); ok || c.Len() != 3 {
		t.Fatalf("b held after d came (%d held), want it dropped", c.Len())
	}
	c.Add("e", &rendered{}) // the hand is past b's slot (d's): c, not read, goes
	if err := holds(c, "a", "d", "e"); err != nil {
		t.Fatal(err)
	}
	// Every rendering read: the hand clears each once, then drops the first it reaches again.
	for _, uid := range []types.UID{"a", "d", "e"} {
		c.Get(uid)
	}
	c.Add("f", &rendered{})
	if c.Len() != 3 || holds(c, "f") != nil {
		t.Fatalf("%d held, f held: %v; want 3 with f", c.Len(), holds(c, "f"))
	}
}

// Replacing a rendering drops nothing; a removed one's slot serves the next rendering, so nothing
// held is dropped for it.
func TestClockCacheReplaceAndRemove(t *testing.T) {
	c := newClockCache(2)
	c.Add("a", &rendered{version: "1"})
	c.Add("b", &rendered{})
	c.Add("a", &rendered{version: "2"})
	if r, _ := c.Get("a"); r == nil || r.version != "2" || holds(c, "b") != nil {
		t.Fatalf("after replacing a: a = %+v, %v", r, holds(c, "b"))
	}
	c.Remove("a")
	c.Add("c", &rendered{})
	if err := holds(c, "b", "c"); err != nil || c.Len() != 2 {
		t.Fatalf("after removing a and adding c: %v (%d held)", err, c.Len())
	}
}

// Concurrent reads, additions and removals keep the cache within its size (go test -race).
func TestClockCacheConcurrentUse(t *testing.T) {
	c := newClockCache(50)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				uid := types.UID(fmt.Sprint((i * (w + 1)) % 200))
				switch i % 4 {
				case 0, 1:
					c.Get(uid)
				case 2:
					c.Add(uid, &rendered{})
				case 3:
					if i%40 == 3 {
						c.Remove(uid)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 50 || n == 0 {
		t.Fatalf("%d held, want 1 to 50", n)
	}
	if len(c.slots) > 50 {
		t.Fatalf("%d slots, want at most 50", len(c.slots))
	}
}
