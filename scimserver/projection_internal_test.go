package scimserver

import (
	"encoding/json"
	"net/url"
	"reflect"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/filter"
	"github.com/scim-operator/scim-operator/scimserver/schema"
)

// projectionDoc is a User as the store renders it, with the enterprise extension.
const projectionDoc = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"id":"a-1","userName":"alice","name":{"givenName":"Alice","familyName":"Smith"},
	"emails":[{"value":"a@work.test","type":"work","primary":true},{"value":"a@home.test","type":"home"}],
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops","manager":{"value":"a-2"}}}`

// A projection never writes into the document it projects, which the store may hand to every
// reader of a resource: whatever attributes or excludedAttributes ask, the document stays as it was.
func TestProjectionLeavesTheDocumentAlone(t *testing.T) {
	params := []string{
		"excludedAttributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
		"excludedAttributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
		"excludedAttributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
		"excludedAttributes=name.givenName,emails.type",
		`excludedAttributes=emails[type eq "work"].value`,
		`excludedAttributes=emails[type eq "work"]`,
		"attributes=name.givenName,name,emails.value",
		"attributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
	}
	for _, param := range params {
		var doc, before map[string]any
		if err := json.Unmarshal([]byte(projectionDoc), &doc); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal([]byte(projectionDoc), &before)
		v, _ := url.ParseQuery(param)
		q, err := queryFromURL(schema.UserResourceType, v, 100, filter.Options{})
		if err != nil {
			t.Fatalf("%s: %v", param, err)
		}
		q.project(doc)
		if !reflect.DeepEqual(doc, before) {
			got, _ := json.Marshal(doc)
			t.Errorf("%s changed the document projected:\n got %s", param, got)
		}
	}
}

// excludedAttributes with a value filter and a sub-attribute takes the sub-attribute out of the
// values the filter selects only.
func TestExcludedFilteredSubAttribute(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(projectionDoc), &doc); err != nil {
		t.Fatal(err)
	}
	v, _ := url.ParseQuery(`excludedAttributes=emails[type eq "work"].value`)
	q, err := queryFromURL(schema.UserResourceType, v, 100, filter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := q.project(doc)["emails"]
	want := []any{map[string]any{"type": "work", "primary": true}, map[string]any{"value": "a@home.test", "type": "home"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("emails: got %v, want %v", got, want)
	}
}
