package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

func TestTransformCachedKeepsLastModified(t *testing.T) {
	created := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	spec := metav1.NewTime(created.Add(time.Hour))
	status := metav1.NewTime(created.Add(2 * time.Hour))
	u := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: "a-1", UID: "uid-strip-1", CreationTimestamp: created, ManagedFields: []metav1.ManagedFieldsEntry{
		{Manager: "scim", Time: &spec, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{}}`)}},
		{Manager: "controller", Time: &status, Subresource: "status", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{}}`)}},
	}}}
	live := u.DeepCopy()
	out, err := TransformCached(u)
	if err != nil {
		t.Fatal(err)
	}
	cached := out.(*v1.ScimUser)
	if cached.ManagedFields != nil {
		t.Fatalf("managedFields kept: %v", cached.ManagedFields)
	}
	if got := lastModified(cached); !got.Equal(status.Time) {
		t.Errorf("lastModified of the cached user = %v, want %v (as of the live one: %v)", got, status.Time, lastModified(live))
	}
	forgetLastWrite(toolscache.DeletedFinalStateUnknown{Obj: cached})
	if got := lastModified(cached); !got.Equal(created.Time) {
		t.Errorf("lastModified after the user was deleted = %v, want its creation %v", got, created.Time)
	}
	if _, err := TransformCached(toolscache.DeletedFinalStateUnknown{Key: "a-1"}); err != nil {
		t.Errorf("a tombstone: %v", err)
	}
}

// A cached shard keeps its members, without managedFields and without the room the decoder left.
func TestTransformShard(t *testing.T) {
	var s v1.ScimRoleMembers
	if err := json.Unmarshal([]byte(`{"metadata":{"name":"r-1-0","managedFields":[{"manager":"scim","operation":"Update"}]},
		"spec":{"role":"r-1","members":[{"value":"a-1"},{"value":"a-2"},{"value":"a-3"}]}}`), &s); err != nil {
		t.Fatal(err)
	}
	if cap(s.Spec.Members) == len(s.Spec.Members) {
		t.Fatal("the decoder left no room in the members: the test proves nothing")
	}
	want := s.DeepCopy()
	want.ManagedFields = nil
	out, err := TransformShard(&s)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*v1.ScimRoleMembers)
	if !reflect.DeepEqual(got, want) || cap(got.Spec.Members) != 3 {
		t.Errorf("transformed to %+v (room for %d members), want %+v without room", got, cap(got.Spec.Members), want)
	}
	if _, err := TransformShard(toolscache.DeletedFinalStateUnknown{Key: "r-1-0"}); err != nil {
		t.Errorf("a tombstone: %v", err)
	}
}
