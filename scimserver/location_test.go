package scimserver_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/scim-operator/scim-operator/scimserver"
)

// forged are the headers of a client that tries to make the server name another host.
var forged = []string{"Host", "evil.example", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example:8443"}

// createdAt creates a user through base and returns its id and the Location header of the 201.
func createdAt(base string, headers ...string) (id, location string) {
	GinkgoHelper()
	r := call(base, "generic", "POST", "/Users", userBody(unique("location"), "A", "B"), headers...).expectStatus(http.StatusCreated)
	Expect(r.body["meta"]).To(HaveKeyWithValue("location", "Users/"+r.str("id")), "meta.location stays relative")
	return r.str("id"), r.Header.Get("Location")
}

var _ = Describe("The Location header", func() {
	It("comes from the connection by default, whatever Host and X-Forwarded-* say", func() {
		id, location := createdAt(server.URL, forged...)
		Expect(location).To(Equal(server.URL + "/provisioning/generic/v2/Users/" + id))

		r := call(server.URL, "generic", "POST", "/Groups",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"`+unique("location")+`"}`, forged...).expectStatus(http.StatusCreated)
		Expect(r.Header.Get("Location")).To(Equal(server.URL + "/provisioning/generic/v2/Groups/" + r.str("id")))
	})

	It("starts with --scim-external-url when it is set, path prefix included", func() {
		ts := startInstanceWith(operatorCfg, func(o *scimserver.Options) { o.ExternalURL = "https://scim.example.com/idp/" })
		defer ts.Close()
		id, location := createdAt(ts.URL, forged...)
		Expect(location).To(Equal("https://scim.example.com/idp/provisioning/generic/v2/Users/" + id))
	})

	Describe("with --scim-trust-forwarded-headers", Ordered, func() {
		var ts *httptest.Server
		BeforeAll(func() {
			ts = startInstanceWith(operatorCfg, func(o *scimserver.Options) { o.TrustForwardedHeaders = true })
			DeferCleanup(ts.Close)
		})

		It("takes scheme and host from X-Forwarded-Proto and X-Forwarded-Host, never from Host", func() {
			id, location := createdAt(ts.URL, "Host", "evil.example", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "scim.example.com")
			Expect(location).To(Equal("https://scim.example.com/provisioning/generic/v2/Users/" + id))

			// The first of several values, as the client-facing proxy set it.
			id, location = createdAt(ts.URL, "X-Forwarded-Proto", "https, http", "X-Forwarded-Host", "scim.example.com:8443, internal:80")
			Expect(location).To(Equal("https://scim.example.com:8443/provisioning/generic/v2/Users/" + id))

			// Without the headers, the connection.
			id, location = createdAt(ts.URL, "Host", "evil.example")
			Expect(location).To(Equal(ts.URL + "/provisioning/generic/v2/Users/" + id))
		})

		It("ignores forwarded values that are not a scheme or a host", func() {
			for _, host := range []string{"evil.example/path", "user@evil.example", "evil.example?q", "evil example", ":8080"} {
				id, location := createdAt(ts.URL, "X-Forwarded-Proto", "gopher", "X-Forwarded-Host", host)
				Expect(location).To(Equal(ts.URL+"/provisioning/generic/v2/Users/"+id), "X-Forwarded-Host: %s", host)
			}
		})
	})
})

// TestExternalURLValidation checks that New, and so the manager at startup, refuses an external
// URL that cannot start a Location header.
func TestExternalURLValidation(t *testing.T) {
	for _, bad := range []string{
		"scim.example.com", "/scim", "ftp://scim.example.com", "https://", "https://:443",
		"https://scim.example.com/?x=1", "https://scim.example.com/#top", "https://scim.example.com/?",
		"https://user:secret@scim.example.com", "https://scim.example.com/%zz",
	} {
		if _, err := scimserver.New(scimserver.Options{ExternalURL: bad}, nil, nil, logr.Discard()); err == nil {
			t.Errorf("New accepted the external URL %q", bad)
		}
	}
	for _, good := range []string{"https://scim.example.com", "http://10.0.0.1:8080/", "https://example.com/scim/", "https://[::1]:8443"} {
		if _, err := scimserver.New(scimserver.Options{ExternalURL: good}, nil, nil, logr.Discard()); err != nil {
			t.Errorf("New refused the external URL %q: %v", good, err)
		}
	}
}

// A bulk timeout that, with the write timeout, reaches the HTTP server's deadline for a response
// would let a bulk response be cut off after its operations were applied: New refuses it.
var _ = Describe("The bulk timeout", func() {
	It("must leave the last operation and the response inside the HTTP server's deadline", func() {
		_, err := scimserver.New(scimserver.Options{BulkTimeout: 50 * time.Second, WriteTimeout: 10 * time.Second}, nil, nil, logr.Discard())
		Expect(err).To(MatchError(ContainSubstring("bulk timeout")))
		_, err = scimserver.New(scimserver.Options{BulkTimeout: 45 * time.Second, WriteTimeout: 10 * time.Second}, nil, nil, logr.Discard())
		Expect(err).NotTo(HaveOccurred())
	})
})
