package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/index"
)

// registerIndexes registers the field indexes of the manager's cache the controllers read through
// (see package index, which the SCIM server shares): members → roles, and the exact userName.
func registerIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	return index.Register(ctx, indexer, index.RoleMember, index.UserName)
}

// rolesWithMember lists, from the cache, the roles that list the user named name as a member. They
// are the cache's objects: read-only.
func rolesWithMember(ctx context.Context, c client.Reader, name string) ([]identityv1alpha1.ScimRole, error) {
	var roles identityv1alpha1.ScimRoleList
	err := c.List(ctx, &roles, client.MatchingFields{index.RoleMember.Name: name}, client.UnsafeDisableDeepCopy)
	return roles.Items, err
}

// usersNamed lists, from the cache, the users whose userName is exactly userName (a binding's
// subject names them so). They are the cache's objects: read-only.
func usersNamed(ctx context.Context, c client.Reader, userName string) ([]identityv1alpha1.ScimUser, error) {
	var users identityv1alpha1.ScimUserList
	err := c.List(ctx, &users, client.MatchingFields{index.UserName.Name: userName}, client.UnsafeDisableDeepCopy)
	return users.Items, err
}
