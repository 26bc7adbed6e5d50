package scimserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The SCIM metrics, registered with controller-runtime's registry: the manager's authenticated
// metrics endpoint serves them beside controller-runtime's own (reconcile totals, errors and
// durations per controller). Every label has a bounded set of values: providers are the configured
// ones, resources the endpoints, methods the HTTP methods SCIM uses, anything else "other".
var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scim_requests_total",
		Help: "SCIM requests answered, by provider, resource, method and HTTP status code.",
	}, []string{"provider", "resource", "method", "code"})
	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "scim_request_duration_seconds",
		Help:    "Time to answer a SCIM request, by provider, resource and method.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15), // 1 ms to 16 s
	}, []string{"provider", "resource", "method"})
	authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scim_auth_failures_total",
		Help: "SCIM requests refused for a missing or wrong bearer token, by provider.",
	}, []string{"provider"})
	throttledTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scim_throttled_total",
		Help: "SCIM requests refused with 429 by an abuse limit, by provider and reason: auth_failures (too many " +
			"requests without a valid token from one address), token_rate or token_concurrency (one token's requests " +
			"per second, or in progress).",
	}, []string{"provider", "reason"})
	writesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scim_writes_total",
		Help: "SCIM writes (POST, PUT, PATCH, DELETE of Users and Groups) by provider, resource and outcome: " +
			"applied (2xx), rejected (4xx) or failed (5xx).",
	}, []string{"provider", "resource", "outcome"})
)

func init() {
	metrics.Registry.MustRegister(requestsTotal, requestDuration, authFailures, throttledTotal, writesTotal)
}

// resources are the values of the resource label; a path naming none of them is "other".
var resources = map[string]bool{
	"Users": true, "Groups": true, "Schemas": true, "ResourceTypes": true, "ServiceProviderConfig": true,
	".search": true, "Bulk": true,
}

// requestIDPattern is what a client's X-Request-Id must look like to be kept.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// RequestIDHeader carries the id of a request: the client's when it sent a well-formed one, else a
// new one; the response always has it, and so does the audit line.
const RequestIDHeader = "X-Request-Id"

// instrument wraps next with a request id, the SCIM metrics, and an audit line for each write —
// provider, operation, resource and id, status, latency and request id, never a token or a body.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !requestIDPattern.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
		next.ServeHTTP(rec, r)
		elapsed := time.Since(start)

		provider, resource, resourceID := s.describe(r)
		method := methodLabel(r.Method)
		requestsTotal.WithLabelValues(provider, resource, method, strconv.Itoa(rec.status)).Inc()
		requestDuration.WithLabelValues(provider, resource, method).Observe(elapsed.Seconds())
		if !isWrite(r.Method, resource) {
			return
		}
		if resourceID == "" {
			// A create names its resource in the Location header only.
			loc := rec.Header().Get("Location")
			resourceID = loc[strings.LastIndex(loc, "/")+1:]
		}
		s.recordWrite(r, provider, r.Method, resource, resourceID, rec.status, elapsed)
	})
}

// requestIDKey is the context key of the request id instrument gives a request.
type requestIDKey struct{}

// recordWrite counts a write of resource (Users or Groups) answered with status, and writes its
// audit line: a request's, or one operation's of a bulk request (with keysAndValues naming it).
func (s *Server) recordWrite(r *http.Request, provider, method, resource, id string, status int, elapsed time.Duration, keysAndValues ...any) {
	writesTotal.WithLabelValues(provider, resource, outcomeOf(status)).Inc()
	requestID, _ := r.Context().Value(requestIDKey{}).(string)
	s.audit.Info("SCIM write", append([]any{"requestId", requestID, "provider", provider, "operation", method,
		"resource", resource, "id", id, "status", status, "latencyMs", elapsed.Milliseconds(),
		"remote", r.RemoteAddr}, keysAndValues...)...)
}

// describe returns the provider, resource and resource id labels of r; unknown values are "other".
func (s *Server) describe(r *http.Request) (provider, resource, id string) {
	p, segments, ok := splitPath(r.URL.Path)
	if !ok {
		return "other", "other", ""
	}
	provider = "other"
	if _, known := s.providers[p]; known {
		provider = p
	}
	switch {
	case len(segments) == 0:
		resource = "root"
	case resources[segments[0]]:
		resource = segments[0]
	default:
		resource = "other"
	}
	if len(segments) > 1 && (resource == "Users" || resource == "Groups") {
		id = segments[1]
	}
	return provider, resource, id
}

// methodLabel bounds the method label to the methods SCIM uses.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return method
	}
	return "other"
}

// isWrite reports whether a request writes Users or Groups (a POST to /.search only reads). A
// bulk request is not one: each of its operations is counted and audited as the write it is.
func isWrite(method, resource string) bool {
	if resource != "Users" && resource != "Groups" {
		return false
	}
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// outcomeOf is the outcome label of a write answered with status.
func outcomeOf(status int) string {
	switch {
	case status < 400:
		return "applied"
	case status < 500:
		return "rejected"
	}
	return "failed"
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(status int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	return r.ResponseWriter.Write(b)
}
