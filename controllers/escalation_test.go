package controllers

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// The attacks of an adversarial review, each reproduced by "mallory": a Kubernetes user who may
// create, update and delete ScimUsers and ScimRoles (config/rbac's editor roles) but may bind
// nothing, acting through impersonation against the real API server with the admission policies
// installed and the manager running as the operator's ServiceAccount.
var _ = Describe("Escalation through ScimUsers and ScimRoles", func() {
	var mallory client.Client

	BeforeEach(func(ctx SpecContext) {
		mallory, _ = userWith(ctx, "mallory", editorRole("scimuser_editor_role.yaml"), editorRole("scimrole_editor_role.yaml"))
	})

	// edit is granted by the role under attack: the operator may bind it, and the suite gives it rules.
	granting := func() *identityv1alpha1.Access { return &identityv1alpha1.Access{ClusterRoles: []string{"edit"}} }

	// expectSubjects waits until the bindings of role name exactly subjects.
	expectSubjects := func(ctx context.Context, role *identityv1alpha1.ScimRole, subjects ...string) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			g.Expect(crbs).NotTo(BeEmpty())
			g.Expect(subjectNamesOf(crbs)).To(ConsistOf(subjects))
		}).Should(Succeed())
	}
	// neverNames asserts, for a while, that no binding of role names subject.
	neverNames := func(ctx context.Context, role *identityv1alpha1.ScimRole, subject string) {
		GinkgoHelper()
		Consistently(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			g.Expect(subjectNamesOf(crbs)).NotTo(ContainElement(subject))
		}, "2s", "50ms").Should(Succeed())
	}

	It("gives a ScimUser re-created under a deleted user's name none of its memberships, however busy the clean-up", func(ctx SpecContext) {
		alice, flood := newUser("alice"), newUser("flood")
		create(ctx, admin, alice, flood)
		role := newRole("admins", granting(), alice)
		create(ctx, admin, role)
		// One user listed in 150 roles keeps the clean-up busy when it is deleted.
		for range 150 {
			create(ctx, admin, newRole("flood", nil, flood))
		}
		expectSubjects(ctx, role, alice.Spec.UserName)
		Eventually(func(g Gomega) {
			for _, u := range []*identityv1alpha1.ScimUser{alice, flood} {
				g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
				g.Expect(u.Finalizers).To(ContainElement(identityv1alpha1.FinalizerAccess))
			}
		}).Should(Succeed())

		Expect(mallory.Delete(ctx, flood)).To(Succeed())
		Expect(mallory.Delete(ctx, alice)).To(Succeed())
		impostor := &identityv1alpha1.ScimUser{
			ObjectMeta: metav1.ObjectMeta{Name: alice.Name},
			Spec:       identityv1alpha1.ScimUserSpec{UserName: "mallory@example.com"},
		}
		By("refusing the name while the deleted user is still in a role")
		attempts := 0
		Eventually(func(g Gomega) {
			attempts++
			err := mallory.Create(ctx, impostor.DeepCopy())
			if err != nil {
				g.Expect(apierrors.IsAlreadyExists(err)).To(BeTrue(), "got %v", err)
			}
			g.Expect(err).NotTo(HaveOccurred())
		}, "60s", "5ms").Should(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(admin.Delete(ctx, impostor))).To(Succeed()) })
		GinkgoWriter.Printf("the name was free after %d attempts\n", attempts)

		By("giving the new user none of the old one's roles")
		got := &identityv1alpha1.ScimRole{}
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(role), got)).To(Succeed())
		Expect(got.MemberIDs()).NotTo(ContainElement(alice.Name))
		neverNames(ctx, role, "mallory@example.com")
	})

	It("revokes a deleted role's bindings before its name can be taken again", func(ctx SpecContext) {
		alice := newUser("alice")
		create(ctx, admin, alice)
		role := newRole("admins", granting(), alice)
		create(ctx, admin, role)
		expectSubjects(ctx, role, alice.Spec.UserName)
		Eventually(func(g Gomega) {
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(role), role)).To(Succeed())
			g.Expect(role.Finalizers).To(ContainElement(identityv1alpha1.FinalizerAccess))
		}).Should(Succeed())

		Expect(mallory.Delete(ctx, role)).To(Succeed())
		again := &identityv1alpha1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
			Spec: identityv1alpha1.ScimRoleSpec{DisplayName: "Admins again"}}
		Eventually(func() error { return mallory.Create(ctx, again.DeepCopy()) }, "30s", "5ms").Should(Succeed())
		Eventually(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			g.Expect(crbs).To(BeEmpty(), "the old role's bindings are gone once its name is free")
		}, "1s").Should(Succeed())
	})

	It("does not let someone who may not bind lift a suspension, by the provider or by an admin", func(ctx SpecContext) {
		alice, bob := newUser("alice"), newUser("bob")
		create(ctx, admin, alice, bob)
		role := newRole("admins", granting(), alice, bob)
		create(ctx, admin, role)
		expectSubjects(ctx, role, alice.Spec.UserName, bob.Spec.UserName)

		By("the provider suspending alice, and mallory trying to reactivate her")
		scimWrite(ctx, alice, func() { alice.ApplyProviderActive("okta", false) })
		expectSubjects(ctx, role, bob.Spec.UserName)
		err := writeAs(ctx, mallory, alice, func() { alice.Spec.Active = new(true) })
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(And(ContainSubstring("may not reactivate ScimUser "+alice.Name), ContainSubstring("suspended by provider"),
			ContainSubstring("needs the bind verb on all ClusterRoles and Roles")))
		neverNames(ctx, role, alice.Spec.UserName)

		By("an admin suspending bob, and mallory trying to reactivate him by dropping active")
		Expect(adminWrite(ctx, bob, func() { bob.Spec.Active = new(false) })).To(Succeed())
		expectSubjects(ctx, role)
		err = writeAs(ctx, mallory, bob, func() { bob.Spec.Active = nil })
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("may not reactivate ScimUser " + bob.Name))

		By("letting the provider lift its own suspension, and a cluster admin lift the admin's")
		scimWrite(ctx, alice, func() { alice.ApplyProviderActive("okta", true) })
		Expect(adminWrite(ctx, bob, func() { bob.Spec.Active = new(true) })).To(Succeed())
		expectSubjects(ctx, role, alice.Spec.UserName, bob.Spec.UserName)
	})

	It("does not let a role be swapped out from under GitOps, nor one be prepared for it", func(ctx SpecContext) {
		alice, own := newUser("alice"), newUser("mallory")
		create(ctx, admin, alice)
		Expect(mallory.Create(ctx, own)).To(Succeed(), "mallory may create users")
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(admin.Delete(ctx, own))).To(Succeed()) })
		role := newRole("admins", granting(), alice)
		create(ctx, admin, role)
		expectSubjects(ctx, role, alice.Spec.UserName)

		By("mallory deleting the role and re-creating it with herself as a member")
		Expect(mallory.Delete(ctx, role)).To(Succeed())
		swapped := &identityv1alpha1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
			Spec: identityv1alpha1.ScimRoleSpec{DisplayName: role.Spec.DisplayName, Members: []identityv1alpha1.Member{{Value: own.Name}}}}
		var err error
		Eventually(func() bool {
			err = mallory.Create(ctx, swapped.DeepCopy())
			return apierrors.IsAlreadyExists(err)
		}, "30s", "10ms").Should(BeFalse())
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("may not add members to ScimRole " + role.Name))

		By("mallory preparing a role GitOps is about to declare, with herself in it")
		prepared := newRole("platform", nil, own)
		err = mallory.Create(ctx, prepared)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("may not add members to ScimRole " + prepared.Name))

		By("the next GitOps apply binding nobody mallory put there")
		swapped.Spec.Members = nil
		Eventually(func() error { return mallory.Create(ctx, swapped.DeepCopy()) }, "30s", "10ms").Should(Succeed(), "an empty role grants nothing")
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(admin.Delete(ctx, swapped))).To(Succeed()) })
		Expect(adminWrite(ctx, swapped, func() { swapped.Spec.Access = granting() })).To(Succeed())
		expectSubjects(ctx, swapped)
		neverNames(ctx, swapped, own.Spec.UserName)
	})

	It("does not let someone who may not bind remove the finalizer that holds a deleted object back", func(ctx SpecContext) {
		alice := newUser("alice")
		create(ctx, admin, alice)
		role := newRole("admins", granting(), alice)
		create(ctx, admin, role)
		Eventually(func(g Gomega) {
			for _, obj := range []client.Object{alice, role} {
				g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
				g.Expect(obj.GetFinalizers()).To(ContainElement(identityv1alpha1.FinalizerAccess))
			}
		}).Should(Succeed())
		for _, obj := range []client.Object{alice, role} {
			err := writeAs(ctx, mallory, obj, func() { identityv1alpha1.RemoveFinalizerAccess(obj) })
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("may not remove the finalizer identity.scim-operator.io/access"))
		}
	})

	It("never binds a user whose subject name is in Kubernetes' reserved system: namespace", func(ctx SpecContext) {
		carol := newUser("carol")
		anonymous, serviceAccount := newUser("anonymous"), newUser("sa")
		anonymous.Spec.UserName = "system:anonymous"
		serviceAccount.Spec.UserName = fmt.Sprintf("system:serviceaccount:team-a:%s", unique("default"))
		create(ctx, admin, carol, anonymous, serviceAccount)
		role := newRole("admins", granting(), carol, anonymous, serviceAccount)
		create(ctx, admin, role)
		expectSubjects(ctx, role, carol.Spec.UserName)
		for _, u := range []*identityv1alpha1.ScimUser{anonymous, serviceAccount} {
			Eventually(func(g Gomega) {
				g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
				g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionReady)).To(And(
					HaveField("Status", metav1.ConditionFalse), HaveField("Reason", identityv1alpha1.ReasonReservedName),
					HaveField("Message", ContainSubstring("--rbac-user-prefix"))))
			}).Should(Succeed())
		}
		neverNames(ctx, role, "system:anonymous")
	})
})

// subjectNamesOf returns the sorted subject names of every binding in crbs.
func subjectNamesOf(crbs []rbacv1.ClusterRoleBinding) []string {
	var all []rbacv1.Subject
	for _, b := range crbs {
		all = append(all, b.Subjects...)
	}
	return subjectNames(all)
}

var _ = Describe("Admission at the CRD's maximum sizes", func() {
	// maxAccess is the largest access the CRD admits: 64 ClusterRoles (which the operator may not
	// bind: the role ends BindForbidden) and view in 256 namespaces.
	maxAccess := func(ctx context.Context) *identityv1alpha1.Access {
		access := &identityv1alpha1.Access{}
		for i := range 64 {
			name := fmt.Sprintf("scim-max-%02d", i)
			err := admin.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}})
			Expect(client.IgnoreAlreadyExists(err)).To(Succeed())
			access.ClusterRoles = append(access.ClusterRoles, name)
		}
		for _, ns := range namespaces(ctx, 256) {
			access.Namespaced = append(access.Namespaced, identityv1alpha1.NamespacedAccess{Namespace: ns, ClusterRole: "view"})
		}
		return access
	}

	It("lets a cluster admin create and change a role of 64 ClusterRoles, 256 namespaced entries and 20,000 members", func(ctx SpecContext) {
		By("creating it")
		role := newRole("max", maxAccess(ctx))
		for i := range 20000 {
			role.Spec.Members = append(role.Spec.Members, identityv1alpha1.Member{
				Value: fmt.Sprintf("max-member-%05d", i), Display: fmt.Sprintf("Member %05d", i)})
		}
		create(ctx, admin, role)
		By("changing it")
		Expect(adminWrite(ctx, role, func() { role.Annotations = map[string]string{"team": "platform"} })).To(Succeed(), "annotating")
		Expect(adminWrite(ctx, role, func() { role.Spec.Members = role.Spec.Members[1:] })).To(Succeed(), "removing a member")
		Expect(adminWrite(ctx, role, func() {
			role.Spec.Members = append(role.Spec.Members, identityv1alpha1.Member{Value: "max-member-new"})
		})).To(Succeed(), "adding a member")
		scimWrite(ctx, role, func() { identityv1alpha1.MarkManagedBy(role, "okta") })
		Expect(adminWrite(ctx, role, func() { delete(role.Labels, identityv1alpha1.LabelManagedBy) })).To(Succeed(), "taking it over")
		Expect(adminWrite(ctx, role, func() { role.Spec.Access = nil })).To(Succeed(), "removing its access")
		Expect(adminWrite(ctx, role, func() { role.Spec.Access = maxAccess(ctx) })).To(Succeed(), "granting it all again")
	})

	It("checks each entry a grantor adds, up to 16 in one change, and says so past that", func(ctx SpecContext) {
		grantor, _ := userWith(ctx, "grantor", editorRole("scimrole_editor_role.yaml"), mayBind("view"))
		ns := namespaces(ctx, 40)
		views := func(from, to int) []identityv1alpha1.NamespacedAccess {
			var out []identityv1alpha1.NamespacedAccess
			for _, n := range ns[from:to] {
				out = append(out, identityv1alpha1.NamespacedAccess{Namespace: n, ClusterRole: "view"})
			}
			return out
		}

		By("three new entries (the policy used to exceed its cost budget at three)")
		role := newRole("grant", &identityv1alpha1.Access{ClusterRoles: []string{"view"}, Namespaced: views(0, 2)})
		Eventually(func() error { return grantor.Create(ctx, role) }).Should(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(admin.Delete(ctx, role))).To(Succeed()) })

		By("sixteen more in one change")
		Expect(writeAs(ctx, grantor, role, func() { role.Spec.Access.Namespaced = views(0, 18) })).To(Succeed())

		By("seventeen more in one change: denied, saying why")
		err := writeAs(ctx, grantor, role, func() { role.Spec.Access.Namespaced = views(0, 35) })
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("adds 17 access entries to ScimRole " + role.Name + ": one change may add at most 16"))

		By("one it may not bind among new ones it may")
		err = writeAs(ctx, grantor, role, func() {
			role.Spec.Access.Namespaced = append(views(0, 20), identityv1alpha1.NamespacedAccess{Namespace: ns[39], ClusterRole: "edit"})
		})
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("may not grant ClusterRole edit in namespace " + ns[39] + " through ScimRole " + role.Name))
	})
})

// namespaces returns the names of n namespaces, creating those that do not exist yet, so that the
// bindings of roles granting access in them can be written.
func namespaces(ctx context.Context, n int) []string {
	GinkgoHelper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("scim-ns-%03d", i)
		err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: names[i]}})
		Expect(client.IgnoreAlreadyExists(err)).To(Succeed())
	}
	return names
}
