package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// GetConditions and SetConditions give the controllers one condition setter for both kinds, as
// cluster-api's conditions.Setter does.

// GetConditions returns the conditions of the user's status.
func (u *ScimUser) GetConditions() []metav1.Condition { return u.Status.Conditions }

// SetConditions replaces the conditions of the user's status.
func (u *ScimUser) SetConditions(conditions []metav1.Condition) { u.Status.Conditions = conditions }

// GetConditions returns the conditions of the role's status.
func (r *ScimRole) GetConditions() []metav1.Condition { return r.Status.Conditions }

// SetConditions replaces the conditions of the role's status.
func (r *ScimRole) SetConditions(conditions []metav1.Condition) { r.Status.Conditions = conditions }
