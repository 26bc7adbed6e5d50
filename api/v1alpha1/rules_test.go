package v1alpha1

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func user(active *bool, labels, annotations map[string]string) *ScimUser {
	return &ScimUser{ObjectMeta: metav1.ObjectMeta{Name: "a-1", Labels: labels, Annotations: annotations},
		Spec: ScimUserSpec{UserName: "u", Active: active}}
}

func TestApplyProviderActive(t *testing.T) {
	tests := []struct {
		name          string
		u             *ScimUser
		active        bool
		wantActive    bool
		wantManagedBy string
		wantSuspended string
		wantChanged   bool
	}{
		{"new active user is marked", user(nil, nil, nil), true, true, "okta", "", true},
		{"already marked by the same provider: no change", user(ptr.To(true), map[string]string{LabelManagedBy: "okta"}, nil), true, true, "okta", "", false},
		{"another provider takes over", user(ptr.To(true), map[string]string{LabelManagedBy: "azure"}, nil), true, true, "okta", "", true},
		{"provider suspends: unmarked, recorded", user(ptr.To(true), map[string]string{LabelManagedBy: "okta"}, nil), false, false, "", SuspendedByProvider, true},
		{"provider reactivates its suspension: marked again", user(ptr.To(false), nil, map[string]string{AnnotationSuspendedBy: SuspendedByProvider}), true, true, "okta", "", true},
		{"admin suspension wins over active: true", user(ptr.To(false), nil, map[string]string{AnnotationSuspendedBy: SuspendedByAdmin}), true, false, "", SuspendedByAdmin, false},
		{"an admin suspension not yet recorded still wins", user(ptr.To(false), map[string]string{LabelManagedBy: "okta"}, nil), true, false, "", SuspendedByAdmin, true},
		{"admin suspension stays unmarked on active: false", user(ptr.To(false), map[string]string{LabelManagedBy: "okta"}, map[string]string{AnnotationSuspendedBy: SuspendedByAdmin}), false, false, "", SuspendedByAdmin, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed := tt.u.ApplyProviderActive("okta", tt.active)
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if tt.u.IsActive() != tt.wantActive {
				t.Errorf("active = %v, want %v", tt.u.IsActive(), tt.wantActive)
			}
			if got := ManagedBy(tt.u); got != tt.wantManagedBy {
				t.Errorf("managed-by = %q, want %q", got, tt.wantManagedBy)
			}
			if got := tt.u.SuspendedBy(); got != tt.wantSuspended {
				t.Errorf("suspended-by = %q, want %q", got, tt.wantSuspended)
			}
		})
	}
}

func TestObserveSuspension(t *testing.T) {
	tests := []struct {
		name          string
		u             *ScimUser
		wantSuspended string
		wantManagedBy string
		wantChanged   bool
	}{
		{"active unmarked user: nothing", user(nil, nil, nil), "", "", false},
		{"active marked user: nothing", user(ptr.To(true), map[string]string{LabelManagedBy: "okta"}, nil), "", "okta", false},
		{"suspended without record: an admin did it", user(ptr.To(false), map[string]string{LabelManagedBy: "okta"}, nil), SuspendedByAdmin, "", true},
		{"provider suspension is kept", user(ptr.To(false), nil, map[string]string{AnnotationSuspendedBy: SuspendedByProvider}), SuspendedByProvider, "", false},
		{"admin lifted the suspension: record cleared", user(ptr.To(true), nil, map[string]string{AnnotationSuspendedBy: SuspendedByAdmin}), "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if changed := tt.u.ObserveSuspension(); changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if got := tt.u.SuspendedBy(); got != tt.wantSuspended {
				t.Errorf("suspended-by = %q, want %q", got, tt.wantSuspended)
			}
			if got := ManagedBy(tt.u); got != tt.wantManagedBy {
				t.Errorf("managed-by = %q, want %q", got, tt.wantManagedBy)
			}
		})
	}
}

func TestTouchByProvider(t *testing.T) {
	if u := user(nil, nil, nil); !u.TouchByProvider("okta") || ManagedBy(u) != "okta" {
		t.Error("an active member used by a request must be marked")
	}
	if u := user(ptr.To(false), nil, map[string]string{AnnotationSuspendedBy: SuspendedByAdmin}); u.TouchByProvider("okta") || ManagedBy(u) != "" {
		t.Error("a suspended member must not be marked")
	}
	r := &ScimRole{}
	if !MarkManagedBy(r, "generic") || MarkManagedBy(r, "generic") || ManagedBy(r) != "generic" {
		t.Error("MarkManagedBy must mark once and report no change the second time")
	}
}
