package store

// Membership: what a write of one resource does to others. The members a Group write adds are
// resolved and marked (rule 1), a deleted user leaves its roles (rule 5), and a user lists the roles
// it is in.

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/index"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// touch marks the users with the given ids as used by a request of provider (rule 1). A user deleted
// meanwhile is skipped.
func (s *users) touch(ctx context.Context, provider string, ids []string) error {
	for _, id := range ids {
		// cached is this request's own copy: TouchByProvider on it only tells whether there is
		// anything to write (not when the user is marked already, or suspended and so never marked).
		cached := &v1.ScimUser{}
		if err := s.Client.Get(ctx, client.ObjectKey{Name: id}, cached); err == nil && !cached.TouchByProvider(provider) {
			continue
		}
		err := updateObject(ctx, s.Store, Write{}, id, &v1.ScimUser{},
			func(u *v1.ScimUser) error { u.TouchByProvider(provider); return nil },
			func(_, _ *v1.ScimUser) error { return nil })
		if e := scimerror.As(err); e != nil && e.Status == http.StatusNotFound {
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// rolesOf lists, from the cache, the roles id is a member of — listing it themselves or through a
// shard they own — in name order. They are the cache's objects, uncopied (a role can hold
// thousands of members): read-only.
func (s *users) rolesOf(ctx context.Context, id string) ([]*v1.ScimRole, error) {
	var roles []*v1.ScimRole
	read := false
	if s.Direct != nil {
		var err error
		if roles, read, err = s.Direct.RolesWithMember(id); err != nil {
			return nil, apiError(err, "Groups")
		}
	}
	if !read {
		listed, err := index.RolesWithMember(ctx, s.Client, id)
		if err != nil {
			return nil, apiError(err, "Groups")
		}
		for i := range listed {
			roles = append(roles, &listed[i])
		}
	}
	roles = slices.DeleteFunc(roles, func(r *v1.ScimRole) bool { return v1.IsTerminating(r) })
	slices.SortFunc(roles, func(a, b *v1.ScimRole) int { return strings.Compare(a.Name, b.Name) })
	return roles, nil
}

// leaveRoles removes id from the members of every role that lists it (itself or in a shard), found
// live or in the cache, marking each role as modified by the request. The roles are written in
// parallel (each under its own write queue), so a user in a thousand roles leaves them within the
// request's time.
func (s *users) leaveRoles(ctx context.Context, w Write, id string, live bool) error {
	var names []string
	var err error
	if live {
		names, err = s.liveRolesOf(ctx, id)
	} else {
		var roles []*v1.ScimRole
		roles, err = s.rolesOf(ctx, id)
		for _, r := range roles {
			names = append(names, r.Name)
		}
	}
	if err != nil {
		return err
	}
	g := &groups{s.Store}
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(parallelRoleWrites)
	for _, name := range names {
		eg.Go(func() error {
			_, _, err := g.updateGroup(ctx, Write{Provider: w.Provider}, name, func(m *membership) error {
				if err := m.remove(ctx, id); err != nil {
					return err
				}
				v1.MarkManagedBy(m.role, w.Provider)
				return nil
			})
			if e := scimerror.As(err); e != nil && e.Status == http.StatusNotFound {
				return nil // the role is gone, or being deleted
			}
			return err
		})
	}
	return eg.Wait()
}

// parallelRoleWrites bounds the role writes one request makes at once: enough to hide the API
// server's latency, few enough to leave its priority-and-fairness seats to other requests.
const parallelRoleWrites = 16

// liveRolesOf lists, from the API server, the names of the roles id is a member of, itself or in
// a shard (owned or not: the write that removes id decides on the role's own shards).
func (s *users) liveRolesOf(ctx context.Context, id string) ([]string, error) {
	list := &v1.ScimRoleList{}
	if err := s.Live.List(ctx, list); err != nil {
		return nil, apiError(err, "Groups")
	}
	var out []string
	for _, r := range list.Items {
		if slices.Contains(r.MemberIDs(), id) {
			out = append(out, r.Name)
		}
	}
	shards := &v1.ScimRoleMembersList{}
	if err := s.Live.List(ctx, shards); err != nil {
		return nil, apiError(err, "Groups")
	}
	for _, sh := range shards.Items {
		if slices.Contains(sh.Spec.MemberIDs(), id) && !slices.Contains(out, sh.Spec.Role) {
			out = append(out, sh.Spec.Role)
		}
	}
	return out, nil
}

// resolveMembers checks member ids: an id that cannot name a user is 400 (StrongDM: "cannot parse
// member id") unless ignoreMalformed; an unknown id is 404 unless ignoreUnknown. Ignored ids are
// dropped. A member without display gets the user's displayName (or userName).
func (s *groups) resolveMembers(ctx context.Context, members []v1.Member, ignoreUnknown, ignoreMalformed bool) ([]v1.Member, error) {
	out := make([]v1.Member, 0, len(members))
	for _, m := range members {
		if len(validation.IsDNS1123Subdomain(m.Value)) > 0 {
			if ignoreMalformed {
				continue
			}
			return nil, scimerror.BadRequest(scimerror.InvalidValue, "cannot parse member id: %s", m.Value)
		}
		u := &v1.ScimUser{}
		err := s.get(ctx, m.Value, u)
		if apierrors.IsNotFound(err) {
			if !ignoreUnknown {
				return nil, scimerror.NotFound("Resource %s not found.", m.Value)
			}
			continue
		}
		if err != nil {
			return nil, apiError(err, "User "+m.Value)
		}
		if m.Display == "" {
			m.Display = u.Spec.DisplayName
			if m.Display == "" {
				m.Display = u.Spec.UserName
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// newMembers returns the ids in after that are not in before.
func newMembers(before, after []v1.Member) []string {
	had := map[string]bool{}
	for _, m := range before {
		had[m.Value] = true
	}
	var ids []string
	for _, m := range after {
		if !had[m.Value] {
			ids = append(ids, m.Value)
		}
	}
	return ids
}

func membersWithIDs(members []v1.Member, ids []string) []v1.Member {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []v1.Member
	for _, m := range members {
		if want[m.Value] {
			out = append(out, m)
		}
	}
	return out
}

// mergeResolved replaces the added members of members with their resolved form (display filled),
// dropping those that did not resolve.
func mergeResolved(members []v1.Member, added []string, resolved []v1.Member) []v1.Member {
	isAdded := map[string]bool{}
	for _, id := range added {
		isAdded[id] = true
	}
	byID := map[string]v1.Member{}
	for _, m := range resolved {
		byID[m.Value] = m
	}
	out := make([]v1.Member, 0, len(members))
	for _, m := range members {
		if !isAdded[m.Value] {
			out = append(out, m)
		} else if r, ok := byID[m.Value]; ok {
			out = append(out, r)
		}
	}
	return out
}
