package scimserver_test

import (
	"reflect"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver"
)

// TestQuirksDecodeValuesAlike checks that every provider reads PATCH values as it reads POST and
// PUT bodies: a tolerance such as boolean strings is switched on for both or for neither.
func TestQuirksDecodeValuesAlike(t *testing.T) {
	for _, provider := range []string{"generic", "okta", "azure", "onelogin"} {
		q := scimserver.QuirksFor(provider)
		if !reflect.DeepEqual(q.Decoding, q.Patch.Decoding) {
			t.Errorf("%s: bodies decode with %+v, PATCH values with %+v", provider, q.Decoding, q.Patch.Decoding)
		}
	}
}
