// Package index defines the field indexes over the manager's cache that the controllers and the SCIM
// server read through. A cache can index a field name once, and both parts run in one manager, so
// an index is defined here once and registered by whichever part asks for it first.
package index

import (
	"context"
	"fmt"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// Index is a field index: a name and the values it indexes an object type by.
type Index struct {
	// Name is the field name that client.MatchingFields selects by.
	Name string
	// Object is the indexed type.
	Object client.Object
	// Extract returns the values an object is indexed by.
	Extract client.IndexerFunc
}

// The indexes.
var (
	// RoleMember indexes ScimRoles by the value (ScimUser name) of each member: member → roles.
	RoleMember = Index{"spec.members.value", &v1.ScimRole{}, func(o client.Object) []string {
		return o.(*v1.ScimRole).MemberIDs()
	}}
	// UserName indexes ScimUsers by their exact spec.userName.
	UserName = Index{"spec.userName", &v1.ScimUser{}, func(o client.Object) []string {
		return []string{o.(*v1.ScimUser).Spec.UserName}
	}}
	// UserNameFolded indexes ScimUsers by the identity key (v1.IdentityKey) of spec.userName, which
	// is unique.
	UserNameFolded = Index{"scim.userName", &v1.ScimUser{}, func(o client.Object) []string {
		return []string{v1.IdentityKey(o.(*v1.ScimUser).Spec.UserName)}
	}}
	// UserExternalID indexes ScimUsers by spec.externalId.
	UserExternalID = Index{"scim.externalId", &v1.ScimUser{}, func(o client.Object) []string {
		return nonEmpty(o.(*v1.ScimUser).Spec.ExternalID)
	}}
	// RoleDisplayNameFolded indexes ScimRoles by the identity key (v1.IdentityKey) of
	// spec.displayName, which is unique.
	RoleDisplayNameFolded = Index{"scim.displayName", &v1.ScimRole{}, func(o client.Object) []string {
		return []string{v1.IdentityKey(o.(*v1.ScimRole).Spec.DisplayName)}
	}}
	// RoleExternalID indexes ScimRoles by spec.externalId.
	RoleExternalID = Index{"scim.externalId", &v1.ScimRole{}, func(o client.Object) []string {
		return nonEmpty(o.(*v1.ScimRole).Spec.ExternalID)
	}}
)

var (
	mu         sync.Mutex
	registered = map[client.FieldIndexer]map[string]bool{}
)

// Register registers the indexes with indexer, skipping those already registered with it.
func Register(ctx context.Context, indexer client.FieldIndexer, indexes ...Index) error {
	mu.Lock()
	defer mu.Unlock()
	done := registered[indexer]
	if done == nil {
		done = map[string]bool{}
		registered[indexer] = done
	}
	for _, ix := range indexes {
		key := fmt.Sprintf("%T/%s", ix.Object, ix.Name)
		if done[key] {
			continue
		}
		if err := indexer.IndexField(ctx, ix.Object, ix.Name, ix.Extract); err != nil {
			return fmt.Errorf("index %T by %s: %w", ix.Object, ix.Name, err)
		}
		done[key] = true
	}
	return nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
