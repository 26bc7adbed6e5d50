package scimtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// The checks the fault tests and the soak end with must see every way the stored state can differ
// from what the clients were told; a check that passes on a wrong state would prove nothing. The
// stored state here is a fake client and a SCIM server of fixed answers: what is tested is the
// comparison, not the operator.

// stored is what the checks read: ScimUsers and bindings, and each group's members as GET
// /Groups/{id} lists them.
type stored struct {
	objects []client.Object
	members map[string][]string
}

// matching is a stored state equal to model(): alice active in g1, bob suspended in g1 and g2.
func matching() stored {
	user := func(id, userName string, active bool) *identityv1alpha1.ScimUser {
		return &identityv1alpha1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: id},
			Spec: identityv1alpha1.ScimUserSpec{UserName: userName, Active: &active}}
	}
	binding := func(group string, subjects ...string) *rbacv1.ClusterRoleBinding {
		b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "scim-" + group,
			Labels: map[string]string{identityv1alpha1.LabelRole: group}}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}}
		for _, s := range subjects {
			b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: "User", Name: s})
		}
		return b
	}
	return stored{
		objects: []client.Object{user("a-alice", "alice", true), user("a-bob", "bob", false), binding("g1", "oidc:alice"), binding("g2")},
		members: map[string][]string{"g1": {"a-alice", "a-bob"}, "g2": {"a-bob"}},
	}
}

func model() *IdP {
	p := NewIdP()
	p.users["alice"] = &modelUser{id: "a-alice", active: true}
	p.users["bob"] = &modelUser{id: "a-bob", active: false}
	p.members["g1"] = map[string]bool{"a-alice": true, "a-bob": true}
	p.members["g2"] = map[string]bool{"a-bob": true}
	return p
}

// check runs Check and BindingsMatch of model() against s.
func check(t *testing.T, s stored) (diffs []string, bindingsMatch bool, where string) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := identityv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	admin := fake.NewClientBuilder().WithScheme(scheme).WithObjects(s.objects...).Build()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		members, ok := s.members[strings.TrimPrefix(r.URL.Path, "/Groups/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		var doc struct {
			Members []map[string]string `json:"members"`
		}
		for _, m := range members {
			doc.Members = append(doc.Members, map[string]string{"value": m})
		}
		_ = json.NewEncoder(w).Encode(doc)
	}))
	defer srv.Close()
	p := model()
	diffs, err := p.Check(context.Background(), admin, &Client{Base: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	bindingsMatch, where = p.BindingsMatch(context.Background(), admin, "oidc:")
	return diffs, bindingsMatch, where
}

func TestChecksPassWhenTheStoredStateIsTheModel(t *testing.T) {
	if diffs, ok, where := check(t, matching()); len(diffs) > 0 || !ok {
		t.Fatalf("a stored state equal to the model: differences %v, bindings %v (%s)", diffs, ok, where)
	}
}

func TestCheckFindsEveryDifference(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*stored)
		want   string
	}{
		{"a user stored twice", func(s *stored) {
			s.objects = append(s.objects, &identityv1alpha1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: "a-alice-2"},
				Spec: identityv1alpha1.ScimUserSpec{UserName: "Alice"}})
		}, "stored 2 times"},
		{"an acknowledged user missing", func(s *stored) { s.objects = s.objects[1:] }, "is not stored"},
		{"a suspension lost", func(s *stored) {
			bob := s.objects[1].(*identityv1alpha1.ScimUser)
			bob.Spec.Active = nil
		}, "acknowledged active false"},
		{"a member missing", func(s *stored) { s.members["g1"] = []string{"a-alice"} }, "group g1: members"},
		{"a member listed twice", func(s *stored) { s.members["g2"] = []string{"a-bob", "a-bob"} }, "lists a member twice"},
		{"an extra member", func(s *stored) { s.members["g2"] = []string{"a-alice", "a-bob"} }, "group g2: members"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := matching()
			tc.change(&s)
			diffs, _, _ := check(t, s)
			if !strings.Contains(strings.Join(diffs, "\n"), tc.want) {
				t.Fatalf("differences %q; want one saying %q", diffs, tc.want)
			}
		})
	}
}

func TestBindingsMatchFindsEveryDifference(t *testing.T) {
	for _, tc := range []struct {
		name    string
		subject []string
	}{
		{"an active member not bound", nil},
		{"a suspended member still bound", []string{"oidc:alice", "oidc:bob"}},
		{"a subject without the prefix", []string{"alice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := matching()
			s.objects[2].(*rbacv1.ClusterRoleBinding).Subjects = nil
			for _, name := range tc.subject {
				b := s.objects[2].(*rbacv1.ClusterRoleBinding)
				b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: "User", Name: name})
			}
			if _, ok, where := check(t, s); ok || !strings.Contains(where, "group g1") {
				t.Fatalf("bindings match (%v, %q) though g1's are %v", ok, where, tc.subject)
			}
		})
	}
}
