package scimserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

var _ = Describe("Microsoft Entra ID's requests (azure provider)", Label(conformanceLabel, suiteEntra), func() {
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
		Expect(stored.Spec.Emails).To(Equal([]v1.MultiValuedAttribute{{Value: email, Type: "work", Primary: new(true)}}))
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
		Expect(stored.Spec.Emails).To(Equal([]v1.MultiValuedAttribute{{Value: "updatedEmail@microsoft.com", Type: "work", Primary: new(true)}}))
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
		before := writtenBySCIM(getUser(id))
		scim("PATCH", "/Users/"+id, disable).expectError(http.StatusBadRequest, "")
		scim("PATCH", "/Users/"+id, strings.Replace(disable, `"Replace"`, `"replace"`, 1)).expectError(http.StatusBadRequest, "invalidValue")
		Expect(writtenBySCIM(getUser(id))).To(Equal(before), "a rejected PATCH writes nothing")
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
		Expect(u.Spec.Emails).To(Equal([]v1.MultiValuedAttribute{{Value: "TestBcwqnm@test.microsoft.com", Type: "work", Primary: new(true)}}))
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
		Expect(u.Spec.Emails).To(Equal([]v1.MultiValuedAttribute{{Value: "TestMhvaes@test.microsoft.com", Type: "work", Primary: new(true)}}))
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

	// aadOptscim062020 is the flag Entra ID's tenant URL takes for its SCIM-compliant PATCH
	// requests; the specs above send the default dialect, these the flagged one.
	// Source: https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
	// ("Flags to alter the SCIM behavior", each request "With feature flag").
	It("serves the aadOptscim062020 dialect: lower-case ops and booleans for users, members[value eq] removal, 204s", func() {
		id := entraCreate("Test_User_"+idpGUID(), idpGUID(), "Test_User_"+idpGUID()+"@testuser.com")
		// "Requests made to add a single-value string attribute", with feature flag.
		r := azure("PATCH", "/Users/"+id, `{
		    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		    "Operations": [
		      {
		        "op": "add",
		        "path": "nickName",
		        "value": "Babs"
		      }
		    ]
		}`).expectStatus(http.StatusNoContent)
		Expect(r.raw).To(BeEmpty())
		Expect(getUser(id).Spec.NickName).To(Equal("Babs"))

		// "Requests made to disable users", with feature flag: a real boolean.
		disable := `{
		    "schemas": [
		        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
		    ],
		    "Operations": [
		        {
		            "op": "replace",
		            "path": "active",
		            "value": false
		        }
		    ]
		}`
		azure("PATCH", "/Users/"+id, disable).expectStatus(http.StatusNoContent)
		expectSuspendedByProvider(id)
		Expect(azure("GET", "/Users/"+id, "").expectStatus(http.StatusOK).body).To(HaveKeyWithValue("active", false))
		azure("PATCH", "/Users/"+id, strings.Replace(disable, "false", "true", 1)).expectStatus(http.StatusNoContent)
		expectActiveMarked(id, "azure")

		// "Requests made to remove a group member", with feature flag, on a group Entra ID created
		// empty and filled with lower-case adds.
		stays := entraCreate("Test_User_"+idpGUID(), idpGUID(), "Test_User_"+idpGUID()+"@testuser.com")
		gid := azure("POST", "/Groups", fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
		    "externalId": %q,
		    "displayName": %q,
		    "meta": {"resourceType": "Group"}
		}`, idpGUID(), unique("displayName "))).expectStatus(http.StatusCreated).str("id")
		Expect(getRole(gid).Spec.Members).To(BeEmpty())
		azure("PATCH", "/Groups/"+gid, fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		    "Operations": [{"op": "add", "path": "members", "value": [{"value": %q}, {"value": %q}]}]
		}`, id, stays)).expectStatus(http.StatusNoContent)
		Expect(storedMemberIDs(gid)).To(ConsistOf(id, stays))
		remove := fmt.Sprintf(`{
		    "schemas": [
		        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
		    ],
		    "Operations": [
		        {
		            "op": "remove",
		            "path": "members[value eq \"%s\"]"
		        }
		    ]
		}`, id)
		azure("PATCH", "/Groups/"+gid, remove).expectStatus(http.StatusNoContent)
		Expect(storedMemberIDs(gid)).To(Equal([]string{stays}))
		before := writtenBySCIM(getRole(gid))
		azure("PATCH", "/Groups/"+gid, remove).expectStatus(http.StatusNoContent)
		Expect(writtenBySCIM(getRole(gid))).To(Equal(before), "removing a member that is gone writes nothing")
		Expect(azure("GET", "/Groups/"+gid, "").expectStatus(http.StatusOK).body["members"]).To(ConsistOf(HaveKeyWithValue("value", stays)))
	})

	It("takes the manager as a bare id in an aadOptscim062020 no-path replace, which generic refuses", func() {
		manager := entraCreate("Test_User_"+idpGUID(), idpGUID(), "Test_User_"+idpGUID()+"@testuser.com")
		id := entraCreate("Test_User_"+idpGUID(), idpGUID(), "Test_User_"+idpGUID()+"@testuser.com")
		// With the flag, Entra ID gathers single-valued replaces into one no-path replace whose keys
		// are attribute paths ("Requests to replace multiple attributes", with feature flag, on the
		// page above); it sends the manager as the manager's id, not as {"value": id}.
		// Source: https://learn.microsoft.com/en-us/answers/questions/188003/scim-user-provisioning-setup-with-manager-attribut
		body := fmt.Sprintf(`{
		    "schemas": [
		        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
		    ],
		    "Operations": [
		        {
		            "op": "replace",
		            "value": {
		                "displayName": "Bjfe",
		                "name.givenName": "Kkom",
		                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Aklq",
		                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": %q
		            }
		        }
		    ]
		}`, manager)
		before := writtenBySCIM(getUser(id))
		scim("PATCH", "/Users/"+id, body).expectError(http.StatusBadRequest, "invalidValue")
		Expect(writtenBySCIM(getUser(id))).To(Equal(before), "a rejected PATCH writes nothing")

		azure("PATCH", "/Users/"+id, body).expectStatus(http.StatusNoContent)
		u := getUser(id)
		Expect(u.Spec.DisplayName).To(Equal("Bjfe"))
		Expect(u.Spec.Name.GivenName).To(Equal("Kkom"))
		Expect(u.Spec.Enterprise).NotTo(BeNil())
		Expect(u.Spec.Enterprise.Department).To(Equal("Aklq"))
		Expect(u.Spec.Enterprise.Manager).To(HaveField("Value", manager))
		r := azure("GET", "/Users/"+id, "").expectStatus(http.StatusOK)
		Expect(r.body[idpEnterpriseURN]).To(And(HaveKeyWithValue("department", "Aklq"), HaveKeyWithValue("manager", HaveKeyWithValue("value", manager))))

		// The RFC 7643 form, {"value": id}, is what generic takes.
		rfc := strings.Replace(body, fmt.Sprintf("%q", manager), fmt.Sprintf(`{"value": %q}`, manager), 1)
		r = scim("PATCH", "/Users/"+id, strings.Replace(rfc, "Bjfe", "Pvlo", 1)).expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("displayName", "Pvlo"))
		Expect(r.body[idpEnterpriseURN]).To(HaveKeyWithValue("manager", HaveKeyWithValue("value", manager)))
		expectActiveMarked(id, "generic")
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
