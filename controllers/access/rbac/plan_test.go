package rbac

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
)

func users(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return out
}

func TestSpread(t *testing.T) {
	tests := []struct {
		name    string
		current [][]string
		desired []string
		max     int
		want    [][]string
	}{
		{name: "no members keeps one empty binding", desired: nil, max: 3, want: [][]string{nil}},
		{name: "fits in one, sorted", desired: []string{"c", "a", "b"}, max: 3, want: [][]string{{"a", "b", "c"}}},
		{name: "duplicates count once", desired: []string{"a", "a", "b"}, max: 2, want: [][]string{{"a", "b"}}},
		{name: "split in order", desired: users("u", 7), max: 3,
			want: [][]string{{"u00", "u01", "u02"}, {"u03", "u04", "u05"}, {"u06"}}},
		{name: "a leaving member rewrites one binding only",
			current: [][]string{{"u00", "u01", "u02"}, {"u03", "u04", "u05"}, {"u06", "u07"}},
			desired: []string{"u00", "u02", "u03", "u04", "u05", "u06", "u07"}, max: 3,
			want: [][]string{{"u00", "u02"}, {"u03", "u04", "u05"}, {"u06", "u07"}}},
		{name: "a joining member fills the first binding with room",
			current: [][]string{{"u00", "u02"}, {"u03", "u04", "u05"}, {"u06", "u07"}},
			desired: []string{"u00", "u02", "u03", "u04", "u05", "u06", "u07", "a"}, max: 3,
			want: [][]string{{"a", "u00", "u02"}, {"u03", "u04", "u05"}, {"u06", "u07"}}},
		{name: "merges back when fewer bindings suffice",
			current: [][]string{{"u00", "u01", "u02"}, {"u03", "u04", "u05"}, {"u06"}},
			desired: []string{"u00", "u04", "u06"}, max: 3,
			want: [][]string{{"u00", "u04", "u06"}}},
		{name: "hand-added subjects are dropped and lost ones restored",
			current: [][]string{{"mallory", "u00"}},
			desired: []string{"u00", "u01"}, max: 3,
			want: [][]string{{"u00", "u01"}}},
		{name: "a lowered limit moves the overflow on",
			current: [][]string{users("u", 5)},
			desired: users("u", 5), max: 2,
			want: [][]string{{"u00", "u01"}, {"u02", "u03"}, {"u04"}}},
		{name: "a user kept in two bindings by hand stays in the first",
			current: [][]string{{"u00"}, {"u00", "u01"}},
			desired: []string{"u00", "u01"}, max: 1,
			want: [][]string{{"u00"}, {"u01"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := spread(tt.current, tt.desired, tt.max)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("spread() = %v, want %v", got, tt.want)
			}
			if again := spread(got, tt.desired, tt.max); !reflect.DeepEqual(again, got) {
				t.Fatalf("spread() is not stable: %v, then %v", got, again)
			}
		})
	}
}

func TestSpreadLargeRole(t *testing.T) {
	desired := make([]string, 20000)
	for i := range desired {
		desired[i] = fmt.Sprintf("user-%05d@example.com", i)
	}
	got := spread(nil, desired, DefaultMaxSubjects)
	if len(got) != 20 {
		t.Fatalf("20,000 members make %d bindings, want 20", len(got))
	}
	total := 0
	for _, b := range got {
		if len(b) > DefaultMaxSubjects {
			t.Fatalf("a binding holds %d subjects", len(b))
		}
		total += len(b)
	}
	if total != len(desired) {
		t.Fatalf("the bindings hold %d subjects, want %d", total, len(desired))
	}
}

func TestBindingNames(t *testing.T) {
	view := access.Grant{Kind: access.KindClusterRole, Name: "view"}
	editA := access.Grant{Kind: access.KindClusterRole, Name: "edit", Namespace: "team-a"}
	editB := access.Grant{Kind: access.KindClusterRole, Name: "edit", Namespace: "team-b"}
	long := strings.Repeat("r", 253)

	base := baseName("r-0123456789abcdef", view)
	if !strings.HasPrefix(base, "scim-r-0123456789abcdef-view-") {
		t.Errorf("baseName = %q, want it to name the role and the granted role", base)
	}
	if base != baseName("r-0123456789abcdef", view) {
		t.Error("baseName is not deterministic")
	}
	if baseName("r-1", editA) == baseName("r-1", editB) || baseName("r-1", view) == baseName("r-2", view) {
		t.Error("distinct grants share a base name")
	}
	if baseName(long, view) == baseName(long+"x", view) {
		t.Error("long role names that differ past the truncation share a base name")
	}
	for _, name := range []string{
		bindingName(baseName(long, access.Grant{Kind: access.KindRole, Name: long, Namespace: "ns"}), 99999),
		bindingName(baseName("r", access.Grant{Kind: access.KindClusterRole, Name: "system:aggregate-to-view"}), 0),
	} {
		if len(name) > 253 {
			t.Errorf("binding name %q is %d characters long", name, len(name))
		}
		if errs := path.IsValidPathSegmentName(name); len(errs) > 0 {
			t.Errorf("binding name %q is invalid: %v", name, errs)
		}
	}
}

func TestIndexOf(t *testing.T) {
	base := baseName("r-1", access.Grant{Kind: access.KindClusterRole, Name: "view"})
	for name, want := range map[string]int{bindingName(base, 0): 0, bindingName(base, 12): 12} {
		if got, ok := indexOf(base, name); !ok || got != want {
			t.Errorf("indexOf(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
	for _, name := range []string{base, base + "-", base + "-01", base + "-x", base + "-1-2", "other-0", base + "--1"} {
		if _, ok := indexOf(base, name); ok {
			t.Errorf("indexOf(%q) accepted a name that is not a binding of the grant", name)
		}
	}
}

func TestRoleLabelValue(t *testing.T) {
	if got := RoleLabelValue("r-0123456789abcdef"); got != "r-0123456789abcdef" {
		t.Errorf("RoleLabelValue of a SCIM id = %q, want the id", got)
	}
	long := strings.Repeat("a.", 100) + "b"
	got := RoleLabelValue(long)
	if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
		t.Errorf("RoleLabelValue(long) = %q, invalid: %v", got, errs)
	}
	if got == RoleLabelValue(long+"c") {
		t.Error("distinct long names share a label value")
	}
}

func TestSubjects(t *testing.T) {
	got := subjectsFor([]string{"bob@example.com", "alice@example.com"}, "oidc:")
	want := []rbacv1.Subject{
		{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "oidc:alice@example.com"},
		{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "oidc:bob@example.com"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("subjectsFor() = %v, want %v", got, want)
	}
	mixed := append(got,
		rbacv1.Subject{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "oidc:admins"},
		rbacv1.Subject{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "mallory"},
		rbacv1.Subject{Kind: "ServiceAccount", Name: "oidc:sa", Namespace: "default"})
	if got := usersIn(mixed, "oidc:"); !reflect.DeepEqual(got, []string{"alice@example.com", "bob@example.com"}) {
		t.Fatalf("usersIn() = %v, want the prefixed User subjects only", got)
	}
}

func TestSharedNames(t *testing.T) {
	view := access.Grant{Kind: access.KindClusterRole, Name: "view"}
	inTeam := access.Grant{Kind: access.KindClusterRole, Name: "view", Namespace: "team-a"}
	role := access.Grant{Kind: access.KindRole, Name: "view", Namespace: "team-a"}
	keys := map[string]bool{grantKey(view): true, grantKey(inTeam): true, grantKey(role): true}
	if len(keys) != 3 {
		t.Errorf("grant keys collide: %v", keys)
	}
	if base := sharedBase(view); !strings.HasPrefix(base, "scim-shared-view-") || len(base) != len("scim-shared-view-")+hashLen {
		t.Errorf("sharedBase = %q", base)
	}
	long := access.Grant{Kind: access.KindClusterRole, Name: strings.Repeat("x", 300)}
	if n := len(bindingName(sharedBase(long), 999)); n > 100 {
		t.Errorf("a shared binding name is %d long", n)
	}
}

func TestSharedIndexes(t *testing.T) {
	shared := &rbacv1.ClusterRoleBinding{RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}}
	shared.Labels = map[string]string{identityv1alpha1.LabelRole: "", identityv1alpha1.LabelGrant: "x"}
	shared.Subjects = []rbacv1.Subject{userSubject("ann"), {Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "ops"}}
	own := shared.DeepCopy()
	own.Labels = map[string]string{identityv1alpha1.LabelRole: "devs"}
	foreign := shared.DeepCopy()
	foreign.Labels = nil
	view := access.Grant{Kind: access.KindClusterRole, Name: "view"}

	if !isShared(shared) || isShared(own) || isShared(foreign) {
		t.Errorf("isShared: %v %v %v", isShared(shared), isShared(own), isShared(foreign))
	}
	if got := grantOfShared(shared); !slices.Equal(got, []string{grantKey(view), anyGrant}) {
		t.Errorf("grantOfShared = %v", got)
	}
	if got := subjectsOfShared(shared); !slices.Equal(got, []string{"ann"}) {
		t.Errorf("subjectsOfShared = %v, want the User subjects only", got)
	}
	for _, b := range []client.Object{own, foreign} {
		if grantOfShared(b) != nil || subjectsOfShared(b) != nil {
			t.Errorf("a binding that is not shared is indexed: %v", b.GetLabels())
		}
	}
	role := &identityv1alpha1.ScimRole{Spec: identityv1alpha1.ScimRoleSpec{Access: &identityv1alpha1.Access{ClusterRoles: []string{"view"}}}}
	if got := grantsOfRole(role); !slices.Equal(got, []string{grantKey(view)}) {
		t.Errorf("grantsOfRole = %v", got)
	}
	role.DeletionTimestamp = &metav1.Time{}
	role.Finalizers = []string{identityv1alpha1.FinalizerAccess}
	if got := grantsOfRole(role); got != nil {
		t.Errorf("a role being deleted grants %v", got)
	}
}
