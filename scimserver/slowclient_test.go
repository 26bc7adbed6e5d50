package scimserver_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scim-operator/scim-operator/scimserver"
)

// Slow clients, against the server listening on a loopback port: the only timed checks are upper
// bounds, generous ones (the bound plus 5 s), on how long the server keeps a connection open.

// grace is how long past its bound the server may take to close a connection.
const grace = 5 * time.Second

// startLimited starts the limit tests' server with the options set by configure, and returns its
// address; it stops with the test.
func startLimited(t *testing.T, configure func(*scimserver.Options)) string {
	t.Helper()
	srv := limitedServer(t, func(o *scimserver.Options) {
		o.Addr = "127.0.0.1:0"
		configure(o)
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("the server stopped with %v", err)
		}
	})
	waitCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	addr, err := srv.Addr(waitCtx)
	if err != nil {
		t.Fatal(err)
	}
	return addr.String()
}

// trickle writes what to conn, then one byte of more every 100 ms until the connection fails or
// the test ends.
func trickle(t *testing.T, conn net.Conn, what, more string) {
	t.Helper()
	if _, err := io.WriteString(conn, what); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte{more[i%len(more)]}); err != nil {
					return
				}
			}
		}
	}()
}

// expectClosedWithin reads conn until the server closes it, failing if that takes longer than
// bound plus grace. It returns what the server sent.
func expectClosedWithin(t *testing.T, conn net.Conn, bound time.Duration) string {
	t.Helper()
	start := time.Now()
	if err := conn.SetReadDeadline(start.Add(bound + grace)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection is still open after %v (bound %v); the server sent %q", time.Since(start), bound, got)
	}
	t.Logf("closed after %v (bound %v), with %q", time.Since(start).Round(time.Millisecond), bound, firstLine(string(got)))
	return string(got)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

func TestTricklingHeadersAreCutOff(t *testing.T) {
	const bound = time.Second
	addr := startLimited(t, func(o *scimserver.Options) { o.ReadHeaderTimeout = bound })
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	trickle(t, conn, "GET /provisioning/generic/v2/ServiceProviderConfig HTTP/1.1\r\nHost: scim\r\nX-Slow: ", "abc")
	if got := expectClosedWithin(t, conn, bound); strings.Contains(got, " 200 ") {
		t.Errorf("a request whose headers never ended was served: %q", got)
	}
}

func TestTricklingBodyIsCutOff(t *testing.T) {
	const bound = 2 * time.Second
	addr := startLimited(t, func(o *scimserver.Options) { o.ReadTimeout = bound })
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A valid token, so that the request reaches the point where its body is read.
	trickle(t, conn, "POST /provisioning/generic/v2/Users HTTP/1.1\r\nHost: scim\r\nAuthorization: Bearer "+tokenA+
		"\r\nContent-Type: application/scim+json\r\nContent-Length: 100000\r\n\r\n{", `"a":`)
	if got := expectClosedWithin(t, conn, bound); got != "" && !strings.HasPrefix(got, "HTTP/1.1 400 ") {
		t.Errorf("a request whose body never ended got %q, want nothing or a 400", firstLine(got))
	}
}

func TestLargeHeadersAreRefused(t *testing.T) {
	addr := startLimited(t, func(*scimserver.Options) {})
	get := func(extra int) int {
		t.Helper()
		req, err := http.NewRequest("GET", "http://"+addr+"/provisioning/generic/v2/ServiceProviderConfig", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tokenA)
		req.Header.Set("X-Large", strings.Repeat("x", extra))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	// A large JWT of an IdP fits; twice the limit does not.
	if code := get(16 << 10); code != http.StatusOK {
		t.Errorf("16 KiB of headers: %d, want 200", code)
	}
	if code := get(2 * scimserver.DefaultMaxHeaderBytes); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("%d bytes of headers: %d, want 431", 2*scimserver.DefaultMaxHeaderBytes, code)
	}
}
