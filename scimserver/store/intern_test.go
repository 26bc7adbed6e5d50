package store

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// cachedUser is user i of a tenant as the informer decodes it from the API server: its status
// written by the controllers (three conditions, set at once, 200 users' a second as in an initial
// sync), the marking label, the
// access finalizer and the managedFields of the SCIM server's and the controller's writes. The
// JSON decoder allocates every string of it anew.
func cachedUser(t testing.TB, i int) *v1.ScimUser {
	t.Helper()
	written := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i) * time.Second))
	set := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i/200) * time.Second))
	u := &v1.ScimUser{
		TypeMeta: metav1.TypeMeta{APIVersion: v1.GroupVersion.String(), Kind: "ScimUser"},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("a-%016x", i), UID: types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", i)),
			ResourceVersion: fmt.Sprint(1000 + i), Generation: 1, Labels: map[string]string{v1.LabelManagedBy: "okta"},
			Finalizers: []string{v1.FinalizerAccess}, ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "scim-operator", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: v1.GroupVersion.String(), Time: &written,
					FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:finalizers":{".":{},"v:\"scim.strongdm.com/access\"":{}},"f:labels":{".":{},"f:scim.strongdm.com/managed-by":{}}},"f:spec":{".":{},"f:active":{},"f:displayName":{},"f:emails":{},"f:externalId":{},"f:name":{".":{},"f:familyName":{},"f:givenName":{}},"f:userName":{},"f:userType":{}}}`)}},
				{Manager: "scim-operator", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: v1.GroupVersion.String(), Time: &written, Subresource: "status",
					FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{".":{},"f:conditions":{},"f:observedGeneration":{},"f:subject":{}}}`)}},
			}},
		Spec: v1.ScimUserSpec{UserName: fmt.Sprintf("user%06d@example.com", i), Active: new(true), UserType: "Employee",
			ExternalID: fmt.Sprintf("00u%017d", i), DisplayName: fmt.Sprintf("Given%d Family%d", i, i),
			Name:   &v1.Name{GivenName: fmt.Sprintf("Given%d", i), FamilyName: fmt.Sprintf("Family%d", i)},
			Emails: []v1.MultiValuedAttribute{{Value: fmt.Sprintf("user%06d@example.com", i), Type: "work", Primary: new(true)}}},
		Status: v1.ScimUserStatus{ObservedGeneration: 1, Subject: fmt.Sprintf("oidc:user%06d@example.com", i), Conditions: []metav1.Condition{
			{Type: v1.ConditionExternallyManaged, Status: metav1.ConditionTrue, Reason: v1.ReasonManagedByProvider, ObservedGeneration: 1, LastTransitionTime: set,
				Message: "Managed by provider okta through SCIM; to take the user over, remove the label " + v1.LabelManagedBy},
			{Type: v1.ConditionSuspended, Status: metav1.ConditionFalse, Reason: "Active", ObservedGeneration: 1, LastTransitionTime: set, Message: "The user is active"},
			{Type: v1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Bound", ObservedGeneration: 1, LastTransitionTime: set, Message: "Every grant of the user's roles holds it"},
		}},
	}
	data, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	decoded := &v1.ScimUser{}
	if err := json.Unmarshal(data, decoded); err != nil {
		t.Fatal(err)
	}
	return decoded
}

func sameString(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

// Two users decoded apart hold one copy of each string they share once transformed, and are
// otherwise unchanged.
func TestTransformCachedInternsSharedStrings(t *testing.T) {
	a, b := cachedUser(t, 1), cachedUser(t, 1+1000)
	wantA := a.DeepCopy()
	wantA.ManagedFields = nil // dropped (lastmodified_test.go)
	if cap(a.Status.Conditions) == len(a.Status.Conditions) {
		t.Fatal("the decoder left no room in the lists: the test proves nothing of clipping")
	}
	if sameString(a.Status.Conditions[0].Message, b.Status.Conditions[0].Message) {
		t.Fatal("the decoder shared a string already: the test proves nothing")
	}
	for _, u := range []*v1.ScimUser{a, b} {
		if _, err := TransformCached(u); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(a, wantA) {
		t.Fatalf("the transform changed the user:\n%+v\nwant\n%+v", a, wantA)
	}
	for _, s := range []struct{ what, a, b string }{
		{"a condition's message", a.Status.Conditions[0].Message, b.Status.Conditions[0].Message},
		{"a condition's reason", a.Status.Conditions[2].Reason, b.Status.Conditions[2].Reason},
		{"a condition's type", a.Status.Conditions[1].Type, b.Status.Conditions[1].Type},
		{"a condition's status", string(a.Status.Conditions[0].Status), string(b.Status.Conditions[0].Status)},
		{"the marking label's value", a.Labels[v1.LabelManagedBy], b.Labels[v1.LabelManagedBy]},
		{"the finalizer", a.Finalizers[0], b.Finalizers[0]},
		{"the userType", a.Spec.UserType, b.Spec.UserType},
		{"an e-mail's type", a.Spec.Emails[0].Type, b.Spec.Emails[0].Type},
		{"the API version", a.APIVersion, b.APIVersion},
	} {
		if !sameString(s.a, s.b) {
			t.Errorf("%s (%q) is held twice", s.what, s.a)
		}
	}
	if reflect.ValueOf(a.Labels).UnsafePointer() != reflect.ValueOf(b.Labels).UnsafePointer() {
		t.Error("the users' equal label maps are held twice")
	}
	if cap(a.Status.Conditions) != len(a.Status.Conditions) {
		t.Errorf("the conditions keep the decoder's room: %d with room for %d", len(a.Status.Conditions), cap(a.Status.Conditions))
	}
	role := &v1.ScimRole{Status: v1.ScimRoleStatus{Conditions: []metav1.Condition{{Type: v1.ConditionReady, Reason: "Bound", Message: strings.Clone(a.Status.Conditions[2].Message)}}}}
	if _, err := TransformCached(role); err != nil {
		t.Fatal(err)
	}
	if !sameString(role.Status.Conditions[0].Message, a.Status.Conditions[2].Message) {
		t.Error("a role's condition message is not interned")
	}
}

// Users whose conditions are alike hold one list of them once transformed; users whose conditions
// differ in anything, the time of a transition included, hold their own.
func TestTransformCachedSharesEqualConditions(t *testing.T) {
	a, b, later := cachedUser(t, 1), cachedUser(t, 2), cachedUser(t, 1+200)
	other := cachedUser(t, 3)
	other.Status.Conditions[2].Message = "Another message"
	wantOther := other.Status.Conditions[2]
	for _, u := range []*v1.ScimUser{a, b, later, other} {
		if _, err := TransformCached(u); err != nil {
			t.Fatal(err)
		}
	}
	if &a.Status.Conditions[0] != &b.Status.Conditions[0] {
		t.Error("two users' equal conditions are held twice")
	}
	for what, u := range map[string]*v1.ScimUser{"a later transition": later, "another message": other} {
		if &u.Status.Conditions[0] == &a.Status.Conditions[0] {
			t.Errorf("conditions with %s were shared", what)
		}
		if !sameString(u.Status.Conditions[0].Message, a.Status.Conditions[0].Message) {
			t.Errorf("conditions with %s: their strings are not interned", what)
		}
	}
	if other.Status.Conditions[2] != wantOther || later.Status.Conditions[2].LastTransitionTime.Equal(&a.Status.Conditions[2].LastTransitionTime) {
		t.Error("a shared list replaced conditions that differ from it")
	}
}

// The table of condition lists is bounded (a full table starts again), and a list whose digest
// another list has is left as it is.
func TestConditionSetsAreBounded(t *testing.T) {
	table := conditionSetTable{m: map[uint64][]metav1.Condition{}, maxEntries: 2}
	list := func(reason string) []metav1.Condition {
		return []metav1.Condition{{Type: v1.ConditionReady, Status: metav1.ConditionTrue, Reason: reason}}
	}
	first := table.share(list("A"))
	table.share(list("B"))
	third := table.share(list("C"))
	if len(table.m) != 1 {
		t.Fatalf("a full table holds %d lists after a new one, want 1 (started again)", len(table.m))
	}
	if again := table.share(list("C")); &again[0] != &third[0] {
		t.Error("the list added after the table started again is not shared")
	}
	if again := table.share(list("A")); &again[0] == &first[0] {
		t.Error("a list the table dropped is still shared")
	}
	collides := list("D")
	table.m[conditionsDigest(collides)] = list("E")
	if got := table.share(collides); &got[0] != &collides[0] || got[0].Reason != "D" {
		t.Errorf("a list whose digest another list has became %+v", got)
	}
	if table.share(nil) != nil {
		t.Error("no conditions")
	}
}

// Label maps are shared only when they are equal, and the table of them is bounded: a map of many
// labels or long ones is left as it is, and a full table adds nothing.
func TestLabelSetsShareEqualMapsOnly(t *testing.T) {
	table := labelSetTable{table[map[string]string]{m: map[string]map[string]string{}, maxEntries: 2}}
	a := table.share(map[string]string{"k": "v", "x": "1"})
	if got := table.share(map[string]string{"x": "1", "k": "v"}); reflect.ValueOf(got).UnsafePointer() != reflect.ValueOf(a).UnsafePointer() {
		t.Error("an equal map is not shared")
	}
	for _, other := range []map[string]string{{"k": "v"}, {"k": "v", "x": "2"}, {"k\x00v": ""}, {"k": "v\x00x\x001"}} {
		if got := table.share(maps.Clone(other)); !maps.Equal(got, other) {
			t.Errorf("%q was shared as %q", other, got)
		}
	}
	many := map[string]string{}
	for i := range labelSetMaxLabels + 1 {
		many[fmt.Sprint(i)] = "v"
	}
	long := map[string]string{"k": strings.Repeat("v", internMaxLen)}
	full := map[string]string{"new": "set"}
	for _, m := range []map[string]string{many, long, full} {
		before := len(table.m)
		if got := table.share(m); reflect.ValueOf(got).UnsafePointer() != reflect.ValueOf(m).UnsafePointer() || len(table.m) != before {
			t.Errorf("a map of %d labels was added to a table of %d", len(m), before)
		}
	}
	if table.share(nil) != nil {
		t.Error("no labels")
	}
}

// The table is bounded: long strings are left as they are, and a full table adds nothing.
func TestInternTableIsBounded(t *testing.T) {
	table := internTable{table[string]{m: map[string]string{}, maxEntries: 2}}
	long := strings.Repeat("x", internMaxLen+1)
	if got := table.intern(strings.Clone(long)); got != long || len(table.m) != 0 {
		t.Fatalf("a string of %d bytes was interned", len(long))
	}
	first := table.intern(strings.Clone("a"))
	if again := table.intern(strings.Clone("a")); !sameString(first, again) {
		t.Fatal("the same string interned twice")
	}
	table.intern("b")
	c := strings.Clone("c")
	if got := table.intern(c); !sameString(got, c) || len(table.m) != 2 {
		t.Fatalf("a full table took %q (%d entries)", got, len(table.m))
	}
	if table.intern("") != "" {
		t.Fatal("the empty string")
	}
}

// BenchmarkCachedUserHeap reports the live heap that 10,000 users decoded as the informer decodes
// them hold per user (B/user), as decoded and after the cache's transform (what it drops and
// interns, and what it keeps aside: the time of the latest write).
func BenchmarkCachedUserHeap(b *testing.B) {
	const n = 10000
	for _, transform := range []bool{false, true} {
		b.Run(fmt.Sprintf("transformed=%v", transform), func(b *testing.B) {
			var perUser float64
			for b.Loop() {
				var before runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				users := make([]*v1.ScimUser, 0, n)
				for i := range n {
					users = append(users, cachedUser(b, i))
				}
				if transform {
					for _, u := range users {
						if _, err := TransformCached(u); err != nil {
							b.Fatal(err)
						}
					}
				}
				var after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&after)
				perUser = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
				for _, u := range users {
					forgetLastWrite(u)
				}
				runtime.KeepAlive(users)
			}
			b.ReportMetric(perUser, "B/user")
		})
	}
}
