package controllers

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
)

// conditionSetter sets the conditions of ScimUsers and ScimRoles and reports their changes as
// events.
type conditionSetter struct {
	recorder events.EventRecorder
}

func (r *ScimUserReconciler) conditions() conditionSetter {
	return conditionSetter{recorder: r.Recorder}
}

func (r *ScimRoleReconciler) conditions() conditionSetter {
	return conditionSetter{recorder: r.Recorder}
}

// conditionsObject is an object with conditions, as cluster-api's conditions.Setter: a ScimUser or a
// ScimRole.
type conditionsObject interface {
	client.Object
	GetConditions() []metav1.Condition
	SetConditions(conditions []metav1.Condition)
}

// set sets the condition of type t on obj. It stamps the condition with obj's generation and keeps
// LastTransitionTime unless the status flips. When the status or the reason changes it emits an
// event with the condition's reason and message: a Warning for a Ready condition that is False, else
// Normal — but none for a first setting that is how every new object starts (usualStart).
func (s conditionSetter) set(obj conditionsObject, t string, status metav1.ConditionStatus, reason, message string) {
	conditions := obj.GetConditions()
	// A copy: SetStatusCondition changes the condition in place.
	var prev *metav1.Condition
	if c := meta.FindStatusCondition(conditions, t); c != nil {
		prev = c.DeepCopy()
	}
	meta.SetStatusCondition(&conditions, metav1.Condition{
		Type:               t,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: obj.GetGeneration(),
	})
	obj.SetConditions(conditions)
	if prev != nil && prev.Status == status && prev.Reason == reason {
		return
	}
	eventType := corev1.EventTypeNormal
	if t == identityv1alpha1.ConditionReady && status == metav1.ConditionFalse {
		eventType = corev1.EventTypeWarning
	}
	if prev == nil && usualStart(t, status) {
		// A new object's first conditions, as every new object starts, are no change to report:
		// an initial sync of 10,000 users would otherwise write as many events as users. A
		// suspension or a Warning is reported however it starts.
		return
	}
	s.recorder.Eventf(obj, nil, eventType, reason, t, "%s", message)
}

// usualStart reports whether a condition of type t that is first set to status says what a new
// object usually starts as: ready, not suspended, and managed by a provider or not.
func usualStart(t string, status metav1.ConditionStatus) bool {
	switch t {
	case identityv1alpha1.ConditionReady:
		return status == metav1.ConditionTrue
	case identityv1alpha1.ConditionSuspended:
		return status == metav1.ConditionFalse
	case identityv1alpha1.ConditionExternallyManaged:
		return true
	}
	return false
}

// patchStatus writes obj's status once, at the end of a reconcile, when it differs from before's.
// The observed generation moves only when the reconcile succeeded.
func patchStatus[T client.Object](ctx context.Context, c client.Client, before, obj T, succeeded bool) error {
	if succeeded {
		statusOf(obj).FieldByName("ObservedGeneration").SetInt(obj.GetGeneration())
	}
	if equality.Semantic.DeepEqual(statusOf(before).Interface(), statusOf(obj).Interface()) {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patch status of %T %s: %w", obj, obj.GetName(), err)
	}
	return nil
}

// statusChangedHandler queues an object whose status changed, coalesced (readinessDelay) and at
// low priority, so that its status is computed again from what the cache holds once it shows the
// change. A reconcile compares the status it computes with the cached object's and writes only
// what differs (patchStatus). So a reconcile that read a copy older than the manager's last write
// of that status (the cache lags the API server), and found the older copy already as it should
// be, wrote nothing; and the status-only change the cache showed next queued nothing (the
// controllers watch their objects' generation, labels and annotations): the newer status stayed,
// though what it said no longer held. At 50,000 users a user stayed Ready=False BindingsPending
// after its binding was written. A status written by someone else is corrected the same way. Each
// of the manager's own status writes costs one more reconcile, which finds the status as it should
// be and writes nothing.
func statusChangedHandler() handler.EventHandler {
	return handler.Funcs{
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q access.Queue) {
			if !equality.Semantic.DeepEqual(statusOf(e.ObjectOld).Interface(), statusOf(e.ObjectNew).Interface()) {
				enqueue(q, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.ObjectNew)}, handler.LowPriority, readinessDelay)
			}
		},
	}
}

// statusOf is the Status field of obj, a pointer to an API type. It is found by the API convention
// (a field Status holding ObservedGeneration), as cluster-api's patch helper finds it, so that no
// type needs accessors for it; comparing the statuses, not the objects, keeps a role of 20,000
// members from spending some 10ms a reconcile comparing its members.
func statusOf(obj client.Object) reflect.Value {
	return reflect.ValueOf(obj).Elem().FieldByName("Status")
}

// messageList is how a condition message lists things: at most most of them, joined by sep, the
// rest counted after and.
type messageList struct {
	most     int
	sep, and string
}

var (
	// problemList lists problems: "p1; p2; p3; p4; p5; and 2 more".
	problemList = messageList{most: 5, sep: "; ", and: "; and "}
	// idList lists ids: "a-1, a-2, …, a-10 and 3 more".
	idList = messageList{most: 10, sep: ", ", and: " and "}
)

// summarize joins items as l lists them, naming at most l.most.
func (l messageList) summarize(items []string) string {
	if len(items) <= l.most {
		return strings.Join(items, l.sep)
	}
	return fmt.Sprintf("%s%s%d more", strings.Join(items[:l.most], l.sep), l.and, len(items)-l.most)
}
