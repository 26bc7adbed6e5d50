package scimserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/index"
	"github.com/scim-operator/scim-operator/scimserver/store"
)

// CacheByObject restricts the manager's Secret informer to the token Secret, so that the operator
// neither caches nor needs to read any other Secret, and caches ScimUsers, ScimRoles and their
// member shards without their managedFields, users and roles with the strings they share interned
// and the lists of all three without the room the JSON decoder left (store.TransformCached,
// store.TransformShard).
func CacheByObject(secret types.NamespacedName) map[client.Object]cache.ByObject {
	return map[client.Object]cache.ByObject{
		&corev1.Secret{}: {
			Namespaces: map[string]cache.Config{secret.Namespace: {}},
			Field:      fields.OneTermEqualSelector("metadata.name", secret.Name),
			Transform:  cache.TransformStripManagedFields(),
		},
		&v1.ScimUser{}: {Transform: store.TransformCached},
		&v1.ScimRole{}: {Transform: store.TransformCached},
		// Member shards are never rendered with a lastModified of their own.
		&v1.ScimRoleMembers{}: {Transform: store.TransformShard},
	}
}

// The SCIM server writes ScimUsers and ScimRoles and reads the token Secret (a namespaced Role in
// config/rbac grants that).
// +kubebuilder:rbac:groups=identity.scim-operator.io,resources=scimusers;scimroles;scimrolemembers,verbs=get;list;watch;create;update;patch;delete

// SetupWithManager registers the store's field indexes and adds the SCIM server to mgr as a
// runnable of every replica. The manager must have been created with CacheByObject.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) (*Server, error) {
	st := &store.Store{Client: mgr.GetClient(), Live: mgr.GetAPIReader(), WriteTimeout: opts.WriteTimeout,
		InlineMembers: opts.InlineMembers, MembersPerShard: opts.MembersPerShard, RenderCacheSize: opts.RenderCacheSize}
	srv, err := New(opts, st, mgr.GetClient(), mgr.GetLogger().WithName("scim"))
	if err != nil {
		return nil, fmt.Errorf("SCIM server options: %w", err)
	}
	if err := store.RegisterIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return nil, fmt.Errorf("register SCIM indexes: %w", err)
	}
	if st.Direct, err = index.NewDirect(ctx, mgr.GetCache()); err != nil {
		return nil, fmt.Errorf("read the cache directly: %w", err)
	}
	if err := srv.WatchTokenSecret(ctx, mgr.GetCache()); err != nil {
		return nil, err
	}
	if err := st.IndexOrder(ctx, mgr.GetCache()); err != nil {
		return nil, fmt.Errorf("index the order of users and roles: %w", err)
	}
	if err := st.WatchMemberships(ctx, mgr.GetCache()); err != nil {
		return nil, fmt.Errorf("watch the changes of memberships: %w", err)
	}
	if opts.PrerenderDelay >= 0 {
		delay := opts.PrerenderDelay
		if delay == 0 {
			delay = store.DefaultPrerenderDelay
		}
		ahead, err := st.Prerender(ctx, mgr.GetCache(), delay)
		if err != nil {
			return nil, fmt.Errorf("render users ahead of reads: %w", err)
		}
		if err := mgr.Add(ahead); err != nil {
			return nil, fmt.Errorf("add the prerenderer: %w", err)
		}
	}
	if err := mgr.Add(srv); err != nil {
		return nil, fmt.Errorf("add SCIM server: %w", err)
	}
	return srv, nil
}
