package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scim-operator/scim-operator/internal/index"
)

// registerIndexes registers the field indexes of the manager's cache the controllers read through
// (see package index, which the SCIM server shares): members → roles, and the exact userName.
func registerIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	return index.Register(ctx, indexer, index.RoleMember, index.UserName)
}
