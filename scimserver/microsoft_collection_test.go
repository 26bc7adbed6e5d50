package scimserver_test

import (
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

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
			map[string]any{"primary": false, "type": "home", "value": "testinghome@bob.com"}), "sub-attribute names are case-insensitive; primary: false round-trips")
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
		Expect(stored.Spec.Addresses[1]).To(Equal(v1.Address{Formatted: "18522 Lisa Unions\nEast Gregory, CT 52311", Type: "other", Primary: new(false)}),
			"nulls are left out; primary: false is kept")
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
