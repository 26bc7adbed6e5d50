package authorizer

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	authorizationv1 "k8s.io/api/authorization/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// maxReviewBytes bounds a review's body. The API server sends the user's name, groups and extra
// (e.g. claims of its OIDC token) and the request's attributes: kilobytes.
const maxReviewBytes = 1 << 20

// reviewsTotal counts the answers, by decision: denied, no_opinion, or error (the API server then
// applies its failurePolicy).
var reviewsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "scim_authorization_reviews_total",
	Help: "SubjectAccessReviews answered by the authorization webhook, by decision (denied, no_opinion, error).",
}, []string{"decision"})

// The counters of each decision, resolved once: they are on every review's path.
var (
	deniedTotal    = reviewsTotal.WithLabelValues("denied")
	noOpinionTotal = reviewsTotal.WithLabelValues("no_opinion")
	errorTotal     = reviewsTotal.WithLabelValues("error")
)

func init() { metrics.Registry.MustRegister(reviewsTotal) }

// ServeHTTP answers a POSTed authorization.k8s.io/v1 SubjectAccessReview with its status, as the
// API server's webhook authorizer expects. A request that is not such a review is a 4xx; a failed
// lookup is a 503, which the API server does not retry but answers by its failurePolicy.
func (a *Authorizer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST a SubjectAccessReview", http.StatusMethodNotAllowed)
		return
	}
	var review authorizationv1.SubjectAccessReview
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReviewBytes)).Decode(&review); err != nil {
		http.Error(w, "the body is not a SubjectAccessReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	if gv := authorizationv1.SchemeGroupVersion.String(); review.APIVersion != gv || review.Kind != "SubjectAccessReview" {
		http.Error(w, "only SubjectAccessReview of "+gv+" is served (subjectAccessReviewVersion: v1)", http.StatusBadRequest)
		return
	}
	status, err := a.Review(r.Context(), &review.Spec)
	if err != nil {
		errorTotal.Inc()
		ctrl.LoggerFrom(r.Context()).Error(err, "Cannot decide a SubjectAccessReview")
		http.Error(w, "the operator's cache cannot answer", http.StatusServiceUnavailable)
		return
	}
	if status.Denied {
		deniedTotal.Inc()
	} else {
		noOpinionTotal.Inc()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(authorizationv1.SubjectAccessReview{TypeMeta: review.TypeMeta, Status: status})
}
