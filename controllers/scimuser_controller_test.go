package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

var _ = Describe("ScimUser status", func() {
	var user *identityv1alpha1.ScimUser

	BeforeEach(func(ctx SpecContext) {
		user = newUser("user")
		create(ctx, admin, user)
	})

	// eventuallyUser waits until the user's status, re-read, satisfies check.
	eventuallyUser := func(ctx SpecContext, check func(g Gomega, u *identityv1alpha1.ScimUser)) {
		Eventually(func(g Gomega) {
			got := &identityv1alpha1.ScimUser{}
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(user), got)).To(Succeed())
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			check(g, got)
		}).Should(Succeed())
	}

	It("shows a user no provider touched as not managed, active and ready", func(ctx SpecContext) {
		eventuallyUser(ctx, func(g Gomega, u *identityv1alpha1.ScimUser) {
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionExternallyManaged)).To(
				haveCondition(metav1.ConditionFalse, identityv1alpha1.ReasonNotManaged, u.Generation))
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionSuspended)).To(
				haveCondition(metav1.ConditionFalse, identityv1alpha1.ReasonActive, u.Generation))
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionReady)).To(
				haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonBindingsApplied, u.Generation))
			g.Expect(u.Status.Subject).To(Equal(suiteOptions.RBACUserPrefix + u.Spec.UserName))
		})
	})

	It("shows a marked user as managed by its provider", func(ctx SpecContext) {
		scimWrite(ctx, user, func() { user.ApplyProviderActive("okta", true) })
		eventuallyUser(ctx, func(g Gomega, u *identityv1alpha1.ScimUser) {
			c := conditionOf(u.Status.Conditions, identityv1alpha1.ConditionExternallyManaged)
			g.Expect(c).To(haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonManagedByProvider, u.Generation))
			g.Expect(c.Message).To(ContainSubstring("okta"))
		})
	})

	It("shows a user its provider suspended as suspended by the provider and unmarked", func(ctx SpecContext) {
		scimWrite(ctx, user, func() { user.ApplyProviderActive("okta", true) })
		scimWrite(ctx, user, func() { user.ApplyProviderActive("okta", false) })
		eventuallyUser(ctx, func(g Gomega, u *identityv1alpha1.ScimUser) {
			g.Expect(u.SuspendedBy()).To(Equal(identityv1alpha1.SuspendedByProvider))
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionExternallyManaged)).To(
				haveCondition(metav1.ConditionFalse, identityv1alpha1.ReasonSuspended, u.Generation))
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionSuspended)).To(
				haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonSuspendedByProvider, u.Generation))
		})
	})

	It("records an admin's suspension: annotation suspended-by admin, marking removed", func(ctx SpecContext) {
		scimWrite(ctx, user, func() { user.ApplyProviderActive("azure", true) })
		Expect(adminWrite(ctx, user, func() { user.Spec.Active = new(false) })).To(Succeed())
		eventuallyUser(ctx, func(g Gomega, u *identityv1alpha1.ScimUser) {
			g.Expect(u.SuspendedBy()).To(Equal(identityv1alpha1.SuspendedByAdmin))
			g.Expect(u.Labels).NotTo(HaveKey(identityv1alpha1.LabelManagedBy))
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionExternallyManaged)).To(
				haveCondition(metav1.ConditionFalse, identityv1alpha1.ReasonSuspended, u.Generation))
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionSuspended)).To(
				haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonSuspendedByAdmin, u.Generation))
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionReady)).To(
				haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonBindingsApplied, u.Generation))
		})
		By("emitting an event for the suspension")
		Eventually(func(g Gomega) {
			g.Expect(eventsAbout(ctx, g, user.Name)).To(ContainElement(And(
				HaveField("Reason", identityv1alpha1.ReasonSuspendedByAdmin),
				HaveField("Type", "Normal"))))
		}).Should(Succeed())

		By("clearing the record when an admin reactivates the user")
		Expect(adminWrite(ctx, user, func() { user.Spec.Active = new(true) })).To(Succeed())
		eventuallyUser(ctx, func(g Gomega, u *identityv1alpha1.ScimUser) {
			g.Expect(u.Annotations).NotTo(HaveKey(identityv1alpha1.AnnotationSuspendedBy))
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionSuspended)).To(
				haveCondition(metav1.ConditionFalse, identityv1alpha1.ReasonActive, u.Generation))
		})
	})

	It("keeps LastTransitionTime while the status does not flip", func(ctx SpecContext) {
		var first metav1.Time
		eventuallyUser(ctx, func(g Gomega, u *identityv1alpha1.ScimUser) {
			c := conditionOf(u.Status.Conditions, identityv1alpha1.ConditionExternallyManaged)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			first = c.LastTransitionTime
		})
		Expect(adminWrite(ctx, user, func() { user.Spec.Title = "Engineer" })).To(Succeed())
		eventuallyUser(ctx, func(g Gomega, u *identityv1alpha1.ScimUser) {
			c := conditionOf(u.Status.Conditions, identityv1alpha1.ConditionExternallyManaged)
			g.Expect(c.ObservedGeneration).To(Equal(u.Generation))
			g.Expect(c.LastTransitionTime).To(Equal(first))
		})
	})

	// A reconcile writes only what differs from the cached user's status. One that read a copy older
	// than the manager's last status write, and found that copy already right, wrote nothing; the
	// change the cache showed next queued nothing, so the newer status stayed though it no longer
	// held (a user left Ready=False BindingsPending at 50,000 users). A status written by someone
	// else is that case on demand: nothing it is computed from changed.
	It("computes its status again when the status changes without what it is computed from", func(ctx SpecContext) {
		eventuallyUser(ctx, func(g Gomega, u *identityv1alpha1.ScimUser) {
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionReady)).To(
				haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonBindingsApplied, u.Generation))
		})
		overwriteCondition(ctx, user, func() *[]metav1.Condition { return &user.Status.Conditions }, metav1.Condition{
			Type: identityv1alpha1.ConditionReady, Status: metav1.ConditionFalse,
			Reason: identityv1alpha1.ReasonBindingsPending, Message: "not what the bindings say"})
		eventuallyUser(ctx, func(g Gomega, u *identityv1alpha1.ScimUser) {
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionReady)).To(
				haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonBindingsApplied, u.Generation))
		})
	})

	It("writes nothing of its status when roles whose grants hold it add it, are renamed or drop it", func(ctx SpecContext) {
		var before *identityv1alpha1.ScimUser
		eventuallyUser(ctx, func(g Gomega, u *identityv1alpha1.ScimUser) {
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionReady)).To(
				haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonBindingsApplied, u.Generation))
			before = u
		})
		view := &identityv1alpha1.Access{ClusterRoles: []string{"view"}}
		a, b := newRole("role-a", view, user), newRole("role-b", view, user)
		create(ctx, admin, a, b)
		for _, r := range []*identityv1alpha1.ScimRole{a, b} {
			Eventually(func(g Gomega) {
				crbs, _ := bindingsOf(ctx, g, r.Name)
				g.Expect(subjectNamesOf(crbs)).To(ContainElement(subjectsOf(user)[0]))
			}).Should(Succeed())
		}
		Expect(adminWrite(ctx, a, func() { a.Spec.DisplayName = "Renamed " + a.Name })).To(Succeed())
		Expect(adminWrite(ctx, b, func() { b.Spec.Members = nil })).To(Succeed())
		Eventually(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, b.Name)
			g.Expect(subjectNamesOf(crbs)).NotTo(ContainElement(subjectsOf(user)[0]))
		}).Should(Succeed())

		// Each change queues the user a membershipDelay later; by then its bindings hold, so the
		// status it computes is the one it has, and no write follows (an initial sync asks for no
		// status write per membership).
		Consistently(func(g Gomega) {
			got := &identityv1alpha1.ScimUser{}
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(user), got)).To(Succeed())
			g.Expect(got.ResourceVersion).To(Equal(before.ResourceVersion), "the user's status was written")
		}, 3*membershipDelay, 100*time.Millisecond).Should(Succeed())
	})
})
