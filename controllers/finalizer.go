package controllers

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// addFinalizer adds FinalizerAccess to obj when it lacks it: objects created through SCIM carry it
// from the start, those declared with GitOps or kubectl get it here. The patch carries obj's
// resourceVersion, so a concurrent change of the finalizers is never lost.
func addFinalizer[T client.Object](ctx context.Context, c client.Client, obj T) error {
	return patchFinalizers(ctx, c, obj, identityv1alpha1.AddFinalizerAccess, "add finalizer to")
}

// releaseFinalizer removes FinalizerAccess from obj, which lets its deletion complete: call it once
// what obj granted is gone.
func releaseFinalizer[T client.Object](ctx context.Context, c client.Client, obj T) error {
	return client.IgnoreNotFound(patchFinalizers(ctx, c, obj, identityv1alpha1.RemoveFinalizerAccess, "remove finalizer of"))
}

func patchFinalizers[T client.Object](ctx context.Context, c client.Client, obj T, change func(metav1.Object) bool, doing string) error {
	before := obj.DeepCopyObject().(T)
	if !change(obj) {
		return nil
	}
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("%s %T %s: %w", doing, obj, obj.GetName(), err)
	}
	return nil
}
