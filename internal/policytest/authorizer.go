package policytest

import (
	"context"

	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// AllowAll returns an authorizer that allows everything, as for a member of system:masters.
func AllowAll() authorizer.Authorizer {
	return Authorize(func(authorizer.Attributes) bool { return true })
}

// DenyAll returns an authorizer that allows nothing.
func DenyAll() authorizer.Authorizer {
	return authorizer.AuthorizerFunc(func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
		return authorizer.DecisionDeny, "policytest: denied", nil
	})
}

// Authorize returns an authorizer that allows what allow returns true for and has no opinion on the
// rest, as RBAC.
func Authorize(allow func(authorizer.Attributes) bool) authorizer.Authorizer {
	return authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
		if allow(a) {
			return authorizer.DecisionAllow, "", nil
		}
		return authorizer.DecisionNoOpinion, "", nil
	})
}
