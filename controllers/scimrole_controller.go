package controllers

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
)

// statusDelay is how long the status of a role waits after its access changed; see Reconcile.
const statusDelay = 10 * time.Millisecond

// forbiddenRetry is how long a role waits before it retries a grant the operator may not make:
// the operator's own permissions are not watched.
const forbiddenRetry = time.Minute

// ScimRoleReconciler projects each ScimRole onto the access system: every grant of the role holds
// exactly the role's active members.
type ScimRoleReconciler struct{ Deps }

// SetupWithManager registers the reconciler with mgr, running workers reconciles at once.
func (r *ScimRoleReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("scimrole").
		For(&identityv1alpha1.ScimRole{}, builder.WithPredicates(r.observe(), predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}))).
		// A user that is suspended, renamed, created or deleted changes the subjects of its roles.
		Watches(&identityv1alpha1.ScimUser{}, handler.EnqueueRequestsFromMapFunc(r.rolesOfUser),
			builder.WithPredicates(r.observe(), userAccessChanged())).
		// The members of a large role live in its shards too.
		Watches(&identityv1alpha1.ScimRoleMembers{}, handler.EnqueueRequestsFromMapFunc(roleOfShard),
			builder.WithPredicates(r.observe())).
		// A status that changed without a change of what it is computed from.
		Watches(&identityv1alpha1.ScimRole{}, statusChangedHandler()).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers})
	// A binding edited or deleted by hand is repaired.
	return r.watchAccess(b, roleOfChange).Complete(r)
}

// Reconcile applies the role to the access system and refreshes its status.
//
// Access comes first: a reconcile that changed the access system leaves the status to the next
// reconcile, queued at low priority, so that revoking a user in many roles writes every binding
// before the status of any role.
func (r *ScimRoleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	role := &identityv1alpha1.ScimRole{}
	if err := r.Get(ctx, req.NamespacedName, role); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted without the finalizer (never seen by the operator, or it was removed by hand).
			return ctrl.Result{}, r.revoke(ctx, req.Name)
		}
		return ctrl.Result{}, err
	}
	if identityv1alpha1.IsTerminating(role) {
		return ctrl.Result{}, r.reconcileDelete(ctx, role)
	}
	if err := addFinalizer(ctx, r.Client, role); err != nil {
		return ctrl.Result{}, err
	}

	members, applied, applyErr := r.reconcileAccess(ctx, role)
	if applyErr == nil && applied.Changed {
		return ctrl.Result{RequeueAfter: statusDelay, Priority: new(handler.LowPriority)}, nil
	}
	before := role.DeepCopy()
	defer func() {
		if err := patchStatus(ctx, r.Client, before, role, retErr == nil); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()
	return r.reconcileStatus(role, members, applied, applyErr)
}

// reconcileDelete revokes what a deleted role granted, then lets the deletion complete by removing
// FinalizerAccess: until then no new role can take the name and, with it, the old role's bindings.
// The owner references would let the garbage collector do it too, but later, or without
// kube-controller-manager never.
func (r *ScimRoleReconciler) reconcileDelete(ctx context.Context, role *identityv1alpha1.ScimRole) error {
	if err := r.revoke(ctx, role.Name); err != nil {
		return err
	}
	if err := r.deleteShards(ctx, role); err != nil {
		return err
	}
	return releaseFinalizer(ctx, r.Client, role)
}

// deleteShards deletes the member shards of a deleted role, found live: the garbage collector
// would too (owner references), but later, or without kube-controller-manager never, and a shard
// of a deleted role must not outlive the name it is held under.
func (r *ScimRoleReconciler) deleteShards(ctx context.Context, role *identityv1alpha1.ScimRole) error {
	var shards identityv1alpha1.ScimRoleMembersList
	if err := r.Live.List(ctx, &shards, client.MatchingLabels{identityv1alpha1.LabelRole: role.Name}); err != nil {
		return fmt.Errorf("list the member shards of deleted role %s: %w", role.Name, err)
	}
	for i := range shards.Items {
		if sh := &shards.Items[i]; sh.Spec.Role == role.Name {
			if err := client.IgnoreNotFound(r.Delete(ctx, sh)); err != nil {
				return fmt.Errorf("delete member shard %s of deleted role %s: %w", sh.Name, role.Name, err)
			}
		}
	}
	return nil
}

// revoke removes everything the access system holds for the role named name.
func (r *ScimRoleReconciler) revoke(ctx context.Context, name string) error {
	if err := r.Access.Revoke(ctx, name); err != nil {
		return fmt.Errorf("revoke the grants of deleted role %s: %w", name, err)
	}
	return nil
}

// reconcileAccess grants the role's access to its active members.
func (r *ScimRoleReconciler) reconcileAccess(ctx context.Context, role *identityv1alpha1.ScimRole) (members, access.Result, error) {
	members, err := r.membersOf(ctx, role)
	if err != nil {
		return members, access.Result{}, err
	}
	result, err := r.Access.Apply(ctx, role, members.active)
	if err != nil {
		return members, result, fmt.Errorf("apply role %s: %w", role.Name, err)
	}
	return members, result, nil
}

// reconcileStatus records the outcome of reconcileAccess in the status.
func (r *ScimRoleReconciler) reconcileStatus(role *identityv1alpha1.ScimRole, m members, result access.Result, err error) (ctrl.Result, error) {
	r.setExternallyManaged(role)
	if err != nil {
		r.setReadyFailed(role, err)
		return ctrl.Result{}, err
	}
	r.setCounts(role, m, result)
	r.setReady(role, m, result)
	return resultOf(result)
}

// resultOf turns failed grants into a retry: soon (with backoff) for a failure, after a while for a
// grant the operator is forbidden to make.
func resultOf(result access.Result) (ctrl.Result, error) {
	var errs []error
	forbidden := false
	for _, f := range result.Failures {
		if f.Forbidden {
			forbidden = true
			continue
		}
		errs = append(errs, fmt.Errorf("grant %s: %w", f.Grant, f.Err))
	}
	if len(errs) > 0 {
		return ctrl.Result{}, kerrors.NewAggregate(errs)
	}
	if forbidden {
		return ctrl.Result{RequeueAfter: forbiddenRetry}, nil
	}
	return ctrl.Result{}, nil
}

// members is what a role's member list resolves to.
type members struct {
	// count is the number of members.
	count int
	// active are the sorted, unique userNames of the members that exist and are active.
	active []string
	// missing are the member ids without a ScimUser.
	missing []string
	// reserved are the member ids whose subject name is reserved (IsReservedSubject): never bound.
	reserved []string
}

// membersOf resolves the members of role through the cache.
func (r Deps) membersOf(ctx context.Context, role *identityv1alpha1.ScimRole) (members, error) {
	all, err := roleMembers(ctx, r.Client, role)
	if err != nil {
		return members{}, err
	}
	m := members{count: len(all)}
	for _, member := range all {
		user := &identityv1alpha1.ScimUser{}
		err := r.Get(ctx, client.ObjectKey{Name: member.Value}, user, client.UnsafeDisableDeepCopy)
		switch {
		case apierrors.IsNotFound(err):
			m.missing = append(m.missing, member.Value)
		case err != nil:
			return m, fmt.Errorf("get member %s of role %s: %w", member.Value, role.Name, err)
		case !user.HasAccess():
		case identityv1alpha1.IsReservedSubject(identityv1alpha1.SubjectName(r.UserPrefix, user.Spec.UserName)):
			m.reserved = append(m.reserved, member.Value)
		default:
			m.active = append(m.active, user.Spec.UserName)
		}
	}
	slices.Sort(m.active)
	m.active = slices.Compact(m.active)
	return m, nil
}

// rolesOfUser maps a user to the roles that list it as a member.
func (r *ScimRoleReconciler) rolesOfUser(ctx context.Context, user client.Object) []reconcile.Request {
	roles, err := rolesWithMember(ctx, r.Client, user.GetName())
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Cannot map a user to its roles", "user", user.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, len(roles))
	for i, role := range roles {
		reqs[i] = reconcile.Request{NamespacedName: client.ObjectKey{Name: role.Name}}
	}
	return reqs
}

// roleOfShard maps a member shard to the role it names.
func roleOfShard(_ context.Context, shard client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: shard.(*identityv1alpha1.ScimRoleMembers).Spec.Role}}}
}

// roleOfChange queues the role a change of the access system belongs to, at low priority: most
// changes are the role's own writes, and repairing the others can wait for revocations in progress.
func roleOfChange(_ context.Context, change access.Change, q access.Queue) {
	if change.Role == "" {
		return // a shared binding as the operator wrote it: nothing to repair
	}
	enqueue(q, reconcile.Request{NamespacedName: client.ObjectKey{Name: change.Role}}, handler.LowPriority, 0)
}

// observe is not a filter: it passes every event, telling the access system of it first
// (access.System.Observe). Predicates run in the event handler that queues the reconcile, before
// it queues it, so the system learns of a change before any reconcile it causes reads it; a
// handler of its own on the same informer would run in no particular order with this one.
func (r *ScimRoleReconciler) observe() predicate.Predicate {
	ctx := context.Background()
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { r.Access.Observe(ctx, nil, e.Object); return true },
		UpdateFunc: func(e event.UpdateEvent) bool { r.Access.Observe(ctx, e.ObjectOld, e.ObjectNew); return true },
		DeleteFunc: func(e event.DeleteEvent) bool { r.Access.Observe(ctx, e.Object, nil); return true },
		GenericFunc: func(e event.GenericEvent) bool {
			r.Access.Observe(ctx, nil, e.Object)
			return true
		},
	}
}

// userAccessChanged passes the user events that change the subjects of the user's roles.
func userAccessChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return identityv1alpha1.AccessChanged(e.ObjectOld.(*identityv1alpha1.ScimUser), e.ObjectNew.(*identityv1alpha1.ScimUser))
		},
	}
}
