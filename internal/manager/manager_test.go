package manager_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/controlplane"
	"github.com/scim-operator/scim-operator/internal/manager"
	"github.com/scim-operator/scim-operator/internal/scimtest"
	"github.com/scim-operator/scim-operator/scimserver"
)

const (
	namespace = "scim-operator-system"
	token     = "replica-test-token"
)

var tokenSecret = types.NamespacedName{Namespace: namespace, Name: "scim-operator-scim-tokens"}

// replica is one manager process's worth: the manager, its SCIM base URL and probe address.
type replica struct {
	name    string
	mgr     ctrl.Manager
	scim    string
	probes  string
	cancel  context.CancelFunc
	stopped chan error
}

// startReplica builds and starts a manager as main.go does, as the operator's ServiceAccount, with
// leader election on and short leases; configure changes the options, if given.
func startReplica(t *testing.T, ctx context.Context, cfg *rest.Config, name string, configure ...func(*manager.Options)) *replica {
	t.Helper()
	probes := scimtest.FreeAddr(t)
	ctx, cancel := context.WithCancel(ctx)
	o := manager.Options{
		MetricsAddr: "0", ProbeAddr: probes,
		LeaderElection: true, LeaderElectionNamespace: namespace,
		LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 500 * time.Millisecond,
		Controller: config.Controller{SkipNameValidation: new(true)},
		SCIM:       scimserver.Options{Addr: "127.0.0.1:0", Providers: []string{"generic"}, TokenSecret: tokenSecret},
	}
	for _, c := range configure {
		c(&o)
	}
	mgr, srv, err := manager.New(ctx, cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, mgr: mgr, probes: probes, cancel: cancel, stopped: make(chan error, 1)}
	go func() { r.stopped <- mgr.Start(ctx) }()
	addr, err := srv.Addr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.scim = "http://" + addr.String() + "/provisioning/generic/v2"
	return r
}

// startControlPlane starts the local control plane with opts, stopped when the test ends, and
// installs the operator's RBAC and the admission policies. It returns the control plane, an admin's
// config and the operator's (its ServiceAccount, under the generated RBAC).
func startControlPlane(t *testing.T, ctx context.Context, opts ...controlplane.Option) (*controlplane.Local, *rest.Config, *rest.Config) {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	local, adminCfg, err := controlplane.Start(ctx, root, "", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = local.Stop() })
	sa := types.NamespacedName{Namespace: namespace, Name: "scim-operator-controller-manager"}
	username, err := controlplane.InstallOperatorRBAC(ctx, adminCfg, root, sa)
	if err != nil {
		t.Fatal(err)
	}
	if err := controlplane.InstallPolicies(ctx, adminCfg, root); err != nil {
		t.Fatal(err)
	}
	operator, err := local.Env.AddUser(envtest.User{Name: username, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	operatorCfg := operator.Config()
	operatorCfg.QPS = -1 // as ctrl.GetConfig: the API server's priority and fairness limits the operator
	return local, adminCfg, operatorCfg
}

// stop stops the replica and waits until its manager has returned.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := <-r.stopped; err != nil {
		t.Errorf("%s: manager: %v", r.name, err)
	}
}

// leads reports whether the replica has been elected.
func (r *replica) leads() bool {
	select {
	case <-r.mgr.Elected():
		return true
	default:
		return false
	}
}

// readyz returns the status code and body of the replica's /readyz?verbose.
func (r *replica) readyz() (int, string) { return scimtest.Readyz(r.probes) }

// do sends a SCIM request to the replica and returns the status and body.
func (r *replica) do(method, path, body string) (int, string) {
	resp := (&scimtest.Client{Base: r.scim, Token: token}).Do(method, path, body)
	if resp.Err != nil {
		return 0, resp.Err.Error()
	}
	return resp.Status, resp.Body
}

// TestReplicas runs two managers against one API server: readiness tells the truth, both serve SCIM,
// only the leader reconciles, and stopping the leader hands over without losing a write.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane")
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	local, adminCfg, operatorCfg := startControlPlane(t, ctx)
	admin, err := client.New(adminCfg, client.Options{Scheme: manager.Scheme})
	if err != nil {
		t.Fatal(err)
	}

	a := startReplica(t, ctx, operatorCfg, "a")
	defer func() { a.cancel() }()

	// Readiness: not before the token Secret has been read.
	scimtest.Eventually(t, 30*time.Second, "a reports the missing token Secret", func() (bool, string) {
		code, body := a.readyz()
		return code == http.StatusInternalServerError && strings.Contains(body, "[-]token-secret"), body
	})
	if err := admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: tokenSecret.Name, Namespace: namespace},
		StringData: map[string]string{"generic": token}}); err != nil {
		t.Fatal(err)
	}
	scimtest.Eventually(t, 30*time.Second, "a is ready", func() (bool, string) {
		code, body := a.readyz()
		return code == http.StatusOK, body
	})
	b := startReplica(t, ctx, operatorCfg, "b")
	defer func() { b.cancel() }()
	scimtest.Eventually(t, 30*time.Second, "b is ready", func() (bool, string) {
		code, body := b.readyz()
		return code == http.StatusOK, body
	})

	// Exactly one leader.
	scimtest.Eventually(t, 30*time.Second, "a leader is elected", func() (bool, string) { return a.leads() || b.leads(), "" })
	time.Sleep(time.Second)
	if a.leads() == b.leads() {
		t.Fatalf("a leads: %v, b leads: %v; want exactly one leader", a.leads(), b.leads())
	}
	leader, other := a, b
	if b.leads() {
		leader, other = b, a
	}
	lease := &coordinationv1.Lease{}
	if err := admin.Get(ctx, types.NamespacedName{Namespace: namespace, Name: manager.DefaultLeaderElectionID}, lease); err != nil {
		t.Fatal(err)
	}
	t.Logf("leader %s holds lease %s as %s", leader.name, lease.Name, *lease.Spec.HolderIdentity)

	// Both serve SCIM, reading each other's writes.
	code, body := other.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@example.com"}`)
	if code != http.StatusCreated {
		t.Fatalf("create on %s: %d %s", other.name, code, body)
	}
	alice := scimtest.IDOf(t, body)
	scimtest.Eventually(t, 10*time.Second, "the leader serves the other's write", func() (bool, string) {
		code, body := leader.do("GET", "/Users/"+alice, "")
		return code == http.StatusOK, body
	})
	code, body = leader.do("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Platform","members":[{"value":%q}]}`, alice))
	if code != http.StatusCreated {
		t.Fatalf("create group on %s: %d %s", leader.name, code, body)
	}
	group := scimtest.IDOf(t, body)
	// GitOps declares what the group grants.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		role := &identityv1alpha1.ScimRole{}
		if err := admin.Get(ctx, types.NamespacedName{Name: group}, role); err != nil {
			return err
		}
		role.Spec.Access = &identityv1alpha1.Access{ClusterRoles: []string{"view"}}
		return admin.Update(ctx, role)
	}); err != nil {
		t.Fatal(err)
	}
	subjects := func() []string {
		var list rbacv1.ClusterRoleBindingList
		if err := admin.List(ctx, &list, client.MatchingLabels{identityv1alpha1.LabelRole: group}); err != nil {
			return []string{err.Error()}
		}
		var names []string
		for _, b := range list.Items {
			for _, s := range b.Subjects {
				names = append(names, s.Name)
			}
		}
		return names
	}
	scimtest.Eventually(t, 30*time.Second, "the leader binds alice", func() (bool, string) {
		s := subjects()
		return len(s) == 1 && s[0] == "alice@example.com", fmt.Sprint(s)
	})

	// Stop the leader while the other keeps taking writes: every acknowledged write stays.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []string
		failed  []string
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 40 {
			code, body := other.do("POST", "/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"handover-%02d@example.com"}`, i))
			mu.Lock()
			if code == http.StatusCreated {
				created = append(created, scimtest.IDOf(t, body))
			} else {
				failed = append(failed, fmt.Sprintf("%d %s", code, body))
			}
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	stoppedAt := time.Now()
	leader.stop(t)
	scimtest.Eventually(t, 30*time.Second, "the other replica takes the lease", func() (bool, string) { return other.leads(), "" })
	t.Logf("handover: %s elected %s after the leader stopped", other.name, time.Since(stoppedAt).Round(time.Millisecond))
	wg.Wait()
	if len(failed) > 0 {
		t.Errorf("SCIM writes failed during the handover: %v", failed)
	}
	for _, id := range created {
		if err := admin.Get(ctx, types.NamespacedName{Name: id}, &identityv1alpha1.ScimUser{}); err != nil {
			t.Errorf("acknowledged user %s: %v", id, err)
		}
	}
	t.Logf("%d users created on %s during the handover, all stored", len(created), other.name)

	// The new leader reconciles: suspending alice through it takes her out of the binding.
	code, body = other.do("PATCH", "/Users/"+alice, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`)
	if code != http.StatusOK {
		t.Fatalf("suspend on %s: %d %s", other.name, code, body)
	}
	scimtest.Eventually(t, 30*time.Second, "the new leader unbinds alice", func() (bool, string) {
		s := subjects()
		return len(s) == 0, fmt.Sprint(s)
	})

	// Readiness follows the API server. Its graceful stop may outlast envtest's wait; what matters
	// is that it stops answering.
	apiStopped := make(chan struct{})
	go func() { _ = local.Env.ControlPlane.APIServer.Stop(); close(apiStopped) }()
	scimtest.Eventually(t, 30*time.Second, "the survivor reports the API server unreachable", func() (bool, string) {
		code, body := other.readyz()
		return code != http.StatusOK && strings.Contains(body, "[-]api-server"), body
	})
	if code, _ := other.readyz(); code == http.StatusOK {
		t.Error("ready without an API server")
	}
	other.cancel()
	<-apiStopped
}
