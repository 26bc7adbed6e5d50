package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access/authorizer"
)

// The suite's API server consults the authorization webhook before RBAC (see BeforeSuite). Without
// a user prefix it denies the users it knows to have no access, and has no opinion on the others.
var _ = Describe("The authorization webhook before RBAC", func() {
	review := func(ctx SpecContext, g Gomega, user string) authorizationv1.SubjectAccessReviewStatus {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               suiteOptions.RBACUserPrefix + user,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "configmaps", Namespace: "default"},
		}}
		g.Expect(admin.Create(ctx, sar)).To(Succeed())
		return sar.Status
	}

	It("denies a suspended user before the bindings are rewritten, and leaves RBAC the rest", func(ctx SpecContext) {
		u := newUser("webhook")
		create(ctx, admin, u, newRole("webhook", &identityv1alpha1.Access{ClusterRoles: []string{"view"}}, u))
		Eventually(func(g Gomega) { g.Expect(review(ctx, g, u.Spec.UserName).Allowed).To(BeTrue()) }).Should(Succeed())

		Expect(adminWrite(ctx, u, func() { u.Spec.Active = new(false) })).To(Succeed())
		Eventually(func(g Gomega) {
			s := review(ctx, g, u.Spec.UserName)
			g.Expect(s.Denied).To(BeTrue())
			g.Expect(s.Reason).To(Equal(authorizer.ReasonPrefix + "ScimUser " + u.Name + " is suspended (by admin)"))
		}).Should(Succeed())

		// Without a prefix, a user the operator does not know is RBAC's to decide.
		Expect(review(ctx, Default, unique("nobody"))).To(Equal(authorizationv1.SubjectAccessReviewStatus{}))
	})
})
