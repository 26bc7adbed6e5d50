package v1alpha1

// Condition types.
const (
	// ConditionExternallyManaged is True while an identity provider manages the object; the message
	// names the provider.
	ConditionExternallyManaged = "ExternallyManaged"

	// ConditionSuspended is True while a user's spec.active is false; the reason says who suspended it.
	ConditionSuspended = "Suspended"

	// ConditionReady is True when the access system reflects the object: every binding that should
	// (or should no longer) contain it is in place.
	ConditionReady = "Ready"
)

// Condition reasons.
const (
	// ReasonManagedByProvider: a SCIM request of a provider created, modified or used the object.
	ReasonManagedByProvider = "ManagedByProvider"

	// ReasonNotManaged: no SCIM request has touched the object (or its marking was removed).
	ReasonNotManaged = "NotManaged"

	// ReasonSuspended: the user is suspended, which removes its marking.
	ReasonSuspended = "Suspended"

	// ReasonSuspendedByProvider: the user's identity provider suspended it (SCIM active: false).
	ReasonSuspendedByProvider = "SuspendedByProvider"

	// ReasonSuspendedByAdmin: someone other than the operator suspended the user; only an admin can
	// lift the suspension.
	ReasonSuspendedByAdmin = "SuspendedByAdmin"

	// ReasonActive: the user is active.
	ReasonActive = "Active"

	// ReasonBindingsApplied: every binding the object needs is in place.
	ReasonBindingsApplied = "BindingsApplied"

	// ReasonBindingsPending: the access system has not caught up with the object yet, e.g. a suspended
	// user is still in a binding its role's reconcile is about to rewrite.
	ReasonBindingsPending = "BindingsPending"

	// ReasonBindingFailed: a binding could not be written.
	ReasonBindingFailed = "BindingFailed"

	// ReasonBindForbidden: the operator may not bind a ClusterRole or Role the role references.
	ReasonBindForbidden = "BindForbidden"

	// ReasonMembersMissing: a member id of the role has no ScimUser.
	ReasonMembersMissing = "MembersMissing"

	// ReasonReservedName: the user's subject name (--rbac-user-prefix + userName) lies in Kubernetes'
	// reserved "system:" namespace, so no binding ever names it.
	ReasonReservedName = "ReservedName"
)

// Marking metadata. It lives in metadata, not spec, so that GitOps tools ignore it.
const (
	// LabelManagedBy names the provider that manages the object.
	LabelManagedBy = "identity.scim-operator.io/managed-by"

	// AnnotationSuspendedBy records who suspended a user: SuspendedByProvider or SuspendedByAdmin.
	AnnotationSuspendedBy = "identity.scim-operator.io/suspended-by"

	// SuspendedByProvider is the AnnotationSuspendedBy value for a suspension by the identity provider.
	SuspendedByProvider = "provider"

	// SuspendedByAdmin is the AnnotationSuspendedBy value for a suspension by an administrator.
	SuspendedByAdmin = "admin"

	// LabelRole names the ScimRole that owns an RBAC binding. Every binding the operator manages
	// carries it: a binding shared by every role that grants the same role in the same scope
	// (--rbac-shared-bindings) carries it empty, and LabelGrant.
	LabelRole = "identity.scim-operator.io/role"

	// LabelGrant identifies the grant of a shared RBAC binding: a hash of the granted role's kind,
	// namespace and name.
	LabelGrant = "identity.scim-operator.io/grant"

	// FinalizerAccess holds a ScimUser or ScimRole back from deletion until the operator has removed
	// what it grants: a user from the members of every role, a role's bindings. Until then the name
	// cannot be reused, so a new object of the same name never inherits the old one's access.
	FinalizerAccess = "identity.scim-operator.io/access"
)
