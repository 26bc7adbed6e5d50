package controllers

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
)

// The conditions of a ScimUser, all set here.

// setExternallyManaged sets ExternallyManaged from the user's marking: True while a provider
// manages it; False because it is suspended (suspension removes the marking) or never marked.
func (r *ScimUserReconciler) setExternallyManaged(user *identityv1alpha1.ScimUser) {
	switch provider := identityv1alpha1.ManagedBy(user); {
	case provider != "":
		r.conditions().set(user, identityv1alpha1.ConditionExternallyManaged, metav1.ConditionTrue,
			identityv1alpha1.ReasonManagedByProvider, fmt.Sprintf("Managed by provider %s through SCIM; to take the user over, "+
				"suspend it (spec.active: false) or remove the label %s", provider, identityv1alpha1.LabelManagedBy))
	case !user.IsActive():
		r.conditions().set(user, identityv1alpha1.ConditionExternallyManaged, metav1.ConditionFalse,
			identityv1alpha1.ReasonSuspended, "A suspended user is managed by no provider")
	default:
		r.conditions().set(user, identityv1alpha1.ConditionExternallyManaged, metav1.ConditionFalse,
			identityv1alpha1.ReasonNotManaged, "No provider manages the user")
	}
}

// setSuspended sets Suspended from spec.active, with who suspended the user as the reason.
func (r *ScimUserReconciler) setSuspended(user *identityv1alpha1.ScimUser) {
	switch {
	case user.IsActive():
		r.conditions().set(user, identityv1alpha1.ConditionSuspended, metav1.ConditionFalse,
			identityv1alpha1.ReasonActive, "The user is active")
	case user.SuspendedBy() == identityv1alpha1.SuspendedByProvider:
		r.conditions().set(user, identityv1alpha1.ConditionSuspended, metav1.ConditionTrue,
			identityv1alpha1.ReasonSuspendedByProvider, "The identity provider suspended the user; it reactivates it")
	default:
		r.conditions().set(user, identityv1alpha1.ConditionSuspended, metav1.ConditionTrue,
			identityv1alpha1.ReasonSuspendedByAdmin, "An administrator suspended the user; only an administrator reactivates it")
	}
}

// setReady sets Ready: True when every grant of every role of the user holds it (an active user) or
// none does (a suspended one).
func (r *ScimUserReconciler) setReady(ctx context.Context, user *identityv1alpha1.ScimUser, roles []identityv1alpha1.ScimRole) error {
	if subject := identityv1alpha1.SubjectName(r.UserPrefix, user.Spec.UserName); user.IsActive() && identityv1alpha1.IsReservedSubject(subject) {
		r.conditions().set(user, identityv1alpha1.ConditionReady, metav1.ConditionFalse,
			identityv1alpha1.ReasonReservedName, fmt.Sprintf("The user's subject name %q lies in Kubernetes' reserved %q namespace, "+
				"so no binding names it; set --rbac-user-prefix to the API server's --oidc-username-prefix",
				subject, identityv1alpha1.ReservedSubjectPrefix))
		return nil
	}
	reason := identityv1alpha1.ReasonBindingsPending
	var problems []string
	for i := range roles {
		role := &roles[i]
		if identityv1alpha1.IsTerminating(role) {
			continue
		}
		holding, err := r.Access.Holds(ctx, role, user.Spec.UserName)
		if err != nil {
			return fmt.Errorf("check the grants of role %s for user %s: %w", role.Name, user.Name, err)
		}
		problem := holdingProblem(holding, user.IsActive())
		if problem == "" {
			continue
		}
		problems = append(problems, fmt.Sprintf("role %s (%s): %s", role.Name, role.Spec.DisplayName, problem))
		// A role that failed to apply its grants names the cause better than "pending".
		if c := meta.FindStatusCondition(role.Status.Conditions, identityv1alpha1.ConditionReady); c != nil &&
			c.Status == metav1.ConditionFalse && c.Reason != identityv1alpha1.ReasonMembersMissing {
			reason = c.Reason
		}
	}
	if len(problems) > 0 {
		r.conditions().set(user, identityv1alpha1.ConditionReady, metav1.ConditionFalse,
			reason, problemList.summarize(problems))
		return nil
	}
	// One message whatever the number of roles, so that a group that adds a user whose bindings
	// follow at once changes nothing of its status: an initial sync asks for no status write per
	// membership.
	message := "Every grant of the user's roles holds it"
	if !user.IsActive() {
		message = "The user is suspended and in no binding"
	}
	r.conditions().set(user, identityv1alpha1.ConditionReady, metav1.ConditionTrue,
		identityv1alpha1.ReasonBindingsApplied, message)
	return nil
}

// holdingProblem says how holding differs from what an active (or suspended) user should hold, or "".
func holdingProblem(holding access.Holding, active bool) string {
	if active && len(holding.Missing) > 0 {
		return "not yet in " + joinGrants(holding.Missing)
	}
	if !active && len(holding.Held) > 0 {
		return "still in " + joinGrants(holding.Held)
	}
	return ""
}

func joinGrants(grants []access.Grant) string {
	s := make([]string, len(grants))
	for i, g := range grants {
		s[i] = g.String()
	}
	return strings.Join(s, ", ")
}

// readyOf is the status and reason of the object's Ready condition, to notice it change.
func readyOf(role *identityv1alpha1.ScimRole) string {
	c := meta.FindStatusCondition(role.Status.Conditions, identityv1alpha1.ConditionReady)
	if c == nil {
		return ""
	}
	return string(c.Status) + "/" + c.Reason
}
