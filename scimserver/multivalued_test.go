package scimserver_test

import (
	"fmt"
	"net/http"
	"net/url"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// RFC 7643 §2.4 for the multi-valued attributes of a User: "primary" round-trips as sent, false
// included; at most one value is primary; a value appears once.
var _ = Describe("Multi-valued attributes", func() {
	// attributes are the User's multi-valued attributes with a primary sub-attribute, each with a
	// value of its shape.
	attributes := map[string]string{
		"emails":           `"value":"a@example.test","type":"work"`,
		"phoneNumbers":     `"value":"+1-555-0100","type":"work"`,
		"ims":              `"value":"alice","type":"xmpp"`,
		"photos":           `"value":"https://photos.example.test/a.jpg","type":"photo"`,
		"addresses":        `"locality":"Oxford","type":"work"`,
		"entitlements":     `"value":"vpn"`,
		"roles":            `"value":"engineer"`,
		"x509Certificates": `"value":"MIIB"`,
	}
	userNamed := func(userName, attr, values string) string {
		return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,%q:[%s]}`, userName, attr, values)
	}
	user := func(attr, values string) string { return userNamed(unique("mv")+"@example.test", attr, values) }

	It("returns primary: false as it was sent, on every attribute that has primary", func() {
		for attr, value := range attributes {
			r := scim("POST", "/Users", user(attr, `{`+value+`,"primary":false}`)).expectStatus(http.StatusCreated)
			got := scim("GET", "/Users/"+r.str("id"), "").expectStatus(http.StatusOK)
			Expect(got.body[attr]).To(ConsistOf(HaveKeyWithValue("primary", false)), attr)
		}
	})

	It("refuses two primary values of one attribute with invalidValue, storing nothing", func() {
		for attr, value := range attributes {
			userName := unique("two-primaries") + "@example.test"
			other := `"display":"other"` // makes the second value differ from the first
			if attr == "addresses" {
				other = `"postalCode":"OX1"`
			}
			body := userNamed(userName, attr, `{`+value+`,"primary":true},{`+value+`,`+other+`,"primary":true}`)
			r := scim("POST", "/Users", body).expectError(http.StatusBadRequest, "invalidValue")
			Expect(r.body["detail"]).To(ContainSubstring("at most one value of "+attr+" may be primary"), attr)
			Expect(scim("GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", userName)), "").body["totalResults"]).
				To(BeEquivalentTo(0), "nothing stored for %s", attr)
		}
	})

	It("folds exact duplicates into one value", func() {
		r := scim("POST", "/Users", user("emails", `{"value":"a@example.test","type":"work"},{"type":"work","value":"a@example.test"},{"value":"b@example.test"}`)).
			expectStatus(http.StatusCreated)
		Expect(r.body["emails"]).To(ConsistOf(
			map[string]any{"value": "a@example.test", "type": "work"},
			map[string]any{"value": "b@example.test"}))
	})
})
