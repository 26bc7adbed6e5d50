package policytest

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	admissionauthorizer "k8s.io/apiserver/pkg/admission/plugin/authorizer"
	"k8s.io/apiserver/pkg/admission/plugin/policy/generic"
	"k8s.io/apiserver/pkg/admission/plugin/policy/matching"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	apiservercel "k8s.io/apiserver/pkg/cel"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Request is an admission request to evaluate a policy for.
type Request struct {
	// Operation is admission.Create, admission.Update or admission.Delete.
	Operation admission.Operation
	// Resource is the resource of the objects, e.g. identity.scim-operator.io/v1alpha1, scimroles.
	Resource schema.GroupVersionResource
	// Object is the object written: nil for a DELETE. An *unstructured.Unstructured is used as is,
	// as the API server holds a custom resource; a typed object is converted to one. Its apiVersion
	// and kind must be set.
	Object runtime.Object
	// OldObject is the stored object: nil for a CREATE.
	OldObject runtime.Object
	// User is the requester.
	User user.Info
	// Params is the policy's parameter, e.g. the operator's *rbacv1.ClusterRoleBinding; nil
	// evaluates with params null, as a binding with parameterNotFoundAction Allow does.
	Params runtime.Object
	// Namespace is the namespace of a namespaced object, for namespaceObject and namespaceSelector;
	// nil for a cluster-scoped one.
	Namespace *corev1.Namespace
	// Authorizer answers the policy's authorizer checks; nil allows nothing. The plugin puts a
	// cache in front of it for the request, as here.
	Authorizer authorizer.Authorizer
}

// Evaluation is the outcome of one validation.
type Evaluation string

const (
	// Pass is a validation that evaluated to true.
	Pass Evaluation = "pass"
	// Fail is a validation that evaluated to false: the request is denied with its message.
	Fail Evaluation = "fail"
	// Error is a validation that could not be evaluated: under failurePolicy Fail, a denial.
	Error Evaluation = "error"
)

// Outcome is the result of one validation of spec.validations.
type Outcome struct {
	// Expression is the validation's expression.
	Expression string
	// Evaluation is whether it passed, failed or could not be evaluated.
	Evaluation Evaluation
	// Message is the denial message of a Fail (the evaluated messageExpression, else message, else
	// the expression), or the error.
	Message string
}

// Result is the outcome of one evaluation of a policy and its runtime cost.
type Result struct {
	// Allowed is whether a binding with validationActions [Deny] admits the request.
	Allowed bool
	// Matched is whether the request matched spec.matchConstraints and no matchCondition was false.
	// An error in a matchCondition counts as a match (and, under failurePolicy Fail, a denial).
	Matched bool
	// Unmatched is why the request did not match: "matchConstraints", or the name of the first
	// matchCondition that was false.
	Unmatched string
	// Validations are the outcomes of spec.validations, in order, when they were evaluated to the end.
	Validations []Outcome
	// Error is why the evaluation as a whole failed, when it did: a matchCondition error, or running
	// out of budget (BudgetExceeded).
	Error string

	// Cost is the runtime cost charged against RuntimeCELCostBudget: the validations and the
	// message expressions, with the variables they evaluated. When they ran out of budget, it is
	// the budget.
	Cost int64
	// MatchConditionCost is the runtime cost of the matchConditions, with their variables, charged
	// against RuntimeCELCostBudgetMatchConditions; the budget when they ran out of it.
	MatchConditionCost int64
	// BudgetExceeded is whether a phase ran out of its budget: validations and message expressions
	// out of RuntimeCELCostBudget, matchConditions out of RuntimeCELCostBudgetMatchConditions.
	BudgetExceeded bool
	// PerCallLimitExceeded is whether an expression or a variable went past PerCallLimit.
	PerCallLimitExceeded bool
	// Expressions are the costs of the expressions evaluated, in order.
	Expressions []ExpressionCost
	// Variables are the costs of the variables evaluated, in the order they were first used in
	// each phase.
	Variables []VariableCost
}

// objectInterfaces serve the matcher and the conversion of objects to the matched version: there is
// nothing to convert, an object is evaluated in its own version.
var objectInterfaces = admission.NewObjectInterfacesFromScheme(runtime.NewScheme())

// Evaluate evaluates the policy for a request as the plugin's dispatcher does for one binding and
// one parameter (Dispatch in k8s.io/apiserver/pkg/admission/plugin/policy/validating/dispatcher.go):
// spec.matchConstraints, then the plugin's validator with RuntimeCELCostBudget. The error is for a
// request that cannot be evaluated; what the policy decides is in the Result.
func (p *Policy) Evaluate(ctx context.Context, req Request) (*Result, error) {
	attr, err := req.attributes()
	if err != nil {
		return nil, err
	}
	namespaces := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if req.Namespace != nil {
		if err := namespaces.Add(req.Namespace); err != nil {
			return nil, err
		}
	}
	constraints := generic.NewPolicyMatcher(matching.NewMatcher(listersv1.NewNamespaceLister(namespaces), nil))
	matches, matchResource, matchKind, err := constraints.DefinitionMatches(attr, objectInterfaces, validating.NewValidatingAdmissionPolicyAccessor(p.Definition))
	if err != nil {
		return nil, fmt.Errorf("match %s against policy %s: %w", req.Resource, p.Definition.Name, err)
	}
	if !matches {
		return &Result{Allowed: true, Unmatched: "matchConstraints"}, nil
	}
	versioned, err := admission.NewVersionedAttributes(attr, matchKind, objectInterfaces)
	if err != nil {
		return nil, err
	}
	az := req.Authorizer
	if az == nil {
		az = DenyAll()
	}
	m := newMeter()
	decided := p.validator.Validate(context.WithValue(ctx, meterKey{}, m), matchResource, versioned, p.params(req.Params), req.Namespace,
		celconfig.RuntimeCELCostBudget, admissionauthorizer.NewCachingAuthorizer(az))
	return p.result(m, decided), nil
}

// attributes are the admission attributes of the request, with its objects as the API server holds
// custom resources.
func (req Request) attributes() (admission.Attributes, error) {
	if req.User == nil {
		return nil, errors.New("a request needs a user")
	}
	if req.Resource.Resource == "" {
		return nil, errors.New("a request needs a resource")
	}
	object, err := toUnstructured(req.Object)
	if err != nil {
		return nil, fmt.Errorf("object: %w", err)
	}
	oldObject, err := toUnstructured(req.OldObject)
	if err != nil {
		return nil, fmt.Errorf("oldObject: %w", err)
	}
	var options runtime.Object
	named := object
	switch req.Operation {
	case admission.Create:
		options = &metav1.CreateOptions{}
	case admission.Update:
		options = &metav1.UpdateOptions{}
	case admission.Delete:
		options, named = &metav1.DeleteOptions{}, oldObject
	default:
		return nil, fmt.Errorf("unsupported operation %q", req.Operation)
	}
	if named == nil || (req.Operation == admission.Update && oldObject == nil) {
		return nil, fmt.Errorf("%s needs the objects its operation has", req.Operation)
	}
	var objectArg, oldObjectArg runtime.Object // untyped nil, not a nil *Unstructured
	if object != nil {
		objectArg = object
	}
	if oldObject != nil {
		oldObjectArg = oldObject
	}
	return admission.NewAttributesRecord(objectArg, oldObjectArg, named.GroupVersionKind(), named.GetNamespace(), named.GetName(),
		req.Resource, "", req.Operation, options, false, req.User), nil
}

// toUnstructured returns obj as an *unstructured.Unstructured with its apiVersion and kind set.
func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	if obj == nil {
		return nil, nil
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return nil, err
		}
		u = &unstructured.Unstructured{Object: content}
	}
	if u.GroupVersionKind().Empty() || u.GetKind() == "" {
		return nil, fmt.Errorf("%T has no apiVersion and kind", obj)
	}
	return u, nil
}

// params returns the parameter as the dispatcher hands it to the validator: a typed object from an
// informer has no apiVersion and kind, which the dispatcher adds from paramKind.
func (p *Policy) params(obj runtime.Object) runtime.Object {
	kind := p.Definition.Spec.ParamKind
	if obj == nil || kind == nil || !obj.GetObjectKind().GroupVersionKind().Empty() {
		return obj
	}
	return &wrappedParam{TypeMeta: metav1.TypeMeta{APIVersion: kind.APIVersion, Kind: kind.Kind}, nested: obj}
}

// wrappedParam mirrors wrappedParam of k8s.io/apiserver/pkg/admission/plugin/policy/validating
// (dispatcher.go): a parameter with the apiVersion and kind of paramKind, converted to unstructured
// when CEL reads it.
type wrappedParam struct {
	metav1.TypeMeta
	nested runtime.Object
}

// MarshalJSON is never called: CEL reads the parameter through ToUnstructured.
func (w *wrappedParam) MarshalJSON() ([]byte, error) {
	return nil, errors.New("MarshalJSON unimplemented for wrappedParam")
}

// UnmarshalJSON is never called.
func (w *wrappedParam) UnmarshalJSON([]byte) error {
	return errors.New("UnmarshalJSON unimplemented for wrappedParam")
}

// ToUnstructured is the parameter as CEL sees it, nil if it cannot be converted.
func (w *wrappedParam) ToUnstructured() any {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(w.nested)
	if err != nil {
		return nil
	}
	meta, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&w.TypeMeta)
	if err != nil {
		return nil
	}
	for k, v := range meta {
		content[k] = v
	}
	return content
}

// DeepCopyObject implements runtime.Object.
func (w *wrappedParam) DeepCopyObject() runtime.Object {
	return &wrappedParam{TypeMeta: w.TypeMeta, nested: w.nested.DeepCopyObject()}
}

// GetObjectKind implements runtime.Object.
func (w *wrappedParam) GetObjectKind() schema.ObjectKind {
	return w
}

// result is what the meter recorded and the validator decided.
func (p *Policy) result(m *meter, decided validating.ValidateResult) *Result {
	r := &Result{
		Allowed:            true,
		Matched:            m.unmatched == "",
		Unmatched:          m.unmatched,
		Cost:               m.spent[Validations] + m.spent[MessageExpressions],
		MatchConditionCost: m.spent[MatchConditions],
		Expressions:        m.expressions,
		Variables:          m.variables,
	}
	for _, err := range m.failed {
		if errors.Is(err, apiservercel.ErrOutOfBudget) {
			r.BudgetExceeded = true
		}
	}
	for _, e := range m.expressions {
		r.PerCallLimitExceeded = r.PerCallLimitExceeded || pastPerCallLimit(e.Error)
	}
	for _, v := range m.variables {
		r.PerCallLimitExceeded = r.PerCallLimitExceeded || pastPerCallLimit(v.Error)
	}
	for _, d := range decided.Decisions {
		r.Allowed = r.Allowed && d.Action == validating.ActionAdmit
	}
	// The validations ran to the end, or the validator replaced their decisions by one error.
	if !m.ran(Validations) || m.failed[Validations] != nil || m.failed[AuditAnnotations] != nil {
		if len(decided.Decisions) > 0 {
			r.Error = decided.Decisions[0].Message
		}
		return r
	}
	for i, d := range decided.Decisions {
		o := Outcome{Expression: p.Definition.Spec.Validations[i].Expression, Message: d.Message}
		switch d.Evaluation {
		case validating.EvalAdmit:
			o.Evaluation = Pass
		case validating.EvalDeny:
			o.Evaluation = Fail
		default:
			o.Evaluation = Error
		}
		r.Validations = append(r.Validations, o)
	}
	return r
}
