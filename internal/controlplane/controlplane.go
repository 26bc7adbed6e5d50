// Package controlplane starts the local control plane — etcd, kube-apiserver and
// kube-controller-manager built into bin/ by hack/build-control-plane.sh — with the project's CRDs
// installed. The envtest suites and the `make dev` program use it; the manager binary does not.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RepoRoot returns the root of the checkout: the nearest directory above the working directory that
// holds go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Environment returns an envtest environment over the binaries in binDir (default: KUBEBUILDER_ASSETS,
// else <root>/bin) that installs the CRDs of config/crd/bases.
func Environment(root, binDir string) (*envtest.Environment, error) {
	if binDir == "" {
		binDir = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if binDir == "" {
		binDir = filepath.Join(root, "bin")
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			return nil, fmt.Errorf("%s is missing from %s: run `make control-plane`: %w", b, binDir, err)
		}
	}
	return &envtest.Environment{
		BinaryAssetsDirectory: binDir,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}, nil
}

// Local is a running local control plane: etcd and kube-apiserver (envtest) with the project's
// CRDs, and kube-controller-manager beside them.
type Local struct {
	// Env is the envtest environment: its Config is a cluster-admin's, AddUser adds users.
	Env *envtest.Environment
	// ControllerManager is the kube-controller-manager process.
	ControllerManager *ControllerManager
	// AuthorizationWebhook is where the API server calls the operator's authorization webhook, when
	// started WithAuthorizationWebhook; else nil.
	AuthorizationWebhook *AuthorizationWebhook
	// dir holds etcd's data and the API server's certificates: this package's, not envtest's, so
	// that they outlive a process that Kill ends and Restart starts again (faults.go).
	dir string
	// paused are the components Pause stopped and Resume has not continued.
	paused map[Component]bool
}

// Start starts the local control plane over the binaries in binDir (see Environment) and returns
// it with a cluster-admin config. Stop it with Stop.
func Start(ctx context.Context, root, binDir string, opts ...Option) (_ *Local, _ *rest.Config, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	env, err := Environment(root, binDir)
	if err != nil {
		return nil, nil, err
	}
	local := &Local{Env: env, paused: map[Component]bool{}}
	if local.dir, err = os.MkdirTemp("", "controlplane-"); err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			_ = local.Stop()
		}
	}()
	env.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(local.dir, "etcd")}
	env.ControlPlane.GetAPIServer().CertDir = filepath.Join(local.dir, "kube-apiserver")
	for _, d := range []string{env.ControlPlane.Etcd.DataDir, env.ControlPlane.APIServer.CertDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, nil, err
		}
	}
	if o.authorizationWebhookPrefix != nil {
		if local.AuthorizationWebhook, err = configureAuthorizationWebhook(env, root, *o.authorizationWebhookPrefix); err != nil {
			return nil, nil, fmt.Errorf("configure the authorization webhook: %w", err)
		}
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("start etcd and kube-apiserver: %w", err)
	}
	if local.ControllerManager, err = StartControllerManager(ctx, env, binDir); err != nil {
		return nil, nil, err
	}
	return local, cfg, nil
}

// Stop stops kube-controller-manager, then kube-apiserver and etcd (continuing them first if
// paused), and removes their files and those of the authorization webhook.
func (l *Local) Stop() error {
	if l == nil {
		return nil
	}
	var err error
	for c := range l.paused {
		err = errors.Join(err, l.Resume(c))
	}
	err = errors.Join(err, l.ControllerManager.Stop(), l.Env.Stop(), os.RemoveAll(l.dir))
	if l.AuthorizationWebhook != nil {
		err = errors.Join(err, os.RemoveAll(l.AuthorizationWebhook.dir))
	}
	return err
}
