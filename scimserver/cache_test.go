package scimserver_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
)

// requestLog records the requests a manager sends to the API server.
type requestLog struct {
	mu       sync.Mutex
	requests []string
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.requests = append(l.requests, req.Method+" "+req.URL.Path+"?"+req.URL.RawQuery)
		l.mu.Unlock()
		return rt.RoundTrip(req)
	})
}

// scimObjectRequests returns the recorded requests for ScimUsers and ScimRoles.
func (l *requestLog) scimObjectRequests() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.requests {
		if strings.Contains(r, "/scimusers") || strings.Contains(r, "/scimroles") {
			out = append(out, r)
		}
	}
	return out
}

// startCountedInstance starts a replica (startInstance) whose requests to the API server are
// recorded in the log returned.
func startCountedInstance() (*httptest.Server, *requestLog) {
	GinkgoHelper()
	log := &requestLog{}
	counted := rest.CopyConfig(operatorCfg)
	counted.WrapTransport = log.wrap
	return startInstanceWith(counted), log
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

var _ = Describe("Reads from the informer cache", func() {
	It("serve GET by id and eq filters on userName, externalId and displayName without an API call", func() {
		instance, log := startCountedInstance()
		defer instance.Close()

		name := unique("cached") + "@example.test"
		body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name + `","externalId":"ext-` + name + `"}`
		id := call(instance.URL, "generic", "POST", "/Users", body).expectStatus(http.StatusCreated).str("id")
		group := unique("CachedGroup")
		gid := call(instance.URL, "generic", "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"`+group+`"}`).
			expectStatus(http.StatusCreated).str("id")

		before := len(log.scimObjectRequests())
		call(instance.URL, "generic", "GET", "/Users/"+id, "").expectStatus(http.StatusOK)
		for _, f := range []string{`userName eq "` + name + `"`, `externalId eq "ext-` + name + `"`} {
			r := call(instance.URL, "generic", "GET", "/Users?filter="+url.QueryEscape(f), "").expectStatus(http.StatusOK)
			Expect(r.body["totalResults"]).To(BeNumerically("==", 1), f)
		}
		call(instance.URL, "generic", "GET", "/Groups/"+gid, "").expectStatus(http.StatusOK)
		r := call(instance.URL, "generic", "GET", "/Groups?filter="+url.QueryEscape(`displayName eq "`+group+`"`), "").expectStatus(http.StatusOK)
		Expect(r.body["totalResults"]).To(BeNumerically("==", 1))
		Expect(log.scimObjectRequests()[before:]).To(BeEmpty(), "reads went to the API server")
	})
})
