package store

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/cachetest"
	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// TestCreateDecidesOnALiveReadOnlyWhenItMust checks how a create finds its id: a free id is
// created without a live read, and what is taken — in the cache, or only on the API server (a
// replica's create the cache has not seen) — is still a 409 that writes nothing, as is a name whose
// id a role lists.
func TestCreateDecidesOnALiveReadOnlyWhenItMust(t *testing.T) {
	ctx := context.Background()
	body := func(userName string) map[string]any {
		return map[string]any{"schemas": []any{schema.UserURN}, "userName": userName}
	}
	for _, tt := range []struct {
		name string
		// taken is a user already stored under the new user's id; hidden keeps it from the cache;
		// inRole lists it as the member of a role.
		taken, hidden, inRole bool
		status, liveReads     int
	}{
		{name: "a free id: no live read", status: http.StatusCreated},
		{name: "taken, in the cache: the name check tells", taken: true, status: http.StatusConflict},
		// The create finds it live, but a 409 would name a user that no lookup on this replica finds
		// yet: 503, and the retry gets the 409 once the cache holds the user.
		{name: "taken, not yet in the cache: retry", taken: true, hidden: true, status: http.StatusServiceUnavailable, liveReads: 1},
		{name: "taken, not in the cache, in a role", taken: true, hidden: true, inRole: true, status: http.StatusServiceUnavailable, liveReads: 1},
		{name: "free, but a role lists the id: read live, then leave the role", inRole: true, status: http.StatusCreated, liveReads: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const userName = "new@example.com"
			id := deterministicID(userPrefix, userName, 0)
			role := &v1.ScimRole{Spec: v1.ScimRoleSpec{DisplayName: "Team"}}
			role.Name, role.ResourceVersion = "r-1", "1"
			if tt.inRole {
				role.Spec.Members = []v1.Member{{Value: id}}
			}
			objs := []client.Object{role}
			if tt.taken {
				u := &v1.ScimUser{Spec: v1.ScimUserSpec{UserName: userName}}
				u.Name, u.ResourceVersion = id, "1"
				objs = append(objs, u)
			}
			server := cachetest.New(objs...)
			if err := RegisterIndexes(ctx, server); err != nil {
				t.Fatal(err)
			}
			cache := &staleCache{Cache: server}
			if tt.hidden {
				cache.hidden = []string{id}
			}
			live := &countingReader{Reader: server}
			s := &Store{Client: cache, Live: live}
			_, err := s.Users().Create(ctx, Write{Provider: "okta"}, body(userName))
			status := http.StatusCreated
			var unavailable *UnavailableError
			if e := scimerror.As(err); e != nil {
				status = e.Status
			} else if errors.As(err, &unavailable) {
				status = http.StatusServiceUnavailable
			} else if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || live.gets != tt.liveReads {
				t.Errorf("status %d after %d live reads, want %d after %d (%v)", status, live.gets, tt.status, tt.liveReads, err)
			}
			stored := &v1.ScimRole{}
			if err := server.Get(ctx, client.ObjectKey{Name: "r-1"}, stored); err != nil {
				t.Fatal(err)
			}
			if stillIn := slices.Contains(stored.MemberIDs(), id); stillIn != (tt.inRole && tt.taken) {
				t.Errorf("the role lists %s: %v, want %v", id, stillIn, tt.inRole && tt.taken)
			}
		})
	}
}

// staleCache is a cache that has not seen the objects named hidden yet; writes go through.
type staleCache struct {
	*cachetest.Cache
	hidden []string
}

func (c *staleCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if slices.Contains(c.hidden, key.Name) {
		return c.Cache.Get(ctx, client.ObjectKey{Name: "not-" + key.Name}, obj) // NotFound
	}
	return c.Cache.Get(ctx, key, obj, opts...)
}

func (c *staleCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := c.Cache.List(ctx, list, opts...); err != nil {
		return err
	}
	items, err := apimeta.ExtractList(list)
	if err != nil {
		return err
	}
	items = slices.DeleteFunc(items, func(o runtime.Object) bool { return slices.Contains(c.hidden, o.(client.Object).GetName()) })
	return apimeta.SetList(list, items)
}

// countingReader counts the Gets of the live reader.
type countingReader struct {
	client.Reader
	gets int
}

func (r *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.gets++
	return r.Reader.Get(ctx, key, obj, opts...)
}
