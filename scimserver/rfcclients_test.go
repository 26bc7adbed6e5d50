package scimserver_test

import (
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// JumpCloud and OneLogin use the generic provider: their documentation describes RFC 7644 clients
// with no deviation that needs a fix. Their pages say which requests they make and, for OneLogin, the
// body (its SCIM JSON template); where a page names an operation but not its body, the spec sends
// the RFC 7644 form and says so.

var _ = Describe("JumpCloud's and OneLogin's requests (generic provider)", Label(conformanceLabel, suiteRFCClients), func() {
	patchOp := func(ops ...string) string {
		return `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [` + strings.Join(ops, ", ") + `]}`
	}
	lookupUser := func(userName string) *response {
		GinkgoHelper()
		return scim("GET", "/Users?filter="+escapeQuery(fmt.Sprintf("userName eq %q", userName)), "")
	}
	lookupGroup := func(displayName string) *response {
		GinkgoHelper()
		return scim("GET", "/Groups?filter="+escapeQuery(fmt.Sprintf("displayName eq %q", displayName)), "")
	}
	// jumpCloudUser is a user as JumpCloud's attribute mapping sends it: username, firstname,
	// lastname and email.
	// Source: https://jumpcloud.com/support/provision-and-manage-users-and-groups-in-apps-using-custom-scim-identity-management-integration
	jumpCloudUser := func(userName, given, family string, active bool) string {
		return fmt.Sprintf(`{
		    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
		    "userName": %[1]q,
		    "name": {"givenName": %[2]q, "familyName": %[3]q},
		    "displayName": "%[2]s %[3]s",
		    "emails": [{"value": %[1]q, "type": "work", "primary": true}],
		    "active": %[4]t
		}`, userName, given, family, active)
	}

	It("JumpCloud: tests the connection with a test user and group, provisions, updates and deprovisions users", func() {
		// Source: https://jumpcloud.com/support/provision-and-manage-users-and-groups-in-apps-using-custom-scim-identity-management-integration
		// ("A test user and test group are created to test the integration. Both will be deleted if
		// the DELETE method is supported"), with the test user email the admin gives.
		testUser := unique("jc.test") + "@example.test"
		lookupUser(testUser).expectListOf(0, 1, 0)
		tid := scim("POST", "/Users", jumpCloudUser(testUser, "Test", "User", true)).expectStatus(http.StatusCreated).str("id")
		// "Empty groups are not created": the test group is created with its member.
		testGroup := unique("JumpCloud Test Group ")
		tgid := scim("POST", "/Groups", fmt.Sprintf(`{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": %q, "members": [{"value": %q}]}`,
			testGroup, tid)).expectStatus(http.StatusCreated).str("id")
		Expect(storedMemberIDs(tgid)).To(Equal([]string{tid}))
		scim("DELETE", "/Groups/"+tgid, "").expectStatus(http.StatusNoContent)
		scim("DELETE", "/Users/"+tid, "").expectStatus(http.StatusNoContent)
		expectNoObject(tgid, &v1.ScimRole{})
		expectNoObject(tid, &v1.ScimUser{})
		lookupUser(testUser).expectListOf(0, 1, 0)

		// Same page, the events JumpCloud logs: user_lookup_provision (is the user there, to create
		// or update it), user_create_provision, user_update_provision, user_deprovision ("change an
		// existing user to inactive") and user_delete_provision.
		userName := unique("jc.user") + "@example.test"
		lookupUser(userName).expectListOf(0, 1, 0)
		r := scim("POST", "/Users", jumpCloudUser(userName, "Jane", "Cloud", true)).expectStatus(http.StatusCreated)
		id := r.str("id")
		Expect(r.body).To(And(HaveKeyWithValue("userName", userName), HaveKeyWithValue("displayName", "Jane Cloud"), HaveKeyWithValue("active", true)))
		expectActiveMarked(id, "generic")
		Expect(lookupUser(userName).expectListOf(1, 1, 1)[0]).To(HaveKeyWithValue("id", id))

		// The update body is not on the page: the RFC 7644 PATCH of the mapped attributes.
		scim("PATCH", "/Users/"+id, patchOp(`{"op": "replace", "path": "name.familyName", "value": "Cumulus"}`,
			`{"op": "replace", "path": "displayName", "value": "Jane Cumulus"}`)).expectStatus(http.StatusOK)
		u := getUser(id)
		Expect(u.Spec.Name.FamilyName).To(Equal("Cumulus"))
		Expect(u.Spec.DisplayName).To(Equal("Jane Cumulus"))

		// user_deprovision, as RFC 7644 writes it; a replace of the whole user with active false
		// does the same.
		r = scim("PATCH", "/Users/"+id, patchOp(`{"op": "replace", "path": "active", "value": false}`)).expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("active", false))
		expectSuspendedByProvider(id)
		scim("PUT", "/Users/"+id, jumpCloudUser(userName, "Jane", "Cumulus", true)).expectStatus(http.StatusOK)
		expectActiveMarked(id, "generic")
		scim("PUT", "/Users/"+id, jumpCloudUser(userName, "Jane", "Cumulus", false)).expectStatus(http.StatusOK)
		expectSuspendedByProvider(id)

		scim("DELETE", "/Users/"+id, "").expectStatus(http.StatusNoContent)
		expectNoObject(id, &v1.ScimUser{})
		lookupUser(userName).expectListOf(0, 1, 0)
	})

	It("JumpCloud: takes over a group of the same name, syncs membership and renames, deactivates members when the group leaves, deletes", func() {
		// Source: JumpCloud's "Group Management Considerations", as its SCIM connector articles
		// state them (e.g. https://jumpcloud.com/wp-json/wp/v2/support/85119, a JumpCloud support
		// article): JumpCloud takes over management of an existing group
		// whose name matches, syncs on every membership or group change, renames groups, and
		// deletes the groups deleted in JumpCloud.
		name := unique("Engineering ")
		gid := declareRole(name, "view")
		var ids []string
		for range 3 {
			ids = append(ids, scim("POST", "/Users", jumpCloudUser(unique("jc.eng")+"@example.test", "Eng", "Member", true)).
				expectStatus(http.StatusCreated).str("id"))
		}

		expectListed("generic", "/Groups?filter="+escapeQuery(fmt.Sprintf("displayName eq %q", name)), gid)
		found := lookupGroup(name).expectListOf(1, 1, 1)
		Expect(found[0]).To(HaveKeyWithValue("id", gid))
		member := func(id string) string { return fmt.Sprintf(`{"value": %q}`, id) }
		r := scim("PATCH", "/Groups/"+gid, patchOp(fmt.Sprintf(`{"op": "add", "path": "members", "value": [%s, %s]}`, member(ids[0]), member(ids[1])))).
			expectStatus(http.StatusOK)
		Expect(r.body["members"]).To(ConsistOf(HaveKeyWithValue("value", ids[0]), HaveKeyWithValue("value", ids[1])))
		expectMarkedBy(getRole(gid), "generic")

		// JumpCloud removes members with a value list and no filter, as Entra ID's default dialect
		// does (observed by https://app.uni-moni.com/en/kb/sso-setup-jumpcloud); every path takes
		// it and removes just those members.
		scim("PATCH", "/Groups/"+gid, patchOp(fmt.Sprintf(`{"op": "remove", "path": "members", "value": [%s]}`, member(ids[0])),
			fmt.Sprintf(`{"op": "add", "path": "members", "value": [%s]}`, member(ids[2])))).expectStatus(http.StatusOK)
		Expect(storedMemberIDs(gid)).To(ConsistOf(ids[1], ids[2]))

		renamed := unique("Engineering Renamed ")
		scim("PATCH", "/Groups/"+gid, patchOp(fmt.Sprintf(`{"op": "replace", "path": "displayName", "value": %q}`, renamed))).expectStatus(http.StatusOK)
		lookupGroup(name).expectListOf(0, 1, 0)
		Expect(lookupGroup(renamed).expectListOf(1, 1, 1)[0]).To(HaveKeyWithValue("id", gid))
		role := getRole(gid)
		Expect(role.Spec.DisplayName).To(Equal(renamed))
		Expect(role.Spec.Access).To(Equal(&v1.Access{ClusterRoles: []string{"view"}}), "what the role grants stays Git's")

		// Disassociated from the application, the group is left as it is and its members are
		// deactivated.
		for _, id := range storedMemberIDs(gid) {
			scim("PATCH", "/Users/"+id, patchOp(`{"op": "replace", "path": "active", "value": false}`)).expectStatus(http.StatusOK)
			expectSuspendedByProvider(id)
		}
		Expect(storedMemberIDs(gid)).To(ConsistOf(ids[1], ids[2]))

		scim("DELETE", "/Groups/"+gid, "").expectStatus(http.StatusNoContent)
		expectNoObject(gid, &v1.ScimRole{})
		scim("GET", "/Users/"+ids[1], "").expectStatus(http.StatusOK)
	})

	// oneLoginUser is the body of OneLogin's "SCIM Provisioner with SAML (SCIM v2 Enterprise)"
	// connector: its SCIM JSON template with OneLogin's parameters filled in; an empty parameter is
	// an empty string.
	// Source: https://onelogin.service-now.com/kb?id=kb_article_view&sysparm_article=KB0013904
	// (parameters and their API names) and the template of
	// https://www.livingsecurity.com/migration/support/configuring-scim-for-onelogin.
	oneLoginUser := func(userName, title, department, managerID, managerName string) string {
		return fmt.Sprintf(`{
		    "schemas": [
		        "urn:ietf:params:scim:schemas:core:2.0:User",
		        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
		    ],
		    "userName": %[1]q,
		    "name": {
		        "familyName": "Login",
		        "givenName": "One"
		    },
		    "title": %[2]q,
		    "userType": "",
		    "timezone": "",
		    "emails": [
		        {
		            "value": %[1]q,
		            "type": "work",
		            "primary": true
		        }
		    ],
		    "addresses": [
		        {
		            "locality": "San Francisco",
		            "region": "CA",
		            "country": "US"
		        }
		    ],
		    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
		        "organization": "",
		        "division": "",
		        "department": %[3]q,
		        "manager": {
		            "value": %[4]q,
		            "displayName": %[5]q
		        }
		    }
		}`, userName, title, department, managerID, managerName)
	}

	It("OneLogin: provisions a user from the SCIM v2 Enterprise template, empty parameters included, and updates and suspends it", func() {
		managerName := unique("one.manager") + "@example.test"
		manager := scim("POST", "/Users", oneLoginUser(managerName, "Director", "Sales", "", " ")).expectStatus(http.StatusCreated).str("id")
		m := getUser(manager)
		Expect(m.Spec.Title).To(Equal("Director"))
		Expect(m.Spec.Enterprise).NotTo(BeNil())
		Expect(m.Spec.Enterprise.Department).To(Equal("Sales"))

		userName := unique("one.user") + "@example.test"
		lookupUser(userName).expectListOf(0, 1, 0)
		r := scim("POST", "/Users", oneLoginUser(userName, "Engineer", "R&D", manager, "Manager Person")).expectStatus(http.StatusCreated)
		id := r.str("id")
		Expect(r.body).To(HaveKeyWithValue("title", "Engineer"))
		Expect(r.body["addresses"]).To(ConsistOf(map[string]any{"locality": "San Francisco", "region": "CA", "country": "US"}))
		// The manager's displayName is readOnly (RFC 7643 §4.3): what OneLogin sends is ignored.
		Expect(r.body[idpEnterpriseURN]).To(And(HaveKeyWithValue("department", "R&D"), HaveKeyWithValue("manager", HaveKeyWithValue("value", manager))))
		u := getUser(id)
		Expect(u.Spec.Enterprise.Manager).To(HaveField("Value", manager))
		expectActiveMarked(id, "generic")

		// OneLogin fills the same template for an update; the page gives no method, so it goes as
		// the RFC 7644 replace of the whole user.
		r = scim("PUT", "/Users/"+id, oneLoginUser(userName, "Staff Engineer", "R&D", manager, "Manager Person")).expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("title", "Staff Engineer"))
		Expect(getUser(id).Spec.Title).To(Equal("Staff Engineer"))

		// OneLogin's provisioning action for a user removed from the app can be "Suspend": the user
		// becomes inactive.
		r = scim("PATCH", "/Users/"+id, patchOp(`{"op": "replace", "path": "active", "value": false}`)).expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("active", false))
		expectSuspendedByProvider(id)
	})

	It(`OneLogin: a template that quotes a boolean ("active": "{$user.active}") is refused on generic, storing nothing`, func() {
		// Some published templates map active as "{$user.active}", which OneLogin renders as the
		// string "true": not a boolean in RFC 7643, so generic refuses it with a clear 400. The fix
		// is the template (OneLogin sets active itself), not a looser generic path.
		// Source: https://doc.keepnetlabs.com/Next-Generation-Product/modules/company/company-settings/scim-settings/onelogin-scim-integration
		userName := unique("one.quoted") + "@example.test"
		body := strings.Replace(oneLoginUser(userName, "", "", "", ""), `"userName":`, `"active": "true", "userName":`, 1)
		users, roles := countObjects()
		scim("POST", "/Users", body).expectError(http.StatusBadRequest, "invalidValue")
		usersAfter, rolesAfter := countObjects()
		Expect([]int{usersAfter, rolesAfter}).To(Equal([]int{users, roles}), "nothing stored")
		lookupUser(userName).expectListOf(0, 1, 0)
	})

	It("OneLogin: refreshes entitlements from the groups there are, and assigns users to them by rule", func() {
		// OneLogin does not create groups: "Refresh Entitlements" reads the app's groups, and rules
		// assign users to them.
		// Source: https://developers.onelogin.com/scim/create-app
		name := unique("OneLogin Admins ")
		gid := declareRole(name, "edit")

		expectListed("generic", "/Groups?filter="+escapeQuery(fmt.Sprintf("displayName eq %q", name)), gid)
		// The role was declared without SCIM, so no write waited for the cache: pages follow the
		// order of names, which the informer's handler keeps a moment after its indexer (the
		// filter above reads the indexer), as a refresh right after a kubectl write may see.
		Eventually(func() map[string]string {
			seen := map[string]string{}
			for start := 1; ; start += 100 {
				r := scim("GET", fmt.Sprintf("/Groups?startIndex=%d&count=100", start), "").expectStatus(http.StatusOK)
				page := r.listedResources()
				for _, g := range page {
					seen[g["id"].(string)] = g["displayName"].(string)
				}
				if len(page) < 100 {
					return seen
				}
			}
		}).Should(HaveKeyWithValue(gid, name))

		a := scim("POST", "/Users", oneLoginUser(unique("one.a")+"@example.test", "", "", "", "")).expectStatus(http.StatusCreated).str("id")
		b := scim("POST", "/Users", oneLoginUser(unique("one.b")+"@example.test", "", "", "", "")).expectStatus(http.StatusCreated).str("id")
		// The membership bodies are not on the page: RFC 7644's add, and remove by a value filter.
		scim("PATCH", "/Groups/"+gid, patchOp(fmt.Sprintf(`{"op": "add", "path": "members", "value": [{"value": %q}, {"value": %q}]}`, a, b))).
			expectStatus(http.StatusOK)
		Expect(storedMemberIDs(gid)).To(ConsistOf(a, b))
		scim("PATCH", "/Groups/"+gid, patchOp(fmt.Sprintf(`{"op": "remove", "path": "members[value eq \"%s\"]"}`, a))).expectStatus(http.StatusOK)
		Expect(storedMemberIDs(gid)).To(Equal([]string{b}))
		role := getRole(gid)
		expectMarkedBy(role, "generic")
		Expect(role.Spec.Access).To(Equal(&v1.Access{ClusterRoles: []string{"edit"}}))
		Expect(scim("GET", "/Users/"+b, "").expectStatus(http.StatusOK).body["groups"]).To(ContainElement(HaveKeyWithValue("value", gid)))
	})
})
