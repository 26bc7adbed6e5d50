package store

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/cachetest"
	"github.com/scim-operator/scim-operator/scimserver/patch"
	"github.com/scim-operator/scim-operator/scimserver/schema"
)

// benchStore returns a store over an in-memory cache of a tenant (cachetest.Tenant) of users and
// roles, and the cache.
func benchStore(b *testing.B, users, roles int, more ...client.Object) (*Store, *cachetest.Cache) {
	b.Helper()
	c := cachetest.New(append(cachetest.Tenant(users, roles), more...)...)
	if err := RegisterIndexes(context.Background(), c); err != nil {
		b.Fatal(err)
	}
	return &Store{Client: c, Live: c}, c
}

// BenchmarkRender renders what a GET returns: a user in five roles, one of them holding a fifth
// of 50,000 users, and groups of 10,000 and 100,000 members.
func BenchmarkRender(b *testing.B) {
	ctx := context.Background()
	s, _ := benchStore(b, 50000, 5000)
	u := &v1.ScimUser{}
	if err := s.get(ctx, cachetest.UserID(0), u); err != nil {
		b.Fatal(err)
	}
	b.Run("user in 5 roles", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := s.Users().(*users).resource(ctx, u)
			if err != nil || len(r.Doc["groups"].([]any)) != 5 {
				b.Fatalf("%v, %v", r, err)
			}
		}
	})
	for _, n := range []int{10000, 100000} {
		role := groupOf(n)
		b.Run(fmt.Sprintf("group of %d members", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				groupResource(role, nil)
			}
		})
	}
}

// groupOf returns a role of n members.
func groupOf(n int) *v1.ScimRole {
	r := &v1.ScimRole{}
	r.Name, r.ResourceVersion, r.Spec.DisplayName = "r-big", "1", "Everyone"
	v1.MarkManagedBy(r, "okta")
	for i := range n {
		r.Spec.Members = append(r.Spec.Members, v1.Member{Value: cachetest.UserID(i), Display: fmt.Sprintf("Given%d Family%d", i, i)})
	}
	return r
}

// shardedGroupOf returns a role of n members as the store lays them out: the first
// DefaultInlineMembers in the role, the others in shards of DefaultMembersPerShard.
func shardedGroupOf(n int) (*v1.ScimRole, []client.Object) {
	all := groupOf(n)
	r := all.DeepCopy()
	r.UID = "uid-big"
	r.Spec.Members = all.Spec.Members[:min(n, DefaultInlineMembers)]
	var shards []client.Object
	for i, chunk := 0, all.Spec.Members[len(r.Spec.Members):]; len(chunk) > 0; i++ {
		sh := v1.NewShard(r, i)
		sh.ResourceVersion = "1"
		k := min(len(chunk), DefaultMembersPerShard)
		sh.Spec.Members, chunk = chunk[:k], chunk[k:]
		shards = append(shards, sh)
	}
	return r, shards
}

// BenchmarkMemberPatch adds 100 members to a group through Groups().Patch, as an identity
// provider's PATCH does (the store told, as the SCIM server tells it, that the request names its
// members by value), over an in-memory cache that also stands in for the API server: the
// in-memory work of the patch — read, patch, convert, check, place and render — for a group of
// 1,000 members (inline) and one of 100,000 (1,000 inline, the rest in 50 shards, the last with
// room). The render of the response is included: it is what a 200 returns, all members.
func BenchmarkMemberPatch(b *testing.B) {
	ctx := context.Background()
	const added = 100
	for _, members := range []int{1000 - added, 100000 - added} {
		b.Run(fmt.Sprintf("group of %d", members), func(b *testing.B) {
			role, shards := shardedGroupOf(members)
			// The same 100,100 users under both: the heap the garbage collector marks is the
			// tenant's, whatever the group's size.
			s, c := benchStore(b, 100000+added, 10, shards...)
			values := make([]string, added)
			for i := range values {
				values[i] = fmt.Sprintf(`{"value":%q}`, cachetest.UserID(members+i))
			}
			req, err := patch.Parse([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+
				`{"op":"add","path":"members","value":[`+strings.Join(values, ",")+`]}]}`), patch.Options{})
			if err != nil {
				b.Fatal(err)
			}
			named, ok := req.Values(schema.GroupResourceType, "members")
			if !ok {
				b.Fatal("an add of members names them by value")
			}
			// What the SCIM server's PATCH hands the store: the operations, then the canonical form.
			apply := func(doc map[string]any) (bool, error) {
				changed, err := req.Apply(schema.GroupResourceType, doc)
				if err != nil {
					return changed, err
				}
				canonical, err := schema.Canonicalize(schema.GroupResourceType, doc, schema.Decoding{})
				clear(doc)
				maps.Copy(doc, canonical)
				return changed, err
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				c.Add(role.DeepCopy())
				if len(shards) > 0 {
					c.Add(shards[len(shards)-1].DeepCopyObject().(client.Object))
				}
				b.StartTimer()
				_, changed, err := s.Groups().Patch(ctx, Write{Provider: "okta", PatchedMembers: named}, role.Name, apply)
				if err != nil || !changed {
					b.Fatalf("changed %v, %v", changed, err)
				}
			}
			m, err := s.readMembership(ctx, role.Name, false)
			if err != nil || len(m.all()) != members+added {
				b.Fatalf("%d members after the patch, %v", len(m.all()), err)
			}
		})
	}
}

// BenchmarkRenderCacheHeap reports the live heap the render cache holds per user (B/user) once it
// holds the renderings of 10,000 users in five roles each, as after an initial sync.
func BenchmarkRenderCacheHeap(b *testing.B) {
	const n = 10000
	ctx := context.Background()
	s, _ := benchStore(b, n, 1000)
	us := s.Users().(boundedWrites).Resources.(*users)
	var perUser float64
	for b.Loop() {
		s.rendered = renderCache{}
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			u := &v1.ScimUser{}
			if err := s.get(ctx, cachetest.UserID(i), u, client.UnsafeDisableDeepCopy); err != nil {
				b.Fatal(err)
			}
			if _, err := us.encoded(ctx, u, renderOnRequest); err != nil {
				b.Fatal(err)
			}
		}
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		if got := s.renderCache().entries.Len(); got != n {
			b.Fatalf("%d renderings cached, want %d", got, n)
		}
		perUser = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
	}
	b.ReportMetric(perUser, "B/user")
}
