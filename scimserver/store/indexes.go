package store

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scim-operator/scim-operator/internal/index"
)

// RegisterIndexes registers the field indexes over the informer cache that serve SCIM reads without
// an API call (package index names them). Call it before the manager starts.
func RegisterIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	return index.Register(ctx, indexer, index.UserNameFolded, index.UserExternalID,
		index.RoleDisplayNameFolded, index.RoleExternalID, index.RoleMember,
		index.ShardMember, index.ShardRole)
}
