// Package store maps SCIM resources to ScimUser and ScimRole objects and talks to the API server.
// Reads come from the manager's informer cache through field indexes; a by-id miss falls back to a
// live read. Writes go to the API server with resourceVersion preconditions and are retried on
// conflict from a live read; after a write the store waits until its cache has observed it, so that a
// client reads its own writes on this replica.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/index"
	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// Write carries what every SCIM write needs besides its body.
type Write struct {
	// Provider is the provider the request came in through; what the write touches is marked with it.
	Provider string
	// IfMatch is the request's If-Match header, or "".
	IfMatch string
	// IgnoreUnknownMembers drops member ids of a Group PATCH that name no user (malformed ones
	// included) instead of answering 404 or 400.
	IgnoreUnknownMembers bool
	// PatchedMembers, when not nil, says that a Group PATCH reads and writes members only by
	// value (adds to members, removals of members[value eq "…"] or of listed values) and names
	// these values: the patch then sees a document holding only those of the group's members, so
	// that its cost does not grow with the group (patch.Request.MemberValues).
	PatchedMembers []string
}

// Resource is a SCIM resource as served: its document, version and location.
type Resource struct {
	// ID is the resource's SCIM id (object name).
	ID string
	// Doc is the SCIM JSON document, attribute names in canonical case. It is nil from GetEncoded,
	// and for the result of a PATCH of members by value (Write.PatchedMembers) of a group whose
	// members are sharded: rendering its thousands of members for every PATCH would make each cost
	// the size of the group, so the server answers 204 (RFC 7644 §3.5.2), or reads the group when
	// the request asks for attributes.
	Doc map[string]any
	// JSON is the full representation encoded (EncodeJSON), set by GetEncoded and PageEncoded
	// only. Shared with the render cache: read-only.
	JSON []byte
	// Version is the weak ETag (W/"<resourceVersion>").
	Version string
	// Location is the resource's URL relative to its provider's base URL ("Users/a-…"), as the
	// document's meta.location holds it.
	Location string
}

// Resources is the SCIM view of one resource type. Users and Groups implement it, so that one request
// pipeline serves both.
type Resources interface {
	// Type is the resource type served.
	Type() *schema.ResourceType
	// Get returns the resource with id.
	Get(ctx context.Context, id string) (*Resource, error)
	// GetEncoded returns the resource with id with its full representation encoded in JSON
	// instead of Doc, what a GET without attributes or excludedAttributes answers.
	GetEncoded(ctx context.Context, id string) (*Resource, error)
	// List returns every resource, or with a non-nil eq only those an index finds for it, in id order.
	List(ctx context.Context, eq *Equality) ([]*Resource, error)
	// ListEncoded is List for an equality filter's lookup: each resource with its full
	// representation encoded in JSON (users: from the render cache) and a Doc that may hold only
	// the attributes an Equality compares (id, userName, externalId, displayName), for the filter
	// to decide on.
	ListEncoded(ctx context.Context, eq *Equality) ([]*Resource, error)
	// Page returns the count resources from the 0-based offset of every resource in id order (fewer
	// at the end), and the number of resources there are: what List and paging give, without
	// rendering the resources outside the page.
	Page(ctx context.Context, offset, count int) ([]*Resource, int, error)
	// PageEncoded is Page with each resource's full representation encoded in JSON instead of
	// Doc, what a page without attributes or excludedAttributes answers (users: from the render
	// cache).
	PageEncoded(ctx context.Context, offset, count int) ([]*Resource, int, error)
	// Create creates a resource from a canonical document.
	Create(ctx context.Context, w Write, doc map[string]any) (*Resource, error)
	// Replace replaces the SCIM-owned attributes of resource id with a canonical document.
	Replace(ctx context.Context, w Write, id string, doc map[string]any) (*Resource, error)
	// Patch applies patch to the document of resource id; it reports whether the document changed.
	// patch leaves the document canonical, as Create and Replace receive theirs.
	Patch(ctx context.Context, w Write, id string, patch func(doc map[string]any) (bool, error)) (*Resource, bool, error)
	// Delete deletes resource id.
	Delete(ctx context.Context, w Write, id string) error
}

// Equality is a filter `attribute eq "value"` that an index serves.
type Equality struct {
	// Attribute is the canonical attribute name: id, userName, externalId or displayName.
	Attribute string
	// Value is the value compared with.
	Value string
}

// Store holds what both resource types share: the cache-backed client and the live reader.
type Store struct {
	// Client reads from the informer cache and writes to the API server.
	Client client.Client
	// Live reads from the API server, for cache misses and conflict retries.
	Live client.Reader
	// CacheWait bounds how long a write waits for the cache to observe it (default 2s).
	CacheWait time.Duration
	// WriteTimeout bounds each write's calls to the API server (default DefaultWriteTimeout). A
	// write past it is answered as unavailable (503): the API server may have applied it or not,
	// and a retry settles which — a create that was applied is then taken (409), a PATCH
	// applies as once. It also bounds a read's fallback to the API server on a cache miss
	// (liveGet).
	WriteTimeout time.Duration
	// InlineMembers is the most members a role lists itself (default DefaultInlineMembers); a
	// group's members beyond go into ScimRoleMembers shards of MembersPerShard each (default and
	// most v1.MaxMembersPerShard). See shards.go.
	InlineMembers, MembersPerShard int
	// RenderCacheSize is how many encoded resources GetEncoded keeps (default
	// DefaultRenderCacheSize).
	RenderCacheSize int
	// Direct, when set, reads users and the roles of a user from the informers' indexers
	// themselves (index.NewDirect) instead of through Client.
	Direct *index.Direct

	// writes queues this replica's writes to one object (see objectLocks).
	writes objectLocks
	// order holds the names of users and roles in order (IndexOrder).
	order orders
	// rendered is the render cache of GetEncoded.
	rendered renderCache
	// memberships counts the changes to roles and shards (rendered.go).
	memberships membershipClock
}

// Users returns the Users view of the store.
func (s *Store) Users() Resources { return s.bounded(&users{s}) }

// Groups returns the Groups view of the store.
func (s *Store) Groups() Resources { return s.bounded(&groups{s}) }

// DefaultWriteTimeout is Store.WriteTimeout's default: well within what IdPs wait for an answer
// (Entra ID requires one within 60 s,
// https://learn.microsoft.com/en-us/answers/questions/1151866/azure-ad-scim-attempting-to-create-the-same-user-r;
// Okta's connector timeout is 30 s at least,
// https://help.okta.com/en-us/Content/Topics/Provisioning/opp/opp-api-timeout.htm), so that the
// IdP hears a 503 and retries rather than timing out itself, not knowing what happened.
const DefaultWriteTimeout = 10 * time.Second

// bounded returns r with each write's context limited to WriteTimeout.
func (s *Store) bounded(r Resources) Resources { return boundedWrites{Resources: r, store: s} }

// boundedWrites limits each write of the Resources it wraps to its store's WriteTimeout. A write
// cut off by it fails as unavailable, saying that it may have been applied.
type boundedWrites struct {
	Resources
	store *Store
}

// withTimeout returns ctx limited to the write timeout, and the timeout.
func (b boundedWrites) withTimeout(ctx context.Context) (context.Context, context.CancelFunc, time.Duration) {
	timeout := b.store.writeTimeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, cancel, timeout
}

func (b boundedWrites) Create(ctx context.Context, w Write, doc map[string]any) (*Resource, error) {
	ctx, cancel, timeout := b.withTimeout(ctx)
	defer cancel()
	r, err := b.Resources.Create(ctx, w, doc)
	return r, timedOut(ctx, timeout, err)
}

func (b boundedWrites) Replace(ctx context.Context, w Write, id string, doc map[string]any) (*Resource, error) {
	ctx, cancel, timeout := b.withTimeout(ctx)
	defer cancel()
	r, err := b.Resources.Replace(ctx, w, id, doc)
	return r, timedOut(ctx, timeout, err)
}

func (b boundedWrites) Patch(ctx context.Context, w Write, id string, patch func(doc map[string]any) (bool, error)) (*Resource, bool, error) {
	ctx, cancel, timeout := b.withTimeout(ctx)
	defer cancel()
	r, changed, err := b.Resources.Patch(ctx, w, id, patch)
	return r, changed, timedOut(ctx, timeout, err)
}

func (b boundedWrites) Delete(ctx context.Context, w Write, id string) error {
	ctx, cancel, timeout := b.withTimeout(ctx)
	defer cancel()
	return timedOut(ctx, timeout, b.Resources.Delete(ctx, w, id))
}

// timedOut turns an error of a write whose context ran out into an UnavailableError that says so;
// a SCIM error the write decided on (a 404, a 409) stays as it is.
func timedOut(ctx context.Context, timeout time.Duration, err error) error {
	if err == nil || scimerror.As(err) != nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	var unavailable *UnavailableError
	if errors.As(err, &unavailable) {
		err = unavailable.Err
	}
	return &UnavailableError{Err: err, TimedOut: timeout}
}

// users serves SCIM Users as ScimUsers.
type users struct{ *Store }

// groups serves SCIM Groups as ScimRoles.
type groups struct{ *Store }

// get reads obj named id from the cache (with opts: client.UnsafeDisableDeepCopy for a read-only
// copy), falling back to a live read on a miss. An object being
// deleted is not found: to SCIM it is gone (its finalizer only holds the name until the operator has
// removed what it granted).
func (s *Store) get(ctx context.Context, id string, obj client.Object, opts ...client.GetOption) error {
	if err := validID(id); err != nil {
		return err
	}
	key := client.ObjectKey{Name: id}
	err := s.Client.Get(ctx, key, obj, opts...)
	if apierrors.IsNotFound(err) {
		err = s.liveGet(ctx, key, obj)
	}
	return notTerminating(err, obj)
}

// liveGet reads obj from the API server within the write timeout: a read that misses the cache
// (an object created on another replica, or an informer still behind after the API server came
// back) waits no longer on a hung API server than a write does, and is answered 503 to retry.
func (s *Store) liveGet(ctx context.Context, key client.ObjectKey, obj client.Object) error {
	timeout := s.writeTimeout()
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := s.Live.Get(lctx, key, obj)
	var status apierrors.APIStatus
	if err != nil && !errors.As(err, &status) && ctx.Err() == nil && errors.Is(lctx.Err(), context.DeadlineExceeded) {
		return Unavailable(fmt.Errorf("the API server did not answer a read of %s within %s: %w", key.Name, timeout, err))
	}
	return err
}

// writeTimeout is WriteTimeout or its default.
func (s *Store) writeTimeout() time.Duration {
	if s.WriteTimeout <= 0 {
		return DefaultWriteTimeout
	}
	return s.WriteTimeout
}

// getLive reads obj named id from the API server; an object being deleted is not found, as in get.
func (s *Store) getLive(ctx context.Context, id string, obj client.Object) error {
	return notTerminating(s.Live.Get(ctx, client.ObjectKey{Name: id}, obj), obj)
}

// notTerminating turns a successful read of an object being deleted into NotFound.
func notTerminating(err error, obj client.Object) error {
	if err == nil && v1.IsTerminating(obj) {
		return apierrors.NewNotFound(schemaGroupResource(obj), obj.GetName())
	}
	return err
}

// schemaGroupResource names obj's resource for NotFound errors.
func schemaGroupResource(obj client.Object) kschema.GroupResource {
	if _, ok := obj.(*v1.ScimRole); ok {
		return v1.GroupVersion.WithResource("scimroles").GroupResource()
	}
	return v1.GroupVersion.WithResource("scimusers").GroupResource()
}

// waitForCache waits until the cache holds obj at its resourceVersion or later (deleted: gone), so
// that reads after a write see it, and reports whether it does. It checks every 5ms and, once
// IndexOrder's handlers have synced, also at each event of the kind's informer. It gives up after
// CacheWait: the by-id fallback to a live read still holds then.
func (s *Store) waitForCache(ctx context.Context, obj client.Object, deleted bool) bool {
	timeout := s.CacheWait
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	if isMembership(obj) {
		// Once the cache holds the write (or the wait gives up), before the write is answered.
		defer s.memberships.changed()
	}
	probe := obj.DeepCopyObject().(client.Object)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	o := s.orderOf(obj)
	done := func() bool {
		// Only read: the cache's copy, not a deep copy of it (a role can hold thousands of members).
		err := s.Client.Get(ctx, client.ObjectKeyFromObject(obj), probe, client.UnsafeDisableDeepCopy)
		if deleted {
			return apierrors.IsNotFound(err) || (err == nil && probe.GetUID() != obj.GetUID())
		}
		if err != nil {
			return false
		}
		// Lists page through the order of names, which follows the cache: it must hold the object
		// too (unless it is being deleted meanwhile, which leaves it out).
		if o != nil && !o.has(obj.GetName()) && !v1.IsTerminating(probe) {
			return false
		}
		return probe.GetResourceVersion() == obj.GetResourceVersion() || newerThan(probe, obj)
	}
	// Checked again at each event of the informer, or every 5ms without one to wake on.
	var changed <-chan struct{}
	for {
		if o != nil {
			changed = o.changed.wait() // before the check: an event during it wakes the next wait
		}
		if done() {
			return true
		}
		select {
		case <-changed:
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return false
		}
	}
}

// newerThan reports whether a has a later resourceVersion than b. resourceVersions are opaque in
// general, but etcd's are increasing integers; an unparsable one is treated as not newer.
func newerThan(a, b client.Object) bool {
	var x, y uint64
	if _, err := fmt.Sscan(a.GetResourceVersion(), &x); err != nil {
		return false
	}
	if _, err := fmt.Sscan(b.GetResourceVersion(), &y); err != nil {
		return false
	}
	return x > y
}

// updateObject reads object id into obj, applies mutate, checks the result with validate and writes
// it with a resourceVersion precondition; on conflict it starts again from a live read, so that no
// concurrent write is lost. It writes nothing when mutate changes nothing, and waits for the cache
// to observe what it wrote.
func updateObject[T client.Object](ctx context.Context, s *Store, w Write, id string, obj T,
	mutate func(T) error, validate func(before, after T) error) error {
	// Lock order: a role before the users it marks (groups' mutate touches users), never back.
	defer s.writes.lock(fmt.Sprintf("%T/%s", obj, id))()
	live := false
	err := retry.OnError(conflictBackoff, func(err error) bool { return apierrors.IsConflict(err) || err == errDecideLive }, func() error {
		fromCache := !live
		var err error
		if live {
			err = s.getLive(ctx, id, obj)
		} else {
			err = s.get(ctx, id, obj)
		}
		live = true
		if err != nil {
			return err
		}
		if err := checkIfMatch(w.IfMatch, version(obj)); err != nil {
			if fromCache {
				return errDecideLive // the cache may be behind the version the client holds
			}
			return err
		}
		before := obj.DeepCopyObject().(T)
		if err := mutate(obj); err != nil {
			return err
		}
		if err := validate(before, obj); err != nil {
			return err
		}
		if equality.Semantic.DeepEqual(before, obj) {
			if fromCache {
				// Nothing to write according to the cache, which may miss another replica's write
				// that this request would undo: decide on the stored object.
				return errDecideLive
			}
			return nil
		}
		if err := s.Client.Update(ctx, obj); err != nil {
			return err
		}
		s.waitForCache(ctx, obj, false)
		return nil
	})
	return apiError(err, "Resource "+id)
}

// deleteObject deletes object id (read into obj) after beforeDelete, honouring If-Match; a mismatch
// found in the cache is decided on a live read, as in updateObject.
func deleteObject[T client.Object](ctx context.Context, s *Store, w Write, id string, obj T, beforeDelete func() error) error {
	if err := s.get(ctx, id, obj); err != nil {
		return apiError(err, "Resource "+id)
	}
	if checkIfMatch(w.IfMatch, version(obj)) != nil {
		if err := s.getLive(ctx, id, obj); err != nil {
			return apiError(err, "Resource "+id)
		}
		if err := checkIfMatch(w.IfMatch, version(obj)); err != nil {
			return err
		}
	}
	if err := beforeDelete(); err != nil {
		return err
	}
	uid := obj.GetUID()
	if err := s.Client.Delete(ctx, obj, client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) {
		return apiError(err, "Resource "+id)
	}
	s.waitForCache(ctx, obj, true)
	return nil
}

// errDecideLive makes updateObject read the stored object and decide again.
var errDecideLive = errors.New("decide on a live read")

// checkIfMatch enforces an If-Match precondition against current, a resource's version.
func checkIfMatch(ifMatch, current string) error {
	if ifMatch == "" || ifMatch == "*" {
		return nil
	}
	for _, tag := range strings.Split(ifMatch, ",") {
		tag = strings.TrimSpace(tag)
		if tag == current || "W/"+tag == current {
			return nil
		}
	}
	return scimerror.New(http.StatusPreconditionFailed, "", "If-Match %s does not match the resource's version %s", ifMatch, current)
}

// version is obj's ETag: its resourceVersion, quoted, as a weak validator. An API server's
// resourceVersions are digits, which quote as themselves (one concatenation: a GET serves it, the
// render cache does not keep it); anything else is quoted with its escapes.
func version(obj client.Object) string {
	rv := obj.GetResourceVersion()
	if strings.IndexFunc(rv, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
		return `W/"` + rv + `"`
	}
	return fmt.Sprintf("W/%q", rv)
}

// validID returns 404 for ids that cannot name an object: nothing can exist there.
func validID(id string) error {
	if len(validation.IsDNS1123Subdomain(id)) > 0 {
		return scimerror.NotFound("Resource %s not found.", id)
	}
	return nil
}

// deterministicID returns the id a new resource named name gets on attempt n: prefix + 16 hex digits
// of a hash of the name's identity key (v1.IdentityKey). Replicas racing to create the same userName
// (or role displayName), in whatever case or compatibility form, compute the same id, so the API
// server admits only one of them; attempt n > 0 probes past an id taken by a resource that has since
// been renamed.
func deterministicID(prefix, name string, n int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d", v1.IdentityKey(name), n)))
	return prefix + hex.EncodeToString(h[:8])
}

// conflictBackoff paces retries of a write that lost a race: many writers of one busy role (an IdP
// pushing members in parallel, on several replicas) must all get through.
var conflictBackoff = wait.Backoff{Steps: 40, Duration: 5 * time.Millisecond, Factor: 1.5, Jitter: 1.0, Cap: 500 * time.Millisecond}

// userPrefix and rolePrefix start server-generated user and role ids, as StrongDM's do.
const (
	userPrefix = "a-"
	rolePrefix = "r-"
)

// maxIDProbes bounds deterministicID's probing.
const maxIDProbes = 16

// createWithID creates a new object under the first id of name's deterministic sequence that is
// free. An id held by an object whose name (nameOf) has the same identity key means the name is
// taken: a concurrent create on another replica, or a plain duplicate; an id held by another name
// (renamed since) is probed past. prepare fills the object in once its id is known to be free.
//
// Whether an id is free is decided on a live read — unless the cache does not hold it and
// confirm (nil: never) does not ask for one: prepare then writes nothing, so the create itself
// tells, its AlreadyExists sending the id to a live read. A new object's create is one request to
// the API server, not two. confirm returns true when prepare would write for the id (a user's
// stale memberships), which must not happen for an id that turns out to be taken.
func createWithID[T client.Object](ctx context.Context, s *Store, prefix, name string, newObject func() T,
	nameOf func(existing T) string, confirm func(id string) (bool, error), prepare func(obj T) error) (T, error) {
	var none T
	key := v1.IdentityKey(name)
	decideLive := false
	for n := 0; n < maxIDProbes; n++ {
		id := deterministicID(prefix, name, n)
		existing := newObject()
		live := decideLive
		if !live {
			err := s.Client.Get(ctx, client.ObjectKey{Name: id}, existing)
			switch {
			case err == nil:
				live = true
			case !apierrors.IsNotFound(err):
				return none, apiError(err, "Resource "+id)
			case confirm != nil:
				if live, err = confirm(id); err != nil {
					return none, err
				}
			}
		}
		decideLive = false
		if live {
			err := s.Live.Get(ctx, client.ObjectKey{Name: id}, existing)
			if err == nil {
				// An id held by an object being deleted is probed past like a renamed one: its
				// finalizer keeps the id until what it granted is gone.
				if v1.IdentityKey(nameOf(existing)) == key && !v1.IsTerminating(existing) {
					// Found live, perhaps before the cache (a create that timed out and was
					// applied, retried): the client that hears 409 looks the name up next, and a
					// filter must find it.
					if !s.waitForCache(ctx, existing, false) {
						// Still behind (a watch re-established after an outage): a 409 now would
						// name a user no lookup finds. Retry, and the 409 comes with the user.
						return none, &UnavailableError{Err: fmt.Errorf("%q is taken by %s, which this replica's cache does not hold yet", name, id)}
					}
					return none, scimerror.Conflict("One or more of the attribute values are already in use or are reserved: %q is taken.", name)
				}
				continue
			}
			if !apierrors.IsNotFound(err) {
				return none, apiError(err, "Resource "+id)
			}
		}
		obj := newObject()
		obj.SetName(id)
		v1.AddFinalizerAccess(obj)
		if err := prepare(obj); err != nil {
			return none, err
		}
		err := s.Client.Create(ctx, obj)
		if apierrors.IsAlreadyExists(err) {
			n-- // taken, a moment ago or before the cache saw it: decide on the same id, live
			decideLive = true
			continue
		}
		if err != nil {
			return none, apiError(err, "Resource "+id)
		}
		s.waitForCache(ctx, obj, false)
		return obj, nil
	}
	return none, scimerror.Conflict("no free id for %q", name)
}

// apiError maps an error from the API server to a SCIM error: client mistakes the API server found
// keep their meaning, an unreachable or overloaded API server is 503 with Retry-After.
func apiError(err error, what string) error {
	if err == nil || scimerror.As(err) != nil {
		return err
	}
	switch {
	case apierrors.IsNotFound(err):
		return scimerror.NotFound("%s not found.", what)
	case apierrors.IsAlreadyExists(err):
		return scimerror.Conflict("One or more of the attribute values are already in use or are reserved.")
	case apierrors.IsConflict(err):
		// Every conflict retry lost a race with other replicas: a later attempt can win, so this is
		// a 503 to retry, not a 409, which tells an IdP (Okta) to stop its job.
		return Unavailable(fmt.Errorf("%s was changed concurrently too often: %w", what, err))
	case isTooLarge(err):
		return scimerror.New(http.StatusRequestEntityTooLarge, "", "%s is too large to store: %s", what, apiMessage(err))
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return scimerror.BadRequest(scimerror.InvalidValue, "%s", apiMessage(err))
	case apierrors.IsForbidden(err):
		// The operator itself was refused, not the IdP: its RBAC is missing, or the API server
		// has just started and answers before its RBAC informers have synced (its /readyz still
		// fails then), which a fault test sees after every restart. Neither is the client's
		// mistake; a retry cures the second.
		return Unavailable(fmt.Errorf("the API server refused the operator: %w", err))
	}
	return Unavailable(err)
}

// isTooLarge reports whether the API server refused a write for its size, its own limit (413) or
// etcd's ("etcdserver: request is too large", passed on as an internal error): no retry cures that.
func isTooLarge(err error) bool {
	return apierrors.IsRequestEntityTooLargeError(err) || strings.Contains(apiMessage(err), "request is too large")
}

// Unavailable wraps an error reaching the API server as a 503.
func Unavailable(err error) error {
	return &UnavailableError{Err: err}
}

// UnavailableError is an error reaching the API server; the HTTP layer answers 503 with Retry-After.
type UnavailableError struct {
	Err error
	// TimedOut is the write timeout when the API server did not answer within it: the write may
	// have been applied nonetheless.
	TimedOut time.Duration
}

func (e *UnavailableError) Error() string {
	if e.TimedOut > 0 {
		return fmt.Sprintf("API server did not answer within %s: %v", e.TimedOut, e.Err)
	}
	return "API server unavailable: " + e.Err.Error()
}
func (e *UnavailableError) Unwrap() error { return e.Err }

func apiMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Message
	}
	return err.Error()
}
