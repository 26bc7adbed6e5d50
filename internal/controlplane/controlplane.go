// Package controlplane starts the local control plane — etcd and kube-apiserver built into bin/ by
// hack/build-control-plane.sh — with the project's CRDs installed. The envtest suites and the
// `make dev` program use it; the manager binary does not.
package controlplane

import (
	"fmt"
	"os"
	"path/filepath"

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
	for _, b := range []string{"etcd", "kube-apiserver"} {
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
