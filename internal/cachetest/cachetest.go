// Package cachetest is an in-memory stand-in for the manager's informer cache, and for the API
// server behind it, for benchmarks of the SCIM server without either. It reads as controller-runtime's cache reader
// does — a Get or List returns deep copies unless UnsafeDisableDeepCopy, a List by field goes
// through the index registered for it, a List without one visits every object — so that what a
// benchmark measures is the server's work on top of the cache, as in the manager.
package cachetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Cache holds objects in memory and serves reads of them, informers that report them, and Create
// and Update as an API server would answer them (a new resourceVersion each time) for benchmarks
// of writes without one, and Delete. Other
// writes are not served: the embedded client.Client is nil, and they panic. It is not safe for
// concurrent writes, as benchmarks need not be.
type Cache struct {
	client.Client
	// objects are, by type, the objects by key.
	objects map[reflect.Type]map[client.ObjectKey]client.Object
	// indexers are, by type and field, the functions IndexField registered; indexes their values.
	indexers map[reflect.Type]map[string]client.IndexerFunc
	indexes  map[reflect.Type]map[string]map[string][]client.ObjectKey
	// handlers are, by type, the event handlers of GetInformer's informers.
	handlers map[reflect.Type][]toolscache.ResourceEventHandler
}

var _ client.FieldIndexer = &Cache{}

// New returns a cache holding objs.
func New(objs ...client.Object) *Cache {
	c := &Cache{objects: map[reflect.Type]map[client.ObjectKey]client.Object{},
		indexers: map[reflect.Type]map[string]client.IndexerFunc{},
		indexes:  map[reflect.Type]map[string]map[string][]client.ObjectKey{},
		handlers: map[reflect.Type][]toolscache.ResourceEventHandler{}}
	c.Add(objs...)
	return c
}

// Add stores objs, replacing those of the same key, and indexes them; the cache owns them from then.
func (c *Cache) Add(objs ...client.Object) {
	for _, obj := range objs {
		t := reflect.TypeOf(obj)
		if c.objects[t] == nil {
			c.objects[t] = map[client.ObjectKey]client.Object{}
		}
		key := client.ObjectKeyFromObject(obj)
		old, replaced := c.objects[t][key]
		if replaced {
			for field, extract := range c.indexers[t] {
				c.unindex(t, field, key, extract(old))
			}
		}
		c.objects[t][key] = obj
		for field, extract := range c.indexers[t] {
			c.index(t, field, key, extract(obj))
		}
		for _, h := range c.handlers[t] {
			if replaced {
				h.OnUpdate(old, obj)
			} else {
				h.OnAdd(obj, false)
			}
		}
	}
}

// GetInformer returns an informer of obj's kind whose handlers receive the objects held, then
// each one added, created or updated. It serves AddEventHandler only; its other methods panic.
func (c *Cache) GetInformer(_ context.Context, obj client.Object, _ ...cache.InformerGetOption) (cache.Informer, error) {
	return &informer{c: c, t: reflect.TypeOf(obj)}, nil
}

type informer struct {
	cache.Informer
	c *Cache
	t reflect.Type
}

func (i *informer) AddEventHandler(h toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	for _, obj := range i.c.objects[i.t] {
		h.OnAdd(obj, true)
	}
	i.c.handlers[i.t] = append(i.c.handlers[i.t], h)
	return synced{}, nil
}

// synced is the registration of a handler that has received every object held.
type synced struct {
	toolscache.ResourceEventHandlerRegistration
}

func (synced) HasSynced() bool { return true }

func (c *Cache) index(t reflect.Type, field string, key client.ObjectKey, values []string) {
	if c.indexes[t] == nil {
		c.indexes[t] = map[string]map[string][]client.ObjectKey{}
	}
	if c.indexes[t][field] == nil {
		c.indexes[t][field] = map[string][]client.ObjectKey{}
	}
	for _, v := range values {
		c.indexes[t][field][v] = append(c.indexes[t][field][v], key)
	}
}

func (c *Cache) unindex(t reflect.Type, field string, key client.ObjectKey, values []string) {
	index := c.indexes[t][field]
	for _, v := range values {
		index[v] = slices.DeleteFunc(index[v], func(k client.ObjectKey) bool { return k == key })
		if len(index[v]) == 0 {
			delete(index, v)
		}
	}
}

// Create stores a copy of obj under a first resourceVersion, or answers AlreadyExists.
func (c *Cache) Create(_ context.Context, obj client.Object, _ ...client.CreateOption) error {
	if _, ok := c.objects[reflect.TypeOf(obj)][client.ObjectKeyFromObject(obj)]; ok {
		return apierrors.NewAlreadyExists(groupResource(obj), obj.GetName())
	}
	obj.SetResourceVersion("1")
	c.Add(obj.DeepCopyObject().(client.Object))
	return nil
}

// Update stores a copy of obj under the next resourceVersion; a resourceVersion other than the
// stored one is a Conflict.
func (c *Cache) Update(_ context.Context, obj client.Object, _ ...client.UpdateOption) error {
	stored, ok := c.objects[reflect.TypeOf(obj)][client.ObjectKeyFromObject(obj)]
	if !ok {
		return apierrors.NewNotFound(groupResource(obj), obj.GetName())
	}
	if obj.GetResourceVersion() != stored.GetResourceVersion() {
		return apierrors.NewConflict(groupResource(obj), obj.GetName(), fmt.Errorf("resourceVersion %s is not %s", obj.GetResourceVersion(), stored.GetResourceVersion()))
	}
	rv, _ := strconv.ParseInt(stored.GetResourceVersion(), 10, 64)
	obj.SetResourceVersion(strconv.FormatInt(rv+1, 10))
	c.Add(obj.DeepCopyObject().(client.Object))
	return nil
}

// Delete removes the object of obj's type and key, and reports its deletion to the handlers; one
// not held is NotFound.
func (c *Cache) Delete(_ context.Context, obj client.Object, _ ...client.DeleteOption) error {
	t := reflect.TypeOf(obj)
	key := client.ObjectKeyFromObject(obj)
	stored, ok := c.objects[t][key]
	if !ok {
		return apierrors.NewNotFound(groupResource(obj), obj.GetName())
	}
	for field, extract := range c.indexers[t] {
		c.unindex(t, field, key, extract(stored))
	}
	delete(c.objects[t], key)
	for _, h := range c.handlers[t] {
		h.OnDelete(stored)
	}
	return nil
}

func groupResource(obj client.Object) schema.GroupResource {
	return schema.GroupResource{Resource: reflect.TypeOf(obj).Elem().Name()}
}

// IndexField registers an index of obj's type by field, over the objects held and those added.
func (c *Cache) IndexField(_ context.Context, obj client.Object, field string, extract client.IndexerFunc) error {
	t := reflect.TypeOf(obj)
	if c.indexers[t] == nil {
		c.indexers[t] = map[string]client.IndexerFunc{}
	}
	c.indexers[t][field] = extract
	for key, o := range c.objects[t] {
		c.index(t, field, key, extract(o))
	}
	return nil
}

// Get copies the object of key into obj, or answers NotFound.
func (c *Cache) Get(_ context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	stored, ok := c.objects[reflect.TypeOf(obj)][key]
	if !ok {
		return apierrors.NewNotFound(groupResource(obj), key.Name)
	}
	o := &client.GetOptions{}
	o.ApplyOptions(opts)
	if o.UnsafeDisableDeepCopy == nil || !*o.UnsafeDisableDeepCopy {
		stored = stored.DeepCopyObject().(client.Object)
	}
	reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(stored).Elem())
	return nil
}

// List fills list with the objects of its item type that match the label selector and the one
// field requirement (through its index) of opts.
func (c *Cache) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	o := (&client.ListOptions{}).ApplyOptions(opts)
	t, err := itemType(list)
	if err != nil {
		return err
	}
	var candidates []client.Object
	if o.FieldSelector != nil && !o.FieldSelector.Empty() {
		reqs := o.FieldSelector.Requirements()
		if len(reqs) != 1 {
			return fmt.Errorf("cachetest: one field requirement at a time, not %s", o.FieldSelector)
		}
		index, ok := c.indexes[t][reqs[0].Field]
		if _, registered := c.indexers[t][reqs[0].Field]; !ok && !registered {
			return fmt.Errorf("cachetest: no index of %s by %s", t, reqs[0].Field)
		}
		for _, key := range index[reqs[0].Value] {
			candidates = append(candidates, c.objects[t][key])
		}
	} else {
		for _, obj := range c.objects[t] {
			candidates = append(candidates, obj)
		}
	}
	unsafe := o.UnsafeDisableDeepCopy != nil && *o.UnsafeDisableDeepCopy
	items := make([]runtime.Object, 0, len(candidates))
	for _, obj := range candidates {
		if o.LabelSelector != nil && !o.LabelSelector.Matches(labels.Set(obj.GetLabels())) {
			continue
		}
		if !unsafe {
			obj = obj.DeepCopyObject().(client.Object)
		}
		items = append(items, obj)
	}
	return apimeta.SetList(list, items)
}

// itemType is the pointer type of list's items (*ScimUser for a ScimUserList).
func itemType(list client.ObjectList) (reflect.Type, error) {
	items := reflect.ValueOf(list).Elem().FieldByName("Items")
	if !items.IsValid() || items.Kind() != reflect.Slice {
		return nil, fmt.Errorf("cachetest: %T has no Items", list)
	}
	return reflect.PointerTo(items.Type().Elem()), nil
}
