package store

// The writes of SCIM Users: what a provider's create, replace, patch and delete do to a ScimUser,
// with the suspension rules (rules 1 and 4) applied to the active it sends.

import (
	"context"
	"errors"
	"time"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

func (s *users) Create(ctx context.Context, w Write, doc map[string]any) (*Resource, error) {
	spec, err := userSpec(doc)
	if err != nil {
		return nil, err
	}
	if err := validUserName(spec.UserName); err != nil {
		return nil, err
	}
	deriveUserDefaults(spec)
	if err := s.checkUserNameFree(ctx, spec.UserName, "", ""); err != nil {
		return nil, err
	}
	u, err := createWithID(ctx, s.Store, userPrefix, spec.UserName, newUser,
		func(existing *v1.ScimUser) string { return existing.Spec.UserName },
		// A role that lists the id makes prepare write: the id must be known to be free first.
		func(id string) (bool, error) {
			roles, err := s.rolesOf(ctx, id)
			return len(roles) > 0, err
		},
		func(u *v1.ScimUser) error {
			u.Spec = *spec.DeepCopy()
			u.Spec.Active = nil // a new user has no suspension yet: the rule applies the request's active
			u.ApplyProviderActive(w.Provider, spec.IsActive())
			// A new user is in no role. Ids derive from userName, so a role may still list this id
			// for a user deleted without SCIM (kubectl): that membership is not the new user's.
			return s.leaveRoles(ctx, w, u.Name, false)
		})
	if err != nil {
		return nil, err
	}
	return s.resource(ctx, u)
}

func (s *users) Replace(ctx context.Context, w Write, id string, doc map[string]any) (*Resource, error) {
	spec, err := userSpec(doc)
	if err != nil {
		return nil, err
	}
	// StrongDM answers Replace as it answers Create, derived attributes included.
	deriveUserDefaults(spec)
	return s.update(ctx, w, id, func(u *v1.ScimUser) error {
		active := spec.IsActive()
		next := spec.DeepCopy()
		next.Active = u.Spec.Active
		u.Spec = *next
		u.ApplyProviderActive(w.Provider, active)
		return nil
	})
}

func (s *users) Patch(ctx context.Context, w Write, id string, patch func(map[string]any) (bool, error)) (*Resource, bool, error) {
	var changed bool
	r, err := s.update(ctx, w, id, func(u *v1.ScimUser) error {
		spec, patched, err := patchedSpec(userDoc(u, nil), patch, userSpec)
		if changed = patched; err != nil {
			return err
		}
		active := spec.IsActive()
		spec.Active = u.Spec.Active
		u.Spec = *spec
		u.ApplyProviderActive(w.Provider, active)
		return nil
	})
	return r, changed, err
}

func (s *users) Delete(ctx context.Context, w Write, id string) error {
	// Rule 5: a deleted user is removed from every role's members first, so that no role keeps
	// an id that a later user could inherit. The roles are listed live: a member another replica
	// added a moment ago must not be missed.
	//
	// The leaving is given half the time the write has left. A user in more roles than that allows
	// (thousands, on a busy API server) is deleted anyway once it runs out: the access finalizer
	// holds the user's name and id until the operator's clean-up has taken it out of the rest, the
	// user has no access from the moment it is deleted (HasAccess), and SCIM answers in time
	// instead of a 503 that the IdP would retry into the same wall.
	return deleteObject(ctx, s.Store, w, id, &v1.ScimUser{}, func() error {
		leaveCtx, cancel := halfTheTimeLeft(ctx)
		defer cancel()
		err := s.leaveRoles(leaveCtx, w, id, true)
		if err != nil && ctx.Err() == nil && errors.Is(leaveCtx.Err(), context.DeadlineExceeded) {
			return nil // the clean-up finishes it
		}
		return err
	})
}

// halfTheTimeLeft returns ctx limited to half the time until its deadline (ctx as it is without one).
func halfTheTimeLeft(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Until(deadline)/2)
}

// update applies mutate to user id and writes it (see updateObject) if the user passes checkUpdate.
func (s *users) update(ctx context.Context, w Write, id string, mutate func(*v1.ScimUser) error) (*Resource, error) {
	u := &v1.ScimUser{}
	if err := updateObject(ctx, s.Store, w, id, u, mutate, s.checkUpdate(ctx, id)); err != nil {
		return nil, err
	}
	return s.resource(ctx, u)
}

func (s *users) resource(ctx context.Context, u *v1.ScimUser) (*Resource, error) {
	roles, err := s.rolesOf(ctx, u.Name)
	if err != nil {
		return nil, err
	}
	return &Resource{ID: u.Name, Doc: userDoc(u, roles), Version: version(u), Location: "Users/" + u.Name}, nil
}
