package policytest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/policytest"
)

// The policies fit CEL's budget at the largest objects the CRD admits (64 ClusterRoles, 256
// namespaced entries, 20,000 members; 5,000 members per member shard; 256 values per attribute of a
// user): no request of a cluster
// admin or of a grantor who may bind some roles ever ends in a cost error, which failurePolicy: Fail
// would turn into a denial of everyone.

// grantor may bind the ClusterRole view (cluster-wide and in any namespace) and nothing else.
var grantor = &user.DefaultInfo{Name: "grantor", Groups: []string{"system:authenticated"}}

func mayBindView() authorizer.Authorizer {
	return policytest.Authorize(func(a authorizer.Attributes) bool {
		return a.GetVerb() == "bind" && a.GetResource() == "clusterroles" && a.GetName() == "view"
	})
}

// viewIn is view granted in n namespaces.
func viewIn(n int) []identityv1alpha1.NamespacedAccess {
	out := make([]identityv1alpha1.NamespacedAccess, n)
	for i := range out {
		out[i] = identityv1alpha1.NamespacedAccess{Namespace: fmt.Sprintf("team-%03d", i), ClusterRole: "view"}
	}
	return out
}

func TestPoliciesWithinBudgetAtTheCRDLimits(t *testing.T) {
	policies := loadPolicies(t)
	binding := operatorBinding(t)
	const maxMembers = 20_000
	largest := func(members int) *identityv1alpha1.ScimRole { return role(members, accessOf(64, 256), true) }
	unmanaged := func(r *identityv1alpha1.ScimRole) *identityv1alpha1.ScimRole { r.Labels = nil; return r }
	tests := []struct {
		name          string
		op            admission.Operation
		object, old   func() runtime.Object
		who           user.Info
		authz         authorizer.Authorizer
		deniedBy      string // the file of the policy that denies, or "" for allowed
		deniedMessage string
	}{
		{name: "admin creates the largest role", op: admission.Create,
			object: func() runtime.Object { return unmanaged(largest(maxMembers)) }, who: admin, authz: policytest.AllowAll()},
		{name: "admin annotates it", op: admission.Update,
			object: func() runtime.Object { r := largest(maxMembers); r.Annotations = map[string]string{"a": "b"}; return r },
			old:    func() runtime.Object { return largest(maxMembers) }, who: admin, authz: policytest.AllowAll()},
		{name: "admin adds a member to it (unmanaged)", op: admission.Update,
			object: func() runtime.Object { return unmanaged(largest(maxMembers)) },
			old:    func() runtime.Object { return unmanaged(largest(maxMembers - 1)) }, who: admin, authz: policytest.AllowAll()},
		{name: "admin removes a member from it (unmanaged)", op: admission.Update,
			object: func() runtime.Object { return unmanaged(largest(maxMembers - 1)) },
			old:    func() runtime.Object { return unmanaged(largest(maxMembers)) }, who: admin, authz: policytest.AllowAll()},
		{name: "admin takes it over", op: admission.Update,
			object: func() runtime.Object { return unmanaged(largest(maxMembers)) },
			old:    func() runtime.Object { return largest(maxMembers) }, who: admin, authz: policytest.AllowAll()},
		{name: "admin grants it all 320 entries at once", op: admission.Update,
			object: func() runtime.Object { return largest(maxMembers) },
			old:    func() runtime.Object { return role(maxMembers, nil, true) }, who: admin, authz: policytest.AllowAll()},
		{name: "grantor adds 16 entries", op: admission.Update,
			object: func() runtime.Object {
				r := role(maxMembers, nil, false)
				r.Spec.Access = &identityv1alpha1.Access{Namespaced: viewIn(16)}
				return r
			},
			old: func() runtime.Object { return role(maxMembers, nil, false) }, who: grantor, authz: mayBindView()},
		{name: "grantor adds 17 entries", op: admission.Update,
			object: func() runtime.Object {
				r := role(maxMembers, nil, false)
				r.Spec.Access = &identityv1alpha1.Access{Namespaced: viewIn(17)}
				return r
			},
			old: func() runtime.Object { return role(maxMembers, nil, false) }, who: grantor, authz: mayBindView(),
			deniedBy: "access_bind.yaml", deniedMessage: "one change may add at most 16"},
		{name: "grantor adds an entry it may not bind among 15 it may", op: admission.Update,
			object: func() runtime.Object {
				r := role(10, nil, false)
				r.Spec.Access = &identityv1alpha1.Access{ClusterRoles: []string{"edit"}, Namespaced: viewIn(15)}
				return r
			},
			old: func() runtime.Object { return role(10, nil, false) }, who: grantor, authz: mayBindView(),
			deniedBy: "access_bind.yaml", deniedMessage: "may not grant ClusterRole edit through ScimRole"},
		{name: "grantor adds a member to the largest role", op: admission.Update,
			object: func() runtime.Object { return unmanaged(largest(maxMembers)) },
			old:    func() runtime.Object { return unmanaged(largest(maxMembers - 1)) }, who: grantor, authz: mayBindView(),
			deniedBy: "access_bind.yaml", deniedMessage: "may not add members"},
		{name: "grantor removes a member from the largest role", op: admission.Update,
			object: func() runtime.Object { return unmanaged(largest(maxMembers - 1)) },
			old:    func() runtime.Object { return unmanaged(largest(maxMembers)) }, who: grantor, authz: mayBindView()},
		{name: "admin adds a member to the largest member shard", op: admission.Update,
			object: func() runtime.Object { return shard(identityv1alpha1.MaxMembersPerShard, "uid-1") },
			old:    func() runtime.Object { return shard(identityv1alpha1.MaxMembersPerShard-1, "uid-1") }, who: admin, authz: policytest.AllowAll()},
		{name: "grantor creates the largest member shard", op: admission.Create,
			object: func() runtime.Object { return shard(identityv1alpha1.MaxMembersPerShard, "uid-1") }, who: grantor, authz: mayBindView(),
			deniedBy: "role_members.yaml", deniedMessage: "may not add members to ScimRoleMembers"},
		{name: "grantor adds a member to the largest member shard", op: admission.Update,
			object: func() runtime.Object { return shard(identityv1alpha1.MaxMembersPerShard, "uid-1") },
			old:    func() runtime.Object { return shard(identityv1alpha1.MaxMembersPerShard-1, "uid-1") }, who: grantor, authz: mayBindView(),
			deniedBy: "role_members.yaml", deniedMessage: "may not add members to ScimRoleMembers"},
		{name: "grantor hands the largest member shard to another role", op: admission.Update,
			object: func() runtime.Object { return shard(identityv1alpha1.MaxMembersPerShard, "uid-2") },
			old:    func() runtime.Object { return shard(identityv1alpha1.MaxMembersPerShard, "uid-1") }, who: grantor, authz: mayBindView(),
			deniedBy: "role_members.yaml", deniedMessage: "may not add members to ScimRoleMembers"},
		{name: "grantor removes a member from the largest member shard", op: admission.Update,
			object: func() runtime.Object { return shard(identityv1alpha1.MaxMembersPerShard-1, "uid-1") },
			old:    func() runtime.Object { return shard(identityv1alpha1.MaxMembersPerShard, "uid-1") }, who: grantor, authz: mayBindView()},
		{name: "admin renames the largest user", op: admission.Update,
			object: func() runtime.Object { u := scimUser(256, false); u.Spec.UserName = "renamed@example.com"; return u },
			old:    func() runtime.Object { return scimUser(256, false) }, who: admin, authz: policytest.AllowAll()},
		{name: "grantor reactivates the largest user", op: admission.Update,
			object: func() runtime.Object { return scimUser(256, false) },
			old:    func() runtime.Object { u := scimUser(256, false); u.Spec.Active = new(bool); return u }, who: grantor, authz: mayBindView(),
			deniedBy: "user_access.yaml", deniedMessage: "may not reactivate"},
		{name: "admin changes a field of the largest managed user", op: admission.Update,
			object: func() runtime.Object { u := scimUser(256, true); u.Spec.Title = "Director"; return u },
			old:    func() runtime.Object { return scimUser(256, true) }, who: admin, authz: policytest.AllowAll(),
			deniedBy: "protect_scim_owned_fields.yaml", deniedMessage: "spec.title"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := tt.object()
			req := policytest.Request{Operation: tt.op, Resource: scimroles, Object: unstructuredOf(t, obj),
				User: tt.who, Params: binding, Authorizer: tt.authz}
			switch obj.(type) {
			case *identityv1alpha1.ScimUser:
				req.Resource = scimusers
			case *identityv1alpha1.ScimRoleMembers:
				req.Resource = identityv1alpha1.GroupVersion.WithResource("scimrolemembers")
			}
			if tt.old != nil {
				req.OldObject = unstructuredOf(t, tt.old())
			}
			for _, p := range policies {
				r, err := p.policy.Evaluate(context.Background(), req)
				if err != nil {
					t.Fatalf("%s: %v", p.file, err)
				}
				t.Logf("%s: %s", p.file, summary(r))
				if r.Error != "" || r.BudgetExceeded || r.PerCallLimitExceeded {
					t.Errorf("%s: over CEL's budget (cost %d): %s", p.file, r.Cost, r.Error)
					continue
				}
				for _, v := range r.Validations {
					if v.Evaluation == policytest.Error {
						t.Errorf("%s: validation error: %s", p.file, v.Message)
					}
				}
				denied := !r.Allowed
				if want := p.file == tt.deniedBy; denied != want {
					t.Errorf("%s: denied = %v, want %v (%s)", p.file, denied, want, summary(r))
				}
				if denied && tt.deniedMessage != "" && !strings.Contains(messages(r), tt.deniedMessage) {
					t.Errorf("%s: message %q does not say %q", p.file, messages(r), tt.deniedMessage)
				}
			}
		})
	}
}

// messages joins the messages of the failed validations of r.
func messages(r *policytest.Result) string {
	var out []string
	for _, v := range r.Validations {
		if v.Evaluation != policytest.Pass {
			out = append(out, v.Message)
		}
	}
	return strings.Join(out, "; ")
}

// shard is a member shard of n members of the role "everyone", owned by the role of uid.
func shard(n int, uid string) *identityv1alpha1.ScimRoleMembers {
	r := role(0, nil, true)
	r.Name, r.UID = "everyone", types.UID(uid)
	sh := identityv1alpha1.NewShard(r, 0)
	sh.TypeMeta = metav1.TypeMeta{APIVersion: identityv1alpha1.GroupVersion.String(), Kind: "ScimRoleMembers"}
	for i := range n {
		sh.Spec.Members = append(sh.Spec.Members, identityv1alpha1.Member{Value: fmt.Sprintf("a-%016x", i), Display: fmt.Sprintf("User Number %d", i)})
	}
	return sh
}
