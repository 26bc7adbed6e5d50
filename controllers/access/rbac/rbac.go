// Package rbac is the Kubernetes RBAC access system. Each grant of a ScimRole becomes one
// ClusterRoleBinding (cluster-wide) or RoleBinding (in a namespace) whose subjects are the role's
// active members as User subjects — or several bindings of at most Options.MaxSubjects subjects
// each. The bindings carry the identity.scim-operator.io/role label and a controller owner
// reference to their role; the system deletes those its role no longer needs itself, since the
// garbage collector may be slow or absent.
//
// With Options.Shared, every role that grants the same role in the same scope shares one set of
// bindings instead (shared.go): their subjects are the union of the active members of all those
// roles, the role label is empty and the identity.scim-operator.io/grant label names the grant.
package rbac

import (
	"context"
	"fmt"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
	"github.com/scim-operator/scim-operator/internal/compact"
)

// The operator's permissions on bindings. Binding a role additionally needs the bind verb on it
// (or holding all its permissions); see config/rbac for the roles the operator may bind.
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterrolebindings;rolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames=view;edit;admin

// DefaultMaxSubjects is the default of Options.MaxSubjects.
const DefaultMaxSubjects = 1000

// indexRole indexes the bindings by the value of their LabelRole label.
const indexRole = "metadata.labels.role"

// Options configure the RBAC access system.
type Options struct {
	// UserPrefix is prepended to each userName to form the User subject, to match the API server's
	// --oidc-username-prefix.
	UserPrefix string
	// MaxSubjects is the largest number of subjects in one binding (default DefaultMaxSubjects).
	MaxSubjects int
	// Shared projects every role that grants the same role in the same scope onto one set of
	// bindings holding the union of their active members, instead of a set per role.
	Shared bool
	// Members returns the userNames of the active members of role, as Apply receives them. The
	// shared layout reads it for every role that grants what it applies; required when Shared.
	Members func(ctx context.Context, role *identityv1alpha1.ScimRole) ([]string, error)
}

// System projects ScimRoles onto Kubernetes RBAC. It implements access.System.
type System struct {
	client client.Client
	live   client.Reader
	cache  cache.Cache
	scheme *runtime.Scheme
	opts   Options
	shared sharedState
}

var _ access.System = &System{}

// New returns the RBAC access system of mgr and registers the field indexes it reads through.
func New(ctx context.Context, mgr ctrl.Manager, opts Options) (*System, error) {
	if opts.MaxSubjects <= 0 {
		opts.MaxSubjects = DefaultMaxSubjects
	}
	if opts.Shared && opts.Members == nil {
		return nil, fmt.Errorf("the shared binding layout needs Options.Members")
	}
	indexer := mgr.GetFieldIndexer()
	for _, obj := range []client.Object{&rbacv1.ClusterRoleBinding{}, &rbacv1.RoleBinding{}} {
		if err := indexer.IndexField(ctx, obj, indexRole, roleLabelOf); err != nil {
			return nil, fmt.Errorf("index %T by role label: %w", obj, err)
		}
		if err := indexer.IndexField(ctx, obj, indexGrant, grantOfShared); err != nil {
			return nil, fmt.Errorf("index %T by grant: %w", obj, err)
		}
		if err := indexer.IndexField(ctx, obj, indexSubject, subjectsOfShared); err != nil {
			return nil, fmt.Errorf("index %T by subject: %w", obj, err)
		}
	}
	if err := indexer.IndexField(ctx, &identityv1alpha1.ScimRole{}, indexRoleGrant, grantsOfRole); err != nil {
		return nil, fmt.Errorf("index ScimRoles by grant: %w", err)
	}
	s := &System{
		client: mgr.GetClient(),
		live:   mgr.GetAPIReader(),
		cache:  mgr.GetCache(),
		scheme: mgr.GetScheme(),
		opts:   opts,
		shared: newSharedState(),
	}
	// Once, as the leader starts: shared bindings of grants no role declares any more (left by a
	// run with the other layout, or by a role deleted while the operator was down) go.
	if err := mgr.Add(sweeper{s}); err != nil {
		return nil, fmt.Errorf("add the shared binding sweep: %w", err)
	}
	return s, nil
}

// CacheByObject restricts the manager's cache of bindings to those that carry the LabelRole label,
// i.e. to the operator's own. Pass it as cache.Options.ByObject; the system works without it, at
// the cost of caching every binding of the cluster.
func CacheByObject() map[client.Object]cache.ByObject {
	req, err := labels.NewRequirement(identityv1alpha1.LabelRole, selection.Exists, nil)
	if err != nil {
		panic(err) // unreachable: the requirement is constant and valid
	}
	selector := labels.NewSelector().Add(*req)
	// Bindings are cached without their managedFields (a role's subjects, listed again in them):
	// nothing reads them, and an Update without managedFields leaves them as they are.
	return map[client.Object]cache.ByObject{
		&rbacv1.ClusterRoleBinding{}: {Label: selector, Transform: cacheTransform},
		&rbacv1.RoleBinding{}:        {Label: selector, Transform: cacheTransform},
	}
}

// cacheTransform strips a binding's managedFields, drops the room the decoder left in its list of
// subjects (compact.Clip: up to 6,384 subjects' worth for a role of 10,000 members) and shares its
// subjects' constant strings.
func cacheTransform(obj any) (any, error) {
	obj, err := cache.TransformStripManagedFields()(obj)
	switch b := obj.(type) {
	case *rbacv1.ClusterRoleBinding:
		b.Subjects = compact.Clip(b.Subjects)
		shareSubjectConstants(b.Subjects)
	case *rbacv1.RoleBinding:
		b.Subjects = compact.Clip(b.Subjects)
		shareSubjectConstants(b.Subjects)
	}
	return obj, err
}

// shareSubjectConstants makes each subject's kind and API group, when they are the ones the
// operator writes, the program's constants instead of copies of their own: decoded, every one of
// a group's 100,000 subjects carries "User" and "rbac.authorization.k8s.io" again (about 40 bytes
// each, 9 MB of the cache at 250,000 memberships). Equal strings, so nothing else changes.
func shareSubjectConstants(subjects []rbacv1.Subject) {
	for i := range subjects {
		s := &subjects[i]
		if s.Kind == rbacv1.UserKind {
			s.Kind = rbacv1.UserKind
		}
		if s.APIGroup == rbacv1.GroupName {
			s.APIGroup = rbacv1.GroupName
		}
	}
}

func roleLabelOf(obj client.Object) []string {
	if v := obj.GetLabels()[identityv1alpha1.LabelRole]; v != "" {
		return []string{v}
	}
	return nil
}

// Apply makes every grant of role effective for exactly users and deletes the bindings the role no
// longer needs. Within a grant it writes the bindings in index order before deleting any, so that
// merging bindings never takes access away from a remaining member.
func (s *System) Apply(ctx context.Context, role *identityv1alpha1.ScimRole, users []string) (access.Result, error) {
	if s.opts.Shared {
		return s.applyShared(ctx, role, users)
	}
	result, err := s.applyOwn(ctx, role, users)
	if err != nil {
		return result, err
	}
	// Shared bindings of the role's grants, from a run with the shared layout, go once the role's
	// own hold its members (grant by grant: not those of a grant that failed).
	deleted, err := s.deleteSharedOf(ctx, slices.DeleteFunc(access.GrantsOf(role.Spec.Access), func(g access.Grant) bool { return failed(result, g) }))
	result.Changed = result.Changed || deleted
	return result, err
}

// applyOwn is Apply in the layout of a binding set per role.
func (s *System) applyOwn(ctx context.Context, role *identityv1alpha1.ScimRole, users []string) (access.Result, error) {
	owned, err := s.bindingsOf(ctx, role.Name)
	if err != nil {
		return access.Result{}, err
	}
	byGrant := map[access.Grant][]binding{}
	for _, b := range owned {
		byGrant[b.grant()] = append(byGrant[b.grant()], b)
	}
	var result access.Result
	grants := access.GrantsOf(role.Spec.Access)
	for _, g := range grants {
		desired := func(name string, members []string) (binding, error) { return s.desired(role, g, name, members) }
		refs, err := s.applyGrant(ctx, baseName(role.Name, g), g, users, byGrant[g], desired, &result.Changed)
		result.Bindings = append(result.Bindings, refs...)
		if err != nil {
			result.Failures = append(result.Failures, access.Failure{Grant: g, Forbidden: apierrors.IsForbidden(err), Err: err})
		}
	}
	for g, stale := range byGrant {
		if slices.Contains(grants, g) {
			continue
		}
		result.Changed = true
		if err := s.deleteAll(ctx, stale); err != nil {
			return result, fmt.Errorf("delete bindings of %s, no longer granted by role %s: %w", g, role.Name, err)
		}
	}
	return result, nil
}

// applyGrant writes the bindings of one grant, named base-<index> and built by desired, to hold
// users, and deletes those of existing that are no longer needed. It returns the bindings the grant
// holds. It notes in changed whether it wrote anything.
func (s *System) applyGrant(ctx context.Context, base string, g access.Grant, users []string, existing []binding,
	desired func(name string, members []string) (binding, error), changed *bool) ([]identityv1alpha1.BindingReference, error) {
	byIndex := map[int]binding{}
	var extra []binding
	for _, b := range existing {
		if i, ok := indexOf(base, b.GetName()); ok {
			byIndex[i] = b
		} else {
			extra = append(extra, b)
		}
	}
	current := make([][]string, len(byIndex))
	for i, b := range byIndex {
		if i < len(current) {
			current[i] = usersIn(*b.subjects, s.opts.UserPrefix)
		}
	}
	var refs []identityv1alpha1.BindingReference
	planned := spread(current, users, s.opts.MaxSubjects)
	for i, members := range planned {
		want, err := desired(bindingName(base, i), members)
		if err != nil {
			return refs, err
		}
		cached, ok := byIndex[i]
		wrote, err := s.write(ctx, cached, ok, want)
		*changed = *changed || wrote
		if err != nil {
			return refs, fmt.Errorf("write %s %s: %w", want.kind(), want.GetName(), err)
		}
		refs = append(refs, want.ref())
		delete(byIndex, i)
	}
	for _, b := range byIndex {
		extra = append(extra, b)
	}
	*changed = *changed || len(extra) > 0
	return refs, s.deleteAll(ctx, extra)
}

// desired is the binding at name of grant g of role, holding members.
func (s *System) desired(role *identityv1alpha1.ScimRole, g access.Grant, name string, members []string) (binding, error) {
	b := newBinding(g, name)
	b.SetLabels(map[string]string{identityv1alpha1.LabelRole: RoleLabelValue(role.Name)})
	*b.subjects = subjectsFor(members, s.opts.UserPrefix)
	if err := controllerutil.SetControllerReference(role, b.Object, s.scheme); err != nil {
		return b, fmt.Errorf("set owner of binding %s: %w", name, err)
	}
	return b, nil
}

// write makes the binding want exist as desired; cached is what the cache holds under its name,
// when found. It reports whether it wrote.
func (s *System) write(ctx context.Context, cached binding, found bool, want binding) (bool, error) {
	if !found {
		err := s.client.Create(ctx, want.Object)
		if !apierrors.IsAlreadyExists(err) {
			s.shared.wrote(want, err)
			return err == nil, err
		}
		// The binding exists without our label (someone removed it), so the cache does not see it.
		live := newBinding(want.grant(), want.GetName())
		if err := s.live.Get(ctx, client.ObjectKeyFromObject(want), live.Object); err != nil {
			return false, err
		}
		cached = live
	}
	if *cached.roleRef != *want.roleRef {
		// roleRef is immutable: replace the binding.
		if err := s.client.Delete(ctx, cached.Object, client.Preconditions{UID: new(cached.GetUID())}); client.IgnoreNotFound(err) != nil {
			return false, err
		}
		err := s.client.Create(ctx, want.Object)
		s.shared.wrote(want, err)
		return true, err
	}
	updated, changed := merged(cached, want)
	if !changed {
		return false, nil
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Updating binding", "kind", want.kind(), "namespace", want.GetNamespace(), "name", want.GetName(), "subjects", len(*want.subjects))
	// The update carries the cached resourceVersion: a conflict means the cache is behind, and the
	// reconcile is retried.
	err := s.client.Update(ctx, updated.Object)
	s.shared.wrote(updated, err)
	if apierrors.IsForbidden(err) {
		// The operator may no longer bind the role, so it cannot keep the subjects right, e.g.
		// remove a suspended user: it removes the binding rather than leave access it cannot revoke.
		if delErr := s.deleteAll(ctx, []binding{cached}); delErr != nil {
			return false, fmt.Errorf("%w; and removing the binding failed: %w", err, delErr)
		}
	}
	return true, err
}

// merged returns cached changed to hold what want holds — its subjects, our labels and our owner
// reference (a shared binding has none: no controller) — keeping what others added to its
// metadata, and whether anything changed.
func merged(cached, want binding) (binding, bool) {
	out := cached.deepCopy()
	labels := out.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range want.GetLabels() {
		labels[k] = v
	}
	out.SetLabels(labels)
	var owner []metav1.OwnerReference
	var uid types.UID
	if refs := want.GetOwnerReferences(); len(refs) > 0 {
		owner, uid = refs[:1], refs[0].UID
	}
	refs := slices.DeleteFunc(out.GetOwnerReferences(), func(r metav1.OwnerReference) bool {
		return r.UID == uid || (r.Controller != nil && *r.Controller)
	})
	out.SetOwnerReferences(append(refs, owner...))
	*out.subjects = *want.subjects
	changed := !equality.Semantic.DeepEqual(cached.GetLabels(), out.GetLabels()) ||
		!equality.Semantic.DeepEqual(cached.GetOwnerReferences(), out.GetOwnerReferences()) ||
		!equality.Semantic.DeepEqual(*cached.subjects, *out.subjects)
	return out, changed
}

// deleteAll deletes bindings, skipping those already gone.
func (s *System) deleteAll(ctx context.Context, bindings []binding) error {
	for _, b := range bindings {
		ctrl.LoggerFrom(ctx).V(1).Info("Deleting binding", "kind", b.kind(), "namespace", b.GetNamespace(), "name", b.GetName())
		if err := s.client.Delete(ctx, b.Object, client.Preconditions{UID: new(b.GetUID())}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete %s %s: %w", b.kind(), client.ObjectKeyFromObject(b), err)
		}
	}
	return nil
}

// Revoke deletes every binding of the role named role. The shared grants it may have contributed to
// are applied again without it (it is gone or being deleted).
func (s *System) Revoke(ctx context.Context, role string) error {
	owned, err := s.bindingsOf(ctx, role)
	if err != nil {
		return err
	}
	if err := s.deleteAll(ctx, owned); err != nil {
		return err
	}
	return s.reapplyShared(ctx, role)
}

// Holds reports which grants of role the User subject of user is in.
func (s *System) Holds(ctx context.Context, role *identityv1alpha1.ScimRole, user string) (access.Holding, error) {
	owned, err := s.bindingsOf(ctx, role.Name)
	if err != nil {
		return access.Holding{}, err
	}
	subject := userSubject(identityv1alpha1.SubjectName(s.opts.UserPrefix, user))
	held := map[access.Grant]bool{}
	var h access.Holding
	for _, b := range owned {
		if g := b.grant(); !held[g] && b.holds(subject) {
			held[g] = true
			h.Held = append(h.Held, g)
		}
	}
	// A shared binding holds the grant for the user whichever of its roles made it a subject.
	shared, err := s.sharedHolding(ctx, subject.Name)
	if err != nil {
		return access.Holding{}, err
	}
	grants := access.GrantsOf(role.Spec.Access)
	for _, b := range shared {
		if g := b.grant(); !held[g] && slices.Contains(grants, g) {
			held[g] = true
			h.Held = append(h.Held, g)
		}
	}
	for _, g := range grants {
		if !held[g] {
			h.Missing = append(h.Missing, g)
		}
	}
	return h, nil
}

// bindingsOf returns the bindings of the role named role, as the cache holds them: read-only.
func (s *System) bindingsOf(ctx context.Context, role string) ([]binding, error) {
	return s.listBindings(ctx, client.MatchingFields{indexRole: RoleLabelValue(role)}, "of role "+role)
}

// listBindings returns the cached bindings that match, read-only; what describes them in errors.
func (s *System) listBindings(ctx context.Context, match client.MatchingFields, what string) ([]binding, error) {
	var crbs rbacv1.ClusterRoleBindingList
	if err := s.client.List(ctx, &crbs, match, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list ClusterRoleBindings %s: %w", what, err)
	}
	var rbs rbacv1.RoleBindingList
	if err := s.client.List(ctx, &rbs, match, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list RoleBindings %s: %w", what, err)
	}
	out := make([]binding, 0, len(crbs.Items)+len(rbs.Items))
	for i := range crbs.Items {
		out = append(out, wrap(&crbs.Items[i]))
	}
	for i := range rbs.Items {
		out = append(out, wrap(&rbs.Items[i]))
	}
	return out, nil
}
