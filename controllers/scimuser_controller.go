package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/util/retry"
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

// readinessDelay coalesces the binding changes that refresh a user's Ready condition: revoking a
// user in a thousand roles rewrites a thousand bindings, which need not be a thousand reconciles
// of the user competing with the revocation itself.
const readinessDelay = 500 * time.Millisecond

// membershipDelay coalesces the role changes that refresh a user's readiness: an IdP adds a user
// to its groups one PATCH after another, and each PATCH is soon followed by the bindings it
// changes. Reconciled a moment later, the user finds them written and its status unchanged, rather
// than not ready for each group and ready again when each binding is written (when the binding is
// not written by then, the binding change queues the user again). Access does not wait for it:
// the bindings are the role controller's.
const membershipDelay = time.Second

// ScimUserReconciler keeps the status of ScimUsers — marking, suspension and whether the access
// system reflects them — records a suspension made by an admin (rule 4), and
// removes a deleted user from every role's members before the deletion completes (rule 5).
type ScimUserReconciler struct{ Deps }

// SetupWithManager registers the reconciler with mgr, running workers reconciles at once.
func (r *ScimUserReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("scimuser").
		For(&identityv1alpha1.ScimUser{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// A role's members, displayName and readiness show in its members' status.
		Watches(&identityv1alpha1.ScimRole{}, r.roleMembersHandler()).
		// And so do the members who join or leave a large role through its shards.
		Watches(&identityv1alpha1.ScimRoleMembers{}, shardMembersHandler()).
		// A status that changed without a change of what it is computed from.
		Watches(&identityv1alpha1.ScimUser{}, statusChangedHandler()).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers})
	// A user becomes Ready once the bindings that should (no longer) hold it are written.
	return r.watchAccess(b, r.usersOfChange).Complete(r)
}

// Reconcile records an admin's suspension of the user and refreshes its status; a deleted user
// leaves its roles first.
func (r *ScimUserReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	user := &identityv1alpha1.ScimUser{}
	if err := r.Get(ctx, req.NamespacedName, user); err != nil {
		// Not found is also a member a role declares before its user exists (GitOps): not a
		// deletion, which FinalizerAccess makes wait for reconcileDelete.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if identityv1alpha1.IsTerminating(user) {
		return ctrl.Result{}, r.reconcileDelete(ctx, user)
	}
	if err := addFinalizer(ctx, r.Client, user); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.observeSuspension(ctx, user); err != nil {
		return ctrl.Result{}, err
	}

	before := user.DeepCopy()
	defer func() {
		if err := patchStatus(ctx, r.Client, before, user, retErr == nil); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()
	return ctrl.Result{}, r.reconcileNormal(ctx, user)
}

// reconcileDelete removes a deleted user from the members of every role, then lets the deletion
// complete by removing FinalizerAccess: until then the name cannot be reused, so no new user of
// that name inherits the memberships, however long the clean-up takes.
func (r *ScimUserReconciler) reconcileDelete(ctx context.Context, user *identityv1alpha1.ScimUser) error {
	if !identityv1alpha1.HasFinalizerAccess(user) {
		return nil
	}
	if err := r.leaveRoles(ctx, user.Name); err != nil {
		return err
	}
	if err := releaseFinalizer(ctx, r.Client, user); err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("Deleted user left its roles")
	return nil
}

// leaveRoles removes the user named name from the members of every role that lists it, reading each
// role live so that no concurrent member change is lost. Roles are written in parallel, so a user in
// a thousand roles is released within seconds.
func (r *ScimUserReconciler) leaveRoles(ctx context.Context, name string) error {
	roles, err := r.rolesOf(ctx, name)
	if err != nil {
		return err
	}
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(parallelRoleWrites)
	for _, cached := range roles {
		eg.Go(func() error {
			role := &identityv1alpha1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: cached.Name}}
			if err := r.removeMemberLive(ctx, role, name); err != nil {
				return fmt.Errorf("remove deleted user %s from role %s: %w", name, cached.Name, err)
			}
			if err := r.leaveShards(ctx, cached.Name, name); err != nil {
				return err
			}
			ctrl.LoggerFrom(ctx).V(1).Info("Removed deleted user from role", "role", cached.Name)
			return nil
		})
	}
	return eg.Wait()
}

// parallelRoleWrites bounds the role writes one clean-up makes at once: enough to hide the API
// server's latency, few enough to leave its priority-and-fairness seats to other clients.
const parallelRoleWrites = 16

// leaveShards removes the user named name from the member shards of the role named role, each
// read live, as leaveRoles does with the role.
func (r *ScimUserReconciler) leaveShards(ctx context.Context, role, name string) error {
	var shards identityv1alpha1.ScimRoleMembersList
	if err := r.Live.List(ctx, &shards, client.MatchingLabels{identityv1alpha1.LabelRole: role}); err != nil {
		return fmt.Errorf("list the member shards of role %s: %w", role, err)
	}
	for _, listed := range shards.Items {
		if !slices.Contains(listed.Spec.MemberIDs(), name) {
			continue
		}
		shard := &identityv1alpha1.ScimRoleMembers{ObjectMeta: metav1.ObjectMeta{Name: listed.Name}}
		if err := r.removeMemberLive(ctx, shard, name); err != nil {
			return fmt.Errorf("remove deleted user %s from member shard %s: %w", name, listed.Name, err)
		}
	}
	return nil
}

// memberHolder is an object that lists members: a role or a member shard.
type memberHolder interface {
	client.Object
	RemoveMember(id string) bool
}

// removeMemberLive removes the user named name from obj, read live (a missing obj is done) and
// written with its resourceVersion, retried on conflict so that no concurrent member change is lost.
func (r *ScimUserReconciler) removeMemberLive(ctx context.Context, obj memberHolder, name string) error {
	key := client.ObjectKeyFromObject(obj)
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if err := r.Live.Get(ctx, key, obj); err != nil {
			return client.IgnoreNotFound(err)
		}
		if !obj.RemoveMember(name) {
			return nil
		}
		return r.Update(ctx, obj)
	})
}

// observeSuspension applies rule 4 to what the user's spec shows (ObserveSuspension): a suspension
// nobody recorded was made by an admin, and a suspended user is unmarked. The patch carries the
// resourceVersion the decision was based on, so a concurrent write makes it fail and retry.
func (r *ScimUserReconciler) observeSuspension(ctx context.Context, user *identityv1alpha1.ScimUser) error {
	before := user.DeepCopy()
	if !user.ObserveSuspension() {
		return nil
	}
	ctrl.LoggerFrom(ctx).Info("Recording suspension", "active", user.IsActive(), "suspendedBy", user.SuspendedBy())
	if err := r.Patch(ctx, user, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("record suspension of user %s: %w", user.Name, err)
	}
	return nil
}

// reconcileNormal sets every condition and the subject of the user.
func (r *ScimUserReconciler) reconcileNormal(ctx context.Context, user *identityv1alpha1.ScimUser) error {
	r.setExternallyManaged(user)
	r.setSuspended(user)
	user.Status.Subject = identityv1alpha1.SubjectName(r.UserPrefix, user.Spec.UserName)
	roles, err := r.rolesOf(ctx, user.Name)
	if err != nil {
		return err
	}
	return r.setReady(ctx, user, roles)
}

// rolesOf returns the roles that list the user named name as a member, sorted by name. They are the
// cache's objects: read-only.
func (r *ScimUserReconciler) rolesOf(ctx context.Context, name string) ([]identityv1alpha1.ScimRole, error) {
	roles, err := rolesWithMember(ctx, r.Client, name)
	if err != nil {
		return nil, fmt.Errorf("list roles of user %s: %w", name, err)
	}
	slices.SortFunc(roles, func(a, b identityv1alpha1.ScimRole) int { return strings.Compare(a.Name, b.Name) })
	return roles, nil
}

// roleMembersHandler maps a role event to the members whose status it changes: all of them when the
// role appears, disappears, is renamed or changes readiness, else those who joined or left.
func (r *ScimUserReconciler) roleMembersHandler() handler.EventHandler {
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q access.Queue) {
			enqueueMembers(q, e.Object.(*identityv1alpha1.ScimRole).Spec.Members)
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q access.Queue) {
			enqueueMembers(q, e.Object.(*identityv1alpha1.ScimRole).Spec.Members)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q access.Queue) {
			old, cur := e.ObjectOld.(*identityv1alpha1.ScimRole), e.ObjectNew.(*identityv1alpha1.ScimRole)
			if old.Spec.DisplayName != cur.Spec.DisplayName || readyOf(old) != readyOf(cur) {
				enqueueMembers(q, old.Spec.Members, cur.Spec.Members, r.shardMembers(ctx, cur))
				return
			}
			enqueueMembers(q, memberDiff(old.Spec.Members, cur.Spec.Members))
		},
	}
}

// shardMembers returns the members role lists in its shards, from the cache (none when they
// cannot be read: the shards' own events still queue their members).
func (r *ScimUserReconciler) shardMembers(ctx context.Context, role *identityv1alpha1.ScimRole) []identityv1alpha1.Member {
	all, err := roleMembers(ctx, r.Client, role)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Cannot read the member shards of a role", "role", role.Name)
		return nil
	}
	return all[len(role.Spec.Members):]
}

// shardMembersHandler maps a member shard event to the members who joined or left the role
// through it: all of them when the shard appears or disappears.
func shardMembersHandler() handler.EventHandler {
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q access.Queue) {
			enqueueMembers(q, e.Object.(*identityv1alpha1.ScimRoleMembers).Spec.Members)
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q access.Queue) {
			enqueueMembers(q, e.Object.(*identityv1alpha1.ScimRoleMembers).Spec.Members)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q access.Queue) {
			old, cur := e.ObjectOld.(*identityv1alpha1.ScimRoleMembers), e.ObjectNew.(*identityv1alpha1.ScimRoleMembers)
			enqueueMembers(q, memberDiff(old.Spec.Members, cur.Spec.Members))
		},
	}
}

// enqueueMembers queues the users of every list of members, after membershipDelay so that a burst
// of member changes refreshes each user once.
func enqueueMembers(q access.Queue, members ...[]identityv1alpha1.Member) {
	for _, list := range members {
		for _, m := range list {
			enqueue(q, reconcile.Request{NamespacedName: client.ObjectKey{Name: m.Value}}, 0, membershipDelay)
		}
	}
}

// usersOfChange queues the users whose access a change of the access system changed, coalesced
// (readinessDelay) and at low priority.
func (r *ScimUserReconciler) usersOfChange(ctx context.Context, change access.Change, q access.Queue) {
	for _, name := range change.Users {
		users, err := usersNamed(ctx, r.Client, name)
		if err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Cannot map a binding change to its users", "userName", name)
			continue
		}
		for _, u := range users {
			enqueue(q, reconcile.Request{NamespacedName: client.ObjectKey{Name: u.Name}}, handler.LowPriority, readinessDelay)
		}
	}
}

// memberDiff returns the members that are in only one of a and b.
func memberDiff(a, b []identityv1alpha1.Member) []identityv1alpha1.Member {
	inA, inB := memberSet(a), memberSet(b)
	var out []identityv1alpha1.Member
	for _, m := range a {
		if !inB[m.Value] {
			out = append(out, m)
		}
	}
	for _, m := range b {
		if !inA[m.Value] {
			out = append(out, m)
		}
	}
	return out
}

func memberSet(members []identityv1alpha1.Member) map[string]bool {
	set := make(map[string]bool, len(members))
	for _, m := range members {
		set[m.Value] = true
	}
	return set
}
