// Package schema defines the SCIM schemas this server stores and advertises (RFC 7643): the core
// User with the enterprise extension and the core Group, restricted to what ScimUser and ScimRole
// hold, so that everything advertised round-trips. Filters, PATCH and the discovery endpoints are
// all driven by these definitions, and share the value model of value.go: how a value is checked
// against its attribute's type, and whether it is assigned or present.
package schema

import "strings"

// Schema URNs.
const (
	UserURN           = "urn:ietf:params:scim:schemas:core:2.0:User"
	EnterpriseUserURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	GroupURN          = "urn:ietf:params:scim:schemas:core:2.0:Group"

	ListResponseURN          = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	PatchOpURN               = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	ErrorURN                 = "urn:ietf:params:scim:api:messages:2.0:Error"
	SearchRequestURN         = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	BulkRequestURN           = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	BulkResponseURN          = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	ServiceProviderConfigURN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	ResourceTypeURN          = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaURN                = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// Type is a SCIM attribute data type (RFC 7643 §2.3).
type Type string

// Attribute data types.
const (
	String    Type = "string"
	Boolean   Type = "boolean"
	Decimal   Type = "decimal"
	Integer   Type = "integer"
	DateTime  Type = "dateTime"
	Binary    Type = "binary"
	Reference Type = "reference"
	Complex   Type = "complex"
)

// Mutability values (RFC 7643 §7).
const (
	ReadOnly  = "readOnly"
	ReadWrite = "readWrite"
	Immutable = "immutable"
	WriteOnly = "writeOnly"
)

// Returned values (RFC 7643 §7).
const (
	ReturnedAlways  = "always"
	ReturnedNever   = "never"
	ReturnedDefault = "default"
	ReturnedRequest = "request"
)

// Uniqueness values (RFC 7643 §7).
const (
	UniquenessNone   = "none"
	UniquenessServer = "server"
	UniquenessGlobal = "global"
)

// Attribute describes one attribute of a schema (RFC 7643 §7).
type Attribute struct {
	// Name is the attribute's canonical name, e.g. "userName".
	Name string
	// Type is the attribute's data type.
	Type Type
	// MultiValued is true for attributes whose value is a JSON array.
	MultiValued bool
	// Description is the human-readable description advertised in /Schemas.
	Description string
	// Required is true when a resource must carry the attribute.
	Required bool
	// CaseExact is true when string comparisons of the attribute are case-sensitive.
	CaseExact bool
	// Key, when set, is the form string values of an attribute that is not case-exact are compared
	// and sorted in, instead of lower-cased: userName and a Group's displayName compare by their
	// identity key, so that a filter finds exactly the names uniqueness considers equal. co, sw and
	// ew compare keys too, so white space at the ends of their operand is ignored as well.
	Key func(string) string
	// Mutability is one of ReadOnly, ReadWrite, Immutable, WriteOnly.
	Mutability string
	// Returned is one of ReturnedAlways, ReturnedNever, ReturnedDefault, ReturnedRequest.
	Returned string
	// Uniqueness is one of UniquenessNone, UniquenessServer, UniquenessGlobal.
	Uniqueness string
	// CanonicalValues are the values suggested for the attribute, e.g. "work" and "home" for a type.
	CanonicalValues []string
	// ReferenceTypes are the kinds of resource a reference attribute may refer to.
	ReferenceTypes []string
	// SubAttributes are the attributes of a complex attribute.
	SubAttributes []*Attribute
}

// SubAttribute returns the sub-attribute named name, compared case-insensitively, or nil.
func (a *Attribute) SubAttribute(name string) *Attribute {
	return find(a.SubAttributes, name)
}

// Schema is a SCIM schema: a URN and its attributes.
type Schema struct {
	// ID is the schema URN.
	ID string
	// Name is the schema's human-readable name.
	Name string
	// Description is the schema's human-readable description.
	Description string
	// Attributes are the schema's top-level attributes.
	Attributes []*Attribute
}

// Attribute returns the top-level attribute named name, compared case-insensitively, or nil.
func (s *Schema) Attribute(name string) *Attribute {
	return find(s.Attributes, name)
}

func find(attrs []*Attribute, name string) *Attribute {
	for _, a := range attrs {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

// Extension is a schema extension of a resource type.
type Extension struct {
	// Schema is the extension's schema.
	Schema *Schema
	// Required is true when every resource must carry the extension.
	Required bool
}

// ResourceType is a SCIM resource type (RFC 7643 §6): its endpoint, core schema and extensions.
type ResourceType struct {
	// ID and Name, e.g. "User".
	Name string
	// Endpoint is the resource type's path relative to the base URL, e.g. "/Users".
	Endpoint string
	// Description is the human-readable description advertised in /ResourceTypes.
	Description string
	// Schema is the core schema.
	Schema *Schema
	// Extensions are the schema extensions the resource type supports.
	Extensions []Extension
}

// Extension returns the extension schema with the URN urn, compared case-insensitively, or nil.
func (rt *ResourceType) Extension(urn string) *Schema {
	for _, e := range rt.Extensions {
		if strings.EqualFold(e.Schema.ID, urn) {
			return e.Schema
		}
	}
	return nil
}

// Schemas returns the core schema followed by the extension schemas.
func (rt *ResourceType) Schemas() []*Schema {
	out := []*Schema{rt.Schema}
	for _, e := range rt.Extensions {
		out = append(out, e.Schema)
	}
	return out
}

// Path is an attribute path resolved against a resource type: an attribute of the core schema or of
// an extension, optionally one of its sub-attributes.
type Path struct {
	// Schema is the schema that defines Attr (the core schema or an extension); the core schema for
	// the common attributes id, externalId and meta.
	Schema *Schema
	// Attr is the top-level attribute.
	Attr *Attribute
	// Sub is the sub-attribute, or nil.
	Sub *Attribute
}

// Extension reports whether the path is in an extension schema, whose attributes live in the
// resource under the extension's URN.
func (p Path) Extension(rt *ResourceType) bool { return p.Schema != rt.Schema }

// Container returns the object of doc, a resource of type rt, that holds the path's top-level
// attribute: doc itself, or for an extension attribute the object under the extension's URN, which
// create adds when doc has none. Without create it returns nil for an extension doc does not hold.
func (p Path) Container(rt *ResourceType, doc map[string]any, create bool) map[string]any {
	if !p.Extension(rt) {
		return doc
	}
	ext, _ := doc[p.Schema.ID].(map[string]any)
	if ext == nil && create {
		ext = map[string]any{}
		doc[p.Schema.ID] = ext
	}
	return ext
}

// Leaf returns the attribute the path ends at.
func (p Path) Leaf() *Attribute {
	if p.Sub != nil {
		return p.Sub
	}
	return p.Attr
}

// Resolve resolves an attribute path such as "userName", "name.givenName", "emails.value",
// "urn:ietf:params:scim:schemas:core:2.0:User:userName" or
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value" against the resource
// type, case-insensitively. It reports false when no such attribute exists.
func (rt *ResourceType) Resolve(path string) (Path, bool) {
	s := rt.Schema
	for _, sc := range rt.Schemas() {
		if len(path) > len(sc.ID) && strings.EqualFold(path[:len(sc.ID)], sc.ID) && path[len(sc.ID)] == ':' {
			s, path = sc, path[len(sc.ID)+1:]
			break
		}
	}
	name, sub, hasSub := strings.Cut(path, ".")
	attr := s.Attribute(name)
	if attr == nil && s == rt.Schema {
		attr = Common(name) // id, externalId and meta live beside the core attributes
	}
	if attr == nil {
		return Path{}, false
	}
	p := Path{Schema: s, Attr: attr}
	if hasSub {
		p.Sub = attr.SubAttribute(sub)
		if p.Sub == nil {
			return Path{}, false
		}
	}
	return p, true
}
