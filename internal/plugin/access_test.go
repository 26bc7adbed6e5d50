package plugin_test

import (
	"encoding/json"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/plugin"
)

var _ = Describe("kubectl scim access", Ordered, func() {
	var (
		namespace                string
		alice, bob, carol        *identityv1alpha1.ScimUser
		viewers, editors, admins *identityv1alpha1.ScimRole
	)

	create := func(obj client.Object) {
		GinkgoHelper()
		Expect(admin.Create(suiteCtx, obj)).To(Succeed())
	}
	newUser := func(name string, active bool, labels map[string]string) *identityv1alpha1.ScimUser {
		GinkgoHelper()
		u := &identityv1alpha1.ScimUser{
			ObjectMeta: metav1.ObjectMeta{Name: unique("a-" + name), Labels: labels},
			Spec:       identityv1alpha1.ScimUserSpec{UserName: unique(name) + "@example.com", Active: &active},
		}
		create(u)
		return u
	}
	newRole := func(displayName string, access *identityv1alpha1.Access, members ...*identityv1alpha1.ScimUser) *identityv1alpha1.ScimRole {
		GinkgoHelper()
		r := &identityv1alpha1.ScimRole{
			ObjectMeta: metav1.ObjectMeta{Name: unique("r-" + strings.ToLower(strings.ReplaceAll(displayName, " ", "-")))},
			Spec:       identityv1alpha1.ScimRoleSpec{DisplayName: unique(displayName), Access: access},
		}
		for _, m := range members {
			r.Spec.Members = append(r.Spec.Members, identityv1alpha1.Member{Value: m.Name})
		}
		create(r)
		return r
	}
	userReport := func(g Gomega, arg string) plugin.UserAccess {
		r := kubectlScim("access", arg, "-o", "json")
		g.Expect(r.code).To(Equal(0), r.stderr)
		var report plugin.UserAccess
		g.Expect(json.Unmarshal([]byte(r.stdout), &report)).To(Succeed())
		return report
	}
	roleReport := func(g Gomega, arg string) plugin.RoleAccess {
		r := kubectlScim("access", "--role", arg, "-o", "json")
		g.Expect(r.code).To(Equal(0), r.stderr)
		var report plugin.RoleAccess
		g.Expect(json.Unmarshal([]byte(r.stdout), &report)).To(Succeed())
		return report
	}
	// holds reads the binding from the API server and reports whether it names subject.
	holds := func(g Gomega, ref *identityv1alpha1.BindingReference, subject string) bool {
		var subjects []rbacv1.Subject
		if ref.Kind == "ClusterRoleBinding" {
			b := &rbacv1.ClusterRoleBinding{}
			g.Expect(admin.Get(suiteCtx, client.ObjectKey{Name: ref.Name}, b)).To(Succeed())
			subjects = b.Subjects
		} else {
			b := &rbacv1.RoleBinding{}
			g.Expect(admin.Get(suiteCtx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, b)).To(Succeed())
			subjects = b.Subjects
		}
		for _, s := range subjects {
			if s.Kind == rbacv1.UserKind && s.Name == subject {
				return true
			}
		}
		return false
	}

	BeforeAll(func() {
		namespace = unique("team-a")
		create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})
		alice = newUser("alice", true, map[string]string{identityv1alpha1.LabelManagedBy: "okta"})
		bob = newUser("bob", false, nil) // suspended by an admin: created inactive
		carol = newUser("carol", true, nil)
		viewers = newRole("Viewers", &identityv1alpha1.Access{ClusterRoles: []string{"view"}}, alice, bob)
		editors = newRole("Team A Editors", &identityv1alpha1.Access{
			Namespaced: []identityv1alpha1.NamespacedAccess{{Namespace: namespace, ClusterRole: "edit"}}}, alice)
		// The operator may bind only view, edit and admin.
		admins = newRole("Cluster Admins", &identityv1alpha1.Access{ClusterRoles: []string{"cluster-admin"}}, carol)
	})

	It("reports a user in two roles: the ClusterRole and the namespaced grant, and the binding holding each", func() {
		subject := userPrefix + alice.Spec.UserName
		Eventually(func(g Gomega) {
			report := userReport(g, alice.Spec.UserName)
			g.Expect(report.APIVersion).To(Equal(plugin.ReportAPIVersion))
			g.Expect(report.Kind).To(Equal("UserAccess"))
			g.Expect(report.User).To(Equal(plugin.UserState{
				ID: alice.Name, UserName: alice.Spec.UserName, Subject: subject, Active: true, ManagedBy: "okta",
				Ready: plugin.Condition{Status: "True", Reason: identityv1alpha1.ReasonBindingsApplied,
					Message: "Every grant of the user's roles holds it"},
			}))
			g.Expect(report.Roles).To(HaveLen(2))
			byID := map[string]plugin.UserRole{}
			for _, r := range report.Roles {
				byID[r.ID] = r
			}

			view := byID[viewers.Name]
			g.Expect(view.DisplayName).To(Equal(viewers.Spec.DisplayName))
			g.Expect(view.Grants).To(HaveExactElements(And(
				HaveField("Grant", plugin.Grant{Kind: "ClusterRole", Name: "view"}),
				HaveField("Declared", true), HaveField("Holds", true), HaveField("State", plugin.AccessHeld),
				HaveField("Binding.Kind", "ClusterRoleBinding"))))
			g.Expect(holds(g, view.Grants[0].Binding, subject)).To(BeTrue())

			edit := byID[editors.Name]
			g.Expect(edit.Grants).To(HaveExactElements(And(
				HaveField("Grant", plugin.Grant{Kind: "ClusterRole", Name: "edit", Namespace: namespace}),
				HaveField("Holds", true), HaveField("State", plugin.AccessHeld),
				HaveField("Binding.Kind", "RoleBinding"), HaveField("Binding.Namespace", namespace))))
			g.Expect(holds(g, edit.Grants[0].Binding, subject)).To(BeTrue())
		}).Should(Succeed())

		// The same user by id; the human output is a header and one row per grant.
		Expect(userReport(Default, alice.Name).User.ID).To(Equal(alice.Name))
		out := kubectlScim("access", alice.Name).succeeds().stdout
		GinkgoWriter.Printf("kubectl scim access %s\n%s", alice.Name, out)
		lines := strings.Split(out, "\n")
		Expect(lines[0]).To(MatchRegexp(`^User:\s+` + alice.Name + `$`))
		Expect(out).To(MatchRegexp(`(?m)^Subject:\s+User "` + regexp.QuoteMeta(subject) + `"$`))
		Expect(out).To(MatchRegexp(`(?m)^State:\s+Active$`))
		Expect(out).To(MatchRegexp(`(?m)^Managed-By:\s+okta$`))
		Expect(out).To(MatchRegexp(`(?m)^Ready:\s+True \(BindingsApplied\): `))
		Expect(out).To(MatchRegexp(`(?m)^ROLE\s+GRANT\s+NAMESPACE\s+ACCESS\s+BINDING$`))
		Expect(out).To(MatchRegexp(`(?m)^` + viewers.Name + ` \(` + viewers.Spec.DisplayName + `\)\s+ClusterRole/view\s+\(cluster-wide\)\s+held\s+ClusterRoleBinding/scim-` + viewers.Name + `-view-`))
		Expect(out).To(MatchRegexp(`(?m)^` + editors.Name + ` \(` + editors.Spec.DisplayName + `\)\s+ClusterRole/edit\s+` + namespace + `\s+held\s+RoleBinding/scim-` + editors.Name + `-edit-`))

		y := kubectlScim("access", alice.Name, "-o", "yaml").succeeds().stdout
		var fromYAML plugin.UserAccess
		Expect(yaml.Unmarshal([]byte(y), &fromYAML)).To(Succeed())
		Expect(fromYAML).To(Equal(userReport(Default, alice.Name)))
	})

	It("reports a suspended user: who suspended it, and that no grant holds it", func() {
		Eventually(func(g Gomega) {
			report := userReport(g, bob.Name)
			g.Expect(report.User).To(And(HaveField("Active", false), HaveField("SuspendedBy", identityv1alpha1.SuspendedByAdmin),
				HaveField("Ready.Status", "True"), HaveField("Subject", userPrefix+bob.Spec.UserName)))
			g.Expect(report.Roles).To(HaveExactElements(HaveField("ID", viewers.Name)))
			g.Expect(report.Roles[0].Grants).To(HaveExactElements(And(
				HaveField("Grant", plugin.Grant{Kind: "ClusterRole", Name: "view"}),
				HaveField("Holds", false), HaveField("State", plugin.AccessSuspended), HaveField("Binding", BeNil()))))
		}).Should(Succeed())
		out := kubectlScim("access", bob.Spec.UserName).succeeds().stdout
		Expect(out).To(MatchRegexp(`(?m)^State:\s+Suspended by admin$`))
		Expect(out).To(MatchRegexp(`(?m)ClusterRole/view\s+\(cluster-wide\)\s+not held: suspended\s+<none>$`))
	})

	It("reports a role: its grants, bindings and members, and whether each binding holds each member", func() {
		Eventually(func(g Gomega) {
			report := roleReport(g, viewers.Spec.DisplayName)
			g.Expect(report.Kind).To(Equal("RoleAccess"))
			g.Expect(report.Role).To(And(HaveField("ID", viewers.Name), HaveField("Ready.Status", "True")))
			g.Expect(report.Grants).To(HaveExactElements(And(
				HaveField("Grant", plugin.Grant{Kind: "ClusterRole", Name: "view"}), HaveField("State", plugin.GrantApplied),
				HaveField("Bindings", HaveExactElements(HaveField("Subjects", 1))))))
			g.Expect(report.Members).To(HaveExactElements(
				And(HaveField("ID", alice.Name), HaveField("Exists", true), HaveField("Active", true),
					HaveField("Grants", HaveExactElements(And(HaveField("State", plugin.AccessHeld),
						HaveField("Binding.Name", report.Grants[0].Bindings[0].Name))))),
				And(HaveField("ID", bob.Name), HaveField("SuspendedBy", identityv1alpha1.SuspendedByAdmin),
					HaveField("Grants", HaveExactElements(HaveField("State", plugin.AccessSuspended)))),
			))
		}).Should(Succeed())
		out := kubectlScim("access", "--role", viewers.Name).succeeds().stdout
		GinkgoWriter.Printf("kubectl scim access --role %s\n%s", viewers.Name, out)
		Expect(out).To(MatchRegexp(`(?m)^GRANT\s+NAMESPACE\s+STATE\s+BINDING\s+SUBJECTS$`))
		Expect(out).To(MatchRegexp(`(?m)^MEMBER\s+USERNAME\s+STATE\s+GRANT\s+NAMESPACE\s+ACCESS\s+BINDING$`))
		Expect(out).To(MatchRegexp(`(?m)^` + bob.Name + `\s+` + regexp.QuoteMeta(bob.Spec.UserName) + `\s+Suspended by admin\s+ClusterRole/view\s+\(cluster-wide\)\s+not held: suspended\s+<none>$`))
	})

	It("says when a grant is forbidden to the operator, and when a member has no ScimUser", func() {
		Expect(admin.Patch(suiteCtx, admins, client.RawPatch("application/merge-patch+json",
			[]byte(`{"spec":{"members":[{"value":"`+carol.Name+`"},{"value":"a-nobody"}]}}`)))).To(Succeed())
		Eventually(func(g Gomega) {
			report := roleReport(g, admins.Name)
			g.Expect(report.Role.Ready).To(And(HaveField("Status", "False"), HaveField("Reason", identityv1alpha1.ReasonBindForbidden)))
			g.Expect(report.Grants).To(HaveExactElements(And(HaveField("State", plugin.GrantForbidden), HaveField("Bindings", BeEmpty()))))
			g.Expect(report.Members).To(HaveExactElements(
				HaveField("Grants", HaveExactElements(HaveField("State", plugin.AccessForbidden))),
				And(HaveField("ID", "a-nobody"), HaveField("Exists", false), HaveField("Grants", HaveExactElements(HaveField("State", plugin.AccessNoUser)))),
			))
			g.Expect(userReport(g, carol.Name).Roles[0].Grants).To(HaveExactElements(HaveField("State", plugin.AccessForbidden)))
		}).Should(Succeed())
		out := kubectlScim("access", carol.Name).succeeds().stdout
		Expect(out).To(MatchRegexp(`(?m)ClusterRole/cluster-admin\s+\(cluster-wide\)\s+not held: forbidden to the operator\s+<none>$`))
		out = kubectlScim("access", "--role", admins.Name).succeeds().stdout
		Expect(out).To(MatchRegexp(`(?m)^a-nobody\s+<none>\s+no ScimUser\s+ClusterRole/cluster-admin`))
	})

	It("fails on an unknown user or role, and on bad arguments", func() {
		kubectlScim("access", "nobody@example.com").fails(`no ScimUser has the id or userName "nobody@example.com"`)
		kubectlScim("access", "--role", "No Such Role").fails(`no ScimRole has the id or displayName "No Such Role"`)
		kubectlScim("access").fails("name one user")
		kubectlScim("access", alice.Name, "--role", viewers.Name).fails("--role takes no USERNAME or ID")
		kubectlScim("access", alice.Name, "-o", "wide").fails("allowed formats are")
	})
})
