package cachetest

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// Tenant returns users ScimUsers and roles ScimRoles as the SCIM server and the controllers leave
// them after an identity provider's sync, each with a UID of its own: marked, with the access finalizer, two field managers and
// a Ready status. Every fifth user is in role 0, so that it holds a fifth of all users, and every
// user is in four more roles.
func Tenant(users, roles int) []client.Object {
	created := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	rs := make([]*v1.ScimRole, roles)
	for j := range rs {
		rs[j] = &v1.ScimRole{ObjectMeta: meta(fmt.Sprintf("r-%016x", j), created), Spec: v1.ScimRoleSpec{
			DisplayName: fmt.Sprintf("Group %d", j),
			Access:      &v1.Access{ClusterRoles: []string{"view"}},
		}}
	}
	out := make([]client.Object, 0, users+roles)
	for i := range users {
		u := &v1.ScimUser{ObjectMeta: meta(UserID(i), created), Spec: v1.ScimUserSpec{
			UserName: UserName(i), ExternalID: fmt.Sprintf("00u%017d", i), Active: new(true),
			Name:        &v1.Name{GivenName: fmt.Sprintf("Given%d", i), FamilyName: fmt.Sprintf("Family%d", i), Formatted: fmt.Sprintf("Given%d Family%d", i, i)},
			DisplayName: fmt.Sprintf("Given%d Family%d", i, i), Title: "Engineer", UserType: "user",
			Emails: []v1.MultiValuedAttribute{{Value: UserName(i), Type: "work", Primary: new(true)}},
		}}
		u.Status.ObservedGeneration = 1
		u.Status.Subject = "oidc:" + u.Spec.UserName
		u.Status.Conditions = []metav1.Condition{
			{Type: v1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Applied", Message: "every binding of the user's roles is applied", LastTransitionTime: created, ObservedGeneration: 1},
			{Type: v1.ConditionExternallyManaged, Status: metav1.ConditionTrue, Reason: "Managed", Message: "managed by okta", LastTransitionTime: created, ObservedGeneration: 1},
		}
		for c := range 5 {
			j := (i + c*7919) % roles
			if c == 0 {
				if i%5 != 0 {
					continue
				}
				j = 0
			}
			rs[j].Spec.Members = append(rs[j].Spec.Members, v1.Member{Value: u.Name, Display: u.Spec.DisplayName})
		}
		out = append(out, u)
	}
	for _, r := range rs {
		out = append(out, r)
	}
	return out
}

// UserID and UserName are the name and userName of Tenant's i-th user.
func UserID(i int) string   { return fmt.Sprintf("a-%016x", i) }
func UserName(i int) string { return fmt.Sprintf("user%06d@example.com", i) }

func meta(name string, created metav1.Time) metav1.ObjectMeta {
	fields := &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:finalizers":{".":{},"v:\"identity.scim-operator.io/access\"":{}},"f:labels":{".":{},"f:identity.scim-operator.io/managed-by":{}}},"f:spec":{".":{},"f:active":{},"f:displayName":{},"f:emails":{},"f:externalId":{},"f:name":{".":{},"f:familyName":{},"f:formatted":{},"f:givenName":{}},"f:title":{},"f:userName":{},"f:userType":{}}}`)}
	status := &metav1.FieldsV1{Raw: []byte(`{"f:status":{".":{},"f:conditions":{".":{},"k:{\"type\":\"ExternallyManaged\"}":{".":{},"f:lastTransitionTime":{},"f:message":{},"f:observedGeneration":{},"f:reason":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:lastTransitionTime":{},"f:message":{},"f:observedGeneration":{},"f:reason":{},"f:status":{},"f:type":{}}},"f:observedGeneration":{},"f:subject":{}}}`)}
	return metav1.ObjectMeta{
		Name: name, UID: types.UID("uid-" + name), ResourceVersion: "12345", Generation: 1,
		CreationTimestamp: created, Labels: map[string]string{v1.LabelManagedBy: "okta"}, Finalizers: []string{v1.FinalizerAccess},
		ManagedFields: []metav1.ManagedFieldsEntry{
			{Manager: "manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "identity.scim-operator.io/v1alpha1", Time: &created, FieldsType: "FieldsV1", FieldsV1: fields},
			{Manager: "manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "identity.scim-operator.io/v1alpha1", Time: &created, FieldsType: "FieldsV1", FieldsV1: status, Subresource: "status"},
		},
	}
}
