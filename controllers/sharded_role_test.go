package controllers

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// A large role keeps members beyond its own in ScimRoleMembers shards it owns (docs/design.md,
// "Groups of 100,000 members"); the SCIM server writes them, as the operator does here.
var _ = Describe("Roles with member shards", func() {
	granting := func() *identityv1alpha1.Access { return &identityv1alpha1.Access{ClusterRoles: []string{"edit"}} }

	// shardOf creates, as the operator, shard n of role holding members.
	shardOf := func(ctx context.Context, role *identityv1alpha1.ScimRole, n int, members ...*identityv1alpha1.ScimUser) *identityv1alpha1.ScimRoleMembers {
		GinkgoHelper()
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(role), role)).To(Succeed())
		shard := identityv1alpha1.NewShard(role, n)
		for _, m := range members {
			shard.Spec.Members = append(shard.Spec.Members, identityv1alpha1.Member{Value: m.Name, Display: m.Spec.UserName})
		}
		create(ctx, operator, shard)
		return shard
	}
	// expectSubjects waits until the bindings of role name exactly users.
	expectSubjects := func(ctx context.Context, role *identityv1alpha1.ScimRole, users ...*identityv1alpha1.ScimUser) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			g.Expect(crbs).NotTo(BeEmpty())
			g.Expect(subjectNamesOf(crbs)).To(Equal(subjectsOf(users...)))
		}).Should(Succeed())
	}

	It("binds every active member of the role and its shards, shows them ready, and cleans up after deletions", func(ctx SpecContext) {
		var users []*identityv1alpha1.ScimUser
		for range 7 {
			u := newUser("sharded")
			create(ctx, admin, u)
			users = append(users, u)
		}
		role := newRole("sharded", granting(), users[0], users[1])
		create(ctx, admin, role)
		first := shardOf(ctx, role, 0, users[2], users[3], users[4])
		shardOf(ctx, role, 1, users[5], users[6])
		expectSubjects(ctx, role, users...)
		Eventually(func(g Gomega) {
			got := &identityv1alpha1.ScimRole{}
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(role), got)).To(Succeed())
			g.Expect(got.Status.MemberCount).To(BeEquivalentTo(7))
			u := &identityv1alpha1.ScimUser{}
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(users[6]), u)).To(Succeed())
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionReady)).To(
				haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonBindingsApplied, u.Generation))
		}).Should(Succeed())

		By("a shard of another role of the same name grants nothing")
		stranger := newUser("stranger")
		create(ctx, admin, stranger)
		forged := identityv1alpha1.NewShard(role, 7)
		forged.OwnerReferences[0].UID = "not-the-role"
		forged.Spec.Members = []identityv1alpha1.Member{{Value: stranger.Name}}
		create(ctx, operator, forged)
		Consistently(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			g.Expect(subjectNamesOf(crbs)).NotTo(ContainElement(subjectsOf(stranger)[0]))
		}, "1s", "50ms").Should(Succeed())

		By("a suspended member leaves the bindings, a deleted one its shard")
		Expect(adminWrite(ctx, users[3], func() { users[3].Spec.Active = new(false) })).To(Succeed())
		Expect(admin.Delete(ctx, users[4])).To(Succeed())
		expectSubjects(ctx, role, users[0], users[1], users[2], users[5], users[6])
		Eventually(func(g Gomega) {
			got := &identityv1alpha1.ScimRoleMembers{}
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(first), got)).To(Succeed())
			g.Expect(got.Spec.MemberIDs()).To(ConsistOf(users[2].Name, users[3].Name))
		}).Should(Succeed())

		By("a deleted role takes its shards with it")
		Expect(admin.Delete(ctx, role)).To(Succeed())
		Eventually(func(g Gomega) {
			var shards identityv1alpha1.ScimRoleMembersList
			g.Expect(admin.List(ctx, &shards, client.MatchingLabels{identityv1alpha1.LabelRole: role.Name})).To(Succeed())
			g.Expect(shards.Items).To(BeEmpty())
			g.Expect(apierrors.IsNotFound(admin.Get(ctx, client.ObjectKeyFromObject(role), &identityv1alpha1.ScimRole{}))).To(BeTrue())
		}).Should(Succeed())
	})

	It("refuses mallory, who may bind nothing, adding herself to a large role through a shard", func(ctx SpecContext) {
		mallory, _ := userWith(ctx, "mallory", editorRole("scimuser_editor_role.yaml"), editorRole("scimrole_editor_role.yaml"))
		alice := newUser("alice")
		create(ctx, admin, alice)
		role := newRole("large", granting(), alice)
		create(ctx, admin, role)
		shard := shardOf(ctx, role, 0, alice)
		self := newUser("mallory")
		create(ctx, mallory, self)
		me := identityv1alpha1.Member{Value: self.Name}

		By("creating a shard with her in it")
		forged := identityv1alpha1.NewShard(role, 1)
		forged.Spec.Members = []identityv1alpha1.Member{me}
		err := mallory.Create(ctx, forged)
		Expect(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err).To(MatchError(ContainSubstring("may not add members to ScimRoleMembers")))

		By("adding her to the role's shard")
		err = writeAs(ctx, mallory, shard, func() { shard.Spec.Members = append(shard.Spec.Members, me) })
		Expect(err).To(MatchError(ContainSubstring("may not add members to ScimRoleMembers")))

		By("removing a member is allowed")
		Expect(writeAs(ctx, mallory, shard, func() { shard.Spec.Members = nil })).To(Succeed())
		expectSubjects(ctx, role, alice)
		Consistently(func(g Gomega) {
			crbs, _ := bindingsOf(ctx, g, role.Name)
			g.Expect(subjectNamesOf(crbs)).NotTo(ContainElement(subjectsOf(self)[0]))
		}, "1s", "50ms").Should(Succeed())
	})

	It("shows a member kept in a shard why a grant of its role does not hold it", func(ctx SpecContext) {
		inRole, inShard := newUser("sharded"), newUser("sharded")
		create(ctx, admin, inRole, inShard)
		role := newRole("sharded", &identityv1alpha1.Access{ClusterRoles: []string{"cluster-admin"}}, inRole)
		create(ctx, admin, role)
		shardOf(ctx, role, 0, inShard)
		Eventually(func(g Gomega) {
			u := &identityv1alpha1.ScimUser{}
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(inShard), u)).To(Succeed())
			c := conditionOf(u.Status.Conditions, identityv1alpha1.ConditionReady)
			g.Expect(c).To(haveCondition(metav1.ConditionFalse, identityv1alpha1.ReasonBindForbidden, u.Generation))
			g.Expect(c.Message).To(ContainSubstring(role.Name))
		}).Should(Succeed())
	})
})
