package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Controllers are the kube-controller-manager controllers the local control plane runs: enough to
// behave like a cluster for what the operator touches — owner references are garbage-collected,
// the aggregated ClusterRoles (view, edit, admin) carry their real rules, namespaces are deleted,
// and every namespace gets its default ServiceAccount and legacy token Secrets work. No node, pod
// or workload controller: nothing here runs pods.
var Controllers = []string{
	"garbage-collector-controller",
	"clusterrole-aggregation-controller",
	"namespace-controller",
	"serviceaccount-controller",
	"serviceaccount-token-controller",
	"root-ca-certificate-publisher-controller",
}

// ControllerManager is a kube-controller-manager process beside an envtest API server.
type ControllerManager struct {
	*process
	logDir string
}

// StartControllerManager starts bin/kube-controller-manager (from binDir, default as Environment)
// against the running env, as system:kube-controller-manager, with the ServiceAccount key and CA
// of env's API server, and waits until the ClusterRole aggregation has given admin its rules: from
// then on, tests may rely on view, edit and admin. Its output goes to a log file in a temporary
// directory (LogFile). Stop it with Stop.
func StartControllerManager(ctx context.Context, env *envtest.Environment, binDir string) (*ControllerManager, error) {
	if binDir == "" {
		binDir = env.BinaryAssetsDirectory
	}
	bin := filepath.Join(binDir, "kube-controller-manager")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("kube-controller-manager is missing from %s: run `make control-plane`: %w", binDir, err)
	}
	dir, err := os.MkdirTemp("", "kube-controller-manager-")
	if err != nil {
		return nil, err
	}
	user, err := env.AddUser(envtest.User{Name: "system:kube-controller-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("add the controller manager's user: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	kubeconfigPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	certDir := env.ControlPlane.APIServer.CertDir
	log, err := os.Create(filepath.Join(dir, "kube-controller-manager.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--kubeconfig="+kubeconfigPath,
		"--authentication-kubeconfig="+kubeconfigPath,
		"--authorization-kubeconfig="+kubeconfigPath,
		"--controllers="+strings.Join(Controllers, ","),
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--service-account-private-key-file="+filepath.Join(certDir, "sa-signer.key"),
		"--root-ca-file="+filepath.Join(certDir, "apiserver.crt"),
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--concurrent-gc-syncs=4",
		"-v=1",
	)
	cmd.Stdout, cmd.Stderr = log, log
	p, err := startProcess(cmd, func() { _ = log.Close() })
	if err != nil {
		return nil, err
	}
	cm := &ControllerManager{process: p, logDir: dir}
	if err := cm.waitForAggregation(ctx, env.Config); err != nil {
		_ = cm.Stop()
		return nil, err
	}
	return cm, nil
}

// LogFile is the path of the controller manager's log.
func (cm *ControllerManager) LogFile() string {
	return filepath.Join(cm.logDir, "kube-controller-manager.log")
}

// waitForAggregation waits until ClusterRole admin has rules, or the process exits.
func (cm *ControllerManager) waitForAggregation(ctx context.Context, cfg *rest.Config) error {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case <-cm.exited:
			return false, fmt.Errorf("kube-controller-manager exited: %v (log: %s)", cm.err, cm.LogFile())
		default:
		}
		role := &rbacv1.ClusterRole{}
		if err := c.Get(ctx, client.ObjectKey{Name: "admin"}, role); err != nil {
			return false, nil
		}
		return len(role.Rules) > 0, nil
	})
	if err != nil {
		return fmt.Errorf("wait for kube-controller-manager to aggregate ClusterRole admin (log: %s): %w", cm.LogFile(), err)
	}
	return nil
}

// Stop stops the controller manager and removes its files.
func (cm *ControllerManager) Stop() error {
	if cm == nil {
		return nil
	}
	return errors.Join(cm.stop(10*time.Second), os.RemoveAll(cm.logDir))
}
