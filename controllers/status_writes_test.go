package controllers

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// recordingQueue is a priority queue that records what is added with AddWithOpts (the only method
// the handlers under test call).
type recordingQueue struct {
	priorityqueue.PriorityQueue[reconcile.Request]
	added map[string]priorityqueue.AddOpts
}

func (q *recordingQueue) AddWithOpts(o priorityqueue.AddOpts, items ...reconcile.Request) {
	for _, item := range items {
		q.added[item.Name] = o
	}
}

// A role change refreshes its members' status a moment later, so that the changes of several group
// PATCHes, and the bindings each is followed by, are written in one status update.
func TestRoleMembersHandlerCoalesces(t *testing.T) {
	r := &ScimUserReconciler{}
	h := r.roleMembersHandler()
	role := func(members ...string) *identityv1alpha1.ScimRole {
		out := &identityv1alpha1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: "r-1"}, Spec: identityv1alpha1.ScimRoleSpec{DisplayName: "Role"}}
		for _, m := range members {
			out.Spec.Members = append(out.Spec.Members, identityv1alpha1.Member{Value: m})
		}
		return out
	}
	q := &recordingQueue{added: map[string]priorityqueue.AddOpts{}}
	h.Update(context.Background(), event.UpdateEvent{ObjectOld: role("a-1", "a-2"), ObjectNew: role("a-2", "a-3")}, q)
	if len(q.added) != 2 {
		t.Fatalf("queued %v, want the member who left and the one who joined", q.added)
	}
	for _, name := range []string{"a-1", "a-3"} {
		o, ok := q.added[name]
		if !ok || o.After != membershipDelay {
			t.Errorf("%s queued %v (%v), want after %v", name, ok, o.After, membershipDelay)
		}
	}
	h.Create(context.Background(), event.CreateEvent{Object: role("a-4")}, q)
	if o := q.added["a-4"]; o.After != membershipDelay {
		t.Errorf("a new role's member queued after %v, want %v", o.After, membershipDelay)
	}
}

// A new object's first conditions, as every new object starts, are no change to report; later
// changes, a first suspension and every Warning are.
func TestConditionEvents(t *testing.T) {
	recorder := events.NewFakeRecorder(10)
	s := conditionSetter{recorder: recorder}
	user := &identityv1alpha1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: "a-1"}}
	drain := func() []string {
		var out []string
		for {
			select {
			case e := <-recorder.Events:
				out = append(out, e)
			case <-time.After(10 * time.Millisecond):
				return out
			}
		}
	}
	s.set(user, identityv1alpha1.ConditionSuspended, metav1.ConditionFalse, identityv1alpha1.ReasonActive, "active")
	s.set(user, identityv1alpha1.ConditionReady, metav1.ConditionTrue, identityv1alpha1.ReasonBindingsApplied, "in no role")
	if got := drain(); len(got) != 0 {
		t.Fatalf("events for a new user's first conditions: %v", got)
	}
	s.set(user, identityv1alpha1.ConditionSuspended, metav1.ConditionTrue, identityv1alpha1.ReasonSuspendedByAdmin, "suspended")
	if got := drain(); len(got) != 1 {
		t.Fatalf("events for a suspension: %v, want one", got)
	}
	s.set(user, identityv1alpha1.ConditionSuspended, metav1.ConditionTrue, identityv1alpha1.ReasonSuspendedByAdmin, "suspended")
	if got := drain(); len(got) != 0 {
		t.Fatalf("events for an unchanged condition: %v", got)
	}
	// A user first seen suspended (created so, or suspended before its first reconcile).
	suspended := &identityv1alpha1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: "a-2"}}
	s.set(suspended, identityv1alpha1.ConditionSuspended, metav1.ConditionTrue, identityv1alpha1.ReasonSuspendedByAdmin, "suspended")
	if got := drain(); len(got) != 1 {
		t.Fatalf("events for a user first seen suspended: %v, want one", got)
	}
	role := &identityv1alpha1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: "r-1"}}
	s.set(role, identityv1alpha1.ConditionReady, metav1.ConditionFalse, identityv1alpha1.ReasonBindForbidden, "forbidden")
	if got := drain(); len(got) != 1 {
		t.Fatalf("events for a new role's first Ready False: %v, want a Warning", got)
	}
}
