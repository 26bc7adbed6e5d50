package scimserver

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

// The buckets are driven by explicit times: nothing here depends on how fast the machine is.

func TestBucketsTakeABurstThenRefill(t *testing.T) {
	b := newBuckets(2, 3, 0) // 2 a second, 3 at once
	now := time.Unix(1000, 0)
	for i := range 3 {
		if _, ok := b.take("a", now); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	wait, ok := b.take("a", now)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("past the burst: ok %v, wait %v; want refused, 500ms", ok, wait)
	}
	// A refused request takes nothing: half a second later one is allowed, then none.
	if _, ok := b.take("a", now.Add(500*time.Millisecond)); !ok {
		t.Fatal("refilled bucket refused")
	}
	if _, ok := b.take("a", now.Add(500*time.Millisecond)); ok {
		t.Fatal("a second request from a bucket refilled by one was allowed")
	}
	if _, ok := b.take("b", now); !ok {
		t.Fatal("another key shares a's bucket")
	}
	var disabled *buckets = newBuckets(0, 10, 0)
	if _, ok := disabled.take("a", now); !ok || disabled != nil {
		t.Fatal("a zero rate limits")
	}
}

func TestBucketsAreBoundedAndShareAnOverflowBucket(t *testing.T) {
	b := newBuckets(1, 2, 3)
	now := time.Unix(1000, 0)
	for i := range 3 {
		b.take(fmt.Sprint("busy", i), now)
	}
	if b.size() != 3 {
		t.Fatalf("%d keys tracked, want 3", b.size())
	}
	// The table is full of buckets in use: new keys share the overflow bucket.
	b.take("new1", now)
	b.take("new2", now)
	if _, ok := b.take("new3", now); ok {
		t.Fatal("the overflow bucket allowed more than its burst")
	}
	if b.size() != 3 {
		t.Fatalf("%d keys tracked, want at most 3", b.size())
	}
	// Two seconds on, every bucket is full again: a sweep drops them and new keys get their own.
	later := now.Add(2 * time.Second)
	if _, ok := b.take("new4", later); !ok {
		t.Fatal("a new key refused once the table had room")
	}
	if b.size() != 1 {
		t.Fatalf("%d keys tracked after the sweep, want 1", b.size())
	}
}

func TestInFlightCountsPerKey(t *testing.T) {
	f := &inFlight{max: 2}
	if !f.acquire("a") || !f.acquire("a") {
		t.Fatal("refused within the maximum")
	}
	if f.acquire("a") {
		t.Fatal("allowed past the maximum")
	}
	if !f.acquire("b") {
		t.Fatal("another key shares a's count")
	}
	f.release("a")
	if !f.acquire("a") {
		t.Fatal("refused after a release")
	}
	f.release("a")
	f.release("a")
	f.release("b")
	if len(f.n) != 0 {
		t.Fatalf("keys without requests are kept: %v", f.n)
	}
	unbounded := &inFlight{}
	for range 100 {
		if !unbounded.acquire("a") {
			t.Fatal("a zero maximum limits")
		}
	}
}

func TestClientAddress(t *testing.T) {
	for _, tc := range []struct {
		remote, forwarded string
		trust             bool
		want              string
	}{
		{"192.0.2.1:5555", "", false, "192.0.2.1"},
		{"192.0.2.1:5555", "198.51.100.7", false, "192.0.2.1"}, // not trusted: ignored
		{"192.0.2.1:5555", "198.51.100.7", true, "198.51.100.7"},
		// The first value is the client's claim, the last the proxy's.
		{"192.0.2.1:5555", "203.0.113.9, 198.51.100.7", true, "198.51.100.7"},
		{"192.0.2.1:5555", "not-an-address", true, "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:5555", "", false, "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:5555", "", false, "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.1]:5555", "", false, "192.0.2.1"},
		{"[fe80::1%eth0]:5555", "", false, "fe80::/64"},
	} {
		s := &Server{opts: Options{TrustForwardedHeaders: tc.trust}}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.forwarded != "" {
			r.Header.Set("X-Forwarded-For", tc.forwarded)
		}
		if got := s.clientAddress(r); got != tc.want {
			t.Errorf("clientAddress(%s, X-Forwarded-For %q, trusted %v) = %s, want %s", tc.remote, tc.forwarded, tc.trust, got, tc.want)
		}
	}
}
