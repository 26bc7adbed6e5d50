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

// QuirksFor returns the fixes of the named provider:
//   - azure (Microsoft Entra ID): boolean attributes sent as strings ("active": "False") and PATCH
//     op values in any case ("Replace", "Add", "Remove"), and filter values without quotes
//     (`userName eq alice`), which Microsoft's SCIM validator sends; Microsoft's ADSCIM Group schema
//     URN and misspelled attributes ignored; 204 for every successful PATCH; unknown member ids
//     of a Group PATCH ignored.
//
// Every other provider, okta and generic included, is strict.
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
