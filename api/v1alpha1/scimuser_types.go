package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ScimUserSpec is a SCIM 2.0 User (RFC 7643 §4.1, with the enterprise extension of §4.3) as its
// identity provider last set it. Every field round-trips through the SCIM API unchanged.
type ScimUserSpec struct {
	// userName is the unique identifier of the user, typically used to sign in, and the name of the
	// Kubernetes User subject in the bindings of the user's roles. It is unique across all ScimUsers,
	// compared without regard to case or Unicode compatibility forms (fullwidth letters, ligatures),
	// and must not begin or end with white space.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.matches('\\\\S')",message="userName must not be blank"
	// +kubebuilder:validation:XValidation:rule="self == self.trim()",message="userName must not begin or end with white space"
	UserName string `json:"userName"`

	// externalId is the identifier of the user in its identity provider.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ExternalID string `json:"externalId,omitempty"`

	// active is the user's administrative status. A user that is not active is suspended: it is in
	// no binding the operator manages. Defaults to true.
	// +optional
	// +kubebuilder:default=true
	Active *bool `json:"active,omitempty"`

	// name is the components of the user's real name.
	// +optional
	Name *Name `json:"name,omitempty"`

	// displayName is the name of the user, suitable for display to end-users.
	// +optional
	DisplayName string `json:"displayName,omitempty"`

	// nickName is the casual way to address the user in real life.
	// +optional
	NickName string `json:"nickName,omitempty"`

	// profileUrl is a URI pointing to a location representing the user's online profile.
	// +optional
	ProfileURL string `json:"profileUrl,omitempty"`

	// title is the user's title, such as "Vice President".
	// +optional
	Title string `json:"title,omitempty"`

	// userType identifies the relationship between the organization and the user, e.g. "Employee".
	// +optional
	UserType string `json:"userType,omitempty"`

	// preferredLanguage is the user's preferred written or spoken language, e.g. "en-US".
	// +optional
	PreferredLanguage string `json:"preferredLanguage,omitempty"`

	// locale is the user's default location for localizing items such as currency, e.g. "en-US".
	// +optional
	Locale string `json:"locale,omitempty"`

	// timezone is the user's time zone in the IANA Time Zone database format, e.g. "Europe/Berlin".
	// +optional
	Timezone string `json:"timezone,omitempty"`

	// emails are the user's e-mail addresses.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	Emails []MultiValuedAttribute `json:"emails,omitempty"`

	// phoneNumbers are the user's phone numbers.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	PhoneNumbers []MultiValuedAttribute `json:"phoneNumbers,omitempty"`

	// ims are the user's instant messaging addresses.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	IMs []MultiValuedAttribute `json:"ims,omitempty"`

	// photos are URLs of images of the user.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	Photos []MultiValuedAttribute `json:"photos,omitempty"`

	// addresses are the user's physical mailing addresses.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	Addresses []Address `json:"addresses,omitempty"`

	// entitlements are things the user has, as the identity provider names them.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	Entitlements []MultiValuedAttribute `json:"entitlements,omitempty"`

	// roles are the user's roles as the identity provider names them. They grant nothing in the
	// cluster; ScimRole membership does.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	Roles []MultiValuedAttribute `json:"roles,omitempty"`

	// x509Certificates are the user's X.509 certificates, DER-encoded and base64-encoded.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	X509Certificates []MultiValuedAttribute `json:"x509Certificates,omitempty"`

	// enterprise holds the attributes of the enterprise user extension
	// (urn:ietf:params:scim:schemas:extension:enterprise:2.0:User).
	// +optional
	Enterprise *EnterpriseUser `json:"enterprise,omitempty"`
}

// Name is the components of a user's real name (RFC 7643 §4.1.1, "name").
type Name struct {
	// formatted is the full name, including all middle names, titles and suffixes, formatted for
	// display.
	// +optional
	Formatted string `json:"formatted,omitempty"`

	// familyName is the family name of the user, or last name in most Western languages.
	// +optional
	FamilyName string `json:"familyName,omitempty"`

	// givenName is the given name of the user, or first name in most Western languages.
	// +optional
	GivenName string `json:"givenName,omitempty"`

	// middleName is the middle name(s) of the user.
	// +optional
	MiddleName string `json:"middleName,omitempty"`

	// honorificPrefix is the honorific prefix(es) of the user, e.g. "Ms.".
	// +optional
	HonorificPrefix string `json:"honorificPrefix,omitempty"`

	// honorificSuffix is the honorific suffix(es) of the user, e.g. "III".
	// +optional
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

// EnterpriseUser is the enterprise user extension of RFC 7643 §4.3.
type EnterpriseUser struct {
	// employeeNumber is the identifier of the user within the organization.
	// +optional
	EmployeeNumber string `json:"employeeNumber,omitempty"`

	// costCenter is the name of the user's cost center.
	// +optional
	CostCenter string `json:"costCenter,omitempty"`

	// organization is the name of the user's organization.
	// +optional
	Organization string `json:"organization,omitempty"`

	// division is the name of the user's division.
	// +optional
	Division string `json:"division,omitempty"`

	// department is the name of the user's department.
	// +optional
	Department string `json:"department,omitempty"`

	// manager is the user's manager.
	// +optional
	Manager *Manager `json:"manager,omitempty"`
}

// Manager refers to the manager of a user.
type Manager struct {
	// value is the SCIM id of the manager's User.
	// +optional
	Value string `json:"value,omitempty"`

	// displayName is the manager's display name. Read-only in SCIM: it is not patchable.
	// +optional
	DisplayName string `json:"displayName,omitempty"`
}

// ScimUserStatus is the observed state of a ScimUser. It does not list the roles the user is in:
// a status that did would be rewritten for every group that adds the user, one API write per
// membership (docs/design.md, "A user's status does not list its roles"). SCIM returns them as the
// user's groups and `kubectl scim access USER` reports them, both from the roles' members.
type ScimUserStatus struct {
	// observedGeneration is the generation of the spec that the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions describe the user's state: ExternallyManaged, Suspended and Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// subject is the name of the user's RBAC User subject in the bindings of its roles: the
	// operator's --rbac-user-prefix followed by userName.
	// +optional
	Subject string `json:"subject,omitempty"`
}

// ScimUser is a user provisioned by an identity provider through SCIM, or declared in YAML. Its name
// is its SCIM id.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=su,categories=scim
// +kubebuilder:printcolumn:name="Username",type=string,JSONPath=`.spec.userName`
// +kubebuilder:printcolumn:name="Active",type=boolean,JSONPath=`.spec.active`
// +kubebuilder:printcolumn:name="Managed-By",type=string,JSONPath=`.metadata.labels.identity\.scim-operator\.io/managed-by`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Suspended-By",type=string,priority=1,JSONPath=`.metadata.annotations.identity\.scim-operator\.io/suspended-by`
// +kubebuilder:printcolumn:name="External-ID",type=string,priority=1,JSONPath=`.spec.externalId`
// +kubebuilder:printcolumn:name="Reason",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Subject",type=string,priority=1,JSONPath=`.status.subject`
type ScimUser struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the SCIM User.
	// +required
	Spec ScimUserSpec `json:"spec"`

	// status is the user's observed state.
	// +optional
	Status ScimUserStatus `json:"status,omitempty"`
}

// ScimUserList is a list of ScimUsers.
// +kubebuilder:object:root=true
type ScimUserList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// items are the ScimUsers.
	Items []ScimUser `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ScimUser{}, &ScimUserList{})
}
