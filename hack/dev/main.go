// Command dev is `make dev`: it starts the local control plane (etcd and kube-apiserver from bin/),
// installs the CRDs, the operator's RBAC and the admission policies, creates the SCIM token Secret,
// writes an admin kubeconfig to bin/dev/kubeconfig (or $DEV_DIR/kubeconfig) and runs the manager binary in the foreground as
// the operator's ServiceAccount, under its generated RBAC, so the policies behave as in a cluster,
// serving the authorization webhook that the API server consults before RBAC. SIGINT or SIGTERM
// stops the manager, then the control plane, leaving no process behind.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/scim-operator/scim-operator/internal/controlplane"
)

// Names as `kubectl apply -k config/default` makes them: the operator's namespace, ServiceAccount and
// SCIM token Secret.
const (
	namespace      = "scim-operator-system"
	serviceAccount = "scim-operator-controller-manager"
	tokenSecret    = "scim-operator-scim-tokens"
)

func main() {
	binDir := flag.String("bin-dir", "bin", "Directory with etcd, kube-apiserver and kubectl.")
	manager := flag.String("manager", "bin/manager", "The manager binary to run.")
	providers := flag.String("providers", "generic,okta,azure", "SCIM providers to serve, comma-separated.")
	flag.Parse()

	if err := run(*binDir, *manager, *providers); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}

func run(binDir, manager, providers string) (err error) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	binDir, _ = filepath.Abs(binDir)
	manager, _ = filepath.Abs(manager)
	addr := envOr("SCIM_ADDR", "127.0.0.1:8080")
	// As a production install should: bindings name users as the API server's OIDC authenticator
	// would (--oidc-username-prefix), never a bare userName that could be a system: identity.
	userPrefix := envOr("RBAC_USER_PREFIX", "oidc:")
	token := os.Getenv("SCIM_TOKEN")
	if token == "" {
		token = randomToken()
	}

	// Signals are caught before anything starts so that Ctrl-C during start-up still cleans up.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Println("dev: starting etcd, kube-apiserver and kube-controller-manager from", binDir)
	// The API server consults the manager's authorization webhook before RBAC, as
	// config/authorization configures a cluster to.
	local, cfg, err := controlplane.Start(ctx, root, binDir, controlplane.WithAuthorizationWebhook(userPrefix))
	if err != nil {
		return fmt.Errorf("start control plane: %w", err)
	}
	defer func() {
		fmt.Println("dev: stopping the control plane")
		if stopErr := local.Stop(); stopErr != nil && err == nil {
			err = fmt.Errorf("stop control plane: %w", stopErr)
		}
	}()
	env := local.Env
	fmt.Println("dev: kube-controller-manager log:", local.ControllerManager.LogFile())

	admin, err := env.AddUser(envtest.User{Name: "dev-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add admin user: %w", err)
	}
	// DEV_DIR lets two environments run side by side (make conformance beside make dev).
	devDir := envOr("DEV_DIR", filepath.Join(root, "bin", "dev"))
	kubeconfig := filepath.Join(devDir, "kubeconfig")
	if err := writeKubeconfig(admin, kubeconfig); err != nil {
		return err
	}
	operatorKubeconfig, err := installOperator(ctx, env, cfg, root, devDir)
	if err != nil {
		return err
	}

	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := ensureTokenSecret(ctx, cs, strings.Split(providers, ","), token); err != nil {
		return err
	}

	metricsAddr := envOr("METRICS_ADDR", "127.0.0.1:8443")
	if err := ensureMetricsReader(ctx, cs); err != nil {
		return err
	}
	printBanner(kubeconfig, addr, providers, token, userPrefix, metricsAddr, local.AuthorizationWebhook)

	args := append([]string{
		"--kubeconfig", operatorKubeconfig,
		"--scim-bind-address", addr,
		"--scim-insecure-http", // local development: plain HTTP on loopback
		"--metrics-bind-address", metricsAddr,
		"--scim-providers", providers,
		"--scim-token-secret", tokenSecret,
		"--scim-token-namespace", namespace,
		"--health-probe-bind-address", "127.0.0.1:0",
		"--leader-elect=false",
		"--rbac-user-prefix", userPrefix,
	}, local.AuthorizationWebhook.Args()...)
	cmd := exec.Command(manager, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// The manager dies with this program even if it is killed without a chance to clean up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start manager: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	select {
	case err := <-exited:
		return fmt.Errorf("manager exited: %w", err)
	case <-ctx.Done():
		fmt.Println("\ndev: stopping the manager")
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		return nil
	}
}

// installOperator installs the operator's RBAC and the admission policies and returns a kubeconfig
// in devDir that authenticates as the operator's ServiceAccount.
func installOperator(ctx context.Context, env *envtest.Environment, cfg *rest.Config, root, devDir string) (string, error) {
	sa := types.NamespacedName{Namespace: namespace, Name: serviceAccount}
	username, err := controlplane.InstallOperatorRBAC(ctx, cfg, root, sa)
	if err != nil {
		return "", fmt.Errorf("install the operator's RBAC: %w", err)
	}
	if err := controlplane.InstallPolicies(ctx, cfg, root); err != nil {
		return "", fmt.Errorf("install the admission policies: %w", err)
	}
	operator, err := env.AddUser(envtest.User{Name: username,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}}, nil)
	if err != nil {
		return "", fmt.Errorf("add the operator's user: %w", err)
	}
	path := filepath.Join(devDir, "operator.kubeconfig")
	return path, writeKubeconfig(operator, path)
}

func writeKubeconfig(user *envtest.AuthenticatedUser, path string) error {
	data, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("render kubeconfig: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// ensureTokenSecret creates the operator namespace and the Secret holding token for every provider.
func ensureTokenSecret(ctx context.Context, cs kubernetes.Interface, providers []string, token string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", namespace, err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: tokenSecret, Namespace: namespace}, StringData: map[string]string{}}
	for _, p := range providers {
		secret.StringData[strings.TrimSpace(p)] = token
	}
	_, err := cs.CoreV1().Secrets(namespace).Create(ctx, secret, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = cs.CoreV1().Secrets(namespace).Update(ctx, secret, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("write secret %s/%s: %w", namespace, tokenSecret, err)
	}
	return nil
}

// metricsReader is the ServiceAccount whose token reads the dev manager's metrics: the endpoint
// authenticates and authorizes scrapers through the API server, as in a cluster.
const metricsReader = "metrics-reader"

// ensureMetricsReader creates the metricsReader ServiceAccount, bound to config/rbac's
// metrics-reader ClusterRole (installed with the operator's RBAC).
func ensureMetricsReader(ctx context.Context, cs kubernetes.Interface) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: metricsReader, Namespace: namespace}}
	if _, err := cs.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ServiceAccount %s: %w", metricsReader, err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "dev-metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: metricsReader, Namespace: namespace}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("bind %s to metrics-reader: %w", metricsReader, err)
	}
	return nil
}

func printBanner(kubeconfig, addr, providers, token, userPrefix, metricsAddr string, webhook *controlplane.AuthorizationWebhook) {
	fmt.Println()
	fmt.Println("dev: control plane is up; kubectl with:")
	fmt.Printf("       bin/kubectl --kubeconfig %s get scimusers,scimroles\n", relative(kubeconfig))
	fmt.Println("dev: SCIM base URLs:")
	for _, p := range strings.Split(providers, ",") {
		fmt.Printf("       http://%s/provisioning/%s/v2\n", addr, strings.TrimSpace(p))
	}
	fmt.Printf("dev: bearer token (every provider): %s\n", token)
	fmt.Printf("dev: bindings name users %q + userName (--rbac-user-prefix, RBAC_USER_PREFIX); in production set it to\n", userPrefix)
	fmt.Println("       the API server's --oidc-username-prefix")
	fmt.Printf("dev: metrics (HTTPS, a token the API server reviews):\n")
	fmt.Printf("       curl -sk -H \"Authorization: Bearer $(bin/kubectl --kubeconfig %s -n %s create token %s)\" https://%s/metrics | grep ^scim_\n",
		relative(kubeconfig), namespace, metricsReader, metricsAddr)
	fmt.Printf("dev: the API server asks the authorization webhook (https://%s, %s) about every %q user before RBAC:\n", webhook.Addr, webhook.ConfigFile, userPrefix)
	fmt.Println("       a suspended, deleted or unprovisioned user is denied at once")
	fmt.Printf("       bin/kubectl --kubeconfig %s auth can-i list pods --as %salice@example.com\n", relative(kubeconfig), userPrefix)
	fmt.Println("dev: Ctrl-C stops the manager and the control plane")
	fmt.Println()
}

func relative(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("no randomness for the dev token"))
	}
	return hex.EncodeToString(b)
}
