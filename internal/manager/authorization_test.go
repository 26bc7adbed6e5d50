package manager_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access/authorizer"
	"github.com/scim-operator/scim-operator/internal/controlplane"
	"github.com/scim-operator/scim-operator/internal/manager"
	"github.com/scim-operator/scim-operator/internal/scimtest"
)

// userPrefix is the --rbac-user-prefix of the authorization suite, and the prefix the local API
// server sends to the webhook (the sample's).
const userPrefix = "oidc:"

// TestAuthorizationWebhook runs the manager with the authorization webhook against an API server
// configured with config/authorization: SubjectAccessReviews go through the real authorizer chain
// (Node, the webhook, RBAC). A user in 300 roles is allowed, then denied as soon as the webhook's
// cache sees a SCIM suspension, an admin's suspension or a SCIM deletion, while the bindings follow;
// an unprovisioned user under the prefix is denied and one outside it is not; with the manager
// stopped, reviews fall through to RBAC, and the bindings still converge without the webhook.
func TestAuthorizationWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane")
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	local, adminCfg, operatorCfg := startControlPlane(t, ctx, controlplane.WithAuthorizationWebhook(userPrefix))
	admin, err := client.New(adminCfg, client.Options{Scheme: manager.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: tokenSecret.Name, Namespace: namespace},
		StringData: map[string]string{"generic": token}}); err != nil {
		t.Fatal(err)
	}
	// Alice and Bob are in 300 roles that GitOps declares, all there before the manager starts (so
	// that the set-up is one reconcile per role, not one per role and member event).
	const roles = 300
	alice, bob := "a-alice", "a-bob"
	for _, id := range []string{alice, bob} {
		if err := admin.Create(ctx, &identityv1alpha1.ScimUser{
			ObjectMeta: metav1.ObjectMeta{Name: id, Finalizers: []string{identityv1alpha1.FinalizerAccess}},
			Spec:       identityv1alpha1.ScimUserSpec{UserName: strings.TrimPrefix(id, "a-") + "@example.com"},
		}); err != nil {
			t.Fatal(err)
		}
	}
	createRoles(t, ctx, admin, roles, alice, bob)

	// One replica at a time, without leader election: a lease lost on a busy machine would stop it.
	withWebhook := func(o *manager.Options) {
		o.LeaderElection = false
		o.Controllers.RBACUserPrefix = userPrefix
		o.Authorization = local.AuthorizationWebhook.Options()
	}
	r := startReplica(t, ctx, operatorCfg, "with-webhook", withWebhook)
	defer func() { r.cancel() }()
	scimtest.Eventually(t, 60*time.Second, "the manager is ready, webhook included", func() (bool, string) {
		code, body := r.readyz()
		return code == http.StatusOK && strings.Contains(body, "[+]authorization-webhook"), body
	})
	review := func(user string) authorizationv1.SubjectAccessReviewStatus {
		t.Helper()
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: []string{"system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "configmaps", Namespace: "default"},
		}}
		if err := admin.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		return sar.Status
	}
	// deniedByWebhook polls reviews of user, as fast as the API server answers them, until one is
	// denied by the webhook, and returns it and how long after start it came.
	deniedByWebhook := func(user string, start time.Time) (authorizationv1.SubjectAccessReviewStatus, time.Duration) {
		t.Helper()
		for n := 1; ; n++ {
			status := review(user)
			if status.Denied {
				if status.Allowed || !strings.HasPrefix(status.Reason, authorizer.ReasonPrefix) {
					t.Fatalf("%s: %+v, want a denial of the webhook", user, status)
				}
				t.Logf("%s denied %s after the write (review %d): %s", user, time.Since(start).Round(time.Millisecond), n, status.Reason)
				return status, time.Since(start)
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("%s: not denied within 30 s: %+v", user, status)
			}
		}
	}
	scim := func(method, path, body string, want int) string {
		t.Helper()
		code, out := r.do(method, path, body)
		if code != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, code, out, want)
		}
		return out
	}
	setActive := func(id string, active bool) time.Time {
		t.Helper()
		scim("PATCH", "/Users/"+id, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":%t}}]}`, active), http.StatusOK)
		return time.Now()
	}
	bindingsHolding := func(subject string) int {
		var list rbacv1.ClusterRoleBindingList
		if err := admin.List(ctx, &list, client.HasLabels{identityv1alpha1.LabelRole}); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, b := range list.Items {
			for _, s := range b.Subjects {
				if s.Name == subject {
					n++
				}
			}
		}
		return n
	}
	waitBindings := func(subject string, want int) {
		t.Helper()
		defer func(start time.Time) {
			t.Logf("%s in %d bindings after %s", subject, want, time.Since(start).Round(time.Millisecond))
		}(time.Now())
		scimtest.Eventually(t, 5*time.Minute, fmt.Sprintf("%s is in %d bindings", subject, want), func() (bool, string) {
			n := bindingsHolding(subject)
			return n == want, fmt.Sprint(n)
		})
	}

	aliceSubject, bobSubject := userPrefix+"alice@example.com", userPrefix+"bob@example.com"
	waitBindings(aliceSubject, roles)
	waitBindings(bobSubject, roles)
	// Allowed through the webhook (no opinion) by RBAC.
	if s := review(aliceSubject); !s.Allowed || s.Denied {
		t.Fatalf("alice in %d roles: %+v, want allowed by RBAC", roles, s)
	}

	// Suspended by the identity provider: denied at once, and the bindings follow.
	status, _ := deniedByWebhook(aliceSubject, setActive(alice, false))
	if !strings.Contains(status.Reason, "suspended (by provider)") {
		t.Errorf("reason %q, want a suspension by the provider", status.Reason)
	}
	waitBindings(aliceSubject, 0)
	// Reactivated: RBAC allows again once the bindings are back.
	setActive(alice, true)
	waitBindings(aliceSubject, roles)
	scimtest.Eventually(t, 30*time.Second, "alice is allowed again", func() (bool, string) {
		s := review(aliceSubject)
		return s.Allowed, fmt.Sprintf("%+v", s)
	})

	// Suspended by an admin with kubectl: likewise, before the operator has recorded who did it.
	suspendedAt := adminSetActive(t, ctx, admin, alice, false)
	status, _ = deniedByWebhook(aliceSubject, suspendedAt)
	if !strings.Contains(status.Reason, "suspended (by admin)") {
		t.Errorf("reason %q, want a suspension by an admin", status.Reason)
	}
	adminSetActive(t, ctx, admin, alice, true)
	waitBindings(aliceSubject, roles)
	scimtest.Eventually(t, 30*time.Second, "alice is allowed again", func() (bool, string) {
		s := review(aliceSubject)
		return s.Allowed, fmt.Sprintf("%+v", s)
	})

	// Deleted by the identity provider: SCIM DELETE takes alice out of her 300 roles (in parallel,
	// for at most half the write's time: the finalizer's clean-up finishes what is left) and deletes
	// her within the request; the reviews are denied from then on, and no role keeps her.
	deleteStart := time.Now()
	scim("DELETE", "/Users/"+alice, "", http.StatusNoContent)
	t.Logf("SCIM DELETE of a user in %d roles answered in %s", roles, time.Since(deleteStart).Round(time.Millisecond))
	scimtest.Eventually(t, time.Minute, "no role lists alice", func() (bool, string) {
		var left identityv1alpha1.ScimRoleList
		if err := admin.List(ctx, &left); err != nil {
			return false, err.Error()
		}
		n := 0
		for _, role := range left.Items {
			if slices.Contains(role.MemberIDs(), alice) {
				n++
			}
		}
		return n == 0, fmt.Sprintf("%d roles list her", n)
	})
	t.Logf("no role lists alice %s after her SCIM DELETE", time.Since(deleteStart).Round(time.Millisecond))
	status, _ = deniedByWebhook(aliceSubject, time.Now())
	if !strings.Contains(status.Reason, "being deleted") && !strings.Contains(status.Reason, "not provisioned") {
		t.Errorf("reason %q, want a deletion", status.Reason)
	}
	scimtest.Eventually(t, time.Minute, "alice is gone", func() (bool, string) {
		s := review(aliceSubject)
		return s.Denied && strings.Contains(s.Reason, "not provisioned"), fmt.Sprintf("%+v", s)
	})

	// Bound by hand, so RBAC alone would allow both: a user under the prefix that SCIM never
	// provisioned is denied; one outside the prefix never reaches the webhook.
	mallory, carol := userPrefix+"mallory@example.com", "carol@example.com"
	bind(t, ctx, admin, mallory, carol)
	scimtest.Eventually(t, 30*time.Second, "carol is allowed by RBAC", func() (bool, string) {
		s := review(carol)
		return s.Allowed && !s.Denied, fmt.Sprintf("%+v", s)
	})
	if s := review(mallory); !s.Denied || !strings.Contains(s.Reason, "not provisioned") {
		t.Errorf("%s, not provisioned: %+v, want denied", mallory, s)
	}

	// The manager stopped: the API server cannot reach the webhook, and RBAC decides (NoOpinion).
	r.stop(t)
	if s := review(mallory); !s.Allowed {
		t.Errorf("%s with the webhook down: %+v, want RBAC's answer (allowed)", mallory, s)
	}
	if s := review(bobSubject); !s.Allowed {
		t.Errorf("bob with the webhook down: %+v, want RBAC's answer (allowed)", s)
	}
	// A suspension while no operator runs waits for one; a manager without the webhook then takes
	// bob out of every binding, and RBAC no longer allows him.
	adminSetActive(t, ctx, admin, bob, false)
	if s := review(bobSubject); !s.Allowed {
		t.Errorf("bob suspended with no operator: %+v, want RBAC's stale answer until the bindings converge", s)
	}
	r2 := startReplica(t, ctx, operatorCfg, "without-webhook", func(o *manager.Options) {
		o.LeaderElection = false
		o.Controllers.RBACUserPrefix = userPrefix
	})
	defer func() { r2.cancel() }()
	waitBindings(bobSubject, 0)
	if s := review(bobSubject); s.Allowed || s.Denied {
		t.Errorf("bob out of his bindings, webhook down: %+v, want no RBAC rule to allow him and no denial", s)
	}
}

// createRoles creates n roles granting view with the members ids, eight at a time, as GitOps would.
func createRoles(t *testing.T, ctx context.Context, admin client.Client, n int, ids ...string) {
	t.Helper()
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				role := &identityv1alpha1.ScimRole{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("r-authz-%03d", i)},
					Spec: identityv1alpha1.ScimRoleSpec{DisplayName: fmt.Sprintf("Authz %03d", i),
						Access: &identityv1alpha1.Access{ClusterRoles: []string{"view"}}},
				}
				for _, id := range ids {
					role.Spec.Members = append(role.Spec.Members, identityv1alpha1.Member{Value: id})
				}
				if err := admin.Create(ctx, role); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// adminSetActive sets the user's spec.active as an admin with kubectl would, and returns when the
// API server has stored it.
func adminSetActive(t *testing.T, ctx context.Context, admin client.Client, id string, active bool) time.Time {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u := &identityv1alpha1.ScimUser{}
		if err := admin.Get(ctx, types.NamespacedName{Name: id}, u); err != nil {
			return err
		}
		u.Spec.Active = new(active)
		return admin.Update(ctx, u)
	})
	if err != nil {
		t.Fatal(err)
	}
	return time.Now()
}

// bind binds the users to view with a ClusterRoleBinding of the admin's own.
func bind(t *testing.T, ctx context.Context, admin client.Client, users ...string) {
	t.Helper()
	b := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "by-hand-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
	}
	for _, u := range users {
		b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: u})
	}
	if err := admin.Create(ctx, b); err != nil {
		t.Fatal(err)
	}
}
