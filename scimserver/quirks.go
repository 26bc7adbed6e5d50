package scimserver

import (
	"github.com/scim-operator/scim-operator/scimserver/filter"
	"github.com/scim-operator/scim-operator/scimserver/patch"
	"github.com/scim-operator/scim-operator/scimserver/schema"
)

// Quirks are the narrow fixes a provider enables for its client's known deviations from RFC 7644.
// The generic provider enables none: it is strict RFC 7644 plus StrongDM's behaviour.
type Quirks struct {
	// Decoding relaxes resource bodies (POST/PUT).
	Decoding schema.Decoding
	// Patch relaxes PATCH requests. Its Decoding is the same as Decoding, so that a value POST and
	// PUT accept PATCH accepts too.
	Patch patch.Options
	// Filter relaxes filters.
	Filter filter.Options
	// PatchNoContent answers every successful PATCH with 204, as Entra ID's documentation and
	// Microsoft's test collection expect; without it a PATCH that changed something returns 200
	// with the resource.
	PatchNoContent bool
	// IgnoreUnknownMembers ignores member ids of a Group PATCH that name no user, as Microsoft's
	// test collection expects; without it they are 404, as StrongDM answers.
	IgnoreUnknownMembers bool
}

// QuirksFor returns the fixes of the named provider. Each one accepts what the generic provider
// refuses; docs/identity-providers.md lists the same. The azure provider, for Microsoft Entra ID in
// its default dialect and with aadOptscim062020, Microsoft's SCIM validator and its test
// collection, accepts:
//   - boolean attributes sent as strings ("active": "False"), in bodies and PATCH values;
//   - PATCH op values in any case ("Replace", "Add", "Remove");
//   - filter values without quotes (`userName eq alice`);
//   - a bare value for a complex attribute with a value sub-attribute, and a single value for a
//     multi-valued one: the enterprise manager as the manager's id, a member as its id;
//   - "displayName" for the display of a member;
//   - a replace whose value filter matches nothing, which adds that value
//     (`emails[type eq "work"].value` of a user without a work email);
//   - Microsoft's ADSCIM Group schema URN and unknown (misspelled) attributes, ignored;
//   - unknown member ids in a Group PATCH, ignored;
//
// and answers every successful PATCH with 204. Every other provider, okta and generic included, is
// strict: Okta's documented requests need no fix.
func QuirksFor(provider string) Quirks {
	switch provider {
	case "azure":
		return Quirks{
			Decoding: schema.MicrosoftEntra(),
			Patch:    patch.MicrosoftEntra(),
			Filter:   filter.Options{UnquotedStrings: true},

			PatchNoContent:       true,
			IgnoreUnknownMembers: true,
		}
	}
	return Quirks{}
}
