package patch

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

type (
	M = map[string]any
	A = []any
)

const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// userJSON is a user as the server holds it, shaped like StrongDM's examples.
const userJSON = `{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
	"id": "a-7be349506171902f",
	"userName": "alice.glick@strongdm.com",
	"name": {"givenName": "Alice", "familyName": "Glick", "formatted": "Alice Glick"},
	"displayName": "Alice Glick",
	"active": true,
	"userType": "user",
	"emails": [{"primary": true, "value": "alice.glick@strongdm.com"}],
	"groups": [],
	"meta": {"resourceType": "User", "location": "Users/a-7be349506171902f"}
}`

// managedUserJSON is a user with the enterprise extension and typed emails.
const managedUserJSON = `{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"id": "a-0001",
	"userName": "bjensen",
	"emails": [
		{"value": "bjensen@example.com", "type": "work", "primary": true},
		{"value": "babs@jensen.org", "type": "home"}
	],
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
		"department": "Tour Operations",
		"manager": {"value": "a-0002", "displayName": "John Smith"}
	}
}`

// groupJSON is a group (a role) as the server holds it.
const groupJSON = `{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
	"id": "r-027230536171b51d",
	"displayName": "RoleName",
	"members": [
		{"value": "a-0001", "display": "one@example.test"},
		{"value": "a-0002", "display": "two@example.test"}
	],
	"meta": {"resourceType": "Group", "location": "Groups/r-027230536171b51d"}
}`

func body(ops ...string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + strings.Join(ops, ",") + `]}`
}

func decodeDoc(t testing.TB, s string) M {
	t.Helper()
	var doc M
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatalf("test document: %v", err)
	}
	return doc
}

// normalize round-trips a document through JSON, so that json.Number and float64 compare equal.
func normalize(t testing.TB, doc M) M {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return decodeDoc(t, string(b))
}

func render(doc M) string {
	b, _ := json.MarshalIndent(doc, "", "  ")
	return string(b)
}

type applyTest struct {
	name string
	rt   *schema.ResourceType // UserResourceType when nil
	doc  string               // userJSON (or groupJSON for groups) when ""
	opts Options
	body string
	// want edits a copy of the document into the expected result; nil when the document must not
	// change.
	want func(d M)
	// scimType and detail are the error expected, if any.
	scimType, detail string
}

func runApplyTests(t *testing.T, tests []applyTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, docJSON := tt.rt, tt.doc
			if rt == nil {
				rt = schema.UserResourceType
			}
			if docJSON == "" {
				docJSON = userJSON
				if rt == schema.GroupResourceType {
					docJSON = groupJSON
				}
			}
			doc, want := decodeDoc(t, docJSON), decodeDoc(t, docJSON)
			if tt.want != nil {
				tt.want(want)
			}
			req, err := Parse([]byte(tt.body), tt.opts)
			var changed bool
			if err == nil {
				changed, err = req.Apply(rt, doc)
			}
			if tt.scimType != "" {
				assertSCIMError(t, err, tt.scimType, tt.detail)
				if !reflect.DeepEqual(doc, decodeDoc(t, docJSON)) {
					t.Errorf("the document changed although the request failed:\n%s", render(doc))
				}
				return
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if changed != (tt.want != nil) {
				t.Errorf("changed = %v, want %v", changed, tt.want != nil)
			}
			if got := normalize(t, doc); !reflect.DeepEqual(got, want) {
				t.Errorf("document:\n%s\nwant:\n%s", render(got), render(want))
			}
		})
	}
}

func assertSCIMError(t *testing.T, err error, scimType, detail string) {
	t.Helper()
	e := scimerror.As(err)
	if e == nil {
		t.Fatalf("error = %v, want a 400 %s", err, scimType)
	}
	if e.Status != http.StatusBadRequest || e.ScimType != scimType {
		t.Errorf("error = %v, want 400 %s", e, scimType)
	}
	if !strings.Contains(e.Detail, detail) {
		t.Errorf("detail = %q, want it to contain %q", e.Detail, detail)
	}
}

func membersOf(d M) A { return d["members"].(A) }

// TestStrongDM covers the request shapes of StrongDM's documentation (§4 and §8b of
// reference/strongdm-scim-endpoints.md) and of its Go client (§9).
func TestStrongDM(t *testing.T) {
	group := schema.GroupResourceType
	runApplyTests(t, []applyTest{
		{name: "§4 suspend a user", body: body(`{"op": "replace", "value": {"active": false}}`),
			want: func(d M) { d["active"] = false }},
		{name: "§4 the example request leaves an active user unchanged",
			body: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			 "Operations": [{"op": "replace", "value": {"active": true}}]}`},
		{name: "§4 groups are not patchable", body: body(`{"op": "replace", "value": {"groups": [{"value": "r-1"}]}}`),
			scimType: scimerror.Mutability, detail: "groups is readOnly"},
		{name: "§4 manager.displayName is not patchable",
			body:     body(`{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName", "value": "x"}`),
			scimType: scimerror.Mutability, detail: "manager.displayName is readOnly"},
		{name: "§8b add members", rt: group,
			body: body(`{"op": "add", "path": "members", "value": [{"value":"a-0003","display":"myUser@example.test"}]}`),
			want: func(d M) { d["members"] = append(membersOf(d), M{"value": "a-0003", "display": "myUser@example.test"}) }},
		{name: "§8b add a member already there", rt: group,
			body: body(`{"op": "add", "path": "members", "value": [{"value":"a-0001","display":"one@example.test"}]}`)},
		{name: "§8b add a member already there with a new display", rt: group,
			body: body(`{"op": "add", "path": "members", "value": [{"value":"a-0001","display":"new@example.test"}]}`),
			want: func(d M) { membersOf(d)[0].(M)["display"] = "new@example.test" }},
		{name: "§8b update the role's name", rt: group,
			body: body(`{"op": "replace", "value": {"displayName": "newName"}}`),
			want: func(d M) { d["displayName"] = "newName" }},
		{name: "§8b update the role's name with its own id", rt: group,
			body: body(`{"op": "replace", "value": {"id": "r-027230536171b51d", "displayName": "newName"}}`),
			want: func(d M) { d["displayName"] = "newName" }},
		{name: "§8b another id is not the role's to change", rt: group,
			body:     body(`{"op": "replace", "value": {"id": "r-274512e66171c631", "displayName": "newName"}}`),
			scimType: scimerror.Mutability, detail: "id is readOnly"},
		{name: "§8b replace the members", rt: group,
			body: body(`{"op": "replace", "path": "members", "value": [{"value":"a-0001","display":"myUser@example.test"}]}`),
			want: func(d M) { d["members"] = A{M{"value": "a-0001", "display": "myUser@example.test"}} }},
		{name: "§8b remove a member by id", rt: group,
			body: body(`{"op": "remove", "path": "members[value eq \"a-0001\"]"}`),
			want: func(d M) { d["members"] = membersOf(d)[1:] }},
		{name: "§8b removing a member that is not there changes nothing", rt: group,
			body: body(`{"op": "remove", "path": "members[value eq \"a-0009\"]"}`)},
		{name: "§8b member ids are case-exact", rt: group,
			body: body(`{"op": "remove", "path": "members[value eq \"A-0001\"]"}`)},
		{name: "§9 the client's group PATCH with \"Schemas\"", rt: group,
			body: `{"Schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"a-0002\"]"}]}`,
			want: func(d M) { d["members"] = membersOf(d)[:1] }},
		{name: "§9 the client's replace of members, display = userName", rt: group,
			body: `{"Schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"members","value":[{"value":"a-0002","display":"two"}]}]}`,
			want: func(d M) { d["members"] = A{M{"value": "a-0002", "display": "two"}} }},
		{name: "§9 the client's user PATCH", body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
			want: func(d M) { d["active"] = false }},
		{name: "§9 the client's rename", rt: group,
			body: `{"Schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"displayName":"Renamed"}}]}`,
			want: func(d M) { d["displayName"] = "Renamed" }},
		{name: "§8b remove all members", rt: group, body: body(`{"op": "remove", "path": "members"}`),
			want: func(d M) { delete(d, "members") }},
		{name: "§8b the documented rename, typo included, is not JSON", rt: group,
			body:     `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"displayName: "newName"}}]}`,
			scimType: scimerror.InvalidSyntax, detail: "must be a JSON object"},
		{name: "§8b several operations at once", rt: group,
			body: body(`{"op": "add", "path": "members", "value": [{"value":"a-0003","display":"three"}]}`,
				`{"op": "remove", "path": "members[value eq \"a-0001\"]"}`,
				`{"op": "replace", "value": {"displayName": "newName"}}`),
			want: func(d M) {
				d["members"] = A{membersOf(d)[1], M{"value": "a-0003", "display": "three"}}
				d["displayName"] = "newName"
			}},
	})
}

// TestMicrosoftEntra covers the PATCH shapes Microsoft Entra ID sends, with and without its
// tolerances.
func TestMicrosoftEntra(t *testing.T) {
	entra := MicrosoftEntra()
	group := schema.GroupResourceType
	runApplyTests(t, []applyTest{
		{name: "deactivate with a boolean string", opts: entra,
			body: body(`{"op":"Replace","path":"active","value":"False"}`),
			want: func(d M) { d["active"] = false }},
		{name: "activate with a boolean string leaves an active user", opts: entra,
			body: body(`{"op":"Replace","path":"active","value":"True"}`)},
		{name: "op in any case is strict RFC's invalidSyntax",
			body:     body(`{"op":"Replace","path":"active","value":false}`),
			scimType: scimerror.InvalidSyntax, detail: `op "Replace" must be written in lower case: "replace"`},
		{name: "a boolean string is strict RFC's invalidValue",
			body:     body(`{"op":"replace","path":"active","value":"False"}`),
			scimType: scimerror.InvalidValue, detail: `active must be a boolean (true or false), not the string "False"`},
		{name: "only true and false are boolean strings", opts: entra,
			body:     body(`{"op":"Replace","path":"active","value":"no"}`),
			scimType: scimerror.InvalidValue, detail: "active must be a boolean"},
		{name: "boolean strings in a value object", opts: entra,
			body: body(`{"op":"Replace","value":{"active":"false","emails":[{"value":"a@example.com","primary":"True"}]}}`),
			want: func(d M) {
				d["active"] = false
				d["emails"] = A{M{"value": "a@example.com", "primary": true}}
			}},
		{name: "add a member", rt: group, opts: entra,
			body: body(`{"op":"Add","path":"members","value":[{"value":"a-0003"}]}`),
			want: func(d M) { d["members"] = append(membersOf(d), M{"value": "a-0003"}) }},
		{name: "remove a member given as value", rt: group, opts: entra,
			body: body(`{"op":"Remove","path":"members","value":[{"value":"a-0001"}]}`),
			want: func(d M) { d["members"] = membersOf(d)[1:] }},
		{name: "remove a member given as value, strict RFC too", rt: group,
			body: body(`{"op":"remove","path":"members","value":[{"value":"a-0002"}]}`),
			want: func(d M) { d["members"] = membersOf(d)[:1] }},
		{name: "remove members given as value that are not there", rt: group, opts: entra,
			body: body(`{"op":"Remove","path":"members","value":[{"value":"a-0009"}]}`)},
		{name: "remove the last members given as value", rt: group, opts: entra,
			body: body(`{"op":"Remove","path":"members","value":[{"value":"a-0001"},{"value":"a-0002"}]}`),
			want: func(d M) { delete(d, "members") }},
		{name: "manager by flattened URN key", opts: entra,
			body: body(`{"op":"Add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"a-0009"}}`),
			want: func(d M) {
				d[enterprise] = M{"manager": M{"value": "a-0009"}}
				d["schemas"] = append(d["schemas"].(A), enterprise)
			}},
		{name: "manager by URN path", opts: entra,
			body: body(`{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"a-0009"}`),
			want: func(d M) {
				d[enterprise] = M{"manager": M{"value": "a-0009"}}
				d["schemas"] = append(d["schemas"].(A), enterprise)
			}},
		{name: "change the manager", opts: entra, doc: managedUserJSON,
			body: body(`{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"a-0003"}`),
			want: func(d M) { d[enterprise].(M)["manager"].(M)["value"] = "a-0003" }},
		{name: "a bare manager id is strict RFC's invalidValue",
			body:     body(`{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"a-0009"}}`),
			scimType: scimerror.InvalidValue, detail: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager must be an object with the sub-attributes value, displayName, not the string \"a-0009\""},
		{name: "remove the manager, and the extension with it", opts: entra,
			doc:  `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"], "userName": "x", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "a-2"}}}`,
			body: body(`{"op":"Remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}`),
			want: func(d M) {
				delete(d, enterprise)
				d["schemas"] = A{schema.UserURN}
			}},
		{name: "add a work email by value filter", opts: entra,
			body: body(`{"op":"Add","path":"emails[type eq \"work\"].value","value":"alice@work.example"}`),
			want: func(d M) { d["emails"] = append(d["emails"].(A), M{"type": "work", "value": "alice@work.example"}) }},
		{name: "change the work email by value filter", opts: entra, doc: managedUserJSON,
			body: body(`{"op":"Add","path":"emails[type eq \"work\"].value","value":"b@example.com"}`),
			want: func(d M) { d["emails"].(A)[0].(M)["value"] = "b@example.com" }},
		{name: "replace the work email when there is none", opts: entra,
			body: body(`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"alice@work.example"}`),
			want: func(d M) { d["emails"] = append(d["emails"].(A), M{"type": "work", "value": "alice@work.example"}) }},
		{name: "replace the work email when there is none is strict RFC's noTarget",
			body:     body(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"alice@work.example"}`),
			scimType: scimerror.NoTarget, detail: `no value of emails matches emails[type eq "work"].value`},
		{name: "set the given name", opts: entra,
			body: body(`{"op":"Replace","path":"name.givenName","value":"Alicia"}`),
			want: func(d M) { d["name"].(M)["givenName"] = "Alicia" }},
		{name: "set the department", opts: entra,
			body: body(`{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}`),
			want: func(d M) {
				d[enterprise] = M{"department": "Sales"}
				d["schemas"] = append(d["schemas"].(A), enterprise)
			}},
		{name: "several attributes at once", opts: entra,
			body: body(`{"op":"Replace","path":"displayName","value":"Alicia Glick"}`,
				`{"op":"Replace","path":"title","value":"Engineer"}`,
				`{"op":"Add","path":"externalId","value":"00aa00aa-bb11-cc22-dd33-44ee44ee44ee"}`),
			want: func(d M) {
				d["displayName"], d["title"] = "Alicia Glick", "Engineer"
				d["externalId"] = "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
			}},
	})
}

// TestOkta covers the PATCH shapes Okta sends.
func TestOkta(t *testing.T) {
	group := schema.GroupResourceType
	runApplyTests(t, []applyTest{
		{name: "deactivate, with the user's own id in the value",
			body: body(`{"op":"replace","value":{"id":"a-7be349506171902f","active":false}}`),
			want: func(d M) { d["active"] = false }},
		{name: "reactivating an active user changes nothing",
			body: body(`{"op":"replace","value":{"id":"a-7be349506171902f","active":true}}`)},
		{name: "rename a group, with its own id", rt: group,
			body: body(`{"op":"replace","value":{"id":"r-027230536171b51d","displayName":"Okta Group"}}`),
			want: func(d M) { d["displayName"] = "Okta Group" }},
		{name: "remove a member", rt: group,
			body: body(`{"op":"remove","path":"members[value eq \"a-0002\"]"}`),
			want: func(d M) { d["members"] = membersOf(d)[:1] }},
		{name: "add a member with display", rt: group,
			body: body(`{"op":"add","path":"members","value":[{"value":"a-0003","display":"carol@example.com"}]}`),
			want: func(d M) { d["members"] = append(membersOf(d), M{"value": "a-0003", "display": "carol@example.com"}) }},
		{name: "profile update with dotted keys",
			body: body(`{"op":"replace","value":{"name.givenName":"Alicia","name.familyName":"Glick-Smith","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Ops"}}`),
			want: func(d M) {
				d["name"].(M)["givenName"], d["name"].(M)["familyName"] = "Alicia", "Glick-Smith"
				d[enterprise] = M{"department": "Ops"}
				d["schemas"] = append(d["schemas"].(A), enterprise)
			}},
	})
}

// TestMicrosoftCollection covers the PATCH bodies of Microsoft's SCIM test collection
// (conformance/microsoft-scim-tests.postman_collection.json).
func TestMicrosoftCollection(t *testing.T) {
	entra := MicrosoftEntra()
	group := schema.GroupResourceType
	const addMember = `{
		"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations": [{"name": "addMember", "op": "add", "path": "members",
			"value": [{"displayName":"new User", "value":"a-0004"}]}]
	}`
	const garbageMember = `{
		"id": "r-027230536171b51d",
		"Operations": [{"op":"add", "path": "members", "value": "string id 1"}],
		"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]
	}`
	runApplyTests(t, []applyTest{
		{name: "patch user1",
			body: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "userName", "value": "ryan3"}]}`,
			want: func(d M) { d["userName"] = "ryan3" }},
		{name: "Patch add user4 to group1", rt: group, opts: entra, body: addMember,
			want: func(d M) { d["members"] = append(membersOf(d), M{"value": "a-0004", "display": "new User"}) }},
		{name: "Patch add user4 to group1, strict RFC", rt: group, body: addMember,
			scimType: scimerror.InvalidValue, detail: `members[0] has no sub-attribute "displayName"; its sub-attributes are value, display`},
		{name: "Patch remove user4 to group1", rt: group,
			doc:  `{"id": "r-1", "displayName": "g", "members": [{"value": "a-0004", "display": "new User"}]}`,
			body: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": "members[value eq \"a-0004\"]"}]}`,
			want: func(d M) { delete(d, "members") }},
		{name: "Patch remove all users", rt: group,
			body: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": "members"}]}`,
			want: func(d M) { delete(d, "members") }},
		{name: "Patch user omalley new username", opts: entra,
			body: `{ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations":[{"op":"Replace", "path":"userName", "value":"newusername"}]}`,
			want: func(d M) { d["userName"] = "newusername" }},
		{name: "patch user omalley active with boolean", opts: entra,
			body: `{ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations":[{"op":"Replace", "path":"active", "value": false}]}`,
			want: func(d M) { d["active"] = false }},
		{name: "Group patch add member", rt: group, opts: entra, body: garbageMember,
			want: func(d M) { d["members"] = append(membersOf(d), M{"value": "string id 1"}) }},
		{name: "Group patch add member, strict RFC", rt: group, body: garbageMember,
			scimType: scimerror.InvalidValue, detail: `members is multi-valued: its value must be an array, not the string "string id 1"`},
	})
}

// TestRFC7644 covers RFC 7644 §3.5.2's semantics and examples.
func TestRFC7644(t *testing.T) {
	managed := managedUserJSON
	runApplyTests(t, []applyTest{
		// add (§3.5.2.1)
		{name: "add without path merges attributes", doc: managed,
			body: body(`{"op":"add","value":{"emails":[{"value":"babs@jensen.org","type":"home"},{"value":"b@example.org","type":"other"}],"nickName":"Babs"}}`),
			want: func(d M) {
				d["emails"] = append(d["emails"].(A), M{"value": "b@example.org", "type": "other"})
				d["nickName"] = "Babs"
			}},
		{name: "add a complex attribute merges sub-attributes",
			body: body(`{"op":"add","path":"name","value":{"middleName":"Jane","givenName":"Alicia"}}`),
			want: func(d M) { d["name"].(M)["middleName"], d["name"].(M)["givenName"] = "Jane", "Alicia" }},
		{name: "add an email value that differs only in case is no new value",
			body: body(`{"op":"add","path":"emails","value":[{"value":"ALICE.GLICK@strongdm.com"}]}`)},
		{name: "add an attribute that was unassigned",
			body: body(`{"op":"add","path":"nickName","value":"Al"}`),
			want: func(d M) { d["nickName"] = "Al" }},
		{name: "add the value a filter describes, joined by and", doc: managed,
			body: body(`{"op":"add","path":"emails[type eq \"other\" and primary eq false].value","value":"x@example.org"}`),
			want: func(d M) {
				d["emails"] = append(d["emails"].(A), M{"value": "x@example.org", "type": "other", "primary": false})
			}},
		{name: "add to a filter that describes no value", doc: managed,
			body:     body(`{"op":"add","path":"emails[type eq \"other\" or type eq \"x\"].value","value":"x@example.org"}`),
			scimType: scimerror.NoTarget, detail: "does not say what value to add"},
		{name: "add to selected values merges into each of them", doc: managed,
			body: body(`{"op":"add","path":"emails[value ew \".org\"]","value":{"display":"Babs at home"}}`),
			want: func(d M) { d["emails"].(A)[1].(M)["display"] = "Babs at home" }},
		// replace (§3.5.2.3)
		{name: "replace a simple attribute",
			body: body(`{"op":"replace","path":"userName","value":"alice"}`),
			want: func(d M) { d["userName"] = "alice" }},
		{name: "replace a complex attribute keeps the sub-attributes not named",
			body: body(`{"op":"replace","path":"name","value":{"familyName":"Smith"}}`),
			want: func(d M) { d["name"].(M)["familyName"] = "Smith" }},
		{name: "replace a multi-valued attribute replaces all its values", doc: managed,
			body: body(`{"op":"replace","path":"emails","value":[{"value":"new@example.com","type":"work"}]}`),
			want: func(d M) { d["emails"] = A{M{"value": "new@example.com", "type": "work"}} }},
		{name: "replace a sub-attribute of the values a filter selects", doc: managed,
			body: body(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"bj@example.com"}`),
			want: func(d M) { d["emails"].(A)[0].(M)["value"] = "bj@example.com" }},
		{name: "replace the values a filter selects", doc: managed,
			body: body(`{"op":"replace","path":"emails[type eq \"home\"]","value":{"value":"b@jensen.org","type":"home"}}`),
			want: func(d M) { d["emails"].(A)[1].(M)["value"] = "b@jensen.org" }},
		{name: "replace with a filter matching nothing", doc: managed,
			body:     body(`{"op":"replace","path":"addresses[type eq \"work\"]","value":{"type":"work","streetAddress":"100 Universal City Plaza"}}`),
			scimType: scimerror.NoTarget, detail: `no value of addresses matches addresses[type eq "work"]`},
		{name: "replace with null unassigns",
			body: body(`{"op":"replace","path":"displayName","value":null}`),
			want: func(d M) { delete(d, "displayName") }},
		{name: "replace a sub-attribute with null unassigns it",
			body: body(`{"op":"replace","value":{"name":{"formatted":null}}}`),
			want: func(d M) { delete(d["name"].(M), "formatted") }},
		{name: "replace with an equal value changes nothing",
			body: body(`{"op":"replace","value":{"userName":"alice.glick@strongdm.com","name":{"givenName":"Alice"}}}`)},
		{name: "replace an enterprise attribute by schema object", doc: managed,
			body: body(`{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","manager":{"value":"a-0003"}}}}`),
			want: func(d M) {
				ext := d[enterprise].(M)
				ext["department"] = "Sales"
				ext["manager"].(M)["value"] = "a-0003"
			}},
		{name: "the extension URN as path", doc: managed,
			body: body(`{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"costCenter":"4130"}}`),
			want: func(d M) { d[enterprise].(M)["costCenter"] = "4130" }},
		{name: "manager.value by URN path", doc: managed,
			body: body(`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value","value":"a-0003"}`),
			want: func(d M) { d[enterprise].(M)["manager"].(M)["value"] = "a-0003" }},
		{name: "a manager repeating its displayName", doc: managed,
			body: body(`{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":{"value":"a-0003","displayName":"John Smith"}}}`),
			want: func(d M) { d[enterprise].(M)["manager"].(M)["value"] = "a-0003" }},
		{name: "a core URN-prefixed path",
			body: body(`{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName","value":"Alicia"}`),
			want: func(d M) { d["name"].(M)["givenName"] = "Alicia" }},
		{name: "no-path value keys with a value filter", doc: managed,
			body: body(`{"op":"replace","value":{"emails[type eq \"work\"].value":"bj@example.com","emails[type eq \"home\"].display":"Babs"}}`),
			want: func(d M) {
				d["emails"].(A)[0].(M)["value"] = "bj@example.com"
				d["emails"].(A)[1].(M)["display"] = "Babs"
			}},
		{name: "the core schema's attributes in an object",
			body: body(`{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User":{"nickName":"Al","name":{"givenName":"Alicia"}}}}`),
			want: func(d M) {
				d["nickName"] = "Al"
				d["name"].(M)["givenName"] = "Alicia"
			}},
		{name: "schemas in a value is the server's and ignored",
			body: body(`{"op":"replace","value":{"schemas":["urn:x"],"nickName":"Al"}}`),
			want: func(d M) { d["nickName"] = "Al" }},
		{name: "a sub-attribute of every value", doc: managed,
			body: body(`{"op":"replace","path":"emails.display","value":"Babs"}`),
			want: func(d M) {
				for _, e := range d["emails"].(A) {
					e.(M)["display"] = "Babs"
				}
			}},
		// remove (§3.5.2.2)
		{name: "remove a simple attribute", body: body(`{"op":"remove","path":"displayName"}`),
			want: func(d M) { delete(d, "displayName") }},
		{name: "remove an unassigned attribute changes nothing", body: body(`{"op":"remove","path":"nickName"}`)},
		{name: "remove a sub-attribute", body: body(`{"op":"remove","path":"name.formatted"}`),
			want: func(d M) { delete(d["name"].(M), "formatted") }},
		{name: "remove the last sub-attribute removes the attribute",
			doc: `{"name": {"givenName": "A"}}`, body: body(`{"op":"remove","path":"name.givenName"}`),
			want: func(d M) { delete(d, "name") }},
		{name: "remove the values a filter selects", doc: managed,
			body: body(`{"op":"remove","path":"emails[type eq \"work\" and value ew \"example.com\"]"}`),
			want: func(d M) { d["emails"] = d["emails"].(A)[1:] }},
		{name: "remove a sub-attribute of the values a filter selects", doc: managed,
			body: body(`{"op":"remove","path":"emails[type eq \"work\"].primary"}`),
			want: func(d M) { delete(d["emails"].(A)[0].(M), "primary") }},
		{name: "remove a multi-valued attribute", doc: managed, body: body(`{"op":"remove","path":"emails"}`),
			want: func(d M) { delete(d, "emails") }},
		{name: "remove a sub-attribute of every value", doc: managed, body: body(`{"op":"remove","path":"emails.type"}`),
			want: func(d M) {
				for _, e := range d["emails"].(A) {
					delete(e.(M), "type")
				}
			}},
		{name: "remove without path", body: body(`{"op":"remove"}`),
			scimType: scimerror.NoTarget, detail: "remove needs a path"},
		{name: "remove the enterprise extension by URN", doc: managed,
			body: body(`{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}`),
			want: func(d M) {
				delete(d, enterprise)
				d["schemas"] = A{schema.UserURN}
			}},
		{name: "remove the core schema",
			body:     body(`{"op":"remove","path":"urn:ietf:params:scim:schemas:core:2.0:User"}`),
			scimType: scimerror.InvalidPath, detail: "cannot be removed"},
	})
}

// TestPrimary covers RFC 7643 §2.4: at most one value is primary.
func TestPrimary(t *testing.T) {
	managed := managedUserJSON
	runApplyTests(t, []applyTest{
		{name: "adding a primary value takes primary from the others", doc: managed,
			body: body(`{"op":"add","path":"emails","value":[{"value":"new@example.com","type":"other","primary":true}]}`),
			want: func(d M) {
				d["emails"].(A)[0].(M)["primary"] = false
				d["emails"] = append(d["emails"].(A), M{"value": "new@example.com", "type": "other", "primary": true})
			}},
		{name: "making a selected value primary", doc: managed,
			body: body(`{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}`),
			want: func(d M) {
				d["emails"].(A)[0].(M)["primary"] = false
				d["emails"].(A)[1].(M)["primary"] = true
			}},
		{name: "two primary values", doc: managed,
			body:     body(`{"op":"replace","path":"emails","value":[{"value":"a@x.org","primary":true},{"value":"b@x.org","primary":true}]}`),
			scimType: scimerror.InvalidValue, detail: "at most one value of emails may be primary"},
		{name: "a primary value replacing all", doc: managed,
			body: body(`{"op":"replace","path":"emails","value":[{"value":"a@x.org","primary":true},{"value":"b@x.org"}]}`),
			want: func(d M) { d["emails"] = A{M{"value": "a@x.org", "primary": true}, M{"value": "b@x.org"}} }},
	})
}

// TestValidation covers the errors for paths and values that do not fit the schema.
func TestValidation(t *testing.T) {
	group := schema.GroupResourceType
	managed := managedUserJSON
	runApplyTests(t, []applyTest{
		// Unknown attributes and malformed paths.
		{name: "unknown attribute", body: body(`{"op":"replace","path":"nonsense","value":"x"}`),
			scimType: scimerror.InvalidPath, detail: `unknown attribute "nonsense"`},
		{name: "unknown sub-attribute", body: body(`{"op":"replace","path":"name.nonsense","value":"x"}`),
			scimType: scimerror.InvalidPath, detail: `unknown attribute "name.nonsense"`},
		{name: "unknown attribute in a value", body: body(`{"op":"replace","value":{"nonsense":"x"}}`),
			scimType: scimerror.InvalidPath, detail: `value member "nonsense": unknown attribute "nonsense"`},
		{name: "unknown attribute of the extension", body: body(`{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"nonsense":"x"}}}`),
			scimType: scimerror.InvalidPath, detail: `unknown attribute "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nonsense"`},
		{name: "user attribute on a group", rt: group, body: body(`{"op":"replace","path":"userName","value":"x"}`),
			scimType: scimerror.InvalidPath, detail: `resource type Group has no such attribute`},
		{name: "unknown sub-attribute in a filter", rt: group, body: body(`{"op":"remove","path":"members[nonsense eq \"x\"]"}`),
			scimType: scimerror.InvalidFilter, detail: `unknown sub-attribute "nonsense" in a value filter of members`},
		{name: "unknown sub-attribute after a filter", rt: group, body: body(`{"op":"replace","path":"members[value eq \"a-0001\"].nonsense","value":"x"}`),
			scimType: scimerror.InvalidPath, detail: `members has no sub-attribute "nonsense"`},
		{name: "malformed path", body: body(`{"op":"replace","path":"name..givenName","value":"x"}`),
			scimType: scimerror.InvalidPath, detail: `invalid path "name..givenName"`},
		{name: "unclosed filter", rt: group, body: body(`{"op":"remove","path":"members[value eq \"a-0001\""}`),
			scimType: scimerror.InvalidPath, detail: `missing a closing "]"`},
		{name: "the StrongDM doc typo", rt: group, body: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": "members[value eq "a-0001"]}]}`,
			scimType: scimerror.InvalidSyntax, detail: "JSON object"},
		{name: "filter on a single-valued attribute", body: body(`{"op":"remove","path":"name[givenName eq \"x\"]"}`),
			scimType: scimerror.InvalidPath, detail: "multi-valued complex attribute"},
		{name: "boolean compared with gt in a filter", body: body(`{"op":"remove","path":"emails[primary gt true]"}`),
			scimType: scimerror.InvalidFilter, detail: "emails.primary is a boolean attribute"},
		// Mutability.
		{name: "replace id", body: body(`{"op":"replace","path":"id","value":"a-1"}`),
			scimType: scimerror.Mutability, detail: "id is readOnly"},
		{name: "remove id", body: body(`{"op":"remove","path":"id"}`),
			scimType: scimerror.Mutability, detail: "id is readOnly and cannot be removed"},
		{name: "replace meta", body: body(`{"op":"replace","path":"meta.lastModified","value":"2024-01-01T00:00:00Z"}`),
			scimType: scimerror.Mutability, detail: "meta.lastModified is readOnly"},
		{name: "add groups", body: body(`{"op":"add","path":"groups","value":[{"value":"r-1"}]}`),
			scimType: scimerror.Mutability, detail: "groups is readOnly"},
		{name: "remove groups", body: body(`{"op":"remove","path":"groups"}`),
			scimType: scimerror.Mutability, detail: "groups is readOnly"},
		{name: "a manager's displayName", doc: managed,
			body:     body(`{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"a-0002","displayName":"Someone Else"}}}}`),
			scimType: scimerror.Mutability, detail: "manager.displayName is readOnly"},
		{name: "a member's id", rt: group, body: body(`{"op":"replace","path":"members[value eq \"a-0001\"].value","value":"a-0009"}`),
			scimType: scimerror.Mutability, detail: "members.value is immutable"},
		{name: "removing a member's id", rt: group, body: body(`{"op":"remove","path":"members[value eq \"a-0001\"].value"}`),
			scimType: scimerror.Mutability, detail: "members.value is immutable"},
		// Values of the wrong type.
		{name: "string for a boolean", body: body(`{"op":"replace","path":"active","value":"yes"}`),
			scimType: scimerror.InvalidValue, detail: `active must be a boolean (true or false), not the string "yes"`},
		{name: "number for a string", body: body(`{"op":"replace","path":"userName","value":5}`),
			scimType: scimerror.InvalidValue, detail: "userName must be a string, not the number 5"},
		{name: "object for a simple attribute", body: body(`{"op":"replace","value":{"title":{"x":1}}}`),
			scimType: scimerror.InvalidValue, detail: "title must be a string, not an object"},
		{name: "array for a single-valued attribute", body: body(`{"op":"replace","path":"title","value":["a"]}`),
			scimType: scimerror.InvalidValue, detail: "title must be a string, not an array"},
		{name: "string for a complex attribute", body: body(`{"op":"replace","path":"name","value":"Alice"}`),
			scimType: scimerror.InvalidValue, detail: "name must be an object with the sub-attributes formatted, familyName"},
		{name: "object for a multi-valued attribute", body: body(`{"op":"add","path":"emails","value":{"value":"a@x.org"}}`),
			scimType: scimerror.InvalidValue, detail: "emails is multi-valued: its value must be an array, not an object"},
		{name: "number for a sub-attribute", body: body(`{"op":"add","path":"emails","value":[{"value":5}]}`),
			scimType: scimerror.InvalidValue, detail: "emails[0].value must be a string, not the number 5"},
		{name: "unknown key in a complex value", body: body(`{"op":"add","path":"emails","value":[{"value":"a@x.org","label":"x"}]}`),
			scimType: scimerror.InvalidValue, detail: `emails[0] has no sub-attribute "label"; its sub-attributes are value, display, type, primary`},
		{name: "a member sub-attribute not in this server's schema", rt: group,
			body:     body(`{"op":"add","path":"members","value":[{"display":"Babs Jensen","origin":"https://example.com","value":"2819c223"}]}`),
			scimType: scimerror.InvalidValue, detail: `has no sub-attribute "origin"`},
		{name: "null member", rt: group, body: body(`{"op":"add","path":"members","value":[null]}`),
			scimType: scimerror.InvalidValue, detail: "members[0] must not be null"},
		{name: "boolean for a sub-attribute of a filter", body: body(`{"op":"add","path":"emails[type eq \"work\"].value","value":true}`),
			scimType: scimerror.InvalidValue, detail: "emails.value must be a string, not the boolean true"},
		{name: "the same attribute twice in other case", body: body(`{"op":"replace","value":{"userName":"a","USERNAME":"b"}}`),
			scimType: scimerror.InvalidValue, detail: "the value sets userName more than once"},
		{name: "the same sub-attribute twice in other case", body: body(`{"op":"replace","path":"name","value":{"givenName":"a","GivenName":"b"}}`),
			scimType: scimerror.InvalidValue, detail: "name has givenName more than once"},
		{name: "display and its alias together", rt: group, opts: MicrosoftEntra(),
			body:     body(`{"op":"add","path":"members","value":[{"value":"a-0003","display":"x","displayName":"y"}]}`),
			scimType: scimerror.InvalidValue, detail: "members[0] has display more than once"},
		{name: "no-path value not an object", body: body(`{"op":"add","value":"x"}`),
			scimType: scimerror.InvalidValue, detail: `without a path, the value must be an object of attributes, not the string "x"`},
		{name: "extension value not an object", body: body(`{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}}`),
			scimType: scimerror.InvalidValue, detail: `must be an object of that schema's attributes`},
		{name: "add without value", body: body(`{"op":"add","path":"nickName"}`),
			scimType: scimerror.InvalidValue, detail: "add needs a value for nickName"},
		{name: "add null", body: body(`{"op":"add","path":"nickName","value":null}`),
			scimType: scimerror.InvalidValue, detail: "add needs a value"},
		{name: "replace without value", body: body(`{"op":"replace","path":"nickName"}`),
			scimType: scimerror.InvalidValue, detail: "replace needs a value"},
		// Atomicity: a failing operation undoes the ones before it.
		{name: "all or nothing",
			body:     body(`{"op":"replace","path":"userName","value":"changed"}`, `{"op":"replace","path":"active","value":"no"}`),
			scimType: scimerror.InvalidValue, detail: "Operations[1] (replace active): active must be a boolean"},
	})
}

// TestCanonicalNames checks that names in any case are written in the schema's case.
func TestCanonicalNames(t *testing.T) {
	runApplyTests(t, []applyTest{
		{name: "keys of a no-path value",
			body: body(`{"op":"replace","value":{"NICKNAME":"Al","Name":{"GIVENNAME":"Alicia"},"eMails":[{"VALUE":"a@x.org","Type":"work","PRIMARY":true}]}}`),
			want: func(d M) {
				d["nickName"] = "Al"
				d["name"].(M)["givenName"] = "Alicia"
				d["emails"] = A{M{"value": "a@x.org", "type": "work", "primary": true}}
			}},
		{name: "paths", body: body(`{"op":"add","path":"NAME.MIDDLENAME","value":"J"}`, `{"op":"add","path":"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department","value":"Ops"}`),
			want: func(d M) {
				d["name"].(M)["middleName"] = "J"
				d[enterprise] = M{"department": "Ops"}
				d["schemas"] = append(d["schemas"].(A), enterprise)
			}},
		{name: "extension key in other case",
			body: body(`{"op":"add","value":{"URN:ietf:params:scim:schemas:extension:enterprise:2.0:user":{"DEPARTMENT":"Ops"}}}`),
			want: func(d M) {
				d[enterprise] = M{"department": "Ops"}
				d["schemas"] = append(d["schemas"].(A), enterprise)
			}},
		{name: "filter paths", doc: managedUserJSON,
			body: body(`{"op":"replace","path":"EMAILS[TYPE eq \"work\"].VALUE","value":"x@example.com"}`),
			want: func(d M) { d["emails"].(A)[0].(M)["value"] = "x@example.com" }},
	})
}

// TestApplyIsRepeatable checks that a Request applies the same way twice and that documents never
// share values with it or with each other.
func TestApplyIsRepeatable(t *testing.T) {
	req, err := Parse([]byte(body(`{"op":"add","path":"emails","value":[{"value":"a@x.org","type":"work"}]}`,
		`{"op":"replace","path":"name","value":{"givenName":"Alicia"}}`)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	first, second := decodeDoc(t, userJSON), decodeDoc(t, userJSON)
	if _, err := req.Apply(schema.UserResourceType, first); err != nil {
		t.Fatal(err)
	}
	first["emails"].(A)[1].(M)["value"] = "mutated"
	first["name"].(M)["givenName"] = "mutated"
	if _, err := req.Apply(schema.UserResourceType, second); err != nil {
		t.Fatal(err)
	}
	if second["emails"].(A)[1].(M)["value"] != "a@x.org" || second["name"].(M)["givenName"] != "Alicia" {
		t.Errorf("the second application saw the first one's edits: %s", render(second))
	}
}

func TestApplyNilDocument(t *testing.T) {
	req, err := Parse([]byte(body(`{"op":"add","path":"nickName","value":"x"}`)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := req.Apply(schema.UserResourceType, nil); err == nil {
		t.Error("Apply(nil) succeeded")
	}
}

// TestAddsAfterOtherWrites covers requests that add to a multi-valued attribute after other
// operations wrote it: the identity index an add keeps for the next one must never outlive a
// write that changed the values.
func TestAddsAfterOtherWrites(t *testing.T) {
	alice := M{"primary": true, "value": "alice.glick@strongdm.com"}
	runApplyTests(t, []applyTest{
		{name: "a value removed by a filter is added again",
			body: body(`{"op":"add","path":"emails","value":[{"value":"a@x.org"}]}`,
				`{"op":"remove","path":"emails[value eq \"a@x.org\"]"}`,
				`{"op":"add","path":"emails","value":[{"value":"a@x.org","type":"work"}]}`),
			want: func(d M) { d["emails"] = A{alice, M{"value": "a@x.org", "type": "work"}} }},
		{name: "adds after a replace of all values",
			body: body(`{"op":"add","path":"emails","value":[{"value":"a@x.org"}]}`,
				`{"op":"replace","path":"emails","value":[{"value":"b@x.org"}]}`,
				`{"op":"add","path":"emails","value":[{"value":"a@x.org"}]}`,
				`{"op":"add","path":"emails","value":[{"value":"B@X.ORG","type":"home"}]}`),
			want: func(d M) { d["emails"] = A{M{"value": "b@x.org", "type": "home"}, M{"value": "a@x.org"}} }},
		{name: "an add after a sub-attribute of every value was set",
			body: body(`{"op":"add","path":"emails","value":[{"value":"a@x.org"}]}`,
				`{"op":"replace","path":"emails.type","value":"other"}`,
				`{"op":"add","path":"emails","value":[{"value":"A@x.org","display":"A"}]}`),
			want: func(d M) {
				d["emails"] = A{M{"primary": true, "value": "alice.glick@strongdm.com", "type": "other"},
					M{"value": "a@x.org", "type": "other", "display": "A"}}
			}},
		{name: "an add after a sub-attribute was removed",
			body: body(`{"op":"add","path":"emails","value":[{"value":"a@x.org","type":"work"}]}`,
				`{"op":"remove","path":"emails.type"}`,
				`{"op":"add","path":"emails","value":[{"value":"a@x.org"}]}`),
			want: func(d M) { d["emails"] = A{alice, M{"value": "a@x.org"}} }},
		{name: "adds to two attributes in turn",
			body: body(`{"op":"add","path":"emails","value":[{"value":"a@x.org"}]}`,
				`{"op":"add","path":"phoneNumbers","value":[{"value":"+1 555"}]}`,
				`{"op":"add","path":"emails","value":[{"value":"A@X.ORG","type":"work"}]}`,
				`{"op":"add","path":"phoneNumbers","value":[{"value":"+1 555","type":"mobile"}]}`),
			want: func(d M) {
				d["emails"] = A{alice, M{"value": "a@x.org", "type": "work"}}
				d["phoneNumbers"] = A{M{"value": "+1 555", "type": "mobile"}}
			}},
		{name: "an add after the attribute was removed",
			body: body(`{"op":"add","path":"emails","value":[{"value":"a@x.org"}]}`,
				`{"op":"remove","path":"emails"}`,
				`{"op":"add","path":"emails","value":[{"value":"a@x.org"}]}`),
			want: func(d M) { d["emails"] = A{M{"value": "a@x.org"}} }},
		{name: "an add after an empty value was dropped",
			body: body(`{"op":"add","path":"emails","value":[{"value":"a@x.org"},{"display":null}]}`,
				`{"op":"add","path":"emails","value":[{"value":"a@x.org","type":"work"}]}`),
			want: func(d M) { d["emails"] = A{alice, M{"value": "a@x.org", "type": "work"}} }},
		{name: "values identified as a whole, after a sub-attribute of them was removed",
			body: body(`{"op":"add","path":"addresses","value":[{"locality":"Oxford","type":"work"}]}`,
				`{"op":"remove","path":"addresses.type"}`,
				`{"op":"add","path":"addresses","value":[{"locality":"Oxford"}]}`),
			want: func(d M) { d["addresses"] = A{M{"locality": "Oxford"}} }},
		{name: "values identified as a whole, after a sub-attribute of them was set",
			body: body(`{"op":"add","path":"addresses","value":[{"locality":"Oxford"}]}`,
				`{"op":"replace","path":"addresses.type","value":"home"}`,
				`{"op":"add","path":"addresses","value":[{"locality":"Oxford","type":"home"}]}`),
			want: func(d M) { d["addresses"] = A{M{"locality": "Oxford", "type": "home"}} }},
		{name: "a value with null sub-attributes is the value without them",
			body: body(`{"op":"add","path":"addresses","value":[{"locality":"Oxford","region":null}]}`,
				`{"op":"add","path":"addresses","value":[{"locality":"Oxford"}]}`,
				`{"op":"add","path":"addresses","value":[{"locality":"Oxford","country":null}]}`),
			want: func(d M) { d["addresses"] = A{M{"locality": "Oxford"}} }},
	})
}
