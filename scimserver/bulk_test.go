package scimserver_test

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/scimserver"
)

// /Bulk (RFC 7644 §3.7, https://www.rfc-editor.org/rfc/rfc7644#section-3.7) over real HTTP: the
// RFC's own examples, then what each operation shares with the request it stands for.

const (
	bulkRequestURN  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseURN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	userURN         = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN        = "urn:ietf:params:scim:schemas:core:2.0:Group"
	patchOpURN      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// bulkBody is a BulkRequest of ops (each a JSON object), with failOnErrors unless it is 0.
func bulkBody(failOnErrors int, ops ...string) string {
	fail := ""
	if failOnErrors > 0 {
		fail = fmt.Sprintf(`"failOnErrors":%d,`, failOnErrors)
	}
	return fmt.Sprintf(`{"schemas":[%q],%s"Operations":[%s]}`, bulkRequestURN, fail, strings.Join(ops, ","))
}

// bulkUser is a POST of a user named userName with bulkId.
func bulkUser(bulkID, userName string) string {
	return fmt.Sprintf(`{"method":"POST","path":"/Users","bulkId":%q,"data":{"schemas":[%q],"userName":%q}}`, bulkID, userURN, userName)
}

// bulkAt sends a bulk request to base as provider and returns the response, 200 and a BulkResponse.
func bulkAt(base, provider, body string) *response {
	GinkgoHelper()
	r := call(base, provider, "POST", "/Bulk", body).expectStatus(http.StatusOK)
	Expect(r.Header.Get("Content-Type")).To(HavePrefix("application/scim+json"))
	Expect(r.body["schemas"]).To(ConsistOf(bulkResponseURN))
	return r
}

// bulk sends a bulk request to the suite's server as generic.
func bulk(body string) *response {
	GinkgoHelper()
	return bulkAt(server.URL, "generic", body)
}

// ops returns the operations of a BulkResponse.
func (r *response) ops() []map[string]any {
	GinkgoHelper()
	return r.objects("Operations")
}

// idOf returns the id at the end of an operation's location.
func idOf(op map[string]any) string {
	GinkgoHelper()
	loc, _ := op["location"].(string)
	Expect(loc).NotTo(BeEmpty(), "operation %v has a location", op)
	return loc[strings.LastIndex(loc, "/")+1:]
}

// expectOpError asserts that op failed with status and, unless "", scimType, its response the error.
func expectOpError(op map[string]any, status int, scimType string) {
	GinkgoHelper()
	Expect(op["status"]).To(Equal(fmt.Sprint(status)), "operation %v", op)
	resp, ok := op["response"].(map[string]any)
	Expect(ok).To(BeTrue(), "a failed operation carries its error as response: %v", op)
	Expect(resp["schemas"]).To(ConsistOf("urn:ietf:params:scim:api:messages:2.0:Error"))
	Expect(resp["status"]).To(Equal(fmt.Sprint(status)))
	Expect(resp["detail"]).NotTo(BeEmpty())
	if scimType != "" {
		Expect(resp["scimType"]).To(Equal(scimType), "operation %v", op)
	}
}

var _ = Describe("Bulk", func() {
	// RFC 7644 §3.7.3's example request, with the ids and versions of real users: a POST, a PUT, a
	// PATCH and a DELETE of users, failOnErrors 1. The RFC's text has two mistakes its own sections
	// contradict — the POST's schemas is urn:ietf:params:scim:api:messages:2.0:User, and the PATCH's
	// data is a bare list of operations instead of a PatchOp (§3.5.2) — corrected here; the
	// uncorrected PATCH is shown to be refused on its own below.
	It("serves RFC 7644 §3.7.3's example: 201, 200, 200, 204 with locations and versions", func() {
		bob := scim("POST", "/Users", userBody(unique("bob"), "Bob", "B")).expectStatus(http.StatusCreated)
		dave := scim("POST", "/Users", fmt.Sprintf(`{"schemas":[%q],"userName":%q,"nickName":"Davy"}`, userURN, unique("dave"))).expectStatus(http.StatusCreated)
		eve := scim("POST", "/Users", userBody(unique("eve"), "Eve", "E")).expectStatus(http.StatusCreated)
		alice, bobName, daveName := unique("Alice"), unique("Bob"), unique("Dave")

		r := bulk(bulkBody(1,
			bulkUser("qwerty", alice),
			fmt.Sprintf(`{"method":"PUT","path":"/Users/%s","version":%q,"data":{"schemas":[%q],"id":%q,"userName":%q}}`,
				bob.str("id"), bob.Header.Get("ETag"), userURN, bob.str("id"), bobName),
			fmt.Sprintf(`{"method":"PATCH","path":"/Users/%s","version":%q,"data":{"schemas":[%q],"Operations":[{"op":"remove","path":"nickName"},{"op":"replace","path":"userName","value":%q}]}}`,
				dave.str("id"), dave.Header.Get("ETag"), patchOpURN, daveName),
			fmt.Sprintf(`{"method":"DELETE","path":"/Users/%s","version":%q}`, eve.str("id"), eve.Header.Get("ETag")),
		))
		ops := r.ops()
		Expect(ops).To(HaveLen(4))
		base := server.URL + "/provisioning/generic/v2/Users/"
		Expect(ops[0]).To(And(HaveKeyWithValue("method", "POST"), HaveKeyWithValue("bulkId", "qwerty"),
			HaveKeyWithValue("status", "201"), HaveKeyWithValue("location", HavePrefix(base)), HaveKeyWithValue("version", HavePrefix(`W/"`))))
		Expect(ops[0]).NotTo(HaveKey("response"), "a success carries no body")
		Expect(ops[1]).To(And(HaveKeyWithValue("method", "PUT"), HaveKeyWithValue("status", "200"),
			HaveKeyWithValue("location", base+bob.str("id")), HaveKeyWithValue("version", Not(Equal(bob.Header.Get("ETag"))))))
		Expect(ops[2]).To(And(HaveKeyWithValue("method", "PATCH"), HaveKeyWithValue("status", "200"),
			HaveKeyWithValue("location", base+dave.str("id")), HaveKeyWithValue("version", HavePrefix(`W/"`))))
		Expect(ops[3]).To(And(HaveKeyWithValue("method", "DELETE"), HaveKeyWithValue("status", "204"),
			HaveKeyWithValue("location", base+eve.str("id"))))
		Expect(ops[3]).NotTo(HaveKey("version"))

		created := scim("GET", "/Users/"+idOf(ops[0]), "").expectStatus(http.StatusOK)
		Expect(created.str("userName")).To(Equal(alice))
		Expect(created.Header.Get("ETag")).To(Equal(ops[0]["version"]), "the version is the resource's ETag")
		Expect(scim("GET", "/Users/"+bob.str("id"), "").expectStatus(http.StatusOK).str("userName")).To(Equal(bobName))
		patched := scim("GET", "/Users/"+dave.str("id"), "").expectStatus(http.StatusOK)
		Expect(patched.str("userName")).To(Equal(daveName))
		Expect(patched.body).NotTo(HaveKey("nickName"))
		scim("GET", "/Users/"+eve.str("id"), "").expectError(http.StatusNotFound, "")
	})

	It("refuses the RFC example's bare-list PATCH data on its own, as a PATCH request with that body", func() {
		id := createUser(unique("bare"))
		single := scim("PATCH", "/Users/"+id, `[{"op":"remove","path":"nickName"}]`)
		Expect(single.StatusCode).To(Equal(http.StatusBadRequest))
		r := bulk(bulkBody(0,
			fmt.Sprintf(`{"method":"PATCH","path":"/Users/%s","data":[{"op":"remove","path":"nickName"}]}`, id),
			bulkUser("after", unique("after-bare"))))
		ops := r.ops()
		expectOpError(ops[0], http.StatusBadRequest, single.str("scimType"))
		Expect(ops[0]["response"]).To(HaveKeyWithValue("detail", single.str("detail")), "the same error as the request of its own")
		Expect(ops[1]).To(HaveKeyWithValue("status", "201"))
	})

	// RFC 7644 §3.7.2's example: a user, and a group whose member is that user by bulkId, with the
	// member's "type": "User" as the RFC sends it.
	It("resolves RFC 7644 §3.7.2's bulkId reference from a group's members to the user created", func() {
		alice := unique("Alice")
		r := bulk(bulkBody(0,
			bulkUser("qwerty", alice),
			fmt.Sprintf(`{"method":"POST","path":"/Groups","bulkId":"ytrewq","data":{"schemas":[%q],"displayName":%q,"members":[{"type":"User","value":"bulkId:qwerty"}]}}`,
				groupURN, unique("Tour Guides")),
		))
		ops := r.ops()
		Expect(ops).To(HaveLen(2))
		Expect(ops[0]).To(HaveKeyWithValue("status", "201"))
		Expect(ops[1]).To(And(HaveKeyWithValue("status", "201"), HaveKeyWithValue("bulkId", "ytrewq"),
			HaveKeyWithValue("location", HavePrefix(server.URL+"/provisioning/generic/v2/Groups/"))))
		userID, groupID := idOf(ops[0]), idOf(ops[1])
		Expect(userID).To(HavePrefix("a-"))
		Expect(getRole(groupID).MemberIDs()).To(ConsistOf(userID))
		Expect(getRole(groupID).Labels).To(HaveKeyWithValue(v1.LabelManagedBy, "generic"))
		Expect(getUser(userID).Labels).To(HaveKeyWithValue(v1.LabelManagedBy, "generic"))
	})

	It("runs operations in the order of their references, not the request's, and answers in request order", func() {
		boss, worker, group := unique("boss"), unique("worker"), unique("team")
		r := bulk(bulkBody(0,
			// The group comes first and refers to both users; the worker's manager is the boss, last.
			fmt.Sprintf(`{"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":[%q],"displayName":%q,"members":[{"value":"bulkId:w"},{"value":"bulkId:b"}]}}`, groupURN, group),
			fmt.Sprintf(`{"method":"POST","path":"/Users","bulkId":"w","data":{"schemas":[%q,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":%q,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"bulkId:b"}}}}`, userURN, worker),
			bulkUser("b", boss),
			// A PATCH of the group created in this request, by its bulkId in the path.
			fmt.Sprintf(`{"method":"PATCH","path":"/Groups/bulkId:g","data":{"schemas":[%q],"Operations":[{"op":"remove","path":"members[value eq \"bulkId:b\"]"}]}}`, patchOpURN),
		))
		ops := r.ops()
		Expect(ops).To(HaveLen(4))
		Expect([]any{ops[0]["bulkId"], ops[1]["bulkId"], ops[2]["bulkId"]}).To(Equal([]any{"g", "w", "b"}), "request order")
		for _, op := range ops[:3] {
			Expect(op).To(HaveKeyWithValue("status", "201"))
		}
		Expect(ops[3]).To(HaveKeyWithValue("status", "200"))
		groupID, workerID, bossID := idOf(ops[0]), idOf(ops[1]), idOf(ops[2])
		Expect(idOf(ops[3])).To(Equal(groupID))
		Expect(getRole(groupID).MemberIDs()).To(ConsistOf(workerID), "the PATCH removed the boss by its bulkId")
		w := scim("GET", "/Users/"+workerID, "").expectStatus(http.StatusOK)
		Expect(w.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]).To(
			HaveKeyWithValue("manager", HaveKeyWithValue("value", bossID)))
	})

	// RFC 7644 §3.7.1's example: two groups, each the other's member. §3.7.1 lets the service
	// provider refuse what it cannot resolve with 409; both operations are refused, nothing is
	// created, and the other operations of the request still run.
	It("refuses RFC 7644 §3.7.1's circular references with 409 per operation, and runs the rest", func() {
		groupsBefore := countGroupsNamed("circular")
		r := bulk(bulkBody(0,
			fmt.Sprintf(`{"method":"POST","path":"/Groups","bulkId":"qwerty","data":{"schemas":[%q],"displayName":%q,"members":[{"value":"bulkId:ytrewq"}]}}`, groupURN, unique("circular A")),
			fmt.Sprintf(`{"method":"POST","path":"/Groups","bulkId":"ytrewq","data":{"schemas":[%q],"displayName":%q,"members":[{"value":"bulkId:qwerty"}]}}`, groupURN, unique("circular B")),
			// Behind the cycle: refers to one of its groups.
			fmt.Sprintf(`{"method":"PATCH","path":"/Groups/bulkId:qwerty","data":{"schemas":[%q],"Operations":[{"op":"replace","path":"displayName","value":"x"}]}}`, patchOpURN),
			bulkUser("fine", unique("outside-cycle")),
		))
		ops := r.ops()
		Expect(ops).To(HaveLen(4))
		expectOpError(ops[0], http.StatusConflict, "")
		expectOpError(ops[1], http.StatusConflict, "")
		Expect(ops[0]["response"]).To(HaveKeyWithValue("detail", And(ContainSubstring("circular"),
			ContainSubstring("bulkId:qwerty → bulkId:ytrewq → bulkId:qwerty"))))
		expectOpError(ops[2], http.StatusConflict, "")
		Expect(ops[2]["response"]).To(HaveKeyWithValue("detail", ContainSubstring("circular")))
		Expect(ops[3]).To(HaveKeyWithValue("status", "201"))
		Expect(countGroupsNamed("circular")).To(Equal(groupsBefore))
	})

	It("refuses a user that is its own manager, and users that manage each other", func() {
		self, a, b := unique("self"), unique("mutual-a"), unique("mutual-b")
		manager := func(bulkID, userName, ref string) string {
			return fmt.Sprintf(`{"method":"POST","path":"/Users","bulkId":%q,"data":{"schemas":[%q],"userName":%q,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"bulkId:%s"}}}}`,
				bulkID, userURN, userName, ref)
		}
		ops := bulk(bulkBody(0, manager("s", self, "s"), manager("a", a, "b"), manager("b", b, "a"))).ops()
		for _, op := range ops {
			expectOpError(op, http.StatusConflict, "")
		}
		for _, name := range []string{self, a, b} {
			r := scim("GET", fmt.Sprintf("/Users?filter=userName+eq+%q", name), "").expectStatus(http.StatusOK)
			Expect(r.body["totalResults"]).To(BeNumerically("==", 0))
		}
	})

	It("keeps going after failures without failOnErrors, and stops after failOnErrors of them", func() {
		taken := unique("taken")
		createUser(taken)
		ops := func(prefix string) []string {
			return []string{
				bulkUser("u1", unique(prefix)),
				bulkUser("dup", taken),                                   // 409 uniqueness
				`{"method":"DELETE","path":"/Users/a-ffffffffffffffff"}`, // 404
				bulkUser("u2", unique(prefix)),
				bulkUser("u3", unique(prefix)),
			}
		}
		r := bulk(bulkBody(0, ops("all")...)).ops()
		Expect(r).To(HaveLen(5))
		Expect(r[0]).To(HaveKeyWithValue("status", "201"))
		expectOpError(r[1], http.StatusConflict, "uniqueness")
		Expect(r[1]).NotTo(HaveKey("location"), "a failed POST has no location")
		expectOpError(r[2], http.StatusNotFound, "")
		Expect(r[2]).To(HaveKeyWithValue("location", HaveSuffix("/Users/a-ffffffffffffffff")))
		Expect(r[3]).To(HaveKeyWithValue("status", "201"))
		Expect(r[4]).To(HaveKeyWithValue("status", "201"))

		// failOnErrors 2: the second failure ends the request; the operations after it are not
		// run, and not in the response (RFC 7644 §3.7.3).
		users := countUsers()
		r = bulk(bulkBody(2, ops("two")...)).ops()
		Expect(r).To(HaveLen(3))
		Expect(r[0]).To(HaveKeyWithValue("status", "201"))
		expectOpError(r[1], http.StatusConflict, "uniqueness")
		expectOpError(r[2], http.StatusNotFound, "")
		Expect(countUsers()).To(Equal(users + 1))

		// failOnErrors 1, as RFC 7644 §3.7.3's error example: stop at the first.
		r = bulk(bulkBody(1, ops("one")...)).ops()
		Expect(r).To(HaveLen(2))
		expectOpError(r[1], http.StatusConflict, "uniqueness")
	})

	It("fails an operation that refers to a POST that failed, with 409, and one no POST defines with 400", func() {
		taken := unique("taken-ref")
		createUser(taken)
		group := unique("after-failed-post")
		ops := bulk(bulkBody(0,
			bulkUser("gone", taken),
			fmt.Sprintf(`{"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":[%q],"displayName":%q,"members":[{"value":"bulkId:gone"}]}}`, groupURN, group),
			fmt.Sprintf(`{"method":"POST","path":"/Groups","bulkId":"h","data":{"schemas":[%q],"displayName":%q,"members":[{"value":"bulkId:nowhere"}]}}`, groupURN, unique("undefined-ref")),
		)).ops()
		expectOpError(ops[0], http.StatusConflict, "uniqueness")
		expectOpError(ops[1], http.StatusConflict, "")
		Expect(ops[1]["response"]).To(HaveKeyWithValue("detail", ContainSubstring(`"gone"`)))
		expectOpError(ops[2], http.StatusBadRequest, "invalidValue")
		Expect(countGroupsNamed(group)).To(Equal(0))
	})

	It("applies each operation's version as If-Match: a stale one is 412 for it alone, the others applied", func() {
		a := scim("POST", "/Users", userBody(unique("ver-a"), "A", "A")).expectStatus(http.StatusCreated)
		b := scim("POST", "/Users", userBody(unique("ver-b"), "B", "B")).expectStatus(http.StatusCreated)
		patchTitle := func(id, version, title string) string {
			return fmt.Sprintf(`{"method":"PATCH","path":"/Users/%s","version":%q,"data":{"schemas":[%q],"Operations":[{"op":"replace","path":"title","value":%q}]}}`,
				id, version, patchOpURN, title)
		}
		ops := bulk(bulkBody(0,
			patchTitle(a.str("id"), `W/"1"`, "stale"),
			patchTitle(b.str("id"), b.Header.Get("ETag"), "fresh"),
			fmt.Sprintf(`{"method":"DELETE","path":"/Users/%s","version":"W/\"1\""}`, b.str("id")),
		)).ops()
		expectOpError(ops[0], http.StatusPreconditionFailed, "")
		Expect(ops[1]).To(HaveKeyWithValue("status", "200"))
		expectOpError(ops[2], http.StatusPreconditionFailed, "")
		Expect(scim("GET", "/Users/"+a.str("id"), "").expectStatus(http.StatusOK).body).NotTo(HaveKey("title"))
		Expect(scim("GET", "/Users/"+b.str("id"), "").expectStatus(http.StatusOK).str("title")).To(Equal("fresh"))
	})

	It("answers 404 for unknown ids, and 409 uniqueness per operation, as the requests of their own", func() {
		name := unique("uniq")
		createUser(name)
		group := unique("uniq-group")
		createGroup(group)
		patch := fmt.Sprintf(`{"schemas":[%q],"Operations":[{"op":"replace","path":"title","value":"t"}]}`, patchOpURN)
		ops := bulk(bulkBody(0,
			fmt.Sprintf(`{"method":"PATCH","path":"/Users/a-ffffffffffffffff","data":%s}`, patch),
			fmt.Sprintf(`{"method":"PUT","path":"/Groups/r-ffffffffffffffff","data":{"schemas":[%q],"displayName":"x"}}`, groupURN),
			`{"method":"DELETE","path":"/Groups/r-ffffffffffffffff"}`,
			bulkUser("u", strings.ToUpper(name)),
			fmt.Sprintf(`{"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":[%q],"displayName":%q}}`, groupURN, group),
			// Two new users of the same userName in one request: the second is the duplicate.
			bulkUser("x1", name+"-twice"),
			bulkUser("x2", name+"-twice"),
		)).ops()
		Expect(ops).To(HaveLen(7))
		expectOpError(ops[0], http.StatusNotFound, "")
		expectOpError(ops[1], http.StatusNotFound, "")
		expectOpError(ops[2], http.StatusNotFound, "")
		expectOpError(ops[3], http.StatusConflict, "uniqueness")
		expectOpError(ops[4], http.StatusConflict, "uniqueness")
		Expect(ops[5]).To(HaveKeyWithValue("status", "201"))
		expectOpError(ops[6], http.StatusConflict, "uniqueness")
		single := scim("POST", "/Users", userBody(strings.ToUpper(name), "G", "F")).expectError(http.StatusConflict, "uniqueness")
		Expect(ops[3]["response"]).To(HaveKeyWithValue("detail", single.str("detail")))
	})

	It("marks what each operation touches with the request's provider", func() {
		u := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: unique("k-bulk-")}, Spec: v1.ScimUserSpec{UserName: unique("kubectl-bulk")}}
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		groupID := createGroup(unique("bulk-marker"))
		// A group created in YAML, unmarked, patched by bulk. Its name has the form of a server id:
		// the scimsdk specs list every group and expect that of each.
		seq++
		role := &v1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("r-b%015x", seq)}, Spec: v1.ScimRoleSpec{DisplayName: unique("yaml role")}}
		Expect(k8sClient.Create(ctx, role)).To(Succeed())
		var ops []map[string]any
		Eventually(func(g Gomega) {
			ops = bulkAt(server.URL, "okta", bulkBody(0,
				bulkUser("new", unique("okta-bulk")),
				fmt.Sprintf(`{"method":"PATCH","path":"/Groups/%s","data":{"schemas":[%q],"Operations":[{"op":"add","path":"members","value":[{"value":%q},{"value":"bulkId:new"}]}]}}`,
					groupID, patchOpURN, u.Name),
				fmt.Sprintf(`{"method":"PATCH","path":"/Groups/%s","data":{"schemas":[%q],"Operations":[{"op":"replace","path":"displayName","value":%q}]}}`,
					role.Name, patchOpURN, unique("renamed yaml role")),
			)).ops()
			for _, op := range ops {
				g.Expect(op["status"]).To(HavePrefix("2"), "operation %v", op)
			}
		}).Should(Succeed())
		Expect(getUser(idOf(ops[0])).Labels).To(HaveKeyWithValue(v1.LabelManagedBy, "okta"))
		Expect(getUser(u.Name).Labels).To(HaveKeyWithValue(v1.LabelManagedBy, "okta"), "a user added to a group is marked")
		Expect(getRole(groupID).Labels).To(HaveKeyWithValue(v1.LabelManagedBy, "okta"))
		Expect(getRole(role.Name).Labels).To(HaveKeyWithValue(v1.LabelManagedBy, "okta"))
	})

	It("applies the provider's quirks to each operation, as to its own request", func() {
		// Entra ID's "active": "False" string and capitalised "Replace" are accepted on azure only.
		id := createUser(unique("quirky"))
		op := fmt.Sprintf(`{"method":"PATCH","path":"/Users/%s","data":{"schemas":[%q],"Operations":[{"op":"Replace","path":"active","value":"False"}]}}`, id, patchOpURN)
		expectOpError(bulk(bulkBody(0, op)).ops()[0], http.StatusBadRequest, "")
		Expect(getUser(id).Spec.IsActive()).To(BeTrue())
		Expect(bulkAt(server.URL, "azure", bulkBody(0, op)).ops()[0]).To(HaveKeyWithValue("status", HavePrefix("2")))
		Expect(getUser(id).Spec.IsActive()).To(BeFalse())
	})

	DescribeTable("refuses a malformed operation with 400 for it alone, and applies the others",
		func(op, scimType, detail string) {
			name := unique("beside-bad")
			users, roles := countObjects()
			ops := bulk(bulkBody(0, op, bulkUser("ok", name))).ops()
			Expect(ops).To(HaveLen(2))
			expectOpError(ops[0], http.StatusBadRequest, scimType)
			Expect(ops[0]["response"]).To(HaveKeyWithValue("detail", ContainSubstring(detail)))
			Expect(ops[1]).To(HaveKeyWithValue("status", "201"))
			usersAfter, rolesAfter := countObjects()
			Expect(usersAfter).To(Equal(users+1), "only the good operation created a user")
			Expect(rolesAfter).To(Equal(roles))
		},
		Entry("an unknown method", `{"method":"GET","path":"/Users/a-0000000000000001"}`, "invalidValue", `method "GET"`),
		Entry("no method", `{"path":"/Users","bulkId":"x","data":{}}`, "invalidSyntax", "no method"),
		Entry("a path outside Users and Groups", `{"method":"POST","path":"/Schemas","bulkId":"x","data":{}}`, "invalidValue", "not under /Users or /Groups"),
		Entry("the server root", `{"method":"DELETE","path":"/"}`, "invalidValue", "not under /Users or /Groups"),
		Entry("a POST to a resource", `{"method":"POST","path":"/Users/a-1","bulkId":"x","data":{}}`, "invalidValue", "path of a POST"),
		Entry("a PATCH of a collection", `{"method":"PATCH","path":"/Groups","data":{}}`, "invalidValue", "/Groups/{id}"),
		Entry("a POST without bulkId", fmt.Sprintf(`{"method":"POST","path":"/Groups","data":{"schemas":[%q],"displayName":"no bulkId"}}`, groupURN), "invalidSyntax", "without a bulkId"),
		Entry("data on DELETE", `{"method":"DELETE","path":"/Users/a-0000000000000001","data":{"schemas":["x"]}}`, "invalidSyntax", "DELETE with data"),
		Entry("a PUT without data", `{"method":"PUT","path":"/Users/a-0000000000000001"}`, "invalidSyntax", "without data"),
		Entry("an operation that is no object", `"POST /Users"`, "invalidSyntax", "JSON object"),
		Entry("an unknown attribute", `{"method":"DELETE","path":"/Users/a-0000000000000001","headers":{}}`, "invalidSyntax", `unknown attribute "headers"`),
		Entry("a bulkId that is no string", `{"method":"POST","path":"/Users","bulkId":7,"data":{}}`, "invalidSyntax", "bulkId of operation 0"),
		Entry("a user body the schema refuses", fmt.Sprintf(`{"method":"POST","path":"/Users","bulkId":"x","data":{"schemas":[%q],"userName":"u","color":"red"}}`, userURN), "", "color"),
	)

	It("refuses a second operation with the same bulkId with 400, the first applied", func() {
		ops := bulk(bulkBody(0, bulkUser("same", unique("first")), bulkUser("same", unique("second")))).ops()
		Expect(ops[0]).To(HaveKeyWithValue("status", "201"))
		expectOpError(ops[1], http.StatusBadRequest, "invalidValue")
		Expect(ops[1]["response"]).To(HaveKeyWithValue("detail", ContainSubstring(`bulkId "same" is already operation 0's`)))
	})

	DescribeTable("refuses a request that is not a BulkRequest with 400, applying nothing",
		func(body, scimType string) {
			users, roles := countObjects()
			scim("POST", "/Bulk", body).expectError(http.StatusBadRequest, scimType)
			usersAfter, rolesAfter := countObjects()
			Expect(usersAfter).To(Equal(users))
			Expect(rolesAfter).To(Equal(roles))
		},
		Entry("malformed JSON", `{"schemas":["`+bulkRequestURN+`"],"Operations":[`, "invalidSyntax"),
		Entry("two objects", bulkBody(0, bulkUser("a", "two-objects"))+`{}`, "invalidSyntax"),
		Entry("a list", `[]`, "invalidSyntax"),
		Entry("no schemas", `{"Operations":[`+bulkUser("a", "no-schemas")+`]}`, "invalidSyntax"),
		Entry("another message's schemas", `{"schemas":["`+patchOpURN+`"],"Operations":[`+bulkUser("a", "wrong-schemas")+`]}`, "invalidSyntax"),
		Entry("no Operations", `{"schemas":["`+bulkRequestURN+`"]}`, "invalidSyntax"),
		Entry("Operations not a list", `{"schemas":["`+bulkRequestURN+`"],"Operations":{}}`, "invalidSyntax"),
		Entry("failOnErrors 0", `{"schemas":["`+bulkRequestURN+`"],"failOnErrors":0,"Operations":[`+bulkUser("a", "fail-zero")+`]}`, "invalidValue"),
		Entry("failOnErrors a string", `{"schemas":["`+bulkRequestURN+`"],"failOnErrors":"1","Operations":[`+bulkUser("a", "fail-str")+`]}`, "invalidValue"),
		Entry("an unknown attribute", `{"schemas":["`+bulkRequestURN+`"],"Operations":[],"atomic":true}`, "invalidSyntax"),
		Entry("no body", ``, "invalidSyntax"),
	)

	It("serves only POST on /Bulk, and nothing below it", func() {
		r := scim("GET", "/Bulk", "").expectError(http.StatusMethodNotAllowed, "")
		Expect(r.Header.Get("Allow")).To(Equal("POST"))
		scim("POST", "/Bulk/x", bulkBody(0)).expectError(http.StatusNotFound, "")
		Expect(bulk(bulkBody(0)).ops()).To(BeEmpty(), "an empty request has an empty response")
		Expect(call(server.URL, "generic", "POST", "/bulk", bulkBody(0)).StatusCode).To(Equal(http.StatusOK), "endpoint names in any case")
	})

	It("bounds each operation's data by --scim-max-body-bytes, as a request of its own", func() {
		big := strings.Repeat("x", 70<<10) // the suite's MaxBodyBytes is 64 KiB
		ops := bulk(bulkBody(0,
			fmt.Sprintf(`{"method":"POST","path":"/Users","bulkId":"big","data":{"schemas":[%q],"userName":%q,"title":%q}}`, userURN, unique("big"), big),
			bulkUser("small", unique("small")),
		)).ops()
		expectOpError(ops[0], http.StatusRequestEntityTooLarge, "tooLarge")
		Expect(ops[1]).To(HaveKeyWithValue("status", "201"))
	})

	Context("with small limits", Ordered, func() {
		var base string
		BeforeAll(func() {
			srv := startInstanceWith(operatorCfg, func(o *scimserver.Options) {
				o.BulkMaxOperations = 3
				o.BulkMaxPayloadBytes = 1024
				o.TokenRate = 0.001 // effectively no refill during the test
				o.TokenBurst = 6
			})
			DeferCleanup(srv.Close)
			base = srv.URL
		})

		It("advertises the limits in ServiceProviderConfig", func() {
			r := call(base, "generic", "GET", "/ServiceProviderConfig", "").expectStatus(http.StatusOK)
			Expect(r.body["bulk"]).To(And(HaveKeyWithValue("supported", true),
				HaveKeyWithValue("maxOperations", BeNumerically("==", 3)), HaveKeyWithValue("maxPayloadSize", BeNumerically("==", 1024))))
		})

		It("refuses more than maxOperations with 413 tooMany and more than maxPayloadSize with 413 tooLarge, applying nothing (RFC 7644 §3.7.4)", func() {
			users := countUsers()
			r := call(base, "generic", "POST", "/Bulk", bulkBody(0, bulkUser("1", unique("many")), bulkUser("2", unique("many")),
				bulkUser("3", unique("many")), bulkUser("4", unique("many")))).expectError(http.StatusRequestEntityTooLarge, "tooMany")
			Expect(r.str("detail")).To(And(ContainSubstring("4 operations"), ContainSubstring("maxOperations (3")))
			body := bulkBody(0, fmt.Sprintf(`{"method":"POST","path":"/Users","bulkId":"1","data":{"schemas":[%q],"userName":%q,"title":%q}}`,
				userURN, unique("large"), strings.Repeat("t", 1024)))
			r = call(base, "generic", "POST", "/Bulk", body).expectError(http.StatusRequestEntityTooLarge, "tooLarge")
			Expect(r.str("detail")).To(ContainSubstring("maxPayloadSize (1024 bytes"))
			Expect(countUsers()).To(Equal(users))
		})

		// Each operation counts as a request toward --scim-token-rate. The okta token's burst of 6
		// covers a bulk of 3 and one of 2; a bulk of 2 more is refused before either is applied.
		It("counts each operation toward the token's rate: 429 with Retry-After, nothing applied", func() {
			Expect(bulkAt(base, "okta", bulkBody(0, bulkUser("1", unique("rate")), bulkUser("2", unique("rate")), bulkUser("3", unique("rate")))).ops()).To(HaveLen(3))
			Expect(bulkAt(base, "okta", bulkBody(0, bulkUser("1", unique("rate")), bulkUser("2", unique("rate")))).ops()).To(HaveLen(2))
			users := countUsers()
			r := call(base, "okta", "POST", "/Bulk", bulkBody(0, bulkUser("1", unique("rate")), bulkUser("2", unique("rate"))))
			r.expectError(http.StatusTooManyRequests, "")
			Expect(r.Header.Get("Retry-After")).NotTo(BeEmpty())
			Expect(r.str("detail")).To(ContainSubstring("--scim-token-rate"))
			Expect(countUsers()).To(Equal(users))
		})
	})
})

// A bulk request must be answered before the HTTP server's deadline for the response (60 s), or
// the client hears nothing of operations that were applied. Operations not started within
// --scim-bulk-timeout are answered 503, not run.
var _ = Describe("A bulk request that runs out of time", func() {
	It("answers the operations it could not start with 503, applying none of them", func() {
		// Every ScimUser create takes the API server's time plus 600ms, longer than the 300ms
		// the bulk request may start operations in: the first runs, the others cannot start.
		slow := rest.CopyConfig(operatorCfg)
		slow.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
				if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/scimusers") {
					time.Sleep(600 * time.Millisecond)
				}
				return rt.RoundTrip(req)
			})
		}
		srv := startInstanceWith(slow, func(o *scimserver.Options) { o.BulkTimeout = 300 * time.Millisecond })
		DeferCleanup(srv.Close)
		names := []string{unique("late"), unique("late"), unique("late")}
		users := countUsers()
		ops := bulkAt(srv.URL, "generic", bulkBody(0, bulkUser("1", names[0]), bulkUser("2", names[1]), bulkUser("3", names[2]))).ops()
		Expect(ops).To(HaveLen(3))
		Expect(ops[0]).To(HaveKeyWithValue("status", "201"))
		for _, op := range ops[1:] {
			expectOpError(op, http.StatusServiceUnavailable, "")
			Expect(op["response"]).To(HaveKeyWithValue("detail", ContainSubstring("--scim-bulk-timeout")))
		}
		Expect(countUsers()).To(Equal(users+1), "only the operation that ran was applied")
	})
})

// countGroupsNamed counts the groups whose displayName contains part.
func countGroupsNamed(part string) int {
	GinkgoHelper()
	r := scim("GET", "/Groups?filter="+strings.ReplaceAll(fmt.Sprintf("displayName co %q", part), " ", "+"), "").expectStatus(http.StatusOK)
	return int(r.body["totalResults"].(float64))
}

// countUsers counts the ScimUsers in the API server.
func countUsers() int {
	GinkgoHelper()
	users, _ := countObjects()
	return users
}
