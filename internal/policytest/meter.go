package policytest

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/lazy"
)

// Phase is a list of expressions of a policy, named as its field. The plugin evaluates each phase
// with variables of its own: a variable used in two phases is evaluated, and paid for, twice.
type Phase string

const (
	// MatchConditions are spec.matchConditions, within RuntimeCELCostBudgetMatchConditions.
	MatchConditions Phase = "matchConditions"
	// Validations are the expressions of spec.validations, within RuntimeCELCostBudget.
	Validations Phase = "validations"
	// MessageExpressions are the messageExpressions of spec.validations, evaluated for every
	// request the validations were evaluated for, within what the validations left of the budget.
	MessageExpressions Phase = "messageExpressions"
	// AuditAnnotations are spec.auditAnnotations, within a RuntimeCELCostBudget of their own.
	AuditAnnotations Phase = "auditAnnotations"
)

// costLimitExceeded is how cel-go says that an evaluation went past its cost limit, PerCallLimit.
const costLimitExceeded = "actual cost limit exceeded"

// ExpressionCost is the runtime cost of one expression.
type ExpressionCost struct {
	// Phase is the list the expression is in.
	Phase Phase
	// Index is the position of the expression in its list.
	Index int
	// Name is the name of a matchCondition; empty otherwise.
	Name string
	// Expression is the CEL text.
	Expression string
	// Cost is what the expression was charged: its own cost and that of the variables it was
	// the first in its phase to use. When OverBudget, it is what was left of the budget.
	Cost int64
	// VariableCost is the part of Cost that is the variables'.
	VariableCost int64
	// OverBudget is whether the budget of the phase ran out in this expression; evaluation stopped.
	OverBudget bool
	// Error is the evaluation error, if any.
	Error string
	// Elapsed is how long the expression took to evaluate, with the variables charged to it.
	Elapsed time.Duration
}

// VariableCost is the runtime cost of one evaluation of a variable.
type VariableCost struct {
	// Phase is the list of the expression that first used the variable.
	Phase Phase
	// Index is the position of that expression in its list.
	Index int
	// Name is the name of the variable.
	Name string
	// Cost is the variable's own cost, without that of the variables it uses.
	Cost int64
	// Error is the evaluation error, if any: a variable past PerCallLimit is an error for every
	// expression that uses it.
	Error string
	// Elapsed is how long the variable took to evaluate, with the variables it uses.
	Elapsed time.Duration
}

// meter collects the costs of one Evaluate. Evaluate puts it in the context that the plugin's
// validator passes to the metered conditions.
type meter struct {
	expressions []ExpressionCost
	variables   []VariableCost
	// spent is the cost charged in each phase that ran.
	spent map[Phase]int64
	// failed is the error that stopped a phase: running out of budget.
	failed map[Phase]error
	// unmatched is the name of the first matchCondition that was false.
	unmatched string
}

type meterKey struct{}

func newMeter() *meter {
	return &meter{spent: map[Phase]int64{}, failed: map[Phase]error{}}
}

// ran is whether a phase was evaluated.
func (m *meter) ran(p Phase) bool {
	_, ok := m.spent[p]
	return ok
}

// meteredCondition is a plugincel.ConditionEvaluator that evaluates like the one
// CompositedCompiler.CompileCondition returns, and records the cost of each expression and variable.
// It compiles each expression on its own and mirrors condition.ForInput
// (k8s.io/apiserver/pkg/admission/plugin/cel/condition.go): the expressions in order, each with what
// the ones before left of the budget, all of them with one set of variables — the composition
// context CompositedConditionEvaluator.ForInput would create, shared through sharedVariables.
type meteredCondition struct {
	phase     Phase
	compiler  *plugincel.CompositedCompiler
	variables []string
	accessors []plugincel.ExpressionAccessor
	// expressions are the compiled accessors, one each; nil accessors are placeholders.
	expressions []*plugincel.CompositedConditionEvaluator
}

var _ plugincel.ConditionEvaluator = &meteredCondition{}

func compileMetered(compiler *plugincel.CompositedCompiler, variables []string, phase Phase, accessors []plugincel.ExpressionAccessor, decls plugincel.OptionalVariableDeclarations) *meteredCondition {
	c := &meteredCondition{phase: phase, compiler: compiler, variables: variables, accessors: accessors}
	for _, a := range accessors {
		compiled := compiler.CompileCondition([]plugincel.ExpressionAccessor{a}, decls, environment.StoredExpressions)
		c.expressions = append(c.expressions, compiled.(*plugincel.CompositedConditionEvaluator))
	}
	return c
}

// ForInput implements plugincel.ConditionEvaluator.
func (c *meteredCondition) ForInput(ctx context.Context, attr *admission.VersionedAttributes, request *admissionv1.AdmissionRequest, inputs plugincel.OptionalVariableBindings, namespace *corev1.Namespace, budget int64) ([]plugincel.EvaluationResult, int64, error) {
	m, _ := ctx.Value(meterKey{}).(*meter)
	if m == nil {
		m = newMeter() // not from Evaluate: evaluate, record nothing
	}
	vars := &sharedVariables{CompositionContext: c.compiler.CreateContext(ctx), names: c.variables, meter: m, phase: c.phase}
	results := make([]plugincel.EvaluationResult, len(c.expressions))
	remaining := budget
	m.spent[c.phase] = 0
	for i, e := range c.expressions {
		vars.index, vars.charged = i, 0
		start := time.Now()
		r, left, err := e.ConditionEvaluator.ForInput(vars, attr, request, inputs, namespace, remaining)
		a := c.accessors[i]
		cost := ExpressionCost{Phase: c.phase, Index: i, VariableCost: vars.charged, Elapsed: time.Since(start)}
		if a != nil {
			cost.Expression = a.GetExpression()
		}
		if mc, ok := a.(*matchconditions.MatchCondition); ok {
			cost.Name = mc.Name
		}
		if err != nil {
			cost.Cost, cost.OverBudget, cost.Error = remaining, errors.Is(err, apiservercel.ErrOutOfBudget), err.Error()
			m.expressions = append(m.expressions, cost)
			m.spent[c.phase], m.failed[c.phase] = budget, err
			return nil, -1, err
		}
		results[i], cost.Cost, remaining = r[0], remaining-left, left
		if a == nil {
			continue // a placeholder: nothing evaluated
		}
		if r[0].Error != nil {
			cost.Error = r[0].Error.Error()
		}
		if c.phase == MatchConditions && r[0].EvalResult == types.False && m.unmatched == "" {
			m.unmatched = cost.Name
		}
		m.expressions = append(m.expressions, cost)
	}
	m.spent[c.phase] = budget - remaining
	return results, remaining, nil
}

// CompilationErrors implements plugincel.ConditionEvaluator.
func (c *meteredCondition) CompilationErrors() []error {
	var errs []error
	for _, e := range c.expressions {
		errs = append(errs, e.CompilationErrors()...)
	}
	return errs
}

// sharedVariables is the plugin's composition context for one phase, with one set of variables for
// all the activations of the phase (the plugin makes one activation for all the expressions of a
// phase, the metered condition one for each), and the cost of each variable recorded.
type sharedVariables struct {
	plugincel.CompositionContext

	names []string
	meter *meter
	phase Phase
	// index is the expression being evaluated.
	index int
	// variables is the map of variables of the phase, once an activation asked for it.
	variables *lazy.MapValue
	// pending is cost of variables taken from the plugin's context, not yet charged.
	pending int64
	// charged is the cost of variables charged to the expression being evaluated.
	charged int64
}

// Variables implements plugincel.CompositionContext: the plugin's lazy map of variables, behind one
// that records what each costs when it is first used.
func (s *sharedVariables) Variables(activation any) ref.Val {
	if s.variables != nil {
		return s.variables
	}
	plugins := s.CompositionContext.Variables(activation)
	inner, ok := plugins.(*lazy.MapValue)
	if !ok {
		return types.NewErr("policytest: the plugin's variables are a %T, not a lazy map", plugins)
	}
	s.variables = lazy.NewMapValue(inner.Type())
	for _, name := range s.names {
		s.variables.Append(name, func(*lazy.MapValue) ref.Val {
			// Variables a variable uses are recorded by their own callbacks, in between: what the
			// plugin's context holds after this one is its own cost.
			s.pending += s.CompositionContext.GetAndResetCost()
			start := time.Now()
			v := inner.Get(types.String(name))
			cost := s.CompositionContext.GetAndResetCost()
			s.pending += cost
			record := VariableCost{Phase: s.phase, Index: s.index, Name: name, Cost: cost, Elapsed: time.Since(start)}
			if err, ok := v.(*types.Err); ok {
				record.Error = err.String()
			}
			s.meter.variables = append(s.meter.variables, record)
			return v
		})
	}
	return s.variables
}

// GetAndResetCost implements plugincel.CompositionContext: the cost of the variables evaluated
// since the last call, which the plugin charges to the expression it evaluated.
func (s *sharedVariables) GetAndResetCost() int64 {
	cost := s.pending + s.CompositionContext.GetAndResetCost()
	s.pending = 0
	s.charged += cost
	return cost
}

// pastPerCallLimit is whether an evaluation error is cel-go's for going past PerCallLimit.
func pastPerCallLimit(err string) bool {
	return strings.Contains(err, costLimitExceeded)
}
