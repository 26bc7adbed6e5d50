package controlplane

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/scim-operator/scim-operator/controllers/access/authorizer"
	"github.com/scim-operator/scim-operator/internal/pki"
)

// The local API server consults the operator's authorization webhook as a cluster would with
// config/authorization: that file, with the webhook's kubeconfig and certificates generated here.

// SampleAuthorizationConfig is the sample AuthorizationConfiguration below the checkout's root.
var SampleAuthorizationConfig = filepath.Join("config", "authorization", "authorization-config.yaml")

// sampleUserPrefix is the user prefix the sample's match condition names.
const sampleUserPrefix = "oidc:"

// NoUserPrefixCondition is the webhook's match condition for an operator without
// --rbac-user-prefix: the IdP's users cannot be told apart, so all but the reserved system: names
// (components, nodes, ServiceAccounts) are sent to it.
const NoUserPrefixCondition = "!request.user.startsWith('system:')"

// webhookAuthorizerName is the name of the webhook authorizer in the sample.
const webhookAuthorizerName = "scim-operator"

// Option changes how Start starts the local control plane.
type Option func(*options)

type options struct {
	authorizationWebhookPrefix *string
}

// WithAuthorizationWebhook makes the API server consult the operator's authorization webhook before
// RBAC, for users whose names start with userPrefix (the manager's --rbac-user-prefix), as the
// sample configuration does; with an empty prefix, for every user outside system:. The webhook's address is chosen before the API server starts: a
// manager serves it with Local.AuthorizationWebhook. Until one does, the webhook's failure policy
// (NoOpinion) leaves every decision to RBAC.
func WithAuthorizationWebhook(userPrefix string) Option {
	return func(o *options) { o.authorizationWebhookPrefix = &userPrefix }
}

// AuthorizationWebhook is where the local API server expects the operator's authorization webhook,
// and what the webhook needs to be trusted by it and to trust it.
type AuthorizationWebhook struct {
	// Addr is the address the webhook must listen on (a loopback port chosen at start).
	Addr string
	// CertDir holds the webhook's tls.crt and tls.key, issued for 127.0.0.1, and ca.crt, the CA that
	// issued them and the API server's client certificate.
	CertDir string
	// ConfigFile is the AuthorizationConfiguration the API server runs with.
	ConfigFile string
	// UserPrefix is the prefix of the users the API server sends to the webhook.
	UserPrefix string
	dir        string
}

// Options returns the options that make the manager serve the webhook where the API server calls
// it (manager.Options.Authorization).
func (w *AuthorizationWebhook) Options() authorizer.Options {
	return authorizer.Options{Addr: w.Addr, CertDir: w.CertDir, ClientCAFile: filepath.Join(w.CertDir, "ca.crt"),
		ClientNames: []string{authorizer.DefaultClientName}}
}

// Args returns the manager's flags for Options.
func (w *AuthorizationWebhook) Args() []string {
	o := w.Options()
	return []string{
		"--authorization-webhook-bind-address=" + o.Addr,
		"--authorization-webhook-cert-dir=" + o.CertDir,
		"--authorization-webhook-client-ca-file=" + o.ClientCAFile,
		"--authorization-webhook-client-names=" + strings.Join(o.ClientNames, ","),
	}
}

// configureAuthorizationWebhook writes, into a new temporary directory, the webhook's certificates,
// the kubeconfig the API server calls it with and the sample AuthorizationConfiguration pointing at
// it, and makes env's API server run with it.
func configureAuthorizationWebhook(env *envtest.Environment, root, userPrefix string) (_ *AuthorizationWebhook, err error) {
	dir, err := os.MkdirTemp("", "authorization-webhook-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	w := &AuthorizationWebhook{Addr: addr, CertDir: filepath.Join(dir, "webhook"), UserPrefix: userPrefix, dir: dir,
		ConfigFile: filepath.Join(dir, "authorization-config.yaml")}
	kubeconfig, err := writeWebhookCerts(dir, w.CertDir, addr)
	if err != nil {
		return nil, err
	}
	config, err := AuthorizationConfig(root, kubeconfig, userPrefix)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(w.ConfigFile, config, 0o600); err != nil {
		return nil, err
	}
	args := env.ControlPlane.GetAPIServer().Configure()
	args.Disable("authorization-mode") // exclusive with --authorization-config
	args.Set("authorization-config", w.ConfigFile)
	return w, nil
}

// writeWebhookCerts issues, from a new CA, the webhook's serving certificate for addr's host and
// the API server's client certificate, writes them and the CA into certDir and dir, and writes the
// kubeconfig the API server calls the webhook with. It returns the kubeconfig's path.
func writeWebhookCerts(dir, certDir, addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	ca, err := pki.NewCA("scim-operator local authorization webhook CA")
	if err != nil {
		return "", err
	}
	serving, err := ca.Server("scim-operator-authorization-webhook", host)
	if err != nil {
		return "", err
	}
	client, err := ca.Client(authorizer.DefaultClientName)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return "", err
	}
	if err := serving.Write(certDir, "tls.crt", "tls.key"); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(certDir, "ca.crt"), ca.CertPEM, 0o600); err != nil {
		return "", err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["scim-operator"] = &clientcmdapi.Cluster{Server: "https://" + addr + "/", CertificateAuthorityData: ca.CertPEM}
	cfg.AuthInfos["kube-apiserver"] = &clientcmdapi.AuthInfo{ClientCertificateData: client.CertPEM, ClientKeyData: client.KeyPEM}
	cfg.Contexts["scim-operator"] = &clientcmdapi.Context{Cluster: "scim-operator", AuthInfo: "kube-apiserver"}
	cfg.CurrentContext = "scim-operator"
	path := filepath.Join(dir, "authorization-webhook.kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}

// AuthorizationConfig returns the sample AuthorizationConfiguration of the checkout at root with the
// webhook's kubeconfig at kubeconfig and its match condition for userPrefix instead of the sample's;
// without a prefix, every user outside Kubernetes' reserved system: names is sent to the webhook
// (NoUserPrefixCondition). Everything else — the order of the authorizers, the failure policy, the
// caching — is the sample's.
func AuthorizationConfig(root, kubeconfig, userPrefix string) ([]byte, error) {
	path := filepath.Join(root, SampleAuthorizationConfig)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var config apiserverv1.AuthorizationConfiguration
	if err := yaml.UnmarshalStrict(data, &config); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var webhook *apiserverv1.WebhookConfiguration
	for _, a := range config.Authorizers {
		if a.Name == webhookAuthorizerName && a.Webhook != nil {
			webhook = a.Webhook
		}
	}
	if webhook == nil {
		return nil, fmt.Errorf("%s has no webhook authorizer named %s", path, webhookAuthorizerName)
	}
	webhook.ConnectionInfo.KubeConfigFile = &kubeconfig
	for i, c := range webhook.MatchConditions {
		sample := "request.user.startsWith('" + sampleUserPrefix + "')"
		if userPrefix == "" {
			webhook.MatchConditions[i].Expression = strings.ReplaceAll(c.Expression, sample, NoUserPrefixCondition)
		} else {
			webhook.MatchConditions[i].Expression = strings.ReplaceAll(c.Expression, sample,
				"request.user.startsWith("+strconv.Quote(userPrefix)+")")
		}
	}
	return yaml.Marshal(config)
}

// freeLoopbackAddr returns a loopback address with a port that was free a moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
