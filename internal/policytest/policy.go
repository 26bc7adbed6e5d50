// Package policytest evaluates a ValidatingAdmissionPolicy in process, with the CEL machinery of
// kube-apiserver's ValidatingAdmissionPolicy plugin (k8s.io/apiserver), and measures the runtime cost
// of each evaluation against the plugin's limits: PerCallLimit for each expression and variable,
// RuntimeCELCostBudget for the validations and message expressions of one binding, and
// RuntimeCELCostBudgetMatchConditions for its matchConditions. It needs no etcd, so it also takes
// objects too large to store.
package policytest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	"k8s.io/apiserver/pkg/cel/environment"
	"sigs.k8s.io/yaml"
)

// Policy is a ValidatingAdmissionPolicy compiled as the plugin compiles it. It is safe for
// concurrent use.
type Policy struct {
	// Definition is the policy, with the defaults the API server sets when it stores one.
	Definition *admissionregistrationv1.ValidatingAdmissionPolicy

	validator validating.Validator
}

// Load reads the ValidatingAdmissionPolicy of a YAML file, skipping its other documents (a
// ValidatingAdmissionPolicyBinding), and compiles it. The file must hold exactly one policy, and
// its fields are decoded strictly, as `kubectl apply` sends them.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var found []*admissionregistrationv1.ValidatingAdmissionPolicy
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if meta.APIVersion != admissionregistrationv1.SchemeGroupVersion.String() || meta.Kind != "ValidatingAdmissionPolicy" {
			continue
		}
		policy := &admissionregistrationv1.ValidatingAdmissionPolicy{}
		if err := yaml.UnmarshalStrict(doc, policy); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		found = append(found, policy)
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%s: want one ValidatingAdmissionPolicy (%s), found %d", path, admissionregistrationv1.SchemeGroupVersion, len(found))
	}
	p, err := Compile(found[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Compile compiles a policy as the plugin does (compilePolicy in
// k8s.io/apiserver/pkg/admission/plugin/policy/validating/plugin.go): one CompositedCompiler over
// MustBaseEnvSet(DefaultCompatibilityVersion()), every expression in the StoredExpressions
// environment. Its expressions are metered (see meteredCondition); the validator that turns their
// results into decisions is the plugin's own.
//
// Compile fails where the API server would refuse to store the policy for its expressions: one that
// does not compile, at run time or in the NewExpressions environment that validates a new policy.
func Compile(def *admissionregistrationv1.ValidatingAdmissionPolicy) (*Policy, error) {
	def = def.DeepCopy()
	setDefaults(def)
	if err := admissionErrors(def); err != nil {
		return nil, fmt.Errorf("policy %s would not be stored: %w", def.Name, err)
	}

	hasParams := def.Spec.ParamKind != nil
	withAuthorizer := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true}
	withoutAuthorizer := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: false}
	compiler, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		return nil, err
	}
	var errs []error
	names := make([]string, len(def.Spec.Variables))
	for i, v := range def.Spec.Variables {
		names[i] = v.Name
		result := compiler.CompileAndStoreVariable(&validating.Variable{Name: v.Name, Expression: v.Expression}, withAuthorizer, environment.StoredExpressions)
		if result.Error != nil {
			errs = append(errs, fmt.Errorf("spec.variables[%d] (%s): %w", i, v.Name, result.Error))
		}
	}

	var matches, validations, messages, audits []plugincel.ExpressionAccessor
	for i := range def.Spec.MatchConditions {
		matches = append(matches, (*matchconditions.MatchCondition)(&def.Spec.MatchConditions[i]))
	}
	for _, v := range def.Spec.Validations {
		validations = append(validations, &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: v.Reason})
		if v.MessageExpression == "" {
			messages = append(messages, nil) // a placeholder keeps messages aligned with validations
		} else {
			messages = append(messages, &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression})
		}
	}
	for _, a := range def.Spec.AuditAnnotations {
		audits = append(audits, &validating.AuditAnnotationCondition{Key: a.Key, ValueExpression: a.ValueExpression})
	}
	validationFilter := compileMetered(compiler, names, Validations, validations, withAuthorizer)
	messageFilter := compileMetered(compiler, names, MessageExpressions, messages, withoutAuthorizer)
	auditFilter := compileMetered(compiler, names, AuditAnnotations, audits, withAuthorizer)
	var matcher matchconditions.Matcher
	if len(matches) > 0 {
		matchFilter := compileMetered(compiler, names, MatchConditions, matches, withAuthorizer)
		errs = append(errs, matchFilter.CompilationErrors()...)
		matcher = matchconditions.NewMatcher(matchFilter, def.Spec.FailurePolicy, "policy", "validate", def.Name)
	}
	for _, f := range []*meteredCondition{validationFilter, messageFilter, auditFilter} {
		errs = append(errs, f.CompilationErrors()...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("compile policy %s: %w", def.Name, err)
	}
	return &Policy{
		Definition: def,
		validator:  validating.NewValidator(validationFilter, matcher, auditFilter, messageFilter, def.Spec.FailurePolicy, nil),
	}, nil
}

// setDefaults sets what the API server defaults in a stored policy and the plugin relies on, as
// SetDefaults_ValidatingAdmissionPolicySpec and SetDefaults_MatchResources of
// k8s.io/kubernetes/pkg/apis/admissionregistration/v1 do.
func setDefaults(def *admissionregistrationv1.ValidatingAdmissionPolicy) {
	if def.Spec.FailurePolicy == nil {
		fail := admissionregistrationv1.Fail
		def.Spec.FailurePolicy = &fail
	}
	if def.Spec.MatchConstraints == nil {
		return // not defaulted; the matcher reports it
	}
	m := def.Spec.MatchConstraints
	if m.MatchPolicy == nil {
		equivalent := admissionregistrationv1.Equivalent
		m.MatchPolicy = &equivalent
	}
	if m.NamespaceSelector == nil {
		m.NamespaceSelector = &metav1.LabelSelector{}
	}
	if m.ObjectSelector == nil {
		m.ObjectSelector = &metav1.LabelSelector{}
	}
}

// admissionErrors compiles the expressions of a policy as the API server validates a new one
// (validateValidatingAdmissionPolicySpec in k8s.io/kubernetes/pkg/apis/admissionregistration/validation):
// in the NewExpressions environment of the compatibility version, and matchConditions without
// variables.
func admissionErrors(def *admissionregistrationv1.ValidatingAdmissionPolicy) error {
	envSet := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion())
	compiler, err := plugincel.NewCompositedCompiler(envSet)
	if err != nil {
		return err
	}
	hasParams := def.Spec.ParamKind != nil
	withAuthorizer := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true}
	withoutAuthorizer := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: false}
	var errs []error
	check := func(field string, result plugincel.CompilationResult) {
		if result.Error != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, result.Error))
		}
	}
	for i, v := range def.Spec.Variables {
		check(fmt.Sprintf("spec.variables[%d] (%s)", i, v.Name),
			compiler.CompileAndStoreVariable(&validating.Variable{Name: v.Name, Expression: v.Expression}, withAuthorizer, environment.NewExpressions))
	}
	for i, v := range def.Spec.Validations {
		check(fmt.Sprintf("spec.validations[%d].expression", i),
			compiler.CompileCELExpression(&validating.ValidationCondition{Expression: v.Expression}, withAuthorizer, environment.NewExpressions))
		if v.MessageExpression != "" {
			check(fmt.Sprintf("spec.validations[%d].messageExpression", i),
				compiler.CompileCELExpression(&validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}, withoutAuthorizer, environment.NewExpressions))
		}
	}
	for i, a := range def.Spec.AuditAnnotations {
		check(fmt.Sprintf("spec.auditAnnotations[%d].valueExpression", i),
			compiler.CompileCELExpression(&validating.AuditAnnotationCondition{Key: a.Key, ValueExpression: a.ValueExpression}, withAuthorizer, environment.NewExpressions))
	}
	stateless := plugincel.NewCompiler(envSet)
	for i, m := range def.Spec.MatchConditions {
		check(fmt.Sprintf("spec.matchConditions[%d] (%s)", i, m.Name),
			stateless.CompileCELExpression((*matchconditions.MatchCondition)(&m), withAuthorizer, environment.NewExpressions))
	}
	return errors.Join(errs...)
}
