package controllers

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

var _ = Describe("ScimRole projection onto RBAC", func() {
	var alice, bob, carol *identityv1alpha1.ScimUser

	BeforeEach(func(ctx SpecContext) {
		alice, bob, carol = newUser("alice"), newUser("bob"), newUser("carol")
		carol.Spec.Active = new(false)
		create(ctx, admin, alice, bob, carol)
	})

	// eventuallyRole waits until the role's status, re-read, satisfies check.
	eventuallyRole := func(ctx context.Context, role *identityv1alpha1.ScimRole, check func(g Gomega, r *identityv1alpha1.ScimRole)) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			got := &identityv1alpha1.ScimRole{}
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(role), got)).To(Succeed())
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			check(g, got)
		}).Should(Succeed())
	}

	// eventuallyClusterSubjects waits until the role's ClusterRoleBindings of clusterRole hold exactly
	// subjects, in bindings of at most the suite's size.
	eventuallyClusterSubjects := func(ctx context.Context, role *identityv1alpha1.ScimRole, clusterRole string, subjects []string) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			var got []rbacv1.Subject
			for _, b := range crbs {
				if b.RoleRef.Name == clusterRole {
					g.Expect(len(b.Subjects)).To(BeNumerically("<=", suiteOptions.MaxSubjectsPerBinding))
					got = append(got, b.Subjects...)
				}
			}
			g.Expect(subjectNames(got)).To(Equal(subjects))
		}).Should(Succeed())
	}

	It("creates a binding per access entry with exactly the active members", func(ctx SpecContext) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: unique("team")}}
		create(ctx, admin, ns)
		role := newRole("role", &identityv1alpha1.Access{
			ClusterRoles: []string{"view"},
			Namespaced:   []identityv1alpha1.NamespacedAccess{{Namespace: ns.Name, ClusterRole: "edit"}},
		}, alice, bob, carol)
		create(ctx, admin, role)

		Eventually(func(g Gomega) {
			crbs, rbs := bindingsOf(ctx, g, role.Name)
			g.Expect(crbs).To(HaveLen(1))
			g.Expect(rbs).To(HaveLen(1))
			crb, rb := crbs[0], rbs[0]
			g.Expect(crb.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}))
			g.Expect(rb.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"}))
			g.Expect(rb.Namespace).To(Equal(ns.Name))
			for _, subjects := range [][]rbacv1.Subject{crb.Subjects, rb.Subjects} {
				g.Expect(subjects).To(Equal([]rbacv1.Subject{
					{Kind: "User", APIGroup: rbacv1.GroupName, Name: subjectsOf(alice, bob)[0]},
					{Kind: "User", APIGroup: rbacv1.GroupName, Name: subjectsOf(alice, bob)[1]},
				}))
			}
			for _, meta := range []metav1.ObjectMeta{crb.ObjectMeta, rb.ObjectMeta} {
				g.Expect(meta.Labels).To(HaveKeyWithValue(identityv1alpha1.LabelRole, role.Name))
				g.Expect(meta.OwnerReferences).To(ConsistOf(HaveField("Name", role.Name)))
				g.Expect(*meta.OwnerReferences[0].Controller).To(BeTrue())
			}
		}).Should(Succeed())
		eventuallyRole(ctx, role, func(g Gomega, r *identityv1alpha1.ScimRole) {
			g.Expect(r.Status.MemberCount).To(BeEquivalentTo(3))
			g.Expect(r.Status.ActiveMemberCount).To(BeEquivalentTo(2))
			g.Expect(r.Status.Bindings).To(HaveLen(2))
			g.Expect(conditionOf(r.Status.Conditions, identityv1alpha1.ConditionReady)).To(
				haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonBindingsApplied, r.Generation))
			g.Expect(conditionOf(r.Status.Conditions, identityv1alpha1.ConditionExternallyManaged)).To(
				haveCondition(metav1.ConditionFalse, identityv1alpha1.ReasonNotManaged, r.Generation))
		})

		By("showing the members' status as ready")
		Eventually(func(g Gomega) {
			got := &identityv1alpha1.ScimUser{}
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(alice), got)).To(Succeed())
			g.Expect(conditionOf(got.Status.Conditions, identityv1alpha1.ConditionReady)).To(
				haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonBindingsApplied, got.Generation))
		}).Should(Succeed())
	})

	It("shows a role marked by a provider as externally managed", func(ctx SpecContext) {
		role := newRole("role", nil, alice)
		create(ctx, admin, role)
		scimWrite(ctx, role, func() { identityv1alpha1.MarkManagedBy(role, "okta") })
		eventuallyRole(ctx, role, func(g Gomega, r *identityv1alpha1.ScimRole) {
			c := conditionOf(r.Status.Conditions, identityv1alpha1.ConditionExternallyManaged)
			g.Expect(c).To(haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonManagedByProvider, r.Generation))
			g.Expect(c.Message).To(ContainSubstring("okta"))
		})
	})

	// As for users ("computes its status again when the status changes without what it is computed
	// from"): a reconcile that read an older copy of the role, already right, wrote nothing.
	It("computes its status again when the status changes without what it is computed from", func(ctx SpecContext) {
		role := newRole("role", nil, alice)
		create(ctx, admin, role)
		eventuallyRole(ctx, role, func(g Gomega, r *identityv1alpha1.ScimRole) {
			g.Expect(conditionOf(r.Status.Conditions, identityv1alpha1.ConditionExternallyManaged)).To(
				haveCondition(metav1.ConditionFalse, identityv1alpha1.ReasonNotManaged, r.Generation))
		})
		overwriteCondition(ctx, role, func() *[]metav1.Condition { return &role.Status.Conditions }, metav1.Condition{
			Type: identityv1alpha1.ConditionExternallyManaged, Status: metav1.ConditionTrue,
			Reason: identityv1alpha1.ReasonManagedByProvider, Message: "not what the role says"})
		eventuallyRole(ctx, role, func(g Gomega, r *identityv1alpha1.ScimRole) {
			g.Expect(conditionOf(r.Status.Conditions, identityv1alpha1.ConditionExternallyManaged)).To(
				haveCondition(metav1.ConditionFalse, identityv1alpha1.ReasonNotManaged, r.Generation))
		})
	})

	It("removes a user from the bindings when it is suspended, by anyone, or deleted", func(ctx SpecContext) {
		role := newRole("role", &identityv1alpha1.Access{ClusterRoles: []string{"view"}}, alice, bob, carol)
		create(ctx, admin, role)
		eventuallyClusterSubjects(ctx, role, "view", subjectsOf(alice, bob))

		By("a provider suspending alice")
		scimWrite(ctx, alice, func() { alice.ApplyProviderActive("okta", false) })
		eventuallyClusterSubjects(ctx, role, "view", subjectsOf(bob))
		Eventually(func(g Gomega) {
			got := &identityv1alpha1.ScimUser{}
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(alice), got)).To(Succeed())
			g.Expect(conditionOf(got.Status.Conditions, identityv1alpha1.ConditionReady)).To(
				haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonBindingsApplied, got.Generation))
			g.Expect(conditionOf(got.Status.Conditions, identityv1alpha1.ConditionReady).Message).To(ContainSubstring("in no binding"))
		}).Should(Succeed())

		By("an admin reactivating carol, then deleting bob")
		Expect(adminWrite(ctx, carol, func() { carol.Spec.Active = new(true) })).To(Succeed())
		eventuallyClusterSubjects(ctx, role, "view", subjectsOf(bob, carol))
		Expect(admin.Delete(ctx, bob)).To(Succeed())
		eventuallyClusterSubjects(ctx, role, "view", subjectsOf(carol))
	})

	It("deletes the binding of an access entry that is removed, and all of them with the role", func(ctx SpecContext) {
		role := newRole("role", &identityv1alpha1.Access{ClusterRoles: []string{"view", "edit"}}, alice)
		create(ctx, admin, role)
		Eventually(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			g.Expect(crbs).To(HaveLen(2))
		}).Should(Succeed())

		Expect(adminWrite(ctx, role, func() { role.Spec.Access.ClusterRoles = []string{"edit"} })).To(Succeed())
		Eventually(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			g.Expect(crbs).To(ConsistOf(HaveField("RoleRef.Name", "edit")))
		}).Should(Succeed())

		Expect(admin.Delete(ctx, role)).To(Succeed())
		Eventually(func(g Gomega) {
			crbs, rbs := bindingsOf(ctx, g, role.Name)
			g.Expect(crbs).To(BeEmpty())
			g.Expect(rbs).To(BeEmpty())
		}).Should(Succeed())
	})

	It("repairs a binding edited by hand and restores one deleted by hand", func(ctx SpecContext) {
		role := newRole("role", &identityv1alpha1.Access{ClusterRoles: []string{"view"}}, alice, bob)
		create(ctx, admin, role)
		eventuallyClusterSubjects(ctx, role, "view", subjectsOf(alice, bob))

		var crb rbacv1.ClusterRoleBinding
		Eventually(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			g.Expect(crbs).To(HaveLen(1))
			crb = crbs[0]
		}).Should(Succeed())
		crb.Subjects = []rbacv1.Subject{
			{Kind: "User", APIGroup: rbacv1.GroupName, Name: subjectsOf(alice)[0]},
			{Kind: "User", APIGroup: rbacv1.GroupName, Name: "mallory"},
		}
		Expect(admin.Update(ctx, &crb)).To(Succeed())
		eventuallyClusterSubjects(ctx, role, "view", subjectsOf(alice, bob))

		Expect(admin.Delete(ctx, &crb)).To(Succeed())
		eventuallyClusterSubjects(ctx, role, "view", subjectsOf(alice, bob))
	})

	It("splits the subjects over several bindings and merges them back", func(ctx SpecContext) {
		users := []*identityv1alpha1.ScimUser{alice, bob}
		for range 5 {
			u := newUser("member")
			create(ctx, admin, u)
			users = append(users, u)
		}
		role := newRole("role", &identityv1alpha1.Access{ClusterRoles: []string{"view"}}, users...)
		create(ctx, admin, role)
		eventuallyClusterSubjects(ctx, role, "view", subjectsOf(users...))
		Eventually(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			g.Expect(crbs).To(HaveLen(3)) // 7 subjects, at most 3 a binding
		}).Should(Succeed())
		eventuallyRole(ctx, role, func(g Gomega, r *identityv1alpha1.ScimRole) {
			g.Expect(r.Status.Bindings).To(HaveLen(3))
			g.Expect(r.Status.ActiveMemberCount).To(BeEquivalentTo(7))
		})

		By("suspending four members")
		for _, u := range users[3:] {
			Expect(adminWrite(ctx, u, func() { u.Spec.Active = new(false) })).To(Succeed())
		}
		eventuallyClusterSubjects(ctx, role, "view", subjectsOf(users[:3]...))
		Eventually(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			g.Expect(crbs).To(HaveLen(1))
		}).Should(Succeed())
		eventuallyRole(ctx, role, func(g Gomega, r *identityv1alpha1.ScimRole) {
			g.Expect(r.Status.Bindings).To(HaveLen(1))
		})
	})

	It("does not bind a ClusterRole the operator may not bind: Ready=False, BindForbidden", func(ctx SpecContext) {
		role := newRole("role", &identityv1alpha1.Access{ClusterRoles: []string{"cluster-admin", "view"}}, alice)
		create(ctx, admin, role)
		eventuallyRole(ctx, role, func(g Gomega, r *identityv1alpha1.ScimRole) {
			c := conditionOf(r.Status.Conditions, identityv1alpha1.ConditionReady)
			g.Expect(c).To(haveCondition(metav1.ConditionFalse, identityv1alpha1.ReasonBindForbidden, r.Generation))
			g.Expect(c.Message).To(ContainSubstring(`ClusterRole "cluster-admin"`))
		})
		Consistently(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			g.Expect(crbs).To(ConsistOf(HaveField("RoleRef.Name", "view")))
		}, "1s").Should(Succeed())

		By("emitting a Warning event and showing the cause on the members")
		Eventually(func(g Gomega) {
			g.Expect(eventsAbout(ctx, g, role.Name)).To(ContainElement(And(
				HaveField("Reason", identityv1alpha1.ReasonBindForbidden), HaveField("Type", "Warning"))))
			got := &identityv1alpha1.ScimUser{}
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(alice), got)).To(Succeed())
			c := conditionOf(got.Status.Conditions, identityv1alpha1.ConditionReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(identityv1alpha1.ReasonBindForbidden))
			g.Expect(c.Message).To(ContainSubstring("cluster-admin"))
		}).Should(Succeed())
	})

	It("binds a ClusterRole the operator was allowed to bind, and fails closed when that is taken back", func(ctx SpecContext) {
		deployer := &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: unique("deployer")},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "update"}}},
		}
		// What the kustomize patch of config/rbac/README.md adds to the operator's permissions.
		allow := &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: unique("bind-deployer")},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"},
				Verbs: []string{"bind"}, ResourceNames: []string{deployer.Name}}},
		}
		allowBinding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: allow.Name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: allow.Name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: operatorSA.Name, Namespace: operatorSA.Namespace}},
		}
		create(ctx, admin, deployer, allow, allowBinding)
		role := newRole("role", &identityv1alpha1.Access{ClusterRoles: []string{deployer.Name}}, alice, bob)
		create(ctx, admin, role)
		eventuallyClusterSubjects(ctx, role, deployer.Name, subjectsOf(alice, bob))

		By("taking the permission back, then suspending a member")
		Expect(admin.Delete(ctx, allowBinding)).To(Succeed())
		Expect(adminWrite(ctx, alice, func() { alice.Spec.Active = new(false) })).To(Succeed())
		Eventually(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			g.Expect(crbs).To(BeEmpty())
		}).Should(Succeed())
		eventuallyRole(ctx, role, func(g Gomega, r *identityv1alpha1.ScimRole) {
			g.Expect(conditionOf(r.Status.Conditions, identityv1alpha1.ConditionReady)).To(
				haveCondition(metav1.ConditionFalse, identityv1alpha1.ReasonBindForbidden, r.Generation))
		})
	})

	It("reports members without a ScimUser: Ready=False, MembersMissing", func(ctx SpecContext) {
		ghost := newUser("ghost")
		role := newRole("role", &identityv1alpha1.Access{ClusterRoles: []string{"view"}}, alice, ghost)
		create(ctx, admin, role)
		eventuallyRole(ctx, role, func(g Gomega, r *identityv1alpha1.ScimRole) {
			c := conditionOf(r.Status.Conditions, identityv1alpha1.ConditionReady)
			g.Expect(c).To(haveCondition(metav1.ConditionFalse, identityv1alpha1.ReasonMembersMissing, r.Generation))
			g.Expect(c.Message).To(ContainSubstring(ghost.Name))
		})
		eventuallyClusterSubjects(ctx, role, "view", subjectsOf(alice))

		By("granting the member once its ScimUser exists")
		create(ctx, admin, ghost)
		eventuallyClusterSubjects(ctx, role, "view", subjectsOf(alice, ghost))
		eventuallyRole(ctx, role, func(g Gomega, r *identityv1alpha1.ScimRole) {
			g.Expect(conditionOf(r.Status.Conditions, identityv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		})
	})

	It("gives a member the access of the role, and takes it away on suspension", func(ctx SpecContext) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: unique("team")}}
		create(ctx, admin, ns)
		role := newRole("role", &identityv1alpha1.Access{
			Namespaced: []identityv1alpha1.NamespacedAccess{{Namespace: ns.Name, ClusterRole: "view"}},
		}, alice)
		create(ctx, admin, role)

		canListPods := func(g Gomega) bool {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: subjectsOf(alice)[0],
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: ns.Name, Verb: "list", Resource: "pods",
				},
			}}
			g.Expect(admin.Create(ctx, sar)).To(Succeed())
			return sar.Status.Allowed
		}
		Eventually(canListPods).Should(BeTrue())

		Expect(adminWrite(ctx, alice, func() { alice.Spec.Active = new(false) })).To(Succeed())
		Eventually(canListPods).Should(BeFalse())
	})

	It("revokes a deleted role's bindings without a garbage collector", func(ctx SpecContext) {
		role := newRole("role", &identityv1alpha1.Access{ClusterRoles: []string{"view"}}, alice)
		create(ctx, admin, role)
		eventuallyClusterSubjects(ctx, role, "view", subjectsOf(alice))
		Expect(admin.Delete(ctx, role)).To(Succeed())
		Eventually(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			g.Expect(crbs).To(BeEmpty())
		}).Should(Succeed())
		// The finalizer is released by a write of its own, after the bindings are gone.
		Eventually(func() bool {
			err := admin.Get(ctx, client.ObjectKeyFromObject(role), &identityv1alpha1.ScimRole{})
			return apierrors.IsNotFound(err)
		}).Should(BeTrue())
	})
})
