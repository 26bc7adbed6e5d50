package v1alpha1

// MultiValuedAttribute is one value of a SCIM multi-valued attribute of the common shape of RFC 7643
// §2.4 (emails, phoneNumbers, ims, photos, entitlements, roles, x509Certificates).
type MultiValuedAttribute struct {
	// value is the attribute's significant value, e.g. an e-mail address or a phone number.
	// +optional
	Value string `json:"value,omitempty"`

	// display is a human-readable name of the value.
	// +optional
	Display string `json:"display,omitempty"`

	// type is a label for the value's function, e.g. "work" or "home".
	// +optional
	Type string `json:"type,omitempty"`

	// primary marks the preferred value of the attribute; at most one value is primary. A false
	// value is kept as sent, so that it round-trips.
	// +optional
	Primary *bool `json:"primary,omitempty"`
}

// Address is a physical mailing address of a user (RFC 7643 §4.1.2, "addresses").
type Address struct {
	// formatted is the full mailing address, formatted for display or for a mailing label.
	// +optional
	Formatted string `json:"formatted,omitempty"`

	// streetAddress is the full street address, which may include a house number, street name,
	// P.O. box and multi-line extended street address information.
	// +optional
	StreetAddress string `json:"streetAddress,omitempty"`

	// locality is the city or locality.
	// +optional
	Locality string `json:"locality,omitempty"`

	// region is the state or region.
	// +optional
	Region string `json:"region,omitempty"`

	// postalCode is the zip code or postal code.
	// +optional
	PostalCode string `json:"postalCode,omitempty"`

	// country is the country name, in ISO 3166-1 "alpha-2" code format where the IdP sends one.
	// +optional
	Country string `json:"country,omitempty"`

	// type is a label for the address's function, e.g. "work" or "home".
	// +optional
	Type string `json:"type,omitempty"`

	// primary marks the preferred mailing address; at most one address is primary. A false value is
	// kept as sent, so that it round-trips.
	// +optional
	Primary *bool `json:"primary,omitempty"`
}
