package store

// Reads: Users and Groups are read alike, from the cache through its indexes, and differ only in
// how an object is rendered.

import (
	"context"
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/index"
	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

func (s *users) Type() *schema.ResourceType  { return schema.UserResourceType }
func (s *groups) Type() *schema.ResourceType { return schema.GroupResourceType }

func (s *users) Get(ctx context.Context, id string) (*Resource, error) {
	return getResource(ctx, s.Store, id, &v1.ScimUser{}, s.resource)
}

func (s *groups) Get(ctx context.Context, id string) (*Resource, error) {
	return getResource(ctx, s.Store, id, &v1.ScimRole{}, s.render)
}

func (s *users) List(ctx context.Context, eq *Equality) ([]*Resource, error) {
	return listResources(ctx, s.Store, s, &v1.ScimUserList{}, newUser, eq, s.resource)
}

func (s *groups) List(ctx context.Context, eq *Equality) ([]*Resource, error) {
	return listResources(ctx, s.Store, s, &v1.ScimRoleList{}, func() *v1.ScimRole { return &v1.ScimRole{} }, eq, s.render)
}

func (s *users) Page(ctx context.Context, offset, count int) ([]*Resource, int, error) {
	return pageResources(ctx, s.Store, s, &v1.ScimUserList{}, offset, count, newUser, s.resource)
}

func (s *groups) Page(ctx context.Context, offset, count int) ([]*Resource, int, error) {
	return pageResources(ctx, s.Store, s, &v1.ScimRoleList{}, offset, count, func() *v1.ScimRole { return &v1.ScimRole{} }, s.render)
}

// ListEncoded lists what List lists, each user encoded as GetEncoded encodes it, with a Doc of
// the attributes an Equality compares only (equalityDoc): an IdP's lookup of a user by userName
// or externalId is then an index read and a render cache read, not a rendering.
func (s *users) ListEncoded(ctx context.Context, eq *Equality) ([]*Resource, error) {
	return listResources(ctx, s.Store, s, &v1.ScimUserList{}, newUser, eq, func(ctx context.Context, u *v1.ScimUser) (*Resource, error) {
		res, err := s.encoded(ctx, u, renderOnRequest)
		if err != nil {
			return nil, err
		}
		res.Doc = equalityDoc(u)
		return res, nil
	})
}

// equalityDoc is what userDoc renders of u's attributes that an Equality compares: id, and
// userName, externalId and displayName when set.
func equalityDoc(u *v1.ScimUser) map[string]any {
	doc := map[string]any{"id": u.Name, "userName": u.Spec.UserName}
	if u.Spec.ExternalID != "" {
		doc["externalId"] = u.Spec.ExternalID
	}
	if u.Spec.DisplayName != "" {
		doc["displayName"] = u.Spec.DisplayName
	}
	return doc
}

// ListEncoded encodes each group of List, keeping its Doc (a group's rendering is not cached).
func (s *groups) ListEncoded(ctx context.Context, eq *Equality) ([]*Resource, error) {
	all, err := s.List(ctx, eq)
	for i, res := range all {
		all[i] = encodedDoc(res)
		all[i].Doc = res.Doc
	}
	return all, err
}

// PageEncoded reads the page's users as GetEncoded does: the cache's objects and the render cache.
func (s *users) PageEncoded(ctx context.Context, offset, count int) ([]*Resource, int, error) {
	return pageResources(ctx, s.Store, s, &v1.ScimUserList{}, offset, count, newUser,
		func(ctx context.Context, u *v1.ScimUser) (*Resource, error) {
			return s.encoded(ctx, u, renderOnRequest)
		})
}

// PageEncoded encodes each group of Page (a group's rendering is not cached).
func (s *groups) PageEncoded(ctx context.Context, offset, count int) ([]*Resource, int, error) {
	page, total, err := s.Page(ctx, offset, count)
	for i, res := range page {
		page[i] = encodedDoc(res)
	}
	return page, total, err
}

// render is groupResource as getResource and listResources call it, with the role's shards from
// the cache.
func (s *groups) render(ctx context.Context, r *v1.ScimRole) (*Resource, error) {
	shards, err := s.shardsOf(ctx, r, false)
	if err != nil {
		return nil, err
	}
	if ctx.Value(withoutMembersKey{}) != nil {
		return groupResourceWithoutMembers(r, shards), nil
	}
	return groupResource(r, shards), nil
}

// lookup serves an Equality on one attribute from a field index.
type lookup struct {
	// index is the field index of the attribute.
	index index.Index
	// key turns the compared value into the index's key.
	key func(value string) string
}

// exactly is the key of an index that holds values as they are.
func exactly(value string) string { return value }

// lookups are, by resource type, the attributes an index serves an Equality on.
var lookups = map[*schema.ResourceType]map[string]lookup{
	schema.UserResourceType: {
		"userName":   {index.UserNameFolded, v1.IdentityKey},
		"externalId": {index.UserExternalID, exactly},
	},
	schema.GroupResourceType: {
		"displayName": {index.RoleDisplayNameFolded, v1.IdentityKey},
		"externalId":  {index.RoleExternalID, exactly},
	},
}

// getResource reads object id into obj (see Store.get) and renders it.
func getResource[T client.Object](ctx context.Context, s *Store, id string, obj T,
	render func(context.Context, T) (*Resource, error)) (*Resource, error) {
	if err := s.get(ctx, id, obj); err != nil {
		return nil, apiError(err, "Resource "+id)
	}
	return render(ctx, obj)
}

// listResources serves List for rs: an Equality on id reads the object as Get does (into
// newObject()), one on an attribute of lookups[rs.Type()] is read through its index (users: the
// informer's own, when the store reads it directly), any other lists every object into list.
// Objects being deleted are gone to SCIM; render turns the others into resources, in id order.
func listResources[T client.Object](ctx context.Context, s *Store, rs Resources, list client.ObjectList, newObject func() T,
	eq *Equality, render func(context.Context, T) (*Resource, error)) ([]*Resource, error) {
	if eq != nil {
		if l, ok := lookups[rs.Type()][eq.Attribute]; ok {
			if objs, read, err := directLookup[T](s, l, eq.Value); err != nil || read {
				if err != nil {
					return nil, apiError(err, strings.TrimPrefix(rs.Type().Endpoint, "/"))
				}
				return renderEach(ctx, liveInOrder(objs), render)
			}
			objs, err := listObjects[T](ctx, l.index.Keyed(s.Client, l.key(eq.Value)), rs, list)
			if err != nil {
				return nil, err
			}
			return renderEach(ctx, objs, render)
		} else if eq.Attribute == "id" {
			r, err := getResource(ctx, s, eq.Value, newObject(), render)
			if e := scimerror.As(err); e != nil && e.Status == http.StatusNotFound {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			return []*Resource{r}, nil
		}
	}
	objs, err := listObjects[T](ctx, s.Client, rs, list)
	if err != nil {
		return nil, err
	}
	return renderEach(ctx, objs, render)
}

// directLookup reads the users that the user index of l holds for value from the informer's
// indexer (index.Direct.Users); read is false when there is none to read (no direct reader, not
// users, not synced), for the caller to list through the cache.
func directLookup[T client.Object](s *Store, l lookup, value string) (objs []T, read bool, err error) {
	if _, users := l.index.Object.(*v1.ScimUser); !users || s.Direct == nil {
		return nil, false, nil
	}
	found, read, err := s.Direct.Users(l.index, l.key(value))
	for _, u := range found {
		objs = append(objs, any(u).(T))
	}
	return objs, read, err
}

// newUser returns an empty ScimUser to read into.
func newUser() *v1.ScimUser { return &v1.ScimUser{} }

// pageResources serves Page for rs: it reads the count objects from offset in the order of names
// (IndexOrder) and renders them; without an order, it lists every object into list and renders
// only the page. An object of the order deleted a moment ago is left out of the page.
func pageResources[T client.Object](ctx context.Context, s *Store, rs Resources, list client.ObjectList, offset, count int,
	newObject func() T, render func(context.Context, T) (*Resource, error)) ([]*Resource, int, error) {
	if o := s.orderOf(newObject()); o != nil {
		names, total := o.page(offset, count)
		objs := make([]T, 0, len(names))
		for _, name := range names {
			obj := newObject()
			// Only read (render does): the cache's copy, not a deep copy of it.
			err := s.Client.Get(ctx, client.ObjectKey{Name: name}, obj, client.UnsafeDisableDeepCopy)
			if apierrors.IsNotFound(err) || (err == nil && v1.IsTerminating(obj)) {
				continue
			}
			if err != nil {
				return nil, 0, apiError(err, "Resource "+name)
			}
			objs = append(objs, obj)
		}
		page, err := renderEach(ctx, objs, render)
		return page, total, err
	}
	objs, err := listObjects[T](ctx, s.Client, rs, list)
	if err != nil {
		return nil, 0, err
	}
	from := min(max(offset, 0), len(objs))
	page, err := renderEach(ctx, objs[from:from+min(max(count, 0), len(objs)-from)], render)
	return page, len(objs), err
}

// listObjects lists the objects of list's type from the cache through c (the store's client, or
// a reader of it by an index key), those being deleted (gone to SCIM) left out, in id order. They
// are the cache's, uncopied: read-only.
func listObjects[T client.Object](ctx context.Context, c client.Reader, rs Resources, list client.ObjectList) ([]T, error) {
	if err := c.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, apiError(err, strings.TrimPrefix(rs.Type().Endpoint, "/"))
	}
	items, err := apimeta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(items))
	for _, item := range items {
		out = append(out, item.(T))
	}
	return liveInOrder(out), nil
}

// liveInOrder returns objs without those being deleted (gone to SCIM), in id order; it reorders
// objs itself.
func liveInOrder[T client.Object](objs []T) []T {
	objs = slices.DeleteFunc(objs, func(obj T) bool { return v1.IsTerminating(obj) })
	slices.SortFunc(objs, func(a, b T) int { return strings.Compare(a.GetName(), b.GetName()) })
	return objs
}

// renderEach renders objs (render only reads them).
func renderEach[T client.Object](ctx context.Context, objs []T, render func(context.Context, T) (*Resource, error)) ([]*Resource, error) {
	out := make([]*Resource, 0, len(objs))
	for _, obj := range objs {
		r, err := render(ctx, obj)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
