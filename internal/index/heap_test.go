package index

import (
	"fmt"
	"reflect"
	"runtime"
	"testing"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/cachetest"
)

// BenchmarkIndexHeap reports the live heap (B/user) an informer's indexer holds over a tenant of
// 10,000 and of 50,000 users in five of a tenth as many roles each (cachetest.Tenant) with one
// field index, indexed as controller-runtime's cache indexes a cluster-scoped object: client-go's
// indexer, a set of object keys per value, each value under controller-runtime's
// "__all_namespaces/" prefix. "none" is the indexer of the same objects without an index: what an
// index costs is the difference. "userName-unbucketed" indexes the identity key itself, as
// UserNameFolded did before its keys were bucketed.
func BenchmarkIndexHeap(b *testing.B) {
	for _, users := range []int{10000, 50000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) { benchmarkIndexHeap(b, users) })
	}
}

func benchmarkIndexHeap(b *testing.B, users int) {
	objs := cachetest.Tenant(users, users/10)
	for _, c := range []struct {
		name string
		obj  client.Object
		ix   *Index
	}{
		{"none/ScimUser", &v1.ScimUser{}, nil},
		{"userName/ScimUser", UserNameFolded.Object, &UserNameFolded},
		{"userName-unbucketed/ScimUser", UserNameFolded.Object, &Index{Name: UserNameFolded.Name, Extract: func(o client.Object) []string {
			return []string{UserNameFolded.keyOf(o)}
		}}},
		{"externalId/ScimUser", UserExternalID.Object, &UserExternalID},
		{"none/ScimRole", &v1.ScimRole{}, nil},
		{"members/ScimRole", RoleMember.Object, &RoleMember},
	} {
		b.Run(c.name, func(b *testing.B) {
			indexers := toolscache.Indexers{}
			if ix := c.ix; ix != nil {
				indexers["field:"+ix.Name] = func(obj any) ([]string, error) {
					vals := ix.Extract(obj.(client.Object))
					keys := make([]string, len(vals))
					for i, v := range vals {
						keys[i] = "__all_namespaces/" + v
					}
					return keys, nil
				}
			}
			var perUser float64
			for b.Loop() {
				var before runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				indexer := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, indexers)
				for _, obj := range objs {
					if reflect.TypeOf(obj) == reflect.TypeOf(c.obj) {
						if err := indexer.Add(obj); err != nil {
							b.Fatal(err)
						}
					}
				}
				var after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&after)
				perUser = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(users)
				runtime.KeepAlive(indexer)
			}
			b.ReportMetric(perUser, "B/user")
		})
	}
}
