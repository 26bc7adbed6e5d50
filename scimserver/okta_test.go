package scimserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

var _ = Describe("Okta's requests (okta provider)", Label(conformanceLabel, suiteOkta), func() {
	okta := func(method, path, body string) *response {
		GinkgoHelper()
		return call(server.URL, "okta", method, path, body)
	}
	// oktaCreate creates a user with Okta's create body and returns its id.
	// Source: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20 ("Create the User").
	oktaCreate := func(userName, externalID string) string {
		GinkgoHelper()
		return okta("POST", "/Users", fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
		    "userName": %[1]q,
		    "name": {"givenName": "Test", "familyName": "User"},
		    "emails": [{"primary": true, "value": %[1]q, "type": "work"}],
		    "displayName": "Test User",
		    "locale": "en-US",
		    "externalId": %[2]q,
		    "groups": [],
		    "password": "1mz050nq",
		    "active": true
		}`, userName, externalID)).expectStatus(http.StatusCreated).str("id")
	}

	It("provisions a user as Okta does: lookup, create with a password, read, PUT, deactivate, reactivate", func() {
		userName := unique("test.user") + "@okta.local"
		externalID := unique("00ujl29u0le5T6Aj10h7-")
		// Source: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20 ("Determine if
		// the User already exists"): GET /scim/v2/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100
		lookup := "/Users?filter=" + escapeQuery(fmt.Sprintf("userName eq %q", userName)) + "&startIndex=1&count=100"
		okta("GET", lookup, "").expectListOf(0, 1, 0)

		// Source: same page, "Create the User". Okta sends a password, which is never stored.
		r := okta("POST", "/Users", fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
		    "userName": %[1]q,
		    "name": {"givenName": "Test", "familyName": "User"},
		    "emails": [{"primary": true, "value": %[1]q, "type": "work"}],
		    "displayName": "Test User",
		    "locale": "en-US",
		    "externalId": %[2]q,
		    "groups": [],
		    "password": "1mz050nq",
		    "active": true
		}`, userName, externalID)).expectStatus(http.StatusCreated)
		id := r.str("id")
		Expect(id).To(MatchRegexp(`^a-[0-9a-f]{16}$`))
		Expect(r.Header.Get("Location")).To(Equal(server.URL + "/provisioning/okta/v2/Users/" + id))
		Expect(r.body).To(HaveKeyWithValue("userName", userName))
		Expect(r.body).To(HaveKeyWithValue("externalId", externalID))
		Expect(r.body).To(HaveKeyWithValue("displayName", "Test User"))
		Expect(r.body).To(HaveKeyWithValue("locale", "en-US"))
		Expect(r.body).To(HaveKeyWithValue("active", true))
		Expect(r.body).To(HaveKeyWithValue("groups", BeEmpty()))
		Expect(r.body["name"]).To(And(HaveKeyWithValue("givenName", "Test"), HaveKeyWithValue("familyName", "User")))
		Expect(r.body["emails"]).To(ConsistOf(map[string]any{"primary": true, "value": userName, "type": "work"}))
		Expect(r.body["meta"]).To(And(HaveKeyWithValue("resourceType", "User"), HaveKeyWithValue("location", "Users/"+id)))
		Expect(r.body).NotTo(HaveKey("password"))
		Expect(string(r.raw)).NotTo(ContainSubstring("1mz050nq"))

		stored := getUser(id)
		Expect(stored.Spec.UserName).To(Equal(userName))
		Expect(stored.Spec.ExternalID).To(Equal(externalID))
		Expect(stored.Spec.Locale).To(Equal("en-US"))
		Expect(stored.Spec.Emails).To(Equal([]v1.MultiValuedAttribute{{Value: userName, Type: "work", Primary: new(true)}}))
		expectActiveMarked(id, "okta")
		raw, err := json.Marshal(stored)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(raw)).NotTo(ContainSubstring("1mz050nq"), "the password is never stored")

		found := okta("GET", lookup, "").expectListOf(1, 1, 1)
		Expect(found[0]).To(And(HaveKeyWithValue("id", id), HaveKeyWithValue("userName", userName)))
		okta("GET", "/Users/"+id, "").expectStatus(http.StatusOK)

		// Source: same page, "Update the User" (PUT).
		r = okta("PUT", "/Users/"+id, fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
		    "id": %[2]q,
		    "userName": %[1]q,
		    "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
		    "emails": [{"primary": true, "value": %[1]q, "type": "work", "display": %[1]q}],
		    "active": true,
		    "groups": [],
		    "meta": {"resourceType": "User"}
		}`, userName, id)).expectStatus(http.StatusOK)
		Expect(r.body["name"]).To(And(HaveKeyWithValue("givenName", "Another"), HaveKeyWithValue("middleName", "Excited"), HaveKeyWithValue("familyName", "User")))
		Expect(r.body["emails"]).To(ConsistOf(map[string]any{"primary": true, "value": userName, "type": "work", "display": userName}))
		stored = getUser(id)
		Expect(stored.Spec.Name.GivenName).To(Equal("Another"))
		Expect(stored.Spec.Name.MiddleName).To(Equal("Excited"))
		Expect(stored.Spec.Emails).To(Equal([]v1.MultiValuedAttribute{{Value: userName, Display: userName, Type: "work", Primary: new(true)}}))
		expectActiveMarked(id, "okta")

		// Source: same page, "Update a specific User (PATCH)": Okta deactivates a user with a
		// no-path replace.
		r = okta("PATCH", "/Users/"+id, `{
		    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		    "Operations": [{"op": "replace", "value": {"active": false}}]
		}`).expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("active", false))
		expectSuspendedByProvider(id)
		Expect(okta("GET", "/Users/"+id, "").expectStatus(http.StatusOK).body).To(HaveKeyWithValue("active", false),
			"a deactivated user is still returned")
		Expect(okta("GET", lookup, "").expectListOf(1, 1, 1)[0]).To(HaveKeyWithValue("active", false))

		// Okta reactivates with the same operation and active true.
		r = okta("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`).
			expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("active", true))
		expectActiveMarked(id, "okta")
	})

	It("pushes a group as Okta does: create, add members, remove one by filter, rename, find by displayName, full push, delete", func() {
		u1Name := unique("okta.member") + "@okta.local"
		u1 := oktaCreate(u1Name, unique("00uokta"))
		u2 := createUser(unique("generic.member") + "@example.test")
		expectMarkedBy(getUser(u2), "generic")

		// Source: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20 ("Create Groups").
		name := unique("Test SCIMv2 ")
		r := okta("POST", "/Groups", fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
		    "displayName": %q,
		    "members": []
		}`, name)).expectStatus(http.StatusCreated)
		gid := r.str("id")
		Expect(gid).To(MatchRegexp(`^r-[0-9a-f]{16}$`))
		Expect(r.body).To(HaveKeyWithValue("displayName", name))
		Expect(r.body).To(HaveKeyWithValue("members", BeEmpty()))
		Expect(r.body["meta"]).To(HaveKeyWithValue("resourceType", "Group"))
		role := getRole(gid)
		Expect(role.Spec.DisplayName).To(Equal(name))
		Expect(role.Spec.Members).To(BeEmpty())
		expectMarkedBy(role, "okta")

		// Source: same page, "Update specific Group membership" (the add operation).
		r = okta("PATCH", "/Groups/"+gid, fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		    "Operations": [{"op": "add", "path": "members", "value": [{"value": %q, "display": %q}]}]
		}`, u1, u1Name)).expectStatus(http.StatusOK)
		Expect(r.body["members"]).To(ConsistOf(map[string]any{"value": u1, "display": u1Name, "type": "User", "$ref": "Users/" + u1}))
		Expect(getRole(gid).Spec.Members).To(Equal([]v1.Member{{Value: u1, Display: u1Name}}))

		// Source: same page, the membership body as documented: remove one member by a value filter
		// and add another in one request. u2 is not a member yet, so its removal is ignored.
		r = okta("PATCH", "/Groups/"+gid, fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		    "Operations": [{
		          "op": "remove",
		          "path": "members[value eq \"%[1]s\"]"
		        },
		        {
		          "op": "add",
		          "path": "members",
		          "value": [{"value": %[1]q, "display": "test.user@okta.local"}]
		    }]
		}`, u2)).expectStatus(http.StatusOK)
		Expect(storedMemberIDs(gid)).To(ConsistOf(u1, u2))
		expectMarkedBy(getUser(u2), "okta") // rule 1: a user used by a request of okta is marked by okta

		r = okta("PATCH", "/Groups/"+gid, fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		    "Operations": [{"op": "remove", "path": "members[value eq \"%s\"]"}]
		}`, u1)).expectStatus(http.StatusOK)
		Expect(r.body["members"]).To(ConsistOf(HaveKeyWithValue("value", u2)))
		Expect(storedMemberIDs(gid)).To(Equal([]string{u2}))

		// Source: same page, "Update a specific Group name": a no-path replace that repeats the
		// group's own id, sent each time a membership changes.
		renamed := unique("Test SCIMv20 ")
		rename := fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		    "Operations": [{"op": "replace", "value": {"id": %q, "displayName": %q}}]
		}`, gid, renamed)
		r = okta("PATCH", "/Groups/"+gid, rename).expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("displayName", renamed))
		Expect(r.body).To(HaveKeyWithValue("id", gid))
		Expect(getRole(gid).Spec.DisplayName).To(Equal(renamed))
		before := writtenBySCIM(getRole(gid))
		okta("PATCH", "/Groups/"+gid, rename).expectStatus(http.StatusNoContent)
		Expect(writtenBySCIM(getRole(gid))).To(Equal(before), "a rename to the same name changes nothing")

		// Okta looks groups up by displayName with its paging parameters.
		found := okta("GET", "/Groups?filter="+escapeQuery(fmt.Sprintf("displayName eq %q", renamed))+"&startIndex=1&count=100", "").expectListOf(1, 1, 1)
		Expect(found[0]).To(And(HaveKeyWithValue("id", gid), HaveKeyWithValue("displayName", renamed)))
		r = okta("GET", "/Groups/"+gid, "").expectStatus(http.StatusOK)
		Expect(r.body["members"]).To(ConsistOf(HaveKeyWithValue("value", u2)))

		// Source: same page, the full push of the membership with replace.
		r = okta("PATCH", "/Groups/"+gid, fmt.Sprintf(`{
		  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		  "Operations": [{
		      "op": "replace",
		      "path": "members",
		      "value": [
		        {"value": %q, "display": "test.user@okta.local"},
		        {"value": %q, "display": "test.user@okta.local"}
		      ]
		  }]
		}`, u1, u2)).expectStatus(http.StatusOK)
		Expect(r.body["members"]).To(HaveLen(2))
		Expect(getRole(gid).Spec.Members).To(ConsistOf(
			v1.Member{Value: u1, Display: "test.user@okta.local"}, v1.Member{Value: u2, Display: "test.user@okta.local"}))
		expectMarkedBy(getRole(gid), "okta")

		// Source: same page, "Delete a specific Group".
		r = okta("DELETE", "/Groups/"+gid, "").expectStatus(http.StatusNoContent)
		Expect(r.raw).To(BeEmpty())
		okta("GET", "/Groups/"+gid, "").expectError(http.StatusNotFound, "")
		expectNoObject(gid, &v1.ScimRole{})
		okta("GET", "/Users/"+u1, "").expectStatus(http.StatusOK)
	})

	It("checks existence as Okta does and imports page by page: each user once, in the same order on every walk", func() {
		prefix := unique("okta.import") + "."
		var ids []string
		for i := range 5 {
			userName := fmt.Sprintf("%s%d@okta.local", prefix, i)
			// Source: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20 ("Determine
			// if the User already exists"): a userName eq lookup with startIndex=1&count=100, 0 then 1 result.
			lookup := "/Users?filter=" + escapeQuery(fmt.Sprintf("userName eq %q", userName)) + "&startIndex=1&count=100"
			okta("GET", lookup, "").expectListOf(0, 1, 0)
			ids = append(ids, oktaCreate(userName, unique("00uimport")))
			Expect(okta("GET", lookup, "").expectListOf(1, 1, 1)[0]).To(HaveKeyWithValue("id", ids[i]))
		}

		// Okta's import reads every page of startIndex and count ("Retrieve Users" on the same page):
		// here the users of this spec, two to a page.
		filter := "filter=" + escapeQuery(fmt.Sprintf("userName sw %q", prefix))
		walk := func() []string {
			GinkgoHelper()
			var seen []string
			for start := 1; start <= len(ids); start += 2 {
				page := okta("GET", fmt.Sprintf("/Users?%s&startIndex=%d&count=2", filter, start), "").expectListOf(len(ids), start, min(2, len(ids)-start+1))
				for _, u := range page {
					seen = append(seen, u["id"].(string))
				}
			}
			return seen
		}
		first := walk()
		Expect(first).To(ConsistOf(ids), "each user exactly once across the pages")
		var oneRequest []string
		for _, u := range okta("GET", "/Users?"+filter+"&startIndex=1&count=100", "").expectListOf(len(ids), 1, len(ids)) {
			oneRequest = append(oneRequest, u["id"].(string))
		}
		Expect(first).To(Equal(oneRequest), "pages are slices of one order")

		// Changes between two imports (a rename, a deactivation) do not move anyone between pages.
		okta("PATCH", "/Users/"+ids[0], fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"userName":%q}}]}`,
			prefix+"zz-renamed@okta.local")).expectStatus(http.StatusOK)
		okta("PATCH", "/Users/"+ids[3], `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`).
			expectStatus(http.StatusOK)
		Expect(walk()).To(Equal(first))

		// Okta's own import request, unfiltered: every page of 100 holds each user at most once.
		seen := map[string]int{}
		for start := 1; ; start += 100 {
			r := okta("GET", fmt.Sprintf("/Users?startIndex=%d&count=100", start), "").expectStatus(http.StatusOK)
			page := r.listedResources()
			for _, u := range page {
				seen[u["id"].(string)]++
			}
			if len(page) < 100 || start+len(page) > int(r.body["totalResults"].(float64)) {
				break
			}
		}
		for _, id := range ids {
			Expect(seen).To(HaveKeyWithValue(id, 1))
		}
		Expect(seen).To(HaveEach(1))
	})

	It("deactivates and reactivates a user with PUT and active", func() {
		userName := unique("okta.put") + "@okta.local"
		id := oktaCreate(userName, unique("00uput"))
		// Source: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20 ("Update the
		// User"): Okta replaces the whole user; deactivating sends it with active false.
		put := func(active bool) *response {
			GinkgoHelper()
			return okta("PUT", "/Users/"+id, fmt.Sprintf(`{
			    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
			    "id": %[2]q,
			    "userName": %[1]q,
			    "name": {"givenName": "Test", "familyName": "User"},
			    "emails": [{"primary": true, "value": %[1]q, "type": "work"}],
			    "displayName": "Test User",
			    "locale": "en-US",
			    "active": %[3]t,
			    "groups": [],
			    "meta": {"resourceType": "User"}
			}`, userName, id, active))
		}
		gid := okta("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"members":[{"value":%q}]}`,
			unique("Okta PUT "), id)).expectStatus(http.StatusCreated).str("id")

		r := put(false).expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("active", false))
		expectSuspendedByProvider(id)
		Expect(storedMemberIDs(gid)).To(Equal([]string{id}), "a suspension keeps the membership; the bindings drop the user")
		lookup := "/Users?filter=" + escapeQuery(fmt.Sprintf("userName eq %q", userName)) + "&startIndex=1&count=100"
		Expect(okta("GET", lookup, "").expectListOf(1, 1, 1)[0]).To(HaveKeyWithValue("active", false))

		r = put(true).expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("active", true))
		expectActiveMarked(id, "okta")
	})

	It("links a group declared in Git, found by displayName eq, and pushes it: the rename resent with every membership change", func() {
		name := unique("Okta Linked ")
		gid := declareRole(name, "view")
		var members []string
		for range 3 {
			members = append(members, oktaCreate(unique("okta.push")+"@okta.local", unique("00upush")))
		}

		// Push Groups with "Link Group": Okta finds the existing group by its name.
		// Source: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20 ("Retrieve Groups"
		// with a displayName filter, startIndex and count).
		linkLookup := "/Groups?filter=" + escapeQuery(fmt.Sprintf("displayName eq %q", name)) + "&startIndex=1&count=100"
		expectListed("okta", linkLookup, gid)
		found := okta("GET", linkLookup, "").expectListOf(1, 1, 1)
		Expect(found[0]).To(And(HaveKeyWithValue("id", gid), HaveKeyWithValue("displayName", name), HaveKeyWithValue("members", BeEmpty())))

		// Source: same page, "Update a specific Group name" and "Update specific Group membership":
		// the no-path replace of id and displayName goes with each membership change.
		rename := func(displayName string) string {
			return fmt.Sprintf(`{"op": "replace", "value": {"id": %q, "displayName": %q}}`, gid, displayName)
		}
		push := func(ops ...string) *response {
			GinkgoHelper()
			return okta("PATCH", "/Groups/"+gid, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [`+strings.Join(ops, ", ")+`]}`)
		}
		r := push(rename(name), fmt.Sprintf(`{"op": "add", "path": "members", "value": [{"value": %q, "display": "test.user@okta.local"}, {"value": %q, "display": "test.user@okta.local"}]}`,
			members[0], members[1])).expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("displayName", name))
		Expect(storedMemberIDs(gid)).To(ConsistOf(members[0], members[1]))
		role := getRole(gid)
		expectMarkedBy(role, "okta")
		Expect(role.Spec.Access).To(Equal(&v1.Access{ClusterRoles: []string{"view"}}), "what the role grants stays Git's")

		push(rename(name), fmt.Sprintf(`{"op": "remove", "path": "members[value eq \"%s\"]"}`, members[0]),
			fmt.Sprintf(`{"op": "add", "path": "members", "value": [{"value": %q, "display": "test.user@okta.local"}]}`, members[2])).
			expectStatus(http.StatusOK)
		Expect(storedMemberIDs(gid)).To(ConsistOf(members[1], members[2]))

		// Renamed in Okta, then pushed in full.
		renamed := unique("Okta Linked Renamed ")
		r = push(rename(renamed), fmt.Sprintf(`{"op": "replace", "path": "members", "value": [{"value": %q, "display": "test.user@okta.local"}]}`, members[0])).
			expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("displayName", renamed))
		Expect(r.body["members"]).To(ConsistOf(HaveKeyWithValue("value", members[0])))
		role = getRole(gid)
		Expect(role.Spec.DisplayName).To(Equal(renamed))
		Expect(role.Spec.Members).To(Equal([]v1.Member{{Value: members[0], Display: "test.user@okta.local"}}))
		Expect(role.Spec.Access).To(Equal(&v1.Access{ClusterRoles: []string{"view"}}))
		okta("GET", "/Groups?filter="+escapeQuery(fmt.Sprintf("displayName eq %q", name))+"&startIndex=1&count=100", "").expectListOf(0, 1, 0)
		Expect(okta("GET", "/Groups?filter="+escapeQuery(fmt.Sprintf("displayName eq %q", renamed))+"&startIndex=1&count=100", "").expectListOf(1, 1, 1)[0]).
			To(HaveKeyWithValue("id", gid))

		// The same push again writes nothing, and is answered 204 as a PATCH that changes nothing.
		before := writtenBySCIM(getRole(gid))
		push(rename(renamed), fmt.Sprintf(`{"op": "replace", "path": "members", "value": [{"value": %q, "display": "test.user@okta.local"}]}`, members[0])).
			expectStatus(http.StatusNoContent)
		Expect(writtenBySCIM(getRole(gid))).To(Equal(before))
	})
})
