package controllers

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// MembershipCleanupReconciler applies rule 5 to users deleted around SCIM (kubectl, GitOps): a
// deleted user is removed from every role's members, so that no role keeps an id a later user could
// inherit. SCIM deletes do this themselves. It acts on delete events only: a role may list a user
// that does not exist yet (declared with GitOps), which is not a deletion. A deletion while no
// replica is leader is not seen; the role then shows MembersMissing.
type MembershipCleanupReconciler struct {
	client.Client
	// Live reads roles from the API server for conflict-safe updates.
	Live client.Reader
}

// SetupWithManager registers the reconciler; it is triggered by ScimUser deletions alone.
func (r *MembershipCleanupReconciler) SetupWithManager(mgr ctrl.Manager) error {
	onDelete := handler.Funcs{
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.Object)})
		},
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("membership-cleanup").
		Watches(&identityv1alpha1.ScimUser{}, onDelete).
		Complete(r)
}

// Reconcile removes the deleted user req.Name from the members of the roles that list it, unless a
// user of that name exists again.
func (r *MembershipCleanupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	err := r.Get(ctx, req.NamespacedName, &identityv1alpha1.ScimUser{})
	if err == nil || !apierrors.IsNotFound(err) {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var roles identityv1alpha1.ScimRoleList
	if err := r.List(ctx, &roles, client.MatchingFields{IndexRoleMember: req.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("list roles of deleted user %s: %w", req.Name, err)
	}
	for _, role := range roles.Items {
		if err := r.removeMember(ctx, role.Name, req.Name); err != nil {
			return ctrl.Result{}, err
		}
		ctrl.LoggerFrom(ctx).Info("Removed deleted user from role", "user", req.Name, "role", role.Name)
	}
	return ctrl.Result{}, nil
}

func (r *MembershipCleanupReconciler) removeMember(ctx context.Context, roleName, user string) error {
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		role := &identityv1alpha1.ScimRole{}
		if err := r.Live.Get(ctx, client.ObjectKey{Name: roleName}, role); err != nil {
			return client.IgnoreNotFound(err)
		}
		kept := slices.DeleteFunc(slices.Clone(role.Spec.Members), func(m identityv1alpha1.Member) bool { return m.Value == user })
		if len(kept) == len(role.Spec.Members) {
			return nil
		}
		role.Spec.Members = kept
		return r.Update(ctx, role)
	})
	if err != nil {
		return fmt.Errorf("remove deleted user %s from role %s: %w", user, roleName, err)
	}
	return nil
}
