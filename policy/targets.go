package policy

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentalias/agentalias/policy/expr"
)

// Single sends every session to one agent: the contract's "single" target.
type Single struct {
	AgentKey string
}

// Agents returns the one agent.
func (s *Single) Agents() []string { return []string{s.AgentKey} }

// Choose picks the agent, unless it is unavailable.
func (s *Single) Choose(_ context.Context, req *Request) (Decision, error) {
	d := noDecision()
	if err := s.choose(req, &d); err != nil {
		return d, err
	}
	return d, nil
}

func (s *Single) choose(req *Request, d *Decision) error {
	d.Target = TargetSingle
	if !req.available(s.AgentKey) {
		d.Skipped++
		return fmt.Errorf("%w: agent %s is unavailable", ErrUnavailable, s.AgentKey)
	}
	d.AgentKey, d.Via = s.AgentKey, ViaRule
	return nil
}

// Fallback picks the first available agent of an ordered list: primary,
// then secondary, and so on. It is this library's extension "fallback".
// Create one with NewFallback.
type Fallback struct {
	agents []string
}

// NewFallback returns a fallback target over agents, in order of preference.
func NewFallback(agents []string) (*Fallback, error) {
	if len(agents) == 0 || len(agents) > MaxOptions {
		return nil, fmt.Errorf("policy: fallback target needs 1 to %d agents", MaxOptions)
	}
	seen := make(map[string]bool, len(agents))
	for _, a := range agents {
		if !ValidAgentKey(a) || seen[a] {
			return nil, fmt.Errorf("policy: fallback target: invalid or duplicate agent key %q", a)
		}
		seen[a] = true
	}
	return &Fallback{agents: append([]string(nil), agents...)}, nil
}

// Agents returns the agents in order of preference.
func (f *Fallback) Agents() []string { return append([]string(nil), f.agents...) }

// Choose picks the first available agent, or fails with ErrUnavailable.
func (f *Fallback) Choose(_ context.Context, req *Request) (Decision, error) {
	d := noDecision()
	if err := f.choose(req, &d); err != nil {
		return d, err
	}
	return d, nil
}

func (f *Fallback) choose(req *Request, d *Decision) error {
	d.Target = TargetFallback
	for i, a := range f.agents {
		if req.available(a) {
			d.AgentKey, d.Option = a, i
			d.Via = ViaRule
			if i > 0 {
				d.Via = ViaFallback
			}
			return nil
		}
		d.Skipped++
	}
	return fmt.Errorf("%w: all %d agents of the fallback target are unavailable", ErrUnavailable, len(f.agents))
}

// Agenter is implemented by policies that can list every agent they may pick.
// A Sticky policy uses it to drop pins to agents the policy no longer names.
type Agenter interface {
	Agents() []string
}

// Case is one compiled rule of a Routed policy: when Match is true (or nil,
// for a catch-all), Target decides. Target is usually a *Single, *Weighted or
// *Fallback, but any Policy will do.
type Case struct {
	Match  *expr.Expr
	Target Policy
}

// Routed tries its rules in order; the first whose match is true decides
// through its target. It is the compiled form of a Document (see Compile),
// and the contract's only policy type.
type Routed struct {
	rules   []Case
	agents  []string
	partial bool // some target cannot list its agents: agents is incomplete
}

// NewRouted returns a routed policy over rules. A rule without Match must be
// the last.
func NewRouted(rules []Case) (*Routed, error) {
	if len(rules) == 0 {
		return nil, errors.New("policy: a routed policy needs at least one rule")
	}
	r := &Routed{rules: append([]Case(nil), rules...)}
	seen := map[string]bool{}
	for i, rule := range rules {
		if rule.Target == nil {
			return nil, fmt.Errorf("policy: rule %d has no target", i)
		}
		if rule.Match == nil && i != len(rules)-1 {
			return nil, fmt.Errorf("policy: rule %d is unreachable: it follows the catch-all rule", i+1)
		}
		agents, ok := agentsOf(rule.Target)
		if !ok {
			r.partial = true
		}
		for _, k := range agents {
			if !seen[k] {
				seen[k] = true
				r.agents = append(r.agents, k)
			}
		}
	}
	return r, nil
}

// agentsOf returns every agent p may pick, and false when p cannot list
// them all: it is not an Agenter, or it is a Routed or Sticky around a
// policy that is not.
func agentsOf(p Policy) ([]string, bool) {
	if c, ok := p.(interface{ agentsComplete() bool }); ok && !c.agentsComplete() {
		return nil, false
	}
	if a, ok := p.(Agenter); ok {
		return a.Agents(), true
	}
	return nil, false
}

// agentsComplete reports whether Agents lists every agent r may pick.
func (r *Routed) agentsComplete() bool { return !r.partial }

// Agents returns every agent the rules' targets name, in order of first
// appearance. Agents of targets that cannot list them (such as a Func) are
// left out; a Sticky around such a policy cannot tell which agents are
// targets, and lets a pin to any agent decide.
func (r *Routed) Agents() []string { return append([]string(nil), r.agents...) }

// Choose tries the rules in order and lets the first matching rule's target
// decide. It fails with ErrNoMatch when no rule matches, and with the
// target's error when the target cannot decide.
func (r *Routed) Choose(ctx context.Context, req *Request) (Decision, error) {
	d := noDecision()
	for i, rule := range r.rules {
		d.Rules = i + 1
		if rule.Match != nil {
			v := rule.Match.Eval(&req.Input)
			b, isBool := v.AsBool()
			switch {
			case !isBool:
				d.setMatch(i, NotBoolean)
				continue
			case !b:
				d.setMatch(i, NotMatched)
				continue
			}
		}
		d.setMatch(i, Matched)
		d.Rule = i
		// Call the built-in targets statically: through an interface, d
		// would escape to the heap.
		var err error
		switch t := rule.Target.(type) {
		case *Single:
			err = t.choose(req, &d)
		case *Weighted:
			err = t.choose(req, &d)
		case *Fallback:
			err = t.choose(req, &d)
		default:
			var sub Decision
			sub, err = rule.Target.Choose(ctx, req)
			mergeCustom(&d, &sub)
		}
		if err != nil {
			return d, fmt.Errorf("rules[%d]: %w", i, err)
		}
		return d, nil
	}
	return d, fmt.Errorf("%w (%d rules tried, none has a catch-all)", ErrNoMatch, len(r.rules))
}

// mergeCustom copies into d what a host's target decided.
func mergeCustom(d, sub *Decision) {
	d.AgentKey, d.Target, d.Partition = sub.AgentKey, sub.Target, sub.Partition
	d.Option, d.Skipped, d.Via = sub.Option, sub.Skipped, sub.Via
}
