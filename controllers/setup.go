// Package controllers holds the reconcilers that turn ScimUsers and ScimRoles into access: the user
// status (marking, suspension, readiness) and the projection of roles into Kubernetes RBAC.
package controllers

import (
	"context"
	"fmt"

	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
	"github.com/scim-operator/scim-operator/controllers/access/rbac"
)

// The operator's permissions on its own API and for its events.
// +kubebuilder:rbac:groups=identity.scim-operator.io,resources=scimusers;scimroles,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=identity.scim-operator.io,resources=scimusers/status;scimroles/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=identity.scim-operator.io,resources=scimroles/finalizers,verbs=update
// +kubebuilder:rbac:groups=identity.scim-operator.io,resources=scimrolemembers,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Deps is what both reconcilers work with.
type Deps struct {
	// Client reads from the manager's cache and writes to the API server.
	client.Client
	// Live reads from the API server, for conflict-safe updates of roles.
	Live client.Reader
	// Access is the access system roles are projected onto, and whose grants a user's Ready
	// condition is compared with.
	Access access.System
	// Recorder receives an event for each change of a condition.
	Recorder events.EventRecorder
	// UserPrefix is the --rbac-user-prefix that makes a userName a subject name.
	UserPrefix string
}

// watchAccess makes b watch every change to the access system's objects, by the operator or anyone
// else, reporting each to onChange.
func (d Deps) watchAccess(b *builder.Builder, onChange access.ChangeFunc) *builder.Builder {
	for _, src := range d.Access.Sources(onChange) {
		b = b.WatchesRawSource(src)
	}
	return b
}

// DefaultMaxConcurrentReconciles is the default of Options.MaxConcurrentReconciles.
const DefaultMaxConcurrentReconciles = 16

// Options configure the controllers.
type Options struct {
	// RBACUserPrefix is prepended to userName in binding subjects, to match the API server's
	// --oidc-username-prefix.
	RBACUserPrefix string
	// MaxSubjectsPerBinding splits a binding whose subject list would be longer into several
	// (default rbac.DefaultMaxSubjects).
	MaxSubjectsPerBinding int
	// MaxConcurrentReconciles is the number of ScimRoles reconciled at once (default
	// DefaultMaxConcurrentReconciles); ScimUsers get half of it (userWorkers). Revoking a user in
	// many roles reconciles all of them; the API server, not the operator, is then the limit.
	MaxConcurrentReconciles int
	// MaxConcurrentUserReconciles is the number of ScimUsers reconciled at once (default: half of
	// MaxConcurrentReconciles, at least one; userWorkers). Each writes one user's status.
	MaxConcurrentUserReconciles int
	// SharedBindings projects every role that grants the same role in the same scope onto one set
	// of bindings holding the union of their active members (rbac.Options.Shared).
	SharedBindings bool
}

// Setup registers the controllers with mgr, with the field indexes they read through. They run on
// the elected leader only.
func Setup(mgr ctrl.Manager, opts Options) error {
	ctx := context.Background()
	if identityv1alpha1.IsReservedSubject(opts.RBACUserPrefix) {
		return fmt.Errorf("--rbac-user-prefix %q lies in Kubernetes' reserved %q namespace", opts.RBACUserPrefix, identityv1alpha1.ReservedSubjectPrefix)
	}
	if opts.MaxConcurrentReconciles <= 0 {
		opts.MaxConcurrentReconciles = DefaultMaxConcurrentReconciles
	}
	if err := registerIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return err
	}
	deps := Deps{Client: mgr.GetClient(), Live: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("scim-operator"), UserPrefix: opts.RBACUserPrefix}
	system, err := rbac.New(ctx, mgr, rbac.Options{
		UserPrefix:  opts.RBACUserPrefix,
		MaxSubjects: opts.MaxSubjectsPerBinding,
		Shared:      opts.SharedBindings,
		Members: func(ctx context.Context, role *identityv1alpha1.ScimRole) ([]string, error) {
			m, err := deps.membersOf(ctx, role)
			return m.active, err
		},
	})
	if err != nil {
		return fmt.Errorf("set up the RBAC access system: %w", err)
	}
	deps.Access = system
	users := &ScimUserReconciler{deps}
	if err := users.SetupWithManager(mgr, opts.userWorkers()); err != nil {
		return fmt.Errorf("set up the ScimUser controller: %w", err)
	}
	roles := &ScimRoleReconciler{deps}
	if err := roles.SetupWithManager(mgr, opts.MaxConcurrentReconciles); err != nil {
		return fmt.Errorf("set up the ScimRole controller: %w", err)
	}
	return nil
}

// CacheByObject returns the manager cache options the controllers want: only the operator's own
// ClusterRoleBindings and RoleBindings (those labelled identity.scim-operator.io/role) are cached.
// Pass it as ctrl.Options.Cache.ByObject.
func CacheByObject() map[client.Object]cache.ByObject { return rbac.CacheByObject() }

// userWorkers returns the ScimUsers reconciled at once: MaxConcurrentUserReconciles, or by default
// half of MaxConcurrentReconciles (at least one). Half, not fewer: an initial sync creates every
// user at once, and each new user's first status write (its conditions and subject; the status
// subresource cannot be set on create) must keep up with the IdP's push, or the users are Ready
// only minutes after it ends. At 50,000 users, four workers left 23,657 of those writes after the
// IdP's last request (every user Ready 2 m 9 s after it) and eight left 119 (9.9 s): design.md,
// "More user workers, measured again".
func (o Options) userWorkers() int {
	if o.MaxConcurrentUserReconciles > 0 {
		return o.MaxConcurrentUserReconciles
	}
	return max(1, o.MaxConcurrentReconciles/2)
}
