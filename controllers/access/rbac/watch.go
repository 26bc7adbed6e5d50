package rbac

import (
	"context"

	rbacv1 "k8s.io/api/rbac/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
)

// Sources watch the ClusterRoleBindings and RoleBindings of ScimRoles and report each change with
// the role it belongs to and the users whose subjects appeared or disappeared.
func (s *System) Sources(onChange access.ChangeFunc) []source.Source {
	h := s.changeHandler(onChange)
	return []source.Source{
		source.Kind[client.Object](s.cache, &rbacv1.ClusterRoleBinding{}, h),
		source.Kind[client.Object](s.cache, &rbacv1.RoleBinding{}, h),
	}
}

func (s *System) changeHandler(onChange access.ChangeFunc) handler.EventHandler {
	report := func(ctx context.Context, q access.Queue, old, cur client.Object) {
		if change, ok := s.changeOf(ctx, old, cur); ok {
			onChange(ctx, change, q)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q access.Queue) { report(ctx, q, nil, e.Object) },
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q access.Queue) {
			report(ctx, q, e.ObjectOld, e.ObjectNew)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q access.Queue) { report(ctx, q, e.Object, nil) },
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q access.Queue) {
			report(ctx, q, nil, e.Object)
		},
	}
}

// changeOf describes the change from old to cur (either may be nil); it is false for bindings that
// belong to no ScimRole.
//
// The role of a shared binding is one that grants what it grants (rolesGranting), so that its
// reconcile repairs it (or, without Options.Shared, deletes it); none when the change is the
// system's own write, which needs no repair, and applying a shared grant reads every role's members.
func (s *System) changeOf(ctx context.Context, old, cur client.Object) (access.Change, bool) {
	role := ""
	shared := false
	for _, obj := range []client.Object{cur, old} {
		if obj != nil && role == "" && !shared {
			role, shared = roleOf(obj), isShared(obj)
		}
	}
	if shared {
		g := wrap(firstOf(cur, old)).grant()
		if cur == nil || !s.shared.own(cur) {
			// Someone else's edit: an input of the next application, counted before the
			// repair is queued.
			s.shared.inputs.Add(1)
			var err error
			if role, err = s.rolesGranting(ctx, g); err != nil {
				ctrl.LoggerFrom(ctx).Error(err, "Cannot map a shared binding to a role that grants it", "grant", g.String())
			}
		}
	} else if role == "" {
		return access.Change{}, false
	}
	before, after := map[string]bool{}, map[string]bool{}
	for _, u := range s.usersOf(old) {
		before[u] = true
	}
	for _, u := range s.usersOf(cur) {
		after[u] = true
	}
	change := access.Change{Role: role}
	for u := range before {
		if !after[u] {
			change.Users = append(change.Users, u)
		}
	}
	for u := range after {
		if !before[u] {
			change.Users = append(change.Users, u)
		}
	}
	return change, true
}

func (s *System) usersOf(obj client.Object) []string {
	if obj == nil {
		return nil
	}
	if _, ok := obj.(*rbacv1.ClusterRoleBinding); !ok {
		if _, ok := obj.(*rbacv1.RoleBinding); !ok {
			return nil
		}
	}
	return usersIn(*wrap(obj).subjects, s.opts.UserPrefix)
}

// roleOf returns the name of the ScimRole a binding belongs to: its controller, else the value of
// its role label (equal to the name for every name that is a valid label value), else "".
func roleOf(obj client.Object) string {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller && ref.Kind == "ScimRole" &&
			ref.APIVersion == identityv1alpha1.GroupVersion.String() {
			return ref.Name
		}
	}
	return obj.GetLabels()[identityv1alpha1.LabelRole]
}

// firstOf returns the first of objs that is not nil.
func firstOf(objs ...client.Object) client.Object {
	for _, obj := range objs {
		if obj != nil {
			return obj
		}
	}
	return nil
}
