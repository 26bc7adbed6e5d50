package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers"
)

// largeGroup is -large-group n: one group filled with n members by PATCHes of batch, one at a time,
// as an identity provider pushes an "everyone" group (issue 9, point 2). It prints the p50 of the
// first and the last tenth of the PATCHes and their ratio, GET /Groups/{id} with and without
// members against the same GETs of an empty group, and the time from the last PATCH response
// until the bindings hold every member.
//
// The users are created first, directly as the operator's ServiceAccount and marked by the
// provider (as the ceiling's are: what SCIM would store), and the bench waits until the
// controllers have reconciled every one of them, so that the PATCHes do not share the machine
// with a backlog the first tenth alone would pay.
func largeGroup(ctx context.Context, n, batch int, o options, eo envOptions, loadBefore string) (string, error) {
	logf("large group: %d members by PATCHes of %d: starting the control plane and the manager", n, batch)
	e, err := startEnv(ctx, eo)
	if err != nil {
		return "", err
	}
	defer e.stop()
	c := newSCIMClient(e.scim, e.token, o.clients, o.maxRetries)
	watch, err := watchUsersAndBindings(ctx, e)
	if err != nil {
		return "", err
	}

	ids := make([]string, n)
	userNames := make([]string, n)
	logf("creating %d ScimUsers as the operator", n)
	created := measureN(ctx, "client-go: create ScimUser", o.clients, n, func(ctx context.Context, i int) outcome {
		u := namedUser(fmt.Sprintf("large.user%07d@example.com", i), i)
		su := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("a-large-%07d", i), Finalizers: []string{v1.FinalizerAccess}}, Spec: u.spec()}
		su.Spec.Active = nil
		su.ApplyProviderActive(o.provider, true)
		ids[i], userNames[i] = su.Name, su.Spec.UserName
		return outcome{items: 1, err: e.operator.Create(ctx, su)}
	})
	if err := created.check(); err != nil {
		return "", err
	}
	logf("created in %s; waiting until every user is Ready", created.elapsed.Round(time.Second))
	if err := waitFor(ctx, o.convergeTimeout, func(ctx context.Context) (bool, string, error) { return usersReady(ctx, watch, n) }); err != nil {
		return "", err
	}

	body, _, err := c.do(ctx, http.MethodPost, "/Groups", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Everyone","members":[]}`), http.StatusCreated)
	if err != nil {
		return "", err
	}
	id, err := idOf(body)
	if err != nil {
		return "", err
	}
	const gets = 20
	emptyFull, err := timeGets(ctx, c, "/Groups/"+id, gets, 0)
	if err != nil {
		return "", err
	}
	emptyExcluded, err := timeGets(ctx, c, "/Groups/"+id+"?excludedAttributes=members", gets, -1)
	if err != nil {
		return "", err
	}
	role := &v1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: id}}
	if err := e.admin.Patch(ctx, role, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"access":{"clusterRoles":["view"]}}}`))); err != nil {
		return "", err
	}

	logf("filling group %s", id)
	var latencies []time.Duration
	failures := 0
	start := time.Now()
	for from := 0; from < n; from += batch {
		var values []string
		for i := from; i < min(n, from+batch); i++ {
			values = append(values, fmt.Sprintf(`{"value":%q,"display":%q}`, ids[i], userNames[i]))
		}
		patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[` +
			strings.Join(values, ",") + `]}]}`
		t0 := time.Now()
		_, _, err := c.do(ctx, http.MethodPatch, "/Groups/"+id, []byte(patch), http.StatusOK, http.StatusNoContent)
		latencies = append(latencies, time.Since(t0))
		if err != nil {
			failures++
			logf("PATCH %d failed: %v", len(latencies), err)
		}
		if len(latencies)%100 == 0 {
			logf("%d members, last PATCH %s", from+batch, latencies[len(latencies)-1].Round(time.Millisecond))
		}
	}
	last := time.Now()
	fill := last.Sub(start)

	logf("waiting until the bindings hold all %d subjects", n)
	var bindingsAfter time.Duration
	if err := waitFor(ctx, o.convergeTimeout, func(ctx context.Context) (bool, string, error) {
		got, err := subjectCount(ctx, watch, id)
		if got == n {
			bindingsAfter = time.Since(last)
		}
		return got == n, fmt.Sprintf("%d of %d subjects", got, n), err
	}); err != nil {
		return "", err
	}
	full, err := timeGets(ctx, c, "/Groups/"+id, 5, n)
	if err != nil {
		return "", err
	}
	excluded, err := timeGets(ctx, c, "/Groups/"+id+"?excludedAttributes=members", gets, -1)
	if err != nil {
		return "", err
	}
	var shards v1.ScimRoleMembersList
	if err := e.admin.List(ctx, &shards, client.MatchingLabels{v1.LabelRole: id}); err != nil {
		return "", err
	}
	largest := 0
	for _, sh := range shards.Items {
		largest = max(largest, len(sh.Spec.Members))
	}

	tenth := max(1, len(latencies)/10)
	first, lastTenth := median(latencies[:tenth]), median(latencies[len(latencies)-tenth:])
	var b strings.Builder
	fmt.Fprintf(&b, "### One group of %d members, filled by %d PATCHes of %d, one at a time\n\n", n, len(latencies), batch)
	fmt.Fprintf(&b, "Measured by `hack/bench -large-group %d` on %s.\n\n%s\n", n, time.Now().UTC().Format("2006-01-02 15:04 MST"), machine(loadBefore))
	b.WriteString("| what | value |\n|---|---:|\n")
	fmt.Fprintf(&b, "| PATCHes failed | %d of %d |\n", failures, len(latencies))
	fmt.Fprintf(&b, "| PATCH p50, first tenth | %s |\n", ms(first))
	fmt.Fprintf(&b, "| PATCH p50, last tenth | %s |\n", ms(lastTenth))
	fmt.Fprintf(&b, "| last tenth / first tenth (target ≤ 1.5) | %.2f |\n", float64(lastTenth)/float64(first))
	fmt.Fprintf(&b, "| PATCH p99, whole fill | %s |\n", ms(percentileOf(latencies, 0.99)))
	fmt.Fprintf(&b, "| fill, all PATCHes | %s s |\n", fmt.Sprintf("%.1f", fill.Seconds()))
	fmt.Fprintf(&b, "| bindings hold all %d subjects, after the last PATCH response | %s s |\n", n, fmt.Sprintf("%.1f", bindingsAfter.Seconds()))
	fmt.Fprintf(&b, "| GET /Groups/{id}, all %d members (median of 5) | %s |\n", n, ms(full))
	fmt.Fprintf(&b, "| GET /Groups/{id}, the group empty (median of %d) | %s |\n", gets, ms(emptyFull))
	fmt.Fprintf(&b, "| GET ?excludedAttributes=members, full group (median of %d) | %s |\n", gets, ms(excluded))
	fmt.Fprintf(&b, "| GET ?excludedAttributes=members, the group empty (median of %d) | %s |\n", gets, ms(emptyExcluded))
	fmt.Fprintf(&b, "| excludedAttributes=members, full / empty | %.2f |\n", float64(excluded)/float64(emptyExcluded))
	fmt.Fprintf(&b, "| ScimRoleMembers shards, largest | %d, %d members |\n", len(shards.Items), largest)
	fmt.Fprintf(&b, "| users created directly before the fill | %.0f/s |\n\n", created.opsPerSecond())
	return b.String(), nil
}

// watchUsersAndBindings starts an informer cache of the ScimUsers and the operator's
// ClusterRoleBindings, read as an admin.
func watchUsersAndBindings(ctx context.Context, e *env) (cache.Cache, error) {
	watch, err := cache.New(e.adminCfg, cache.Options{Scheme: scheme, ByObject: controllers.CacheByObject()})
	if err != nil {
		return nil, err
	}
	for _, obj := range []client.Object{&v1.ScimUser{}, &rbacv1.ClusterRoleBinding{}} {
		if _, err := watch.GetInformer(ctx, obj); err != nil {
			return nil, err
		}
	}
	go func() { _ = watch.Start(ctx) }()
	if !watch.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the watch did not sync")
	}
	return watch, nil
}

// usersReady reports whether n ScimUsers are Ready for their generation.
func usersReady(ctx context.Context, c client.Reader, n int) (bool, string, error) {
	var users v1.ScimUserList
	if err := c.List(ctx, &users, client.UnsafeDisableDeepCopy); err != nil {
		return false, "", err
	}
	ready := 0
	for i := range users.Items {
		u := &users.Items[i]
		if cond := apimeta.FindStatusCondition(u.Status.Conditions, v1.ConditionReady); cond != nil && cond.Status == metav1.ConditionTrue &&
			u.Status.ObservedGeneration == u.Generation {
			ready++
		}
	}
	return ready >= n, fmt.Sprintf("%d of %d ScimUsers Ready", ready, n), nil
}

// subjectCount returns the number of distinct subjects in the ClusterRoleBindings of role.
func subjectCount(ctx context.Context, c client.Reader, role string) (int, error) {
	var bindings rbacv1.ClusterRoleBindingList
	if err := c.List(ctx, &bindings, client.MatchingLabels{v1.LabelRole: role}, client.UnsafeDisableDeepCopy); err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	for _, b := range bindings.Items {
		for _, s := range b.Subjects {
			seen[s.Name] = true
		}
	}
	return len(seen), nil
}

// waitFor polls done every half second until it is true, for at most timeout.
func waitFor(ctx context.Context, timeout time.Duration, done func(ctx context.Context) (bool, string, error)) error {
	var why string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ok, reason, err := done(ctx)
		why = reason
		return ok, err
	})
	if err != nil {
		return fmt.Errorf("after %s: %s: %w", timeout, why, err)
	}
	return nil
}

// timeGets GETs path k times, one at a time, and returns the median latency; members, unless -1,
// is the number of members every response must hold.
func timeGets(ctx context.Context, c *scimClient, path string, k, members int) (time.Duration, error) {
	var latencies []time.Duration
	for range k {
		t0 := time.Now()
		body, _, err := c.do(ctx, http.MethodGet, path, nil, http.StatusOK)
		latencies = append(latencies, time.Since(t0))
		if err != nil {
			return 0, err
		}
		var doc struct {
			Members *[]json.RawMessage `json:"members"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			return 0, err
		}
		switch {
		case members < 0 && doc.Members != nil:
			return 0, fmt.Errorf("GET %s returned members", path)
		case members >= 0 && (doc.Members == nil || len(*doc.Members) != members):
			return 0, fmt.Errorf("GET %s did not return %d members", path, members)
		}
	}
	return median(latencies), nil
}

// median returns the median of latencies.
func median(latencies []time.Duration) time.Duration { return percentileOf(latencies, 0.5) }

// percentileOf returns the nearest-rank percentile p of latencies.
func percentileOf(latencies []time.Duration, p float64) time.Duration {
	r := &result{latencies: slices.Sorted(slices.Values(latencies))}
	return r.percentile(p)
}
