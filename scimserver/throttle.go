package scimserver

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// The abuse limits: what one client may ask of a replica over time, beside the work of one request
// (limits.go). Each refuses with 429 Too Many Requests (RFC 6585), Retry-After and a SCIM error
// body, which is what Okta and Entra ID back off on and retry; each holds per replica.
//
//   - Failed authentication, per client address: a request with a wrong or missing bearer token
//     takes from the address's bucket, and once that is empty it is 429 instead of 401. A request
//     with a valid token never touches the bucket, so someone guessing from an IdP's egress address
//     cannot lock the IdP out.
//   - Requests per token, keyed by the token Secret's key that holds the token (okta.2026-12),
//     never by the token.
//   - Requests in progress per token. 429 rather than 503: the client has too many requests open,
//     the server is not unavailable.

// The reasons of scim_throttled_total.
const (
	reasonAuthFailures     = "auth_failures"
	reasonTokenRate        = "token_rate"
	reasonTokenConcurrency = "token_concurrency"
)

// authenticate returns the token Secret's key that holds r's bearer token for provider. A request
// without a valid token is refused: 401, or 429 once its address has used its budget of failures.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, provider string) (string, error) {
	// Until the Secret informer has synced the Secret is read from the cache, which waits for that
	// sync: a Secret that cannot be listed (the operator's RBAC, an API server down since the start)
	// would hold the request forever. The wait is bounded as a write's is (New sets it), and
	// answered 503 with Retry-After: a 401 would tell the IdP its token is wrong (Okta and Entra
	// then stop provisioning) and count against the address's failed attempts.
	key, ok, err := s.tokens.match(r.Context(), provider, bearerToken(r))
	if err != nil {
		s.log.Info("Cannot read the token Secret", "secret", s.opts.TokenSecret.String(), "error", err.Error())
		return "", scimerror.New(http.StatusServiceUnavailable, "", "the bearer token cannot be checked: the token Secret is not readable yet; retry later")
	}
	if ok {
		return key, nil
	}
	authFailures.WithLabelValues(provider).Inc()
	if wait, ok := s.failures.take(s.clientAddress(r), time.Now()); !ok {
		throttledTotal.WithLabelValues(provider, reasonAuthFailures).Inc()
		return "", tooManyRequests(w, wait, "too many requests without a valid bearer token from this address (--scim-auth-failure-rate)")
	}
	return "", scimerror.New(http.StatusUnauthorized, "", "a valid bearer token for provider %s is required", provider)
}

// admit checks the limits of the token held by key, and returns the function that ends the
// request's share of them.
func (s *Server) admit(w http.ResponseWriter, provider, key string) (done func(), err error) {
	if wait, ok := s.tokenRate.take(key, time.Now()); !ok {
		throttledTotal.WithLabelValues(provider, reasonTokenRate).Inc()
		return nil, tooManyRequests(w, wait, "the token %s is over its %g requests per second (--scim-token-rate)", key, s.opts.TokenRate)
	}
	if !s.inFlight.acquire(key) {
		throttledTotal.WithLabelValues(provider, reasonTokenConcurrency).Inc()
		return nil, tooManyRequests(w, time.Second, "the token %s already has %d requests in progress (--scim-token-max-concurrent)", key, s.opts.TokenMaxConcurrent)
	}
	return func() { s.inFlight.release(key) }, nil
}

// tooManyRequests sets Retry-After to wait, in whole seconds and at least one, and returns the 429.
func tooManyRequests(w http.ResponseWriter, wait time.Duration, format string, args ...any) error {
	seconds := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
	return scimerror.New(http.StatusTooManyRequests, "", "%s; retry after %d s", fmt.Sprintf(format, args...), seconds)
}

// clientAddress is the key of r's client for the failed-authentication limit: the IP address of
// the connection or, with TrustForwardedHeaders, the last X-Forwarded-For value. The last is the
// one the proxy in front of the server wrote (a proxy appends the address it was connected from);
// the first is whatever the client claimed, and trusting it would give a guesser a fresh budget
// per request. An IPv6 address counts by its /64, which one client usually holds whole.
func (s *Server) clientAddress(r *http.Request) string {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if s.opts.TrustForwardedHeaders {
		if values := r.Header.Values("X-Forwarded-For"); len(values) > 0 {
			last := values[len(values)-1]
			if _, err := netip.ParseAddr(lastValue(last)); err == nil {
				host = lastValue(last)
			}
		}
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		prefix, _ := addr.Prefix(64) // cannot fail: 64 bits of an IPv6 address
		return prefix.String()
	}
	return addr.String()
}

// lastValue returns the last of a header's comma-separated values.
func lastValue(header string) string {
	return strings.TrimSpace(header[strings.LastIndex(header, ",")+1:])
}

// buckets are token buckets by key (rate.Limiter), each made full on first use. A nil *buckets
// limits nothing. A bucket that is full again is dropped when room is needed: a new one would be
// the same. At most max keys have a bucket (0: no bound); once that many are in use the others
// share one overflow bucket, so that memory stays bounded and a client of many addresses gains
// nothing from them.
type buckets struct {
	limit rate.Limit
	burst int
	max   int

	mu       sync.Mutex
	entries  map[string]*rate.Limiter
	overflow *rate.Limiter
	// swept is when the entries were last swept for full buckets: at most once a second.
	swept time.Time
}

// newBuckets returns buckets refilled at perSecond, holding burst (at least 1), for at most
// maxKeys keys; nil when perSecond is not positive.
func newBuckets(perSecond float64, burst, maxKeys int) *buckets {
	if perSecond <= 0 {
		return nil
	}
	burst = max(burst, 1)
	return &buckets{limit: rate.Limit(perSecond), burst: burst, max: maxKeys,
		entries: map[string]*rate.Limiter{}, overflow: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// take takes one request from key's bucket at now. From an empty bucket it takes nothing, and
// returns how long until the bucket holds one again.
func (b *buckets) take(key string, now time.Time) (wait time.Duration, ok bool) {
	return b.takeN(key, 1, now)
}

// takeN takes n requests from key's bucket at now, at most a burst: a bulk request's operations.
// From a bucket that holds fewer it takes nothing, and returns how long until it holds them.
func (b *buckets) takeN(key string, n int, now time.Time) (wait time.Duration, ok bool) {
	if b == nil || n <= 0 {
		return 0, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.limiter(key, now).ReserveN(now, min(n, b.burst))
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// limiter returns key's bucket, making it if there is room. b.mu is held.
func (b *buckets) limiter(key string, now time.Time) *rate.Limiter {
	if l, ok := b.entries[key]; ok {
		return l
	}
	if b.max > 0 && len(b.entries) >= b.max {
		b.sweep(now)
		if len(b.entries) >= b.max {
			return b.overflow
		}
	}
	l := rate.NewLimiter(b.limit, b.burst)
	b.entries[key] = l
	return l
}

// sweep drops the buckets that are full again, once a second at most. b.mu is held.
func (b *buckets) sweep(now time.Time) {
	if now.Sub(b.swept) < time.Second {
		return
	}
	b.swept = now
	for key, l := range b.entries {
		if l.TokensAt(now) >= float64(b.burst) {
			delete(b.entries, key)
		}
	}
}

// size returns the number of keys with a bucket of their own.
func (b *buckets) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.entries)
}

// inFlight counts the requests in progress by key, at most max each (0: no bound).
type inFlight struct {
	max int

	mu sync.Mutex
	n  map[string]int
}

// acquire counts one more request of key, unless key already has max.
func (f *inFlight) acquire(key string) bool {
	if f.max <= 0 {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[key] >= f.max {
		return false
	}
	if f.n == nil {
		f.n = map[string]int{}
	}
	f.n[key]++
	return true
}

// release counts one request of key less; a key with none left is forgotten.
func (f *inFlight) release(key string) {
	if f.max <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[key]--; f.n[key] <= 0 {
		delete(f.n, key)
	}
}
