package faults_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/controlplane"
	"github.com/scim-operator/scim-operator/internal/scimtest"
)

// userPrefix is the managers' --rbac-user-prefix: bindings name users oidc:<userName>.
const userPrefix = "oidc:"

// managerBinary is the manager built by TestMain from this checkout.
var managerBinary string

var scheme = runtime.NewScheme()

func TestMain(m *testing.M) {
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard))) // the test's clients; the managers log to files
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := identityv1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if testing.Short() {
		os.Exit(m.Run()) // every test skips itself
	}
	dir, err := os.MkdirTemp("", "faults-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer func() { _ = os.RemoveAll(dir) }()
		root, err := controlplane.RepoRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		managerBinary = filepath.Join(dir, "manager")
		build := exec.Command("go", "build", "-o", managerBinary, ".")
		build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build the manager:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// env is a local control plane with the operator installed: its RBAC, the admission policies and
// a token Secret for the generic provider.
type env struct {
	local *controlplane.Local
	admin client.Client
	// kubeconfig authenticates as the operator's ServiceAccount, for the managers.
	kubeconfig, token string
	dir               string
}

func startEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the manager against the local control plane")
	}
	ctx := context.Background()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	local, cfg, err := controlplane.Start(ctx, root, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := local.Stop(); err != nil {
			t.Logf("stop the control plane: %v", err)
		}
	})
	e := &env{local: local, dir: t.TempDir(), token: randomHex(16)}
	e.kubeconfig = filepath.Join(e.dir, "operator.kubeconfig")
	if err := local.InstallOperator(ctx, cfg, root, e.kubeconfig, []string{"generic"}, e.token); err != nil {
		t.Fatal(err)
	}
	if e.admin, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane up in %s", since(started))
	return e
}

// adminConfig is a cluster-admin's config (the control plane's).
func (e *env) adminConfig() *rest.Config { return e.local.Env.Config }

// manager is a manager binary running against env, or one that ran there.
type manager struct {
	name string
	proc *controlplane.ManagerProcess
	opts controlplane.ManagerOptions
	// scim is a client of its generic provider; probes its probe address.
	scim   *scimtest.Client
	probes string
	log    string
}

// startManager runs the manager binary as the operator with args besides controlplane's, and
// waits until it is ready.
func (e *env) startManager(t *testing.T, name string, args ...string) *manager {
	t.Helper()
	m := &manager{name: name, log: filepath.Join(e.dir, name+".log"), probes: scimtest.FreeAddr(t)}
	scimAddr := scimtest.FreeAddr(t)
	m.opts = controlplane.ManagerOptions{
		Binary: managerBinary, Kubeconfig: e.kubeconfig, SCIMAddr: scimAddr, MetricsAddr: "0", ProbeAddr: m.probes,
		Providers: []string{"generic"}, UserPrefix: userPrefix, Args: args,
	}
	m.scim = &scimtest.Client{Base: "http://" + scimAddr + "/provisioning/generic/v2", Token: e.token}
	m.start(t)
	return m
}

// start starts the manager's process (again, after Kill), appending to its log, and waits until it
// is ready.
func (m *manager) start(t *testing.T) {
	t.Helper()
	log, err := os.OpenFile(m.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	m.opts.Stdout, m.opts.Stderr = log, log
	started := time.Now()
	if m.proc, err = controlplane.StartManager(m.opts); err != nil {
		t.Fatal(err)
	}
	proc := m.proc
	t.Cleanup(func() {
		_ = proc.Stop()
		_ = log.Close()
		if t.Failed() {
			m.dumpLog(t)
		}
	})
	m.waitReady(t, 2*time.Minute)
	t.Logf("manager %s (pid %d) ready in %s", m.name, m.proc.Pid(), since(started))
}

// waitReady waits until /readyz passes, failing the test if the manager exits.
func (m *manager) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	scimtest.Eventually(t, timeout, "manager "+m.name+" is ready", func() (bool, string) {
		if m.exited() {
			t.Fatalf("manager %s exited: %v", m.name, m.proc.Err())
		}
		code, body := scimtest.Readyz(m.probes)
		return code == http.StatusOK, body
	})
}

func (m *manager) exited() bool {
	select {
	case <-m.proc.Exited():
		return true
	default:
		return false
	}
}

// dumpLog logs the last lines of the manager's log.
func (m *manager) dumpLog(t *testing.T) {
	data, err := os.ReadFile(m.log)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	t.Logf("last lines of manager %s's log:\n%s", m.name, strings.Join(lines, "\n"))
}

// grantView makes the groups grant ClusterRole view, as GitOps declares a role's access.
func (e *env) grantView(t *testing.T, groups ...string) {
	t.Helper()
	for _, g := range groups {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			role := &identityv1alpha1.ScimRole{}
			if err := e.admin.Get(context.Background(), types.NamespacedName{Name: g}, role); err != nil {
				return err
			}
			role.Spec.Access = &identityv1alpha1.Access{ClusterRoles: []string{"view"}}
			return e.admin.Update(context.Background(), role)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// since is the time since start, rounded for a log line.
func since(start time.Time) time.Duration { return time.Since(start).Round(10 * time.Millisecond) }

// createGroup creates a group through the IdP.
func createGroup(t *testing.T, p *scimtest.IdP, displayName string) string {
	t.Helper()
	id, err := p.CreateGroup(displayName)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// report logs the IdP's answers and fails the test for those that are the server's fault.
func report(t *testing.T, p *scimtest.IdP) {
	t.Helper()
	t.Logf("IdP: %s", p.Summary())
	for _, problem := range p.Problems() {
		t.Errorf("unexpected: %s", problem)
	}
}

// verify checks what is stored against the IdP's model (IdP.Check, reading groups through m)
// and waits until the bindings name exactly the acknowledged active members; it returns when
// they did.
func verify(t *testing.T, e *env, m *manager, p *scimtest.IdP, timeout time.Duration) time.Time {
	t.Helper()
	diffs, err := p.Check(context.Background(), e.admin, m.scim)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	if len(diffs) > 0 {
		t.FailNow()
	}
	scimtest.Eventually(t, timeout, "the bindings name exactly the groups' active members", func() (bool, string) {
		return p.BindingsMatch(context.Background(), e.admin, userPrefix)
	})
	return time.Now()
}
