package scimserver_test

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scim-operator/scim-operator/scimserver"
)

var _ = Describe("Discovery", func() {
	It("serves a truthful ServiceProviderConfig", func() {
		r := scim("GET", "/ServiceProviderConfig", "").expectStatus(http.StatusOK)
		Expect(r.Header.Get("Content-Type")).To(HavePrefix("application/scim+json"))
		Expect(r.body["patch"]).To(HaveKeyWithValue("supported", true))
		Expect(r.body["bulk"]).To(And(HaveKeyWithValue("supported", true),
			HaveKeyWithValue("maxOperations", BeNumerically("==", scimserver.DefaultBulkMaxOperations)),
			HaveKeyWithValue("maxPayloadSize", BeNumerically("==", scimserver.DefaultBulkMaxPayloadBytes))))
		Expect(r.body["changePassword"]).To(HaveKeyWithValue("supported", false))
		Expect(r.body["filter"]).To(And(HaveKeyWithValue("supported", true), HaveKeyWithValue("maxResults", BeNumerically("==", 100))))
		Expect(r.body["authenticationSchemes"]).To(ContainElement(HaveKeyWithValue("type", "oauthbearertoken")))
	})

	It("lists the resource types and each by name", func() {
		r := scim("GET", "/ResourceTypes", "").expectStatus(http.StatusOK)
		Expect(r.body["totalResults"]).To(BeNumerically("==", 2))
		Expect(r.body["Resources"]).To(ContainElements(
			And(HaveKeyWithValue("name", "User"), HaveKeyWithValue("endpoint", "/Users")),
			And(HaveKeyWithValue("name", "Group"), HaveKeyWithValue("endpoint", "/Groups"))))
		scim("GET", "/ResourceTypes/User", "").expectStatus(http.StatusOK)
		scim("GET", "/ResourceTypes/Nope", "").expectError(http.StatusNotFound, "")
	})

	It("lists the schemas, exactly what is stored, and each by id", func() {
		r := scim("GET", "/Schemas", "").expectStatus(http.StatusOK)
		Expect(r.body["totalResults"]).To(BeNumerically("==", 3))
		r = scim("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", "").expectStatus(http.StatusOK)
		names := []any{}
		for _, a := range r.body["attributes"].([]any) {
			names = append(names, a.(map[string]any)["name"])
		}
		Expect(names).To(ContainElements("userName", "name", "emails", "groups", "active", "x509Certificates"))
		Expect(names).NotTo(ContainElement("password"), "passwords are never stored, so never advertised")
		scim("GET", "/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "").expectStatus(http.StatusOK)
		scim("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", "").expectStatus(http.StatusOK)
		scim("GET", "/Schemas/urn:nope", "").expectError(http.StatusNotFound, "")
	})

	DescribeTable("rejects writes to discovery endpoints with 405",
		func(method, path string) {
			r := scim(method, path, `{}`).expectError(http.StatusMethodNotAllowed, "")
			Expect(r.Header.Get("Allow")).To(Equal("GET"))
		},
		Entry("POST /ServiceProviderConfig", "POST", "/ServiceProviderConfig"),
		Entry("PUT /ResourceTypes", "PUT", "/ResourceTypes"),
		Entry("PATCH /Schemas", "PATCH", "/Schemas"),
		Entry("DELETE /Schemas/{id}", "DELETE", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"),
	)

	DescribeTable("answers unknown paths with a SCIM 404",
		func(path string) {
			req, _ := http.NewRequest("GET", server.URL+path, nil)
			req.Header.Set("Authorization", "Bearer generic-token")
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusNotFound))
			Expect(resp.Header.Get("Content-Type")).To(HavePrefix("application/scim+json"))
		},
		Entry("root", "/"),
		Entry("unknown resource", "/provisioning/generic/v2/Widgets"),
		Entry("unknown provider", "/provisioning/nope/v2/Users"),
		Entry("wrong version", "/provisioning/generic/v1/Users"),
		Entry("too deep", "/provisioning/generic/v2/Users/a-1/x"),
	)
})

var _ = Describe("Authentication", func() {
	It("requires a bearer token: 401 with WWW-Authenticate", func() {
		r := call(server.URL, "nobody", "GET", "/Users", "")
		Expect(r.StatusCode).To(Equal(http.StatusNotFound), "unknown provider") // providers are checked first
		r = call(server.URL, "generic", "GET", "/Users", "", "Authorization", "")
		r.expectError(http.StatusUnauthorized, "")
		Expect(r.Header.Get("WWW-Authenticate")).To(HavePrefix("Bearer"))
		call(server.URL, "generic", "GET", "/Users", "", "Authorization", "Bearer wrong").expectError(http.StatusUnauthorized, "")
		call(server.URL, "generic", "GET", "/Users", "", "Authorization", "Basic Z2VuZXJpYy10b2tlbg==").expectError(http.StatusUnauthorized, "")
	})

	It("does not let one provider's token open another provider", func() {
		call(server.URL, "azure", "GET", "/Users", "", "Authorization", "Bearer okta-token").expectError(http.StatusUnauthorized, "")
		call(server.URL, "okta", "GET", "/Users", "").expectStatus(http.StatusOK)
	})

	It("picks up rotated tokens without a restart, several per provider", func() {
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: tokenNamespace, Name: tokenName}, secret)).To(Succeed())
		secret.Data["okta.next"] = []byte("okta-next-token\n") // as kubectl create secret --from-file stores it
		Expect(k8sClient.Update(ctx, secret)).To(Succeed())
		Eventually(func() int {
			return call(server.URL, "okta", "GET", "/Users", "", "Authorization", "Bearer okta-next-token").StatusCode
		}).Should(Equal(http.StatusOK))
		call(server.URL, "okta", "GET", "/Users", "").expectStatus(http.StatusOK) // the old one still works

		delete(secret.Data, "okta.next")
		Expect(k8sClient.Update(ctx, secret)).To(Succeed())
		Eventually(func() int {
			return call(server.URL, "okta", "GET", "/Users", "", "Authorization", "Bearer okta-next-token").StatusCode
		}).Should(Equal(http.StatusUnauthorized))
	})
})
