package v1alpha1

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// conditioned is what the controllers' condition setter asks of an object.
type conditioned interface {
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
}

func TestConditions(t *testing.T) {
	ready := metav1.Condition{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonBindingsApplied}
	managed := metav1.Condition{Type: ConditionExternallyManaged, Status: metav1.ConditionFalse, Reason: ReasonNotManaged}
	tests := []struct {
		name       string
		obj        conditioned
		conditions func(conditioned) []metav1.Condition
		set        []metav1.Condition
	}{
		{"user", &ScimUser{}, func(o conditioned) []metav1.Condition { return o.(*ScimUser).Status.Conditions }, []metav1.Condition{ready, managed}},
		{"user, cleared", &ScimUser{Status: ScimUserStatus{Conditions: []metav1.Condition{ready}}},
			func(o conditioned) []metav1.Condition { return o.(*ScimUser).Status.Conditions }, nil},
		{"role", &ScimRole{}, func(o conditioned) []metav1.Condition { return o.(*ScimRole).Status.Conditions }, []metav1.Condition{managed}},
		{"role, replaced", &ScimRole{Status: ScimRoleStatus{Conditions: []metav1.Condition{ready}}},
			func(o conditioned) []metav1.Condition { return o.(*ScimRole).Status.Conditions }, []metav1.Condition{managed, ready}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.obj.GetConditions(); !equality.Semantic.DeepEqual(got, tt.conditions(tt.obj)) {
				t.Errorf("GetConditions() = %v, want the status's %v", got, tt.conditions(tt.obj))
			}
			tt.obj.SetConditions(tt.set)
			if got := tt.conditions(tt.obj); !equality.Semantic.DeepEqual(got, tt.set) {
				t.Errorf("after SetConditions the status holds %v, want %v", got, tt.set)
			}
			if got := tt.obj.GetConditions(); !equality.Semantic.DeepEqual(got, tt.set) {
				t.Errorf("GetConditions() after SetConditions = %v, want %v", got, tt.set)
			}
		})
	}
}
