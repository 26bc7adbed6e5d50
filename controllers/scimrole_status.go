package controllers

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
)

// The status of a ScimRole: counts, bindings and conditions, all set here.

// setExternallyManaged sets ExternallyManaged from the role's marking.
func (r *ScimRoleReconciler) setExternallyManaged(role *identityv1alpha1.ScimRole) {
	if provider := identityv1alpha1.ManagedBy(role); provider != "" {
		r.conditions().set(role, identityv1alpha1.ConditionExternallyManaged, metav1.ConditionTrue,
			identityv1alpha1.ReasonManagedByProvider, fmt.Sprintf("Managed by provider %s through SCIM; to take the role over, "+
				"remove the label %s", provider, identityv1alpha1.LabelManagedBy))
		return
	}
	r.conditions().set(role, identityv1alpha1.ConditionExternallyManaged, metav1.ConditionFalse,
		identityv1alpha1.ReasonNotManaged, "No provider manages the role")
}

// setCounts sets the member counts and the bindings the role owns.
func (r *ScimRoleReconciler) setCounts(role *identityv1alpha1.ScimRole, m members, result access.Result) {
	role.Status.MemberCount = int32(m.count)
	role.Status.ActiveMemberCount = int32(len(m.active))
	role.Status.Bindings = result.Bindings
}

// setReady sets Ready from the outcome of applying the role, the most actionable cause first: a
// grant the operator may not make, a grant that failed, members without a ScimUser.
func (r *ScimRoleReconciler) setReady(role *identityv1alpha1.ScimRole, m members, result access.Result) {
	var forbidden, failed []string
	for _, f := range result.Failures {
		if f.Forbidden {
			forbidden = append(forbidden, f.Grant.String())
		} else {
			failed = append(failed, fmt.Sprintf("%s: %v", f.Grant, f.Err))
		}
	}
	set := func(status metav1.ConditionStatus, reason, message string) {
		r.conditions().set(role, identityv1alpha1.ConditionReady, status, reason, message)
	}
	switch {
	case len(forbidden) > 0:
		set(metav1.ConditionFalse, identityv1alpha1.ReasonBindForbidden, fmt.Sprintf("The operator may not bind %s: "+
			"allow it the bind verb on them in its RBAC (see config/rbac/README.md)", strings.Join(forbidden, ", ")))
	case len(failed) > 0:
		set(metav1.ConditionFalse, identityv1alpha1.ReasonBindingFailed, "Cannot write the binding of "+problemList.summarize(failed))
	case len(m.missing) > 0:
		set(metav1.ConditionFalse, identityv1alpha1.ReasonMembersMissing, "Members without a ScimUser: "+idList.summarize(m.missing))
	case len(access.GrantsOf(role.Spec.Access)) == 0:
		set(metav1.ConditionTrue, identityv1alpha1.ReasonBindingsApplied, "The role grants no access")
	default:
		set(metav1.ConditionTrue, identityv1alpha1.ReasonBindingsApplied, fmt.Sprintf(
			"The role's bindings (%d) hold its active members (%d)", len(result.Bindings), len(m.active)))
	}
}

// setReadyFailed sets Ready to False after the access system failed as a whole.
func (r *ScimRoleReconciler) setReadyFailed(role *identityv1alpha1.ScimRole, err error) {
	r.conditions().set(role, identityv1alpha1.ConditionReady, metav1.ConditionFalse,
		identityv1alpha1.ReasonBindingFailed, fmt.Sprintf("Cannot apply the role's access: %v", err))
}
