package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// The local control plane behaves like a cluster for what the operator touches: it runs
// kube-controller-manager beside kube-apiserver.
var _ = Describe("The local control plane", func() {
	It("aggregates the built-in ClusterRoles, so view, edit and admin carry their real rules", func(ctx SpecContext) {
		for _, name := range []string{"view", "edit", "admin"} {
			role := &rbacv1.ClusterRole{}
			Expect(admin.Get(ctx, client.ObjectKey{Name: name}, role)).To(Succeed())
			Expect(role.AggregationRule).NotTo(BeNil(), name)
			Expect(role.Rules).NotTo(BeEmpty(), name)
		}
	})

	It("garbage-collects what a deleted ScimRole owns", func(ctx SpecContext) {
		role := newRole("owner", nil)
		create(ctx, admin, role)
		owned := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name: unique("owned"), Namespace: metav1.NamespaceDefault,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: identityv1alpha1.GroupVersion.String(),
				Kind: "ScimRole", Name: role.Name, UID: role.UID}},
		}}
		create(ctx, admin, owned)
		Expect(admin.Delete(ctx, role)).To(Succeed())
		Eventually(func() error {
			return admin.Get(ctx, client.ObjectKeyFromObject(owned), &corev1.ConfigMap{})
		}).Should(Satisfy(apierrors.IsNotFound))
	})
})
