package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// OperatorIdentityLabel marks the ClusterRoleBinding (config/rbac/role_binding.yaml) whose
// ServiceAccount subject is the operator. The admission policies of config/policy take it as their
// parameter: that ServiceAccount is the only one allowed to change SCIM-owned fields.
const OperatorIdentityLabel = "identity.scim-operator.io/operator-identity"

// fieldOwner is the field manager of what this package installs.
const fieldOwner = "scim-operator-controlplane"

// InstallOperatorRBAC installs the operator's RBAC as `kubectl apply -k config/default` would with
// the operator running as the ServiceAccount sa: the namespace, the ServiceAccount, the generated
// ClusterRole (config/rbac/role.yaml) and its binding (config/rbac/role_binding.yaml) to sa, which
// makes sa the operator for the admission policies, the namespaced Roles that read the SCIM token
// Secret and hold the leader election Lease in sa's namespace, and the metrics endpoint's
// authentication role and reader ClusterRole (config/rbac/metrics_*.yaml). It returns the operator's
// username; a test authenticates as it with envtest's AddUser.
func InstallOperatorRBAC(ctx context.Context, cfg *rest.Config, root string, sa types.NamespacedName) (string, error) {
	c, err := newClient(cfg)
	if err != nil {
		return "", err
	}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sa.Namespace}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa.Name, Namespace: sa.Namespace}},
	} {
		if err := c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	rbacDir := filepath.Join(root, "config", "rbac")
	role, err := readObjects(filepath.Join(rbacDir, "role.yaml"))
	if err != nil {
		return "", err
	}
	var bindings []*unstructured.Unstructured
	for _, f := range []string{"role_binding.yaml", "token_reader_role.yaml", "token_reader_role_binding.yaml",
		"leader_election_role.yaml", "leader_election_role_binding.yaml",
		"metrics_auth_role.yaml", "metrics_auth_role_binding.yaml", "metrics_reader_role.yaml"} {
		objs, err := readObjects(filepath.Join(rbacDir, f))
		if err != nil {
			return "", err
		}
		bindings = append(bindings, objs...)
	}
	for _, b := range bindings {
		if b.GetNamespace() != "" {
			b.SetNamespace(sa.Namespace) // "system" in config/rbac; kustomize sets the real one
		}
		if !strings.HasSuffix(b.GetKind(), "Binding") {
			continue
		}
		subject := map[string]any{"kind": rbacv1.ServiceAccountKind, "name": sa.Name, "namespace": sa.Namespace}
		if err := unstructured.SetNestedSlice(b.Object, []any{subject}, "subjects"); err != nil {
			return "", fmt.Errorf("set subject of %s: %w", b.GetName(), err)
		}
	}
	if err := apply(ctx, c, append(role, bindings...)); err != nil {
		return "", err
	}
	return "system:serviceaccount:" + sa.Namespace + ":" + sa.Name, nil
}

// InstallPolicies installs the admission policies and bindings listed in
// config/policy/kustomization.yaml and waits until the API server enforces them. Install the
// operator's RBAC first (InstallOperatorRBAC): it is the policies' parameter.
func InstallPolicies(ctx context.Context, cfg *rest.Config, root string) error {
	c, err := newClient(cfg)
	if err != nil {
		return err
	}
	dir := filepath.Join(root, "config", "policy")
	files, err := kustomizationResources(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return err
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		read, err := readObjects(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		objs = append(objs, read...)
	}
	if err := apply(ctx, c, objs); err != nil {
		return err
	}
	return waitForPolicies(ctx, c)
}

// waitForPolicies waits until a write the policies deny is denied: policies take effect a moment
// after they are stored. The probe, a dry-run create of a ScimRole marked as managed by a provider, is
// denied by the marking policy for anyone but the operator.
func waitForPolicies(ctx context.Context, c client.Client) error {
	probe := &identityv1alpha1.ScimRole{
		ObjectMeta: metav1.ObjectMeta{
			Name:   "policy-probe",
			Labels: map[string]string{identityv1alpha1.LabelManagedBy: "probe"},
		},
		Spec: identityv1alpha1.ScimRoleSpec{DisplayName: "policy probe"},
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy"), nil
	})
	if err != nil {
		return fmt.Errorf("wait for the admission policies to be enforced: %w", err)
	}
	return nil
}

// newClient returns a client of cfg that knows the project's types.
func newClient(cfg *rest.Config) (client.Client, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := identityv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

// apply server-side applies objs, in order.
func apply(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

// readObjects reads the objects of a multi-document YAML file.
func readObjects(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := decoder.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

// kustomizationResources returns the resources a kustomization.yaml lists: here, files only.
func kustomizationResources(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return k.Resources, nil
}
