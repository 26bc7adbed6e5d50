package v1alpha1

import (
	"maps"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func user(active *bool, labels, annotations map[string]string) *ScimUser {
	return &ScimUser{ObjectMeta: metav1.ObjectMeta{Name: "a-1", Labels: labels, Annotations: annotations},
		Spec: ScimUserSpec{UserName: "u", Active: active}}
}

func TestApplyProviderActive(t *testing.T) {
	tests := []struct {
		name          string
		u             *ScimUser
		active        bool
		wantActive    bool
		wantManagedBy string
		wantSuspended string
		wantChanged   bool
	}{
		{"new active user is marked", user(nil, nil, nil), true, true, "okta", "", true},
		{"already marked by the same provider: no change", user(ptr.To(true), map[string]string{LabelManagedBy: "okta"}, nil), true, true, "okta", "", false},
		{"another provider takes over", user(ptr.To(true), map[string]string{LabelManagedBy: "azure"}, nil), true, true, "okta", "", true},
		{"provider suspends: unmarked, recorded", user(ptr.To(true), map[string]string{LabelManagedBy: "okta"}, nil), false, false, "", SuspendedByProvider, true},
		{"provider reactivates its suspension: marked again", user(ptr.To(false), nil, map[string]string{AnnotationSuspendedBy: SuspendedByProvider}), true, true, "okta", "", true},
		{"admin suspension wins over active: true", user(ptr.To(false), nil, map[string]string{AnnotationSuspendedBy: SuspendedByAdmin}), true, false, "", SuspendedByAdmin, false},
		{"an admin suspension not yet recorded still wins", user(ptr.To(false), map[string]string{LabelManagedBy: "okta"}, nil), true, false, "", SuspendedByAdmin, true},
		{"admin suspension stays unmarked on active: false", user(ptr.To(false), map[string]string{LabelManagedBy: "okta"}, map[string]string{AnnotationSuspendedBy: SuspendedByAdmin}), false, false, "", SuspendedByAdmin, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed := tt.u.ApplyProviderActive("okta", tt.active)
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if tt.u.IsActive() != tt.wantActive {
				t.Errorf("active = %v, want %v", tt.u.IsActive(), tt.wantActive)
			}
			if got := ManagedBy(tt.u); got != tt.wantManagedBy {
				t.Errorf("managed-by = %q, want %q", got, tt.wantManagedBy)
			}
			if got := tt.u.SuspendedBy(); got != tt.wantSuspended {
				t.Errorf("suspended-by = %q, want %q", got, tt.wantSuspended)
			}
		})
	}
}

func TestObserveSuspension(t *testing.T) {
	tests := []struct {
		name          string
		u             *ScimUser
		wantSuspended string
		wantManagedBy string
		wantChanged   bool
	}{
		{"active unmarked user: nothing", user(nil, nil, nil), "", "", false},
		{"active marked user: nothing", user(ptr.To(true), map[string]string{LabelManagedBy: "okta"}, nil), "", "okta", false},
		{"suspended without record: an admin did it", user(ptr.To(false), map[string]string{LabelManagedBy: "okta"}, nil), SuspendedByAdmin, "", true},
		{"provider suspension is kept", user(ptr.To(false), nil, map[string]string{AnnotationSuspendedBy: SuspendedByProvider}), SuspendedByProvider, "", false},
		{"admin lifted the suspension: record cleared", user(ptr.To(true), nil, map[string]string{AnnotationSuspendedBy: SuspendedByAdmin}), "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if changed := tt.u.ObserveSuspension(); changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if got := tt.u.SuspendedBy(); got != tt.wantSuspended {
				t.Errorf("suspended-by = %q, want %q", got, tt.wantSuspended)
			}
			if got := ManagedBy(tt.u); got != tt.wantManagedBy {
				t.Errorf("managed-by = %q, want %q", got, tt.wantManagedBy)
			}
		})
	}
}

func TestTouchByProvider(t *testing.T) {
	if u := user(nil, nil, nil); !u.TouchByProvider("okta") || ManagedBy(u) != "okta" {
		t.Error("an active member used by a request must be marked")
	}
	if u := user(ptr.To(false), nil, map[string]string{AnnotationSuspendedBy: SuspendedByAdmin}); u.TouchByProvider("okta") || ManagedBy(u) != "" {
		t.Error("a suspended member must not be marked")
	}
	r := &ScimRole{}
	if !MarkManagedBy(r, "generic") || MarkManagedBy(r, "generic") || ManagedBy(r) != "generic" {
		t.Error("MarkManagedBy must mark once and report no change the second time")
	}
}

func TestIdentityKey(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"ASCII is lower-cased", "Alice@Example.COM", "alice@example.com"},
		{"long s (U+017F) folds to s", "\u017fam@example.com", "sam@example.com"},
		{"Kelvin sign (U+212A) is k", "\u212aelvin", "kelvin"},
		{"Ohm sign (U+2126) is omega", "\u2126", "\u03c9"},
		{"fullwidth letters are ASCII", "\uff33\uff21\uff2d", "sam"},
		{"fullwidth commercial at is @", "sam\uff20example.com", "sam@example.com"},
		{"ligature fi (U+FB01) is fi", "\ufb01nance", "finance"},
		{"sharp s folds to ss", "Stra\u00dfe", "strasse"},
		{"capital sharp s (U+1E9E) folds to ss", "STRA\u1e9eE", "strasse"},
		{"final sigma folds to sigma", "\u039f\u03b4\u03bf\u03c2", "\u03bf\u03b4\u03bf\u03c3"},
		{"decomposed e-acute composes", "Rene\u0301", "ren\u00e9"},
		{"precomposed e-acute stays", "REN\u00c9", "ren\u00e9"},
		{"superscript two is 2", "x\u00b2", "x2"},
		{"dotted capital I folds to i with a dot above (not Turkic)", "\u0130", "i\u0307"},
		{"dotless i is kept apart", "\u0131", "\u0131"},
		{"surrounding ASCII white space is trimmed", " \tAdmins \n", "admins"},
		{"surrounding Unicode white space is trimmed", "\u3000Admins\u00a0", "admins"},
		{"white space inside is kept", "Platform  Admins", "platform  admins"},
		{"white space only is empty", " \u2003 ", ""},
		{"empty is empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := IdentityKey(tt.in)
			if got != tt.want {
				t.Errorf("IdentityKey(%+q) = %+q, want %+q", tt.in, got, tt.want)
			}
			if again := IdentityKey(got); again != got {
				t.Errorf("IdentityKey is not idempotent on %+q: %+q", got, again)
			}
		})
	}
}

func TestIdentityKeyDistinguishes(t *testing.T) {
	for _, pair := range [][2]string{
		{"i", "\u0131"},       // dotless i is another letter
		{"alice", "alice2"},   // a suffix
		{"a b", "ab"},         // inner white space counts
		{"a b", "a  b"},       // and so does how much of it
		{"rene", "ren\u00e9"}, // an accent counts
		{"o", "\u00f8"},       // o with stroke has no decomposition
		{"\u0430", "a"},       // Cyrillic a is not Latin a: confusables are out of scope
	} {
		if IdentityKey(pair[0]) == IdentityKey(pair[1]) {
			t.Errorf("%+q and %+q must have different keys, both have %+q", pair[0], pair[1], IdentityKey(pair[0]))
		}
	}
}

// TestIdentityKeyOfASCII pins the keys of ASCII names to strings.ToLower, which ids were derived
// from before IdentityKey: the ids of existing ASCII names do not move. The non-ASCII suffix makes
// the ASCII part go through the Unicode path too.
func TestIdentityKeyOfASCII(t *testing.T) {
	for b := byte(0x21); b < 0x7f; b++ {
		s := "x" + string(b) + "Y"
		if got, want := IdentityKey(s), strings.ToLower(s); got != want {
			t.Errorf("IdentityKey(%q) = %q, want strings.ToLower's %q", s, got, want)
		}
		if got, want := IdentityKey(s+"\u00e9"), strings.ToLower(s)+"\u00e9"; got != want {
			t.Errorf("IdentityKey(%q) = %q, want %q", s+"\u00e9", got, want)
		}
	}
}

func FuzzIdentityKey(f *testing.F) {
	for _, s := range []string{"Alice@Example.com", "\u017fam", "\u212a", "\ufb01", " Admins ", "\u0130", "\u00a8x", "e\u0301\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key := IdentityKey(s)
		if IdentityKey(key) != key {
			t.Errorf("not idempotent: %+q -> %+q -> %+q", s, key, IdentityKey(key))
		}
		if strings.TrimSpace(key) != key {
			t.Errorf("key %+q of %+q has surrounding white space", key, s)
		}
		if isASCII(s) && strings.TrimSpace(s) == s && key != strings.ToLower(s) {
			t.Errorf("ASCII %q: key %q, want strings.ToLower's %q", s, key, strings.ToLower(s))
		}
	})
}

func TestValidateUserName(t *testing.T) {
	for _, ok := range []string{"alice", "alice@example.com", "Alice Liddell", "\u017fam"} {
		if err := ValidateUserName(ok); err != nil {
			t.Errorf("ValidateUserName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "\t\n", " alice", "alice ", "alice\t", "\u00a0alice", "alice\u3000", "alice\u2028"} {
		if err := ValidateUserName(bad); err == nil {
			t.Errorf("ValidateUserName(%+q) = nil, want an error", bad)
		}
	}
	if err := ValidateUserName(" alice"); err == nil || !strings.Contains(err.Error(), "must not begin or end with white space") {
		t.Errorf("ValidateUserName(\" alice\") = %v, want the white space message", err)
	}
}

func TestSpecIsActive(t *testing.T) {
	tests := []struct {
		name   string
		active *bool
		want   bool
	}{
		{"unset is active", nil, true},
		{"true is active", ptr.To(true), true},
		{"false is suspended", ptr.To(false), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &ScimUserSpec{UserName: "u", Active: tt.active}
			if got := spec.IsActive(); got != tt.want {
				t.Errorf("ScimUserSpec.IsActive() = %v, want %v", got, tt.want)
			}
			if got := (&ScimUser{Spec: *spec}).IsActive(); got != tt.want {
				t.Errorf("ScimUser.IsActive() = %v, want %v", got, tt.want)
			}
		})
	}
}

func members(ids ...string) []Member {
	out := make([]Member, len(ids))
	for i, id := range ids {
		out[i] = Member{Value: id, Display: "user " + id}
	}
	return out
}

func TestMemberIDs(t *testing.T) {
	tests := []struct {
		name    string
		members []Member
		want    []string
	}{
		{"no members", nil, []string{}},
		{"one member", members("a-1"), []string{"a-1"}},
		{"in the order of the members", members("a-2", "a-1", "a-3"), []string{"a-2", "a-1", "a-3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &ScimRoleSpec{DisplayName: "r", Members: tt.members}
			if got := spec.MemberIDs(); !slices.Equal(got, tt.want) {
				t.Errorf("ScimRoleSpec.MemberIDs() = %q, want %q", got, tt.want)
			}
			if got := (&ScimRole{Spec: *spec}).MemberIDs(); !slices.Equal(got, tt.want) {
				t.Errorf("ScimRole.MemberIDs() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRemoveMember(t *testing.T) {
	tests := []struct {
		name        string
		members     []Member
		remove      string
		want        []string
		wantChanged bool
	}{
		{"the only member", members("a-1"), "a-1", []string{}, true},
		{"one of several, the others keep their order", members("a-3", "a-1", "a-2"), "a-1", []string{"a-3", "a-2"}, true},
		{"not a member: no change", members("a-1", "a-2"), "a-9", []string{"a-1", "a-2"}, false},
		{"no members: no change", nil, "a-1", []string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.members)
			r := &ScimRole{Spec: ScimRoleSpec{DisplayName: "r", Members: tt.members}}
			if changed := r.RemoveMember(tt.remove); changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if got := r.MemberIDs(); !slices.Equal(got, tt.want) {
				t.Errorf("members = %q, want %q", got, tt.want)
			}
			if !slices.Equal(tt.members, before) {
				t.Errorf("the members the role held before were changed in place: %v, want %v", tt.members, before)
			}
		})
	}
}

func TestHasAccess(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name     string
		active   *bool
		deletion *metav1.Time
		want     bool
	}{
		{"active (unset)", nil, nil, true},
		{"active", ptr.To(true), nil, true},
		{"suspended", ptr.To(false), nil, false},
		{"active, being deleted", ptr.To(true), &now, false},
		{"suspended, being deleted", ptr.To(false), &now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := user(tt.active, nil, nil)
			u.DeletionTimestamp = tt.deletion
			if got := u.HasAccess(); got != tt.want {
				t.Errorf("HasAccess() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIsTerminating(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name string
		obj  metav1.Object
		want bool
	}{
		{"user", &ScimUser{}, false},
		{"user being deleted", &ScimUser{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}}, true},
		{"role", &ScimRole{}, false},
		{"role being deleted, finalizer pending", &ScimRole{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now, Finalizers: []string{FinalizerAccess}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTerminating(tt.obj); got != tt.want {
				t.Errorf("IsTerminating() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFinalizerAccess(t *testing.T) {
	const other = "example.com/other"
	tests := []struct {
		name       string
		finalizers []string
		wantHas    bool
		wantAdd    []string
		wantRemove []string
	}{
		{"none", nil, false, []string{FinalizerAccess}, nil},
		{"only another", []string{other}, false, []string{other, FinalizerAccess}, []string{other}},
		{"only ours", []string{FinalizerAccess}, true, []string{FinalizerAccess}, []string{}},
		{"ours and another", []string{FinalizerAccess, other}, true, []string{FinalizerAccess, other}, []string{other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			role := &ScimRole{ObjectMeta: metav1.ObjectMeta{Finalizers: slices.Clone(tt.finalizers)}}
			if got := HasFinalizerAccess(role); got != tt.wantHas {
				t.Errorf("HasFinalizerAccess() = %v, want %v", got, tt.wantHas)
			}
			if changed := AddFinalizerAccess(role); changed == tt.wantHas {
				t.Errorf("AddFinalizerAccess() changed = %v, want %v", changed, !tt.wantHas)
			}
			if got := role.GetFinalizers(); !slices.Equal(got, tt.wantAdd) {
				t.Errorf("after AddFinalizerAccess: %q, want %q", got, tt.wantAdd)
			}
			if AddFinalizerAccess(role) {
				t.Error("AddFinalizerAccess() changed an object that carries the finalizer")
			}

			u := &ScimUser{ObjectMeta: metav1.ObjectMeta{Finalizers: slices.Clone(tt.finalizers)}}
			shared := u.Finalizers
			if changed := RemoveFinalizerAccess(u); changed != tt.wantHas {
				t.Errorf("RemoveFinalizerAccess() changed = %v, want %v", changed, tt.wantHas)
			}
			if got := u.GetFinalizers(); !slices.Equal(got, tt.wantRemove) {
				t.Errorf("after RemoveFinalizerAccess: %q, want %q", got, tt.wantRemove)
			}
			if !slices.Equal(shared, tt.finalizers) {
				t.Errorf("RemoveFinalizerAccess changed the finalizers in place: %q, want %q", shared, tt.finalizers)
			}
			if RemoveFinalizerAccess(u) || HasFinalizerAccess(u) {
				t.Error("RemoveFinalizerAccess() left the finalizer, or changed an object without it")
			}
		})
	}
}

// TestRoleMembers checks that a role's members are its own and those of the shards it owns, each
// once, and that a shard of another role — or of a deleted role of the same name — adds nothing.
func TestRoleMembers(t *testing.T) {
	role := &ScimRole{ObjectMeta: metav1.ObjectMeta{Name: "r-1", UID: "uid-1"},
		Spec: ScimRoleSpec{Members: []Member{{Value: "a-1"}, {Value: "a-2"}}}}
	owned := NewShard(role, 0)
	owned.Spec.Members = []Member{{Value: "a-3"}, {Value: "a-2"}}
	second := NewShard(role, 1)
	second.Spec.Members = []Member{{Value: "a-4"}}
	stale := NewShard(&ScimRole{ObjectMeta: metav1.ObjectMeta{Name: "r-1", UID: "uid-old"}}, 2)
	stale.Spec.Members = []Member{{Value: "a-old"}}
	other := NewShard(&ScimRole{ObjectMeta: metav1.ObjectMeta{Name: "r-2", UID: "uid-1"}}, 0)
	other.Spec.Members = []Member{{Value: "a-other"}}
	deleting := NewShard(role, 3)
	deleting.DeletionTimestamp = &metav1.Time{}
	deleting.Spec.Members = []Member{{Value: "a-gone"}}

	got := RoleMemberIDs(role, []ScimRoleMembers{*owned, *stale, *other, *second, *deleting})
	if want := []string{"a-1", "a-2", "a-3", "a-4"}; !slices.Equal(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}
	if got := RoleMemberIDs(role, nil); !slices.Equal(got, []string{"a-1", "a-2"}) {
		t.Errorf("without shards: %v", got)
	}
	if owned.Name != "r-1.members-0" || owned.Labels[LabelRole] != "r-1" || owned.Spec.Role != "r-1" {
		t.Errorf("shard %s labels %v role %s", owned.Name, owned.Labels, owned.Spec.Role)
	}
	long := strings.Repeat("r", 250)
	if name := ShardName(long, 12); len(name) > 253 || !strings.HasSuffix(name, ".members-12") {
		t.Errorf("ShardName of a long role: %q", name)
	}
}

// The rules change a user's labels by replacing the map, never in place: the SCIM server's cache
// shares one label map among the users that hold the same labels (store's intern.go), and a change
// in place would change them all.
func TestRulesReplaceLabelsNotChangeThem(t *testing.T) {
	for _, tt := range []struct {
		name   string
		active *bool
		apply  func(u *ScimUser)
	}{
		{"a provider suspends", ptr.To(true), func(u *ScimUser) { u.ApplyProviderActive("okta", false) }},
		{"another provider takes over", ptr.To(true), func(u *ScimUser) { u.ApplyProviderActive("entra", true) }},
		{"an admin suspension is observed", ptr.To(false), func(u *ScimUser) { u.ObserveSuspension() }},
		{"a member is touched by another provider", ptr.To(true), func(u *ScimUser) { u.TouchByProvider("entra") }},
		{"marked by another provider", ptr.To(true), func(u *ScimUser) { MarkManagedBy(u, "entra") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			shared := map[string]string{LabelManagedBy: "okta", "team": "a"}
			u, other := user(tt.active, shared, nil), user(ptr.To(true), shared, nil)
			tt.apply(u)
			if ManagedBy(u) == "okta" {
				t.Fatalf("the rule left the user's marking as it was: %v", u.Labels)
			}
			if want := map[string]string{LabelManagedBy: "okta", "team": "a"}; !maps.Equal(shared, want) || !maps.Equal(other.Labels, want) {
				t.Errorf("the shared map changed: %v, the other user's labels %v, want %v", shared, other.Labels, want)
			}
			if u.Labels["team"] != "a" {
				t.Errorf("the user lost its other labels: %v", u.Labels)
			}
		})
	}
}
