package controlplane

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Names as `kubectl apply -k config/default` makes them: the operator's namespace, ServiceAccount
// and SCIM token Secret. MetricsReader is the ServiceAccount whose tokens read the manager's
// metrics, bound to config/rbac's metrics-reader ClusterRole.
const (
	OperatorNamespace      = "scim-operator-system"
	OperatorServiceAccount = "scim-operator-controller-manager"
	TokenSecret            = "scim-operator-scim-tokens"
	MetricsReader          = "metrics-reader"
)

// OperatorConfig installs the operator's RBAC for the ServiceAccount sa (InstallOperatorRBAC, with
// admin a cluster-admin's config) and returns a config that authenticates as sa, in the groups the
// API server gives a ServiceAccount, without a client-side rate limit (as ctrl.GetConfig): a
// manager run with it acts as the operator in a pod does.
func (l *Local) OperatorConfig(ctx context.Context, admin *rest.Config, root string, sa types.NamespacedName) (*rest.Config, error) {
	user, err := l.operatorUser(ctx, admin, root, sa)
	if err != nil {
		return nil, err
	}
	cfg := user.Config()
	cfg.QPS = -1
	return cfg, nil
}

// operatorUser installs the operator's RBAC for sa and returns a user that authenticates as sa.
func (l *Local) operatorUser(ctx context.Context, admin *rest.Config, root string, sa types.NamespacedName) (*envtest.AuthenticatedUser, error) {
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
	return user, nil
}

// InstallOperator installs the operator as `make dev` runs it: its RBAC (for the ServiceAccount
// OperatorNamespace/OperatorServiceAccount) and the admission policies, the token Secret holding
// token for every provider, and the MetricsReader ServiceAccount. It writes a kubeconfig that
// authenticates as the operator's ServiceAccount to kubeconfig, for the manager binary.
func (l *Local) InstallOperator(ctx context.Context, admin *rest.Config, root, kubeconfig string, providers []string, token string) error {
	sa := types.NamespacedName{Namespace: OperatorNamespace, Name: OperatorServiceAccount}
	user, err := l.operatorUser(ctx, admin, root, sa)
	if err != nil {
		return fmt.Errorf("install the operator's RBAC: %w", err)
	}
	if err := InstallPolicies(ctx, admin, root); err != nil {
		return fmt.Errorf("install the admission policies: %w", err)
	}
	if err := WriteKubeconfig(user, kubeconfig); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return err
	}
	if err := ensureTokenSecret(ctx, cs, providers, token); err != nil {
		return err
	}
	return ensureMetricsReader(ctx, cs)
}

// WriteKubeconfig writes a kubeconfig that authenticates as user to path, readable by its owner only.
func WriteKubeconfig(user *envtest.AuthenticatedUser, path string) error {
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
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: OperatorNamespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", OperatorNamespace, err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: TokenSecret, Namespace: OperatorNamespace}, StringData: map[string]string{}}
	for _, p := range providers {
		secret.StringData[strings.TrimSpace(p)] = token
	}
	_, err := cs.CoreV1().Secrets(OperatorNamespace).Create(ctx, secret, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = cs.CoreV1().Secrets(OperatorNamespace).Update(ctx, secret, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("write secret %s/%s: %w", OperatorNamespace, TokenSecret, err)
	}
	return nil
}

// ensureMetricsReader creates the MetricsReader ServiceAccount, bound to config/rbac's
// metrics-reader ClusterRole (installed with the operator's RBAC): the metrics endpoint
// authenticates and authorizes scrapers through the API server, as in a cluster.
func ensureMetricsReader(ctx context.Context, cs kubernetes.Interface) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: MetricsReader, Namespace: OperatorNamespace}}
	if _, err := cs.CoreV1().ServiceAccounts(OperatorNamespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ServiceAccount %s: %w", MetricsReader, err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "dev-metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: MetricsReader, Namespace: OperatorNamespace}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("bind %s to metrics-reader: %w", MetricsReader, err)
	}
	return nil
}

// MetricsReaderToken returns a token of the MetricsReader ServiceAccount (a TokenRequest) valid
// for validity, as a scraper in the cluster would hold.
func MetricsReaderToken(ctx context.Context, admin *rest.Config, validity time.Duration) (string, error) {
	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return "", err
	}
	tr, err := cs.CoreV1().ServiceAccounts(OperatorNamespace).CreateToken(ctx, MetricsReader, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(validity.Seconds()))},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("TokenRequest for %s: %w", MetricsReader, err)
	}
	return tr.Status.Token, nil
}
