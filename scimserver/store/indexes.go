package store

import (
	"context"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// Field indexes over the informer cache that serve SCIM reads without an API call.
const (
	// IndexUserName indexes ScimUsers by lower-cased userName.
	IndexUserName = "scim.userName"
	// IndexExternalID indexes ScimUsers and ScimRoles by externalId.
	IndexExternalID = "scim.externalId"
	// IndexDisplayName indexes ScimRoles by lower-cased displayName.
	IndexDisplayName = "scim.displayName"
	// IndexMember indexes ScimRoles by the ids of their members: member → roles.
	IndexMember = "scim.member"
)

// RegisterIndexes registers the field indexes the store reads through. Call it once, before the
// manager starts.
func RegisterIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	indexes := []struct {
		obj     client.Object
		field   string
		extract client.IndexerFunc
	}{
		{&v1.ScimUser{}, IndexUserName, func(o client.Object) []string {
			return []string{strings.ToLower(o.(*v1.ScimUser).Spec.UserName)}
		}},
		{&v1.ScimUser{}, IndexExternalID, func(o client.Object) []string {
			return nonEmpty(o.(*v1.ScimUser).Spec.ExternalID)
		}},
		{&v1.ScimRole{}, IndexDisplayName, func(o client.Object) []string {
			return []string{strings.ToLower(o.(*v1.ScimRole).Spec.DisplayName)}
		}},
		{&v1.ScimRole{}, IndexExternalID, func(o client.Object) []string {
			return nonEmpty(o.(*v1.ScimRole).Spec.ExternalID)
		}},
		{&v1.ScimRole{}, IndexMember, func(o client.Object) []string {
			return MemberIDs(o.(*v1.ScimRole))
		}},
	}
	for _, ix := range indexes {
		if err := indexer.IndexField(ctx, ix.obj, ix.field, ix.extract); err != nil {
			return err
		}
	}
	return nil
}

// MemberIDs returns the ids of the role's members.
func MemberIDs(r *v1.ScimRole) []string {
	ids := make([]string, 0, len(r.Spec.Members))
	for _, m := range r.Spec.Members {
		ids = append(ids, m.Value)
	}
	return ids
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
