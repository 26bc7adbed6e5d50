package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

var _ = Describe("Membership clean-up", func() {
	It("removes a user deleted with kubectl from every role's members", func(ctx SpecContext) {
		gone, stays := newUser("gone"), newUser("stays")
		create(ctx, admin, gone, stays)
		r1 := newRole("cleanup", nil, gone, stays)
		r2 := newRole("cleanup", nil, gone)
		create(ctx, admin, r1, r2)

		// The controllers have seen the user and the roles once the user has a status and each role
		// counts it.
		Eventually(func(g Gomega) {
			got := &identityv1alpha1.ScimUser{}
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(gone), got)).To(Succeed())
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			for r, members := range map[*identityv1alpha1.ScimRole]int32{r1: 2, r2: 1} {
				role := &identityv1alpha1.ScimRole{}
				g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(r), role)).To(Succeed())
				g.Expect(role.Status.MemberCount).To(Equal(members), r.Name)
			}
		}).Should(Succeed())
		Expect(admin.Delete(ctx, gone)).To(Succeed())
		Eventually(func(g Gomega) {
			for _, r := range []*identityv1alpha1.ScimRole{r1, r2} {
				got := &identityv1alpha1.ScimRole{}
				g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(r), got)).To(Succeed())
				g.Expect(got.Spec.Members).NotTo(ContainElement(HaveField("Value", gone.Name)), r.Name)
			}
		}).Should(Succeed())
		got := &identityv1alpha1.ScimRole{}
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(r1), got)).To(Succeed())
		Expect(got.Spec.Members).To(ConsistOf(HaveField("Value", stays.Name)))
	})

	It("keeps members declared before their user exists", func(ctx SpecContext) {
		future := newUser("future") // not created
		role := newRole("declared", nil, future)
		create(ctx, admin, role)
		Consistently(func(g Gomega) {
			got := &identityv1alpha1.ScimRole{}
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(role), got)).To(Succeed())
			g.Expect(got.Spec.Members).To(ConsistOf(HaveField("Value", future.Name)))
		}, "2s").Should(Succeed())
	})
})
