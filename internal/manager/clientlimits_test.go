package manager_test

import (
	"testing"

	"k8s.io/client-go/rest"

	"github.com/scim-operator/scim-operator/internal/manager"
)

// The manager's clients have the rate limit the options set — by default none (docs/operations.md,
// "Client-side rate limits") — whatever the config they are built from has.
func TestClientRateLimits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		qps       float64
		burst     int
		wantQPS   float32
		wantBurst int
	}{
		{"default: none", manager.DefaultKubeAPIQPS, manager.DefaultKubeAPIBurst, -1, 0},
		{"set", 50, 100, 50, 100},
		{"zero keeps the config's", 0, 0, 5, 10},
		{"a rate without a burst: two seconds' worth, not client-go's 10", 200, 0, 200, 400},
		{"a small rate without a burst", 0.2, 0, 0.2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// client-go's own default, which the manager must not keep unless told to.
			cfg := &rest.Config{Host: "https://127.0.0.1:1", QPS: 5, Burst: 10}
			got := manager.ClientConfig(cfg, manager.Options{KubeAPIQPS: tc.qps, KubeAPIBurst: tc.burst})
			if got.QPS != tc.wantQPS || got.Burst != tc.wantBurst {
				t.Errorf("QPS %v, burst %d; want %v, %d", got.QPS, got.Burst, tc.wantQPS, tc.wantBurst)
			}
			if cfg.QPS != 5 || cfg.Burst != 10 {
				t.Errorf("the caller's config was changed: QPS %v, burst %d", cfg.QPS, cfg.Burst)
			}
		})
	}
}
