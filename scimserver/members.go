package scimserver

// What the server tells the store about a request on Groups, so that the cost of a large group's
// members (stored in shards, see store/shards.go) is paid only by requests that need them.

import (
	"context"

	"github.com/scim-operator/scim-operator/scimserver/patch"
	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/store"
)

// patchedMembers returns the member values a Group PATCH names when it reads and writes members
// only by value (patch.Request.Values), or nil: the store then shows the patch only those members.
func patchedMembers(rt *schema.ResourceType, req *patch.Request) []string {
	if rt != schema.GroupResourceType {
		return nil
	}
	values, ok := req.Values(rt, "members")
	if !ok {
		return nil
	}
	return values
}

// withoutMembers returns ctx telling the store not to render members (store.WithoutMembers) when
// q, a read of Groups without a filter or a sort, excludes them (excludedAttributes=members, as
// Okta reads groups): the response then costs what an empty group's does, whatever the group's
// size.
func withoutMembers(ctx context.Context, rt *schema.ResourceType, q *query) context.Context {
	if rt != schema.GroupResourceType || q.filter != nil || q.sort != nil || len(q.attributes) > 0 {
		return ctx
	}
	for _, p := range q.excluded {
		if p.Schema == rt.Schema && p.Attr.Name == "members" && p.Sub == nil && p.Filter == nil {
			return store.WithoutMembers(ctx)
		}
	}
	return ctx
}
