package store

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scim-operator/scim-operator/internal/index"
)

// Field indexes over the informer cache that serve SCIM reads without an API call.
var (
	// IndexUserName selects ScimUsers by the identity key of userName (v1.IdentityKey).
	IndexUserName = index.UserNameFolded.Name
	// IndexExternalID selects ScimUsers and ScimRoles by externalId.
	IndexExternalID = index.UserExternalID.Name
	// IndexDisplayName selects ScimRoles by the identity key of displayName (v1.IdentityKey).
	IndexDisplayName = index.RoleDisplayNameFolded.Name
	// IndexMember selects ScimRoles by the ids of their members: member → roles.
	IndexMember = index.RoleMember.Name
)

// RegisterIndexes registers the field indexes the store reads through. Call it before the manager
// starts.
func RegisterIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	return index.Register(ctx, indexer, index.UserNameFolded, index.UserExternalID,
		index.RoleDisplayNameFolded, index.RoleExternalID, index.RoleMember)
}
