package policytest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apiserver/pkg/admission"
	admissionauthorizer "k8s.io/apiserver/pkg/admission/plugin/authorizer"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// totalCost is a condition evaluator of the plugin, with the cost of its last evaluation.
type totalCost struct {
	plugincel.ConditionEvaluator
	cost int64
}

func (c *totalCost) ForInput(ctx context.Context, attr *admission.VersionedAttributes, request *admissionv1.AdmissionRequest, inputs plugincel.OptionalVariableBindings, namespace *corev1.Namespace, budget int64) ([]plugincel.EvaluationResult, int64, error) {
	results, remaining, err := c.ConditionEvaluator.ForInput(ctx, attr, request, inputs, namespace, budget)
	c.cost = budget - remaining
	if err != nil {
		c.cost = budget
	}
	return results, remaining, err
}

// TestMeteredIsThePlugin evaluates access-bind, the policy with the most variables, both metered
// and as compilePolicy compiles it, whole: the decisions and the costs are the same.
func TestMeteredIsThePlugin(t *testing.T) {
	p, err := Load(filepath.Join("..", "..", "config", "policy", "access_bind.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	def := p.Definition
	withAuthorizer := plugincel.OptionalVariableDeclarations{HasParams: true, HasAuthorizer: true}
	compiler, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range def.Spec.Variables {
		compiler.CompileAndStoreVariable(&validating.Variable{Name: v.Name, Expression: v.Expression}, withAuthorizer, environment.StoredExpressions)
	}
	var validations, messages []plugincel.ExpressionAccessor
	for _, v := range def.Spec.Validations {
		validations = append(validations, &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: v.Reason})
		messages = append(messages, &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression})
	}
	validationFilter := &totalCost{ConditionEvaluator: compiler.CompileCondition(validations, withAuthorizer, environment.StoredExpressions)}
	messageFilter := &totalCost{ConditionEvaluator: compiler.CompileCondition(messages, plugincel.OptionalVariableDeclarations{HasParams: true}, environment.StoredExpressions)}
	plugin := validating.NewValidator(validationFilter, nil, compiler.CompileCondition(nil, withAuthorizer, environment.StoredExpressions), messageFilter, def.Spec.FailurePolicy, nil)

	role := func(members, clusterRoles int) *unstructured.Unstructured {
		var m, c []any
		for i := range members {
			m = append(m, map[string]any{"value": fmt.Sprintf("user-%d", i)})
		}
		for i := range clusterRoles {
			c = append(c, fmt.Sprintf("role-%d", i))
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "identity.scim-operator.io/v1alpha1", "kind": "ScimRole",
			"metadata": map[string]any{"name": "r"},
			"spec":     map[string]any{"displayName": "R", "members": m, "access": map[string]any{"clusterRoles": c}},
		}}
	}
	binding := &rbacv1.ClusterRoleBinding{Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "operator", Namespace: "system"}}}
	for name, req := range map[string]Request{
		"create, two entries":          {Operation: admission.Create, Object: role(3, 2), Authorizer: AllowAll()},
		"create, two entries, denied":  {Operation: admission.Create, Object: role(3, 2), Authorizer: DenyAll()},
		"create, three entries":        {Operation: admission.Create, Object: role(3, 3), Authorizer: AllowAll()},
		"add a member":                 {Operation: admission.Update, Object: role(11, 1), OldObject: role(10, 1), Authorizer: DenyAll()},
		"add a member to a large role": {Operation: admission.Update, Object: role(1001, 1), OldObject: role(1000, 1), Authorizer: AllowAll()},
	} {
		req.Resource, req.User, req.Params = identityv1alpha1.GroupVersion.WithResource("scimroles"), &user.DefaultInfo{Name: "admin"}, binding
		metered, err := p.Evaluate(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		attr, err := req.attributes()
		if err != nil {
			t.Fatal(err)
		}
		versioned, err := admission.NewVersionedAttributes(attr, attr.GetKind(), objectInterfaces)
		if err != nil {
			t.Fatal(err)
		}
		decided := plugin.Validate(context.Background(), req.Resource, versioned, p.params(req.Params), nil,
			celconfig.RuntimeCELCostBudget, admissionauthorizer.NewCachingAuthorizer(req.Authorizer))
		var got, want []string
		for _, d := range decided.Decisions {
			got = append(got, string(d.Evaluation)+": "+d.Message)
		}
		if metered.Error != "" {
			want = append(want, string(validating.EvalError)+": "+metered.Error)
		}
		for _, v := range metered.Validations {
			evaluation := map[Evaluation]validating.PolicyDecisionEvaluation{Pass: validating.EvalAdmit, Fail: validating.EvalDeny, Error: validating.EvalError}[v.Evaluation]
			want = append(want, string(evaluation)+": "+v.Message)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: the plugin decided %q, metered %q", name, got, want)
		}
		if got, want := validationFilter.cost+messageFilter.cost, metered.Cost; got != want {
			t.Errorf("%s: the plugin's cost %d (validations %d, messages %d), metered %d", name, got, validationFilter.cost, messageFilter.cost, want)
		}
		t.Logf("%s: cost %d, allowed %v", name, metered.Cost, metered.Allowed)
	}
}
