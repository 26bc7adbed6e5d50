package scimserver_test

import (
	"fmt"
	"net/http"
	"net/url"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Queries at the server root span Users and Groups (RFC 7644 §3.4.2.1 GET /?filter=…, §3.4.3
// POST /.search), with attributes, sorting and paging as on the resource endpoints.
var _ = Describe("Server-root queries", func() {
	var tag, user, group string
	BeforeEach(func() {
		tag = unique("root")
		user = createUser(tag + "-user@example.test")
		group = createGroup(tag+"-group", user)
	})

	idsOf := func(r *response) []string {
		GinkgoHelper()
		var ids []string
		for _, res := range r.body["Resources"].([]any) {
			ids = append(ids, res.(map[string]any)["id"].(string))
		}
		return ids
	}

	It("answers GET /?filter= with Users and Groups, an attribute missing from a type matching none of it", func() {
		r := scim("GET", "/?filter="+url.QueryEscape(fmt.Sprintf(`userName sw %q or displayName sw %q`, tag, tag)), "").expectStatus(http.StatusOK)
		Expect(idsOf(r)).To(ConsistOf(user, group), "the group matches by displayName, the user by userName")
		Expect(r.body["totalResults"]).To(BeEquivalentTo(2))

		r = scim("GET", "/?filter="+url.QueryEscape(fmt.Sprintf(`userName sw %q`, tag)), "").expectStatus(http.StatusOK)
		Expect(idsOf(r)).To(ConsistOf(user), "Groups have no userName: they contribute nothing")
	})

	It("answers POST /.search with sorting, paging and attributes", func() {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
			"filter":"userName sw \"%s\" or displayName sw \"%s\"","sortBy":"meta.resourceType","sortOrder":"descending","startIndex":1,"count":1,
			"attributes":["displayName"]}`, tag, tag)
		r := scim("POST", "/.search", body).expectStatus(http.StatusOK)
		Expect(r.body["totalResults"]).To(BeEquivalentTo(2))
		Expect(r.body["itemsPerPage"]).To(BeEquivalentTo(1))
		Expect(r.body["Resources"]).To(ConsistOf(And(HaveKeyWithValue("id", user), HaveKeyWithValue("displayName", "Given Family"),
			Not(HaveKey("emails")))), "descending by resource type: User before Group; attributes projected")
		r = scim("POST", "/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName sw \"`+tag+`\" or displayName sw \"`+tag+`\"","sortBy":"meta.resourceType","startIndex":2,"count":1}`).
			expectStatus(http.StatusOK)
		Expect(idsOf(r)).To(ConsistOf(user), "ascending, second page: the User after the Group")
	})

	It("is a 400 when no resource type can answer the filter, and a 405 for other methods", func() {
		scim("GET", "/?filter="+url.QueryEscape(`nosuchAttribute eq "x"`), "").expectError(http.StatusBadRequest, "")
		scim("POST", "/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"((("}`).expectError(http.StatusBadRequest, "invalidFilter")
		scim("DELETE", "/", "").expectError(http.StatusMethodNotAllowed, "")
		scim("GET", "/.search", "").expectError(http.StatusMethodNotAllowed, "")
	})
})
