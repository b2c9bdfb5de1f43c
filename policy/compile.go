package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/agentalias/agentalias/internal/validate"
	"github.com/agentalias/agentalias/policy/expr"
)

// Compile validates d and compiles it into a Routed policy. Errors are field
// errors (with a FieldErrors method) whose paths are relative to the document,
// such as "rules[1].match: syntax error at position 7: ...".
func (d *Document) Compile() (*Routed, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	var errs validate.Errors
	cases := make([]Case, len(d.Rules))
	for i, rule := range d.Rules {
		path := validate.Index("rules", i)
		if rule.Match != "" {
			m, err := expr.Compile(rule.Match)
			if err != nil {
				errs.Add(path+".match", err.Error())
			}
			cases[i].Match = m
		}
		t, err := rule.Targets.compile(path + ".targets")
		if err != nil {
			var ve *validate.Errors
			if errors.As(err, &ve) {
				errs.Merge("", ve)
			} else {
				errs.Add(path+".targets", err.Error())
			}
		}
		cases[i].Target = t
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return NewRouted(cases)
}

// compile turns validated targets into a built-in target.
func (t *Targets) compile(path string) (Policy, error) {
	switch t.Type {
	case TargetSingle:
		return &Single{AgentKey: t.AgentKey}, nil
	case TargetWeighted:
		p, err := expr.Compile(t.PartitionBy)
		if err != nil {
			var errs validate.Errors
			errs.Add(path+".partition_by", err.Error())
			return nil, &errs
		}
		return NewWeighted(p, t.Options)
	case TargetFallback:
		return NewFallback(t.AgentKeys)
	}
	return nil, errors.New("unknown target type") // Validate rejects it first
}

// Compile validates s and wraps p in a Sticky policy. Errors are field errors
// with paths relative to the stickiness object ("key").
func (s *Stickiness) Compile(p Policy) (*Sticky, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	k, err := expr.Compile(s.Key)
	if err != nil {
		var errs validate.Errors
		errs.Add("key", err.Error())
		return nil, &errs
	}
	return NewSticky(k, time.Duration(s.TTLMinutes)*time.Minute, p), nil
}

// Compile compiles a policy document and, if st is not nil, its stickiness
// into the Policy that routes an alias's new sessions: a *Routed, or a
// *Sticky around one. Errors are field errors with paths relative to the body
// that carries both, as in the contract's PUT /policy: "policy.rules[0].match",
// "stickiness.key". The result is immutable and safe for concurrent use.
func Compile(doc *Document, st *Stickiness) (Policy, error) {
	var errs validate.Errors
	r, err := doc.Compile()
	errs.MergeErr("policy", err)
	var sticky *Sticky
	if st != nil {
		// When doc is invalid, r is a nil *Routed: compile st around no
		// policy, only to report its own errors (a nil *Routed inside a
		// Policy would be called for its agents).
		var p Policy
		if r != nil {
			p = r
		}
		sticky, err = st.Compile(p)
		errs.MergeErr("stickiness", err)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if sticky != nil {
		return sticky, nil
	}
	return r, nil
}

// MaxStickyKeyLen is the longest sticky key Sticky.Key returns; longer values
// are replaced by a digest.
const MaxStickyKeyLen = 256

// Sticky pins decisions to a sticky key: the first decision for a key is
// stored (by the router) as a pin, and later sessions with the same key go to
// the pinned agent while the pin is fresh, the agent is still one the policy
// names, and it is available. Otherwise the wrapped policy decides again and
// the decision is due to be pinned anew. Sticky is this library's
// "stickiness" extension. Create one with NewSticky or Stickiness.Compile.
type Sticky struct {
	key    *expr.Expr
	ttl    time.Duration
	policy Policy
	agents []string // nil when the wrapped policy cannot list its agents
}

// NewSticky wraps p in a sticky policy whose key is the value of key and
// whose pins stay fresh for ttl (0: forever).
func NewSticky(key *expr.Expr, ttl time.Duration, p Policy) *Sticky {
	s := &Sticky{key: key, ttl: ttl, policy: p}
	if a, ok := agentsOf(p); ok {
		s.agents = a
	}
	return s
}

// agentsComplete reports whether Agents lists every agent s may pick.
func (s *Sticky) agentsComplete() bool { return s.agents != nil }

// Policy returns the wrapped policy.
func (s *Sticky) Policy() Policy { return s.policy }

// TTL returns how long pins stay fresh; 0 means forever.
func (s *Sticky) TTL() time.Duration { return s.ttl }

// Agents returns the agents of the wrapped policy, or nil if it cannot list
// them.
func (s *Sticky) Agents() []string { return append([]string(nil), s.agents...) }

// Key returns the sticky key of a session: the partition string (see
// expr.Value.AppendText) of the key expression's value. ok is false when the
// value is null or the empty string; such sessions are not sticky. Keys
// longer than MaxStickyKeyLen bytes are replaced by "#" and the hex SHA-256 of
// the key.
func (s *Sticky) Key(in *expr.Input) (key string, ok bool) {
	v := s.key.Eval(in)
	if v.IsNull() {
		return "", false
	}
	var buf [64]byte
	b := v.AppendText(buf[:0])
	if len(b) == 0 {
		return "", false
	}
	if len(b) > MaxStickyKeyLen {
		sum := sha256.Sum256(b)
		return "#" + hex.EncodeToString(sum[:]), true
	}
	return string(b), true
}

// NewPin returns the pin that records d for a request made at now.
func (s *Sticky) NewPin(d Decision, now time.Time) Pin {
	p := Pin{AgentKey: d.AgentKey}
	if s.ttl > 0 {
		p.ExpiresAt = now.Add(s.ttl)
	}
	return p
}

// Choose lets req.Pin decide when it is usable; otherwise the wrapped policy
// decides and, when req has a sticky key, the decision is due to be pinned.
func (s *Sticky) Choose(ctx context.Context, req *Request) (Decision, error) {
	ignored := ""
	if p := req.Pin; p != nil && req.StickyKey != "" {
		switch {
		case !p.Fresh(req.Now):
			ignored = "expired"
		case s.agents != nil && !contains(s.agents, p.AgentKey):
			ignored = "not a target"
		case !req.available(p.AgentKey):
			ignored = "unavailable"
		default:
			d := noDecision()
			d.AgentKey, d.Via = p.AgentKey, ViaPin
			return d, nil
		}
	}
	d, err := s.policy.Choose(ctx, req)
	d.PinIgnored = ignored
	d.PinDue = err == nil && req.StickyKey != ""
	return d, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
