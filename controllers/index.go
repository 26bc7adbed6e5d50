package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/index"
)

// registerIndexes registers the field indexes of the manager's cache the controllers read through
// (see package index, which the SCIM server shares): members → roles (through shards too), a
// role's shards, and the userName's identity key (index.UsersNamed).
func registerIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	return index.Register(ctx, indexer, index.RoleMember, index.ShardMember, index.ShardRole, index.UserNameFolded)
}

// rolesWithMember lists, from the cache, the roles that have the user named name as a member,
// themselves or through a shard (index.RolesWithMember). They are the cache's objects: read-only.
func rolesWithMember(ctx context.Context, c client.Reader, name string) ([]identityv1alpha1.ScimRole, error) {
	return index.RolesWithMember(ctx, c, name)
}

// roleMembers returns all the members of role, its own and its shards' (RoleMembers), from the
// cache: read-only.
func roleMembers(ctx context.Context, c client.Reader, role *identityv1alpha1.ScimRole) ([]identityv1alpha1.Member, error) {
	shards, err := index.ShardsOf(ctx, c, role)
	if err != nil {
		return nil, err
	}
	return identityv1alpha1.RoleMembers(role, shards), nil
}

// usersNamed lists, from the cache, the users whose userName is exactly userName (a binding's
// subject names them so). They are the cache's objects: read-only.
func usersNamed(ctx context.Context, c client.Reader, userName string) ([]identityv1alpha1.ScimUser, error) {
	return index.UsersNamed(ctx, c, userName)
}
