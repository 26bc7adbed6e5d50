package rbac

import (
	"encoding/json"
	"testing"
	"unsafe"

	rbacv1 "k8s.io/api/rbac/v1"
)

// A cached binding keeps what it was decoded with, without managedFields and without the room the
// decoder left in its list of subjects, and its subjects' kind and API group are the program's
// constants, not copies of their own.
func TestCacheTransformSharesSubjectConstants(t *testing.T) {
	var b rbacv1.ClusterRoleBinding
	if err := json.Unmarshal([]byte(`{"metadata":{"name":"scim-r-1","managedFields":[{"manager":"manager","operation":"Update"}]},
		"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},
		"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"oidc:alice"},
			{"kind":"ServiceAccount","name":"robot","namespace":"ci"},
			{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"oidc:bob"}]}`), &b); err != nil {
		t.Fatal(err)
	}
	if cap(b.Subjects) == len(b.Subjects) {
		t.Fatal("the decoder left no room in the subjects: the test proves nothing")
	}
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	if same(b.Subjects[0].Kind, rbacv1.UserKind) {
		t.Fatal("decoded strings should be copies of their own before the transform")
	}
	out, err := cacheTransform(&b)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*rbacv1.ClusterRoleBinding)
	if len(got.ManagedFields) != 0 {
		t.Error("managedFields kept")
	}
	if len(got.Subjects) != 3 || cap(got.Subjects) != 3 {
		t.Errorf("%d subjects with room for %d, want 3 without room", len(got.Subjects), cap(got.Subjects))
	}
	user, robot := got.Subjects[0], got.Subjects[1]
	if !same(user.Kind, rbacv1.UserKind) || !same(user.APIGroup, rbacv1.GroupName) {
		t.Error("the user subject's kind and API group are not the constants")
	}
	if user != (rbacv1.Subject{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "oidc:alice"}) ||
		robot != (rbacv1.Subject{Kind: "ServiceAccount", Name: "robot", Namespace: "ci"}) {
		t.Errorf("subjects changed: %+v", got.Subjects)
	}
}
