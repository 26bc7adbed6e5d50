package scimserver_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/scim-operator/scim-operator/scimserver"
)

// logLines is a logr sink that keeps every line as JSON, as the manager's production logger writes
// them.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logger() logr.Logger {
	return funcr.NewJSON(func(obj string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.lines = append(l.lines, obj)
	}, funcr.Options{Verbosity: 10})
}

// matching returns the lines that contain every one of parts.
func (l *logLines) matching(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range l.lines {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// metricValue returns the value of the counter (or the sample count of the histogram) name with
// exactly labels, or 0 when there is none yet.
func metricValue(name string, labels map[string]string) float64 {
	GinkgoHelper()
	v, err := gatheredValue(name, labels)
	Expect(err).NotTo(HaveOccurred())
	return v
}

// gatheredValue is metricValue for tests without Gomega.
func gatheredValue(name string, labels map[string]string) (float64, error) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return 0, err
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metric
				}
			}
			return valueOf(m), nil
		}
	}
	return 0, nil
}

func valueOf(m *dto.Metric) float64 {
	if m.GetHistogram() != nil {
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetCounter().GetValue()
}

var _ = Describe("Observability", Ordered, func() {
	var (
		logs logLines
		base string
	)
	BeforeAll(func() {
		srv := startInstanceLogged(operatorCfg, logs.logger())
		DeferCleanup(srv.Close)
		base = srv.URL
	})

	It("answers every request with a request id, the client's when it is well-formed", func() {
		r := call(base, "generic", "GET", "/Users", "", scimserver.RequestIDHeader, "idp-req-42")
		Expect(r.Header.Get(scimserver.RequestIDHeader)).To(Equal("idp-req-42"))
		r = call(base, "generic", "GET", "/Users", "", scimserver.RequestIDHeader, "bad id\twith spaces")
		Expect(r.Header.Get(scimserver.RequestIDHeader)).To(MatchRegexp(`^[0-9a-f]{24}$`))
		r = call(base, "generic", "GET", "/Nope", "")
		Expect(r.Header.Get(scimserver.RequestIDHeader)).NotTo(BeEmpty(), "errors carry one too")
	})

	It("counts requests, writes and authentication failures, and times requests", func() {
		created := map[string]string{"provider": "generic", "resource": "Users", "method": "POST", "code": "201"}
		applied := map[string]string{"provider": "generic", "resource": "Users", "outcome": "applied"}
		rejected := map[string]string{"provider": "generic", "resource": "Users", "outcome": "rejected"}
		timed := map[string]string{"provider": "generic", "resource": "Users", "method": "POST"}
		failures := map[string]string{"provider": "okta"}
		before := []float64{metricValue("scim_requests_total", created), metricValue("scim_writes_total", applied),
			metricValue("scim_writes_total", rejected), metricValue("scim_request_duration_seconds", timed),
			metricValue("scim_auth_failures_total", failures)}

		createUser(unique("metrics"))
		scim("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`).expectError(http.StatusBadRequest, "")
		r, err := http.NewRequest("GET", base+"/provisioning/okta/v2/Users", nil)
		Expect(err).NotTo(HaveOccurred())
		r.Header.Set("Authorization", "Bearer not-a-token")
		resp, err := http.DefaultClient.Do(r)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))

		Expect(metricValue("scim_requests_total", created)).To(BeNumerically(">=", before[0]+1))
		Expect(metricValue("scim_writes_total", applied)).To(BeNumerically(">=", before[1]+1))
		Expect(metricValue("scim_writes_total", rejected)).To(BeNumerically(">=", before[2]+1))
		Expect(metricValue("scim_request_duration_seconds", timed)).To(BeNumerically(">=", before[3]+2))
		Expect(metricValue("scim_auth_failures_total", failures)).To(Equal(before[4] + 1))
	})

	It("writes one audit line per write — provider, operation, resource, id, status, latency, request id — never a token or a body", func() {
		const secretValue = "Extremely-Private-Title-7731"
		userName := unique("audited") + "@example.test"
		r := call(base, "generic", "POST", "/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"title":%q}`, userName, secretValue),
			scimserver.RequestIDHeader, "audit-create-1").expectStatus(http.StatusCreated)
		id := r.str("id")
		call(base, "generic", "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"title":"`+secretValue+`-2"}}]}`,
			scimserver.RequestIDHeader, "audit-patch-1").expectStatus(http.StatusOK)
		call(base, "generic", "DELETE", "/Users/"+id, "", scimserver.RequestIDHeader, "audit-delete-1").expectStatus(http.StatusNoContent)
		call(base, "generic", "GET", "/Users/"+id, "", scimserver.RequestIDHeader, "audit-read-1")

		for op, reqID := range map[string]string{"POST": "audit-create-1", "PATCH": "audit-patch-1", "DELETE": "audit-delete-1"} {
			lines := logs.matching(`"SCIM write"`, `"requestId":"`+reqID+`"`)
			Expect(lines).To(HaveLen(1), "one audit line for %s", op)
			Expect(lines[0]).To(And(ContainSubstring(`"provider":"generic"`), ContainSubstring(`"operation":"`+op+`"`),
				ContainSubstring(`"resource":"Users"`), ContainSubstring(`"id":"`+id+`"`), ContainSubstring(`"latencyMs":`),
				ContainSubstring(`"status":`)))
		}
		Expect(logs.matching(`"requestId":"audit-read-1"`, `"SCIM write"`)).To(BeEmpty(), "a read is no write")
		Expect(logs.matching(secretValue)).To(BeEmpty(), "no body in any log line")
		Expect(logs.matching(tokens["generic"])).To(BeEmpty(), "no token in any log line")
	})

	It("counts and audits each /Bulk operation as the write it is, under the bulk request's id", func() {
		applied := map[string]string{"provider": "generic", "resource": "Groups", "outcome": "applied"}
		rejected := map[string]string{"provider": "generic", "resource": "Users", "outcome": "rejected"}
		before := []float64{metricValue("scim_writes_total", applied), metricValue("scim_writes_total", rejected)}
		group := unique("audited-bulk")
		r := call(base, "generic", "POST", "/Bulk", bulkBody(0,
			fmt.Sprintf(`{"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":[%q],"displayName":%q}}`, groupURN, group),
			`{"method":"DELETE","path":"/Users/a-ffffffffffffffff"}`,
		), scimserver.RequestIDHeader, "audit-bulk-1").expectStatus(http.StatusOK)
		groupID := idOf(r.ops()[0])
		Expect(metricValue("scim_writes_total", applied)).To(BeNumerically(">=", before[0]+1))
		Expect(metricValue("scim_writes_total", rejected)).To(BeNumerically(">=", before[1]+1))
		lines := logs.matching(`"SCIM write"`, `"requestId":"audit-bulk-1"`)
		Expect(lines).To(HaveLen(2), "one audit line per operation, none for the bulk request")
		Expect(logs.matching(`"requestId":"audit-bulk-1"`, `"operation":"POST"`, `"resource":"Groups"`, `"id":"`+groupID+`"`,
			`"status":201`, `"bulkId":"g"`, `"bulkOperation":0`)).To(HaveLen(1))
		Expect(logs.matching(`"requestId":"audit-bulk-1"`, `"operation":"DELETE"`, `"resource":"Users"`, `"status":404`,
			`"bulkOperation":1`)).To(HaveLen(1))
		Expect(logs.matching(group)).To(BeEmpty(), "no body in any log line")
	})
})
