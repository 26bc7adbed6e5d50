// Package install_test installs config/default and every component of config/components into the
// local control plane, as `kubectl apply -k` would on a cluster, and runs the manager exactly as the
// rendered Deployment runs it: a manifest the API server refuses, or an RBAC rule the manager
// misses, fails the test.
package install_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access/authorizer"
	"github.com/scim-operator/scim-operator/internal/controlplane"
	"github.com/scim-operator/scim-operator/internal/pki"
	"github.com/scim-operator/scim-operator/internal/scimtest"
)

const (
	namespace  = "scim-operator-system"
	deployment = "scim-operator-controller-manager"
	fieldOwner = "install-test"
	// scimToken is the generic provider's token in the test's token Secret.
	scimToken = "install-test-token"
)

func TestInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kubectl := filepath.Join(root, "bin", "kubectl")
	managerBin := buildManager(t, root)

	base := render(t, kubectl, filepath.Join(root, "config", "default"))
	full := render(t, kubectl, overlay(t, root))
	local, adminCfg, err := controlplane.Start(ctx, root, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = local.Stop() }()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, identityv1alpha1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	admin, err := client.New(adminCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	applyAll(t, ctx, admin, readObjects(t, filepath.Join(root, "internal", "install", "testdata", "third-party-crds.yaml")))

	t.Log("install: config/default")
	applyAll(t, ctx, admin, base)

	// What an admin does after installing: a token, and the SCIM server's certificate.
	tokens := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "scim-operator-scim-tokens", Namespace: namespace},
		StringData: map[string]string{"generic": scimToken, "okta.2026": "another-token"}}
	if err := admin.Create(ctx, tokens); err != nil {
		t.Fatal(err)
	}
	// And, for the authorization-webhook component, the webhook's certificate and the CA of the API
	// server's client certificate.
	ca, err := pki.NewCA("install-test CA")
	if err != nil {
		t.Fatal(err)
	}
	scimCert := issueServing(t, ca, "scim-operator-scim")
	webhookCert := issueServing(t, ca, "scim-operator-authorization")
	apiserverCert, err := ca.Client(authorizer.DefaultClientName)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]map[string][]byte{
		"scim-operator-scim-tls":          {"tls.crt": scimCert.CertPEM, "tls.key": scimCert.KeyPEM},
		"scim-operator-authorization-tls": {"tls.crt": webhookCert.CertPEM, "tls.key": webhookCert.KeyPEM, "client-ca.crt": ca.CertPEM},
	} {
		if err := admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
			Type: corev1.SecretTypeOpaque, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	before := &corev1.Secret{}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(tokens), before); err != nil {
		t.Fatal(err)
	}

	t.Log("upgrade: config/default again, with every component")
	applyAll(t, ctx, admin, full)
	after := &corev1.Secret{}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(tokens), after); err != nil {
		t.Fatal(err)
	}
	if !equalData(before.Data, after.Data) {
		t.Errorf("re-applying the install changed the token Secret's keys: %v -> %v", keys(before.Data), keys(after.Data))
	}

	// The manager, exactly as the rendered Deployment runs it, as the rendered ServiceAccount.
	dep := deploymentOf(t, full)
	container := dep.Spec.Template.Spec.Containers[0]
	mounts := materializeVolumes(t, ctx, admin, dep)
	kubeconfig := serviceAccountKubeconfig(t, ctx, adminCfg, dep.Spec.Template.Spec.ServiceAccountName)
	cmd := exec.Command(managerBin, rewriteMounts(container.Args, mounts)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	for _, e := range container.Env {
		cmd.Env = append(cmd.Env, e.Name+"="+envValue(t, e))
	}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	t.Logf("running %s %s", filepath.Base(managerBin), strings.Join(container.Args, " "))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("manager (exit %v) output:\n%s", cmd.ProcessState, logs.String())
		}
	}()

	probes := portOf(t, container, "probes")
	exited := make(chan struct{})
	go func() { _, _ = cmd.Process.Wait(); close(exited) }()
	scimtest.Eventually(t, 60*time.Second, "the manager is ready", func() (bool, string) {
		select {
		case <-exited:
			t.Fatalf("the manager exited:\n%s", logs.String())
		default:
		}
		code, body := get(http.DefaultClient, "http://127.0.0.1:"+probes+"/readyz?verbose", "")
		return code == http.StatusOK, body
	})

	// It serves SCIM over HTTPS with the mounted certificate.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	https := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	scim := "https://127.0.0.1:" + portOf(t, container, "scim") + "/provisioning/generic/v2"
	code, body := post(https, scim+"/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@example.com"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST /Users: %d %s", code, body)
	}
	alice := scimtest.IDOf(t, body)
	code, body = post(https, scim+"/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Platform","members":[{"value":%q}]}`, alice))
	if code != http.StatusCreated {
		t.Fatalf("POST /Groups: %d %s", code, body)
	}
	group := scimtest.IDOf(t, body)

	// GitOps declares what the group grants; the leader reconciles it into a binding.
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
	scimtest.Eventually(t, 60*time.Second, "the role's binding names alice", func() (bool, string) {
		var list rbacv1.ClusterRoleBindingList
		if err := admin.List(ctx, &list, client.MatchingLabels{identityv1alpha1.LabelRole: group}); err != nil {
			return false, err.Error()
		}
		for _, b := range list.Items {
			for _, s := range b.Subjects {
				if s.Name == "alice@example.com" && b.RoleRef.Name == "view" {
					return true, ""
				}
			}
		}
		return false, fmt.Sprint(list.Items)
	})

	// Metrics: authenticated and authorized through the API server, for a reader the install names.
	reader := metricsReaderToken(t, ctx, admin, adminCfg)
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // controller-runtime's self-signed metrics certificate
	metrics := "https://127.0.0.1:" + portOf(t, container, "metrics") + "/metrics"
	// The metrics server listens once its authentication through the API server is set up, which
	// readiness does not wait for.
	scimtest.Eventually(t, 30*time.Second, "the metrics server answers", func() (bool, string) {
		code, body := get(insecure, metrics, "")
		return code != 0, body
	})
	if code, _ := get(insecure, metrics, ""); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Errorf("metrics without a token: %d, want 401 or 403", code)
	}
	code, body = get(insecure, metrics, reader)
	if code != http.StatusOK || !strings.Contains(body, `scim_requests_total{code="201",method="POST",provider="generic",resource="Users"}`) {
		t.Errorf("metrics as the reader: %d, want 200 with the SCIM requests counted", code)
	}

	// The authorization webhook answers the API server's client certificate, and no one else.
	webhook := "https://127.0.0.1:" + portOf(t, container, "authorization") + "/"
	review := `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"nobody@example.com"}}`
	pair, err := tls.X509KeyPair(apiserverCert.CertPEM, apiserverCert.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	apiserver := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}}
	if code, body := do(apiserver, postJSON(t, webhook, review)); code != http.StatusOK || !strings.Contains(body, `"status":{"allowed":false}`) {
		t.Errorf("a review as the API server: %d %s, want 200 and no opinion", code, body)
	}
	if code, body := do(https, postJSON(t, webhook, review)); code != 0 {
		t.Errorf("a review without a client certificate: %d %s, want the handshake refused", code, body)
	}
}

func postJSON(t *testing.T, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

// buildManager builds the manager binary into a temporary directory.
func buildManager(t *testing.T, root string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "manager")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the manager: %v\n%s", err, b)
	}
	return out
}

// overlay writes, into a temporary directory, an overlay of config/default with every component of
// config/components, and returns its directory. The paths are relative (kustomize takes no absolute
// ones) and from a real directory: bin/ may be a link to another checkout's.
func overlay(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	components, err := filepath.Glob(filepath.Join(root, "config", "components", "*", "kustomization.yaml"))
	if err != nil || len(components) == 0 {
		t.Fatalf("no components: %v", err)
	}
	rel := func(path string) string {
		r, err := filepath.Rel(dir, path)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	k := "resources:\n- " + rel(filepath.Join(root, "config", "default")) + "\ncomponents:\n"
	for _, c := range components {
		k += "- " + rel(filepath.Dir(c)) + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// render runs `kubectl kustomize dir` and returns the objects.
func render(t *testing.T, kubectl, dir string) []*unstructured.Unstructured {
	t.Helper()
	out, err := exec.Command(kubectl, "kustomize", dir).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, exit.Stderr)
		}
		t.Fatal(err)
	}
	return decode(t, out)
}

func readObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, data)
}

func decode(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatal(err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

// applyAll applies objs with server-side apply, CRDs first (waiting until they are established,
// as kubectl does not: a CR applied with its CRD may need a retry), and fails on anything the API
// server refuses.
func applyAll(t *testing.T, ctx context.Context, c client.Client, objs []*unstructured.Unstructured) {
	t.Helper()
	var crds, rest []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" || o.GetKind() == "Namespace" {
			crds = append(crds, o)
		} else {
			rest = append(rest, o)
		}
	}
	for _, o := range crds {
		apply(t, ctx, c, o)
	}
	for _, o := range crds {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		scimtest.Eventually(t, 30*time.Second, "CRD "+o.GetName()+" is established", func() (bool, string) {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(o), crd); err != nil {
				return false, err.Error()
			}
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return true, ""
				}
			}
			return false, "not established"
		})
	}
	for _, o := range rest {
		apply(t, ctx, c, o)
	}
}

func apply(t *testing.T, ctx context.Context, c client.Client, obj *unstructured.Unstructured) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), client.FieldOwner(fieldOwner), client.ForceOwnership)
		// The kind of a CR applied right after its CRD may not be served for a moment.
		if err != nil && strings.Contains(err.Error(), "no matches for kind") {
			return false, nil
		}
		return true, err
	})
	if err != nil {
		t.Fatalf("apply %s %s/%s: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
}

// deploymentOf returns the operator's Deployment among objs.
func deploymentOf(t *testing.T, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "Deployment" && o.GetName() == deployment {
			dep := &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, dep); err != nil {
				t.Fatal(err)
			}
			return dep
		}
	}
	t.Fatalf("no Deployment %s in the install", deployment)
	return nil
}

// materializeVolumes does what the kubelet does for the container's Secret volumes: it writes each
// Secret's keys into a directory, and returns mount path → directory.
func materializeVolumes(t *testing.T, ctx context.Context, c client.Client, dep *appsv1.Deployment) map[string]string {
	t.Helper()
	secrets := map[string]string{}
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Secret == nil {
			t.Fatalf("volume %s: only Secret volumes are expected", v.Name)
		}
		secrets[v.Name] = v.Secret.SecretName
	}
	mounts := map[string]string{}
	for _, m := range dep.Spec.Template.Spec.Containers[0].VolumeMounts {
		secret := &corev1.Secret{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: secrets[m.Name]}, secret); err != nil {
			t.Fatalf("volume %s: %v", m.Name, err)
		}
		dir := t.TempDir()
		for k, v := range secret.Data {
			if err := os.WriteFile(filepath.Join(dir, k), v, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		mounts[m.MountPath] = dir
	}
	return mounts
}

// rewriteMounts replaces mount paths in args with the directories that stand for them.
func rewriteMounts(args []string, mounts map[string]string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		for path, dir := range mounts {
			a = strings.ReplaceAll(a, path, dir)
		}
		out[i] = a
	}
	return out
}

// envValue resolves an environment variable of the container as the kubelet would.
func envValue(t *testing.T, e corev1.EnvVar) string {
	t.Helper()
	switch {
	case e.ValueFrom == nil:
		return e.Value
	case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
		return namespace
	}
	t.Fatalf("env %s: unsupported source", e.Name)
	return ""
}

// serviceAccountKubeconfig writes a kubeconfig that authenticates with a TokenRequest token of the
// ServiceAccount sa, as the pod's projected token would.
func serviceAccountKubeconfig(t *testing.T, ctx context.Context, admin *rest.Config, sa string) string {
	t.Helper()
	token := requestToken(t, ctx, admin, sa)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: admin.Host, CertificateAuthorityData: admin.CAData}
	cfg.AuthInfos[sa] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: sa, Namespace: namespace}
	cfg.CurrentContext = "local"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func requestToken(t *testing.T, ctx context.Context, admin *rest.Config, sa string) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s: %v", sa, err)
	}
	return tr.Status.Token
}

// metricsReaderToken returns a token of a ServiceAccount bound to the install's metrics-reader
// ClusterRole, as a Prometheus would be.
func metricsReaderToken(t *testing.T, ctx context.Context, c client.Client, admin *rest.Config) string {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "prometheus", Namespace: namespace}}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-scim-operator-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "scim-operator-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: namespace}},
	}
	for _, o := range []client.Object{sa, binding} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return requestToken(t, ctx, admin, sa.Name)
}

// portOf returns the container port named name.
func portOf(t *testing.T, c corev1.Container, name string) string {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return fmt.Sprint(p.ContainerPort)
		}
	}
	t.Fatalf("container %s has no port %s", c.Name, name)
	return ""
}

// issueServing issues a serving certificate of ca for name, as its Service and as 127.0.0.1, where
// the test reaches it.
func issueServing(t *testing.T, ca *pki.CA, name string) pki.Pair {
	t.Helper()
	p, err := ca.Server(name, "127.0.0.1", name+"."+namespace+".svc")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func get(c *http.Client, url, bearer string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return do(c, req)
}

func post(c *http.Client, url, body string) (int, string) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+scimToken)
	return do(c, req)
}

func do(c *http.Client, req *http.Request) (int, string) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func equalData(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(b[k], v) {
			return false
		}
	}
	return true
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
