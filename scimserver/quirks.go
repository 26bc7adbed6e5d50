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
	// Patch relaxes PATCH requests.
	Patch patch.Options
	// Filter relaxes filters.
	Filter filter.Options
}

// QuirksFor returns the fixes of the named provider:
//   - azure (Microsoft Entra ID): boolean attributes sent as strings ("active": "False") and PATCH
//     op values in any case ("Replace", "Add", "Remove"), and filter values without quotes
//     (`userName eq alice`), which Microsoft's SCIM validator sends.
//
// Every other provider, okta and generic included, is strict.
func QuirksFor(provider string) Quirks {
	switch provider {
	case "azure":
		return Quirks{
			Decoding: schema.Decoding{BooleanStrings: true},
			Patch:    patch.MicrosoftEntra(),
			Filter:   filter.Options{UnquotedStrings: true},
		}
	}
	return Quirks{}
}
