package store

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

func TestDeterministicID(t *testing.T) {
	id := deterministicID(userPrefix, "Alice@Example.com", 0)
	if !regexp.MustCompile(`^a-[0-9a-f]{16}$`).MatchString(id) {
		t.Fatalf("id %q is not StrongDM-shaped", id)
	}
	if deterministicID(userPrefix, "alice@example.com", 0) != id {
		t.Error("ids must not depend on the userName's case: replicas must agree")
	}
	if deterministicID(userPrefix, "alice@example.com", 1) == id {
		t.Error("a probe must move to another id")
	}
	if deterministicID(rolePrefix, "Alice@Example.com", 0)[:2] != "r-" {
		t.Error("role ids start with r-")
	}
}

// TestDeterministicIDOfASCIINames pins the ids of ASCII names to those derived from the lower-cased
// name before the identity key: existing ids stay where they are.
func TestDeterministicIDOfASCIINames(t *testing.T) {
	for _, tt := range []struct {
		prefix, name string
		n            int
		want         string
	}{
		{userPrefix, "Alice@Example.com", 0, "a-474dfefb47e6ab4b"},
		{userPrefix, "Alice@Example.com", 1, "a-15a4c67cbd6bb335"},
		{rolePrefix, "Platform Admins", 0, "r-b82217a5e0c98ad1"},
	} {
		if got := deterministicID(tt.prefix, tt.name, tt.n); got != tt.want {
			t.Errorf("deterministicID(%q, %q, %d) = %s, want %s", tt.prefix, tt.name, tt.n, got, tt.want)
		}
	}
}

// TestDeterministicIDOfLookAlikes checks that names with the same identity key get the same id, so
// that replicas racing to create look-alikes collide at the API server.
func TestDeterministicIDOfLookAlikes(t *testing.T) {
	want := deterministicID(userPrefix, "sam@example.com", 0)
	for _, name := range []string{"\u017fam@example.com", "\uff33\uff21\uff2d@example.com", "SAM@EXAMPLE.COM"} {
		if got := deterministicID(userPrefix, name, 0); got != want {
			t.Errorf("deterministicID(%+q) = %s, want %s (that of sam@example.com)", name, got, want)
		}
	}
	if deterministicID(rolePrefix, "Admins ", 0) != deterministicID(rolePrefix, "admins", 0) {
		t.Error("a role displayName's surrounding white space must not change its id")
	}
}

func TestUserDocRoundTrip(t *testing.T) {
	u := &v1.ScimUser{
		ObjectMeta: metav1.ObjectMeta{Name: "a-1"},
		Spec: v1.ScimUserSpec{
			UserName: "bjensen", Active: ptr.To(false), Title: "Guide",
			Name:       &v1.Name{GivenName: "Barbara", FamilyName: "Jensen"},
			Emails:     []v1.MultiValuedAttribute{{Value: "b@example.com", Type: "work", Primary: new(true)}},
			Addresses:  []v1.Address{{Locality: "Hollywood"}},
			Enterprise: &v1.EnterpriseUser{Department: "Tours", Manager: &v1.Manager{Value: "a-2"}},
		},
	}
	doc := userDoc(u, []*v1.ScimRole{{ObjectMeta: metav1.ObjectMeta{Name: "r-1"}, Spec: v1.ScimRoleSpec{DisplayName: "Guides"}}})
	if doc["active"] != false || doc["groups"].([]any)[0].(map[string]any)["value"] != "r-1" {
		t.Fatalf("doc lacks active or groups: %v", doc)
	}
	if _, ok := doc[schema.EnterpriseUserURN]; !ok {
		t.Fatal("the enterprise extension must live under its URN")
	}
	canonical, err := schema.Canonicalize(schema.UserResourceType, doc, schema.Decoding{})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := userSpec(canonical)
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(*spec, u.Spec) {
		t.Errorf("round trip changed the spec:\n got %+v\nwant %+v", *spec, u.Spec)
	}
}

func TestDeriveUserDefaults(t *testing.T) {
	spec := &v1.ScimUserSpec{UserName: "myUser@example.test", Name: &v1.Name{GivenName: "Firstname", FamilyName: "Lastname"}}
	deriveUserDefaults(spec)
	if spec.DisplayName != "Firstname Lastname" || spec.Name.Formatted != "Firstname Lastname" || spec.UserType != "user" {
		t.Errorf("derived %+v", spec)
	}
	if len(spec.Emails) != 1 || spec.Emails[0].Value != "myUser@example.test" || spec.Emails[0].Primary == nil || !*spec.Emails[0].Primary {
		t.Errorf("e-mail not derived from userName: %+v", spec.Emails)
	}
	kept := &v1.ScimUserSpec{UserName: "svc", DisplayName: "Service", UserType: "Employee"}
	deriveUserDefaults(kept)
	if kept.DisplayName != "Service" || kept.UserType != "Employee" || len(kept.Emails) != 0 {
		t.Errorf("given attributes must be kept and no e-mail invented: %+v", kept)
	}
}

func TestRoleSpecMergesDuplicateMembers(t *testing.T) {
	spec, err := roleSpec(map[string]any{"displayName": "x", "members": []any{
		map[string]any{"value": "a-1"}, map[string]any{"value": "a-1", "display": "again"}, map[string]any{"value": "a-2"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Members) != 2 {
		t.Errorf("members %+v", spec.Members)
	}
	if _, err := roleSpec(map[string]any{"displayName": " "}); err == nil {
		t.Error("a blank displayName must be rejected")
	}
	if got := newMembers([]v1.Member{{Value: "a-1"}}, []v1.Member{{Value: "a-1"}, {Value: "a-3"}}); len(got) != 1 || got[0] != "a-3" {
		t.Errorf("newMembers = %v", got)
	}
}

// TestAPIErrorsARetryCannotCure answers what no retry can cure with the 4xx that says so, and what a
// retry can cure with a 503: never a 409 for lost races, which tells an IdP to stop.
func TestAPIErrorsARetryCannotCure(t *testing.T) {
	gr := kschema.GroupResource{Group: "identity.scim-operator.io", Resource: "scimroles"}
	tooLarge := apierrors.NewInternalError(errors.New("etcdserver: request is too large"))
	if e := scimerror.As(apiError(tooLarge, "Resource r-1")); e == nil || e.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("etcd's request is too large: got %v, want a 413", apiError(tooLarge, "Resource r-1"))
	}
	if e := scimerror.As(apiError(apierrors.NewRequestEntityTooLargeError("limit is 3145728"), "Resource r-1")); e == nil || e.Status != http.StatusRequestEntityTooLarge {
		t.Error("the API server's own 413: want a 413")
	}
	invalid := apierrors.NewInvalid(kschema.GroupKind{Group: gr.Group, Kind: "ScimRole"}, "r-1", nil)
	if e := scimerror.As(apiError(invalid, "Resource r-1")); e == nil || e.Status != http.StatusBadRequest {
		t.Error("invalid: want a 400")
	}
	var unavailable *UnavailableError
	if err := apiError(apierrors.NewConflict(gr, "r-1", errors.New("the object has been modified")), "Resource r-1"); !errors.As(err, &unavailable) {
		t.Errorf("a lost race: got %v, want a 503 to retry", err)
	}
	// The operator refused (an API server whose RBAC informers have not synced yet, just after a
	// restart): not the client's mistake, and a retry cures it.
	forbidden := apierrors.NewForbidden(gr, "r-1", errors.New(`clusterrole.rbac.authorization.k8s.io "manager-role" not found`))
	if err := apiError(forbidden, "Resource r-1"); !errors.As(err, &unavailable) {
		t.Errorf("the operator refused by RBAC: got %v, want a 503 to retry", err)
	}
}

// A deleted user's rendering leaves the render cache with it (the order's delete hook calls
// forgetRendered): the cache holds the live users' renderings, not every user ever served.
func TestForgetRenderedDropsTheEntry(t *testing.T) {
	s := &Store{}
	u := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: "a-1", UID: "uid-1", ResourceVersion: "1"}, Spec: v1.ScimUserSpec{UserName: "bjensen"}}
	roles := []*v1.ScimRole{{ObjectMeta: metav1.ObjectMeta{Name: "r-1"}, Spec: v1.ScimRoleSpec{DisplayName: "Guides"}}}
	first := s.encodedUser(u, s.renderingOf(u), roles, 0, renderOnRequest)
	if again := s.encodedUser(u, s.renderingOf(u), roles, 0, renderOnRequest); again != first || s.renderCache().entries.Len() != 1 {
		t.Fatalf("rendered twice (%v), %d entries; want once, one entry", again != first, s.renderCache().entries.Len())
	}
	// Renamed, the role is rendered anew: the groups attribute shows its displayName.
	renamed := []*v1.ScimRole{{ObjectMeta: metav1.ObjectMeta{Name: "r-1"}, Spec: v1.ScimRoleSpec{DisplayName: "Hosts"}}}
	if r := s.encodedUser(u, s.renderingOf(u), renamed, 0, renderOnRequest); r == first || !strings.Contains(string(r.json), `"Hosts"`) {
		t.Fatalf("a renamed group served the old rendering: %s", r.json)
	}
	s.forgetRendered("uid-1")
	if n := s.renderCache().entries.Len(); n != 0 {
		t.Fatalf("%d entries after the user was deleted, want 0", n)
	}
}

// Lists of groups have equal digests exactly when they render alike: the same names and
// displayNames in the same order, however the strings are split.
func TestGroupsDigest(t *testing.T) {
	role := func(name, display string) *v1.ScimRole {
		r := &v1.ScimRole{}
		r.Name, r.Spec.DisplayName = name, display
		return r
	}
	base := []*v1.ScimRole{role("r-1", "Admins"), role("r-2", "Devs")}
	if groupsDigest(base) != groupsDigest([]*v1.ScimRole{role("r-1", "Admins"), role("r-2", "Devs")}) {
		t.Fatal("equal lists, different digests")
	}
	for name, other := range map[string][]*v1.ScimRole{
		"another displayName": {role("r-1", "Admins"), role("r-2", "Ops")},
		"another name":        {role("r-1", "Admins"), role("r-3", "Devs")},
		"another order":       {role("r-2", "Devs"), role("r-1", "Admins")},
		"one fewer":           {role("r-1", "Admins")},
		"split otherwise":     {role("r-1", "AdminsDevs"), role("r-2", "")},
		"name and display":    {role("r-1Admins", ""), role("r-2", "Devs")},
		"none":                nil,
	} {
		if groupsDigest(other) == groupsDigest(base) {
			t.Errorf("%s: the digest is unchanged", name)
		}
	}
}

// An ETag is the resourceVersion quoted as a weak validator, escapes and all.
func TestVersion(t *testing.T) {
	for rv, want := range map[string]string{"12345": `W/"12345"`, "": `W/""`, `a"b`: `W/"a\"b"`, "7x": `W/"7x"`} {
		if got := version(&v1.ScimUser{ObjectMeta: metav1.ObjectMeta{ResourceVersion: rv}}); got != want {
			t.Errorf("version of %q = %s, want %s", rv, got, want)
		}
	}
}
