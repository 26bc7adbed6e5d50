package rbac

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
)

// binding is a ClusterRoleBinding or a RoleBinding, seen through what the two kinds share.
type binding struct {
	client.Object
	roleRef  *rbacv1.RoleRef
	subjects *[]rbacv1.Subject
}

// newBinding returns an empty binding of the kind that grant needs: a ClusterRoleBinding for a
// cluster-wide grant, else a RoleBinding in the grant's namespace.
func newBinding(g access.Grant, name string) binding {
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: g.Kind, Name: g.Name}
	if g.Namespace == "" {
		crb := &rbacv1.ClusterRoleBinding{RoleRef: ref}
		crb.Name = name
		return wrap(crb)
	}
	rb := &rbacv1.RoleBinding{RoleRef: ref}
	rb.Name, rb.Namespace = name, g.Namespace
	return wrap(rb)
}

// wrap returns obj, a *rbacv1.ClusterRoleBinding or *rbacv1.RoleBinding, as a binding.
func wrap(obj client.Object) binding {
	switch b := obj.(type) {
	case *rbacv1.ClusterRoleBinding:
		return binding{Object: b, roleRef: &b.RoleRef, subjects: &b.Subjects}
	case *rbacv1.RoleBinding:
		return binding{Object: b, roleRef: &b.RoleRef, subjects: &b.Subjects}
	}
	panic("rbac: not a binding") // unreachable: the package only wraps the two kinds
}

// kind is ClusterRoleBinding or RoleBinding.
func (b binding) kind() string {
	if _, ok := b.Object.(*rbacv1.ClusterRoleBinding); ok {
		return "ClusterRoleBinding"
	}
	return "RoleBinding"
}

// grant is what the binding grants.
func (b binding) grant() access.Grant {
	return access.Grant{Kind: b.roleRef.Kind, Name: b.roleRef.Name, Namespace: b.GetNamespace()}
}

// ref names the binding in a role's status.
func (b binding) ref() identityv1alpha1.BindingReference {
	return identityv1alpha1.BindingReference{Kind: b.kind(), Namespace: b.GetNamespace(), Name: b.GetName()}
}

// deepCopy returns a copy that may be changed without touching the cache.
func (b binding) deepCopy() binding { return wrap(b.DeepCopyObject().(client.Object)) }

// holds reports whether the binding has subject among its subjects.
func (b binding) holds(subject rbacv1.Subject) bool { return slices.Contains(*b.subjects, subject) }
