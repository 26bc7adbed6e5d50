package store

// Rendering ahead: a user is rendered into the render cache once its informer has reported it,
// rather than by the first GET that reads it. The render cache alone renders once per version, but
// a tenant's first read of each user still renders it, and an import reads each user a few times
// only: at 50,000 users, a quarter of the benchmark's GETs rendered (a third of the manager's CPU
// under GETs), where at 1,000 users one in 350 did. Rendered ahead, a read of a user that has been
// unchanged for a moment costs the same whatever the number of users.
//
// A user's rendering lists its groups, and a group joined or left changes a role or a member shard,
// not the user: the members a role or shard event adds or removes are queued too, and all of a
// role's members when its displayName changes or it goes. Rendered on their own events only, the
// users of a 50,000-user initial sync were rendered with the groups they had when their status was
// first written, and a GET rendered each again (16% of the manager's CPU under GETs).

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// DefaultPrerenderDelay is how long after an informer event a user is rendered ahead by default.
// A user changes a few times in a burst while it is provisioned (its create, its status, its
// groups one PATCH after another); a render waits this long after the first change it sees, and
// then renders the latest version, so one user costs at most one render per delay.
const DefaultPrerenderDelay = 2 * time.Second

// rendersTotal counts users rendered into the render cache, by cause.
var rendersTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "scim_user_renders_total",
	Help: "Users rendered and encoded into the render cache, by cause: request (a read found no rendering of the " +
		"user's current version) or ahead (rendered after an informer event, before any read; --scim-prerender-delay).",
}, []string{"cause"})

func init() { metrics.Registry.MustRegister(rendersTotal) }

// The causes of a render (rendersTotal's label).
const (
	renderOnRequest = "request"
	renderAhead     = "ahead"
)

// Prerenderer renders users into the store's render cache after their informer events. It is a
// runnable of every replica (each serves reads from its own cache): add it to the manager.
type Prerenderer struct {
	store *Store
	delay time.Duration
	queue workqueue.TypedDelayingInterface[string]
}

// Prerender returns the Prerenderer of s: each user the ScimUser informer of informers adds or
// updates is rendered delay later (at most once per delay while it keeps changing), unless the
// render cache is full of other users. Call it before the informers start.
func (s *Store) Prerender(ctx context.Context, informers Informers, delay time.Duration) (*Prerenderer, error) {
	if delay <= 0 {
		return nil, fmt.Errorf("prerender delay %s: must be positive", delay)
	}
	p := &Prerenderer{store: s, delay: delay,
		queue: workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[string]{Name: "scim_prerender"})}
	inf, err := informers.GetInformer(ctx, &v1.ScimUser{}, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, fmt.Errorf("informer of %T: %w", &v1.ScimUser{}, err)
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    p.observe,
		UpdateFunc: func(_, obj any) { p.observe(obj) },
	}); err != nil {
		return nil, fmt.Errorf("watch %T: %w", &v1.ScimUser{}, err)
	}
	for _, obj := range []client.Object{&v1.ScimRole{}, &v1.ScimRoleMembers{}} {
		inf, err := informers.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
		if err != nil {
			return nil, fmt.Errorf("informer of %T: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { p.observeMembers(nil, obj) },
			UpdateFunc: p.observeMembers,
			DeleteFunc: func(obj any) { p.observeMembers(unwrapTombstone(obj), nil) },
		}); err != nil {
			return nil, fmt.Errorf("watch %T: %w", obj, err)
		}
	}
	return p, nil
}

// roleKeyPrefix marks a queued role, whose members are all queued when it is taken from the
// queue: a user's name is an object name, which has no "/".
const roleKeyPrefix = "role/"

// observeMembers queues the users whose groups a role's or a shard's change from old to cur (either
// nil: added, deleted) can change: those it adds or removes, or every member (a role by its key:
// its shards' too) when the change is to the role's displayName, deletion or owners.
func (p *Prerenderer) observeMembers(old, cur any) {
	if old != nil && cur != nil && !v1.MembershipChanged(old, cur) {
		return
	}
	members := func(obj any) []v1.Member {
		switch o := obj.(type) {
		case *v1.ScimRole:
			return o.Spec.Members
		case *v1.ScimRoleMembers:
			return o.Spec.Members
		}
		return nil
	}
	o, c := members(old), members(cur)
	whole := old == nil || cur == nil // added or deleted: its members (a role's shards have events of their own)
	if oo, ok := old.(metav1.Object); ok && !whole {
		co, ok := cur.(metav1.Object)
		whole = !ok || !oo.GetDeletionTimestamp().Equal(co.GetDeletionTimestamp()) ||
			!equality.Semantic.DeepEqual(oo.GetOwnerReferences(), co.GetOwnerReferences())
		or, isRole := old.(*v1.ScimRole)
		if cr, ok := cur.(*v1.ScimRole); isRole && ok && (whole || or.Spec.DisplayName != cr.Spec.DisplayName) {
			p.queue.AddAfter(roleKeyPrefix+cr.Name, p.delay) // and its shards' members
			return
		}
	}
	if whole {
		for _, m := range slices.Concat(o, c) {
			p.queue.AddAfter(m.Value, p.delay)
		}
		return
	}
	before := make(map[string]bool, len(o))
	for _, m := range o {
		before[m.Value] = true
	}
	for _, m := range c {
		if !before[m.Value] {
			p.queue.AddAfter(m.Value, p.delay)
		}
		delete(before, m.Value)
	}
	for name := range before {
		p.queue.AddAfter(name, p.delay)
	}
}

// observe queues the user obj is for a render after the delay; a user already waiting keeps its
// turn (the delaying queue keeps the sooner time), and is rendered as it is then.
func (p *Prerenderer) observe(obj any) {
	if u, ok := obj.(*v1.ScimUser); ok && !v1.IsTerminating(u) {
		p.queue.AddAfter(u.Name, p.delay)
	}
}

// Start renders queued users, one at a time, until ctx ends.
func (p *Prerenderer) Start(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		p.queue.ShutDown()
	}()
	for {
		name, shutdown := p.queue.Get()
		if shutdown {
			return nil
		}
		if role, ok := strings.CutPrefix(name, roleKeyPrefix); ok {
			p.queueMembers(ctx, role)
		} else {
			p.render(ctx, name)
		}
		p.queue.Done(name)
	}
}

// queueMembers queues every member of role, its shards' included, to be rendered now.
func (p *Prerenderer) queueMembers(ctx context.Context, role string) {
	m, err := p.store.readMembership(ctx, role, false)
	if err != nil {
		return // gone: its shards' deletions queue their members
	}
	for _, member := range m.all() {
		p.queue.Add(member.Value)
	}
}

// NeedLeaderElection is false: every replica serves reads.
func (p *Prerenderer) NeedLeaderElection() bool { return false }

// render renders user name as a GET would, unless it is gone or being deleted, or the render cache
// is full and holds no rendering of it (rendering ahead never pushes out a rendering that reads
// use). A user the reads find no roles for yet is rendered as it is; a read renders it again when
// its groups differ.
func (p *Prerenderer) render(ctx context.Context, name string) {
	s := &users{p.store}
	u, err := s.readOnly(ctx, name) // never one being deleted
	if err != nil {
		return
	}
	c := s.renderCache()
	if c.entries.Len() >= c.size {
		if _, ok := c.entries.Get(u.UID); !ok {
			return
		}
	}
	_, _ = s.encoded(ctx, u, renderAhead) // a failed read of the roles leaves the user to its read
}
