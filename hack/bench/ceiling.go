package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// createComparison creates o.compareUsers users through SCIM and as many ScimUsers directly through
// client-go, the ceiling, taking turns in o.rounds rounds at the same concurrency. The direct
// creates write as the operator's ServiceAccount, each ScimUser as the SCIM server would store it
// (marked by the provider, with the access finalizer, under the admission policies): what the API
// server sustains for the writes SCIM creates make, with the manager running and reconciling both
// alike. Their userNames follow the tenant's: the next n through SCIM, the n after directly.
func createComparison(ctx context.Context, e *env, c *scimClient, o options) (scim, direct *result, err error) {
	// What the steps before left to do (a revocation's reconciles and status writes) must not fall
	// on the first turn.
	settle(ctx, anyWrite, 3*time.Second, 2*time.Minute)
	n, base := o.compareUsers, o.users
	chunk := (n + o.rounds - 1) / o.rounds
	both := alternate(o.rounds,
		func(round int) *result {
			from := round * chunk
			return measureN(ctx, "POST /Users (beside the ceiling)", o.clients, max(0, min(chunk, n-from)), func(ctx context.Context, i int) outcome {
				_, retries, err := c.do(ctx, http.MethodPost, "/Users", newUser(base+from+i).body, http.StatusCreated)
				return outcome{items: 1, retries: retries, err: err}
			})
		},
		func(round int) *result {
			from := round * chunk
			return measureN(ctx, "client-go: create ScimUser (the ceiling)", o.clients, max(0, min(chunk, n-from)), func(ctx context.Context, i int) outcome {
				u := newUser(base + n + from + i)
				su := &v1.ScimUser{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("a-ceiling-%07d", from+i), Finalizers: []string{v1.FinalizerAccess}},
					Spec:       u.spec(),
				}
				su.Spec.Active = nil
				su.ApplyProviderActive(o.provider, true)
				return outcome{items: 1, err: e.operator.Create(ctx, su)}
			})
		})
	return both[0], both[1], errorsOf(both...)
}

// statusCeiling writes the status of each user createComparison created directly once, at
// o.clients concurrency, as the operator's ServiceAccount: a JSON merge patch that sets the
// user's conditions to a Ready=False one (a change: the manager made them ready; it stays there),
// as the manager writes a user's status when its readiness changes. It is what the
// API server sustains here for the writes that follow a sync (about one per user), beside the
// manager, which reconciles nothing for them (a status change queues no user). It starts once the
// manager's own status writes for those users have stopped.
func statusCeiling(ctx context.Context, e *env, o options) *result {
	settle(ctx, statusWrites, 3*time.Second, time.Minute)
	patch := client.RawPatch(types.MergePatchType, []byte(`{"status":{"conditions":[{"type":"Ready","status":"False",`+
		`"reason":"BindingsPending","message":"role r-0000000000000000 (the status-write ceiling): not yet in ClusterRole/view",`+
		`"lastTransitionTime":"2026-01-01T00:00:00Z"}]}}`))
	return measureN(ctx, "client-go: patch ScimUser status (the ceiling)", o.clients, o.compareUsers, func(ctx context.Context, i int) outcome {
		su := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("a-ceiling-%07d", i)}}
		return outcome{items: 1, err: e.operator.Status().Patch(ctx, su, patch)}
	})
}

// statusWrites is the API server's count of ScimUser status patches.
const statusWrites = "PATCH scimusers/status"

// anyWrite stands for the sum of the API server's counts of writes (every verb but GET, LIST and
// WATCH) to settle: of the kinds apiServerRequests counts (ScimUsers, ScimRoles, RBAC bindings,
// events), not of ScimRoleMembers.
const anyWrite = "writes"

// writeCount is the count what names in counts: one verb and resource, or all writes.
func writeCount(counts map[string]float64, what string) float64 {
	if what != anyWrite {
		return counts[what]
	}
	n := 0.0
	for k, v := range counts {
		if verb, _, _ := strings.Cut(k, " "); verb != "GET" && verb != "LIST" && verb != "WATCH" {
			n += v
		}
	}
	return n
}

// settle waits until the API server's count of requests what has not moved for quiet, at most
// timeout (or without counts, quiet). It reads the counts once a second, and waits a second more
// at the end: the API server's /metrics costs it a few hundred ms of CPU to serve, which must not
// fall on what is measured next.
func settle(ctx context.Context, what string, quiet, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	last, since := writeCount(apiRequestCounts(), what), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < quiet && ctx.Err() == nil {
		time.Sleep(time.Second)
		if n := writeCount(apiRequestCounts(), what); n != last {
			last, since = n, time.Now()
		}
	}
	if time.Since(since) < quiet && ctx.Err() == nil {
		logf("%s still moving after %s: measuring anyway", what, timeout)
	}
	time.Sleep(time.Second)
}
