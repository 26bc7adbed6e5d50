// Package scimserver is the SCIM 2.0 service: StrongDM's SCIM API (RFC 7643/7644) under
// /provisioning/{provider}/v2, serving Users and Groups stored as ScimUser and ScimRole objects.
// Every provider shares one implementation; a provider may enable narrow, named fixes for its
// client's known deviations (see Quirks).
package scimserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
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
	// MaxBodyBytes limits request bodies; larger ones are 413.
	MaxBodyBytes int64
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
	// ExternalURL is the URL clients reach the server at, such as https://scim.example.com, or
	// https://example.com/scim behind a proxy that strips /scim: the Location headers of created
	// resources start with it. When empty they are built from the connection (see
	// TrustForwardedHeaders), never from the request's Host. It must be an absolute http or https
	// URL without credentials, query or fragment.
	ExternalURL string
	// TrustForwardedHeaders builds Location headers, when ExternalURL is empty, from the
	// X-Forwarded-Proto and X-Forwarded-Host headers. Enable it only behind a proxy you control (an
	// Ingress) that sets them and drops any a client sends: otherwise a client chooses the host the
	// server names.
	TrustForwardedHeaders bool
}

// Defaults for Options.
const (
	DefaultMaxBodyBytes       = 1 << 20
	DefaultMaxResults         = 1000
	DefaultMaxPatchOperations = 1000
	DefaultMaxMultiValues     = 100
)

// Server is the SCIM server. It is a manager runnable that runs on every replica.
type Server struct {
	opts      Options
	store     *store.Store
	tokens    *tokenSource
	providers map[string]Quirks
	log       logr.Logger
	// external is Options.ExternalURL without a trailing slash, or "".
	external string
}

// New returns a SCIM server over the store. secrets reads the token Secret (the manager's cache).
// Invalid options (an ExternalURL that is not an absolute http or https URL) are an error.
func New(opts Options, st *store.Store, secrets client.Reader, log logr.Logger) (*Server, error) {
	external, err := externalURL(opts.ExternalURL)
	if err != nil {
		return nil, err
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxResults <= 0 {
		opts.MaxResults = DefaultMaxResults
	}
	if opts.MaxPatchOperations <= 0 {
		opts.MaxPatchOperations = DefaultMaxPatchOperations
	}
	if opts.MaxMultiValues <= 0 {
		opts.MaxMultiValues = DefaultMaxMultiValues
	}
	providers := map[string]Quirks{}
	for _, p := range opts.Providers {
		if p = strings.TrimSpace(p); p != "" {
			providers[p] = QuirksFor(p)
		}
	}
	return &Server{opts: opts, store: st, tokens: &tokenSource{reader: secrets, secret: opts.TokenSecret},
		providers: providers, log: log, external: external}, nil
}

// NeedLeaderElection is false: every replica serves SCIM.
func (s *Server) NeedLeaderElection() bool { return false }

// Start serves until ctx is done, then shuts down gracefully.
func (s *Server) Start(ctx context.Context) error {
	srv := &http.Server{
		Addr:              s.opts.Addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.Addr, err)
	}
	s.log.Info("serving SCIM", "addr", ln.Addr().String(), "providers", s.opts.Providers,
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

// Handler returns the SCIM HTTP handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
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

// handle routes /provisioning/{provider}/v2/{endpoint...}: provider check, auth, body limit, then the
// endpoint. Anything else is a SCIM 404.
func (s *Server) handle(w http.ResponseWriter, r *http.Request) error {
	provider, segments, ok := splitPath(r.URL.Path)
	if !ok {
		return scimerror.NotFound("no SCIM endpoint at %s: endpoints are under /provisioning/{provider}/v2", r.URL.Path)
	}
	quirks, known := s.providers[provider]
	if !known {
		return scimerror.NotFound("unknown provider %q", provider)
	}
	if !s.tokens.valid(r.Context(), provider, bearerToken(r)) {
		return scimerror.New(http.StatusUnauthorized, "", "a valid bearer token for provider %s is required", provider)
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	}
	req := &request{Request: r, provider: provider, quirks: quirks, base: s.baseURL(r, provider)}
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
