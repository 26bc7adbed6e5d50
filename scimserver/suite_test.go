package scimserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/controlplane"
	"github.com/scim-operator/scim-operator/scimserver"
)

// The suite runs the SCIM server inside a real manager against a real kube-apiserver and etcd, as
// the operator's ServiceAccount under its generated RBAC, and talks to it over HTTP. The admission
// policies are left out so that specs can make the out-of-band edits (drift, admin suspension) that
// SCIM must cope with; controllers/scenario_test.go runs SCIM with them.

const (
	tokenNamespace = "scim-operator-system"
	// tokenName is the name the operator's RBAC lets it read (config/rbac/token_reader_role.yaml).
	tokenName = "scim-operator-scim-tokens"
)

// Tokens of the providers, as stored in the token Secret.
var tokens = map[string]string{"generic": "generic-token", "okta": "okta-token", "azure": "azure-token"}

var (
	// controlPlane is etcd, kube-apiserver and kube-controller-manager; testEnv is its envtest part.
	controlPlane *controlplane.Local
	testEnv      *envtest.Environment
	cfg          *rest.Config
	// operatorCfg authenticates as the operator's ServiceAccount; the SCIM instances use it.
	operatorCfg *rest.Config
	k8sClient   client.Client
	scheme      = runtime.NewScheme()
	ctx         context.Context
	cancel      context.CancelFunc
	// server is the SCIM server of the suite's first instance.
	server *httptest.Server
)

func TestSCIMServer(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest suite: needs the local control plane")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "SCIM server suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(v1.AddToScheme(scheme)).To(Succeed())
	if conformance.URL != "" {
		setUpConformance()
		return
	}

	root, err := controlplane.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	controlPlane, cfg, err = controlplane.Start(ctx, root, "")
	Expect(err).NotTo(HaveOccurred())
	testEnv = controlPlane.Env
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	sa := types.NamespacedName{Namespace: tokenNamespace, Name: "scim-operator-controller-manager"}
	username, err := controlplane.InstallOperatorRBAC(ctx, cfg, root, sa)
	Expect(err).NotTo(HaveOccurred())
	operator, err := testEnv.AddUser(envtest.User{Name: username,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + sa.Namespace}}, nil)
	Expect(err).NotTo(HaveOccurred())
	operatorCfg = operator.Config()
	operatorCfg.QPS = -1 // as ctrl.GetConfig: no client-side rate limit
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: tokenName, Namespace: tokenNamespace}, StringData: tokens}
	Expect(k8sClient.Create(ctx, secret)).To(Succeed())

	server = startInstance()
	Expect(startFinalizerRelease()).To(Succeed())
})

// startFinalizerRelease stands in for the operator's controllers, which this suite does not run:
// once a ScimUser or ScimRole is being deleted it removes FinalizerAccess, as the controllers do
// after removing what the object granted (tested in the controllers suite).
func startFinalizerRelease() error {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: new(true)},
	})
	if err != nil {
		return err
	}
	for _, obj := range []client.Object{&v1.ScimUser{}, &v1.ScimRole{}} {
		err := ctrl.NewControllerManagedBy(mgr).For(obj).Named(fmt.Sprintf("release-%T", obj)).
			Complete(reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
				o := obj.DeepCopyObject().(client.Object)
				if err := mgr.GetClient().Get(ctx, req.NamespacedName, o); err != nil || !v1.IsTerminating(o) {
					return reconcile.Result{}, client.IgnoreNotFound(err)
				}
				before := o.DeepCopyObject().(client.Object)
				if !v1.RemoveFinalizerAccess(o) {
					return reconcile.Result{}, nil
				}
				return reconcile.Result{}, client.IgnoreNotFound(mgr.GetClient().Patch(ctx, o, client.MergeFrom(before)))
			}))
		if err != nil {
			return err
		}
	}
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	return nil
}

var _ = AfterSuite(func() {
	if server != nil && server.Listener != nil {
		server.Close()
	}
	cancel()
	if controlPlane != nil {
		Expect(controlPlane.Stop()).To(Succeed())
	}
})

// startInstance starts a manager with the SCIM server, as main.go wires it, and serves its handler
// over HTTP. Each call is one more replica against the same API server.
func startInstance() *httptest.Server {
	GinkgoHelper()
	return startInstanceWith(operatorCfg)
}

// startInstanceWith is startInstance with the manager talking to the API server through config, and
// the SCIM options changed by each of configure. The limits on one request are the defaults, but
// for a smaller body.
func startInstanceWith(config *rest.Config, configure ...func(*scimserver.Options)) *httptest.Server {
	GinkgoHelper()
	return startInstanceLogged(config, logr.Logger{}, configure...)
}

// startInstanceLogged is startInstanceWith with the manager (and so the SCIM server) logging to
// logger; the zero Logger keeps the suite's.
func startInstanceLogged(config *rest.Config, logger logr.Logger, configure ...func(*scimserver.Options)) *httptest.Server {
	GinkgoHelper()
	secret := types.NamespacedName{Namespace: tokenNamespace, Name: tokenName}
	mgr, err := ctrl.NewManager(config, ctrl.Options{
		Logger:                 logger,
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{ByObject: scimserver.CacheByObject(secret)},
	})
	Expect(err).NotTo(HaveOccurred())
	opts := scimserver.Options{
		Addr:         "127.0.0.1:0",
		Providers:    []string{"generic", "okta", "azure"},
		TokenSecret:  secret,
		MaxBodyBytes: 64 << 10,
		MaxResults:   100,
		// Off but in the specs of rendering ahead, so that the renders they count are their
		// instance's; the manager renders ahead by default (and so in the conformance run).
		PrerenderDelay: -1,
	}
	for _, c := range configure {
		c(&opts)
	}
	srv, err := scimserver.SetupWithManager(ctx, mgr, opts)
	Expect(err).NotTo(HaveOccurred())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	Expect(mgr.GetCache().WaitForCacheSync(ctx)).To(BeTrue())
	return httptest.NewServer(srv.Handler())
}

// response is an HTTP response with its body decoded.
type response struct {
	*http.Response
	raw  []byte
	body map[string]any
}

// call sends a request to the SCIM server at base as provider, with body sent as-is (no
// Content-Type, as StrongDM's client sends it) unless headers say otherwise.
func call(base, provider, method, path, body string, headers ...string) *response {
	GinkgoHelper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+"/provisioning/"+provider+"/v2"+path, rd)
	Expect(err).NotTo(HaveOccurred())
	if tok, ok := tokens[provider]; ok {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1] // Go sends req.Host, ignoring a Host header
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	r := &response{Response: resp, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		Expect(json.Unmarshal(raw, &r.body)).To(Succeed(), "body is not a JSON object: %s", raw)
	}
	return r
}

// scim calls the suite's server as the generic provider.
func scim(method, path, body string, headers ...string) *response {
	GinkgoHelper()
	return call(server.URL, "generic", method, path, body, headers...)
}

// expectStatus asserts the status code, showing the body on failure.
func (r *response) expectStatus(code int) *response {
	GinkgoHelper()
	Expect(r.StatusCode).To(Equal(code), "body: %s", r.raw)
	return r
}

// expectError asserts a SCIM error with the status (as a string) and scimType ("" for none).
func (r *response) expectError(code int, scimType string) *response {
	GinkgoHelper()
	r.expectStatus(code)
	Expect(r.Header.Get("Content-Type")).To(HavePrefix("application/scim+json"))
	Expect(r.body["schemas"]).To(ConsistOf("urn:ietf:params:scim:api:messages:2.0:Error"))
	Expect(r.body["status"]).To(Equal(fmt.Sprint(code)))
	Expect(r.body["detail"]).NotTo(BeEmpty())
	if scimType != "" {
		Expect(r.body["scimType"]).To(Equal(scimType), "body: %s", r.raw)
	}
	return r
}

// str returns a string field of the body.
func (r *response) str(key string) string {
	GinkgoHelper()
	s, _ := r.body[key].(string)
	return s
}

// objects returns the list of objects the body holds at key, such as a ListResponse's Resources.
func (r *response) objects(key string) []map[string]any {
	GinkgoHelper()
	list, ok := r.body[key].([]any)
	Expect(ok).To(BeTrue(), "%s must be an array: %s", key, r.raw)
	out := make([]map[string]any, 0, len(list))
	for _, item := range list {
		obj, ok := item.(map[string]any)
		Expect(ok).To(BeTrue(), "%s must hold objects: %s", key, r.raw)
		out = append(out, obj)
	}
	return out
}

// seq makes names unique across specs.
var seq int

func unique(prefix string) string {
	seq++
	return fmt.Sprintf("%s%d", prefix, seq)
}

// userBody is StrongDM's create-user body.
func userBody(userName, given, family string) string {
	return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"name":{"givenName":%q,"familyName":%q},"active":true}`,
		userName, given, family)
}

// createUser creates a user through SCIM and returns its id.
func createUser(userName string) string {
	GinkgoHelper()
	r := scim("POST", "/Users", userBody(userName, "Given", "Family")).expectStatus(http.StatusCreated)
	return r.str("id")
}

// createGroup creates a group through SCIM with the given member ids and returns its id.
func createGroup(displayName string, members ...string) string {
	GinkgoHelper()
	var ms []string
	for _, m := range members {
		ms = append(ms, fmt.Sprintf(`{"value":%q}`, m))
	}
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"members":[%s]}`,
		displayName, strings.Join(ms, ","))
	return scim("POST", "/Groups", body).expectStatus(http.StatusCreated).str("id")
}

// getUser reads a ScimUser from the API server.
func getUser(id string) *v1.ScimUser {
	GinkgoHelper()
	u := &v1.ScimUser{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Name: id}, u)).To(Succeed())
	return u
}

// getRole reads a ScimRole from the API server.
func getRole(id string) *v1.ScimRole {
	GinkgoHelper()
	r := &v1.ScimRole{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Name: id}, r)).To(Succeed())
	return r
}

// countObjects counts the ScimUsers and ScimRoles in the API server, to show a request changed nothing.
func countObjects() (users, roles int) {
	GinkgoHelper()
	ul := &v1.ScimUserList{}
	rl := &v1.ScimRoleList{}
	Expect(k8sClient.List(ctx, ul)).To(Succeed())
	Expect(k8sClient.List(ctx, rl)).To(Succeed())
	return len(ul.Items), len(rl.Items)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
