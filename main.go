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

// The manager of scim-operator: the controllers (on the leader) and the SCIM server (on every
// replica). main turns flags into manager.Options; package internal/manager builds the manager.
package main

import (
	"errors"
	"flag"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/scim-operator/scim-operator/controllers"
	"github.com/scim-operator/scim-operator/controllers/access/authorizer"
	"github.com/scim-operator/scim-operator/internal/manager"
	"github.com/scim-operator/scim-operator/scimserver"
	"github.com/scim-operator/scim-operator/scimserver/store"
)

// main parses the flags, builds the manager, and runs it until SIGTERM or SIGINT. Any setup error
// exits with status 1.
func main() {
	var (
		o             manager.Options
		scimProviders string
		insecureHTTP  bool
		authzClients  string
	)
	// The manager: metrics, probes and leader election.
	flag.StringVar(&o.MetricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to, e.g. :8443 (HTTPS) or :8080 (HTTP); 0 disables it.")
	flag.BoolVar(&o.SecureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, authenticated and authorized through the API server.")
	flag.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "The address the /healthz and /readyz probes bind to.")
	flag.StringVar(&o.PprofAddr, "pprof-bind-address", "", "The address Go's profiles (/debug/pprof/) are served on, without authentication: bind it to loopback (e.g. 127.0.0.1:6060) and reach it with kubectl port-forward. Empty (the default): not served.")
	memProfileRate := flag.Int("pprof-mem-profile-rate", 0, "With --pprof-bind-address: sample one allocation per this many bytes in the heap profile (Go's runtime.MemProfileRate; 0 keeps Go's default of 512 KiB). A small rate, such as 4096, makes heap profiles precise enough to diff, at some cost.")
	flag.BoolVar(&o.EnableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics, SCIM and authorization webhook servers (off: CVE-2023-44487, CVE-2023-39325).")
	flag.BoolVar(&o.LeaderElection, "leader-elect", false, "Elect a leader among replicas; controllers run on the leader, the SCIM server on every replica.")
	flag.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", os.Getenv("POD_NAMESPACE"), "The namespace of the leader election lease (default: POD_NAMESPACE, the pod's namespace).")
	// The manager's clients of the API server (docs/operations.md, "Client-side rate limits").
	flag.Float64Var(&o.KubeAPIQPS, "kube-api-qps", manager.DefaultKubeAPIQPS, "Requests per second the manager's clients send to the API server after a burst of --kube-api-burst; negative: no client-side limit, the API server's Priority and Fairness decides.")
	flag.IntVar(&o.KubeAPIBurst, "kube-api-burst", manager.DefaultKubeAPIBurst, "Requests the manager's clients may send at once before --kube-api-qps applies (with a positive --kube-api-qps; 0: twice --kube-api-qps).")
	// The controllers: how roles become bindings, and how many reconcile at once.
	flag.StringVar(&o.Controllers.RBACUserPrefix, "rbac-user-prefix", "", "Prefix of User subject names in bindings; set it to the API server's --oidc-username-prefix (e.g. oidc:) in production. Subjects in system: are never bound.")
	flag.IntVar(&o.Controllers.MaxConcurrentReconciles, "max-concurrent-reconciles", controllers.DefaultMaxConcurrentReconciles, "ScimRoles reconciled at once.")
	flag.IntVar(&o.Controllers.MaxConcurrentUserReconciles, "max-concurrent-user-reconciles", 0, "ScimUsers reconciled at once, each writing one user's status (0: half of --max-concurrent-reconciles).")
	flag.IntVar(&o.Controllers.MaxSubjectsPerBinding, "rbac-max-subjects", 1000, "The most subjects one binding holds; larger roles are split into several bindings.")
	flag.BoolVar(&o.Controllers.SharedBindings, "rbac-shared-bindings", false, "Project every role that grants the same ClusterRole or Role in the same scope onto one set of bindings holding the union of their members (a user in many such roles leaves one binding, and the API server's RBAC scans fewer subjects), instead of a set per role. See docs/design.md, \"Shared bindings\".")
	// The SCIM server: where and how it listens, who may call it, and the limits on one request.
	flag.StringVar(&o.SCIM.Addr, "scim-bind-address", ":9443", "The address the SCIM server binds to.")
	flag.StringVar(&o.SCIM.CertDir, "scim-cert-dir", "", "Directory holding tls.crt and tls.key: the SCIM server serves HTTPS (TLS 1.2+) and reloads them when they change. Required unless --scim-insecure-http.")
	flag.BoolVar(&insecureHTTP, "scim-insecure-http", false, "Serve SCIM over plain HTTP: only for local development, or behind an Ingress that terminates TLS on a trusted network.")
	flag.StringVar(&scimProviders, "scim-providers", "generic,okta,azure", "Comma-separated SCIM providers, each served at /provisioning/{provider}/v2.")
	flag.StringVar(&o.SCIM.TokenSecret.Name, "scim-token-secret", "scim-operator-scim-tokens", "The Secret holding the providers' bearer tokens: key <provider> or <provider>.<name>, each a token or its sha256:<hex> hash.")
	flag.StringVar(&o.SCIM.TokenSecret.Namespace, "scim-token-namespace", envOr("POD_NAMESPACE", "scim-operator-system"), "The namespace of the token Secret (default: the pod's namespace).")
	flag.Int64Var(&o.SCIM.MaxBodyBytes, "scim-max-body-bytes", scimserver.DefaultMaxBodyBytes, "The largest SCIM request body accepted; larger ones are 413.")
	flag.IntVar(&o.SCIM.MaxResults, "scim-max-results", scimserver.DefaultMaxResults, "The most resources one list response returns (filter.maxResults).")
	flag.IntVar(&o.SCIM.MaxPatchOperations, "scim-max-patch-operations", scimserver.DefaultMaxPatchOperations, "The most operations one SCIM PATCH request may hold; more are 400.")
	flag.IntVar(&o.SCIM.BulkMaxOperations, "scim-bulk-max-operations", scimserver.DefaultBulkMaxOperations, "The most operations one SCIM /Bulk request may hold (bulk.maxOperations); more are 413 tooMany, nothing applied. Each operation counts as a request toward --scim-token-rate.")
	flag.Int64Var(&o.SCIM.BulkMaxPayloadBytes, "scim-bulk-max-payload-bytes", scimserver.DefaultBulkMaxPayloadBytes, "The largest SCIM /Bulk request body accepted (bulk.maxPayloadSize), instead of --scim-max-body-bytes; larger ones are 413 tooLarge, nothing applied. Each operation's data is still bounded by --scim-max-body-bytes.")
	flag.IntVar(&o.SCIM.RenderCacheSize, "scim-render-cache-size", store.DefaultRenderCacheSize, "Users whose encoded SCIM representation is kept for GET by id, about a kilobyte each; size it to the tenant (a user outside it is rendered on every GET).")
	flag.DurationVar(&o.SCIM.PrerenderDelay, "scim-prerender-delay", store.DefaultPrerenderDelay, "How long after a user changes it is rendered into the render cache, ahead of the reads that would otherwise render it (at most one render per user per delay while it keeps changing); 0 disables it: users are rendered by their first read.")
	flag.IntVar(&o.SCIM.MaxMultiValues, "scim-max-multi-values", scimserver.DefaultMaxMultiValues, "The most values one multi-valued attribute of a User (emails, phoneNumbers, …) may hold; more are 400. Group members are not limited by it; the CRD allows at most 256.")
	flag.StringVar(&o.SCIM.ExternalURL, "scim-external-url", "", "The URL IdPs reach the SCIM server at, e.g. https://scim.example.com (a path prefix is allowed); Location headers start with it. Default: the connection's scheme and local address.")
	flag.BoolVar(&o.SCIM.TrustForwardedHeaders, "scim-trust-forwarded-headers", false, "Build Location headers from X-Forwarded-Proto and X-Forwarded-Host when --scim-external-url is not set, and take a client's address for --scim-auth-failure-rate from the last X-Forwarded-For value. Only behind an Ingress you control that sets these headers and drops a client's.")
	// The SCIM server's abuse limits, per replica (docs/operations.md, "Abuse limits").
	flag.Float64Var(&o.SCIM.AuthFailureRate, "scim-auth-failure-rate", scimserver.DefaultAuthFailureRate, "Requests per second without a valid bearer token allowed from one client address after a burst of --scim-auth-failure-burst; beyond it they are 429. Requests with a valid token are never limited by it. 0 disables it.")
	flag.IntVar(&o.SCIM.AuthFailureBurst, "scim-auth-failure-burst", scimserver.DefaultAuthFailureBurst, "Requests without a valid bearer token one client address may make in a row before --scim-auth-failure-rate applies.")
	flag.Float64Var(&o.SCIM.TokenRate, "scim-token-rate", scimserver.DefaultTokenRate, "Requests per second one token (one key of the token Secret) may make after a burst of --scim-token-burst; beyond it they are 429 with Retry-After. 0 disables it.")
	flag.IntVar(&o.SCIM.TokenBurst, "scim-token-burst", scimserver.DefaultTokenBurst, "Requests one token may make at once before --scim-token-rate applies.")
	flag.IntVar(&o.SCIM.TokenMaxConcurrent, "scim-token-max-concurrent", scimserver.DefaultTokenMaxConcurrent, "The most requests of one token in progress at once; beyond it they are 429 with Retry-After. 0 disables it.")
	flag.DurationVar(&o.SCIM.ReadHeaderTimeout, "scim-read-header-timeout", scimserver.DefaultReadHeaderTimeout, "The time a SCIM client has to send a request's headers before its connection is closed.")
	flag.DurationVar(&o.SCIM.ReadTimeout, "scim-read-timeout", scimserver.DefaultReadTimeout, "The time a SCIM client has to send a whole request, body included, before its connection is closed.")
	flag.IntVar(&o.SCIM.MaxHeaderBytes, "scim-max-header-bytes", scimserver.DefaultMaxHeaderBytes, "The largest SCIM request headers accepted; larger ones are 431.")
	flag.DurationVar(&o.SCIM.WriteTimeout, "scim-write-timeout", scimserver.DefaultWriteTimeout, "The longest one SCIM write (POST, PUT, PATCH, DELETE) waits for the Kubernetes API server; past it the write is answered 503 with Retry-After (it may have been applied: a retry settles it). It also bounds a read of a resource the cache does not hold, and any request's wait for the token Secret when it cannot be read (503).")
	flag.DurationVar(&o.SCIM.BulkTimeout, "scim-bulk-timeout", scimserver.DefaultBulkTimeout, "How long a SCIM /Bulk request starts operations; an operation not started within it is answered 503 in the BulkResponse, not applied, so that the response arrives before the HTTP server's 60 s deadline. With --scim-write-timeout it must stay under 60 s.")
	// The authorization webhook: off unless an address is given; HTTPS, callable only by the API server.
	flag.StringVar(&o.Authorization.Addr, "authorization-webhook-bind-address", "", "The address the authorization webhook (SubjectAccessReviews that deny suspended, deleted and unprovisioned users before RBAC) binds to, e.g. :9444; empty disables it. See docs/authorization.md.")
	flag.StringVar(&o.Authorization.CertDir, "authorization-webhook-cert-dir", "", "Directory holding the webhook's tls.crt and tls.key (reloaded when they change). Required with --authorization-webhook-bind-address.")
	flag.StringVar(&o.Authorization.ClientCAFile, "authorization-webhook-client-ca-file", "", "PEM bundle of the CAs that issue the API server's client certificate for the webhook (reloaded when it changes). Required with --authorization-webhook-bind-address.")
	flag.StringVar(&authzClients, "authorization-webhook-client-names", authorizer.DefaultClientName, "Comma-separated common names a client certificate of the webhook may carry.")
	zapOpts := zap.Options{Development: false} // JSON lines: one audit line per SCIM write
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	if o.PprofAddr != "" && *memProfileRate > 0 {
		runtime.MemProfileRate = *memProfileRate
	}

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	// client-go and the webhook's CA reloader log through klog: as JSON lines too.
	klog.SetLogger(ctrl.Log.WithName("klog"))
	setupLog := ctrl.Log.WithName("setup")
	// The Go runtime's soft memory limit: 90% of the container's memory limit (its cgroup's), so
	// that the collector works harder as the heap nears the limit instead of the kernel killing
	// the pod (docs/operations.md, "Sizing"). GOMEMLIMIT, or AUTOMEMLIMIT (a ratio, or off), in
	// the environment takes precedence; without a limit there is none.
	if _, err := memlimit.Set(memlimit.WithLogger(slog.New(logr.ToSlogHandler(setupLog)))); err != nil {
		setupLog.Error(err, "cannot set the Go memory limit from the container's; running without one")
	}
	if o.SCIM.PrerenderDelay == 0 {
		o.SCIM.PrerenderDelay = -1 // the flag's 0 disables; the option's 0 is the default
	}
	// scimserver.New trims the provider names and skips empty ones.
	o.SCIM.Providers = strings.Split(scimProviders, ",")
	o.SCIM.EnableHTTP2 = o.EnableHTTP2
	o.Authorization.EnableHTTP2 = o.EnableHTTP2
	o.Authorization.ClientNames = nonEmpty(strings.Split(authzClients, ","))
	if err := transport(o.SCIM.CertDir, insecureHTTP); err != nil {
		setupLog.Error(err, "invalid flags")
		os.Exit(1)
	}
	if o.Controllers.RBACUserPrefix == "" {
		setupLog.Info("--rbac-user-prefix is empty: bindings name users by bare userName; set it to the API server's --oidc-username-prefix so that SCIM users cannot collide with other identities")
	}

	// One context for setup (the SCIM indexes) and the run: a signal ends both.
	ctx := ctrl.SetupSignalHandler()
	mgr, _, err := manager.New(ctx, ctrl.GetConfigOrDie(), o)
	if err != nil {
		setupLog.Error(err, "unable to set up the manager")
		os.Exit(1)
	}
	setupLog.Info("starting manager")
	if err := mgr.Start(ctx); err != nil {
		setupLog.Error(err, "problem running manager")
		os.Exit(1)
	}
}

// transport checks that SCIM's transport is chosen on purpose: HTTPS from a certificate
// directory, or plain HTTP asked for by name.
func transport(certDir string, insecureHTTP bool) error {
	switch {
	case certDir == "" && !insecureHTTP:
		return errors.New("set --scim-cert-dir (HTTPS) or --scim-insecure-http (plain HTTP, behind a TLS-terminating Ingress or for development)")
	case certDir != "" && insecureHTTP:
		return errors.New("--scim-cert-dir and --scim-insecure-http exclude each other")
	}
	return nil
}

// nonEmpty returns the trimmed values that are not empty.
func nonEmpty(values []string) []string {
	var out []string
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// envOr returns the environment variable key, or def when it is unset or empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
