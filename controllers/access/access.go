// Package access defines the access system that ScimRoles are projected onto: what a role grants
// becomes effective for exactly its active members, and for no one else. Kubernetes RBAC (package
// rbac) is the embedded system; another one (an external API, a webhook) implements System too.
package access

import (
	"context"
	"fmt"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// System is an access system: where the grants of roles take effect.
type System interface {
	// Apply makes every grant of role effective for exactly users (userNames) and removes what the
	// system holds for grants the role no longer declares. A grant that fails does not stop the
	// others: it is reported in Result.Failures. The error is for failures of the whole operation.
	Apply(ctx context.Context, role *identityv1alpha1.ScimRole, users []string) (Result, error)

	// Revoke removes everything the system holds for the role named role, which no longer exists.
	Revoke(ctx context.Context, role string) error

	// Holds reports which grants of role user (a userName) holds right now.
	Holds(ctx context.Context, role *identityv1alpha1.ScimRole, user string) (Holding, error)

	// Sources report every change to the system's objects, by the operator or anyone else, to
	// onChange; the controllers use them to repair drift and to follow the state of users.
	Sources(onChange ChangeFunc) []source.Source

	// Observe is told of every event of a ScimRole, ScimRoleMembers or ScimUser (old or cur nil
	// for a creation or deletion) by the event handler that queues the reconciles it causes,
	// before it queues them: a system that keeps what it read between Applies learns there, in
	// order, what a reconcile will need to read again.
	Observe(ctx context.Context, old, cur client.Object)
}

// Grant is one entry of a role's access: a ClusterRole granted cluster-wide, or a Role or
// ClusterRole granted in one namespace.
type Grant struct {
	// Kind is the kind of the granted role: ClusterRole or Role.
	Kind string
	// Name is the name of the granted role.
	Name string
	// Namespace is where the grant applies; empty for cluster-wide.
	Namespace string
}

// Kinds of granted roles.
const (
	// KindClusterRole is a Kubernetes ClusterRole.
	KindClusterRole = "ClusterRole"
	// KindRole is a Kubernetes Role.
	KindRole = "Role"
)

// String describes the grant for conditions and events, e.g. `ClusterRole "edit" in namespace "team-a"`.
func (g Grant) String() string {
	if g.Namespace == "" {
		return fmt.Sprintf("%s %q", g.Kind, g.Name)
	}
	return fmt.Sprintf("%s %q in namespace %q", g.Kind, g.Name, g.Namespace)
}

// GrantsOf returns the grants that access declares, in declaration order, without duplicates.
func GrantsOf(access *identityv1alpha1.Access) []Grant {
	if access == nil {
		return nil
	}
	var grants []Grant
	seen := map[Grant]bool{}
	add := func(g Grant) {
		if !seen[g] {
			seen[g] = true
			grants = append(grants, g)
		}
	}
	for _, name := range access.ClusterRoles {
		add(Grant{Kind: KindClusterRole, Name: name})
	}
	for _, n := range access.Namespaced {
		if n.Role != "" {
			add(Grant{Kind: KindRole, Name: n.Role, Namespace: n.Namespace})
		} else {
			add(Grant{Kind: KindClusterRole, Name: n.ClusterRole, Namespace: n.Namespace})
		}
	}
	return grants
}

// Result is what Apply achieved.
type Result struct {
	// Bindings are the objects the system holds for the role after Apply.
	Bindings []identityv1alpha1.BindingReference
	// Failures are the grants that could not be made effective.
	Failures []Failure
	// Changed is true when Apply wrote to the access system.
	Changed bool
}

// Failure is a grant that could not be made effective.
type Failure struct {
	// Grant is the grant that failed.
	Grant Grant
	// Forbidden is true when the system refused the operator the grant itself, e.g. because the
	// operator may not bind the granted role; retrying does not help until permissions change.
	Forbidden bool
	// Err is the cause.
	Err error
}

// Holding says which grants of a role a user holds.
type Holding struct {
	// Held are the grants the user holds, including grants the role no longer declares but whose
	// objects the system has not removed yet.
	Held []Grant
	// Missing are the grants the role declares that the user does not hold.
	Missing []Grant
}

// Change is a change to the objects of an access system.
type Change struct {
	// Role is the name of the ScimRole the changed objects belong to.
	Role string
	// Users are the userNames whose access the change may have altered.
	Users []string
}

// ChangeFunc queues the reconcile requests that change calls for, as urgently as it sees fit.
type ChangeFunc func(ctx context.Context, change Change, q Queue)

// Queue is the queue of a controller.
type Queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
