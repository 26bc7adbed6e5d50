package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scim-operator/scim-operator/internal/index"
)

// Field indexes of the manager's cache the controllers read through (see package index, which the
// SCIM server shares).
var (
	// IndexRoleMember selects ScimRoles by the value (ScimUser name) of each of their members.
	IndexRoleMember = index.RoleMember.Name

	// IndexUserName selects ScimUsers by their exact spec.userName.
	IndexUserName = index.UserName.Name
)

// registerIndexes registers the field indexes the controllers read through.
func registerIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	return index.Register(ctx, indexer, index.RoleMember, index.UserName)
}
