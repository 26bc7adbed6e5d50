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
	"github.com/scim-operator/scim-operator/scimserver"
)

// The suite's server runs with the default limits on one request.
var _ = Describe("Limits on the work of one request", func() {
	const (
		maxOps    = scimserver.DefaultMaxPatchOperations
		maxValues = scimserver.DefaultMaxMultiValues
	)
	// ops returns n operations made by op from their index.
	ops := func(n int, op func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = op(i)
		}
		return out
	}
	emails := func(n int) string {
		return "[" + strings.Join(ops(n, func(i int) string { return fmt.Sprintf(`{"value":"e%d@x.io"}`, i) }), ",") + "]"
	}
	withEmails := func(userName string, n int) string {
		return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"emails":%s}`, userName, emails(n))
	}
	expectUnchanged := func(before *v1.ScimUser) {
		GinkgoHelper()
		Expect(getUser(before.Name).ResourceVersion).To(Equal(before.ResourceVersion), "a rejected request wrote the user")
	}

	It("rejects a PATCH of one operation more than --scim-max-patch-operations, applying none", func() {
		id := createUser(unique("limits-ops"))
		before := getUser(id)
		body := groupPatch(ops(maxOps+1, func(i int) string { return fmt.Sprintf(`{"op":"replace","path":"title","value":"t%d"}`, i) })...)
		r := scim("PATCH", "/Users/"+id, body).expectError(http.StatusBadRequest, "invalidValue")
		Expect(r.str("detail")).To(And(ContainSubstring("%d operations", maxOps+1), ContainSubstring("--scim-max-patch-operations")))
		expectUnchanged(before)
		Expect(getUser(id).Spec.Title).To(BeEmpty())
	})

	It("applies a PATCH of exactly --scim-max-patch-operations operations", func() {
		id := createUser(unique("limits-ops-at"))
		// 1,000 adds of 100 distinct e-mail addresses, each added ten times.
		body := groupPatch(ops(maxOps, func(i int) string {
			return fmt.Sprintf(`{"op":"add","path":"emails","value":[{"value":"e%d@x.io"}]}`, i%maxValues)
		})...)
		r := scim("PATCH", "/Users/"+id, body).expectStatus(http.StatusOK)
		Expect(r.body["emails"]).To(HaveLen(maxValues))
		Expect(getUser(id).Spec.Emails).To(HaveLen(maxValues))
	})

	It("rejects a POST or PUT with more values in an attribute than --scim-max-multi-values, storing nothing", func() {
		users, _ := countObjects()
		userName := unique("limits-post")
		r := scim("POST", "/Users", withEmails(userName, maxValues+1)).expectError(http.StatusBadRequest, "invalidValue")
		Expect(r.str("detail")).To(And(ContainSubstring("emails"), ContainSubstring("--scim-max-multi-values")))
		after, _ := countObjects()
		Expect(after).To(Equal(users), "a rejected POST created a user")
		list := scim("GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", userName)), "").expectStatus(http.StatusOK)
		Expect(list.body["totalResults"]).To(BeEquivalentTo(0))

		// At the limit it is fine; one more through PUT is not.
		id := scim("POST", "/Users", withEmails(userName, maxValues)).expectStatus(http.StatusCreated).str("id")
		before := getUser(id)
		scim("PUT", "/Users/"+id, withEmails(userName, maxValues+1)).expectError(http.StatusBadRequest, "invalidValue")
		expectUnchanged(before)
		phones := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"phoneNumbers":%s}`,
			userName, strings.ReplaceAll(emails(maxValues+1), "@x.io", ""))
		scim("PUT", "/Users/"+id, phones).expectError(http.StatusBadRequest, "invalidValue")
		expectUnchanged(before)
	})

	It("rejects a PATCH that takes an attribute past --scim-max-multi-values, storing nothing", func() {
		id := createUser(unique("limits-patch"))
		scim("PATCH", "/Users/"+id, groupPatch(`{"op":"replace","path":"emails","value":`+emails(maxValues)+`}`)).expectStatus(http.StatusOK)
		before := getUser(id)
		r := scim("PATCH", "/Users/"+id, groupPatch(`{"op":"add","path":"emails","value":[{"value":"one-more@x.io"}]}`)).
			expectError(http.StatusBadRequest, "invalidValue")
		Expect(r.str("detail")).To(And(ContainSubstring("emails would hold %d values", maxValues+1), ContainSubstring("--scim-max-multi-values")))
		expectUnchanged(before)
		// The no-path form too, and an attribute the user has none of yet.
		scim("PATCH", "/Users/"+id, groupPatch(`{"op":"add","value":{"ims":`+emails(maxValues+1)+`}}`)).
			expectError(http.StatusBadRequest, "invalidValue")
		expectUnchanged(before)
	})

	It("still patches, and suspends, a user stored with more values than --scim-max-multi-values", func() {
		var many []v1.MultiValuedAttribute
		for i := 0; i < maxValues+50; i++ {
			many = append(many, v1.MultiValuedAttribute{Value: fmt.Sprintf("e%d@x.io", i)})
		}
		u := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: unique("a-limits-stored")},
			Spec: v1.ScimUserSpec{UserName: unique("limits-stored"), Emails: many}}
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		scim("PATCH", "/Users/"+u.Name, groupPatch(`{"op":"replace","path":"title","value":"t"}`)).expectStatus(http.StatusOK)
		scim("PATCH", "/Users/"+u.Name, groupPatch(`{"op":"remove","path":"emails[value eq \"e0@x.io\"]"}`)).expectStatus(http.StatusOK)
		r := scim("PATCH", "/Users/"+u.Name, groupPatch(`{"op":"replace","path":"active","value":false}`)).expectStatus(http.StatusOK)
		Expect(r.body["active"]).To(BeFalse())
		Expect(getUser(u.Name).Spec.Emails).To(HaveLen(maxValues + 49))
		before := getUser(u.Name)
		scim("PATCH", "/Users/"+u.Name, groupPatch(`{"op":"add","path":"emails","value":[{"value":"new@x.io"}]}`)).
			expectError(http.StatusBadRequest, "invalidValue")
		expectUnchanged(before)
	})

	It("does not limit the members of a group by --scim-max-multi-values", func() {
		prefix := unique("limits-member")
		var members []string
		for i := 0; i <= maxValues; i++ {
			u := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("a-%s-%d", prefix, i),
				Labels: map[string]string{v1.LabelManagedBy: "generic"}}, Spec: v1.ScimUserSpec{UserName: fmt.Sprintf("%s-%d", prefix, i)}}
			Expect(k8sClient.Create(ctx, u)).To(Succeed())
			members = append(members, u.Name)
		}
		// The informer delivers in order: once the cache has the last user, it has them all.
		last := url.QueryEscape(fmt.Sprintf("userName eq %q", fmt.Sprintf("%s-%d", prefix, maxValues)))
		Eventually(func() any { return scim("GET", "/Users?filter="+last, "").body["totalResults"] }).Should(BeEquivalentTo(1))
		id := createGroup(unique("limits-group"), members...)
		Expect(getRole(id).Spec.Members).To(HaveLen(maxValues + 1))
	})
})
