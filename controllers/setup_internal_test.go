package controllers

import "testing"

// TestUserWorkers checks the ScimUser workers' default: half the role workers, so that the first
// status writes of an initial sync's new users keep up with it (userWorkers).
func TestUserWorkers(t *testing.T) {
	for _, c := range []struct {
		opts Options
		want int
	}{
		{Options{MaxConcurrentReconciles: DefaultMaxConcurrentReconciles}, 8},
		{Options{MaxConcurrentReconciles: 6}, 3},
		{Options{MaxConcurrentReconciles: 1}, 1},
		{Options{MaxConcurrentReconciles: 16, MaxConcurrentUserReconciles: 4}, 4},
	} {
		if got := c.opts.userWorkers(); got != c.want {
			t.Errorf("%+v: %d user workers, want %d", c.opts, got, c.want)
		}
	}
}
