package schema

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

func TestCanonicalize(t *testing.T) {
	body := map[string]any{
		"Schemas":                         []any{"urn:ietf:params:scim:schemas:core:2.0:user", EnterpriseUserURN},
		"USERNAME":                        "bjensen",
		"name":                            map[string]any{"GivenName": "Barbara"},
		"emails":                          []any{map[string]any{"Value": "b@example.com", "PRIMARY": true}},
		"id":                              "ignored, read-only",
		"groups":                          []any{map[string]any{"value": "r-1"}},
		"password":                        "never stored",
		EnterpriseUserURN + ":department": "Tours",
		"title":                           nil,
	}
	got, err := Canonicalize(UserResourceType, body, Decoding{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"schemas":         []any{UserURN, EnterpriseUserURN},
		"userName":        "bjensen",
		"name":            map[string]any{"givenName": "Barbara"},
		"emails":          []any{map[string]any{"value": "b@example.com", "primary": true}},
		EnterpriseUserURN: map[string]any{"department": "Tours"},
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("got  %s\nwant %s", gotJSON, wantJSON)
	}

	for name, tc := range map[string]struct {
		body map[string]any
		dec  Decoding
		ok   bool
	}{
		"boolean string, strict":      {map[string]any{"active": "False"}, Decoding{}, false},
		"boolean string, Entra":       {map[string]any{"active": "False"}, Decoding{BooleanStrings: true}, true},
		"unknown attribute":           {map[string]any{"shoeSize": 42}, Decoding{}, false},
		"unknown attribute, ignored":  {map[string]any{"shoeSize": 42}, Decoding{IgnoreUnknownAttributes: true}, true},
		"unknown schema":              {map[string]any{"schemas": []any{"urn:x"}}, Decoding{}, false},
		"ignored schema":              {map[string]any{"schemas": []any{"urn:x"}}, Decoding{IgnoredSchemas: []string{"URN:X"}}, true},
		"duplicate in other case":     {map[string]any{"userName": "a", "username": "b"}, Decoding{}, false},
		"string where object belongs": {map[string]any{"name": "Barbara"}, Decoding{}, false},
		"number where string belongs": {map[string]any{"title": 3.0}, Decoding{}, false},
	} {
		_, err := Canonicalize(UserResourceType, tc.body, tc.dec)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok = %v", name, err, tc.ok)
		}
		if err != nil {
			if e := scimerror.As(err); e == nil || e.Status != http.StatusBadRequest {
				t.Errorf("%s: %v is not a 400 SCIM error", name, err)
			}
		}
	}
}

// FuzzCanonicalize feeds arbitrary JSON bodies: never a panic, and every error a 400 SCIM error.
func FuzzCanonicalize(f *testing.F) {
	for _, seed := range []string{
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","name":{"givenName":"b"}}`,
		`{"emails":[{"value":"x","primary":true},null,3],"active":"yes"}`,
		`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"a-1","displayName":"x"}}}`,
		`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"a-1","Schemas":"x"}`,
		`{"displayName":"g","members":[{"value":"a-1","display":"d"},{"$ref":null}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var body map[string]any
		if json.Unmarshal(data, &body) != nil {
			return
		}
		for _, rt := range ResourceTypes {
			for _, dec := range []Decoding{{}, {BooleanStrings: true, IgnoreUnknownAttributes: true}} {
				if _, err := Canonicalize(rt, body, dec); err != nil {
					if e := scimerror.As(err); e == nil || e.Status != http.StatusBadRequest {
						t.Fatalf("%v is not a 400 SCIM error", err)
					}
				}
			}
		}
	})
}
