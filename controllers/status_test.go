package controllers

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
)

func TestMemberDiff(t *testing.T) {
	m := func(values ...string) []identityv1alpha1.Member {
		out := make([]identityv1alpha1.Member, len(values))
		for i, v := range values {
			out[i] = identityv1alpha1.Member{Value: v}
		}
		return out
	}
	got := memberDiff(m("a", "b", "c"), m("b", "c", "d"))
	if !reflect.DeepEqual(got, m("a", "d")) {
		t.Fatalf("memberDiff() = %v, want a and d", got)
	}
	if got := memberDiff(m("a"), m("a")); len(got) != 0 {
		t.Fatalf("memberDiff() of equal lists = %v", got)
	}
}

func TestHoldingProblem(t *testing.T) {
	view := access.Grant{Kind: access.KindClusterRole, Name: "view"}
	edit := access.Grant{Kind: access.KindClusterRole, Name: "edit", Namespace: "a"}
	tests := []struct {
		name    string
		holding access.Holding
		active  bool
		want    string
	}{
		{"active, holds all", access.Holding{Held: []access.Grant{view}}, true, ""},
		{"active, misses one", access.Holding{Held: []access.Grant{view}, Missing: []access.Grant{edit}}, true,
			`not yet in ClusterRole "edit" in namespace "a"`},
		{"suspended, holds none", access.Holding{Missing: []access.Grant{view}}, false, ""},
		{"suspended, still held", access.Holding{Held: []access.Grant{view, edit}}, false,
			`still in ClusterRole "view", ClusterRole "edit" in namespace "a"`},
	}
	for _, tt := range tests {
		if got := holdingProblem(tt.holding, tt.active); got != tt.want {
			t.Errorf("%s: holdingProblem() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	problems := []string{"1", "2", "3", "4", "5", "6", "7"}
	if got := problemList.summarize(problems); got != "1; 2; 3; 4; 5; and 2 more" {
		t.Errorf("summarize() = %q", got)
	}
	if got := idList.summarize(strings.Split("a b c", " ")); got != "a, b, c" {
		t.Errorf("summarizeIDs() = %q", got)
	}
}

// TestStatusOf checks that patchStatus finds the status of both kinds, which it does by reflection.
func TestStatusOf(t *testing.T) {
	user := &identityv1alpha1.ScimUser{Status: identityv1alpha1.ScimUserStatus{Subject: "oidc:alice"}}
	role := &identityv1alpha1.ScimRole{Status: identityv1alpha1.ScimRoleStatus{MemberCount: 3}}
	for _, tt := range []struct {
		obj     client.Object
		status  any
		written func() int64
	}{
		{user, user.Status, func() int64 { return user.Status.ObservedGeneration }},
		{role, role.Status, func() int64 { return role.Status.ObservedGeneration }},
	} {
		if got := statusOf(tt.obj).Interface(); !reflect.DeepEqual(got, tt.status) {
			t.Errorf("statusOf(%T) = %v, want %v", tt.obj, got, tt.status)
		}
		statusOf(tt.obj).FieldByName("ObservedGeneration").SetInt(7)
		if got := tt.written(); got != 7 {
			t.Errorf("%T: observedGeneration = %d after writing 7 through statusOf", tt.obj, got)
		}
	}
}

func TestMessageList(t *testing.T) {
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("a-%d", i+1)
		}
		return out
	}
	tests := []struct {
		name  string
		list  messageList
		items []string
		want  string
	}{
		{"no problems", problemList, nil, ""},
		{"five problems, all named", problemList, ids(5), "a-1; a-2; a-3; a-4; a-5"},
		{"six problems", problemList, ids(6), "a-1; a-2; a-3; a-4; a-5; and 1 more"},
		{"ten ids, all named", idList, ids(10), "a-1, a-2, a-3, a-4, a-5, a-6, a-7, a-8, a-9, a-10"},
		{"thirteen ids", idList, ids(13), "a-1, a-2, a-3, a-4, a-5, a-6, a-7, a-8, a-9, a-10 and 3 more"},
	}
	for _, tt := range tests {
		if got := tt.list.summarize(tt.items); got != tt.want {
			t.Errorf("%s: summarize() = %q, want %q", tt.name, got, tt.want)
		}
	}
}
