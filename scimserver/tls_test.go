package scimserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/scim-operator/scim-operator/scimserver"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the serial number serial, and its
// key, as tls.crt and tls.key in dir — atomically, as the kubelet updates a Secret volume.
func writeCert(t *testing.T, dir string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "scim-operator-scim"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{
		"tls.crt": {Type: "CERTIFICATE", Bytes: der},
		"tls.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// dialSerial connects to addr with config and returns the serial number of the server's
// certificate and the negotiated protocol.
func dialSerial(addr string, config *tls.Config) (int64, string, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, config)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	state := conn.ConnectionState()
	return state.PeerCertificates[0].SerialNumber.Int64(), state.NegotiatedProtocol, nil
}

// TestHTTPSFromACertificateDirectory serves SCIM over HTTPS from a certificate directory: TLS 1.2 at
// least, no HTTP/2 unless asked for, and a rotated certificate served without a restart.
func TestHTTPSFromACertificateDirectory(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, 1)
	srv, err := scimserver.New(scimserver.Options{Addr: "127.0.0.1:0", CertDir: dir, Providers: []string{"generic"}}, nil, nil, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- srv.Start(ctx) }()
	waitCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	a, err := srv.Addr(waitCtx)
	if err != nil {
		t.Fatal(err)
	}
	addr := a.String()
	client := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}} //nolint:gosec // the test's own self-signed certificate

	serial, proto, err := dialSerial(addr, client)
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	if serial != 1 {
		t.Errorf("serial %d, want 1", serial)
	}
	if proto == "h2" {
		t.Errorf("negotiated HTTP/2, which is off by default")
	}

	old := client.Clone()
	old.MaxVersion = tls.VersionTLS11
	if _, _, err := dialSerial(addr, old); err == nil {
		t.Errorf("a TLS 1.1 client was served; the minimum is TLS 1.2")
	}

	writeCert(t, dir, 2)
	deadline := time.Now().Add(30 * time.Second)
	for serial != 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		serial, _, err = dialSerial(addr, client)
		if err != nil {
			t.Fatalf("TLS handshake after rotation: %v", err)
		}
	}
	if serial != 2 {
		t.Errorf("still serving certificate %d 30 s after rotation, want 2", serial)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Start: %v", err)
	}
}

// TestHTTP2WhenAskedFor offers HTTP/2 only with EnableHTTP2.
func TestHTTP2WhenAskedFor(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, 1)
	srv, err := scimserver.New(scimserver.Options{Addr: "127.0.0.1:0", CertDir: dir, EnableHTTP2: true, Providers: []string{"generic"}}, nil, nil, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Start(ctx) }()
	a, err := srv.Addr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, proto, err := dialSerial(a.String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}}) //nolint:gosec // the test's own certificate
	if err != nil {
		t.Fatal(err)
	}
	if proto != "h2" {
		t.Errorf("negotiated %q, want h2 when HTTP/2 is enabled", proto)
	}
}
