package controllers

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// TestSharedBindings runs the controllers with --rbac-shared-bindings against the real API server,
// as the operator's ServiceAccount: roles that grant the same role in the same scope share one set
// of bindings holding the union of their active members, and switching the layout either way
// replaces the other layout's bindings. It runs its own control plane and managers, since the
// suite's manager keeps a binding set per role.
func TestSharedBindings(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane")
	}
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	local, adminCfg, operatorCfg, err := startControlPlane(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = local.Stop() }()
	c, err := client.New(adminCfg, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())
	run := func(shared bool) context.CancelFunc {
		mctx, stop := context.WithCancel(ctx)
		_, err := startManager(mctx, operatorCfg, Options{MaxSubjectsPerBinding: 2, SharedBindings: shared}, serving{}, func(err error) { t.Error(err) })
		g.Expect(err).NotTo(HaveOccurred())
		return stop
	}
	g.Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}})).To(Succeed())

	users := map[string]*identityv1alpha1.ScimUser{}
	for _, name := range []string{"ann", "bob", "cy", "dee"} {
		u := &identityv1alpha1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: identityv1alpha1.ScimUserSpec{UserName: name + "@example.com", Active: new(true)}}
		g.Expect(c.Create(ctx, u)).To(Succeed())
		users[name] = u
	}
	view := &identityv1alpha1.Access{ClusterRoles: []string{"view"}}
	role := func(name string, access *identityv1alpha1.Access, members ...string) *identityv1alpha1.ScimRole {
		r := &identityv1alpha1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: identityv1alpha1.ScimRoleSpec{DisplayName: name, Access: access}}
		for _, m := range members {
			r.Spec.Members = append(r.Spec.Members, identityv1alpha1.Member{Value: m})
		}
		g.Expect(c.Create(ctx, r)).To(Succeed())
		return r
	}
	devs := role("devs", view, "ann", "bob")
	ops := role("ops", view, "bob", "cy", "dee")
	editors := role("editors", &identityv1alpha1.Access{Namespaced: []identityv1alpha1.NamespacedAccess{{Namespace: "team-a", ClusterRole: "edit"}}}, "ann")

	// viewBindings returns the subjects of the ClusterRoleBindings of view, by binding name:
	// shared ones when shared, else the roles' own.
	viewBindings := func(g Gomega, shared bool) map[string][]string {
		var crbs rbacv1.ClusterRoleBindingList
		g.Expect(c.List(ctx, &crbs, client.HasLabels{identityv1alpha1.LabelRole})).To(Succeed())
		out := map[string][]string{}
		for _, b := range crbs.Items {
			if b.RoleRef.Name != "view" {
				continue
			}
			isShared := b.Labels[identityv1alpha1.LabelRole] == ""
			g.Expect(isShared).To(Equal(shared), "binding %s in the other layout", b.Name)
			if shared {
				g.Expect(b.Name).To(HavePrefix("scim-shared-view-"))
				g.Expect(b.Labels).To(HaveKey(identityv1alpha1.LabelGrant))
				g.Expect(b.OwnerReferences).To(BeEmpty())
			}
			out[b.Name] = subjectNames(b.Subjects)
		}
		return out
	}
	union := func(m map[string][]string) []string {
		var all []string
		for _, s := range m {
			all = append(all, s...)
		}
		slices.Sort(all)
		return all
	}
	subjects := func(names ...string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = n + "@example.com"
		}
		slices.Sort(out)
		return out
	}
	ready := func(g Gomega, name string) {
		u := &identityv1alpha1.ScimUser{}
		g.Expect(c.Get(ctx, client.ObjectKey{Name: name}, u)).To(Succeed())
		g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionReady)).To(
			haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonBindingsApplied, u.Generation), "user %s", name)
	}

	// A binding set per role first, then the shared layout replaces it.
	stop := run(false)
	g.Eventually(func(g Gomega) {
		b := viewBindings(g, false)
		g.Expect(b).To(HaveLen(3)) // devs: ann, bob; ops: bob, cy | dee
		g.Expect(union(b)).To(Equal(subjects("ann", "bob", "bob", "cy", "dee")))
	}).Should(Succeed())
	stop()

	// Turning it on loses no access: while the layouts change over, every member is in a view
	// binding of one layout or the other at every moment the API server is asked.
	watching, lost := make(chan struct{}), make(chan string, 1)
	go func() {
		defer close(lost)
		for {
			select {
			case <-watching:
				return
			case <-time.After(5 * time.Millisecond):
			}
			var crbs rbacv1.ClusterRoleBindingList
			if err := c.List(ctx, &crbs, client.HasLabels{identityv1alpha1.LabelRole}); err != nil {
				continue
			}
			held := map[string]bool{}
			for _, b := range crbs.Items {
				if b.RoleRef.Name == "view" {
					for _, name := range subjectNames(b.Subjects) {
						held[name] = true
					}
				}
			}
			for _, want := range subjects("ann", "bob", "cy", "dee") {
				if !held[want] {
					lost <- want
					return
				}
			}
		}
	}()
	stop = run(true)
	g.Eventually(func(g Gomega) {
		b := viewBindings(g, true)
		g.Expect(b).To(HaveLen(2), "the union of four users in bindings of two")
		g.Expect(union(b)).To(Equal(subjects("ann", "bob", "cy", "dee")))
		var rbs rbacv1.RoleBindingList
		g.Expect(c.List(ctx, &rbs, client.InNamespace("team-a"), client.HasLabels{identityv1alpha1.LabelRole})).To(Succeed())
		g.Expect(rbs.Items).To(HaveLen(1))
		g.Expect(rbs.Items[0].Name).To(HavePrefix("scim-shared-edit-"))
		g.Expect(subjectNames(rbs.Items[0].Subjects)).To(Equal(subjects("ann")))
		for _, name := range []string{"ann", "bob", "cy", "dee"} {
			ready(g, name)
		}
		r := &identityv1alpha1.ScimRole{}
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(devs), r)).To(Succeed())
		g.Expect(conditionOf(r.Status.Conditions, identityv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		var names []string
		for _, ref := range r.Status.Bindings {
			names = append(names, ref.Name)
		}
		var holding []string
		for name, s := range b {
			if slices.Contains(s, "ann@example.com") || slices.Contains(s, "bob@example.com") {
				holding = append(holding, name)
			}
		}
		g.Expect(names).To(ConsistOf(holding), "a role's status names the shared bindings that hold its members")
	}).Should(Succeed())
	close(watching)
	if who, ok := <-lost; ok {
		t.Errorf("%s was in no view binding while the shared layout replaced the roles' own", who)
	}

	// Suspending bob, in both roles, takes him out of the one binding that held him; the others
	// keep their access.
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u := &identityv1alpha1.ScimUser{}
		if err := c.Get(ctx, client.ObjectKey{Name: "bob"}, u); err != nil {
			return err
		}
		u.Spec.Active = new(false)
		return c.Update(ctx, u)
	})).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(union(viewBindings(g, true))).To(Equal(subjects("ann", "cy", "dee")))
		ready(g, "bob")
	}).Should(Succeed())

	// A subject removed by hand comes back; one added by hand goes. The reconciles the suspension
	// queued finish first, so that only the edit's watch event can bring the repair.
	time.Sleep(2 * time.Second)
	g.Eventually(func(g Gomega) {
		b := viewBindings(g, true)
		for name, s := range b {
			if slices.Contains(s, "ann@example.com") {
				crb := &rbacv1.ClusterRoleBinding{}
				g.Expect(c.Get(ctx, client.ObjectKey{Name: name}, crb)).To(Succeed())
				crb.Subjects = slices.DeleteFunc(crb.Subjects, func(s rbacv1.Subject) bool { return s.Name == "ann@example.com" })
				crb.Subjects = append(crb.Subjects, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "mallory"})
				g.Expect(c.Update(ctx, crb)).To(Succeed())
			}
		}
	}).Should(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(union(viewBindings(g, true))).To(Equal(subjects("ann", "cy", "dee")))
	}).Should(Succeed())

	// Deleting a role takes out the members no other role grants view.
	g.Expect(c.Delete(ctx, devs)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(union(viewBindings(g, true))).To(Equal(subjects("cy", "dee")))
	}).Should(Succeed())

	// A role that stops granting edit in team-a, the last to grant it, takes its binding with it.
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		r := &identityv1alpha1.ScimRole{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(editors), r); err != nil {
			return err
		}
		r.Spec.Access.Namespaced[0].ClusterRole = "view"
		return c.Update(ctx, r)
	})).To(Succeed())
	g.Eventually(func(g Gomega) {
		var rbs rbacv1.RoleBindingList
		g.Expect(c.List(ctx, &rbs, client.InNamespace("team-a"), client.HasLabels{identityv1alpha1.LabelRole})).To(Succeed())
		g.Expect(rbs.Items).To(HaveLen(1))
		g.Expect(rbs.Items[0].Name).To(HavePrefix("scim-shared-view-"))
		g.Expect(subjectNames(rbs.Items[0].Subjects)).To(Equal(subjects("ann")))
	}).Should(Succeed())

	// Back to a binding set per role: the shared bindings go, the roles' own come back.
	stop()
	stop = run(false)
	defer stop()
	g.Eventually(func(g Gomega) {
		b := viewBindings(g, false)
		g.Expect(union(b)).To(Equal(subjects("cy", "dee")))
		for name := range b {
			g.Expect(strings.HasPrefix(name, "scim-shared-")).To(BeFalse())
		}
		var rbs rbacv1.RoleBindingList
		g.Expect(c.List(ctx, &rbs, client.InNamespace("team-a"), client.HasLabels{identityv1alpha1.LabelRole})).To(Succeed())
		g.Expect(rbs.Items).To(HaveLen(1))
		g.Expect(rbs.Items[0].Labels[identityv1alpha1.LabelRole]).To(Equal(editors.Name))
		g.Expect(rbs.Items[0].RoleRef.Name).To(Equal("view"))
	}).Should(Succeed())
	g.Expect(c.Delete(ctx, ops)).To(Succeed())
	g.Eventually(func(g Gomega) { g.Expect(viewBindings(g, false)).To(BeEmpty()) }).Should(Succeed())
}
