package store

// The render cache: a resource's full representation is rendered and encoded once per version of
// what it is rendered from, not once per request. A GET without attributes or excludedAttributes
// (what identity providers send) is then a cache read, an index lookup and a copy of bytes.

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// DefaultRenderCacheSize is how many encoded resources the render cache holds by default: every
// user of a tenant of 50,000 (a user's full representation is about a kilobyte, so about 50 MiB
// when all are cached; deleted users leave it). A tenant larger than the cache has GETs of the
// users outside it rendered each time: at 50,000 users and a cache of 10,000, GET by id served
// 0.36 times the in-memory baseline's rate, against 0.63 times at 1,000 users.
const DefaultRenderCacheSize = 50000

// EncodeJSON encodes a SCIM document (or any response body) as the server answers it: without
// HTML escaping, with a trailing newline, as encoding/json's Encoder writes it.
func EncodeJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("encode a SCIM document: " + err.Error()) // documents are maps of JSON values
	}
	return buf.Bytes()
}

// renderCache holds encoded resources by object UID (an object deleted and created again under
// its name is another entry), each valid for the resourceVersion and the dependencies it was
// rendered from: an entry of an older version is never served, it is replaced. It is bounded
// (least recently used entries are dropped) and safe for concurrent use.
type renderCache struct {
	once    sync.Once
	entries *lru.Cache
}

// rendered is one encoded resource and what it was rendered from.
type rendered struct {
	// version is the object's resourceVersion, deps what else the rendering read (a user's
	// roles), in the form the render function's caller gives.
	version, deps string
	json          []byte
}

// encoded returns the encoded full representation of the object with uid at resourceVersion
// version, whose rendering depends besides the object on deps only: from the render cache when it
// holds it for that version and deps, else rendered by render, encoded and kept. The bytes are
// shared: read-only.
func (s *Store) encoded(uid types.UID, version, deps string, render func() map[string]any) []byte {
	c := s.renderCache()
	if e, ok := c.entries.Get(uid); ok {
		if r := e.(*rendered); r.version == version && r.deps == deps {
			return r.json
		}
	}
	data := EncodeJSON(render())
	c.entries.Add(uid, &rendered{version: version, deps: deps, json: data})
	return data
}

// renderCache returns the store's render cache, made on first use.
func (s *Store) renderCache() *renderCache {
	c := &s.rendered
	c.once.Do(func() {
		size := s.RenderCacheSize
		if size <= 0 {
			size = DefaultRenderCacheSize
		}
		c.entries = lru.New(size)
	})
	return c
}

// forgetRendered drops the rendering of the object with uid (deleted).
func (s *Store) forgetRendered(uid types.UID) { s.renderCache().entries.Remove(uid) }

// GetEncoded returns user id as Get does, but with JSON, the encoded full representation, instead
// of Doc: rendered once per version of the user and of the groups it lists.
func (s *users) GetEncoded(ctx context.Context, id string) (*Resource, error) {
	// Only read: the cache's copy does (most reads are served without rendering).
	u := &v1.ScimUser{}
	if err := s.get(ctx, id, u, client.UnsafeDisableDeepCopy); err != nil {
		return nil, apiError(err, "Resource "+id)
	}
	roles, err := s.rolesOf(ctx, u.Name)
	if err != nil {
		return nil, err
	}
	data := s.encoded(u.UID, u.ResourceVersion, groupsKey(roles), func() map[string]any { return userDoc(u, roles) })
	return &Resource{ID: u.Name, JSON: data, Version: version(u), Location: "Users/" + u.Name}, nil
}

// GetEncoded returns group id as Get does, its Doc encoded as JSON. A group's rendering is not
// cached (yet): what it reads besides the role is for the membership storage to say.
func (s *groups) GetEncoded(ctx context.Context, id string) (*Resource, error) {
	res, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return &Resource{ID: res.ID, JSON: EncodeJSON(res.Doc), Version: res.Version, Location: res.Location}, nil
}

// groupsKey is what a user's groups attribute is rendered from: each role's name and displayName.
func groupsKey(roles []v1.ScimRole) string {
	var b strings.Builder
	for i := range roles {
		b.WriteString(roles[i].Name)
		b.WriteByte(0)
		b.WriteString(roles[i].Spec.DisplayName)
		b.WriteByte(0)
	}
	return b.String()
}
