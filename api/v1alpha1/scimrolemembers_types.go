package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxMembersPerShard is the most members one ScimRoleMembers holds (the CRD's limit): 5,000
// members of up to 1 KiB of display each stay well inside etcd's 1.5 MiB request limit at the
// sizes identity providers send (about 60 bytes a member), and bound what the admission policies
// compare in one request.
const MaxMembersPerShard = 5000

// ScimRoleMembersSpec is one shard of the members of a large ScimRole.
// +kubebuilder:validation:XValidation:rule="self.role == oldSelf.role",message="role is immutable"
type ScimRoleMembersSpec struct {
	// role is the name of the ScimRole these members belong to. The shard counts only while that
	// role is also its controller owner (metadata.ownerReferences, by uid).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Role string `json:"role"`

	// members are users in the role, as in ScimRole.spec.members.
	// +optional
	// +listType=map
	// +listMapKey=value
	// +kubebuilder:validation:MaxItems=5000
	Members []Member `json:"members,omitempty"`
}

// ScimRoleMembers holds members of a ScimRole beyond those the role lists itself: the SCIM server
// stores the membership of a large group in bounded shards, so that no object grows with the
// group. A role's members are its own spec.members and those of every shard it owns (RoleMembers).
// The operator writes shards; anyone else needs the bind verb on all ClusterRoles and Roles to add
// members through one (policy role-members).
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=srm,categories=scim
// +kubebuilder:printcolumn:name="Role",type=string,JSONPath=`.spec.role`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ScimRoleMembers struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec names the role and holds the members.
	// +required
	Spec ScimRoleMembersSpec `json:"spec"`
}

// ScimRoleMembersList is a list of ScimRoleMembers.
// +kubebuilder:object:root=true
type ScimRoleMembersList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// items are the ScimRoleMembers.
	Items []ScimRoleMembers `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ScimRoleMembers{}, &ScimRoleMembersList{})
}
