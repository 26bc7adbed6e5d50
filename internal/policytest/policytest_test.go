package policytest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"
	"sigs.k8s.io/yaml"

	"github.com/scim-operator/scim-operator/internal/policytest"
)

// These tests are about the harness: what kube-apiserver's CEL machinery does with small policies.

// checkCost is what CEL charges for an authorizer check.
const checkCost = 350_000

var scimroles = schema.GroupVersionResource{Group: "identity.scim-operator.io", Version: "v1alpha1", Resource: "scimroles"}

// compile compiles a policy on ScimRoles whose spec is given in YAML.
func compile(t *testing.T, spec string) *policytest.Policy {
	t.Helper()
	p, err := compileSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func compileSpec(spec string) (*policytest.Policy, error) {
	def := &admissionregistrationv1.ValidatingAdmissionPolicy{}
	def.Name = "test"
	if err := yaml.UnmarshalStrict([]byte(spec), &def.Spec); err != nil {
		return nil, err
	}
	def.Spec.MatchConstraints = &admissionregistrationv1.MatchResources{
		ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
			RuleWithOperations: admissionregistrationv1.RuleWithOperations{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{scimroles.Group}, APIVersions: []string{"*"}, Resources: []string{scimroles.Resource},
				},
			},
		}},
	}
	return policytest.Compile(def)
}

// createRole is a CREATE of a small ScimRole named a by an admin.
func createRole() policytest.Request {
	role := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "identity.scim-operator.io/v1alpha1",
		"kind":       "ScimRole",
		"metadata":   map[string]any{"name": "a"},
		"spec":       map[string]any{"displayName": "A"},
	}}
	return policytest.Request{
		Operation:  admission.Create,
		Resource:   scimroles,
		Object:     role,
		User:       &user.DefaultInfo{Name: "admin", Groups: []string{"system:masters"}},
		Authorizer: policytest.AllowAll(),
	}
}

func evaluate(t *testing.T, p *policytest.Policy, req policytest.Request) *policytest.Result {
	t.Helper()
	r, err := p.Evaluate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTrivialPolicyPasses(t *testing.T) {
	p := compile(t, `validations: [{expression: "object.metadata.name != ''"}]`)
	r := evaluate(t, p, createRole())
	if !r.Allowed || !r.Matched || len(r.Validations) != 1 || r.Validations[0].Evaluation != policytest.Pass {
		t.Fatalf("want one passing validation, got %+v", r)
	}
	if r.Cost <= 0 || r.BudgetExceeded || r.PerCallLimitExceeded {
		t.Errorf("cost %d, budget exceeded %v, per-call limit exceeded %v: want a small positive cost", r.Cost, r.BudgetExceeded, r.PerCallLimitExceeded)
	}
}

func TestFailingValidationHasItsEvaluatedMessage(t *testing.T) {
	p := compile(t, `
validations:
- expression: "object.metadata.name == 'b'"
  messageExpression: "'the name is ' + object.metadata.name"
  reason: Forbidden`)
	r := evaluate(t, p, createRole())
	if r.Allowed || len(r.Validations) != 1 {
		t.Fatalf("want a denial by one validation, got %+v", r)
	}
	if v := r.Validations[0]; v.Evaluation != policytest.Fail || v.Message != "the name is a" {
		t.Errorf("got %+v, want a failure with message %q", v, "the name is a")
	}
	var messages int
	for _, e := range r.Expressions {
		if e.Phase == policytest.MessageExpressions {
			messages++
		}
	}
	if messages != 1 {
		t.Errorf("want the message expression metered once, got %+v", r.Expressions)
	}
}

func TestAuthorizerCheckCosts350k(t *testing.T) {
	p := compile(t, `validations: [{expression: "authorizer.group('').resource('pods').check('get').allowed()"}]`)
	for _, tc := range []struct {
		name  string
		req   func() policytest.Request
		allow bool
	}{
		{"allow all", createRole, true},
		{"deny all", func() policytest.Request {
			req := createRole()
			req.Authorizer = policytest.DenyAll()
			return req
		}, false},
	} {
		r := evaluate(t, p, tc.req())
		if r.Allowed != tc.allow {
			t.Errorf("%s: allowed %v, want %v", tc.name, r.Allowed, tc.allow)
		}
		if r.Cost < checkCost {
			t.Errorf("%s: cost %d, want at least %d", tc.name, r.Cost, checkCost)
		}
	}
}

func TestThreeChecksInOneExpressionPassThePerCallLimit(t *testing.T) {
	p := compile(t, `
validations:
- expression: >-
    authorizer.group('').resource('pods').check('get').allowed() &&
    authorizer.group('').resource('pods').check('list').allowed() &&
    authorizer.group('').resource('pods').check('watch').allowed()`)
	r := evaluate(t, p, createRole())
	if !r.PerCallLimitExceeded || r.Allowed || r.Validations[0].Evaluation != policytest.Error {
		t.Fatalf("want an error past the per-call limit, got %+v", r)
	}
	if r.Cost <= celconfig.PerCallLimit {
		t.Errorf("cost %d, want more than the per-call limit %d", r.Cost, celconfig.PerCallLimit)
	}
}

func TestTwentyNineChecksExceedTheBudget(t *testing.T) {
	spec := "validations:\n"
	for range celconfig.RuntimeCELCostBudget/checkCost + 1 {
		spec += "- expression: \"authorizer.group('').resource('pods').check('get').allowed()\"\n"
	}
	r := evaluate(t, compile(t, spec), createRole())
	if !r.BudgetExceeded || r.Allowed || r.Error == "" || r.Validations != nil {
		t.Fatalf("want the evaluation stopped by the budget, got %+v", r)
	}
	if r.Cost != celconfig.RuntimeCELCostBudget || r.PerCallLimitExceeded {
		t.Errorf("cost %d, per-call limit exceeded %v: want the whole budget spent, no expression past its limit", r.Cost, r.PerCallLimitExceeded)
	}
	if last := r.Expressions[len(r.Expressions)-1]; !last.OverBudget {
		t.Errorf("want the last expression evaluated over budget, got %+v", last)
	}
}

func TestVariableIsChargedToTheFirstExpressionOfEachPhase(t *testing.T) {
	p := compile(t, `
variables:
- name: mayGet
  expression: "authorizer.group('').resource('pods').check('get').allowed()"
- name: name
  expression: "object.metadata.name"
validations:
- expression: "variables.mayGet"
- expression: "variables.mayGet && variables.name == 'b'"
  messageExpression: "'not b: ' + variables.name"`)
	r := evaluate(t, p, createRole())
	if r.Allowed || r.Validations[1].Message != "not b: a" {
		t.Fatalf("want the second validation to fail with its message, got %+v", r)
	}
	var got []string
	for _, v := range r.Variables {
		got = append(got, string(v.Phase)+"/"+v.Name)
	}
	// name is evaluated again for the message expressions; mayGet is not used there.
	if want := "validations/mayGet validations/name messageExpressions/name"; strings.Join(got, " ") != want {
		t.Errorf("variables evaluated: %v, want %s", got, want)
	}
	first, second := r.Expressions[0], r.Expressions[1]
	if first.VariableCost < checkCost || first.Cost < first.VariableCost {
		t.Errorf("first validation: %+v, want the check's cost charged to it", first)
	}
	if second.VariableCost >= checkCost {
		t.Errorf("second validation: %+v, want mayGet not charged again", second)
	}
	var sum int64
	for _, e := range r.Expressions {
		sum += e.Cost
	}
	if sum != r.Cost {
		t.Errorf("expressions cost %d in all, result %d", sum, r.Cost)
	}
}

func TestMatchConditionsAndConstraints(t *testing.T) {
	p := compile(t, `
matchConditions:
- name: named-b
  expression: "object.metadata.name == 'b'"
validations: [{expression: "false"}]`)
	r := evaluate(t, p, createRole())
	if r.Matched || r.Unmatched != "named-b" || !r.Allowed || r.Validations != nil || r.MatchConditionCost <= 0 {
		t.Errorf("want no match by named-b, got %+v", r)
	}
	req := createRole()
	req.Operation, req.Object, req.OldObject = admission.Delete, nil, req.Object
	if r := evaluate(t, p, req); r.Matched || r.Unmatched != "matchConstraints" || !r.Allowed {
		t.Errorf("DELETE: want no match by matchConstraints, got %+v", r)
	}
}

func TestParamsHaveTheirKind(t *testing.T) {
	p := compile(t, `
paramKind: {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRoleBinding}
validations:
- expression: "params.kind == 'ClusterRoleBinding' && params.subjects[0].name == 'operator'"`)
	req := createRole()
	req.Params = &rbacv1.ClusterRoleBinding{Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "operator", Namespace: "system"}}}
	if r := evaluate(t, p, req); !r.Allowed {
		t.Errorf("want the parameter read as an informer's ClusterRoleBinding, got %+v", r)
	}
}

func TestCompileRefusesWhatTheAPIServerWouldNotStore(t *testing.T) {
	for name, spec := range map[string]string{
		"unknown function": `validations: [{expression: "object.frobnicate()"}]`,
		// matchConditions are validated without variables, although the plugin compiles them with.
		"variable in a matchCondition": `
variables: [{name: x, expression: "true"}]
matchConditions: [{name: x, expression: "variables.x"}]
validations: [{expression: "true"}]`,
		"validation not a bool": `validations: [{expression: "'true'"}]`,
	} {
		if _, err := compileSpec(spec); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
}

// TestEnvironmentHasTwoVariableComprehensionsAndSets: the plugin's environment, and the one the API
// server validates a new policy in, have the two-variable comprehensions (Kubernetes 1.32) and the
// sets extension (1.29).
func TestEnvironmentHasTwoVariableComprehensionsAndSets(t *testing.T) {
	t.Logf("compatibility version %s", environment.DefaultCompatibilityVersion())
	for _, e := range []string{
		"object.spec.?members.orValue([]).transformMapEntry(i, m, {m.value: true}).size() >= 0",
		"{'a': 1}.transformMap(k, v, v + 1)['a'] == 2",
		"[1, 2].transformList(i, v, i + v) == [1, 3]",
		"[1, 2].all(i, v, i < v)",
		"sets.contains([1, 2], [1]) && sets.intersects([1], [1]) && sets.equivalent([1], [1])",
	} {
		p := compile(t, fmt.Sprintf("validations: [{expression: %q}]", e))
		if r := evaluate(t, p, createRole()); !r.Allowed {
			t.Errorf("%s: %+v", e, r)
		}
	}
}
