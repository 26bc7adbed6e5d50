package scimserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/scim-operator/scim-operator/scimserver"
)

// The abuse limits, on the handler with the token Secret in a fake client and no store: the
// requests that pass read discovery documents, or block reading their body.

// The tokens of the limit tests' Secret: two keys of generic, one of okta.
const (
	tokenA    = "generic-token-a"
	tokenB    = "generic-token-b"
	oktaToken = "okta-token-a"
)

// slow is a rate at which no bucket refills during a test: limits are reached by bursts alone.
const slow = 1e-6

// limitedHandler returns the SCIM handler with the limits set by configure.
func limitedHandler(t *testing.T, configure func(*scimserver.Options)) http.Handler {
	t.Helper()
	return limitedServer(t, configure).Handler()
}

// limitedServer returns the SCIM server of the limit tests, with the limits set by configure.
func limitedServer(t *testing.T, configure func(*scimserver.Options)) *scimserver.Server {
	t.Helper()
	name := types.NamespacedName{Namespace: "scim", Name: "tokens"}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name},
		Data: map[string][]byte{"generic": []byte(tokenA), "generic.b": []byte(tokenB + "\n"), "okta": []byte(oktaToken)}}
	opts := scimserver.Options{Providers: []string{"generic", "okta"}, TokenSecret: name}
	configure(&opts)
	srv, err := scimserver.New(opts, nil, fake.NewClientBuilder().WithObjects(secret).Build(), logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// limitedRequest is a request to the limit tests' handler.
type limitedRequest struct {
	method, path, remote, token string
	header                      http.Header
	body                        io.Reader
}

// send serves req and returns the response.
func (req limitedRequest) send(h http.Handler) *httptest.ResponseRecorder {
	method, path := req.method, req.path
	if method == "" {
		method = "GET"
	}
	if path == "" {
		path = "/provisioning/generic/v2/ServiceProviderConfig"
	}
	r := httptest.NewRequest(method, path, req.body)
	r.RemoteAddr = req.remote
	if r.RemoteAddr == "" {
		r.RemoteAddr = "192.0.2.1:40000"
	}
	for k, v := range req.header {
		r.Header[k] = v
	}
	if req.token != "" {
		r.Header.Set("Authorization", "Bearer "+req.token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// expectCode fails unless w has the status code; a 429 must also carry Retry-After and a SCIM
// error body that says status 429.
func expectCode(t *testing.T, w *httptest.ResponseRecorder, code int, what string) map[string]any {
	t.Helper()
	if w.Code != code {
		t.Fatalf("%s: status %d, want %d; body %s", what, w.Code, code, w.Body)
	}
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if code == http.StatusTooManyRequests {
		if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 1 {
			t.Fatalf("%s: Retry-After %q, want a number of seconds", what, w.Header().Get("Retry-After"))
		}
		if body["status"] != "429" || body["detail"] == "" || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/scim+json") {
			t.Fatalf("%s: not a SCIM error body: %s", what, w.Body)
		}
	}
	return body
}

// throttled returns scim_throttled_total for provider and reason.
func throttled(t *testing.T, provider, reason string) float64 {
	t.Helper()
	v, err := gatheredValue("scim_throttled_total", map[string]string{"provider": provider, "reason": reason})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFailedAuthenticationIsThrottledPerAddressButNeverAValidToken(t *testing.T) {
	h := limitedHandler(t, func(o *scimserver.Options) { o.AuthFailureRate, o.AuthFailureBurst = slow, 3 })
	before := throttled(t, "generic", "auth_failures")
	guesser := "192.0.2.1:40000"
	for i := range 3 {
		expectCode(t, limitedRequest{remote: guesser, token: "guess-" + strconv.Itoa(i)}.send(h), http.StatusUnauthorized, "a failure within the burst")
	}
	body := expectCode(t, limitedRequest{remote: guesser, token: "guess-3"}.send(h), http.StatusTooManyRequests, "a failure past the burst")
	if d, _ := body["detail"].(string); !strings.Contains(d, "--scim-auth-failure-rate") || strings.Contains(d, "guess-3") {
		t.Errorf("detail %q should name the flag, not the token", d)
	}
	expectCode(t, limitedRequest{remote: "192.0.2.1:40001"}.send(h), http.StatusTooManyRequests, "no token, same address, another port")
	expectCode(t, limitedRequest{remote: guesser, token: oktaToken}.send(h), http.StatusTooManyRequests, "another provider's token")

	// The IdP behind the same address is served, again and again.
	for range 10 {
		expectCode(t, limitedRequest{remote: guesser, token: tokenA}.send(h), http.StatusOK, "a valid token from a throttled address")
	}
	expectCode(t, limitedRequest{remote: guesser, token: oktaToken, path: "/provisioning/okta/v2/ResourceTypes"}.send(h), http.StatusOK, "okta's token on okta")
	// Another address has its own budget; an unknown provider is 404 before any token is looked at.
	expectCode(t, limitedRequest{remote: "198.51.100.7:1", token: "guess"}.send(h), http.StatusUnauthorized, "another address")
	expectCode(t, limitedRequest{remote: guesser, path: "/provisioning/nobody/v2/Users"}.send(h), http.StatusNotFound, "an unknown provider")
	if got := throttled(t, "generic", "auth_failures") - before; got != 3 {
		t.Errorf("scim_throttled_total{generic,auth_failures} rose by %v, want 3", got)
	}
}

func TestFailedAuthenticationBehindAProxyCountsTheAddressTheProxySaw(t *testing.T) {
	proxy := "10.0.0.5:4000"
	forwarded := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }
	h := limitedHandler(t, func(o *scimserver.Options) {
		o.AuthFailureRate, o.AuthFailureBurst, o.TrustForwardedHeaders = slow, 1, true
	})
	// The first value is the guesser's to choose; the last, the proxy's, is the one counted.
	expectCode(t, limitedRequest{remote: proxy, header: forwarded("203.0.113.1, 192.0.2.1"), token: "x"}.send(h), http.StatusUnauthorized, "first failure")
	expectCode(t, limitedRequest{remote: proxy, header: forwarded("203.0.113.2, 192.0.2.1"), token: "x"}.send(h), http.StatusTooManyRequests, "a new claimed address")
	expectCode(t, limitedRequest{remote: proxy, header: forwarded("192.0.2.2"), token: "x"}.send(h), http.StatusUnauthorized, "another client of the proxy")
	expectCode(t, limitedRequest{remote: proxy, header: forwarded("192.0.2.1"), token: tokenA}.send(h), http.StatusOK, "a valid token")

	// Not trusted, the header is ignored: every client of the proxy shares its budget.
	h = limitedHandler(t, func(o *scimserver.Options) { o.AuthFailureRate, o.AuthFailureBurst = slow, 1 })
	expectCode(t, limitedRequest{remote: proxy, header: forwarded("192.0.2.1"), token: "x"}.send(h), http.StatusUnauthorized, "first failure")
	expectCode(t, limitedRequest{remote: proxy, header: forwarded("192.0.2.2"), token: "x"}.send(h), http.StatusTooManyRequests, "untrusted header")
}

func TestTokenRateIsPerTokenKey(t *testing.T) {
	h := limitedHandler(t, func(o *scimserver.Options) {
		o.TokenRate, o.TokenBurst = slow, 2
		o.AuthFailureRate, o.AuthFailureBurst = slow, 1
	})
	before := throttled(t, "generic", "token_rate")
	codes := func(labels map[string]string) float64 {
		v, err := gatheredValue("scim_requests_total", labels)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tooMany := map[string]string{"provider": "generic", "resource": "ServiceProviderConfig", "method": "GET", "code": "429"}
	before429 := codes(tooMany)
	expectCode(t, limitedRequest{token: tokenA}.send(h), http.StatusOK, "first request")
	expectCode(t, limitedRequest{token: tokenA}.send(h), http.StatusOK, "second request")
	w := limitedRequest{token: tokenA}.send(h)
	body := expectCode(t, w, http.StatusTooManyRequests, "past the burst")
	if d, _ := body["detail"].(string); !strings.Contains(d, "the token generic ") || !strings.Contains(d, "--scim-token-rate") {
		t.Errorf("detail %q should name the token's key and the flag", d)
	}
	if strings.Contains(w.Body.String(), tokenA) || strings.Contains(headerText(w.Header()), tokenA) {
		t.Errorf("the response holds the token: %v %s", w.Header(), w.Body)
	}
	// The other key of the provider has its own budget, and a throttled token is no failed
	// authentication: the address's budget of one failure is still there.
	expectCode(t, limitedRequest{token: tokenB}.send(h), http.StatusOK, "the other key")
	expectCode(t, limitedRequest{token: "wrong"}.send(h), http.StatusUnauthorized, "a wrong token after the throttled ones")
	if got := throttled(t, "generic", "token_rate") - before; got != 1 {
		t.Errorf("scim_throttled_total{generic,token_rate} rose by %v, want 1", got)
	}
	if got := codes(tooMany) - before429; got != 1 {
		t.Errorf("scim_requests_total{code=429} rose by %v, want 1", got)
	}
}

// blockingBody is a request body whose first Read reports that the handler got that far, then
// waits for release.
type blockingBody struct {
	reading chan<- struct{}
	release <-chan struct{}
	once    sync.Once
}

func (b *blockingBody) Read([]byte) (int, error) {
	b.once.Do(func() { b.reading <- struct{}{} })
	<-b.release
	return 0, io.EOF
}

func TestRequestsInProgressArePerTokenKey(t *testing.T) {
	h := limitedHandler(t, func(o *scimserver.Options) { o.TokenMaxConcurrent = 2 })
	before := throttled(t, "generic", "token_concurrency")
	reading, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			body := &blockingBody{reading: reading, release: release}
			w := limitedRequest{method: "POST", path: "/provisioning/generic/v2/Users", token: tokenA, body: body}.send(h)
			if w.Code != http.StatusBadRequest { // an empty body
				t.Errorf("a blocked request ended %d: %s", w.Code, w.Body)
			}
		})
	}
	<-reading
	<-reading // both are in progress, reading their bodies
	body := expectCode(t, limitedRequest{token: tokenA}.send(h), http.StatusTooManyRequests, "a third request of the token")
	if d, _ := body["detail"].(string); !strings.Contains(d, "2 requests in progress") || !strings.Contains(d, "--scim-token-max-concurrent") {
		t.Errorf("detail %q should say how many are in progress and name the flag", d)
	}
	expectCode(t, limitedRequest{token: tokenB}.send(h), http.StatusOK, "the other key of the provider")
	close(release)
	wg.Wait()
	expectCode(t, limitedRequest{token: tokenA}.send(h), http.StatusOK, "once the others ended")
	if got := throttled(t, "generic", "token_concurrency") - before; got != 1 {
		t.Errorf("scim_throttled_total{generic,token_concurrency} rose by %v, want 1", got)
	}
}

func TestZeroLimitsLimitNothing(t *testing.T) {
	h := limitedHandler(t, func(*scimserver.Options) {})
	for range 50 {
		expectCode(t, limitedRequest{token: "wrong"}.send(h), http.StatusUnauthorized, "a failure without a limit")
		expectCode(t, limitedRequest{token: tokenA}.send(h), http.StatusOK, "a request without a limit")
	}
}

// headerText is every header of h as "Name: value" lines.
func headerText(h http.Header) string {
	var b strings.Builder
	for k, vs := range h {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	return b.String()
}
