// Package scimserver is the SCIM 2.0 service: StrongDM's SCIM API (RFC 7643/7644) under
// /provisioning/{provider}/v2, serving Users and Groups stored as ScimUser and ScimRole objects.
// Every provider shares one implementation; a provider may enable narrow, named fixes for its
// client's known deviations (see Quirks).
package scimserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scim-operator/scim-operator/scimserver/scimerror"
	"github.com/scim-operator/scim-operator/scimserver/store"
)

// Options configure the SCIM server.
type Options struct {
	// Addr is the address to listen on, e.g. ":8080".
	Addr string
	// Providers are the provider names served under /provisioning/{provider}/v2.
	Providers []string
	// TokenSecret is the Secret holding the providers' bearer tokens.
	TokenSecret types.NamespacedName
	// MaxBodyBytes limits request bodies, and the data of each bulk operation; larger ones are 413.
	MaxBodyBytes int64
	// BulkMaxOperations is the most operations one bulk request may hold, and BulkMaxPayloadBytes
	// the largest bulk request body (instead of MaxBodyBytes); beyond either it is 413, tooMany or
	// tooLarge, before any operation is applied. Both are advertised in ServiceProviderConfig.
	BulkMaxOperations   int
	BulkMaxPayloadBytes int64
	// MaxResults caps a list's count, and is advertised as filter.maxResults.
	MaxResults int
	// MaxPatchOperations is the most operations one PATCH request may hold; more are 400, checked
	// before any is applied.
	MaxPatchOperations int
	// MaxMultiValues is the most values one multi-valued attribute of a User (emails,
	// phoneNumbers, …) may hold after a POST, PUT or PATCH; more are 400. Group members are not
	// bounded by it: groups hold thousands of members, and are bounded apart. The ScimUser CRD
	// allows at most 256 whatever it is.
	MaxMultiValues int
	// InlineMembers is the most members a ScimRole lists itself, and MembersPerShard the most one
	// ScimRoleMembers shard of a larger group holds (store.Store; zero takes the defaults,
	// store.DefaultInlineMembers and store.DefaultMembersPerShard).
	InlineMembers, MembersPerShard int
	// RenderCacheSize is how many users' encoded representations the render cache keeps (zero
	// takes store.DefaultRenderCacheSize).
	RenderCacheSize int
	// PrerenderDelay is how long after a user's informer event it is rendered into the render
	// cache ahead of reads (store.Prerender; zero takes store.DefaultPrerenderDelay, negative
	// renders on reads only).
	PrerenderDelay time.Duration
	// ExternalURL is the URL clients reach the server at, such as https://scim.example.com, or
	// https://example.com/scim behind a proxy that strips /scim: the Location headers of created
	// resources start with it. When empty they are built from the connection (see
	// TrustForwardedHeaders), never from the request's Host. It must be an absolute http or https
	// URL without credentials, query or fragment.
	ExternalURL string
	// TrustForwardedHeaders builds Location headers, when ExternalURL is empty, from the
	// X-Forwarded-Proto and X-Forwarded-Host headers, and takes a client's address for
	// AuthFailureRate from the last X-Forwarded-For value. Enable it only behind a proxy you
	// control (an Ingress) that sets them and drops any a client sends: otherwise a client chooses
	// the host the server names.
	TrustForwardedHeaders bool
	// CertDir is a directory holding the server's certificate and key (CertName, KeyName), as
	// controller-runtime's webhook server takes it: the server then speaks HTTPS only, TLS 1.2 or
	// later, and reloads the pair when the files change (a renewed Secret) without a restart. Empty
	// serves plain HTTP: the manager allows that only with --scim-insecure-http.
	CertDir string
	// CertName and KeyName are the file names in CertDir (default tls.crt and tls.key, as in a
	// kubernetes.io/tls Secret).
	CertName, KeyName string
	// EnableHTTP2 offers HTTP/2 over TLS. Off by default, as kubebuilder does, against HTTP/2's
	// stream-reset attacks (CVE-2023-44487, CVE-2023-39325).
	EnableHTTP2 bool

	// The abuse limits (throttle.go), each per replica; a zero rate or maximum disables its limit.

	// AuthFailureRate is how many requests per second without a valid bearer token one client
	// address may make, after a burst of AuthFailureBurst; beyond it they are 429, not 401. The
	// address is the connection's, or with TrustForwardedHeaders the last X-Forwarded-For value.
	// Requests with a valid token are never counted nor refused by it.
	AuthFailureRate  float64
	AuthFailureBurst int
	// AuthFailureAddresses is the most client addresses tracked at once (default
	// DefaultAuthFailureAddresses); the addresses beyond share one budget.
	AuthFailureAddresses int
	// TokenRate is how many requests per second one token (one key of the token Secret) may make,
	// after a burst of TokenBurst; beyond it they are 429.
	TokenRate  float64
	TokenBurst int
	// TokenMaxConcurrent is the most requests of one token in progress at once; beyond it they
	// are 429.
	TokenMaxConcurrent int

	// The slow-client limits of the HTTP server: zero takes the default.

	// ReadHeaderTimeout bounds the time to read a request's headers, ReadTimeout the whole
	// request, body included. A connection that takes longer is closed.
	ReadHeaderTimeout, ReadTimeout time.Duration
	// MaxHeaderBytes bounds the size of a request's headers; larger ones are answered 431 by
	// net/http, without a SCIM body.
	MaxHeaderBytes int

	// WriteTimeout bounds each write's calls to the API server (store.Store.WriteTimeout; zero
	// takes DefaultWriteTimeout): a hung API server gets the client a 503 with Retry-After
	// within it, not after the IdP has given up. It also bounds the wait for the token Secret's
	// cache, which never fills while the Secret cannot be listed.
	WriteTimeout time.Duration
	// BulkTimeout bounds how long a /Bulk request starts operations (zero takes
	// DefaultBulkTimeout): an operation not started within it is answered 503 with Retry-After,
	// not applied, so that the response is written before the HTTP server's own deadline
	// (ResponseWriteTimeout) cuts the connection after operations were applied unreported.
	BulkTimeout time.Duration
}

// Defaults for Options.
const (
	DefaultMaxBodyBytes       = 1 << 20
	DefaultMaxResults         = 1000
	DefaultMaxPatchOperations = 1000
	DefaultMaxMultiValues     = 100
	// RFC 7644 §3.7.4's example limits: 1,000 operations, 1 MiB.
	DefaultBulkMaxOperations   = 1000
	DefaultBulkMaxPayloadBytes = 1 << 20

	// An address may fail to authenticate 10 times in a row, then once a second.
	DefaultAuthFailureRate      = 1
	DefaultAuthFailureBurst     = 10
	DefaultAuthFailureAddresses = 10000
	// A token may send 1,000 requests a second, 2,000 at once: an initial sync of 10,000 users by
	// 16 clients stays below it.
	DefaultTokenRate          = 1000
	DefaultTokenBurst         = 2000
	DefaultTokenMaxConcurrent = 32

	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultMaxHeaderBytes    = 32 << 10
	DefaultWriteTimeout      = store.DefaultWriteTimeout

	// ResponseWriteTimeout is the HTTP server's WriteTimeout: the longest a response may take from
	// the end of its request's headers. Past it net/http closes the connection.
	ResponseWriteTimeout = 60 * time.Second
	// DefaultBulkTimeout leaves, of ResponseWriteTimeout, room for the last operation started
	// (at most DefaultWriteTimeout) and the response.
	DefaultBulkTimeout = ResponseWriteTimeout - DefaultWriteTimeout - 10*time.Second
)

// Server is the SCIM server. It is a manager runnable that runs on every replica.
type Server struct {
	opts      Options
	store     *store.Store
	tokens    *tokenSource
	providers map[string]Quirks
	// failures are the failed-authentication buckets by client address, tokenRate the request
	// buckets by token key, inFlight the requests in progress by token key.
	failures  *buckets
	tokenRate *buckets
	inFlight  *inFlight
	log       logr.Logger
	// audit receives one line per SCIM write.
	audit logr.Logger
	// external is Options.ExternalURL without a trailing slash, or "".
	external string
	// listening is closed once the server listens, at addr.
	listening chan struct{}
	addr      net.Addr
}

// New returns a SCIM server over the store. secrets reads the token Secret (the manager's cache).
// Invalid options (an ExternalURL that is not an absolute http or https URL) are an error.
func New(opts Options, st *store.Store, secrets client.Reader, log logr.Logger) (*Server, error) {
	external, err := externalURL(opts.ExternalURL)
	if err != nil {
		return nil, err
	}
	orDefault(&opts.MaxBodyBytes, DefaultMaxBodyBytes)
	orDefault(&opts.MaxResults, DefaultMaxResults)
	orDefault(&opts.MaxPatchOperations, DefaultMaxPatchOperations)
	orDefault(&opts.MaxMultiValues, DefaultMaxMultiValues)
	orDefault(&opts.BulkMaxOperations, DefaultBulkMaxOperations)
	orDefault(&opts.BulkMaxPayloadBytes, DefaultBulkMaxPayloadBytes)
	orDefault(&opts.AuthFailureAddresses, DefaultAuthFailureAddresses)
	orDefault(&opts.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	orDefault(&opts.ReadTimeout, DefaultReadTimeout)
	orDefault(&opts.MaxHeaderBytes, DefaultMaxHeaderBytes)
	orDefault(&opts.WriteTimeout, DefaultWriteTimeout)
	orDefault(&opts.BulkTimeout, DefaultBulkTimeout)
	if opts.BulkTimeout+opts.WriteTimeout >= ResponseWriteTimeout {
		return nil, fmt.Errorf("the bulk timeout (%s) and the write timeout (%s) must add up to less than %s, the HTTP server's deadline for a response",
			opts.BulkTimeout, opts.WriteTimeout, ResponseWriteTimeout)
	}
	providers := map[string]Quirks{}
	for _, p := range opts.Providers {
		if p = strings.TrimSpace(p); p != "" {
			providers[p] = QuirksFor(p)
		}
	}
	if opts.CertName == "" {
		opts.CertName = "tls.crt"
	}
	if opts.KeyName == "" {
		opts.KeyName = "tls.key"
	}
	return &Server{opts: opts, store: st, tokens: &tokenSource{reader: secrets, secret: opts.TokenSecret, wait: opts.WriteTimeout},
		providers: providers, log: log, audit: log.WithName("audit"), external: external,
		failures:  newBuckets(opts.AuthFailureRate, opts.AuthFailureBurst, opts.AuthFailureAddresses),
		tokenRate: newBuckets(opts.TokenRate, opts.TokenBurst, 0),
		inFlight:  &inFlight{max: opts.TokenMaxConcurrent},
		listening: make(chan struct{})}, nil
}

// orDefault sets *v to def when it is not positive: the Options left zero.
func orDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// NeedLeaderElection is false: every replica serves SCIM.
func (s *Server) NeedLeaderElection() bool { return false }

// Start serves until ctx is done, then shuts down gracefully: HTTPS from Options.CertDir, or plain
// HTTP without it. The slow-client timeouts bound how long a connection can be held.
func (s *Server) Start(ctx context.Context) error {
	srv := &http.Server{
		Addr:              s.opts.Addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		WriteTimeout:      ResponseWriteTimeout,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.Addr, err)
	}
	scheme := "http"
	if s.opts.CertDir != "" {
		tlsConfig, err := s.tlsConfig(ctx)
		if err != nil {
			_ = ln.Close()
			return err
		}
		srv.TLSConfig = tlsConfig
		if !s.opts.EnableHTTP2 {
			// A non-nil, empty map keeps net/http from negotiating h2 on its own.
			srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		}
		ln = tls.NewListener(ln, tlsConfig)
		scheme = "https"
	}
	s.addr = ln.Addr()
	close(s.listening)
	s.log.Info("serving SCIM", "addr", ln.Addr().String(), "scheme", scheme, "providers", s.opts.Providers,
		"externalURL", s.external, "trustForwardedHeaders", s.opts.TrustForwardedHeaders)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// tlsConfig loads the certificate and key of Options.CertDir through controller-runtime's
// certwatcher, which re-reads them when the files change (a Secret volume is updated by renaming
// its data directory) until ctx ends.
func (s *Server) tlsConfig(ctx context.Context) (*tls.Config, error) {
	watcher, err := certwatcher.New(filepath.Join(s.opts.CertDir, s.opts.CertName), filepath.Join(s.opts.CertDir, s.opts.KeyName))
	if err != nil {
		return nil, fmt.Errorf("load the SCIM server's certificate from %s: %w", s.opts.CertDir, err)
	}
	go func() {
		if err := watcher.Start(ctx); err != nil {
			s.log.Error(err, "certificate watcher stopped", "dir", s.opts.CertDir)
		}
	}()
	protos := []string{"http/1.1"}
	if s.opts.EnableHTTP2 {
		protos = []string{"h2", "http/1.1"}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: watcher.GetCertificate, NextProtos: protos}, nil
}

// Addr returns the address the server listens on once it does (waiting for that, or for ctx).
func (s *Server) Addr(ctx context.Context) (net.Addr, error) {
	select {
	case <-s.listening:
		return s.addr, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Handler returns the SCIM HTTP handler, instrumented: a request id, metrics, and an audit line
// per write.
func (s *Server) Handler() http.Handler {
	return s.instrument(http.HandlerFunc(s.serve))
}

// serve is the HTTP handler: it writes the error that handle returns, and turns a panic into a 500.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			s.writeError(w, r, fmt.Errorf("panic serving %s %s: %v", r.Method, r.URL.Path, p))
		}
	}()
	if err := s.handle(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

// handle routes /provisioning/{provider}/v2/{endpoint...}: provider check, auth, the token's
// limits, body limit, then the endpoint. Anything else is a SCIM 404.
func (s *Server) handle(w http.ResponseWriter, r *http.Request) error {
	provider, segments, ok := splitPath(r.URL.Path)
	if !ok {
		return scimerror.NotFound("no SCIM endpoint at %s: endpoints are under /provisioning/{provider}/v2", r.URL.Path)
	}
	quirks, known := s.providers[provider]
	if !known {
		return scimerror.NotFound("unknown provider %q", provider)
	}
	key, err := s.authenticate(w, r, provider)
	if err != nil {
		return err
	}
	done, err := s.admit(w, provider, key)
	if err != nil {
		return err
	}
	defer done()
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, s.bodyLimit(segments))
	}
	req := &request{Request: r, provider: provider, quirks: quirks, base: s.baseURL(r, provider), tokenKey: key}
	return s.route(w, req, segments)
}

// splitPath splits "/provisioning/okta/v2/Users/a-1" into "okta" and ["Users", "a-1"].
func splitPath(path string) (provider string, segments []string, ok bool) {
	rest, found := strings.CutPrefix(path, "/provisioning/")
	if !found {
		return "", nil, false
	}
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if len(parts) < 2 || parts[0] == "" || parts[1] != "v2" {
		return "", nil, false
	}
	return parts[0], parts[2:], true
}

// bearerToken returns the token of an "Authorization: Bearer …" header, the scheme in any case, or "".
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// baseURL is the absolute base URL of the provider's endpoints, for Location headers: the external
// URL when one is configured, else the scheme and host of the connection, or with
// TrustForwardedHeaders those the proxy in front forwards. It never comes from the request's Host:
// a client could then make the server name any host, and an IdP following the Location would send
// its next request, bearer token included, there.
func (s *Server) baseURL(r *http.Request, provider string) string {
	path := "/provisioning/" + provider + "/v2/"
	if s.external != "" {
		return s.external + path
	}
	scheme, host := connectionOrigin(r)
	if s.opts.TrustForwardedHeaders {
		// Through several proxies the first value is the one the client-facing proxy set.
		if p := strings.ToLower(firstValue(r.Header.Get("X-Forwarded-Proto"))); p == "https" || p == "http" {
			scheme = p
		}
		if h := firstValue(r.Header.Get("X-Forwarded-Host")); validHost(h) {
			host = h
		}
	}
	return scheme + "://" + host + path
}

// connectionOrigin returns the scheme and host of the connection r arrived on: https with TLS, and
// the local address the client connected to.
func connectionOrigin(r *http.Request) (scheme, host string) {
	scheme = "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host = "localhost" // a request served without a connection, as by a test's recorder
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		host = addr.String()
	}
	return scheme, host
}

// firstValue returns the first of a header's comma-separated values.
func firstValue(header string) string {
	first, _, _ := strings.Cut(header, ",")
	return strings.TrimSpace(first)
}

// validHost reports whether h is a host with an optional port and nothing else: no path,
// credentials, query or spaces that would turn a Location into another URL.
func validHost(h string) bool {
	if h == "" || strings.ContainsAny(h, "/\\@?# \t") {
		return false
	}
	u, err := url.Parse("http://" + h)
	return err == nil && u.Host == h && u.Hostname() != ""
}

// externalURL validates Options.ExternalURL and returns it without a trailing slash.
func externalURL(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", fmt.Errorf("external URL %q: %w", raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("external URL %q: must be an absolute http or https URL", raw)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("external URL %q: has no host", raw)
	case u.User != nil:
		return "", fmt.Errorf("external URL %q: must not hold credentials", raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return "", fmt.Errorf("external URL %q: must not have a query or fragment", raw)
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}
