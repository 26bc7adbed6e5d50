package scimserver_test

import (
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Bad input", func() {
	var users, roles int
	BeforeEach(func() { users, roles = countObjects() })
	AfterEach(func() {
		u, r := countObjects()
		Expect(u).To(Equal(users), "a rejected request created or deleted a user")
		Expect(r).To(Equal(roles), "a rejected request created or deleted a role")
	})

	DescribeTable("POST /Users is a 4xx SCIM error and changes nothing",
		func(body string, status int, scimType string) {
			scim("POST", "/Users", body).expectError(status, scimType)
		},
		Entry("invalid JSON", `{"schemas":`, 400, "invalidSyntax"),
		Entry("not an object", `[1,2]`, 400, "invalidSyntax"),
		Entry("empty body", ``, 400, "invalidSyntax"),
		Entry("active of the wrong type", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x-type","active":"yes"}`, 400, "invalidValue"),
		Entry("boolean string on the strict provider", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x-bool","active":"False"}`, 400, "invalidValue"),
		Entry("missing userName", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"name":{"givenName":"x"}}`, 400, "invalidValue"),
		Entry("blank userName", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"  "}`, 400, "invalidValue"),
		Entry("unknown schema", `{"schemas":["urn:example:custom"],"userName":"x-schema"}`, 400, "invalidValue"),
		Entry("missing schemas", `{"userName":"x-noschema"}`, 400, "invalidSyntax"),
		Entry("unknown attribute", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x-attr","shoeSize":42}`, 400, "invalidValue"),
		Entry("emails not an array", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x-em","emails":"a@b"}`, 400, "invalidValue"),
		Entry("same attribute twice in different case", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x-dup","UserName":"y-dup"}`, 400, "invalidSyntax"),
	)

	It("accepts attribute names in any case, schemas included", func() {
		r := scim("POST", "/Users", `{"Schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"UserName":"`+unique("anycase")+`","NAME":{"GivenName":"A"}}`).expectStatus(http.StatusCreated)
		Expect(r.body["name"]).To(HaveKeyWithValue("givenName", "A"))
		users++
	})

	It("checks query parameters before writing anything", func() {
		scim("POST", "/Users?attributes=shoeSize", userBody(unique("query-first"), "A", "B")).expectError(http.StatusBadRequest, "invalidPath")
	})

	It("rejects malformed SearchRequests", func() {
		for _, body := range []string{
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":5}`,
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"attributes":{"a":1}}`,
			`{"filter":"userName pr"}`,
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"shoeSize":1}`,
		} {
			r := scim("POST", "/Users/.search", body)
			Expect(r.StatusCode).To(Equal(http.StatusBadRequest), "%s → %s", body, r.raw)
		}
	})

	It("answers an oversized body with 413", func() {
		big := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"big","title":"` + strings.Repeat("x", 70<<10) + `"}`
		scim("POST", "/Users", big).expectError(http.StatusRequestEntityTooLarge, "")
	})

	DescribeTable("rejects bad filters with 400 invalidFilter",
		func(filter string) {
			scim("GET", "/Users?filter="+url.QueryEscape(filter), "").expectError(http.StatusBadRequest, "invalidFilter")
		},
		Entry("syntax", `userName eq`),
		Entry("unknown attribute", `shoeSize eq "x"`),
		Entry("unknown operator", `userName xx "x"`),
		Entry("deeply nested", strings.Repeat("(", 500)+`userName eq "x"`+strings.Repeat(")", 500)),
		Entry("huge", strings.Repeat(`userName eq "x" or `, 400)+`userName eq "x"`),
	)

	It("rejects bad paging and sorting parameters", func() {
		scim("GET", "/Users?count=abc", "").expectError(http.StatusBadRequest, "invalidValue")
		scim("GET", "/Users?startIndex=x", "").expectError(http.StatusBadRequest, "invalidValue")
		scim("GET", "/Users?sortBy=shoeSize", "").expectError(http.StatusBadRequest, "invalidValue")
		scim("GET", "/Users?sortOrder=sideways", "").expectError(http.StatusBadRequest, "invalidValue")
		scim("GET", "/Users?attributes=shoeSize", "").expectError(http.StatusBadRequest, "invalidPath")
		r := scim("GET", "/Users?count=-5", "").expectStatus(http.StatusOK)
		Expect(r.body["Resources"]).To(BeEmpty())
	})

	It("answers ids that cannot name an object with 404", func() {
		scim("GET", "/Users/Not_Valid!", "").expectError(http.StatusNotFound, "")
		scim("GET", "/Users/"+strings.Repeat("a", 300), "").expectError(http.StatusNotFound, "")
		scim("DELETE", "/Groups/UPPER", "").expectError(http.StatusNotFound, "")
	})

	It("rejects bad PATCH requests and changes nothing", func() {
		id := createUser(unique("badpatch"))
		users++
		before := getUser(id)
		for _, body := range []string{
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":"yes"}]}`,
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"ok"},{"op":"replace","path":"bogus","value":"x"}]}`,
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"title","value":"x"}]}`,
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`,
			`{"Operations":[{"op":"replace","path":"title","value":"x"}]}`,
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"x"}]}`,
			`not json`,
		} {
			r := scim("PATCH", "/Users/"+id, body)
			Expect(r.StatusCode).To(Equal(http.StatusBadRequest), "body %s → %s", body, r.raw)
		}
		after := getUser(id)
		Expect(after.ResourceVersion).To(Equal(before.ResourceVersion), "a rejected PATCH wrote the object")
	})
})
