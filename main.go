/*
Copyright 2026 The scim-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// The manager of scim-operator: the controllers (on the leader) and the SCIM server (on every replica).
package main

import (
	"crypto/tls"
	"flag"
	"maps"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers"
	"github.com/scim-operator/scim-operator/scimserver"
)

// scheme holds the kinds the manager's client knows: Kubernetes' built-in ones and ours.
var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(identityv1alpha1.AddToScheme(scheme))
}

// main parses the flags, builds the manager, adds the SCIM server and the controllers to it, and
// runs them until SIGTERM or SIGINT. Any setup error exits with status 1.
func main() {
	var (
		metricsAddr, probeAddr string
		secureMetrics          bool
		enableHTTP2            bool
		leaderElect            bool
		leaderElectionNS       string
		controllerOpts         controllers.Options
		scimOpts               scimserver.Options
		scimProviders          string
		tokenSecret            types.NamespacedName
	)
	// The manager: metrics, probes and leader election.
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to, e.g. :8443 (HTTPS) or :8080 (HTTP); 0 disables it.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, authenticated and authorized through the API server.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the /healthz and /readyz probes bind to.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics server (off: CVE-2023-44487, CVE-2023-39325).")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader among replicas; controllers run on the leader, the SCIM server on every replica.")
	flag.StringVar(&leaderElectionNS, "leader-election-namespace", "", "The namespace of the leader election lease (default: the pod's namespace).")
	// The controllers: how roles become bindings, and how many reconcile at once.
	flag.StringVar(&controllerOpts.RBACUserPrefix, "rbac-user-prefix", "", "Prefix of User subject names in bindings; set it to the API server's --oidc-username-prefix (e.g. oidc:) in production. Subjects in system: are never bound.")
	flag.IntVar(&controllerOpts.MaxConcurrentReconciles, "max-concurrent-reconciles", controllers.DefaultMaxConcurrentReconciles, "ScimRoles reconciled at once (ScimUsers get a quarter).")
	flag.IntVar(&controllerOpts.MaxSubjectsPerBinding, "rbac-max-subjects", 1000, "The most subjects one binding holds; larger roles are split into several bindings.")
	// The SCIM server: where it listens, who may call it, and the limits on one request.
	flag.StringVar(&scimOpts.Addr, "scim-bind-address", ":8080", "The address the SCIM server binds to.")
	flag.StringVar(&scimProviders, "scim-providers", "generic,okta,azure", "Comma-separated SCIM providers, each served at /provisioning/{provider}/v2.")
	flag.StringVar(&tokenSecret.Name, "scim-token-secret", "scim-operator-scim-tokens", "The Secret holding the providers' bearer tokens: key <provider> or <provider>.<suffix>, one token each.")
	flag.StringVar(&tokenSecret.Namespace, "scim-token-namespace", envOr("POD_NAMESPACE", "scim-operator-system"), "The namespace of the token Secret (default: the pod's namespace).")
	flag.Int64Var(&scimOpts.MaxBodyBytes, "scim-max-body-bytes", scimserver.DefaultMaxBodyBytes, "The largest SCIM request body accepted; larger ones are 413.")
	flag.IntVar(&scimOpts.MaxResults, "scim-max-results", scimserver.DefaultMaxResults, "The most resources one list response returns (filter.maxResults).")
	flag.IntVar(&scimOpts.MaxPatchOperations, "scim-max-patch-operations", scimserver.DefaultMaxPatchOperations, "The most operations one SCIM PATCH request may hold; more are 400.")
	flag.IntVar(&scimOpts.MaxMultiValues, "scim-max-multi-values", scimserver.DefaultMaxMultiValues, "The most values one multi-valued attribute of a User (emails, phoneNumbers, …) may hold; more are 400. Group members are not limited by it; the CRD allows at most 256.")
	flag.StringVar(&scimOpts.ExternalURL, "scim-external-url", "", "The URL IdPs reach the SCIM server at, e.g. https://scim.example.com (a path prefix is allowed); Location headers start with it. Default: the connection's scheme and local address.")
	flag.BoolVar(&scimOpts.TrustForwardedHeaders, "scim-trust-forwarded-headers", false, "Build Location headers from X-Forwarded-Proto and X-Forwarded-Host when --scim-external-url is not set. Only behind an Ingress you control that sets these headers and drops a client's.")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	// scimserver.New trims the provider names and skips empty ones.
	scimOpts.Providers = strings.Split(scimProviders, ",")
	scimOpts.TokenSecret = tokenSecret
	setupLog := ctrl.Log.WithName("setup")

	// Without HTTP/2 the metrics and webhook servers are not exposed to its stream-reset attacks.
	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics, TLSOpts: tlsOpts}
	if secureMetrics {
		// Scrapers authenticate with a token the API server reviews, and need RBAC on /metrics.
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	// The cache holds only the token Secret and the operator's own bindings, besides our types.
	byObject := scimserver.CacheByObject(tokenSecret)
	maps.Copy(byObject, controllers.CacheByObject())
	// A stopping leader releases its lease so that another takes over at once; that is safe because
	// main returns as soon as mgr.Start does.
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        scheme,
		Cache:                         cache.Options{ByObject: byObject},
		Metrics:                       metricsOpts,
		WebhookServer:                 webhook.NewServer(webhook.Options{TLSOpts: tlsOpts}),
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              "scim-operator.identity.scim-operator.io",
		LeaderElectionNamespace:       leaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		setupLog.Error(err, "unable to create manager")
		os.Exit(1)
	}

	// One context for setup (the SCIM indexes) and the run: a signal ends both.
	ctx := ctrl.SetupSignalHandler()
	if _, err := scimserver.SetupWithManager(ctx, mgr, scimOpts); err != nil {
		setupLog.Error(err, "unable to set up the SCIM server")
		os.Exit(1)
	}
	if controllerOpts.RBACUserPrefix == "" {
		setupLog.Info("--rbac-user-prefix is empty: bindings name users by bare userName; set it to the API server's --oidc-username-prefix so that SCIM users cannot collide with other identities")
	}
	if err := controllers.Setup(mgr, controllerOpts); err != nil {
		setupLog.Error(err, "unable to set up controllers")
		os.Exit(1)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up ready check")
		os.Exit(1)
	}

	setupLog.Info("starting manager")
	if err := mgr.Start(ctx); err != nil {
		setupLog.Error(err, "problem running manager")
		os.Exit(1)
	}
}

// envOr returns the environment variable key, or def when it is unset or empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
