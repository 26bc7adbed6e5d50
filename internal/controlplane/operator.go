package controlplane

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// OperatorConfig installs the operator's RBAC for the ServiceAccount sa (InstallOperatorRBAC, with
// admin a cluster-admin's config) and returns a config that authenticates as sa, in the groups the
// API server gives a ServiceAccount, without a client-side rate limit (as ctrl.GetConfig): a
// manager run with it acts as the operator in a pod does.
func (l *Local) OperatorConfig(ctx context.Context, admin *rest.Config, root string, sa types.NamespacedName) (*rest.Config, error) {
	username, err := InstallOperatorRBAC(ctx, admin, root, sa)
	if err != nil {
		return nil, err
	}
	user, err := l.Env.AddUser(envtest.User{Name: username, Groups: []string{
		"system:serviceaccounts", "system:serviceaccounts:" + sa.Namespace,
	}}, nil)
	if err != nil {
		return nil, fmt.Errorf("add the operator's user %s: %w", username, err)
	}
	cfg := user.Config()
	cfg.QPS = -1
	return cfg, nil
}
