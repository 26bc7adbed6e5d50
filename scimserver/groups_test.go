package scimserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// groupPatch is a PATCH body with StrongDM's client's capital "Schemas".
func groupPatch(ops ...string) string {
	return `{"Schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + strings.Join(ops, ",") + `]}`
}

var _ = Describe("Groups", func() {
	It("creates a group with members: 201, members with value and display, users marked", func() {
		alice := createUser(unique("alice") + "@example.test")
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"members":[{"value":%q,"display":"alice@example.test"},{"value":"a-00000000deadbeef"}]}`, unique("Role"), alice)
		r := scim("POST", "/Groups", body).expectStatus(http.StatusCreated)
		id := r.str("id")
		Expect(id).To(MatchRegexp(`^r-[0-9a-f]{16}$`))
		Expect(r.Header.Get("Location")).To(HaveSuffix("/Groups/" + id))
		Expect(r.body["members"]).To(ConsistOf(map[string]any{"value": alice, "display": "alice@example.test", "type": "User", "$ref": "Users/" + alice}),
			"unknown but well-formed member ids are ignored on create")
		Expect(r.body["meta"]).To(And(HaveKeyWithValue("resourceType", "Group"), HaveKeyWithValue("location", "Groups/"+id)))

		role := getRole(id)
		Expect(role.Labels).To(HaveKeyWithValue(v1.LabelManagedBy, "generic"))
		Expect(role.Spec.Access).To(BeNil(), "access is never written by SCIM")
		Expect(getUser(alice).Labels).To(HaveKeyWithValue(v1.LabelManagedBy, "generic"))

		u := scim("GET", "/Users/"+alice, "").expectStatus(http.StatusOK)
		Expect(u.body["groups"]).To(ConsistOf(HaveKeyWithValue("value", id)), "groups come from role membership")
	})

	It("always returns members, empty or not", func() {
		id := createGroup(unique("empty"))
		r := scim("GET", "/Groups/"+id, "").expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("members", BeEmpty()))
	})

	It("rejects an empty or duplicate displayName and a malformed member id", func() {
		name := unique("Taken")
		createGroup(name)
		_, before := countObjects()
		scim("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"","members":[]}`).expectError(http.StatusBadRequest, "")
		scim("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q}`, strings.ToLower(name))).expectError(http.StatusConflict, "uniqueness")
		r := scim("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"members":[{"value":"Not_An_Id!"}]}`, unique("m"))).expectError(http.StatusBadRequest, "")
		Expect(r.str("detail")).To(ContainSubstring("cannot parse member id: Not_An_Id!"))
		_, after := countObjects()
		Expect(after).To(Equal(before))
	})

	It("patches members as StrongDM's client does: add, replace, remove by filter, rename", func() {
		a, b, c := createUser(unique("pa")), createUser(unique("pb")), createUser(unique("pc"))
		id := createGroup(unique("patchme"), a)
		member := func(id, display string) string { return fmt.Sprintf(`{"value":%q,"display":%q}`, id, display) }

		r := scim("PATCH", "/Groups/"+id, groupPatch(`{"op":"add","path":"members","value":[`+member(b, "b@example.test")+`]}`)).expectStatus(http.StatusOK)
		Expect(r.body["members"]).To(HaveLen(2))
		scim("PATCH", "/Groups/"+id, groupPatch(`{"op":"add","path":"members","value":[`+member(b, "b@example.test")+`]}`)).expectStatus(http.StatusNoContent)

		r = scim("PATCH", "/Groups/"+id, groupPatch(`{"op":"replace","path":"members","value":[`+member(c, "c-userName")+`]}`)).expectStatus(http.StatusOK)
		Expect(r.body["members"]).To(ConsistOf(map[string]any{"value": c, "display": "c-userName", "type": "User", "$ref": "Users/" + c}))

		scim("PATCH", "/Groups/"+id, groupPatch(`{"op":"add","path":"members","value":[`+member(a, "a")+`]}`)).expectStatus(http.StatusOK)
		scim("PATCH", "/Groups/"+id, groupPatch(fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, c))).expectStatus(http.StatusOK)
		Expect(getRole(id).Spec.Members).To(ConsistOf(HaveField("Value", a)))
		scim("PATCH", "/Groups/"+id, groupPatch(`{"op":"remove","path":"members[value eq \"a-00000000deadbeef\"]"}`)).expectStatus(http.StatusNoContent)

		newName := unique("renamed")
		r = scim("PATCH", "/Groups/"+id, groupPatch(`{"op":"replace","value":{"displayName":"`+newName+`"}}`)).expectStatus(http.StatusOK)
		Expect(r.body).To(HaveKeyWithValue("displayName", newName))
		scim("PATCH", "/Groups/"+id, groupPatch(`{"op":"replace","value":{"displayName":""}}`)).expectError(http.StatusBadRequest, "")

		scim("PATCH", "/Groups/"+id, groupPatch(`{"op":"add","path":"members","value":[{"value":"a-00000000deadbeef"}]}`)).expectError(http.StatusNotFound, "")
		Expect(getRole(id).Spec.Members).To(ConsistOf(HaveField("Value", a)), "a failed PATCH changes nothing")
	})

	It("leaves members it does not add alone, even those whose user does not exist yet", func() {
		a := createUser(unique("keep-a"))
		id := createGroup(unique("gitops-members"), a)
		role := getRole(id)
		role.Spec.Members = append(role.Spec.Members, v1.Member{Value: "a-not-created-yet"})
		Expect(k8sClient.Update(ctx, role)).To(Succeed())
		Eventually(func() any {
			return scim("PATCH", "/Groups/"+id, groupPatch(`{"op":"replace","value":{"displayName":"`+unique("renamed-keep")+`"}}`)).StatusCode
		}).Should(Equal(http.StatusOK))
		Expect(getRole(id).Spec.Members).To(ContainElement(HaveField("Value", "a-not-created-yet")))
	})

	It("marks members a PATCH adds", func() {
		u := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: unique("k-")}, Spec: v1.ScimUserSpec{UserName: unique("kubectl-user")}}
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		id := createGroup(unique("marker"))
		Eventually(func() int {
			return scim("PATCH", "/Groups/"+id, groupPatch(fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":%q}]}`, u.Name))).StatusCode
		}).Should(Equal(http.StatusOK))
		Expect(getUser(u.Name).Labels).To(HaveKeyWithValue(v1.LabelManagedBy, "generic"))
	})

	It("replaces a group with PUT: unknown members are 404, access is kept", func() {
		id := createGroup(unique("put"))
		role := getRole(id)
		role.Spec.Access = &v1.Access{ClusterRoles: []string{"view"}}
		Expect(k8sClient.Update(ctx, role)).To(Succeed())

		a := createUser(unique("put-member"))
		newName := unique("put-new")
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"members":[{"value":%q}]}`, newName, a)
		Eventually(func() any { return scim("PUT", "/Groups/"+id, body).body["displayName"] }).Should(Equal(newName))
		role = getRole(id)
		Expect(role.Spec.Access).To(Equal(&v1.Access{ClusterRoles: []string{"view"}}))
		Expect(role.Spec.Members).To(ConsistOf(HaveField("Value", a)))

		scim("PUT", "/Groups/"+id, strings.Replace(body, a, "a-00000000deadbeef", 1)).expectError(http.StatusNotFound, "")
		scim("PUT", "/Groups/r-ffffffffffffffff", body).expectError(http.StatusNotFound, "")
	})

	It("filters groups by displayName, case-insensitively, and deletes them", func() {
		name := unique("FindMe")
		id := createGroup(name)
		r := scim("GET", "/Groups?filter="+url.QueryEscape(`displayName eq "`+strings.ToLower(name)+`"`), "").expectStatus(http.StatusOK)
		Expect(r.body["totalResults"]).To(BeNumerically("==", 1))
		Expect(r.body["Resources"].([]any)[0]).To(HaveKeyWithValue("id", id))
		scim("DELETE", "/Groups/"+id, "").expectStatus(http.StatusNoContent)
		scim("GET", "/Groups/"+id, "").expectError(http.StatusNotFound, "")
	})
})

// RFC 7643 §4.2: a member may carry its type and $ref; every member is served with both.
var _ = Describe("Group members with type and $ref", func() {
	It("accepts type User and a $ref naming the member's User, relative or absolute, and returns both", func() {
		a, b := createUser(unique("typed")), createUser(unique("typed"))
		r := scim("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,
			"members":[{"value":%q,"type":"User","$ref":"https://scim.example.com/provisioning/generic/v2/Users/%s"},{"value":%q,"$ref":"Users/%s"}]}`,
			unique("typed"), a, a, b, b)).expectStatus(http.StatusCreated)
		Expect(r.body["members"]).To(ConsistOf(
			And(HaveKeyWithValue("value", a), HaveKeyWithValue("type", "User"), HaveKeyWithValue("$ref", "Users/"+a)),
			And(HaveKeyWithValue("value", b), HaveKeyWithValue("type", "User"), HaveKeyWithValue("$ref", "Users/"+b))))
		group := r.str("id")
		c := createUser(unique("typed"))
		scim("PATCH", "/Groups/"+group, groupPatch(fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":%q,"type":"User"}]}`, c))).
			expectStatus(http.StatusOK)
		Expect(getRole(group).MemberIDs()).To(ConsistOf(a, b, c))
	})

	It("refuses a Group member (groups do not nest) and a $ref naming another resource, storing nothing", func() {
		a := createUser(unique("typed"))
		name := unique("typed")
		r := scim("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"members":[{"value":%q,"type":"Group"}]}`, name, a)).
			expectError(http.StatusBadRequest, "invalidValue")
		Expect(r.body["detail"]).To(ContainSubstring("groups do not nest"))
		r = scim("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"members":[{"value":%q,"$ref":"Users/a-0000000000000000"}]}`, name, a)).
			expectError(http.StatusBadRequest, "invalidValue")
		Expect(r.body["detail"]).To(ContainSubstring("does not name its User"))
		Expect(scim("GET", "/Groups?filter="+url.QueryEscape(fmt.Sprintf("displayName eq %q", name)), "").body["totalResults"]).To(BeEquivalentTo(0))
	})

	It("advertises type and $ref of members in /Schemas", func() {
		r := scim("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", "").expectStatus(http.StatusOK)
		var subs []string
		bySub := map[string]map[string]any{}
		for _, a := range r.body["attributes"].([]any) {
			if attr := a.(map[string]any); attr["name"] == "members" {
				for _, s := range attr["subAttributes"].([]any) {
					sub := s.(map[string]any)
					subs = append(subs, sub["name"].(string))
					bySub[sub["name"].(string)] = sub
				}
			}
		}
		Expect(subs).To(ConsistOf("value", "display", "type", "$ref"))
		Expect(bySub["type"]).To(And(HaveKeyWithValue("type", "string"), HaveKeyWithValue("canonicalValues", ConsistOf("User"))))
		Expect(bySub["$ref"]).To(And(HaveKeyWithValue("type", "reference"), HaveKeyWithValue("referenceTypes", ConsistOf("User"))))
	})
})
