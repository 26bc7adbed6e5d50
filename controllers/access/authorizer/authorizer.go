// Package authorizer is the operator's authorization webhook: a SubjectAccessReview endpoint that the
// API server consults before RBAC (its structured authorization configuration), which denies every
// request of a user who may hold no access — suspended, being deleted, or, under the user prefix,
// not provisioned — and has no opinion on anything else. It never allows: RBAC, after it, still
// decides what an active user may do, so the webhook can take access away but never grant it.
//
// Decisions are lookups in the manager's informer cache (the exact-userName index), so a suspension
// takes effect as soon as the cache sees it, whatever the number of roles the user is in; the
// bindings follow for clusters without the webhook.
package authorizer

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/index"
)

// ReasonPrefix starts the reason of every denial, so that a 403 says who refused.
const ReasonPrefix = "scim-operator: "

// Authorizer decides SubjectAccessReviews from the ScimUsers a reader (the manager's cache) holds.
type Authorizer struct {
	users client.Reader
	// prefix is the --rbac-user-prefix: a request user that carries it is one of the identity
	// provider's users, and must be provisioned.
	prefix string
}

// New returns an Authorizer over users, a reader with the index.UserNameFolded field index (the manager's
// cache), for subjects named with prefix (the --rbac-user-prefix).
func New(users client.Reader, prefix string) *Authorizer {
	return &Authorizer{users: users, prefix: prefix}
}

// Review decides the request of spec: denied with a reason, or no opinion. Status.Allowed is never
// set. The error is the cache's; the caller answers it with an error, which the API server treats
// as its failurePolicy says.
func (a *Authorizer) Review(ctx context.Context, spec *authorizationv1.SubjectAccessReviewSpec) (authorizationv1.SubjectAccessReviewStatus, error) {
	userName, provisioned, ok := a.userNameOf(spec.User)
	if !ok {
		return noOpinion, nil
	}
	users, err := index.UsersNamed(ctx, a.users, userName)
	if err != nil {
		return noOpinion, fmt.Errorf("look up the ScimUser of %q: %w", spec.User, err)
	}
	reason, denied := decide(users, provisioned)
	if !denied {
		return noOpinion, nil
	}
	return authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: ReasonPrefix + reason}, nil
}

// noOpinion is the answer for everything the webhook does not deny: RBAC decides.
var noOpinion = authorizationv1.SubjectAccessReviewStatus{}

// userNameOf returns the userName a request user stands for, whether that user must be provisioned
// (it carries the prefix, so it can only be one of the identity provider's), and false when the
// webhook has no say about the user at all: nobody, a user outside a non-empty prefix, or a name in
// Kubernetes' reserved system: namespace, whose requests no SCIM user can stand in the way of.
func (a *Authorizer) userNameOf(user string) (userName string, provisioned, ok bool) {
	if user == "" || identityv1alpha1.IsReservedSubject(user) {
		return "", false, false
	}
	if a.prefix == "" {
		// Without a prefix the IdP's users cannot be told from others: only known users are denied.
		return user, false, true
	}
	userName, ok = strings.CutPrefix(user, a.prefix)
	return userName, ok, ok
}

// decide denies a subject whose users (the ScimUsers whose userName it names, usually one; a
// deleted one and its successor while the first is cleaned up) all lack access (HasAccess), or,
// when it must be provisioned, that no ScimUser names. It returns the reason of a denial.
func decide(users []identityv1alpha1.ScimUser, mustBeProvisioned bool) (string, bool) {
	if len(users) == 0 {
		if mustBeProvisioned {
			return "the user is not provisioned: no ScimUser has this userName", true
		}
		return "", false
	}
	if slices.ContainsFunc(users, func(u identityv1alpha1.ScimUser) bool { return u.HasAccess() }) {
		return "", false
	}
	// The reason names the first user by name, so that it does not depend on the cache's order.
	u := slices.MinFunc(users, func(a, b identityv1alpha1.ScimUser) int { return strings.Compare(a.Name, b.Name) })
	if identityv1alpha1.IsTerminating(&u) {
		return fmt.Sprintf("ScimUser %s is being deleted", u.Name), true
	}
	// A suspension not recorded yet was made by an admin (rule 4); ObserveSuspension says so.
	observed := u.DeepCopy()
	observed.ObserveSuspension()
	return fmt.Sprintf("ScimUser %s is suspended (by %s)", u.Name, observed.SuspendedBy()), true
}
