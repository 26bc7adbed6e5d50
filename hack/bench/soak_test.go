package main

import (
	"context"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// The soak's final check is its verdict: this narrow test (a fake client standing in for the
// cluster) shows it finds each kind of difference the soak exists to catch, and none when the
// cluster is as the clients were told.
func TestSoakCheckFindsEveryDifference(t *testing.T) {
	ready := func(u *v1.ScimUser) *v1.ScimUser {
		u.Status.Conditions = []metav1.Condition{{Type: v1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready", LastTransitionTime: metav1.Now()}}
		return u
	}
	user := func(id, userName string, active bool) *v1.ScimUser {
		return ready(&v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: id}, Spec: v1.ScimUserSpec{UserName: userName, Title: "t0", Active: &active}})
	}
	role := func(id string, members ...string) *v1.ScimRole {
		r := &v1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: id}, Spec: v1.ScimRoleSpec{DisplayName: id}}
		for _, m := range members {
			r.Spec.Members = append(r.Spec.Members, v1.Member{Value: m})
		}
		return r
	}
	binding := func(role string, subjects ...string) *rbacv1.ClusterRoleBinding {
		b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role + "-view", Labels: map[string]string{v1.LabelRole: role}},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}}
		for _, s := range subjects {
			b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: s})
		}
		return b
	}
	// The model: alice (active) and bob (suspended) in group 0, carol deleted.
	model := func() []*soakClient {
		return []*soakClient{{
			users: []*soakUser{
				{id: "a-alice", userName: "alice", title: "t0", active: true, groups: map[int]bool{0: true}},
				{id: "a-bob", userName: "bob", title: "t0", active: false, groups: map[int]bool{0: true}},
			},
			deleted: []*soakUser{{id: "a-carol", userName: "carol"}},
		}}
	}
	good := func() []client.Object {
		return []client.Object{user("a-alice", "alice", true), user("a-bob", "bob", false), role("r-0", "a-alice", "a-bob"), binding("r-0", userPrefix+"alice")}
	}
	cases := map[string]struct {
		objects []client.Object
		want    string
	}{
		"as told":                 {good(), ""},
		"a lost member":           {replace(good(), 2, role("r-0", "a-alice")), "lost acknowledged member a-bob"},
		"a member never added":    {replace(good(), 2, role("r-0", "a-alice", "a-bob", "a-dave")), "lists a-dave"},
		"a member listed twice":   {replace(good(), 2, role("r-0", "a-alice", "a-bob", "a-bob")), "lists a-bob twice"},
		"a suspended user bound":  {replace(good(), 3, binding("r-0", userPrefix+"alice", userPrefix+"bob")), "names oidc:bob"},
		"an active user unbound":  {replace(good(), 3, binding("r-0")), "no binding of role r-0 names active member oidc:alice"},
		"a lost suspension":       {replace(good(), 1, user("a-bob", "bob", true)), "user a-bob stored as"},
		"a lost create":           {good()[1:], "a-alice (alice) acknowledged but not stored"},
		"a deleted user kept":     {append(good(), user("a-carol", "carol", true)), "a-carol (carol) deleted but still stored"},
		"a userName stored twice": {append(good(), user("a-alice-2", "alice", true)), "userName alice stored 2 times"},
		"a user not Ready":        {replace(good(), 0, &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: "a-alice"}, Spec: v1.ScimUserSpec{UserName: "alice", Title: "t0"}}), "a-alice not Ready"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := &soakRun{groups: []string{"r-0"}}
			e := &env{admin: fake.NewClientBuilder().WithScheme(scheme).WithObjects(tc.objects...).Build()}
			diff, err := s.compare(context.Background(), e, model())
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(diff, "\n")
			if tc.want == "" && got != "" {
				t.Fatalf("differences where there are none:\n%s", got)
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("differences:\n%s\nwant one containing %q", got, tc.want)
			}
		})
	}
}

func replace(objects []client.Object, i int, with client.Object) []client.Object {
	objects[i] = with
	return objects
}
