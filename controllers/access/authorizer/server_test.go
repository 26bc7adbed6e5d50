package authorizer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/pki"
)

// tlsFixture is a running Server over a cache of users, with the CAs and certificates around it.
type tlsFixture struct {
	url      string
	serverCA *pki.CA
	clientCA *pki.CA
	// caFile is the server's client CA bundle.
	caFile string
}

func startServer(tb testing.TB, c cache.Cache) *tlsFixture {
	tb.Helper()
	dir := tb.TempDir()
	serverCA, err := pki.NewCA("webhook CA")
	if err != nil {
		tb.Fatal(err)
	}
	serving, err := serverCA.Server("scim-operator-authorization", "127.0.0.1")
	if err != nil {
		tb.Fatal(err)
	}
	if err := serving.Write(dir, "tls.crt", "tls.key"); err != nil {
		tb.Fatal(err)
	}
	clientCA, err := pki.NewCA("API server client CA")
	if err != nil {
		tb.Fatal(err)
	}
	caFile := filepath.Join(dir, "client-ca.crt")
	if err := os.WriteFile(caFile, clientCA.CertPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &Server{
		opts: Options{Addr: "127.0.0.1:0", CertDir: dir, CertName: "tls.crt", KeyName: "tls.key",
			ClientCAFile: caFile, ClientNames: []string{DefaultClientName}},
		authz: New(c, "oidc:"), cache: c, log: logr.Discard(), listening: make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- s.Start(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			tb.Error(err)
		}
	})
	addr, err := s.Addr(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return &tlsFixture{url: "https://" + addr.String() + "/", serverCA: serverCA, clientCA: clientCA, caFile: caFile}
}

// client returns an HTTPS client that trusts the server and presents cert, if any.
func (f *tlsFixture) client(tb testing.TB, cert *pki.Pair) *http.Client {
	tb.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(f.serverCA.CertPEM)
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		pair, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
		if err != nil {
			tb.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 16}}
	// Before the server stops (cleanups run last first): a connection the transport dialed but
	// never used is new to the server, and net/http's Shutdown waits 5 s before it counts such a
	// connection as idle, as long as the server's own shutdown deadline.
	tb.Cleanup(c.CloseIdleConnections)
	return c
}

const bobReview = `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"oidc:bob@example.com"}}`

// ask posts a review of bob, suspended, and returns the body, or the error.
func ask(c *http.Client, url string) (string, error) {
	resp, err := c.Post(url, "application/json", strings.NewReader(bobReview))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func issue(tb testing.TB, ca *pki.CA, name string) *pki.Pair {
	tb.Helper()
	p, err := ca.Client(name)
	if err != nil {
		tb.Fatal(err)
	}
	return &p
}

// TestServerAuthenticatesTheAPIServer: only a client certificate of the client CA, for the API
// server's name, gets an answer; no one else can learn who is suspended.
func TestServerAuthenticatesTheAPIServer(t *testing.T) {
	c, _, _ := informerCache(t, []identityv1alpha1.ScimUser{*user("a-bob", "bob@example.com", suspendedBy(identityv1alpha1.SuspendedByProvider))})
	f := startServer(t, c)
	body, err := ask(f.client(t, issue(t, f.clientCA, DefaultClientName)), f.url)
	if err != nil || !strings.Contains(body, `"denied":true`) {
		t.Fatalf("as the API server: %s, %v; want a denial", body, err)
	}
	other, err := pki.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	// A certificate of the client CA for the right name, but not for client authentication.
	servingPair, err := f.clientCA.Server(DefaultClientName, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	serving := &servingPair
	for name, cert := range map[string]*pki.Pair{
		"no certificate":        nil,
		"another CA":            issue(t, other, DefaultClientName),
		"another name":          issue(t, f.clientCA, "system:kube-scheduler"),
		"a serving certificate": serving,
	} {
		if body, err := ask(f.client(t, cert), f.url); err == nil {
			t.Errorf("%s: answered %s; want the handshake refused", name, body)
		}
	}
}

// TestServerReloadsTheClientCA: a new client CA written over the file is trusted without a
// restart, and the old one no longer is.
func TestServerReloadsTheClientCA(t *testing.T) {
	c, _, _ := informerCache(t, nil)
	f := startServer(t, c)
	next, err := pki.NewCA("next client CA")
	if err != nil {
		t.Fatal(err)
	}
	tmp := f.caFile + ".tmp"
	if err := os.WriteFile(tmp, next.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.caFile); err != nil {
		t.Fatal(err)
	}
	nextClient := f.client(t, issue(t, next, DefaultClientName))
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 90*time.Second, true, func(context.Context) (bool, error) {
		_, err := ask(nextClient, f.url)
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("a certificate of the new client CA is still refused: %v", err)
	}
	if _, err := ask(f.client(t, issue(t, f.clientCA, DefaultClientName)), f.url); err == nil {
		t.Error("a certificate of the replaced client CA is still accepted")
	}
}

// BenchmarkServeTLS measures a review through the server over loopback HTTPS with the API
// server's client certificate and kept-alive connections, one client per core, with a cache of
// 50,000 users changing all along. Client and server share the cores, and both do TLS.
//
//	go test ./controllers/access/authorizer/ -run '^$' -bench ServeTLS -benchtime 20000x
func BenchmarkServeTLS(b *testing.B) {
	c, bodies, stop := loadedCache(b, 50000)
	defer stop()
	f := startServer(b, c)
	client := f.client(b, issue(b, f.clientCA, DefaultClientName))
	// The connections are set up before the clock starts: the API server keeps them alive.
	for range 4 {
		if _, err := ask(client, f.url); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	lat := &latencies{}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			body := bodies[next.Add(1)%int64(len(bodies))]
			start := time.Now()
			resp, err := client.Post(f.url, "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			mine = append(mine, time.Since(start))
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
			}
		}
		lat.add(mine)
	})
	b.StopTimer()
	lat.report(b)
}
