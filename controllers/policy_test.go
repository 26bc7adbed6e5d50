package controllers

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

var _ = Describe("Admission policies", func() {
	Context("protecting what a provider manages", func() {
		var user *identityv1alpha1.ScimUser
		var role *identityv1alpha1.ScimRole

		BeforeEach(func(ctx SpecContext) {
			user = newUser("user")
			role = newRole("role", &identityv1alpha1.Access{ClusterRoles: []string{"view"}}, user)
			create(ctx, admin, user, role)
			scimWrite(ctx, user, func() { user.ApplyProviderActive("okta", true) })
			scimWrite(ctx, role, func() { identityv1alpha1.MarkManagedBy(role, "okta") })
		})

		It("denies an admin's change of a marked user's userName, saying how to take it over", func(ctx SpecContext) {
			err := adminWrite(ctx, user, func() { user.Spec.UserName = "mallory@example.com" })
			Expect(apierrors.IsInvalid(err) || apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(And(
				ContainSubstring("ScimUser "+user.Name+" is managed by provider okta"),
				ContainSubstring("spec.userName"),
				ContainSubstring("suspend the user"),
				ContainSubstring("remove the label identity.scim-operator.io/managed-by")))
		})

		It("lets the provider, through the operator, change the user", func(ctx SpecContext) {
			scimWrite(ctx, user, func() { user.Spec.Title = "Director" })
		})

		It("lets an admin suspend a marked user, which takes it over", func(ctx SpecContext) {
			Expect(adminWrite(ctx, user, func() { user.Spec.Active = new(false) })).To(Succeed())
			Eventually(func(g Gomega) {
				g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(user), user)).To(Succeed())
				g.Expect(user.Labels).NotTo(HaveKey(identityv1alpha1.LabelManagedBy))
			}).Should(Succeed())
			Expect(adminWrite(ctx, user, func() { user.Spec.Title = "Former employee" })).To(Succeed())
		})

		It("lets an admin take an object over by removing the label, and then edit it", func(ctx SpecContext) {
			Expect(adminWrite(ctx, user, func() { delete(user.Labels, identityv1alpha1.LabelManagedBy) })).To(Succeed())
			Expect(adminWrite(ctx, user, func() { user.Spec.DisplayName = "Taken over" })).To(Succeed())
		})

		It("lets an admin change metadata outside our domain", func(ctx SpecContext) {
			Expect(adminWrite(ctx, user, func() { user.Labels["team"] = "platform" })).To(Succeed())
		})

		It("denies an admin's change of the provider label", func(ctx SpecContext) {
			err := adminWrite(ctx, user, func() { user.Labels[identityv1alpha1.LabelManagedBy] = "azure" })
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("only SCIM requests mark " + user.Name + " as managed by a provider"))
		})

		It("lets an admin edit a marked role's access, but not its members or displayName", func(ctx SpecContext) {
			Expect(adminWrite(ctx, role, func() { role.Spec.Access.ClusterRoles = []string{"view", "edit"} })).To(Succeed())
			err := adminWrite(ctx, role, func() { role.Spec.Members = nil })
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(And(ContainSubstring("ScimRole "+role.Name+" is managed by provider okta"), ContainSubstring("spec.members")))
			err = adminWrite(ctx, role, func() { role.Spec.DisplayName = "Renamed" })
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("spec.displayName"))
		})

		It("lets an admin delete a marked user", func(ctx SpecContext) {
			Expect(admin.Delete(ctx, user)).To(Succeed())
		})
	})

	Context("marking", func() {
		It("denies an admin's forging of the provider's marks", func(ctx SpecContext) {
			user := newUser("user")
			user.Labels = map[string]string{identityv1alpha1.LabelManagedBy: "okta"}
			err := admin.Create(ctx, user)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("only SCIM requests mark " + user.Name + " as managed by a provider"))

			user = newUser("user")
			create(ctx, admin, user)
			err = adminWrite(ctx, user, func() {
				user.Spec.Active = new(false)
				user.Annotations = map[string]string{identityv1alpha1.AnnotationSuspendedBy: identityv1alpha1.SuspendedByProvider}
			})
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("only the identity provider records its own suspension"))
		})
	})

	Context("granting access", func() {
		var grantor client.Client
		var member *identityv1alpha1.ScimUser

		BeforeEach(func(ctx SpecContext) {
			// The grantor administers roles (config/rbac's editor role) and may bind view.
			grantor, _ = userWith(ctx, "grantor", editorRole("scimrole_editor_role.yaml"), mayBind("view"))
			member = newUser("member")
			create(ctx, admin, member)
		})

		It("lets someone who may bind view grant view, cluster-wide or in a namespace", func(ctx SpecContext) {
			role := newRole("role", &identityv1alpha1.Access{
				ClusterRoles: []string{"view"},
				Namespaced:   []identityv1alpha1.NamespacedAccess{{Namespace: "default", ClusterRole: "view"}},
			})
			Eventually(func() error { return grantor.Create(ctx, role) }).Should(Succeed())
			DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(admin.Delete(ctx, role))).To(Succeed()) })
		})

		It("denies granting cluster-admin to someone who may not bind it", func(ctx SpecContext) {
			role := newRole("role", &identityv1alpha1.Access{ClusterRoles: []string{"cluster-admin"}})
			err := grantor.Create(ctx, role)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("may not grant ClusterRole cluster-admin through ScimRole " + role.Name))

			role = newRole("role", &identityv1alpha1.Access{
				Namespaced: []identityv1alpha1.NamespacedAccess{{Namespace: "default", ClusterRole: "edit"}},
			})
			err = grantor.Create(ctx, role)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("ClusterRole edit in namespace default"))
		})

		It("denies adding cluster-admin to the access of an existing role", func(ctx SpecContext) {
			role := newRole("role", &identityv1alpha1.Access{ClusterRoles: []string{"view"}}, member)
			create(ctx, admin, role)
			err := writeAs(ctx, grantor, role, func() {
				role.Spec.Access.ClusterRoles = append(role.Spec.Access.ClusterRoles, "cluster-admin")
			})
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("cluster-admin"))
		})

		It("denies adding members to anyone who may not bind every role, even to a role it may grant", func(ctx SpecContext) {
			role := newRole("role", &identityv1alpha1.Access{ClusterRoles: []string{"view"}})
			create(ctx, admin, role)
			err := writeAs(ctx, grantor, role, func() {
				role.Spec.Members = []identityv1alpha1.Member{{Value: member.Name}}
			})
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("adding them needs the bind verb on all ClusterRoles and Roles"))

			By("letting a cluster admin add them")
			Expect(adminWrite(ctx, role, func() { role.Spec.Members = []identityv1alpha1.Member{{Value: member.Name}} })).To(Succeed())

			By("letting the grantor remove them")
			Expect(writeAs(ctx, grantor, role, func() { role.Spec.Members = nil })).To(Succeed())

			By("letting the provider, through the operator, add them")
			scimWrite(ctx, role, func() { role.Spec.Members = []identityv1alpha1.Member{{Value: member.Name}} })
		})

		It("denies renaming a user to someone who may not bind every ClusterRole", func(ctx SpecContext) {
			editor, _ := userWith(ctx, "identity-editor", editorRole("scimuser_editor_role.yaml"))
			Eventually(func() error {
				return writeAs(ctx, editor, member, func() { member.Spec.Title = "edited" })
			}).Should(Succeed(), "an identity editor may edit an unmarked user")
			err := writeAs(ctx, editor, member, func() { member.Spec.UserName = "someone-else@example.com" })
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("renaming it needs the bind verb on all ClusterRoles and Roles"))

			By("letting a cluster admin rename it")
			Expect(adminWrite(ctx, member, func() { member.Spec.UserName = unique("renamed") + "@example.com" })).To(Succeed())
		})

		It("does not exempt the operator from the bind check", func(ctx SpecContext) {
			role := newRole("role", &identityv1alpha1.Access{ClusterRoles: []string{"view"}})
			create(ctx, admin, role)
			err := writeAs(ctx, operator, role, func() { role.Spec.Access.ClusterRoles = []string{"cluster-admin"} })
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("may not grant ClusterRole cluster-admin"))
		})
	})
})

func loadClusterRole(path string) *rbacv1.ClusterRole {
	GinkgoHelper()
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	role := &rbacv1.ClusterRole{}
	Expect(yaml.Unmarshal(data, role)).To(Succeed())
	return role
}

// TestPolicyProtectsEveryUserField checks that the protection policy compares every field of
// ScimUserSpec but active: a field added to the API is protected only once it is listed there.
func TestPolicyProtectsEveryUserField(t *testing.T) {
	data, err := os.ReadFile("../config/policy/protect_scim_owned_fields.yaml")
	if err != nil {
		t.Fatal(err)
	}
	policy := string(data)
	fields := reflect.TypeFor[identityv1alpha1.ScimUserSpec]()
	for i := range fields.NumField() {
		name, _, _ := strings.Cut(fields.Field(i).Tag.Get("json"), ",")
		if name == "active" {
			continue
		}
		if !strings.Contains(policy, "'"+name+"': object.spec.?"+name+" == oldObject.spec.?"+name) {
			t.Errorf("the policy does not protect spec.%s", name)
		}
	}
}
