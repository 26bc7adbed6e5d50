package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// scimClient is an identity provider's HTTP client: keep-alive connections, a bearer token, and
// the back-off an IdP applies to 429 and 503 — it waits as Retry-After says and tries again, a
// bounded number of times.
type scimClient struct {
	// base is the provider's base URL, without a trailing slash.
	base  string
	token string
	http  *http.Client
	// maxRetries bounds the retries of one request.
	maxRetries int
}

func newSCIMClient(base, token string, clients, maxRetries int) *scimClient {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 2 * clients
	transport.MaxIdleConnsPerHost = 2 * clients
	return &scimClient{base: base, token: token, maxRetries: maxRetries,
		http: &http.Client{Transport: transport, Timeout: 5 * time.Minute}}
}

// statusError is a response with an unexpected status.
type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, truncate(e.body, 300))
}

// do sends the request and returns the response body once the status is one of want, with the
// number of retries it took. 429 and 503 are retried after Retry-After (1 s without one).
func (c *scimClient) do(ctx context.Context, method, path string, body []byte, want ...int) ([]byte, int, error) {
	for retries := 0; ; retries++ {
		status, header, data, err := c.send(ctx, method, path, body)
		if err != nil {
			return nil, retries, err
		}
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			if retries < c.maxRetries {
				if err := sleep(ctx, retryAfter(header)); err != nil {
					return nil, retries, err
				}
				continue
			}
		}
		for _, w := range want {
			if status == w {
				return data, retries, nil
			}
		}
		return nil, retries, &statusError{method, path, status, string(data)}
	}
}

func (c *scimClient) send(ctx context.Context, method, path string, body []byte) (int, http.Header, []byte, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, reader)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data, err
}

// retryAfter reads a Retry-After of whole seconds; without one, a second.
func retryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	return time.Second
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// listResponse is the part of a SCIM ListResponse the bench reads.
type listResponse struct {
	TotalResults int               `json:"totalResults"`
	ItemsPerPage int               `json:"itemsPerPage"`
	Resources    []json.RawMessage `json:"Resources"`
}

// idOf returns the id of a resource document.
func idOf(body []byte) (string, error) {
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.ID == "" {
		return "", fmt.Errorf("no id in %s", truncate(string(body), 200))
	}
	return r.ID, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
