// Package v1alpha1 contains the API types of the identity.scim-operator.io group: ScimUser and
// ScimRole, their condition types and reasons, and the identity rules (marking and suspension) that
// the SCIM server and the controllers share.
// +kubebuilder:object:generate=true
// +groupName=identity.scim-operator.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "identity.scim-operator.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this API with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this API to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
