package scimserver_test

import (
	"fmt"
	"net/http"
	"net/url"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// attributes and excludedAttributes (RFC 7644 §3.4.2.5, §3.4.3) shape one response only.
var _ = Describe("Attribute projection", func() {
	const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	var id string
	BeforeEach(func() {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",%q],"userName":%q,
			"emails":[{"value":"w@example.test","type":"work","primary":true},{"value":"h@example.test","type":"home"}],
			%q:{"department":"Ops","manager":{"value":"a-2"}}}`, enterprise, unique("projected"), enterprise)
		id = scim("POST", "/Users", body).expectStatus(http.StatusCreated).str("id")
	})

	It("leaves out an enterprise attribute for that response only: the next GET still has it", func() {
		r := scim("GET", "/Users/"+id+"?excludedAttributes="+url.QueryEscape(enterprise+":department"), "").expectStatus(http.StatusOK)
		Expect(r.body[enterprise]).To(Equal(map[string]any{"manager": map[string]any{"value": "a-2"}}))
		r = scim("GET", "/Users/"+id+"?excludedAttributes="+url.QueryEscape(enterprise+":manager.value"), "").expectStatus(http.StatusOK)
		Expect(r.body[enterprise]).To(HaveKeyWithValue("department", "Ops"))
		r = scim("GET", "/Users/"+id, "").expectStatus(http.StatusOK)
		Expect(r.body[enterprise]).To(Equal(map[string]any{"department": "Ops", "manager": map[string]any{"value": "a-2"}}))
	})

	It("excludes a sub-attribute of the values a value filter selects, and of those only", func() {
		r := scim("GET", "/Users/"+id+"?excludedAttributes="+url.QueryEscape(`emails[type eq "work"].value`), "").expectStatus(http.StatusOK)
		Expect(r.body["emails"]).To(Equal([]any{
			map[string]any{"type": "work", "primary": true},
			map[string]any{"value": "h@example.test", "type": "home"}}))
	})

	It("returns no value a projection leaves empty, and groups and members as [] when they are", func() {
		r := scim("GET", "/Users/"+id+"?attributes="+url.QueryEscape("emails.display,name.givenName,"+enterprise+":division"), "").expectStatus(http.StatusOK)
		Expect(r.body).NotTo(HaveKey("emails"), "no email has a display")
		Expect(r.body).NotTo(HaveKey("name"))
		Expect(r.body).NotTo(HaveKey(enterprise))
		r = scim("GET", "/Users/"+id+"?attributes=groups.display", "").expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("groups", BeEmpty()))
		Expect(r.body["groups"]).NotTo(BeNil())
		r = scim("GET", "/Users/"+id+"?excludedAttributes="+url.QueryEscape("emails.value,emails.type,emails.primary,"+enterprise+":department,"+enterprise+":manager.value"), "").
			expectStatus(http.StatusOK)
		Expect(r.body).NotTo(HaveKey("emails"))
		Expect(r.body).NotTo(HaveKey(enterprise))
		group := createGroup(unique("projected"))
		r = scim("GET", "/Groups/"+group+"?attributes=members.value", "").expectStatus(http.StatusOK)
		Expect(r.body["members"]).To(Equal([]any{}))
	})

	It("reads an empty attributes or excludedAttributes list of a SearchRequest as no restriction", func() {
		for _, member := range []string{`"attributes":[]`, `"excludedAttributes":[]`, `"attributes":[],"excludedAttributes":[]`} {
			r := scim("POST", "/Users/.search", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"id eq \"%s\"",%s}`, id, member)).
				expectStatus(http.StatusOK)
			Expect(r.body["Resources"]).To(ConsistOf(And(HaveKey("emails"), HaveKey(enterprise), HaveKey("meta"))), member)
		}
	})
})
