// Package scimtest holds what the tests that run a manager share: a SCIM client that reports
// every answer as it came (no retries), the manager's readiness, and waiting for a condition.
package scimtest

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Client sends SCIM requests to one provider's base URL with a bearer token.
type Client struct {
	// Base is the provider's base URL, e.g. http://127.0.0.1:8080/provisioning/generic/v2.
	Base, Token string
	// HTTP sends the requests (nil: a client that gives up after a minute).
	HTTP *http.Client
}

// Response is a SCIM answer, or the error that kept it from coming (Status 0).
type Response struct {
	Status int
	Header http.Header
	Body   string
	Err    error
}

// String describes the response for a test's message.
func (r Response) String() string {
	if r.Err != nil {
		return r.Err.Error()
	}
	return http.StatusText(r.Status) + " " + r.Body
}

var defaultClient = &http.Client{Timeout: time.Minute}

// Do sends a request with body (none if empty) to path below Base.
func (c *Client) Do(method, path, body string) Response {
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.Base+path, reader)
	if err != nil {
		return Response{Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	h := c.HTTP
	if h == nil {
		h = defaultClient
	}
	resp, err := h.Do(req)
	if err != nil {
		return Response{Err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: string(out), Err: err}
}

// ID returns the id of the resource in the body, or "".
func (r Response) ID() string {
	var doc struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal([]byte(r.Body), &doc)
	return doc.ID
}

// IDOf returns the id of a SCIM resource body, failing the test without one.
func IDOf(t testing.TB, body string) string {
	t.Helper()
	id := Response{Body: body}.ID()
	if id == "" {
		t.Fatalf("no id in %s", body)
	}
	return id
}

// Readyz returns the status code and body of /readyz?verbose at the probe address addr.
func Readyz(addr string) (int, string) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/readyz?verbose")
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// Eventually polls cond every 100 ms until it holds, failing the test after timeout with what and
// the detail cond last returned.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		ok, detail := cond()
		last = detail
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s (last: %s)", what, timeout, last)
	}
}
