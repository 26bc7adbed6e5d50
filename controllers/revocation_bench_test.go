package controllers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/bindingwatch"
	"github.com/scim-operator/scim-operator/internal/controlplane"
)

// BenchmarkRevocation measures fast revocation (rule 5) against the real API server, with the
// manager running as the operator under its generated RBAC — controllers, SCIM server and
// authorization webhook — the admission policies installed, and the API server consulting the
// webhook before RBAC (config/authorization). Each suspension is a SCIM PATCH active:false, and both
// ways revocation takes effect are timed from its response:
//   - webhook: until the first SubjectAccessReview of the user that the API server denies, polled
//     back to back (clusters with the webhook);
//   - bindings: until the last binding that held the user is written without it, as an informer of
//     the bindings observes it (every cluster; RBAC alone then denies).
//
// It reports percentiles in milliseconds for users in 1, 5, 100 and 1,000 roles, and logs them as
// one table; run it once with
//
//	go test ./controllers/ -run '^$' -bench Revocation -benchtime 1x
//
// Each layout of the bindings runs on its own control plane, one after the other in the same run:
// a binding set per role (PerRole, the default) and shared bindings (Shared, --rbac-shared-bindings;
// every role of the benchmark grants view, so a user is then a subject of one binding whatever the
// number of its roles). SCIM_BENCH_WORKERS sets Options.MaxConcurrentReconciles; SCIM_BENCH_LAYOUT
// (PerRole or Shared) runs one layout only.
func BenchmarkRevocation(b *testing.B) {
	if testing.Short() {
		b.Skip("the benchmark needs the local control plane")
	}
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	tables := map[string]string{}
	for _, layout := range []string{"PerRole", "Shared"} {
		if l := os.Getenv("SCIM_BENCH_LAYOUT"); l != "" && l != layout {
			continue
		}
		b.Run(layout, func(b *testing.B) { tables[layout] = benchmarkRevocation(b, layout == "Shared") })
	}
	// One table for both paths per layout (b.Log of a benchmark with sub-benchmarks is not shown).
	for _, layout := range []string{"PerRole", "Shared"} {
		if tables[layout] != "" {
			fmt.Printf("revocation from the SCIM response, bindings %s, 20 suspensions each (ms):\n%s\n%s\n", layout,
				"roles   webhook p50  p99    max     RBAC-only p50  p99    bindings p50  p99     max", tables[layout])
		}
	}
}

// benchmarkRevocation runs the benchmark's parts on a control plane of its own, bindings shared or
// not, and returns the rows of its table.
func benchmarkRevocation(b *testing.B, shared bool) string {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	local, adminCfg, operatorCfg, err := startControlPlane(ctx, controlplane.WithAuthorizationWebhook(benchPrefix))
	if err != nil {
		b.Fatal(err)
	}
	// The manager stops before the control plane whose files it reads.
	defer func() { cancel(); _ = local.Stop() }()
	adminCfg.QPS = -1 // the reviews are polled back to back
	c, err := client.New(adminCfg, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	// The token Secret under its installed name: the operator may read that one Secret only (config/rbac/token_reader_role.yaml).
	tokens := types.NamespacedName{Namespace: operatorSA.Namespace, Name: controlplane.TokenSecret}
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: tokens.Name, Namespace: tokens.Namespace},
		StringData: map[string]string{"generic": benchToken}}); err != nil {
		b.Fatal(err)
	}
	opts := Options{RBACUserPrefix: benchPrefix, SharedBindings: shared}
	if w := os.Getenv("SCIM_BENCH_WORKERS"); w != "" {
		if opts.MaxConcurrentReconciles, err = strconv.Atoi(w); err != nil {
			b.Fatal(err)
		}
	}
	scim, err := startManager(ctx, operatorCfg, opts, serving{webhook: local.AuthorizationWebhook, scimTokens: &tokens}, func(err error) { b.Error(err) })
	if err != nil {
		b.Fatal(err)
	}
	tr, err := bindingwatch.New(ctx, adminCfg, scheme)
	if err != nil {
		b.Fatal(err)
	}
	operator, err := client.New(operatorCfg, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	bench := &revocationBench{c: c, operator: operator, tr: tr, scim: scim, shared: shared}

	var rows []string
	for _, roles := range []int{1, 5, 100, 1000} {
		b.Run(fmt.Sprintf("OneUserIn%dRoles", roles), func(b *testing.B) {
			rows = append(rows, bench.oneUserInManyRoles(ctx, b, roles, 20))
		})
	}
	b.Run("UsersSpreadOver1000Roles", func(b *testing.B) { bench.usersSpread(ctx, b, 1000, 5, 200) })
	b.Run("BurstOf100Suspensions", func(b *testing.B) { bench.burst(ctx, b, 100) })
	return strings.Join(rows, "\n")
}

// The prefix of the benchmark's subjects, and the SCIM token of its provider.
const (
	benchPrefix = "oidc:"
	benchToken  = "bench-token"
)

type revocationBench struct {
	c client.Client
	// operator writes as the operator's ServiceAccount, for the baseline.
	operator client.Client
	tr       *bindingwatch.Tracker
	// scim is the SCIM base URL of the generic provider.
	scim string
	// spread are the users of UsersSpreadOver1000Roles not yet suspended.
	spread []*identityv1alpha1.ScimUser
	// shared is true when the controllers share bindings between roles.
	shared bool
}

// bindingsFor is the number of bindings that name a user in roles roles (all granting view).
func (rb *revocationBench) bindingsFor(roles int) int {
	if rb.shared {
		return 1
	}
	return roles
}

// oneUserInManyRoles suspends and reactivates one user who is in roles roles, times times, and
// returns a row of the table: the percentiles of both paths. For 1,000 roles it also measures the
// baseline of the binding path.
func (rb *revocationBench) oneUserInManyRoles(ctx context.Context, b *testing.B, roles, times int) string {
	target := benchUser("target")
	others := []*identityv1alpha1.ScimUser{benchUser("other-a"), benchUser("other-b")}
	rb.create(ctx, b, append(others, target)...)
	rb.createRoles(ctx, b, fmt.Sprintf("one-%d", roles), roles, func(i int) []*identityv1alpha1.ScimUser {
		return []*identityv1alpha1.ScimUser{target, others[i%2]}
	})
	subject := benchPrefix + target.Spec.UserName
	rb.waitHeld(ctx, b, subject, rb.bindingsFor(roles))
	rb.waitSettled(ctx, b)

	var webhook, rbacOnly, last, each []time.Duration
	reviews := 0 // the most reviews one suspension took to be denied
	for range times {
		r := rb.tr.Expect(subject)
		t0 := rb.setActive(ctx, b, target, false)
		d, n := rb.firstDenied(ctx, b, subject, t0)
		webhook, reviews = append(webhook, d), max(reviews, n)
		// The baseline of the webhook path, at the same moment: one review that RBAC alone
		// answers (its subject is outside the prefix, so the API server does not call the
		// webhook) — what any review costs while the bindings are being rewritten.
		rbacOnly = append(rbacOnly, rb.review(ctx, b, "bench-outside:"+target.Spec.UserName))
		l, e := rb.waitRevoked(ctx, b, r, t0)
		last, each = append(last, l), append(each, e...)
		rb.setActive(ctx, b, target, true)
		rb.waitHeld(ctx, b, subject, rb.bindingsFor(roles))
	}
	report(b, "webhook", webhook)
	b.ReportMetric(float64(reviews), "webhook-reviews-max")
	report(b, "rbac-review", rbacOnly)
	report(b, "last", last)
	report(b, "each", each)
	if roles == 1000 {
		// The baseline, measured in the same run: the operator's identity rewriting the same
		// bindings directly, 16 at a time (the controller's workers), with no controller in
		// between — the floor the API server sets; and 64 at a time, to see whether more
		// parallel writes would lower it.
		baseline := rb.rewriteBindings(ctx, b, subject, 16)
		b.ReportMetric(ms(baseline), "baseline-ms")
		b.ReportMetric(float64(percentile(last, 0.99))/float64(baseline), "last-p99/baseline")
		b.ReportMetric(ms(rb.rewriteBindings(ctx, b, subject, 64)), "baseline64-ms")
	}
	return fmt.Sprintf("%5d   %11.1f  %-6.1f %-7.1f %15.1f  %-6.1f %12.1f  %-7.1f %.1f", roles,
		ms(percentile(webhook, 0.5)), ms(percentile(webhook, 0.99)), ms(percentile(webhook, 1)),
		ms(percentile(rbacOnly, 0.5)), ms(percentile(rbacOnly, 0.99)),
		ms(percentile(last, 0.5)), ms(percentile(last, 0.99)), ms(percentile(last, 1)))
}

// firstDenied asks the API server, review after review, whether subject may list ConfigMaps, until
// a review is denied, and returns the time from start to that answer and the number of reviews.
func (rb *revocationBench) firstDenied(ctx context.Context, b *testing.B, subject string, start time.Time) (time.Duration, int) {
	for n := 1; ; n++ {
		sar := listConfigMaps(subject)
		if err := rb.c.Create(ctx, sar); err != nil {
			b.Fatal(err)
		}
		if sar.Status.Denied {
			return time.Since(start), n
		}
		if time.Since(start) > time.Minute {
			b.Fatalf("%s is not denied a minute after the suspension: %+v", subject, sar.Status)
		}
	}
}

// review asks the API server once whether subject may list ConfigMaps and returns how long the
// answer took.
func (rb *revocationBench) review(ctx context.Context, b *testing.B, subject string) time.Duration {
	sar := listConfigMaps(subject)
	start := time.Now()
	if err := rb.c.Create(ctx, sar); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// listConfigMaps is the review of whether subject may list the ConfigMaps of default.
func listConfigMaps(subject string) *authorizationv1.SubjectAccessReview {
	return &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: subject, Groups: []string{"system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "configmaps", Namespace: "default"},
	}}
}

// rewriteBindings rewrites, as the operator, every ClusterRoleBinding that names subject (adding an
// annotation), writers at a time, and returns how long that took.
func (rb *revocationBench) rewriteBindings(ctx context.Context, b *testing.B, subject string, writers int) time.Duration {
	var crbs rbacv1.ClusterRoleBindingList
	if err := rb.operator.List(ctx, &crbs, client.HasLabels{identityv1alpha1.LabelRole}); err != nil {
		b.Fatal(err)
	}
	var mine []*rbacv1.ClusterRoleBinding
	for i := range crbs.Items {
		if slices.ContainsFunc(crbs.Items[i].Subjects, func(s rbacv1.Subject) bool { return s.Name == subject }) {
			mine = append(mine, &crbs.Items[i])
		}
	}
	next := make(chan *rbacv1.ClusterRoleBinding)
	var wg sync.WaitGroup
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for crb := range next {
				patch := client.MergeFrom(crb.DeepCopy())
				metav1.SetMetaDataAnnotation(&crb.ObjectMeta, "bench.scim-operator.io/baseline", strconv.Itoa(writers))
				if err := rb.operator.Patch(ctx, crb, patch); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for _, crb := range mine {
		next <- crb
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	b.Logf("baseline: %d bindings rewritten directly, %d at a time, in %s", len(mine), writers, elapsed)
	return elapsed
}

// usersSpread makes n users and n roles of members members each, so that each user is in members
// roles, and suspends times users one after the other.
func (rb *revocationBench) usersSpread(ctx context.Context, b *testing.B, n, members, times int) {
	users := make([]*identityv1alpha1.ScimUser, n)
	for i := range users {
		users[i] = benchUser("spread")
	}
	rb.create(ctx, b, users...)
	rb.createRoles(ctx, b, "spread", n, func(i int) []*identityv1alpha1.ScimUser {
		var m []*identityv1alpha1.ScimUser
		for j := range members {
			m = append(m, users[(i+j)%n])
		}
		return m
	})
	for _, u := range users {
		rb.waitHeld(ctx, b, benchPrefix+u.Spec.UserName, rb.bindingsFor(members))
	}
	rb.waitSettled(ctx, b)
	var last []time.Duration
	for _, u := range users[:times] {
		r := rb.tr.Expect(benchPrefix + u.Spec.UserName)
		t0 := rb.setActive(ctx, b, u, false)
		l, _ := rb.waitRevoked(ctx, b, r, t0)
		last = append(last, l)
	}
	rb.spread = users[times:]
	report(b, "last", last)
}

// burst suspends n users of UsersSpreadOver1000Roles at once, as an identity provider offboarding a
// team would, and times each.
func (rb *revocationBench) burst(ctx context.Context, b *testing.B, n int) {
	if len(rb.spread) < n {
		b.Skip("needs UsersSpreadOver1000Roles first")
	}
	users := rb.spread[:n]
	starts := make([]time.Time, n)
	revocations := make([]*bindingwatch.Revocation, n)
	for i, u := range users {
		revocations[i] = rb.tr.Expect(benchPrefix + u.Spec.UserName)
	}
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() { starts[i] = rb.setActive(ctx, b, u, false) })
	}
	wg.Wait()
	var last []time.Duration
	for i, r := range revocations {
		l, _ := rb.waitRevoked(ctx, b, r, starts[i])
		last = append(last, l)
	}
	report(b, "last", last)
}

func benchUser(prefix string) *identityv1alpha1.ScimUser {
	name := unique(prefix)
	return &identityv1alpha1.ScimUser{
		// The finalizer as the SCIM server sets it on create, so the controller has none to add.
		ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: []string{identityv1alpha1.FinalizerAccess}},
		Spec:       identityv1alpha1.ScimUserSpec{UserName: name + "@example.com"},
	}
}

// create creates users, eight at a time.
func (rb *revocationBench) create(ctx context.Context, b *testing.B, users ...*identityv1alpha1.ScimUser) {
	objs := make([]client.Object, len(users))
	for i, u := range users {
		objs[i] = u
	}
	rb.createAll(ctx, b, objs)
}

// createRoles creates n roles granting view, with the members membersOf(i).
func (rb *revocationBench) createRoles(ctx context.Context, b *testing.B, prefix string, n int, membersOf func(int) []*identityv1alpha1.ScimUser) {
	objs := make([]client.Object, n)
	for i := range objs {
		role := &identityv1alpha1.ScimRole{
			ObjectMeta: metav1.ObjectMeta{Name: unique(prefix)},
			Spec:       identityv1alpha1.ScimRoleSpec{Access: &identityv1alpha1.Access{ClusterRoles: []string{"view"}}},
		}
		role.Spec.DisplayName = role.Name
		for _, u := range membersOf(i) {
			role.Spec.Members = append(role.Spec.Members, identityv1alpha1.Member{Value: u.Name})
		}
		objs[i] = role
	}
	rb.createAll(ctx, b, objs)
}

func (rb *revocationBench) createAll(ctx context.Context, b *testing.B, objs []client.Object) {
	var wg sync.WaitGroup
	next := make(chan client.Object)
	for range 8 {
		wg.Go(func() {
			for obj := range next {
				if err := rb.c.Create(ctx, obj); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for _, obj := range objs {
		next <- obj
	}
	close(next)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// setActive sets the user's active through a SCIM PATCH of the generic provider, and returns when
// the response arrived.
func (rb *revocationBench) setActive(ctx context.Context, b *testing.B, user *identityv1alpha1.ScimUser, active bool) time.Time {
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":%t}}]}`, active)
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, rb.scim+"/Users/"+user.Name, strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		b.Fatalf("PATCH /Users/%s: %d %s", user.Name, resp.StatusCode, out)
	}
	return time.Now()
}

// waitRevoked waits until no binding holds r's subject, suspended at start, and returns the time
// from start to the last binding written without it and to each.
func (rb *revocationBench) waitRevoked(ctx context.Context, b *testing.B, r *bindingwatch.Revocation, start time.Time) (time.Duration, []time.Duration) {
	last, each, err := rb.tr.WaitRevoked(ctx, r, start, 2*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	return last, each
}

// waitHeld waits until the user is a subject of n bindings.
func (rb *revocationBench) waitHeld(ctx context.Context, b *testing.B, user string, n int) {
	if err := rb.tr.WaitHeld(ctx, user, n, 5*time.Minute); err != nil {
		b.Fatal(err)
	}
}

// waitSettled waits until the controllers caught up with every role and user, so that what is
// measured is a revocation rather than the set-up's backlog of status writes.
func (rb *revocationBench) waitSettled(ctx context.Context, b *testing.B) {
	ready := func(generation int64, status int64, conditions []metav1.Condition) bool {
		return status == generation && conditionOf(conditions, identityv1alpha1.ConditionReady).Status == metav1.ConditionTrue
	}
	err := wait.PollUntilContextTimeout(ctx, time.Second, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		var roles identityv1alpha1.ScimRoleList
		var users identityv1alpha1.ScimUserList
		if err := rb.c.List(ctx, &roles); err != nil {
			return false, err
		}
		if err := rb.c.List(ctx, &users); err != nil {
			return false, err
		}
		for _, r := range roles.Items {
			if !ready(r.Generation, r.Status.ObservedGeneration, r.Status.Conditions) {
				return false, nil
			}
		}
		for _, u := range users.Items {
			if !ready(u.Generation, u.Status.ObservedGeneration, u.Status.Conditions) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		b.Fatalf("the controllers did not settle: %v", err)
	}
}

// report reports the percentiles of samples as metrics named after what.
func report(b *testing.B, what string, samples []time.Duration) {
	b.ReportMetric(ms(percentile(samples, 0.5)), what+"-p50-ms")
	b.ReportMetric(ms(percentile(samples, 0.99)), what+"-p99-ms")
	b.ReportMetric(ms(percentile(samples, 1)), what+"-max-ms")
	b.ReportMetric(float64(len(samples)), what+"-samples")
}

// percentile returns the p-th percentile (0 to 1) of samples, sorting them.
func percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	slices.Sort(samples)
	return samples[int(p*float64(len(samples)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
