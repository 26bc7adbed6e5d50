package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ScimRoleSpec is a SCIM 2.0 Group (RFC 7643 §4.2) and what membership in it grants.
type ScimRoleSpec struct {
	// displayName is the name of the role. It is unique across all ScimRoles, compared without regard
	// to case, Unicode compatibility forms (fullwidth letters, ligatures) or surrounding white space.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.matches('\\\\S')",message="displayName must not be blank"
	DisplayName string `json:"displayName"`

	// externalId is the identifier of the group in its identity provider.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ExternalID string `json:"externalId,omitempty"`

	// members are the users in the role, each named by its ScimUser's SCIM id. Set by the identity
	// provider; a member without a ScimUser grants nothing. At most 20,000: what one object holds
	// within etcd's request limit, and what bounds the admission policies' cost.
	// +optional
	// +listType=map
	// +listMapKey=value
	// +kubebuilder:validation:MaxItems=20000
	Members []Member `json:"members,omitempty"`

	// access is what membership in the role grants in this cluster. It is declared with the role
	// (GitOps) and never written by the SCIM server.
	// +optional
	Access *Access `json:"access,omitempty"`
}

// Member is one member of a ScimRole.
type Member struct {
	// value is the SCIM id (object name) of the member's ScimUser.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Value string `json:"value"`

	// display is a human-readable name of the member, as the identity provider sent it.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Display string `json:"display,omitempty"`
}

// Access is what membership in a role grants: each entry becomes one binding (or, past the subject
// limit, several) whose subjects are the role's active members.
type Access struct {
	// clusterRoles are ClusterRoles granted cluster-wide, one ClusterRoleBinding each.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^[^/%]+$`
	ClusterRoles []string `json:"clusterRoles,omitempty"`

	// namespaced are Roles or ClusterRoles granted in one namespace, one RoleBinding each.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	Namespaced []NamespacedAccess `json:"namespaced,omitempty"`
}

// NamespacedAccess grants a Role or a ClusterRole in one namespace. Exactly one of role and
// clusterRole is set.
// +kubebuilder:validation:XValidation:rule="has(self.role) != has(self.clusterRole)",message="exactly one of role or clusterRole must be set"
type NamespacedAccess struct {
	// namespace is the namespace the RoleBinding is created in.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace"`

	// role is the name of a Role in namespace to grant.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[^/%]+$`
	Role string `json:"role,omitempty"`

	// clusterRole is the name of a ClusterRole to grant within namespace.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[^/%]+$`
	ClusterRole string `json:"clusterRole,omitempty"`
}

// BindingReference names a ClusterRoleBinding or RoleBinding owned by a ScimRole.
type BindingReference struct {
	// kind is ClusterRoleBinding or RoleBinding.
	Kind string `json:"kind"`

	// namespace is the namespace of a RoleBinding; empty for a ClusterRoleBinding.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// name is the name of the binding.
	Name string `json:"name"`
}

// ScimRoleStatus is the observed state of a ScimRole.
type ScimRoleStatus struct {
	// observedGeneration is the generation of the spec that the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions describe the role's state: ExternallyManaged and Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// memberCount is the number of members of the role.
	// +optional
	MemberCount int32 `json:"memberCount,omitempty"`

	// activeMemberCount is the number of members that exist and are active, i.e. the subjects of
	// the role's bindings.
	// +optional
	ActiveMemberCount int32 `json:"activeMemberCount,omitempty"`

	// bindings are the RBAC bindings the role owns.
	// +optional
	// +listType=atomic
	Bindings []BindingReference `json:"bindings,omitempty"`
}

// ScimRole is a role (a SCIM Group): who is in it is decided by the identity provider, what it grants
// is declared with it. Its name is its SCIM id.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=sr,categories=scim
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Members",type=integer,JSONPath=`.status.memberCount`
// +kubebuilder:printcolumn:name="Managed-By",type=string,JSONPath=`.metadata.labels.identity\.scim-operator\.io/managed-by`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Active-Members",type=integer,priority=1,JSONPath=`.status.activeMemberCount`
// +kubebuilder:printcolumn:name="Reason",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
type ScimRole struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the SCIM Group and its access.
	// +required
	Spec ScimRoleSpec `json:"spec"`

	// status is the role's observed state.
	// +optional
	Status ScimRoleStatus `json:"status,omitempty"`
}

// ScimRoleList is a list of ScimRoles.
// +kubebuilder:object:root=true
type ScimRoleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// items are the ScimRoles.
	Items []ScimRole `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ScimRole{}, &ScimRoleList{})
}
