package access

import (
	"reflect"
	"testing"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

func TestGrantsOf(t *testing.T) {
	if got := GrantsOf(nil); got != nil {
		t.Errorf("GrantsOf(nil) = %v, want none", got)
	}
	got := GrantsOf(&identityv1alpha1.Access{
		ClusterRoles: []string{"view", "view"},
		Namespaced: []identityv1alpha1.NamespacedAccess{
			{Namespace: "team-a", ClusterRole: "edit"},
			{Namespace: "team-b", Role: "deployer"},
			{Namespace: "team-a", ClusterRole: "edit"},
		},
	})
	want := []Grant{
		{Kind: KindClusterRole, Name: "view"},
		{Kind: KindClusterRole, Name: "edit", Namespace: "team-a"},
		{Kind: KindRole, Name: "deployer", Namespace: "team-b"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GrantsOf() = %v, want %v", got, want)
	}
	if s := want[2].String(); s != `Role "deployer" in namespace "team-b"` {
		t.Errorf("String() = %s", s)
	}
	if s := want[0].String(); s != `ClusterRole "view"` {
		t.Errorf("String() = %s", s)
	}
}
