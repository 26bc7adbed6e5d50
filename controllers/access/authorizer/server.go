package authorizer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/log"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/index"
)

// DefaultClientName is the default of Options.ClientNames: the common name of the client
// certificate the API server presents (the client-certificate of the webhook's kubeconfig).
const DefaultClientName = "kube-apiserver"

// Options configure the webhook's server.
type Options struct {
	// Addr is the address to serve on, e.g. ":9444".
	Addr string
	// CertDir holds the server's certificate and key, CertName and KeyName (default tls.crt and
	// tls.key), reloaded when they change. The API server verifies them with the
	// certificate-authority of the webhook's kubeconfig.
	CertDir, CertName, KeyName string
	// ClientCAFile is a PEM bundle of the CAs that issue the API server's client certificate: the
	// server refuses, at the TLS handshake, every client without a certificate it verifies for
	// client authentication. Reloaded when the file changes.
	ClientCAFile string
	// ClientNames are the common names a client certificate may carry (default
	// DefaultClientName), so that a CA that also issues certificates to others (a cluster CA)
	// admits only the API server.
	ClientNames []string
	// UserPrefix is the --rbac-user-prefix (see New).
	UserPrefix string
	// EnableHTTP2 offers HTTP/2; off by default, as for SCIM (CVE-2023-44487).
	EnableHTTP2 bool
}

// Server serves the Authorizer over HTTPS to clients with a trusted certificate. It is a manager
// runnable on every replica: each answers from its own cache.
type Server struct {
	opts  Options
	authz *Authorizer
	cache cache.Cache
	log   logr.Logger
	// listening is closed once the server listens, at addr.
	listening chan struct{}
	addr      net.Addr
}

// SetupWithManager adds the webhook's server to mgr, answering from mgr's cache through the
// index.UserNameFolded field index, which it registers.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) (*Server, error) {
	switch {
	case opts.CertDir == "":
		return nil, errors.New("the authorization webhook needs a certificate directory: it serves HTTPS only")
	case opts.ClientCAFile == "":
		return nil, errors.New("the authorization webhook needs a client CA file: only the API server may call it")
	case identityv1alpha1.IsReservedSubject(opts.UserPrefix):
		return nil, fmt.Errorf("the user prefix %q lies in Kubernetes' reserved %q namespace", opts.UserPrefix, identityv1alpha1.ReservedSubjectPrefix)
	}
	if opts.CertName == "" {
		opts.CertName = "tls.crt"
	}
	if opts.KeyName == "" {
		opts.KeyName = "tls.key"
	}
	if len(opts.ClientNames) == 0 {
		opts.ClientNames = []string{DefaultClientName}
	}
	if err := index.Register(ctx, mgr.GetFieldIndexer(), index.UserNameFolded); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, authz: New(mgr.GetCache(), opts.UserPrefix), cache: mgr.GetCache(),
		log: mgr.GetLogger().WithName("authorization-webhook"), listening: make(chan struct{})}
	if err := mgr.Add(s); err != nil {
		return nil, fmt.Errorf("add the authorization webhook: %w", err)
	}
	return s, nil
}

// NeedLeaderElection is false: every replica answers reviews.
func (s *Server) NeedLeaderElection() bool { return false }

// Start waits for the cache to sync, then serves until ctx is done. Until it listens the API
// server cannot connect, and its failurePolicy (NoOpinion) leaves the decision to RBAC: the webhook
// never answers from a cache that has not seen every user.
func (s *Server) Start(ctx context.Context) error {
	tlsConfig, err := s.tlsConfig(ctx)
	if err != nil {
		return err
	}
	if !s.cache.WaitForCacheSync(ctx) {
		return nil // ended before the cache synced
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.Addr, err)
	}
	srv := &http.Server{
		Handler:           s.authz,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return log.IntoContext(ctx, s.log) },
		// Refused handshakes (a client without the API server's certificate) are logged here.
		ErrorLog: slog.NewLogLogger(logr.ToSlogHandler(s.log), slog.LevelInfo),
	}
	if !s.opts.EnableHTTP2 {
		// A non-nil, empty map keeps net/http from negotiating h2 on its own.
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	ln = tls.NewListener(ln, tlsConfig)
	s.addr = ln.Addr()
	close(s.listening)
	s.log.Info("serving SubjectAccessReviews", "addr", s.addr.String(), "userPrefix", s.opts.UserPrefix, "clientNames", s.opts.ClientNames)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
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

// tlsConfig serves the certificate of CertDir (controller-runtime's certwatcher) and requires a
// client certificate that the CAs of ClientCAFile verify for client authentication and that names
// one of ClientNames; both files are watched until ctx ends.
func (s *Server) tlsConfig(ctx context.Context) (*tls.Config, error) {
	watcher, err := certwatcher.New(filepath.Join(s.opts.CertDir, s.opts.CertName), filepath.Join(s.opts.CertDir, s.opts.KeyName))
	if err != nil {
		return nil, fmt.Errorf("load the authorization webhook's certificate from %s: %w", s.opts.CertDir, err)
	}
	clientCA, err := dynamiccertificates.NewDynamicCAContentFromFile("authorization-webhook-client-ca", s.opts.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("load the authorization webhook's client CA: %w", err)
	}
	go func() {
		if err := watcher.Start(ctx); err != nil {
			s.log.Error(err, "certificate watcher stopped", "dir", s.opts.CertDir)
		}
	}()
	go clientCA.Run(ctx, 1)
	protos := []string{"http/1.1"}
	if s.opts.EnableHTTP2 {
		protos = []string{"h2", "http/1.1"}
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: watcher.GetCertificate,
		NextProtos:     protos,
		// Verified below, against the CA bundle as it is at the handshake.
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: verifyClient(clientCA, s.opts.ClientNames),
	}, nil
}

// verifyClient accepts a client certificate chain that the CA bundle verifies for client
// authentication, with a leaf whose common name is one of names.
func verifyClient(ca dynamiccertificates.CAContentProvider, names []string) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		opts, ok := ca.VerifyOptions()
		if !ok || len(raw) == 0 {
			return errors.New("no client certificate can be verified")
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, der := range raw {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return fmt.Errorf("parse client certificate: %w", err)
			}
			certs[i] = c
		}
		opts.Intermediates = x509.NewCertPool()
		for _, c := range certs[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := certs[0].Verify(opts); err != nil {
			return fmt.Errorf("verify client certificate %q: %w", certs[0].Subject.CommonName, err)
		}
		if !slices.Contains(names, certs[0].Subject.CommonName) {
			return fmt.Errorf("client certificate %q is not one the webhook answers (%v)", certs[0].Subject.CommonName, names)
		}
		return nil
	}
}
