package scimserver_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// These specs send what identity providers send, as their documentation shows it, to the okta and
// azure providers, and check the answers and what is stored. Each body is the documented one with
// its names made unique (userName, displayName, externalId) so that specs do not collide; the page
// it comes from is cited above it.

const (
	idpListResponseURN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	idpEnterpriseURN   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	idpCoreUserURN     = "urn:ietf:params:scim:schemas:core:2.0:User"
)

// idpGUID returns a random GUID, as Entra ID uses for its probes and externalIds.
func idpGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// escapeQuery percent-encodes a query parameter value with %20 for spaces, as Okta sends it.
func escapeQuery(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// listedResources returns the Resources of a ListResponse.
func (r *response) listedResources() []map[string]any {
	GinkgoHelper()
	Expect(r.body).To(HaveKeyWithValue("schemas", ConsistOf(idpListResponseURN)), "body: %s", r.raw)
	list, ok := r.body["Resources"].([]any)
	Expect(ok).To(BeTrue(), "Resources must be an array: %s", r.raw)
	out := make([]map[string]any, 0, len(list))
	for _, item := range list {
		out = append(out, item.(map[string]any))
	}
	return out
}

// expectListOf asserts a ListResponse's counts and returns its resources.
func (r *response) expectListOf(total, startIndex, items int) []map[string]any {
	GinkgoHelper()
	r.expectStatus(http.StatusOK)
	res := r.listedResources()
	Expect(r.body).To(HaveKeyWithValue("totalResults", BeNumerically("==", total)), "body: %s", r.raw)
	Expect(r.body).To(HaveKeyWithValue("startIndex", BeNumerically("==", startIndex)))
	Expect(r.body).To(HaveKeyWithValue("itemsPerPage", BeNumerically("==", items)))
	Expect(res).To(HaveLen(items))
	return res
}

// expectStatusIn asserts a status among codes, showing the body on failure.
func (r *response) expectStatusIn(codes ...int) *response {
	GinkgoHelper()
	Expect(r.StatusCode).To(BeElementOf(codes), "body: %s", r.raw)
	return r
}

// expectSuspendedByProvider asserts rule 4 on a stored user: suspended, by its provider, unmarked.
func expectSuspendedByProvider(id string) {
	GinkgoHelper()
	u := getUser(id)
	Expect(u.Spec.Active).To(HaveValue(BeFalse()))
	Expect(u.Annotations).To(HaveKeyWithValue(v1.AnnotationSuspendedBy, v1.SuspendedByProvider))
	expectMarkedBy(u, "")
}

// expectActiveMarked asserts a stored user is active, carries no suspension and is marked by provider.
func expectActiveMarked(id, provider string) {
	GinkgoHelper()
	u := getUser(id)
	Expect(u.Spec.Active).To(HaveValue(BeTrue()))
	Expect(u.Annotations).NotTo(HaveKey(v1.AnnotationSuspendedBy))
	expectMarkedBy(u, provider)
}

// storedMemberIDs returns the member ids of a stored role.
func storedMemberIDs(id string) []string {
	GinkgoHelper()
	var ids []string
	for _, m := range getRole(id).Spec.Members {
		ids = append(ids, m.Value)
	}
	return ids
}

var _ = Describe("Okta's requests (okta provider)", func() {
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
		Expect(stored.Spec.Emails).To(Equal([]v1.MultiValuedAttribute{{Value: userName, Type: "work", Primary: true}}))
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
		Expect(stored.Spec.Emails).To(Equal([]v1.MultiValuedAttribute{{Value: userName, Display: userName, Type: "work", Primary: true}}))
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
		Expect(r.body["members"]).To(ConsistOf(map[string]any{"value": u1, "display": u1Name}))
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
		before := getRole(gid).ResourceVersion
		okta("PATCH", "/Groups/"+gid, rename).expectStatus(http.StatusNoContent)
		Expect(getRole(gid).ResourceVersion).To(Equal(before), "a rename to the same name changes nothing")

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
})

var _ = Describe("Microsoft Entra ID's requests (azure provider)", func() {
	azure := func(method, path, body string) *response {
		GinkgoHelper()
		return call(server.URL, "azure", method, path, body)
	}
	// byQuery returns path with the query parameters encoded as Entra ID encodes them.
	byQuery := func(path string, kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return path + "?" + v.Encode()
	}
	// entraCreate creates a user with Entra ID's create body and returns its id.
	// Source: https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
	// ("Create User").
	entraCreate := func(userName, externalID, email string) string {
		GinkgoHelper()
		return azure("POST", "/Users", fmt.Sprintf(`{
		    "schemas": [
		        "urn:ietf:params:scim:schemas:core:2.0:User",
		        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		    "externalId": %q,
		    "userName": %q,
		    "active": true,
		    "emails": [{
		        "primary": true,
		        "type": "work",
		        "value": %q
		    }],
		    "meta": {
		        "resourceType": "User"
		    },
		    "name": {
		        "formatted": "givenName familyName",
		        "familyName": "familyName",
		        "givenName": "givenName"
		    },
		    "roles": []
		}`, externalID, userName, email)).expectStatus(http.StatusCreated).str("id")
	}

	It("provisions a user as Entra ID does: probe, create, query by userName and externalId, update, disable, enable, delete", func() {
		// Entra ID fetches a random user to test the connection; "Get User by query - Zero results"
		// of the tutorial below.
		azure("GET", byQuery("/Users", "filter", fmt.Sprintf("userName eq %q", idpGUID())), "").expectListOf(0, 1, 0)

		userName := "Test_User_" + idpGUID()
		externalID := idpGUID()
		email := "Test_User_" + idpGUID() + "@testuser.com"
		// Source: https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
		// ("Create User").
		r := azure("POST", "/Users", fmt.Sprintf(`{
		    "schemas": [
		        "urn:ietf:params:scim:schemas:core:2.0:User",
		        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		    "externalId": %q,
		    "userName": %q,
		    "active": true,
		    "emails": [{
		        "primary": true,
		        "type": "work",
		        "value": %q
		    }],
		    "meta": {
		        "resourceType": "User"
		    },
		    "name": {
		        "formatted": "givenName familyName",
		        "familyName": "familyName",
		        "givenName": "givenName"
		    },
		    "roles": []
		}`, externalID, userName, email)).expectStatus(http.StatusCreated)
		id := r.str("id")
		Expect(r.Header.Get("Content-Type")).To(HavePrefix("application/scim+json"))
		Expect(r.body).To(HaveKeyWithValue("externalId", externalID))
		Expect(r.body).To(HaveKeyWithValue("userName", userName))
		Expect(r.body).To(HaveKeyWithValue("active", true))
		Expect(r.body["name"]).To(Equal(map[string]any{"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"}))
		Expect(r.body["emails"]).To(ConsistOf(map[string]any{"value": email, "type": "work", "primary": true}))
		Expect(r.body["meta"]).To(HaveKeyWithValue("resourceType", "User"))
		stored := getUser(id)
		Expect(stored.Spec.ExternalID).To(Equal(externalID))
		Expect(stored.Spec.Emails).To(Equal([]v1.MultiValuedAttribute{{Value: email, Type: "work", Primary: true}}))
		expectActiveMarked(id, "azure")

		// "Get User" and "Get User by query": users are queried by userName and externalId.
		Expect(azure("GET", "/Users/"+id, "").expectStatus(http.StatusOK).body).To(HaveKeyWithValue("id", id))
		Expect(azure("GET", byQuery("/Users", "filter", fmt.Sprintf("userName eq %q", userName)), "").expectListOf(1, 1, 1)[0]).To(HaveKeyWithValue("id", id))
		Expect(azure("GET", byQuery("/Users", "filter", fmt.Sprintf("externalId eq %q", externalID)), "").expectListOf(1, 1, 1)[0]).To(HaveKeyWithValue("id", id))

		// Source: same page, "Update User [Multi-valued properties]". The tutorial answers 200 with
		// the user; Entra ID also accepts 204.
		azure("PATCH", "/Users/"+id, `{
		    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		    "Operations": [
		            {
		            "op": "Replace",
		            "path": "emails[type eq \"work\"].value",
		            "value": "updatedEmail@microsoft.com"
		            },
		            {
		            "op": "Replace",
		            "path": "name.familyName",
		            "value": "updatedFamilyName"
		            }
		    ]
		}`).expectStatusIn(http.StatusOK, http.StatusNoContent)
		r = azure("GET", "/Users/"+id, "").expectStatus(http.StatusOK)
		Expect(r.body["emails"]).To(ConsistOf(map[string]any{"value": "updatedEmail@microsoft.com", "type": "work", "primary": true}))
		Expect(r.body["name"]).To(HaveKeyWithValue("familyName", "updatedFamilyName"))
		stored = getUser(id)
		Expect(stored.Spec.Emails).To(Equal([]v1.MultiValuedAttribute{{Value: "updatedEmail@microsoft.com", Type: "work", Primary: true}}))
		Expect(stored.Spec.Name.FamilyName).To(Equal("updatedFamilyName"))

		// Source: same page, "Update User [Single-valued properties]".
		newUserName := idpGUID() + "@testuser.com"
		azure("PATCH", "/Users/"+id, fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		    "Operations": [{
		        "op": "Replace",
		        "path": "userName",
		        "value": %q
		    }]
		}`, newUserName)).expectStatusIn(http.StatusOK, http.StatusNoContent)
		Expect(getUser(id).Spec.UserName).To(Equal(newUserName))
		azure("GET", byQuery("/Users", "filter", fmt.Sprintf("userName eq %q", userName)), "").expectListOf(0, 1, 0)
		Expect(azure("GET", byQuery("/Users", "filter", fmt.Sprintf("userName eq %q", newUserName)), "").expectListOf(1, 1, 1)[0]).To(HaveKeyWithValue("id", id))

		// Source: same page, "Disable User".
		azure("PATCH", "/Users/"+id, `{
		    "Operations": [
		        {
		            "op": "Replace",
		            "path": "active",
		            "value": false
		        }
		    ],
		    "schemas": [
		        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
		    ]
		}`).expectStatusIn(http.StatusOK, http.StatusNoContent)
		expectSuspendedByProvider(id)
		// Microsoft's SCIM validator: "Response from a GET and filter request on a disabled User should
		// have attribute active".
		// Source: https://learn.microsoft.com/en-us/answers/questions/2238842/microsoft-entra-id-scim-validator-test-failing-pat
		Expect(azure("GET", byQuery("/Users", "filter", fmt.Sprintf("userName eq %q", newUserName)), "").expectListOf(1, 1, 1)[0]).To(HaveKeyWithValue("active", false))

		// Entra ID restores a soft-deleted user with active true.
		azure("PATCH", "/Users/"+id, `{"Operations":[{"op":"Replace","path":"active","value":true}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`).
			expectStatusIn(http.StatusOK, http.StatusNoContent)
		expectActiveMarked(id, "azure")

		// Source: same page, "Delete User".
		r = azure("DELETE", "/Users/"+id, "").expectStatus(http.StatusNoContent)
		Expect(r.raw).To(BeEmpty())
		azure("GET", "/Users/"+id, "").expectError(http.StatusNotFound, "")
		expectNoObject(id, &v1.ScimUser{})
	})

	It(`accepts Entra ID's non-compliant PATCH forms on azure ("op":"Replace", "value":"False") and generic rejects them`, func() {
		id := entraCreate("Test_User_"+idpGUID(), idpGUID(), "Test_User_"+idpGUID()+"@testuser.com")
		// Source: https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
		// ("Requests made to disable users", without feature flag).
		disable := `{
		    "schemas": [
		        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
		    ],
		    "Operations": [
		        {
		            "op": "Replace",
		            "path": "active",
		            "value": "False"
		        }
		    ]
		}`
		before := getUser(id).ResourceVersion
		scim("PATCH", "/Users/"+id, disable).expectError(http.StatusBadRequest, "")
		scim("PATCH", "/Users/"+id, strings.Replace(disable, `"Replace"`, `"replace"`, 1)).expectError(http.StatusBadRequest, "invalidValue")
		Expect(getUser(id).ResourceVersion).To(Equal(before), "a rejected PATCH writes nothing")
		expectActiveMarked(id, "azure")

		azure("PATCH", "/Users/"+id, disable).expectStatusIn(http.StatusOK, http.StatusNoContent)
		expectSuspendedByProvider(id)
		Expect(azure("GET", "/Users/"+id, "").expectStatus(http.StatusOK).body).To(HaveKeyWithValue("active", false))

		// Same page, "Requests made to add a single-value string attribute" (without feature flag).
		// A provider-suspended user's profile still updates; it stays suspended and unmarked.
		azure("PATCH", "/Users/"+id, `{
		    "schemas": [
		        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
		    ],
		    "Operations": [
		      {
		        "op": "Add",
		        "path": "nickName",
		        "value": "Babs"
		      }
		    ]
		}`).expectStatusIn(http.StatusOK, http.StatusNoContent)
		Expect(getUser(id).Spec.NickName).To(Equal("Babs"))
		expectSuspendedByProvider(id)

		azure("PATCH", "/Users/"+id, strings.Replace(disable, `"False"`, `"True"`, 1)).expectStatusIn(http.StatusOK, http.StatusNoContent)
		expectActiveMarked(id, "azure")

		// Same page, "Requests to replace multiple attributes", without the feature flag...
		azure("PATCH", "/Users/"+id, `{
		    "schemas": [
		        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
		    ],
		    "Operations": [
		        {
		            "op": "Replace",
		            "path": "displayName",
		            "value": "Pvlo"
		        },
		        {
		            "op": "Replace",
		            "path": "emails[type eq \"work\"].value",
		            "value": "TestBcwqnm@test.microsoft.com"
		        },
		        {
		            "op": "Replace",
		            "path": "name.givenName",
		            "value": "Gtfd"
		        },
		        {
		            "op": "Replace",
		            "path": "name.familyName",
		            "value": "Pkqf"
		        },
		        {
		            "op": "Replace",
		            "path": "externalId",
		            "value": "Eqpj"
		        },
		        {
		            "op": "Replace",
		            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
		            "value": "Eqpj"
		        }
		    ]
		}`).expectStatusIn(http.StatusOK, http.StatusNoContent)
		u := getUser(id)
		Expect(u.Spec.DisplayName).To(Equal("Pvlo"))
		Expect(u.Spec.Emails).To(Equal([]v1.MultiValuedAttribute{{Value: "TestBcwqnm@test.microsoft.com", Type: "work", Primary: true}}))
		Expect(u.Spec.Name.GivenName).To(Equal("Gtfd"))
		Expect(u.Spec.Name.FamilyName).To(Equal("Pkqf"))
		Expect(u.Spec.ExternalID).To(Equal("Eqpj"))
		Expect(u.Spec.Enterprise).NotTo(BeNil())
		Expect(u.Spec.Enterprise.EmployeeNumber).To(Equal("Eqpj"))

		// ... and with it: a no-path replace whose keys are attribute paths, the enterprise
		// extension's by its flattened URN.
		azure("PATCH", "/Users/"+id, `{
		    "schemas": [
		        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
		    ],
		    "Operations": [
		        {
		            "op": "replace",
		            "path": "emails[type eq \"work\"].value",
		            "value": "TestMhvaes@test.microsoft.com"
		        },
		        {
		            "op": "replace",
		            "value": {
		                "displayName": "Bjfe",
		                "name.givenName": "Kkom",
		                "name.familyName": "Unua",
		                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
		            }
		        }
		    ]
		}`).expectStatusIn(http.StatusOK, http.StatusNoContent)
		u = getUser(id)
		Expect(u.Spec.DisplayName).To(Equal("Bjfe"))
		Expect(u.Spec.Emails).To(Equal([]v1.MultiValuedAttribute{{Value: "TestMhvaes@test.microsoft.com", Type: "work", Primary: true}}))
		Expect(u.Spec.Name.GivenName).To(Equal("Kkom"))
		Expect(u.Spec.Name.FamilyName).To(Equal("Unua"))
		Expect(u.Spec.Enterprise.EmployeeNumber).To(Equal("Aklq"))
		expectActiveMarked(id, "azure")
	})

	It("sets the enterprise manager by its URN path with a bare id, and adds a work email a user lacks", func() {
		manager := entraCreate("Test_User_"+idpGUID(), idpGUID(), "Test_User_"+idpGUID()+"@testuser.com")
		// No "@" in the userName, so no email is derived: the user has none.
		id := azure("POST", "/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"active":true}`, "Test_User_"+idpGUID())).
			expectStatus(http.StatusCreated).str("id")
		Expect(getUser(id).Spec.Emails).To(BeEmpty())

		// Entra ID sends the manager as the manager's id, not as {"value": id}.
		// Source: https://github.com/Captain-P-Goldfish/SCIM-SDK/issues/686 (a request from Microsoft Entra).
		azure("PATCH", "/Users/"+id, fmt.Sprintf(`{
		  "schemas": [
		    "urn:ietf:params:scim:api:messages:2.0:PatchOp"
		  ],
		  "Operations": [
		    {
		      "op": "add",
		      "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
		      "value": %q
		    }
		  ]
		}`, manager)).expectStatusIn(http.StatusOK, http.StatusNoContent)
		u := getUser(id)
		Expect(u.Spec.Enterprise).NotTo(BeNil())
		Expect(u.Spec.Enterprise.Manager).To(HaveField("Value", manager))
		r := azure("GET", "/Users/"+id, "").expectStatus(http.StatusOK)
		Expect(r.body["schemas"]).To(ContainElement(idpEnterpriseURN))
		Expect(r.body[idpEnterpriseURN]).To(HaveKeyWithValue("manager", HaveKeyWithValue("value", manager)))

		// Entra ID maps mail to emails[type eq "work"].value and adds it with that path.
		azure("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"emails[type eq \"work\"].value","value":"x@y"}]}`).
			expectStatusIn(http.StatusOK, http.StatusNoContent)
		Expect(getUser(id).Spec.Emails).To(ConsistOf(HaveField("Value", "x@y")))
		Expect(getUser(id).Spec.Emails[0].Type).To(Equal("work"))
		expectActiveMarked(id, "azure")
	})

	It("creates a group with Entra ID's documented body, which names a Microsoft schema besides the core one", func() {
		name := unique("displayName ")
		externalID := idpGUID()
		// Source: https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
		// ("Create Group").
		r := azure("POST", "/Groups", fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
		    "externalId": %q,
		    "displayName": %q,
		    "meta": {
		        "resourceType": "Group"
		    }
		}`, externalID, name)).expectStatus(http.StatusCreated)
		gid := r.str("id")
		Expect(r.body).To(HaveKeyWithValue("externalId", externalID))
		Expect(r.body).To(HaveKeyWithValue("displayName", name))
		Expect(r.body).To(HaveKeyWithValue("members", BeEmpty()))
		role := getRole(gid)
		Expect(role.Spec.ExternalID).To(Equal(externalID))
		expectMarkedBy(role, "azure")
	})

	It("manages a group as Entra ID does: probe, get without members, find by displayName, rename, add and remove members, delete", func() {
		member := entraCreate("Test_User_"+idpGUID(), idpGUID(), "Test_User_"+idpGUID()+"@testuser.com")
		scimMember := createUser(unique("entra.member") + "@example.test")

		azure("GET", byQuery("/Groups", "excludedAttributes", "members", "filter", fmt.Sprintf("displayName eq %q", idpGUID())), "").expectListOf(0, 1, 0)
		name := unique("displayName ")
		externalID := idpGUID()
		// The documented create body (previous spec) without its non-standard schema URN.
		gid := azure("POST", "/Groups", fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
		    "externalId": %q,
		    "displayName": %q,
		    "meta": {
		        "resourceType": "Group"
		    }
		}`, externalID, name)).expectStatus(http.StatusCreated).str("id")
		expectMarkedBy(getRole(gid), "azure")

		// Source: https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
		// ("Get Group", "Get Group by displayName").
		r := azure("GET", "/Groups/"+gid+"?excludedAttributes=members", "").expectStatus(http.StatusOK)
		Expect(r.body).NotTo(HaveKey("members"))
		Expect(r.body).To(And(HaveKeyWithValue("id", gid), HaveKeyWithValue("externalId", externalID), HaveKeyWithValue("displayName", name)))
		found := azure("GET", byQuery("/Groups", "excludedAttributes", "members", "filter", fmt.Sprintf("displayName eq %q", name)), "").expectListOf(1, 1, 1)
		Expect(found[0]).To(HaveKeyWithValue("id", gid))
		Expect(found[0]).NotTo(HaveKey("members"))

		// The tutorial answers each group PATCH with 204: "Update to the group PATCH request should
		// yield an HTTP 204 No Content in the response". The statuses are checked last, so that what
		// the PATCHes store is checked whatever they answer.
		var statuses []int
		patchGroup := func(body string) {
			GinkgoHelper()
			statuses = append(statuses, azure("PATCH", "/Groups/"+gid, body).expectStatusIn(http.StatusOK, http.StatusNoContent).StatusCode)
		}

		// Source: same page, "Update Group [Non-member attributes]".
		renamed := unique("1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName")
		patchGroup(fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		    "Operations": [{
		        "op": "Replace",
		        "path": "displayName",
		        "value": %q
		    }]
		}`, renamed))
		Expect(getRole(gid).Spec.DisplayName).To(Equal(renamed))

		// Source: same page, "Update Group [Add Members]".
		add := func(id string) string {
			return fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		    "Operations": [{
		        "op": "Add",
		        "path": "members",
		        "value": [{
		            "$ref": null,
		            "value": %q
		        }]
		    }]
		}`, id)
		}
		patchGroup(add(member))
		patchGroup(add(scimMember))
		Expect(storedMemberIDs(gid)).To(ConsistOf(member, scimMember))
		expectMarkedBy(getUser(scimMember), "azure")
		r = azure("GET", "/Groups/"+gid, "").expectStatus(http.StatusOK)
		Expect(r.body["members"]).To(ConsistOf(HaveKeyWithValue("value", member), HaveKeyWithValue("value", scimMember)))

		// Source: same page, "Update Group [Remove Members]": remove with a value.
		patchGroup(fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		    "Operations": [{
		        "op": "Remove",
		        "path": "members",
		        "value": [{
		            "$ref": null,
		            "value": %q
		        }]
		    }]
		}`, member))
		Expect(storedMemberIDs(gid)).To(Equal([]string{scimMember}), "only the member named in the value is removed")

		// Source: same page, "Delete Group".
		azure("DELETE", "/Groups/"+gid, "").expectStatus(http.StatusNoContent)
		expectNoObject(gid, &v1.ScimRole{})
		Expect(statuses).To(HaveEach(http.StatusNoContent), "Entra ID's group PATCHes are answered 204")
	})
})

// Microsoft's SCIM test collection (AzureAD/SCIMReferenceCode, "SCIM Tests" Postman collection; a
// copy is in the team's shared conformance folder). Each request below is the collection's, named as
// there, with unique names; each status asserted is the collection's own test.
var _ = Describe("Microsoft's SCIM test collection (azure provider)", func() {
	azure := func(method, path, body string) *response {
		GinkgoHelper()
		return call(server.URL, "azure", method, path, body)
	}

	It(`runs the "User tests": enterprise user, attributes, filter, patch, replace, delete`, func() {
		userName1, userName2 := unique("UserName123-"), unique("UserName222-")
		displayName := unique("BobIsAmazing")
		externalID := idpGUID()
		// "Post User"
		r := azure("POST", "/Users", fmt.Sprintf(`{
		    "userName": %q,
		    "active": true,
		    "displayName": %q,
		    "schemas": [
		        "urn:ietf:params:scim:schemas:core:2.0:User"
		    ],
		  "externalId": %q,
		    "name": {
		        "formatted": "Ryan Leenay",
		        "familyName": "Leenay",
		        "givenName": "Ryan"
		    },
		    "emails": [
		        {
		            "Primary": true,
		            "type": "work",
		            "value": "testing@bob.com"
		        },
		        {
		            "Primary": false,
		            "type": "home",
		            "value": "testinghome@bob.com"
		        }
		    ]
		}`, userName1, displayName, externalID)).expectStatus(http.StatusCreated)
		id1 := r.str("id")
		Expect(r.body["emails"]).To(ConsistOf(
			map[string]any{"primary": true, "type": "work", "value": "testing@bob.com"},
			map[string]any{"type": "home", "value": "testinghome@bob.com"}), "sub-attribute names are case-insensitive")
		expectActiveMarked(id1, "azure")

		// "Post EnterpriseUser": the extension's attribute names capitalized.
		r = azure("POST", "/Users", fmt.Sprintf(`{
		    "userName": %q,
		    "active": true,
		    "displayName": "lennay",
		    "schemas": [
		        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
		        "urn:ietf:params:scim:schemas:core:2.0:User"
		    ],
		  "externalId": %q,
		    "name": {
		        "formatted": "Adrew Ryan",
		        "familyName": "Ryan",
		        "givenName": "Andrew"
		    },
		    "emails": [
		        {
		            "Primary": true,
		            "type": "work",
		            "value": "testing@bob2.com"
		        },
		        {
		            "Primary": false,
		            "type": "home",
		            "value": "testinghome@bob3.com"
		        }
		    ],
		    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
		    		"Department": "bob",
		    		"Manager" : { "Value": "SuzzyQ" }
		    }
		}`, userName2, idpGUID())).expectStatus(http.StatusCreated)
		id2 := r.str("id")
		Expect(r.body["schemas"]).To(ConsistOf(idpCoreUserURN, idpEnterpriseURN))
		Expect(r.body[idpEnterpriseURN]).To(Equal(map[string]any{"department": "bob", "manager": map[string]any{"value": "SuzzyQ"}}))
		enterprise := getUser(id2).Spec.Enterprise
		Expect(enterprise).NotTo(BeNil())
		Expect(enterprise.Department).To(Equal("bob"))
		Expect(enterprise.Manager).To(Equal(&v1.Manager{Value: "SuzzyQ"}))

		// "Get user1", "Get user2"
		Expect(azure("GET", "/Users/"+id1, "").expectStatus(http.StatusOK).body).To(HaveKeyWithValue("id", id1))
		Expect(azure("GET", "/Users/"+id2, "").expectStatus(http.StatusOK).body).To(HaveKeyWithValue("id", id2))

		// "Get User Attributes" (narrowed by a filter: the suite's API server holds more users than a page).
		res := azure("GET", "/Users?attributes=userName,emails&filter="+escapeQuery(fmt.Sprintf("externalId eq %q", externalID)), "").expectListOf(1, 1, 1)
		Expect(res[0]).To(HaveKeyWithValue("id", id1))
		Expect(res[0]).To(HaveKeyWithValue("userName", userName1))
		Expect(res[0]).To(HaveKey("emails"))
		Expect(res[0]).NotTo(HaveKey("name"))
		Expect(res[0]).NotTo(HaveKey("displayName"))

		// "Get User Filters": the attribute name capitalized.
		res = azure("GET", "/Users/?filter=DisplayName+eq+%22"+displayName+"%22", "").expectListOf(1, 1, 1)
		Expect(res[0]).To(HaveKeyWithValue("id", id1))

		// "patch user1", then "Get User1 Check Patch"
		ryan := unique("ryan")
		azure("PATCH", "/Users/"+id1, fmt.Sprintf(`{
		    "schemas": [
		        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
		    ],
		    "Operations": [
		        {
		            "op": "replace",
		            "path": "userName",
		            "value": %q
		        }
		    ]
		}`, ryan)).expectStatusIn(http.StatusOK, http.StatusNoContent)
		Expect(azure("GET", "/Users/"+id1, "").expectStatus(http.StatusOK).body).To(HaveKeyWithValue("userName", ryan))
		Expect(getUser(id1).Spec.UserName).To(Equal(ryan))

		// "User 2 replace test", then "Get user2 Check replace"
		replaced := unique("UserNameReplace2-")
		azure("PUT", "/Users/"+id2, fmt.Sprintf(`{
		    "userName": %q,
		    "active": true,
		    "displayName": "BobIsAmazing",
		    "schemas": [
		        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
		        "urn:ietf:params:scim:schemas:core:2.0:User"
		    ],
		    "id": %q,
		    "externalId": %q,
		    "name": {
		        "formatted": "NewName",
		        "familyName": "Leenay",
		        "givenName": "Ryan"
		    },
		    "emails": [
		        {
		            "Primary": true,
		            "type": "work",
		            "value": "testing@bobREPLACE.com"
		        },
		        {
		            "Primary": false,
		            "type": "home",
		            "value": "testinghome@bob.com"
		        }
		    ]
		}`, replaced, id2, idpGUID())).expectStatus(http.StatusOK)
		Expect(azure("GET", "/Users/"+id2, "").expectStatus(http.StatusOK).body["name"]).To(HaveKeyWithValue("formatted", "NewName"))
		stored := getUser(id2)
		Expect(stored.Spec.UserName).To(Equal(replaced))
		Expect(stored.Spec.Name.Formatted).To(Equal("NewName"))
		Expect(stored.Spec.Enterprise).To(BeNil(), "PUT replaces: the extension it leaves out is gone")
		expectActiveMarked(id2, "azure")

		// "Delete user1", "Delete user2"
		azure("DELETE", "/Users/"+id1, "").expectStatus(http.StatusNoContent)
		azure("DELETE", "/Users/"+id2, "").expectStatus(http.StatusNoContent)
		expectNoObject(id1, &v1.ScimUser{})
		expectNoObject(id2, &v1.ScimUser{})
	})

	It(`runs the "Group tests": empty and filled groups, PUT, add with displayName, remove by filter, remove all`, func() {
		userBodyMS := func(userName string) string {
			return fmt.Sprintf(`{
		    "userName": %q,
		    "active": true,
		    "displayName": "lennay",
		    "schemas": [
		        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
		        "urn:ietf:params:scim:schemas:core:2.0:User"
		    ],
		  "externalId": %q,
		    "name": {
		        "formatted": "Adrew Ryan",
		        "familyName": "Ryan",
		        "givenName": "Andrew"
		    },
		    "emails": [
		        {
		            "Primary": true,
		            "type": "work",
		            "value": "testing@bob2.com"
		        },
		        {
		            "Primary": false,
		            "type": "home",
		            "value": "testinghome@bob3.com"
		        }
		    ]
		}`, userName, idpGUID())
		}
		groupBody := func(name, members string) string {
			return fmt.Sprintf(`{
		  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
		  "externalId":%q,
		  "displayName": %q,
		  "members":%s
		}`, idpGUID(), name, members)
		}

		// "Create empty group"
		group1 := azure("POST", "/Groups", groupBody(unique("Group1DisplayName-"), "[]")).expectStatus(http.StatusCreated).str("id")
		Expect(getRole(group1).Spec.ExternalID).NotTo(BeEmpty())
		expectMarkedBy(getRole(group1), "azure")
		// "create user for group 2", "Create user 4 for group 2"
		id3 := azure("POST", "/Users", userBodyMS(unique("UserName333-"))).expectStatus(http.StatusCreated).str("id")
		id4 := azure("POST", "/Users", userBodyMS(unique("UserName444-"))).expectStatus(http.StatusCreated).str("id")
		// "Create filled group 2"
		group2 := azure("POST", "/Groups", groupBody(unique("GroupDisplayName2-"), fmt.Sprintf(`[{"value":%q,"display":"VP"}]`, id3))).
			expectStatus(http.StatusCreated).str("id")
		Expect(getRole(group2).Spec.Members).To(Equal([]v1.Member{{Value: id3, Display: "VP"}}))
		// "Get Groups"
		azure("GET", "/Groups", "").expectStatus(http.StatusOK)
		// "Create group 3", "Put replace group3", "Validate group 3"
		group3 := azure("POST", "/Groups", groupBody(unique("GroupDisplayName3-"), "[]")).expectStatus(http.StatusCreated).str("id")
		putName := unique("putName-")
		azure("PUT", "/Groups/"+group3, fmt.Sprintf(`{
		  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
		  "id":%q,
		  "displayName": %q,
		  "members":[
		  	{
		  		"value": %q,
		  		"display":"VP"
		  	},
		  	{
		  		"value":%q,
		  		"display":"SenorVP"
		  	}
		  ]
		}`, group3, putName, id3, id4)).expectStatus(http.StatusOK)
		r := azure("GET", "/Groups/"+group3, "").expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("id", group3))
		Expect(string(r.raw)).To(ContainSubstring(id3))
		role3 := getRole(group3)
		Expect(role3.Spec.DisplayName).To(Equal(putName))
		Expect(role3.Spec.ExternalID).To(BeEmpty(), "PUT replaces: the externalId it leaves out is gone")
		Expect(role3.Spec.Members).To(ConsistOf(v1.Member{Value: id3, Display: "VP"}, v1.Member{Value: id4, Display: "SenorVP"}))

		// "Patch add user4 to group1": an operation with a "name", a member with "displayName".
		addUser4 := fmt.Sprintf(`{
		    "schemas": [
		        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
		    ],
		    "Operations": [
		        {
		            "name": "addMember",
		            "op": "add",
		            "path": "members",
		            "value": [
		            	{
		            		"displayName":"new User",
		            		"value":%q
		            	}
		            	]
		        }
		    ]
		}`, id4)
		azure("PATCH", "/Groups/"+group1, addUser4).expectStatusIn(http.StatusOK, http.StatusNoContent)
		Expect(getRole(group1).Spec.Members).To(Equal([]v1.Member{{Value: id4, Display: "new User"}}))
		// "Patch remove user4 to group1"
		azure("PATCH", "/Groups/"+group1, fmt.Sprintf(`{
		    "schemas": [
		        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
		    ],
		    "Operations": [
		        {
		            "op": "remove",
		            "path": "members[value eq \"%s\"]"
		        }
		    ]
		}`, id4)).expectStatusIn(http.StatusOK, http.StatusNoContent)
		Expect(getRole(group1).Spec.Members).To(BeEmpty())
		// "Patch add user4 to group1", "Get group by id"
		azure("PATCH", "/Groups/"+group1, addUser4).expectStatusIn(http.StatusOK, http.StatusNoContent)
		r = azure("GET", "/Groups/"+group1, "").expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("id", group1))
		Expect(string(r.raw)).To(ContainSubstring("new User"))
		// "Patch remove all users", "Get group by id"
		azure("PATCH", "/Groups/"+group1, `{
		    "schemas": [
		        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
		    ],
		    "Operations": [
		        {
		            "op": "remove",
		            "path": "members"
		        }
		    ]
		}`).expectStatusIn(http.StatusOK, http.StatusNoContent)
		r = azure("GET", "/Groups/"+group1, "").expectStatus(http.StatusOK)
		Expect(string(r.raw)).NotTo(ContainSubstring("new User"))
		Expect(getRole(group1).Spec.Members).To(BeEmpty())

		// "Delete user id3", "Delete user id4": they leave every group.
		azure("DELETE", "/Users/"+id3, "").expectStatus(http.StatusNoContent)
		azure("DELETE", "/Users/"+id4, "").expectStatus(http.StatusNoContent)
		Expect(getRole(group2).Spec.Members).To(BeEmpty())
		Expect(getRole(group3).Spec.Members).To(BeEmpty())
		// "Delete group 1", "Delete group 2", "Delete group3"
		for _, gid := range []string{group1, group2, group3} {
			azure("DELETE", "/Groups/"+gid, "").expectStatus(http.StatusNoContent)
			expectNoObject(gid, &v1.ScimRole{})
		}
	})

	// msEmployee is the body of the "User tests with garbage" folder's employees, with a userName,
	// an active value as sent and the family name the folder's filters look for.
	msEmployee := func(userName, active, familyName string) string {
		return fmt.Sprintf(`{
		    "userName": %q,
		    "active": %s,
		    "addresses": [
		        {
		            "type": "work",
		            "primary": false
		        },
		        {
		            "type": "other",
		            "primary": false
		        }
		    ],
		    "displayName": "Kimberly Baker",
		    "emails": [
		        {
		            "type": "work",
		            "primary": true,
		            "value": "anna33@gmail.com"
		        },
		        {
		            "type": "work",
		            "primary": false,
		            "value": "anna33@example.com"
		        }
		    ],
		    "meta": {
		        "created": "2019-09-18T18:15:26.5788954+00:00",
		        "lastModified": "2019-09-18T18:15:26.5788976+00:00",
		        "resourceType": "User"
		    },
		    "name": {
		        "familyName": %q,
		        "givenName": "Darl",
		        "honorificPrefix": null,
		        "honorificSuffix": null
		    },
		    "phoneNumbers": [
		        {
		            "type": "fax",
		            "primary": false,
		            "value": "312-320-0500"
		        },
		        {
		            "type": "mobile",
		            "primary": false,
		            "value": "312-320-1707"
		        },
		        {
		            "type": "work",
		            "primary": true,
		            "value": "312-320-0932"
		        }
		    ],
		    "preferredLanguage": "xh",
		    "roles": [],
		    "title": "Site engineer",
		    "externalId": "22fbc523-6032-4c5f-939d-5d4850cf3e52",
		    "schemas": [
		        "urn:ietf:params:scim:schemas:core:2.0:User"
		    ]
		}`, userName, active, familyName)
	}
	// omalley is the folder's "OMalley" user: "Post user \"OMalley\"" (active true) and "Put a user
	// OMalley" (active false, addresses in Germany), with the given userName and id.
	omalley := func(userName, id string, put bool) string {
		active, country, idField := "true", "Bermuda", ""
		if put {
			active, country, idField = "false", "Germany", fmt.Sprintf(`"id": %q,`, id)
		}
		return fmt.Sprintf(`{
		    %s
		    "userName": %q,
		    "active": %s,
		    "addresses": [
		        {
		            "country": %q,
		            "formatted": "9132 Jennifer Way Suite 040\nSouth Nancy, MI 55645",
		            "locality": "West Mercedes",
		            "postalCode": "99265",
		            "region": "Montana",
		            "streetAddress": "4939 Hess Fork",
		            "type": "work",
		            "primary": false
		        },
		        {
		            "country": null,
		            "formatted": "18522 Lisa Unions\nEast Gregory, CT 52311",
		            "locality": null,
		            "postalCode": null,
		            "region": null,
		            "streetAddress": null,
		            "type": "other",
		            "primary": false
		        }
		    ],
		    "displayName": "Kimberly Baker",
		    "emails": [
		        {
		            "type": "work",
		            "primary": true,
		            "value": "anna33@example.com"
		        },
		        {
		            "type": "other",
		            "primary": false,
		            "value": "anna33@gmail.com"
		        }
		    ],
		    "meta": {
		        "created": "2019-09-18T18:15:26.5788954+00:00",
		        "lastModified": "2019-09-18T18:15:26.5788976+00:00",
		        "resourceType": "User"
		    },
		    "name": {
		        "formatted": "Daniel Mcgee",
		        "familyName": "OMalley",
		        "givenName": "Darl",
		        "honorificPrefix": null,
		        "honorificSuffix": null
		    },
		    "phoneNumbers": [
		        {
		            "type": "fax",
		            "primary": false,
		            "value": "312-320-0500"
		        },
		        {
		            "type": "mobile",
		            "primary": false,
		            "value": "312-320-1707"
		        },
		        {
		            "type": "work",
		            "primary": true,
		            "value": "312-320-0932"
		        }
		    ],
		    "preferredLanguage": "xh",
		    "roles": [],
		    "title": "Site engineer",
		    "externalId": "22fbc523-6032-4c5f-939d-5d4850cf3e52",
		    "schemas": [
		        "urn:ietf:params:scim:schemas:core:2.0:User"
		    ]
		}`, idField, userName, active, country)
	}

	It(`runs the "User tests with garbage" creates: string "True", no userName, junk, duplicates`, func() {
		prefix := unique("pm") + "-"
		family := unique("Employee")
		// "Post user \"OMalley\""
		r := azure("POST", "/Users", omalley(prefix+"OMalley", "", false)).expectStatus(http.StatusCreated)
		Expect(r.body).To(HaveKeyWithValue("userName", prefix+"OMalley"))
		Expect(r.body).To(HaveKeyWithValue("active", true))
		stored := getUser(r.str("id"))
		Expect(stored.Spec.Addresses).To(HaveLen(2))
		Expect(stored.Spec.Addresses[1]).To(Equal(v1.Address{Formatted: "18522 Lisa Unions\nEast Gregory, CT 52311", Type: "other"}), "nulls are left out")
		Expect(stored.Spec.PhoneNumbers).To(HaveLen(3))
		Expect(stored.Spec.Title).To(Equal("Site engineer"))
		Expect(stored.Spec.PreferredLanguage).To(Equal("xh"))

		// "Post emp1 with string \"True\"": Entra ID's boolean string, accepted on azure only.
		r = azure("POST", "/Users", msEmployee(prefix+"emp1", `"True"`, family)).expectStatus(http.StatusCreated)
		Expect(r.body).To(HaveKeyWithValue("active", true))
		expectActiveMarked(r.str("id"), "azure")
		users, _ := countObjects()
		scim("POST", "/Users", msEmployee(prefix+"emp1-generic", `"True"`, family)).expectError(http.StatusBadRequest, "invalidValue")
		after, _ := countObjects()
		Expect(after).To(Equal(users), "generic is strict")

		// "Post emp2", "Post emp3"
		azure("POST", "/Users", msEmployee(prefix+"emp2", "true", family)).expectStatus(http.StatusCreated)
		azure("POST", "/Users", msEmployee(prefix+"emp3", "true", family)).expectStatus(http.StatusCreated)
		users, _ = countObjects()
		// "Post no username"
		noUserName := strings.Replace(msEmployee("x", "true", family), `"userName": "x",`, "", 1)
		Expect(noUserName).NotTo(ContainSubstring("userName"))
		azure("POST", "/Users", noUserName).expectError(http.StatusBadRequest, "")
		// "Post junk"
		azure("POST", "/Users", `{
		    "acve": tre,
		    "adadfdresses": [
		        {
		            "coudftry": "Beruda",
		            "type": "work",
		            "primary": false
		        },
		        {
		          les": [],
		    "title": "Site engineer",
		    "externalId": "22fbc523-6032-4c5f-939d-5d4850cf3e52",
		    "schemas": [
		        "urn:ietf:params:scim:schemas:core:2.0:User"
		    ]
		}`).expectError(http.StatusBadRequest, "invalidSyntax")
		// "Post emp3 exists", "Post emp3 exists try again"
		for range 2 {
			r = azure("POST", "/Users", msEmployee(prefix+"emp3", "true", family)).expectError(http.StatusConflict, "uniqueness")
			Expect(string(r.raw)).To(ContainSubstring("detail"))
		}
		after, _ = countObjects()
		Expect(after).To(Equal(users), "rejected creates store nothing")
	})

	It(`runs the "User tests with garbage" updates: PUT without userName, PATCH with "Replace", PUT while suspended`, func() {
		prefix := unique("pm") + "-"
		id := azure("POST", "/Users", omalley(prefix+"OMalley", "", false)).expectStatus(http.StatusCreated).str("id")

		// "Put a user no username": "userame" instead of userName.
		before := getUser(id).ResourceVersion
		noUserName := strings.Replace(omalley(prefix+"OMalley", id, true), `"userName"`, `"userame"`, 1)
		azure("PUT", "/Users/"+id, noUserName).expectError(http.StatusBadRequest, "")
		Expect(getUser(id).ResourceVersion).To(Equal(before))

		// "Patch user omalley new username" and "patch user omalley active with boolean"; the
		// collection expects 204 for both, checked last.
		var statuses []int
		newName := prefix + "newusername"
		statuses = append(statuses, azure("PATCH", "/Users/"+id, fmt.Sprintf(`{ "schemas":
		       ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		     "Operations":[
		       {
		        "op":"Replace",
		        "path":"userName",
		        "value":%q
		       }]
		   }`, newName)).expectStatusIn(http.StatusOK, http.StatusNoContent).StatusCode)
		statuses = append(statuses, azure("PATCH", "/Users/"+id, `{ "schemas":
		       ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		     "Operations":[
		       {
		        "op":"Replace",
		        "path":"active",
		        "value": false
		       }]
		   }`).expectStatusIn(http.StatusOK, http.StatusNoContent).StatusCode)
		// "get user1"
		r := azure("GET", "/Users/"+id, "").expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("userName", newName))
		Expect(r.body).To(HaveKeyWithValue("active", false))
		expectSuspendedByProvider(id)

		// "Put a user OMalley": active false, addresses in Germany.
		r = azure("PUT", "/Users/"+id, omalley(prefix+"OMalley", id, true)).expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("userName", prefix+"OMalley"))
		Expect(r.body).To(HaveKeyWithValue("active", false))
		Expect(string(r.raw)).To(ContainSubstring("Germany"))
		Expect(getUser(id).Spec.Addresses[0].Country).To(Equal("Germany"))
		expectSuspendedByProvider(id)
		Expect(statuses).To(Equal([]int{http.StatusNoContent, http.StatusNoContent}), "the collection's PATCH statuses")
	})

	It(`runs "Put a user misspelled attribute": the collection expects 200 and the misspelled attribute dropped`, func() {
		prefix := unique("pm") + "-"
		id := azure("POST", "/Users", omalley(prefix+"OMalley", "", false)).expectStatus(http.StatusCreated).str("id")
		misspelled := strings.Replace(omalley(prefix+"OMalley", id, true), `"addresses"`, `"adreses"`, 1)
		r := azure("PUT", "/Users/"+id, misspelled).expectStatus(http.StatusOK)
		Expect(string(r.raw)).NotTo(ContainSubstring("Addresses"))
		Expect(string(r.raw)).NotTo(ContainSubstring("adreses"))
		Expect(getUser(id).Spec.Addresses).To(BeEmpty(), "PUT replaces: the addresses it does not send (under their name) are gone")
	})

	It(`runs the "User tests with garbage" queries: paging and unquoted filters`, func() {
		prefix := unique("pm") + "-"
		family := unique("Employee")
		azure("POST", "/Users", omalley(prefix+"OMalley", "", false)).expectStatus(http.StatusCreated)
		for _, n := range []string{"emp1", "emp2", "emp3", "enterprise"} {
			azure("POST", "/Users", msEmployee(prefix+n, "true", family)).expectStatus(http.StatusCreated)
		}
		users, _ := countObjects()

		// "Paginate"
		page := azure("GET", "/Users?startIndex=1&count=2", "").expectListOf(users, 1, 2)
		Expect(page).To(HaveLen(2))
		// "get user attributes"
		Expect(azure("GET", "/Users?attributes=userName,emails", "").expectStatus(http.StatusOK).body).
			To(HaveKeyWithValue("totalResults", BeNumerically("==", users)))
		// "filter eq and (val or val)", with the folder's family name made unique.
		azure("GET", "/Users?filter="+escapeQuery(fmt.Sprintf("name.FamilyName eq %s and (emails.Value co example.com or emails.Value co example.org)", family)), "").
			expectListOf(4, 1, 4)
		// "filter starts with"
		res := azure("GET", "/Users?filter="+escapeQuery("userName sw "+prefix+"O"), "").expectListOf(1, 1, 1)
		Expect(res[0]).To(HaveKeyWithValue("userName", prefix+"OMalley"))
		scim("GET", "/Users?filter="+escapeQuery("userName sw "+prefix+"O"), "").expectError(http.StatusBadRequest, "invalidFilter")
		// "filter greater than"
		Expect(azure("GET", "/Users?filter="+escapeQuery("meta.Created gt 2015-10-10T14:38:21.8617979-07:00"), "").expectStatus(http.StatusOK).body).
			To(HaveKeyWithValue("totalResults", BeNumerically("==", users)))
	})

	// msGroup is the folder's "Post group" body: no members.
	msGroup := func() string {
		GinkgoHelper()
		r := azure("POST", "/Groups", fmt.Sprintf(`{
		    "displayName": %q,
		    "externalId": "015489ea-9410-4306-b583-9f002b2446f7",
		    "schemas": [
		        "urn:ietf:params:scim:schemas:core:2.0:Group"
		    ]
		}`, unique("Group 1 "))).expectStatus(http.StatusCreated)
		Expect(r.body).To(HaveKeyWithValue("members", BeEmpty()))
		return r.str("id")
	}

	It(`runs the "Group tests with garbage": excludedAttributes, PUT without members, delete`, func() {
		// "Post group"
		gid := msGroup()
		expectMarkedBy(getRole(gid), "azure")

		// "Get group", "Get group exclude members"
		azure("GET", "/Groups/"+gid, "").expectStatus(http.StatusOK)
		r := azure("GET", "/Groups/"+gid+"?excludedAttributes=members", "").expectStatus(http.StatusOK)
		Expect(r.body).NotTo(HaveKey("members"))
		Expect(r.body).To(HaveKeyWithValue("id", gid))

		// "group put"
		tiffany := unique("Tiffany Ortiz ")
		r = azure("PUT", "/Groups/"+gid, fmt.Sprintf(`{
		    "id": %q,
		    "displayName": %q,
		    "externalId": "6c6b54c2-fa81-4234-ad4f-420ec6808049",
		    "schemas": [
		        "urn:ietf:params:scim:schemas:core:2.0:Group"
		    ]
		}`, gid, tiffany)).expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("displayName", tiffany))
		role := getRole(gid)
		Expect(role.Spec.DisplayName).To(Equal(tiffany))
		Expect(role.Spec.ExternalID).To(Equal("6c6b54c2-fa81-4234-ad4f-420ec6808049"))
		expectMarkedBy(role, "azure")

		// "Delete group 1"
		azure("DELETE", "/Groups/"+gid, "").expectStatus(http.StatusNoContent)
		expectNoObject(gid, &v1.ScimRole{})
	})

	It(`runs "Group patch add member" with a bare string that names no user: the collection expects 204 and no member`, func() {
		gid := msGroup()
		before := getRole(gid).ResourceVersion
		// "Group patch add member", "Group patch add member2"
		for _, member := range []string{"string id 1", "string id 2"} {
			azure("PATCH", "/Groups/"+gid, fmt.Sprintf(`{
			"id": %q,
		    "Operations": [
		        {
		         "op":"add",
		         "path": "members",
		         "value": %q
		        }
		    ],
		    "schemas": [
		        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
		    ]
		}`, gid, member)).expectStatus(http.StatusNoContent)
		}
		Expect(getRole(gid).Spec.Members).To(BeEmpty())
		Expect(getRole(gid).ResourceVersion).To(Equal(before))
	})
})
