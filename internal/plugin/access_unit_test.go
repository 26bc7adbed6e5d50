package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
	"github.com/scim-operator/scim-operator/controllers/access/rbac"
)

func TestAccessOf(t *testing.T) {
	const subject = "oidc:alice@example.com"
	binding := rbacBinding{
		ref:      identityv1alpha1.BindingReference{Kind: "ClusterRoleBinding", Name: "scim-r-1-view-0123456789-0"},
		subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: subject}},
	}
	empty := rbacBinding{ref: identityv1alpha1.BindingReference{Kind: "ClusterRoleBinding", Name: "scim-r-1-view-0123456789-0"}}
	grant := func(state string, declared bool, bindings ...rbacBinding) grantBindings {
		g := newGrantBindings(Grant{Kind: "ClusterRole", Name: "view"}, declared, bindings)
		g.State = state
		return g
	}
	user := func(active bool, deleting bool) *identityv1alpha1.ScimUser {
		u := &identityv1alpha1.ScimUser{Spec: identityv1alpha1.ScimUserSpec{UserName: "alice@example.com", Active: &active}}
		if deleting {
			u.DeletionTimestamp = &metav1.Time{}
		}
		return u
	}
	role := &identityv1alpha1.ScimRole{}
	deletedRole := &identityv1alpha1.ScimRole{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{}}}
	for _, tc := range []struct {
		name    string
		grant   grantBindings
		role    *identityv1alpha1.ScimRole
		user    *identityv1alpha1.ScimUser
		subject string
		want    string
		holds   bool
	}{
		{"held", grant(GrantApplied, true, empty, binding), role, user(true, false), subject, AccessHeld, true},
		{"pending", grant(GrantApplied, true, empty), role, user(true, false), subject, AccessPending, false},
		{"no binding yet", grant(GrantPending, true), role, user(true, false), subject, AccessPending, false},
		{"forbidden", grant(GrantForbidden, true), role, user(true, false), subject, AccessForbidden, false},
		{"failed", grant(GrantFailed, true), role, user(true, false), subject, AccessFailed, false},
		{"suspended", grant(GrantApplied, true, empty), role, user(false, false), subject, AccessSuspended, false},
		{"suspended, not removed yet", grant(GrantApplied, true, binding), role, user(false, false), subject, AccessRevoking, true},
		{"user being deleted", grant(GrantApplied, true, binding), role, user(true, true), subject, AccessRevoking, true},
		{"user deleted from the binding", grant(GrantApplied, true, empty), role, user(true, true), subject, AccessDeleting, false},
		{"role being deleted", grant(GrantApplied, true, empty), deletedRole, user(true, false), subject, AccessDeleting, false},
		{"no longer granted", grant(GrantRemoving, false, binding), role, user(true, false), subject, AccessRevoking, true},
		{"no longer granted, removed", grant(GrantRemoving, false, empty), role, user(true, false), subject, AccessNotGranted, false},
		{"reserved subject", grant(GrantApplied, true, empty), role, user(true, false), "system:anonymous", AccessReservedName, false},
		{"no ScimUser", grant(GrantApplied, true, binding), role, nil, subject, AccessNoUser, false},
	} {
		got := tc.grant.accessOf(tc.role, tc.user, tc.subject)
		if got.State != tc.want || got.Holds != tc.holds || (got.Binding != nil) != tc.holds {
			t.Errorf("%s: state %s, holds %v, binding %v; want %s, %v", tc.name, got.State, got.Holds, got.Binding, tc.want, tc.holds)
		}
		if accessText[got.State] == "" {
			t.Errorf("%s: state %s has no text for the table", tc.name, got.State)
		}
	}
}

// exampleUser is a user in two roles, as `kubectl scim access` reports it.
var exampleUser = &UserAccess{
	TypeMeta: metav1.TypeMeta{APIVersion: ReportAPIVersion, Kind: "UserAccess"},
	User: UserState{ID: "a-474dfefb47e6ab4b", UserName: "alice@example.com", Subject: "oidc:alice@example.com",
		Active: true, ManagedBy: "okta",
		Ready: Condition{Status: "True", Reason: "BindingsApplied", Message: "Every grant of the user's roles holds it"}},
	Roles: []UserRole{
		{RoleState: RoleState{ID: "r-2c0a6e1b9d3f4a57", DisplayName: "Team A Editors", Ready: Condition{Status: "True"}},
			Grants: []GrantAccess{{Grant: Grant{Kind: "ClusterRole", Name: "edit", Namespace: "team-a"}, Declared: true, Holds: true, State: AccessHeld,
				Binding: &identityv1alpha1.BindingReference{Kind: "RoleBinding", Namespace: "team-a", Name: "scim-r-2c0a6e1b9d3f4a57-edit-7f3e2a9c41-0"}}}},
		{RoleState: RoleState{ID: "r-ee9fd414607584a8", DisplayName: "Platform Team", Ready: Condition{Status: "True"}},
			Grants: []GrantAccess{
				{Grant: Grant{Kind: "ClusterRole", Name: "view"}, Declared: true, Holds: true, State: AccessHeld,
					Binding: &identityv1alpha1.BindingReference{Kind: "ClusterRoleBinding", Name: "scim-r-ee9fd414607584a8-view-6490bccd8a-0"}},
				{Grant: Grant{Kind: "ClusterRole", Name: "cluster-admin"}, Declared: true, State: AccessForbidden}}},
	},
}

func TestUserAccessTable(t *testing.T) {
	want := `User:         a-474dfefb47e6ab4b
UserName:     alice@example.com
Subject:      User "oidc:alice@example.com"
State:        Active
Managed-By:   okta
Ready:        True (BindingsApplied): Every grant of the user's roles holds it

ROLE                                  GRANT                       NAMESPACE        ACCESS                                BINDING
r-2c0a6e1b9d3f4a57 (Team A Editors)   ClusterRole/edit            team-a           held                                  RoleBinding/scim-r-2c0a6e1b9d3f4a57-edit-7f3e2a9c41-0
r-ee9fd414607584a8 (Platform Team)    ClusterRole/view            (cluster-wide)   held                                  ClusterRoleBinding/scim-r-ee9fd414607584a8-view-6490bccd8a-0
                                      ClusterRole/cluster-admin   (cluster-wide)   not held: forbidden to the operator   <none>
`
	var out bytes.Buffer
	if err := (&outputFlag{}).print(&out, exampleUser, exampleUser.printTable); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestReportsPrintAsJSONAndYAML(t *testing.T) {
	for _, format := range []string{"json", "yaml"} {
		var out bytes.Buffer
		if err := (&outputFlag{format: format}).print(&out, exampleUser, nil); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "kind") || !strings.Contains(out.String(), ReportAPIVersion) {
			t.Errorf("-o %s: no apiVersion and kind:\n%s", format, out.String())
		}
		if format == "json" {
			var back UserAccess
			if err := json.Unmarshal(out.Bytes(), &back); err != nil || back.Roles[1].Grants[1].State != AccessForbidden {
				t.Errorf("-o json does not read back: %v\n%s", err, out.String())
			}
		}
	}
}

// TestBindingsOfSharedLayout: with --rbac-shared-bindings a role's grants are held by bindings
// labelled with the grant, not the role; the report finds them beside the role's own (a narrow
// test of the label selection; the shared layout itself is tested against the API server in
// controllers' TestSharedBindings).
func TestBindingsOfSharedLayout(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = rbacv1.AddToScheme(scheme)
	view := access.Grant{Kind: access.KindClusterRole, Name: "view"}
	edit := access.Grant{Kind: access.KindClusterRole, Name: "edit", Namespace: "team-a"}
	role := &identityv1alpha1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: "devs"},
		Spec: identityv1alpha1.ScimRoleSpec{Access: &identityv1alpha1.Access{ClusterRoles: []string{"view"},
			Namespaced: []identityv1alpha1.NamespacedAccess{{Namespace: "team-a", ClusterRole: "edit"}}}}}
	shared := func(name string, g access.Grant, labelled access.Grant) *rbacv1.ClusterRoleBinding {
		b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			identityv1alpha1.LabelRole: "", identityv1alpha1.LabelGrant: rbac.GrantLabelValue(labelled)}},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: g.Kind, Name: g.Name}}
		return b
	}
	own := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "scim-devs-edit-0", Namespace: "team-a",
		Labels: map[string]string{identityv1alpha1.LabelRole: "devs"}},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		shared("scim-shared-view-0", view, view),
		shared("scim-shared-admin-0", access.Grant{Kind: access.KindClusterRole, Name: "admin"}, access.Grant{Kind: access.KindClusterRole, Name: "admin"}),
		shared("forged", access.Grant{Kind: access.KindClusterRole, Name: "cluster-admin"}, view), // the view label on another grant
		own,
	).Build()
	got, err := bindingsOf(context.Background(), c, role)
	if err != nil {
		t.Fatal(err)
	}
	names := map[Grant][]string{}
	for g, bindings := range got {
		for _, b := range bindings {
			names[g] = append(names[g], b.ref.Name)
		}
	}
	want := map[Grant][]string{
		{Kind: view.Kind, Name: view.Name}:                            {"scim-shared-view-0"},
		{Kind: edit.Kind, Name: edit.Name, Namespace: edit.Namespace}: {"scim-devs-edit-0"},
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("bindings of the role: %v, want %v", names, want)
	}
}
