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
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/scim-operator/scim-operator/internal/controlplane"
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
	if err := controlplane.WriteKubeconfig(admin, kubeconfig); err != nil {
		return err
	}
	operatorKubeconfig := filepath.Join(devDir, "operator.kubeconfig")
	if err := local.InstallOperator(ctx, cfg, root, operatorKubeconfig, strings.Split(providers, ","), token); err != nil {
		return err
	}
	metricsAddr := envOr("METRICS_ADDR", "127.0.0.1:8443")
	printBanner(kubeconfig, addr, providers, token, userPrefix, metricsAddr, local.AuthorizationWebhook)

	mgr, err := controlplane.StartManager(controlplane.ManagerOptions{
		Binary: manager, Kubeconfig: operatorKubeconfig, SCIMAddr: addr, MetricsAddr: metricsAddr,
		Providers: strings.Split(providers, ","), UserPrefix: userPrefix,
		Args: local.AuthorizationWebhook.Args(), Stdout: os.Stdout, Stderr: os.Stderr,
	})
	if err != nil {
		return fmt.Errorf("start manager: %w", err)
	}
	select {
	case <-mgr.Exited():
		return fmt.Errorf("manager exited: %w", mgr.Err())
	case <-ctx.Done():
		fmt.Println("\ndev: stopping the manager")
		_ = mgr.Stop()
		return nil
	}
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
		relative(kubeconfig), controlplane.OperatorNamespace, controlplane.MetricsReader, metricsAddr)
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
