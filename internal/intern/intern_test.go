package intern

import (
	"encoding/json"
	"testing"
	"unsafe"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// decoded returns a fresh copy of v, decoded from JSON as an informer decodes a watch event: every
// string its own allocation.
func decoded[T any](t *testing.T, v *T) *T {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func same(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func TestObjectsShareTheStringsTheyRepeat(t *testing.T) {
	cond := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "BindingsApplied", Message: "Every grant of the user's roles (1) holds it"}
	user := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: "alice-1"}, Status: v1.ScimUserStatus{
		Subject: "oidc:alice@example.com", Roles: []v1.RoleReference{{Value: "admins-1", Display: "Admins"}}, Conditions: []metav1.Condition{cond}}}
	role := &v1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: "admins-1"}, Spec: v1.ScimRoleSpec{DisplayName: "Admins",
		Members: []v1.Member{{Value: "alice-1", Display: "Alice"}}}}
	shard := &v1.ScimRoleMembers{Spec: v1.ScimRoleMembersSpec{Role: "admins-1", Members: []v1.Member{{Value: "alice-1", Display: "Alice"}}}}
	crb := &rbacv1.ClusterRoleBinding{Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "oidc:alice@example.com"}}}
	rb := &rbacv1.RoleBinding{Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "oidc:alice@example.com"}}}

	u1, u2, r, sh, c, b := decoded(t, user), decoded(t, user), decoded(t, role), decoded(t, shard), decoded(t, crb), decoded(t, rb)
	for _, obj := range []any{u1, u2, r, sh, c, b} {
		Object(obj)
	}
	// Nothing changes but where the bytes are.
	for _, tc := range []struct{ got, want any }{{u1, user}, {u2, user}, {r, role}, {sh, shard}, {c, crb}, {b, rb}} {
		if !equality.Semantic.DeepEqual(tc.got, tc.want) {
			t.Fatalf("interning changed the object: %+v, want %+v", tc.got, tc.want)
		}
	}
	for _, tc := range []struct {
		what string
		a, b string
	}{
		{"a user's name and a role's member value", u1.Name, r.Spec.Members[0].Value},
		{"a role's and a shard's member value", r.Spec.Members[0].Value, sh.Spec.Members[0].Value},
		{"member displays", r.Spec.Members[0].Display, sh.Spec.Members[0].Display},
		{"a role's name and a user's role reference", r.Name, u1.Status.Roles[0].Value},
		{"a shard's role and the role's name", sh.Spec.Role, r.Name},
		{"role references' displays", u1.Status.Roles[0].Display, u2.Status.Roles[0].Display},
		{"a user's subject and a ClusterRoleBinding's subject", u1.Status.Subject, c.Subjects[0].Name},
		{"the subjects of two bindings", c.Subjects[0].Name, b.Subjects[0].Name},
		{"subjects' API groups", c.Subjects[0].APIGroup, b.Subjects[0].APIGroup},
		{"condition messages", u1.Status.Conditions[0].Message, u2.Status.Conditions[0].Message},
		{"condition reasons", u1.Status.Conditions[0].Reason, u2.Status.Conditions[0].Reason},
	} {
		if !same(tc.a, tc.b) {
			t.Errorf("%s (%q) are two copies, want one", tc.what, tc.a)
		}
	}
}

func TestTransformInternsWhatItsNextReturns(t *testing.T) {
	a := &v1.ScimRoleMembers{Spec: v1.ScimRoleMembersSpec{Role: "r", Members: []v1.Member{{Value: "alice-1"}}}}
	b := decoded(t, a)
	strip := Transform(func(obj any) (any, error) {
		obj.(*v1.ScimRoleMembers).ManagedFields = nil
		return obj, nil
	})
	for _, o := range []any{a, b} {
		if _, err := strip(o); err != nil {
			t.Fatal(err)
		}
	}
	if !same(a.Spec.Members[0].Value, b.Spec.Members[0].Value) {
		t.Fatal("the transform did not intern the members")
	}
}
