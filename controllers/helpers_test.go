package controllers

import (
	"context"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// newUser returns an active ScimUser with a unique name and userName.
func newUser(prefix string) *identityv1alpha1.ScimUser {
	name := unique(prefix)
	return &identityv1alpha1.ScimUser{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       identityv1alpha1.ScimUserSpec{UserName: name + "@example.com", Active: new(true)},
	}
}

// newRole returns a ScimRole with a unique name over members, granting access.
func newRole(prefix string, access *identityv1alpha1.Access, members ...*identityv1alpha1.ScimUser) *identityv1alpha1.ScimRole {
	name := unique(prefix)
	role := &identityv1alpha1.ScimRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       identityv1alpha1.ScimRoleSpec{DisplayName: "Role " + name, Access: access},
	}
	for _, m := range members {
		role.Spec.Members = append(role.Spec.Members, identityv1alpha1.Member{Value: m.Name, Display: m.Spec.UserName})
	}
	return role
}

// create creates objs as c and deletes them when the spec ends.
func create(ctx context.Context, c client.Client, objs ...client.Object) {
	for _, obj := range objs {
		Expect(c.Create(ctx, obj)).To(Succeed())
		DeferCleanup(func(ctx context.Context) {
			Expect(client.IgnoreNotFound(admin.Delete(ctx, obj))).To(Succeed())
		})
	}
}

// scimWrite changes obj with mutate as the SCIM server would: as the operator, patched with
// optimistic concurrency.
func scimWrite(ctx context.Context, obj client.Object, mutate func()) {
	Eventually(func(g Gomega) {
		g.Expect(operator.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		before := obj.DeepCopyObject().(client.Object)
		mutate()
		g.Expect(operator.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))).To(Succeed())
	}).Should(Succeed())
}

// adminWrite changes obj with mutate as an admin would with kubectl edit, and returns the error.
func adminWrite(ctx context.Context, obj client.Object, mutate func()) error {
	return writeAs(ctx, admin, obj, mutate)
}

// writeAs changes obj with mutate as c, and returns the error. A conflict with the controllers'
// writes is retried.
func writeAs(ctx context.Context, c client.Client, obj client.Object, mutate func()) error {
	return patchAs(ctx, c, obj, mutate, func(p client.Patch) error { return c.Patch(ctx, obj, p) })
}

// patchAs reads obj again as c, changes it with mutate and writes the change with write, a merge
// patch with optimistic concurrency; a conflict with the controllers' writes is retried.
func patchAs(ctx context.Context, c client.Client, obj client.Object, mutate func(), write func(client.Patch) error) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		before := obj.DeepCopyObject().(client.Object)
		mutate()
		return write(client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	})
}

// conditionOf returns the condition of type t, or an empty one.
func conditionOf(conditions []metav1.Condition, t string) metav1.Condition {
	if c := meta.FindStatusCondition(conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// haveCondition matches a condition with status and reason, stamped with generation.
func haveCondition(status metav1.ConditionStatus, reason string, generation int64) OmegaMatcher {
	return And(
		HaveField("Status", status),
		HaveField("Reason", reason),
		HaveField("ObservedGeneration", generation),
	)
}

// bindingsOf returns, from the API server, the ClusterRoleBindings and RoleBindings labelled with
// the role.
func bindingsOf(ctx context.Context, g Gomega, role string) ([]rbacv1.ClusterRoleBinding, []rbacv1.RoleBinding) {
	var crbs rbacv1.ClusterRoleBindingList
	g.Expect(admin.List(ctx, &crbs, client.MatchingLabels{identityv1alpha1.LabelRole: role})).To(Succeed())
	var rbs rbacv1.RoleBindingList
	g.Expect(admin.List(ctx, &rbs, client.MatchingLabels{identityv1alpha1.LabelRole: role})).To(Succeed())
	return crbs.Items, rbs.Items
}

// subjectNames returns the sorted names of subjects.
func subjectNames(subjects []rbacv1.Subject) []string {
	names := make([]string, 0, len(subjects))
	for _, s := range subjects {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

// subjectsOf returns the subject names of users, as the suite's prefix makes them.
func subjectsOf(users ...*identityv1alpha1.ScimUser) []string {
	names := make([]string, 0, len(users))
	for _, u := range users {
		names = append(names, suiteOptions.RBACUserPrefix+u.Spec.UserName)
	}
	slices.Sort(names)
	return names
}

// eventsAbout returns the events.k8s.io events about the object named name.
func eventsAbout(ctx context.Context, g Gomega, name string) []eventsv1.Event {
	var list eventsv1.EventList
	g.Expect(admin.List(ctx, &list, client.InNamespace(metav1.NamespaceDefault))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// userWith returns a client that acts, by impersonation, as a new user whose name starts with
// prefix and who holds exactly the given ClusterRoles (created here), and the user's name. It waits
// until the user may list ScimUsers or ScimRoles, i.e. the authorizer knows its permissions.
func userWith(ctx context.Context, prefix string, roles ...*rbacv1.ClusterRole) (client.Client, string) {
	GinkgoHelper()
	name := unique(prefix)
	cfg := rest.CopyConfig(testEnv.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: name}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	for _, role := range roles {
		create(ctx, admin, role, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: unique(name)},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: name}},
		})
	}
	// Every role the suite gives lets its holder list ScimUsers or ScimRoles.
	Eventually(func() error {
		if err := c.List(ctx, &identityv1alpha1.ScimRoleList{}, client.Limit(1)); err == nil {
			return nil
		}
		return c.List(ctx, &identityv1alpha1.ScimUserList{}, client.Limit(1))
	}).Should(Succeed())
	return c, name
}

// editorRole is config/rbac's editor ClusterRole of file (scimuser_editor_role.yaml,
// scimrole_editor_role.yaml), under a unique name.
func editorRole(file string) *rbacv1.ClusterRole {
	GinkgoHelper()
	role := loadClusterRole(configPath("rbac", file))
	role.Name = unique("editor")
	return role
}

// mayBind is a ClusterRole that allows binding the named ClusterRoles.
func mayBind(clusterRoles ...string) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: unique("bind")},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"},
			Verbs: []string{"bind"}, ResourceNames: clusterRoles}},
	}
}

// overwriteCondition sets condition c in obj's status as the admin, as no reconcile would: obj is
// read again, and conditions returns its conditions.
func overwriteCondition(ctx context.Context, obj client.Object, conditions func() *[]metav1.Condition, c metav1.Condition) {
	GinkgoHelper()
	Expect(patchAs(ctx, admin, obj, func() {
		c.ObservedGeneration = obj.GetGeneration()
		meta.SetStatusCondition(conditions(), c)
	}, func(p client.Patch) error { return admin.Status().Patch(ctx, obj, p) })).To(Succeed())
}
