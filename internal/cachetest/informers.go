package cachetest

import (
	"context"
	"fmt"
	"reflect"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// Informers are client-go informers of what a Cache held when Informers was called: the
// SharedIndexInformers that index.NewDirect reads in the manager, so that a benchmark measures
// the direct reads the manager makes. They do not follow later writes to the Cache.
type Informers struct {
	byType map[reflect.Type]toolscache.SharedIndexInformer
}

// The names controller-runtime's cache gives a field index and the values of a cluster-scoped
// object in it (its pkg/cache/internal FieldIndexName and KeyToNamespacedKey); index.NewDirect
// checks them.
const (
	fieldIndexPrefix = "field:"
	clusterKeyPrefix = "__all_namespaces/"
)

// Informers returns running informers of the ScimUsers, ScimRoles and ScimRoleMembers c holds,
// with the field indexes registered on c (IndexField) as controller-runtime's cache registers
// them, once they have synced. They stop when ctx ends.
func (c *Cache) Informers(ctx context.Context) (*Informers, error) {
	f := &Informers{byType: map[reflect.Type]toolscache.SharedIndexInformer{}}
	for _, x := range []struct {
		obj  client.Object
		list client.ObjectList
	}{
		{&v1.ScimUser{}, &v1.ScimUserList{}},
		{&v1.ScimRole{}, &v1.ScimRoleList{}},
		{&v1.ScimRoleMembers{}, &v1.ScimRoleMembersList{}},
	} {
		t := reflect.TypeOf(x.obj)
		indexers := toolscache.Indexers{}
		for field, extract := range c.indexers[t] {
			indexers[fieldIndexPrefix+field] = func(o any) ([]string, error) {
				values := extract(o.(client.Object))
				keys := make([]string, len(values))
				for i, v := range values {
					keys[i] = clusterKeyPrefix + v
				}
				return keys, nil
			}
		}
		objects := make([]runtime.Object, 0, len(c.objects[t]))
		for _, o := range c.objects[t] {
			objects = append(objects, o)
		}
		list := x.list
		lw := &toolscache.ListWatch{
			ListFunc: func(metav1.ListOptions) (runtime.Object, error) {
				l := list.DeepCopyObject()
				return l, apimeta.SetList(l, objects)
			},
			WatchFunc: func(metav1.ListOptions) (watch.Interface, error) { return watch.NewFake(), nil },
		}
		inf := toolscache.NewSharedIndexInformer(listOnly{lw}, x.obj, 0, indexers)
		go inf.Run(ctx.Done())
		f.byType[t] = inf
	}
	for t, inf := range f.byType {
		if !toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			return nil, fmt.Errorf("the informer of %s did not sync", t)
		}
	}
	return f, nil
}

// listOnly makes the reflector list, not ask the fake watch for the initial events.
type listOnly struct{ *toolscache.ListWatch }

func (listOnly) IsWatchListSemanticsUnSupported() bool { return true }

// GetInformer returns the informer of obj's type.
func (f *Informers) GetInformer(_ context.Context, obj client.Object, _ ...cache.InformerGetOption) (cache.Informer, error) {
	inf, ok := f.byType[reflect.TypeOf(obj)]
	if !ok {
		return nil, fmt.Errorf("no informer of %T", obj)
	}
	return inf, nil
}
