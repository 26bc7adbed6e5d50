package main

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// ceiling creates n ScimUsers directly through client-go, as the operator's ServiceAccount and at
// the same concurrency as the SCIM clients, each as the SCIM server would store it (marked by the
// provider, with the access finalizer, under the admission policies): what the API server sustains
// for the writes SCIM creates make, with the manager running and reconciling them as it did the
// SCIM users.
func ceiling(ctx context.Context, e *env, n, clients int, provider string) (*result, error) {
	r := measureN(ctx, "client-go: create ScimUser", clients, n, func(ctx context.Context, i int) outcome {
		u := newUser(n + i) // another userName than the tenant's
		su := &v1.ScimUser{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("a-ceiling-%07d", i), Finalizers: []string{v1.FinalizerAccess}},
			Spec:       u.spec(),
		}
		su.Spec.Active = nil
		su.ApplyProviderActive(provider, true)
		return outcome{items: 1, err: e.operator.Create(ctx, su)}
	})
	return r, r.check()
}
