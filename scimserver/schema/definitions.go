package schema

import v1 "github.com/scim-operator/scim-operator/api/v1alpha1"

// str returns a readWrite, default-returned, non-unique, case-insensitive string attribute.
func str(name, desc string) *Attribute {
	return &Attribute{Name: name, Type: String, Description: desc, Mutability: ReadWrite,
		Returned: ReturnedDefault, Uniqueness: UniquenessNone}
}

func boolean(name, desc string) *Attribute {
	return &Attribute{Name: name, Type: Boolean, Description: desc, Mutability: ReadWrite,
		Returned: ReturnedDefault, Uniqueness: UniquenessNone}
}

func complexAttr(name, desc string, multi bool, subs ...*Attribute) *Attribute {
	return &Attribute{Name: name, Type: Complex, MultiValued: multi, Description: desc,
		Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: UniquenessNone, SubAttributes: subs}
}

func withCanonical(a *Attribute, values ...string) *Attribute { a.CanonicalValues = values; return a }

func caseExact(a *Attribute) *Attribute { a.CaseExact = true; return a }

// multiValued returns the common multi-valued attribute shape (value, display, type, primary) of
// RFC 7643 §2.4, which is what ScimUser stores for each of them.
func multiValued(name, desc string, types ...string) *Attribute {
	return complexAttr(name, desc, true,
		str("value", "The attribute's significant value."),
		str("display", "A human-readable name, primarily used for display purposes."),
		withCanonical(str("type", "A label indicating the attribute's function."), types...),
		boolean("primary", "Whether this is the primary or preferred value of the attribute."),
	)
}

// CommonAttributes are the attributes every resource has (RFC 7643 §3.1), outside any schema.
var CommonAttributes = []*Attribute{
	{Name: "id", Type: String, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedAlways,
		Uniqueness: UniquenessServer, Description: "Unique identifier for the resource, assigned by the service provider."},
	caseExact(str("externalId", "Identifier of the resource as defined by the provisioning client.")),
	{Name: "meta", Type: Complex, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniquenessNone,
		Description: "Resource metadata.", SubAttributes: []*Attribute{
			{Name: "resourceType", Type: String, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniquenessNone, Description: "The name of the resource type of the resource."},
			{Name: "created", Type: DateTime, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniquenessNone, Description: "When the resource was added to the service provider."},
			{Name: "lastModified", Type: DateTime, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniquenessNone, Description: "When the resource was last modified."},
			{Name: "location", Type: Reference, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniquenessNone, Description: "The URI of the resource, relative to the provider's base URL."},
			{Name: "version", Type: String, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniquenessNone, Description: "The version (weak entity tag) of the resource."},
		}},
}

// Common returns the common attribute named name (id, externalId, meta), case-insensitively, or nil.
func Common(name string) *Attribute { return find(CommonAttributes, name) }

// User is the core User schema, restricted to the attributes ScimUser stores. Passwords are never
// stored and so are not advertised.
var User = &Schema{
	ID:          UserURN,
	Name:        "User",
	Description: "User Account",
	Attributes: []*Attribute{
		{Name: "userName", Type: String, Required: true, Mutability: ReadWrite, Returned: ReturnedAlways,
			Uniqueness: UniquenessServer, Key: v1.IdentityKey,
			Description: "Unique identifier for the User, typically used to sign in. Unique, compared case-insensitively after Unicode compatibility normalization (NFKC); must not begin or end with white space."},
		complexAttr("name", "The components of the user's real name.", false,
			str("formatted", "The full name, formatted for display."),
			str("familyName", "The family name of the User."),
			str("givenName", "The given name of the User."),
			str("middleName", "The middle name(s) of the User."),
			str("honorificPrefix", "The honorific prefix(es) of the User."),
			str("honorificSuffix", "The honorific suffix(es) of the User."),
		),
		str("displayName", "The name of the User, suitable for display to end-users."),
		str("nickName", "The casual way to address the user in real life."),
		{Name: "profileUrl", Type: Reference, ReferenceTypes: []string{"external"}, Mutability: ReadWrite,
			Returned: ReturnedDefault, Uniqueness: UniquenessNone, Description: "A fully qualified URL pointing to a page representing the User's online profile."},
		str("title", "The user's title, such as \"Vice President\"."),
		str("userType", "Identifies the relationship between the organization and the user."),
		str("preferredLanguage", "Indicates the User's preferred written or spoken language."),
		str("locale", "Used to indicate the User's default location for localization."),
		str("timezone", "The User's time zone in the IANA Time Zone database format."),
		boolean("active", "The User's administrative status; false suspends the User."),
		multiValued("emails", "Email addresses for the user.", "work", "home", "other"),
		multiValued("phoneNumbers", "Phone numbers for the User.", "work", "home", "mobile", "fax", "pager", "other"),
		multiValued("ims", "Instant messaging addresses for the User.", "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
		multiValued("photos", "URLs of photos of the User.", "photo", "thumbnail"),
		complexAttr("addresses", "A physical mailing address for this User.", true,
			str("formatted", "The full mailing address, formatted for display."),
			str("streetAddress", "The full street address component."),
			str("locality", "The city or locality component."),
			str("region", "The state or region component."),
			str("postalCode", "The zip code or postal code component."),
			str("country", "The country name component."),
			withCanonical(str("type", "A label indicating the attribute's function."), "work", "home", "other"),
			boolean("primary", "Whether this is the primary address."),
		),
		{Name: "groups", Type: Complex, MultiValued: true, Mutability: ReadOnly, Returned: ReturnedDefault,
			Uniqueness: UniquenessNone, Description: "The groups (roles) the user belongs to; changed through the Groups endpoint only.",
			SubAttributes: []*Attribute{
				{Name: "value", Type: String, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniquenessNone, Description: "The identifier of the User's group."},
				{Name: "display", Type: String, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniquenessNone, Description: "A human-readable name of the group."},
			}},
		multiValued("entitlements", "A list of entitlements for the User."),
		multiValued("roles", "A list of roles for the User, as the provisioning client names them."),
		multiValued("x509Certificates", "A list of certificates issued to the User."),
	},
}

// EnterpriseUser is the enterprise User extension schema (RFC 7643 §4.3).
var EnterpriseUser = &Schema{
	ID:          EnterpriseUserURN,
	Name:        "EnterpriseUser",
	Description: "Enterprise User",
	Attributes: []*Attribute{
		str("employeeNumber", "Numeric or alphanumeric identifier assigned to a person within an organization."),
		str("costCenter", "Identifies the name of a cost center."),
		str("organization", "Identifies the name of an organization."),
		str("division", "Identifies the name of a division."),
		str("department", "Identifies the name of a department."),
		complexAttr("manager", "The User's manager.", false,
			caseExact(str("value", "The id of the SCIM resource representing the User's manager.")),
			&Attribute{Name: "displayName", Type: String, Mutability: ReadOnly, Returned: ReturnedDefault,
				Uniqueness: UniquenessNone, Description: "The displayName of the User's manager; not patchable."},
		),
	},
}

// Group is the core Group schema. Groups are roles.
var Group = &Schema{
	ID:          GroupURN,
	Name:        "Group",
	Description: "Group (a role)",
	Attributes: []*Attribute{
		{Name: "displayName", Type: String, Required: true, Mutability: ReadWrite, Returned: ReturnedDefault,
			Uniqueness: UniquenessServer, Key: v1.IdentityKey,
			Description: "A human-readable name for the Group. Unique, compared case-insensitively after Unicode compatibility normalization (NFKC) and without surrounding white space."},
		{Name: "members", Type: Complex, MultiValued: true, Mutability: ReadWrite, Returned: ReturnedDefault,
			Uniqueness: UniquenessNone, Description: "The members of the Group: Users, by id.",
			SubAttributes: []*Attribute{
				{Name: "value", Type: String, CaseExact: true, Mutability: Immutable, Returned: ReturnedDefault,
					Uniqueness: UniquenessNone, Description: "The id of a User that is a member of the Group."},
				{Name: "display", Type: String, Mutability: ReadWrite, Returned: ReturnedDefault,
					Uniqueness: UniquenessNone, Description: "A human-readable name of the member."},
				{Name: "type", Type: String, CanonicalValues: []string{"User"}, Mutability: Immutable, Returned: ReturnedDefault,
					Uniqueness: UniquenessNone, Description: "The kind of the member: always User (groups do not nest)."},
				{Name: "$ref", Type: Reference, ReferenceTypes: []string{"User"}, CaseExact: true, Mutability: Immutable,
					Returned: ReturnedDefault, Uniqueness: UniquenessNone,
					Description: "The URI of the member's User, relative to the provider's base URL (Users/<id>); accepted absolute."},
			}},
	},
}

// UserResourceType is the User resource type.
var UserResourceType = &ResourceType{
	Name: "User", Endpoint: "/Users", Description: "User Account", Schema: User,
	Extensions: []Extension{{Schema: EnterpriseUser, Required: false}},
}

// GroupResourceType is the Group resource type.
var GroupResourceType = &ResourceType{
	Name: "Group", Endpoint: "/Groups", Description: "Group (a role)", Schema: Group,
}

// ResourceTypes are the resource types this server serves.
var ResourceTypes = []*ResourceType{UserResourceType, GroupResourceType}

// Schemas are the resource schemas this server serves, as listed by /Schemas.
var Schemas = []*Schema{User, EnterpriseUser, Group}
