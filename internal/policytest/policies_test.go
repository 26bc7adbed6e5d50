package policytest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"sigs.k8s.io/yaml"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/policytest"
)

// The tests here measure what the policies of config/policy cost at large sizes and log it; they
// assert nothing about the policies but that they compile. Run with -v to read the costs.

var (
	scimusers = identityv1alpha1.GroupVersion.WithResource("scimusers")

	// admin is a cluster admin who is not the operator; every request here is theirs, with an
	// authorizer that allows everything.
	admin = &user.DefaultInfo{Name: "kubernetes-admin", Groups: []string{"kubeadm:cluster-admins", "system:authenticated"}}
)

// largeSizes reports whether to measure objects beyond the CRD's limits (100,000 members): seconds
// of CPU each, so only on request (POLICYTEST_LARGE=1).
func largeSizes() bool { return os.Getenv("POLICYTEST_LARGE") != "" }

// namedPolicy is a policy of config/policy and its file.
type namedPolicy struct {
	file   string
	policy *policytest.Policy
}

// loadPolicies loads every policy of config/policy: each YAML file but the kustomization.
func loadPolicies(t *testing.T) []namedPolicy {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "policy", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var policies []namedPolicy
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		p, err := policytest.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		policies = append(policies, namedPolicy{file: filepath.Base(f), policy: p})
	}
	if len(policies) == 0 {
		t.Fatal("no policy in config/policy")
	}
	return policies
}

// operatorBinding is the policies' parameter, config/rbac/role_binding.yaml, as an informer holds it.
func operatorBinding(t *testing.T) *rbacv1.ClusterRoleBinding {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "role_binding.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{}
	if err := yaml.UnmarshalStrict(data, binding); err != nil {
		t.Fatal(err)
	}
	binding.TypeMeta = metav1.TypeMeta{}
	return binding
}

// size is one size of the objects of a scenario.
type size struct {
	label string
	// n is the number of members of a role, or of values in each multi-valued attribute of a user.
	n int
	// access is the access of a role, for the scenarios that change it.
	access *identityv1alpha1.Access
	// large sizes are measured only with POLICYTEST_LARGE=1.
	large bool
}

// scenario is a kind of request by admin, built at each of its sizes.
type scenario struct {
	name    string
	sizes   []size
	request func(sz size) (op admission.Operation, resource schema.GroupVersionResource, object, oldObject runtime.Object)
}

func TestPolicyCosts(t *testing.T) {
	t.Parallel() // with TestMembersAddedForms: each spends seconds on a 100k-member role
	policies := loadPolicies(t)
	binding := operatorBinding(t)
	members := []size{{label: "10 members", n: 10}, {label: "1k members", n: 1_000}, {label: "10k members", n: 10_000},
		{label: "20k members", n: 20_000}, {label: "100k members", n: 100_000, large: true}}
	attributes := []size{{label: "10 per attribute", n: 10}, {label: "100 per attribute", n: 100}, {label: "1k per attribute", n: 1_000}}
	access := []size{{label: "3 clusterRoles", access: accessOf(3, 0)}, {label: "64 clusterRoles", access: accessOf(64, 0)},
		{label: "256 namespaced", access: accessOf(0, 256)}, {label: "64 + 256 namespaced", access: accessOf(64, 256)}}
	scenarios := []scenario{
		// 100k members would add as much time as "add a member", for the same costs.
		{"role: annotate", members[:len(members)-1], func(sz size) (admission.Operation, schema.GroupVersionResource, runtime.Object, runtime.Object) {
			old := role(sz.n, clusterRoles(3), true)
			updated := old.DeepCopy()
			updated.Annotations = map[string]string{"example.com/note": "reviewed"}
			return admission.Update, scimroles, updated, old
		}},
		{"role: add a member", members, func(sz size) (admission.Operation, schema.GroupVersionResource, runtime.Object, runtime.Object) {
			old := role(sz.n, clusterRoles(3), true)
			return admission.Update, scimroles, role(sz.n+1, clusterRoles(3), true), old
		}},
		{"role: create", members, func(sz size) (admission.Operation, schema.GroupVersionResource, runtime.Object, runtime.Object) {
			return admission.Create, scimroles, role(sz.n, clusterRoles(3), false), nil
		}},
		{"role: add access", access, func(sz size) (admission.Operation, schema.GroupVersionResource, runtime.Object, runtime.Object) {
			return admission.Update, scimroles, role(10, sz.access, true), role(10, nil, true)
		}},
		{"role: create with access", access, func(sz size) (admission.Operation, schema.GroupVersionResource, runtime.Object, runtime.Object) {
			return admission.Create, scimroles, role(10, sz.access, false), nil
		}},
		{"user: change displayName", attributes, func(sz size) (admission.Operation, schema.GroupVersionResource, runtime.Object, runtime.Object) {
			old := scimUser(sz.n, true)
			updated := old.DeepCopy()
			updated.Spec.DisplayName = "Renamed"
			return admission.Update, scimusers, updated, old
		}},
		{"user: suspend", attributes, func(sz size) (admission.Operation, schema.GroupVersionResource, runtime.Object, runtime.Object) {
			old := scimUser(sz.n, true)
			updated := old.DeepCopy()
			updated.Spec.Active = new(bool)
			return admission.Update, scimusers, updated, old
		}},
		{"user: rename", attributes, func(sz size) (admission.Operation, schema.GroupVersionResource, runtime.Object, runtime.Object) {
			old := scimUser(sz.n, false)
			updated := old.DeepCopy()
			updated.Spec.UserName = "someone-else@example.com"
			return admission.Update, scimusers, updated, old
		}},
		{"user: create", attributes, func(sz size) (admission.Operation, schema.GroupVersionResource, runtime.Object, runtime.Object) {
			return admission.Create, scimusers, scimUser(sz.n, false), nil
		}},
	}
	for _, s := range scenarios {
		for _, sz := range s.sizes {
			t.Run(s.name+"/"+sz.label, func(t *testing.T) {
				if sz.large && !largeSizes() {
					t.Skip("large object: set POLICYTEST_LARGE=1 to measure it")
				}
				op, resource, object, oldObject := s.request(sz)
				req := policytest.Request{
					Operation:  op,
					Resource:   resource,
					Object:     unstructuredOf(t, object),
					OldObject:  unstructuredOf(t, oldObject),
					User:       admin,
					Params:     binding,
					Authorizer: policytest.AllowAll(),
				}
				for _, p := range policies {
					r, err := p.policy.Evaluate(context.Background(), req)
					if err != nil {
						t.Fatalf("%s: %v", p.file, err)
					}
					t.Logf("| %s | %s | %s | %s", s.name, sz.label, p.file, summary(r))
					for _, v := range r.Variables {
						if v.Cost >= 100_000 || v.Error != "" || v.Elapsed > 100*time.Millisecond {
							t.Logf("    %s variable %s: cost %d in %v %s", v.Phase, v.Name, v.Cost, v.Elapsed.Round(time.Millisecond), shorten(v.Error))
						}
					}
				}
			})
		}
	}
}

// summary is a line of the cost table.
func summary(r *policytest.Result) string {
	if !r.Matched {
		return "not matched (" + r.Unmatched + ") | | |"
	}
	var limits []string
	if r.BudgetExceeded {
		limits = append(limits, "budget exceeded")
	}
	if r.PerCallLimitExceeded {
		limits = append(limits, "per-call limit exceeded")
	}
	decision := "allowed"
	switch {
	case r.Error != "":
		decision = "error: " + shorten(r.Error)
	case !r.Allowed:
		for _, v := range r.Validations {
			if v.Evaluation != policytest.Pass {
				decision = string(v.Evaluation) + ": " + shorten(v.Message)
				break
			}
		}
	}
	return fmt.Sprintf("%d | %d | %s | %s", r.Cost, r.MatchConditionCost, strings.Join(limits, ", "), decision)
}

func shorten(s string) string {
	if len(s) > 90 {
		return s[:90] + "…"
	}
	return s
}

// unstructuredOf converts an object once, rather than at each evaluation.
func unstructuredOf(t *testing.T, obj runtime.Object) runtime.Object {
	t.Helper()
	if obj == nil {
		return nil
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: content}
}

// role is a ScimRole with n members, marked as managed by a provider if managed.
func role(n int, access *identityv1alpha1.Access, managed bool) *identityv1alpha1.ScimRole {
	r := &identityv1alpha1.ScimRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: identityv1alpha1.GroupVersion.String(), Kind: "ScimRole"},
		ObjectMeta: metav1.ObjectMeta{Name: "7d8e9f10-aaaa-4bbb-8ccc-000000000001"},
		Spec: identityv1alpha1.ScimRoleSpec{
			DisplayName: "Engineering",
			ExternalID:  "00g1a2b3c4d5e6f7g8h9",
			Members:     membersOf(n),
			Access:      access,
		},
	}
	if managed {
		r.Labels = map[string]string{identityv1alpha1.LabelManagedBy: "okta"}
	}
	return r
}

// membersOf returns n members named as SCIM ids are, by UUID.
func membersOf(n int) []identityv1alpha1.Member {
	members := make([]identityv1alpha1.Member, n)
	for i := range members {
		members[i] = identityv1alpha1.Member{
			Value:   fmt.Sprintf("%08x-7f3c-4b1e-9a2d-5c6e8f0a1b2c", i),
			Display: fmt.Sprintf("user%d@example.com", i),
		}
	}
	return members
}

func clusterRoles(n int) *identityv1alpha1.Access {
	return accessOf(n, 0)
}

// accessOf is an access with the given numbers of clusterRoles and namespaced entries.
func accessOf(clusterRoles, namespaced int) *identityv1alpha1.Access {
	a := &identityv1alpha1.Access{}
	for i := range clusterRoles {
		a.ClusterRoles = append(a.ClusterRoles, fmt.Sprintf("team-role-%02d", i))
	}
	for i := range namespaced {
		e := identityv1alpha1.NamespacedAccess{Namespace: fmt.Sprintf("team-%03d", i)}
		if i%2 == 0 {
			e.Role = "deployer"
		} else {
			e.ClusterRole = "edit"
		}
		a.Namespaced = append(a.Namespaced, e)
	}
	return a
}

// scimUser is a ScimUser with n values in each multi-valued attribute, marked as managed by a
// provider if managed.
func scimUser(n int, managed bool) *identityv1alpha1.ScimUser {
	values := func(format string) []identityv1alpha1.MultiValuedAttribute {
		v := make([]identityv1alpha1.MultiValuedAttribute, n)
		for i := range v {
			v[i] = identityv1alpha1.MultiValuedAttribute{Value: fmt.Sprintf(format, i), Type: "work", Primary: new(i == 0)}
		}
		return v
	}
	addresses := make([]identityv1alpha1.Address, n)
	for i := range addresses {
		addresses[i] = identityv1alpha1.Address{StreetAddress: fmt.Sprintf("%d Main Street", i), Locality: "Springfield", PostalCode: "12345"}
	}
	active := true
	u := &identityv1alpha1.ScimUser{
		TypeMeta:   metav1.TypeMeta{APIVersion: identityv1alpha1.GroupVersion.String(), Kind: "ScimUser"},
		ObjectMeta: metav1.ObjectMeta{Name: "2819c223-7f76-453a-919d-413861904646"},
		Spec: identityv1alpha1.ScimUserSpec{
			UserName:         "bjensen@example.com",
			Active:           &active,
			Name:             &identityv1alpha1.Name{GivenName: "Barbara", FamilyName: "Jensen"},
			DisplayName:      "Babs Jensen",
			Emails:           values("bjensen+%d@example.com"),
			PhoneNumbers:     values("+1-555-555-%04d"),
			IMs:              values("bjensen%d"),
			Photos:           values("https://photos.example.com/profilephoto/%d"),
			Addresses:        addresses,
			Entitlements:     values("entitlement-%d"),
			Roles:            values("role-%d"),
			X509Certificates: values("MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMC%d"),
			Enterprise:       &identityv1alpha1.EnterpriseUser{EmployeeNumber: "701984", Department: "Tour Operations"},
		},
	}
	if managed {
		u.Labels = map[string]string{identityv1alpha1.LabelManagedBy: "okta"}
	}
	return u
}

// TestMembersAddedForms measures ways to ask "were members added" of a ScimRole update that adds
// none (the worst case: every member is looked up): a list of the old members, a map built with the
// two-variable comprehension transformMapEntry, and the sets extension. That they compile shows
// that the plugin's environment has these extensions; the costs are logged.
func TestMembersAddedForms(t *testing.T) {
	t.Parallel()
	forms := []struct {
		name, variable, validation string
		// upTo is the largest number of members measured: sets.contains compares every pair, for
		// seconds past 10k.
		upTo int
	}{
		{"list: exists(!in list)",
			"oldObject.spec.members.map(m, m.value)",
			"!object.spec.members.exists(m, !(m.value in variables.old))", 100_000},
		{"map: transformMapEntry + all(in map)",
			"oldObject.spec.members.transformMapEntry(i, m, {m.value: true})",
			"object.spec.members.all(m, m.value in variables.old)", 100_000},
		{"sets.contains",
			"oldObject.spec.members.map(m, m.value)",
			"sets.contains(variables.old, object.spec.members.map(m, m.value))", 10_000},
	}
	for _, f := range forms {
		p := compile(t, fmt.Sprintf(`
variables: [{name: old, expression: %q}]
validations: [{expression: %q}]`, f.variable, f.validation))
		for _, sz := range []size{{label: "1k", n: 1_000}, {label: "10k", n: 10_000}, {label: "20k", n: 20_000}, {label: "100k", n: 100_000, large: true}} {
			if sz.n > f.upTo || sz.large && !largeSizes() {
				continue
			}
			stored := unstructuredOf(t, role(sz.n, nil, false))
			start := time.Now()
			r := evaluate(t, p, policytest.Request{
				Operation: admission.Update, Resource: scimroles, Object: stored, OldObject: stored,
				User: admin, Authorizer: policytest.AllowAll(),
			})
			var old int64
			for _, v := range r.Variables {
				old += v.Cost
			}
			t.Logf("| %s | %s members | %d | %d | %v | %s", f.name, sz.label, r.Cost, old, time.Since(start).Round(time.Millisecond), summary(r))
		}
	}
}
