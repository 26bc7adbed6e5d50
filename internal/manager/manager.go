// Package manager builds the scim-operator manager: the SCIM server (and, when configured, the
// authorization webhook) on every replica, the controllers on the elected leader, metrics, and health and readiness checks that tell the truth.
// main.go turns flags into Options; the tests build the same manager.
package manager

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers"
	"github.com/scim-operator/scim-operator/controllers/access/authorizer"
	"github.com/scim-operator/scim-operator/scimserver"
)

// Scheme holds the kinds the manager's client knows: Kubernetes' built-in ones and ours.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(identityv1alpha1.AddToScheme(Scheme))
}

// DefaultLeaderElectionID is the name of the leader election Lease.
const DefaultLeaderElectionID = "scim-operator.identity.scim-operator.io"

// The defaults of Options.KubeAPIQPS and KubeAPIBurst: no client-side limit. client-go's own (5
// requests a second, 10 at once) would make an initial sync's status writes trail it by minutes;
// any fixed limit either does that at some tenant size or protects nothing. Priority and Fairness
// (on by default since Kubernetes 1.20) shares the API server among its clients instead, and
// queues the operator's requests rather than letting them crowd out others' (docs/operations.md).
const (
	DefaultKubeAPIQPS   = -1
	DefaultKubeAPIBurst = 0
)

// Options configure the manager.
type Options struct {
	// MetricsAddr is where metrics are served ("0" disables them); SecureMetrics serves them over
	// HTTPS, authenticated and authorized through the API server.
	MetricsAddr   string
	SecureMetrics bool
	// ProbeAddr is where /healthz and /readyz are served ("0" disables them).
	ProbeAddr string
	// PprofAddr is where Go's profiles (/debug/pprof/) are served, unauthenticated; empty: nowhere.
	PprofAddr string
	// EnableHTTP2 offers HTTP/2 on the metrics server (the SCIM server has its own option).
	EnableHTTP2 bool
	// LeaderElection elects a leader among replicas: the controllers run on it, SCIM on all.
	LeaderElection bool
	// LeaderElectionNamespace and LeaderElectionID name the Lease (default: the pod's namespace,
	// DefaultLeaderElectionID).
	LeaderElectionNamespace, LeaderElectionID string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election; zero keeps
	// controller-runtime's defaults (15 s, 10 s, 2 s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// KubeAPIQPS and KubeAPIBurst are the client-side rate limit of the manager's clients of the
	// API server (the cache's lists and watches, the SCIM store's and the controllers' writes,
	// events). A negative KubeAPIQPS sets none: the API server's Priority and Fairness is the
	// limit. Zero keeps the limit cfg has.
	KubeAPIQPS   float64
	KubeAPIBurst int
	// Controllers configure the controllers.
	Controllers controllers.Options
	// Controller is controller-runtime's configuration of every controller (tests running two
	// managers in one process set SkipNameValidation).
	Controller config.Controller
	// SCIM configures the SCIM server.
	SCIM scimserver.Options
	// Authorization configures the authorization webhook, served when Addr is set. Its UserPrefix
	// is always Controllers.RBACUserPrefix: the webhook and the bindings name users alike.
	Authorization authorizer.Options
}

// CacheOptions are the options of the manager's cache, whose token Secret is secret: it holds
// only that Secret and the operator's own bindings besides our types, each under its transform.
func CacheOptions(secret types.NamespacedName) cache.Options {
	byObject := scimserver.CacheByObject(secret)
	maps.Copy(byObject, controllers.CacheByObject())
	return cache.Options{ByObject: byObject}
}

// New returns the manager for cfg with the SCIM server and the controllers added, and the SCIM
// server. ctx bounds the setup (field indexes); start the manager with Start.
func New(ctx context.Context, cfg *rest.Config, o Options) (ctrl.Manager, *scimserver.Server, error) {
	metricsOpts := metricsserver.Options{BindAddress: o.MetricsAddr, SecureServing: o.SecureMetrics}
	if !o.EnableHTTP2 {
		metricsOpts.TLSOpts = append(metricsOpts.TLSOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	if o.SecureMetrics {
		// Scrapers authenticate with a token the API server reviews, and need RBAC on /metrics.
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = DefaultLeaderElectionID
	}
	mgrOpts := ctrl.Options{
		Scheme:                  Scheme,
		Cache:                   CacheOptions(o.SCIM.TokenSecret),
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  o.ProbeAddr,
		PprofBindAddress:        o.PprofAddr,
		Controller:              o.Controller,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        o.LeaderElectionID,
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		// A stopping leader releases its lease so that another takes over at once; safe because
		// the process ends as soon as the manager does.
		LeaderElectionReleaseOnCancel: true,
	}
	if o.LeaseDuration > 0 {
		mgrOpts.LeaseDuration, mgrOpts.RenewDeadline, mgrOpts.RetryPeriod = &o.LeaseDuration, &o.RenewDeadline, &o.RetryPeriod
	}
	cfg = ClientConfig(cfg, o)
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return nil, nil, fmt.Errorf("create manager: %w", err)
	}
	srv, err := scimserver.SetupWithManager(ctx, mgr, o.SCIM)
	if err != nil {
		return nil, nil, fmt.Errorf("set up the SCIM server: %w", err)
	}
	if err := controllers.Setup(mgr, o.Controllers); err != nil {
		return nil, nil, fmt.Errorf("set up the controllers: %w", err)
	}
	ready := map[string]healthz.Checker{
		"informer-caches": cachesSynced(mgr.GetCache()),
		"token-secret":    tokenSecretRead(mgr, o.SCIM.TokenSecret.Namespace, o.SCIM.TokenSecret.Name),
		"scim-server":     listening("SCIM server", srv.Addr),
	}
	if o.Authorization.Addr != "" {
		o.Authorization.UserPrefix = o.Controllers.RBACUserPrefix
		authz, err := authorizer.SetupWithManager(ctx, mgr, o.Authorization)
		if err != nil {
			return nil, nil, fmt.Errorf("set up the authorization webhook: %w", err)
		}
		ready["authorization-webhook"] = listening("authorization webhook", authz.Addr)
	}
	api, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, nil, err
	}
	ready["api-server"] = apiServerReachable(api)
	for name, check := range ready {
		if err := mgr.AddReadyzCheck(name, check); err != nil {
			return nil, nil, err
		}
	}
	return mgr, srv, nil
}

// ClientConfig is the configuration of the manager's clients: cfg with the client-side rate limit
// of o (KubeAPIQPS, KubeAPIBurst) when o sets one. cfg is not changed.
func ClientConfig(cfg *rest.Config, o Options) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	if o.KubeAPIQPS != 0 {
		cfg.QPS, cfg.Burst = float32(o.KubeAPIQPS), o.KubeAPIBurst
		if o.KubeAPIQPS > 0 && o.KubeAPIBurst <= 0 {
			// client-go would take a burst of 10, whatever the rate: two seconds' worth instead.
			cfg.Burst = max(int(math.Ceil(2*o.KubeAPIQPS)), 1)
		}
	}
	return cfg
}

// The readiness checks. /readyz fails until every one passes, so a replica receives SCIM traffic
// only once it answers from a synced cache, knows the tokens, listens, and reaches the API server;
// /healthz stays a liveness check (a replica that cannot reach the API server is not restarted).

// checkTimeout bounds each check: a probe must answer quickly either way.
const checkTimeout = 2 * time.Second

// cachesSynced passes once every informer the manager started has synced.
func cachesSynced(c cache.Cache) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), 50*time.Millisecond)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("the informer caches have not synced yet")
		}
		return nil
	}
}

// tokenSecretRead passes once the token Secret is in the cache: until then every SCIM request
// would be refused as unauthenticated.
func tokenSecretRead(mgr ctrl.Manager, namespace, name string) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), checkTimeout)
		defer cancel()
		err := mgr.GetClient().Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &corev1.Secret{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("the token Secret %s/%s does not exist: create a token with `kubectl scim token create PROVIDER`", namespace, name)
		}
		if err != nil {
			return fmt.Errorf("the token Secret %s/%s has not been read: %w", namespace, name, err)
		}
		return nil
	}
}

// listening passes once the server called what listens: addr returns its address once it does.
func listening(what string, addr func(context.Context) (net.Addr, error)) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Millisecond)
		defer cancel()
		if _, err := addr(ctx); err != nil {
			return fmt.Errorf("the %s is not listening yet", what)
		}
		return nil
	}
}

// apiServerReachable passes while the API server answers its own /readyz: without it SCIM can
// only answer 503.
func apiServerReachable(api kubernetes.Interface) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), checkTimeout)
		defer cancel()
		if err := api.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error(); err != nil {
			return fmt.Errorf("the Kubernetes API server is not reachable: %w", err)
		}
		return nil
	}
}
