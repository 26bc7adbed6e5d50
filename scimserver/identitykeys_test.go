package scimserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The identity key (v1alpha1.IdentityKey) decides when two userNames or two role displayNames are the
// same name: uniqueness, generated ids and `eq` filters all go by it.

// findUsers returns the ids of the users a filter finds.
func findUsers(filter string) []any {
	GinkgoHelper()
	return ids(scim("GET", "/Users?filter="+url.QueryEscape(filter), "").expectStatus(http.StatusOK))
}

// findGroups returns the ids of the groups a filter finds.
func findGroups(filter string) []any {
	GinkgoHelper()
	return ids(scim("GET", "/Groups?filter="+url.QueryEscape(filter), "").expectStatus(http.StatusOK))
}

func ids(r *response) []any {
	GinkgoHelper()
	var out []any
	for _, res := range r.body["Resources"].([]any) {
		out = append(out, res.(map[string]any)["id"])
	}
	return out
}

func groupBody(displayName string) string {
	return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q}`, displayName)
}

// longS replaces the first "s" of name by the long s ſ (U+017F), which case-folds to "s".
func longS(name string) string { return strings.Replace(name, "s", "\u017f", 1) }

var _ = Describe("Identity keys", func() {
	Context("userName", func() {
		It("is the same userName with a long s (ſ): 409 uniqueness, nothing stored", func() {
			name := unique("sam") + "@example.com"
			createUser(name)
			before, _ := countObjects()
			scim("POST", "/Users", userBody(longS(name), "Sam", "Long")).expectError(http.StatusConflict, "uniqueness")
			after, _ := countObjects()
			Expect(after).To(Equal(before))
		})

		DescribeTable("treats a compatibility look-alike as the same userName, whichever comes first",
			func(first, second func(n string) string) {
				n := unique("")
				createUser(first(n))
				before, _ := countObjects()
				scim("POST", "/Users", userBody(second(n), "Look", "Alike")).expectError(http.StatusConflict, "uniqueness")
				after, _ := countObjects()
				Expect(after).To(Equal(before))
			},
			Entry("Kelvin sign K (U+212A), then ASCII k",
				func(n string) string { return "\u212aelvin" + n }, func(n string) string { return "kelvin" + n }),
			Entry("ASCII k, then Kelvin sign K (U+212A)",
				func(n string) string { return "kelvin" + n }, func(n string) string { return "\u212aelvin" + n }),
			Entry("ligature ﬁ (U+FB01), then ASCII fi",
				func(n string) string { return "\ufb01nance" + n }, func(n string) string { return "finance" + n }),
			Entry("ASCII fi, then ligature ﬁ (U+FB01)",
				func(n string) string { return "finance" + n }, func(n string) string { return "\ufb01nance" + n }),
			Entry("fullwidth ＳＡＭ, then ASCII sam",
				func(n string) string { return "\uff33\uff21\uff2d" + n }, func(n string) string { return "sam" + n }),
			Entry("decomposed é (e + U+0301), then precomposed é (U+00E9)",
				func(n string) string { return "rene\u0301" + n }, func(n string) string { return "ren\u00e9" + n }),
		)

		It("is found by an eq filter exactly as uniqueness compares it, indexed or not", func() {
			name := unique("sam") + "@example.com"
			id := createUser(name)
			for _, variant := range []string{name, strings.ToUpper(name), longS(name), "\uff33" + name[1:]} {
				Expect(findUsers(fmt.Sprintf(`userName eq %q`, variant))).To(ConsistOf(id), "indexed: userName eq %q", variant)
				Expect(findUsers(fmt.Sprintf(`userName eq %q and active eq true`, variant))).To(ConsistOf(id), "in memory: %q", variant)
			}
			Expect(findUsers(fmt.Sprintf(`userName eq %q`, "x"+name))).To(BeEmpty())
		})

		It("does not let a rename take a look-alike of another user's userName", func() {
			taken := unique("sam") + "@example.com"
			createUser(taken)
			id := createUser(unique("other") + "@example.com")
			rename := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"userName","value":%q}]}`
			scim("PATCH", "/Users/"+id, fmt.Sprintf(rename, longS(taken))).expectError(http.StatusConflict, "uniqueness")
			Expect(getUser(id).Spec.UserName).NotTo(Equal(longS(taken)))

			// A rename within the same key is no change of identity: it is not checked against itself.
			own := unique("sam") + "@example.com"
			mine := createUser(own)
			scim("PATCH", "/Users/"+mine, fmt.Sprintf(rename, longS(own))).expectStatus(http.StatusOK)
			Expect(getUser(mine).Spec.UserName).To(Equal(longS(own)))
		})

		DescribeTable("rejects a userName that begins or ends with white space: 400 invalidValue, nothing stored",
			func(userName string) {
				before, _ := countObjects()
				r := scim("POST", "/Users", userBody(userName, "White", "Space")).expectError(http.StatusBadRequest, "invalidValue")
				Expect(r.str("detail")).To(ContainSubstring("must not begin or end with white space"))
				after, _ := countObjects()
				Expect(after).To(Equal(before))
				Expect(findUsers(fmt.Sprintf(`userName eq %q`, strings.TrimSpace(userName)))).To(BeEmpty())
			},
			Entry("leading space", " "+unique("alice")),
			Entry("trailing space", unique("alice")+" "),
			Entry("trailing tab", unique("alice")+"\t"),
			Entry("leading no-break space (U+00A0)", "\u00a0"+unique("alice")),
			Entry("trailing ideographic space (U+3000)", unique("alice")+"\u3000"),
		)

		It("rejects a rename to a userName with surrounding white space", func() {
			name := unique("ws-rename")
			id := createUser(name)
			scim("PUT", "/Users/"+id, userBody(" "+name, "White", "Space")).expectError(http.StatusBadRequest, "invalidValue")
			rename := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"userName","value":%q}]}`
			scim("PATCH", "/Users/"+id, fmt.Sprintf(rename, name+"\n")).expectError(http.StatusBadRequest, "invalidValue")
			Expect(getUser(id).Spec.UserName).To(Equal(name))
		})
	})

	Context("Group displayName", func() {
		It("is the same displayName with a long s (ſ), a look-alike or surrounding white space: 409 uniqueness", func() {
			name := unique("Staff")
			createGroup(name)
			_, before := countObjects()
			for _, variant := range []string{longS(strings.ToLower(name)), "\uff33" + name[1:], name + " ", "\t" + name} {
				scim("POST", "/Groups", groupBody(variant)).expectError(http.StatusConflict, "uniqueness")
			}
			_, after := countObjects()
			Expect(after).To(Equal(before))
		})

		It("keeps surrounding white space as written while the key ignores it", func() {
			name := unique("Padded") + " "
			id := createGroup(name)
			Expect(getRole(id).Spec.DisplayName).To(Equal(name))
			scim("POST", "/Groups", groupBody(strings.TrimSpace(name))).expectError(http.StatusConflict, "uniqueness")
		})

		It("is found by an eq filter exactly as uniqueness compares it, indexed or not", func() {
			name := unique("Staff")
			id := createGroup(name)
			for _, variant := range []string{name, strings.ToUpper(name), longS(strings.ToLower(name)), "\uff33" + name[1:], " " + name + " "} {
				Expect(findGroups(fmt.Sprintf(`displayName eq %q`, variant))).To(ConsistOf(id), "indexed: displayName eq %q", variant)
				Expect(findGroups(fmt.Sprintf(`displayName eq %q and id pr`, variant))).To(ConsistOf(id), "in memory: %q", variant)
			}
		})

		It("does not let a rename take a look-alike of another group's displayName", func() {
			taken := unique("Staff")
			createGroup(taken)
			id := createGroup(unique("other"))
			scim("PATCH", "/Groups/"+id, groupPatch(fmt.Sprintf(`{"op":"replace","value":{"displayName":%q}}`, longS(strings.ToLower(taken))))).
				expectError(http.StatusConflict, "uniqueness")
			scim("PUT", "/Groups/"+id, groupBody(taken+" ")).expectError(http.StatusConflict, "uniqueness")
		})
	})
})
