package scimserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

var _ = Describe("Users", func() {
	It("creates a user as StrongDM does: 201, Location, derived attributes, stored as a marked ScimUser", func() {
		name := unique("create") + "@example.test"
		r := scim("POST", "/Users", userBody(name, "Firstname", "Lastname")).expectStatus(http.StatusCreated)
		id := r.str("id")
		Expect(id).To(MatchRegexp(`^a-[0-9a-f]{16}$`))
		Expect(r.Header.Get("Content-Type")).To(HavePrefix("application/scim+json"))
		Expect(r.Header.Get("Location")).To(Equal(server.URL + "/provisioning/generic/v2/Users/" + id))
		Expect(r.Header.Get("ETag")).To(HavePrefix(`W/"`))
		Expect(r.body).To(HaveKeyWithValue("displayName", "Firstname Lastname"))
		Expect(r.body).To(HaveKeyWithValue("userType", "user"))
		Expect(r.body).To(HaveKeyWithValue("active", true))
		Expect(r.body).To(HaveKeyWithValue("groups", BeEmpty()))
		Expect(r.body["name"]).To(HaveKeyWithValue("formatted", "Firstname Lastname"))
		Expect(r.body["emails"]).To(ConsistOf(map[string]any{"value": name, "primary": true}))
		Expect(r.body["meta"]).To(And(HaveKeyWithValue("resourceType", "User"), HaveKeyWithValue("location", "Users/"+id)))
		Expect(r.body["schemas"]).To(ConsistOf("urn:ietf:params:scim:schemas:core:2.0:User"))

		u := getUser(id)
		Expect(u.Spec.UserName).To(Equal(name))
		Expect(u.Labels).To(HaveKeyWithValue(v1.LabelManagedBy, "generic"))

		got := scim("GET", "/Users/"+id, "").expectStatus(http.StatusOK)
		Expect(got.body).To(Equal(r.body), "a client reads its own write")
	})

	It("round-trips every advertised attribute, the enterprise extension included", func() {
		body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		  "userName":"` + unique("full") + `","externalId":"ext-1","active":true,
		  "name":{"formatted":"Ms. Barbara J Jensen III","familyName":"Jensen","givenName":"Barbara","middleName":"Jane","honorificPrefix":"Ms.","honorificSuffix":"III"},
		  "displayName":"Babs Jensen","nickName":"Babs","profileUrl":"https://login.example.com/bjensen","title":"Tour Guide",
		  "userType":"Employee","preferredLanguage":"en-US","locale":"en-US","timezone":"America/Los_Angeles",
		  "emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],
		  "phoneNumbers":[{"value":"555-555-5555","type":"work"}],"ims":[{"value":"someaimhandle","type":"aim"}],
		  "photos":[{"value":"https://photos.example.com/profilephoto/72930000000Ccne/F","type":"photo"}],
		  "addresses":[{"type":"work","streetAddress":"100 Universal City Plaza","locality":"Hollywood","region":"CA","postalCode":"91608","country":"USA","formatted":"100 Universal City Plaza\nHollywood, CA 91608 USA","primary":true}],
		  "entitlements":[{"value":"e1"}],"roles":[{"value":"r1","display":"R1"}],"x509Certificates":[{"value":"MIIDQzCC"}],
		  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","costCenter":"4130","organization":"Universal Studios","division":"Theme Park","department":"Tour Operations","manager":{"value":"a-26118915-6090-4610-87e4-49d8ca9f808d"}}}`
		r := scim("POST", "/Users", body).expectStatus(http.StatusCreated)
		var sent map[string]any
		Expect(jsonUnmarshal(body, &sent)).To(Succeed())
		for k, v := range sent {
			if k == "schemas" {
				continue
			}
			Expect(r.body).To(HaveKeyWithValue(k, v), "attribute %s", k)
		}
		Expect(r.body["schemas"]).To(ConsistOf("urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"))
		u := getUser(r.str("id"))
		Expect(u.Spec.Enterprise.Department).To(Equal("Tour Operations"))
		Expect(u.Spec.Addresses[0].Locality).To(Equal("Hollywood"))
	})

	It("rejects a duplicate userName, compared case-insensitively, with 409 uniqueness", func() {
		name := unique("Dup")
		createUser(name)
		before, _ := countObjects()
		r := scim("POST", "/Users", userBody(strings.ToUpper(name), "A", "B")).expectError(http.StatusConflict, "uniqueness")
		Expect(r.str("detail")).To(ContainSubstring("already in use"))
		after, _ := countObjects()
		Expect(after).To(Equal(before))
	})

	It("lists with filter, startIndex and count; itemsPerPage is the number returned", func() {
		prefix := unique("page")
		for i := 0; i < 5; i++ {
			createUser(fmt.Sprintf("%s-%d@example.test", prefix, i))
		}
		f := url.QueryEscape(fmt.Sprintf(`userName sw "%s-"`, prefix))
		r := scim("GET", "/Users?filter="+f+"&startIndex=0&count=2", "").expectStatus(http.StatusOK)
		Expect(r.body["schemas"]).To(ConsistOf("urn:ietf:params:scim:api:messages:2.0:ListResponse"))
		Expect(r.body["totalResults"]).To(BeNumerically("==", 5))
		Expect(r.body["startIndex"]).To(BeNumerically("==", 1), "startIndex 0 is read as 1")
		Expect(r.body["itemsPerPage"]).To(BeNumerically("==", 2))
		Expect(r.body["Resources"]).To(HaveLen(2))
		r = scim("GET", "/Users?filter="+f+"&startIndex=5&count=2", "").expectStatus(http.StatusOK)
		Expect(r.body["itemsPerPage"]).To(BeNumerically("==", 1))
		r = scim("GET", "/Users?filter="+f+"&startIndex=9", "").expectStatus(http.StatusOK)
		Expect(r.body["itemsPerPage"]).To(BeNumerically("==", 0))
		Expect(r.body["Resources"]).To(BeEmpty())

		eq := url.QueryEscape(fmt.Sprintf(`userName eq "%s-3@EXAMPLE.test"`, strings.ToUpper(prefix)))
		r = scim("GET", "/Users?filter="+eq, "").expectStatus(http.StatusOK)
		Expect(r.body["totalResults"]).To(BeNumerically("==", 1), "userName is compared case-insensitively")

		r = scim("GET", "/Users?count=1000000000", "").expectStatus(http.StatusOK)
		Expect(r.body["itemsPerPage"]).To(BeNumerically("<=", 100), "count is capped at filter.maxResults")
	})

	It("supports the full filter grammar, sorting and attribute projection", func() {
		prefix := unique("grammar")
		body := func(n int, dept string) string {
			return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s-%d","title":"T%d",
			  "emails":[{"value":"%s-%d@corp.example.com","type":"work"}],
			  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":%q}}`, prefix, n, n, prefix, n, dept)
		}
		for i, d := range []string{"Sales", "Ops", "Sales"} {
			scim("POST", "/Users", body(i, d)).expectStatus(http.StatusCreated)
		}
		list := func(filter string, extra ...string) *response {
			GinkgoHelper()
			q := "/Users?filter=" + url.QueryEscape(filter)
			for _, e := range extra {
				q += "&" + e
			}
			return scim("GET", q, "").expectStatus(http.StatusOK)
		}
		p := fmt.Sprintf(`userName sw "%s-"`, prefix)
		Expect(list(p + ` and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales"`).body["totalResults"]).To(BeNumerically("==", 2))
		Expect(list(p + ` and not (title eq "T1")`).body["totalResults"]).To(BeNumerically("==", 2))
		Expect(list(p + ` and emails[type eq "work" and value co "@corp.example.com"]`).body["totalResults"]).To(BeNumerically("==", 3))
		Expect(list(p + ` and (title eq "T0" or title eq "T2")`).body["totalResults"]).To(BeNumerically("==", 2))
		Expect(list(p + ` and title pr and title gt "T0"`).body["totalResults"]).To(BeNumerically("==", 2))

		r := list(p, "sortBy=title", "sortOrder=descending", "attributes=title")
		res := r.body["Resources"].([]any)
		Expect(res[0]).To(HaveKeyWithValue("title", "T2"))
		Expect(res[0]).NotTo(HaveKey("emails"))
		Expect(res[0]).To(HaveKey("id"))
		Expect(res[0]).To(HaveKey("userName"), "userName is returned always")
		r = list(p, "excludedAttributes=emails,groups")
		Expect(r.body["Resources"].([]any)[0]).NotTo(HaveKey("emails"))

		r = list(p, `attributes=`+url.QueryEscape(`emails[type eq "work"],title`))
		Expect(r.body["Resources"].([]any)[0]).To(HaveKeyWithValue("emails", HaveLen(1)))
		r = list(p, `attributes=`+url.QueryEscape(`emails.type,emails[type eq "work"]`))
		Expect(r.body["Resources"].([]any)[0]).To(HaveKeyWithValue("emails", ConsistOf(HaveKeyWithValue("value", ContainSubstring("@corp.example.com")))))
		r = list(p, `excludedAttributes=`+url.QueryEscape(`emails[type eq "work"]`))
		Expect(r.body["Resources"].([]any)[0]).To(HaveKeyWithValue("emails", BeEmpty()))
		Expect(scim("GET", "/users?filter="+url.QueryEscape(p), "").expectStatus(http.StatusOK).body["totalResults"]).
			To(BeNumerically("==", 3), "endpoint names are case-insensitive")

		s := scim("POST", "/Users/.search", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":%q,"count":1}`, p)).expectStatus(http.StatusOK)
		Expect(s.body["totalResults"]).To(BeNumerically("==", 3))
		Expect(s.body["itemsPerPage"]).To(BeNumerically("==", 1))
	})

	It("replaces a user with PUT, StrongDM's body including id and meta", func() {
		name := unique("put")
		id := createUser(name)
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"name":{"givenName":"New","familyName":"Name"},"id":%q,"meta":{"resourceType":"User","location":"Users/%s"},"active":true}`, name+"-renamed", id, id)
		r := scim("PUT", "/Users/"+id, body).expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("userName", name+"-renamed"))
		Expect(getUser(id).Spec.Name.GivenName).To(Equal("New"))
		scim("PUT", "/Users/"+id, strings.Replace(body, `"id":"`+id, `"id":"a-other`, 1)).expectError(http.StatusBadRequest, "mutability")
		scim("PUT", "/Users/a-ffffffffffffffff", userBody(name, "A", "B")).expectError(http.StatusNotFound, "")
	})

	It("patches with StrongDM's no-path form and with paths; 204 when nothing changes", func() {
		id := createUser(unique("patch") + "@example.test")
		patch := func(ops string) *response {
			return scim("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+ops+`]}`)
		}
		patch(`{"op":"replace","value":{"active":true}}`).expectStatus(http.StatusNoContent)
		r := patch(`{"op":"replace","path":"name.givenName","value":"Changed"}`).expectStatus(http.StatusOK)
		Expect(r.body["name"]).To(HaveKeyWithValue("givenName", "Changed"))
		patch(`{"op":"add","path":"emails","value":[{"value":"w@example.test","type":"work"}]}`).expectStatus(http.StatusOK)
		r = patch(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"w2@example.test"}`).expectStatus(http.StatusOK)
		Expect(r.body["emails"]).To(ContainElement(HaveKeyWithValue("value", "w2@example.test")))
		Expect(getUser(id).Spec.Emails).To(ContainElement(HaveField("Value", "w2@example.test")))
		patch(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"w2@example.test"}`).expectStatus(http.StatusNoContent)
		patch(`{"op":"replace","path":"nope","value":"x"}`).expectError(http.StatusBadRequest, "invalidPath")
		patch(`{"op":"remove"}`).expectError(http.StatusBadRequest, "noTarget")
		patch(`{"op":"replace","path":"groups","value":[{"value":"r-0000000000000001"}]}`).expectError(http.StatusBadRequest, "mutability")
	})

	It("deletes a user and removes it from every role's members", func() {
		id := createUser(unique("del"))
		other := createUser(unique("keep"))
		g1 := createGroup(unique("g"), id, other)
		g2 := createGroup(unique("g"), id)
		scim("DELETE", "/Users/"+id, "").expectStatus(http.StatusNoContent)
		scim("GET", "/Users/"+id, "").expectError(http.StatusNotFound, "")
		Expect(getRole(g1).Spec.Members).To(ConsistOf(HaveField("Value", other)))
		Expect(getRole(g2).Spec.Members).To(BeEmpty())
		scim("DELETE", "/Users/"+id, "").expectError(http.StatusNotFound, "")
	})

	It("treats a user whose deletion waits on its finalizer as gone, and creates its userName anew", func() {
		name := unique("terminating")
		id := createUser(name)
		Expect(getUser(id).Finalizers).To(ContainElement(v1.FinalizerAccess), "set by the store on create")
		// A second finalizer holds the object as the operator's clean-up would while it runs.
		held := getUser(id)
		held.Finalizers = append(held.Finalizers, "example.com/hold")
		Expect(k8sClient.Update(ctx, held)).To(Succeed())
		DeferCleanup(func() {
			u := &v1.ScimUser{}
			if k8sClient.Get(ctx, client.ObjectKey{Name: id}, u) == nil {
				u.Finalizers = nil
				Expect(client.IgnoreNotFound(k8sClient.Update(ctx, u))).To(Succeed())
			}
		})
		group := createGroup(unique("terminating"))

		scim("DELETE", "/Users/"+id, "").expectStatus(http.StatusNoContent)
		Expect(getUser(id).DeletionTimestamp).NotTo(BeNil(), "still stored, being deleted")
		scim("GET", "/Users/"+id, "").expectError(http.StatusNotFound, "")
		scim("DELETE", "/Users/"+id, "").expectError(http.StatusNotFound, "")
		scim("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"title":"x"}}]}`).
			expectError(http.StatusNotFound, "")
		Expect(scim("GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", name)), "").body["totalResults"]).To(BeEquivalentTo(0))
		scim("PATCH", "/Groups/"+group, groupPatch(fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":%q}]}`, id))).
			expectError(http.StatusNotFound, "")

		again := createUser(name)
		Expect(again).NotTo(Equal(id), "the next id of the userName's sequence")
		scim("GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", name)), "").expectStatus(http.StatusOK)
	})

	It("does not let a re-created user inherit the roles of one deleted with kubectl", func() {
		name := unique("recreated")
		id := createUser(name)
		group := createGroup(unique("inherit"), id)
		Expect(k8sClient.Delete(ctx, getUser(id))).To(Succeed()) // kubectl: the role keeps the id
		// This suite's stand-in for the controllers releases the finalizer without the clean-up.
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKey{Name: id}, &v1.ScimUser{}) }).Should(
			Satisfy(apierrors.IsNotFound), "the deletion completes")
		Expect(createUser(name)).To(Equal(id), "ids derive from userName")
		Expect(getRole(group).Spec.Members).To(BeEmpty())
		Expect(scim("GET", "/Users/"+id, "").body["groups"]).To(BeEmpty())
	})

	It("gives a userName freed by a rename a new id, leaving the renamed user its roles", func() {
		name := unique("moved")
		id := createUser(name)
		group := createGroup(unique("moved-group"), id)
		scim("PUT", "/Users/"+id, userBody(name+"-new", "G", "F")).expectStatus(http.StatusOK)
		second := createUser(name)
		Expect(second).NotTo(Equal(id))
		Expect(getRole(group).Spec.Members).To(ConsistOf(HaveField("Value", id)))
		scim("POST", "/Users", userBody(name, "G", "F")).expectError(http.StatusConflict, "uniqueness")
	})

	It("serves users declared with kubectl; their name is their id", func() {
		u := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: unique("declared-")}, Spec: v1.ScimUserSpec{UserName: unique("declared@")}}
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		Eventually(func() int { return scim("GET", "/Users/"+u.Name, "").StatusCode }).Should(Equal(http.StatusOK))
		r := scim("GET", "/Users/"+u.Name, "").expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("id", u.Name))
		Expect(getUser(u.Name).Labels).NotTo(HaveKey(v1.LabelManagedBy), "GET marks nothing")
	})

	It("honours If-Match with the weak ETag", func() {
		id := createUser(unique("etag"))
		etag := scim("GET", "/Users/"+id, "").Header.Get("ETag")
		body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"x"}]}`
		scim("PATCH", "/Users/"+id, body, "If-Match", `W/"1"`).expectError(http.StatusPreconditionFailed, "")
		scim("PATCH", "/Users/"+id, body, "If-Match", etag).expectStatus(http.StatusOK)
	})
})

var _ = Describe("The rules at the SCIM boundary", func() {
	It("suspends on active: false, recording the provider, and reactivates with marking", func() {
		id := createUser(unique("susp"))
		patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":%v}}]}`
		r := call(server.URL, "okta", "PATCH", "/Users/"+id, fmt.Sprintf(patch, false)).expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("active", false))
		u := getUser(id)
		Expect(u.IsActive()).To(BeFalse())
		Expect(u.Annotations).To(HaveKeyWithValue(v1.AnnotationSuspendedBy, v1.SuspendedByProvider))
		Expect(u.Labels).NotTo(HaveKey(v1.LabelManagedBy), "suspension removes the marking")

		call(server.URL, "okta", "PATCH", "/Users/"+id, fmt.Sprintf(patch, true)).expectStatus(http.StatusOK)
		u = getUser(id)
		Expect(u.IsActive()).To(BeTrue())
		Expect(u.Labels).To(HaveKeyWithValue(v1.LabelManagedBy, "okta"))
		Expect(u.Annotations).NotTo(HaveKey(v1.AnnotationSuspendedBy))
	})

	It("keeps an admin-suspended user suspended and unmarked, while updating its profile", func() {
		id := createUser(unique("admin"))
		u := getUser(id)
		u.Spec.Active = ptr.To(false)
		u.Annotations = map[string]string{v1.AnnotationSuspendedBy: v1.SuspendedByAdmin}
		delete(u.Labels, v1.LabelManagedBy)
		Expect(k8sClient.Update(ctx, u)).To(Succeed())

		body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true,"title":"Boss"}}]}`
		var r *response
		Eventually(func() any {
			r = scim("PATCH", "/Users/"+id, body)
			return r.body["title"]
		}).Should(Equal("Boss"))
		r.expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("active", false), "the response shows the admin suspension")
		u = getUser(id)
		Expect(u.IsActive()).To(BeFalse())
		Expect(u.Spec.Title).To(Equal("Boss"))
		Expect(u.Labels).NotTo(HaveKey(v1.LabelManagedBy))
		Expect(u.Annotations).To(HaveKeyWithValue(v1.AnnotationSuspendedBy, v1.SuspendedByAdmin))
	})

	It("keeps a fresh admin suspension that the controller has not recorded yet", func() {
		id := createUser(unique("fresh-admin"))
		u := getUser(id)
		u.Spec.Active = ptr.To(false) // kubectl by an admin: no suspended-by record yet
		Expect(k8sClient.Update(ctx, u)).To(Succeed())

		body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"t"}]}`
		r := scim("PATCH", "/Users/"+id, body)
		Expect(r.StatusCode).To(BeElementOf(http.StatusOK, http.StatusNoContent), "body: %s", r.raw)
		u = getUser(id)
		Expect(u.IsActive()).To(BeFalse())
		Expect(u.Annotations).To(HaveKeyWithValue(v1.AnnotationSuspendedBy, v1.SuspendedByAdmin), "not mistaken for a provider suspension")
		Expect(u.Labels).NotTo(HaveKey(v1.LabelManagedBy))

		r = scim("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`)
		Expect(r.body).To(HaveKeyWithValue("active", false))
		Expect(getUser(id).IsActive()).To(BeFalse())
	})

	It("overwrites drift in SCIM-owned fields on the next SCIM write, and GET shows the truth", func() {
		name := unique("drift")
		id := createUser(name)
		u := getUser(id)
		u.Spec.Title = "edited-by-hand"
		Expect(k8sClient.Update(ctx, u)).To(Succeed())
		Eventually(func() any { return scim("GET", "/Users/"+id, "").body["title"] }).Should(Equal("edited-by-hand"))
		scim("PUT", "/Users/"+id, userBody(name, "Given", "Family")).expectStatus(http.StatusOK)
		Expect(getUser(id).Spec.Title).To(BeEmpty())
	})

	It("GET marks nothing", func() {
		u := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: unique("unmarked-")}, Spec: v1.ScimUserSpec{UserName: unique("unmarked")}}
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		Eventually(func() int { return scim("GET", "/Users/"+u.Name, "").StatusCode }).Should(Equal(http.StatusOK))
		scim("GET", "/Users?filter="+url.QueryEscape(`userName eq "`+u.Spec.UserName+`"`), "").expectStatus(http.StatusOK)
		Expect(getUser(u.Name).Labels).NotTo(HaveKey(v1.LabelManagedBy))
	})
})
