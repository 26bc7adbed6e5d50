package store

// Names: a user is known by its userName and a role by its displayName. Each must be valid and, by
// its identity key (v1.IdentityKey), unique.

import (
	"context"
	"strings"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/index"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// validUserName returns a 400 invalidValue for a userName a user cannot be given (v1.ValidateUserName).
func validUserName(userName string) error {
	if err := v1.ValidateUserName(userName); err != nil {
		return scimerror.BadRequest(scimerror.InvalidValue, "%v", err)
	}
	return nil
}

// validateUser returns a 400 for a user whose userName is blank: no write may leave one so.
func validateUser(u *v1.ScimUser) error {
	if strings.TrimSpace(u.Spec.UserName) == "" {
		return scimerror.BadRequest(scimerror.InvalidValue, "userName is required and must not be blank")
	}
	return nil
}

// errEmptyDisplayName is the 400 for a role whose displayName is blank.
var errEmptyDisplayName = scimerror.BadRequest(scimerror.InvalidValue, "displayName is required and must not be empty: a role needs a name")

// checkUpdate checks a user before update writes it: its userName must not be blank, and a changed
// one must be valid, and free unless it keeps its identity key.
func (s *users) checkUpdate(ctx context.Context, id string) func(before, after *v1.ScimUser) error {
	return func(before, after *v1.ScimUser) error {
		if err := validateUser(after); err != nil {
			return err
		}
		if before.Spec.UserName == after.Spec.UserName {
			// Unchanged, it is not checked again: a userName stored before the white space rule
			// (by kubectl) must not stop the provider from suspending or updating its user.
			return nil
		}
		if err := validUserName(after.Spec.UserName); err != nil {
			return err
		}
		return s.checkUserNameFree(ctx, after.Spec.UserName, before.Spec.UserName, id)
	}
}

// checkUpdate checks a role before update writes it: its displayName must not be blank, and a
// changed one must be free unless it keeps its identity key.
func (s *groups) checkUpdate(ctx context.Context, id string) func(before, after *v1.ScimRole) error {
	return func(before, after *v1.ScimRole) error {
		if strings.TrimSpace(after.Spec.DisplayName) == "" {
			return errEmptyDisplayName
		}
		return s.checkDisplayNameFree(ctx, after.Spec.DisplayName, before.Spec.DisplayName, id)
	}
}

// checkUserNameFree returns a 409 unless userName is free for user self (see checkFree).
func (s *users) checkUserNameFree(ctx context.Context, userName, previous, self string) error {
	return s.checkFree(ctx, &v1.ScimUserList{}, index.UserNameFolded, userName, previous, self, errTaken("userName", userName, "user"))
}

// checkDisplayNameFree returns a 409 unless displayName is free for role self (see checkFree).
func (s *groups) checkDisplayNameFree(ctx context.Context, displayName, previous, self string) error {
	return s.checkFree(ctx, &v1.ScimRoleList{}, index.RoleDisplayNameFolded, displayName, previous, self, errTaken("displayName", displayName, "group"))
}

// checkFree returns taken when an object other than self has name's identity key in the unique
// index ix. previous is self's name before a rename ("" for a new object): a rename that keeps
// the identity key is not checked, since self holds the key already.
func (s *Store) checkFree(ctx context.Context, list client.ObjectList, ix index.Index, name, previous, self string, taken error) error {
	key := v1.IdentityKey(name)
	if previous != "" && v1.IdentityKey(previous) == key {
		return nil
	}
	if err := ix.Keyed(s.Client, key).List(ctx, list); err != nil {
		return apiError(err, "the list")
	}
	items, err := apimeta.ExtractList(list)
	if err != nil {
		return err
	}
	for _, item := range items {
		// An object being deleted holds its name no longer: a new one may take it.
		if obj := item.(client.Object); obj.GetName() != self && !v1.IsTerminating(obj) {
			return taken
		}
	}
	return nil
}

// errTaken is the 409 for a name (attribute) that another resource of its kind holds.
func errTaken(attribute, name, kind string) error {
	return scimerror.Conflict("One or more of the attribute values are already in use or are reserved: %s %q belongs to another %s.", attribute, name, kind)
}
