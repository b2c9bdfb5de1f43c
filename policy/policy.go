package policy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agentalias/agentalias/policy/expr"
)

// Policy picks the agent that owns a new session.
//
// Choose must not do I/O, block, or keep req: everything a decision depends
// on (the routing context, which agents are available, the sticky pin the
// router loaded) arrives in req. Implementations must be safe for concurrent
// use. The built-in policies never allocate on success.
type Policy interface {
	// Choose returns the decision for req. A decision names an agent; an
	// error wraps ErrNoMatch, ErrNullPartition or ErrUnavailable (or, for a
	// host's own policy, whatever it chooses) and the returned Decision
	// still explains how far evaluation got.
	Choose(ctx context.Context, req *Request) (Decision, error)
}

// Func adapts a function to the Policy interface, for hosts that route in
// Go rather than with a policy document.
type Func func(ctx context.Context, req *Request) (Decision, error)

// Choose calls f(ctx, req).
func (f Func) Choose(ctx context.Context, req *Request) (Decision, error) { return f(ctx, req) }

// Request is what a policy decides on.
type Request struct {
	// Input is the routing context: the alias (as "agent"), the session being
	// created, and the current date.
	Input expr.Input

	// Available reports whether an agent can take a new session. Nil means
	// every agent can. Policies never pick an agent it rejects.
	Available func(agentKey string) bool

	// StickyKey is the session's sticky key, as Sticky.Key computed it; ""
	// when the policy is not sticky or the key evaluated to null.
	StickyKey string

	// Pin is the decision stored for StickyKey, or nil if there is none.
	Pin *Pin

	// Now is the current time, against which pins expire.
	Now time.Time
}

// available reports whether agent may be picked.
func (r *Request) available(agent string) bool {
	return r.Available == nil || r.Available(agent)
}

// Pin is an earlier decision for a sticky key.
type Pin struct {
	AgentKey  string
	ExpiresAt time.Time // zero means never
}

// Fresh reports whether p has not expired at now.
func (p *Pin) Fresh(now time.Time) bool {
	return p.ExpiresAt.IsZero() || p.ExpiresAt.After(now)
}

// Errors a policy returns when it cannot decide. Policies wrap them with
// details; test with errors.Is.
var (
	// ErrNoMatch means no rule matched the routing context.
	ErrNoMatch = errors.New("no rule matched the session")

	// ErrNullPartition means a weighted target's partition_by evaluated to
	// null.
	ErrNullPartition = errors.New("partition_by evaluated to null")

	// ErrUnavailable means every agent the policy could pick is unavailable.
	ErrUnavailable = errors.New("no available agent")
)

// MatchResult is what a rule's match expression gave.
type MatchResult uint8

// The results of a rule's match.
const (
	NotTried   MatchResult = iota // the rule was not reached
	Matched                       // match was true, or the rule is a catch-all
	NotMatched                    // match was false
	NotBoolean                    // match gave null, a number, a string...: not a match
)

var matchNames = [...]string{"not tried", "matched", "false", "not a boolean"}

// String returns "not tried", "matched", "false" or "not a boolean".
func (m MatchResult) String() string {
	if int(m) < len(matchNames) {
		return matchNames[m]
	}
	return "MatchResult(" + strconv.Itoa(int(m)) + ")"
}

// How a decision was reached, in Decision.Via.
const (
	ViaRule     = "rule"     // the policy's rules decided, without a pin
	ViaPin      = "pin"      // a fresh sticky pin decided
	ViaFallback = "fallback" // a fallback target skipped unavailable agents
	ViaCustom   = ""         // a host's own policy decided
)

// Decision is the agent a policy picked and why. It is a plain value, cheap
// to return on every resolution (it holds no pointers into the policy), and
// it is what logs, metrics and dry runs are built on.
type Decision struct {
	// AgentKey is the agent picked, or "" when the policy failed.
	AgentKey string

	// Rule is the index of the rule that decided, or -1 if none did (no rule
	// matched, a pin decided, or the policy has no rules).
	Rule int

	// Rules is how many rules were tried, in order from the first; the match
	// of each tried rule is reported by Match.
	Rules   int
	matches [maxRecorded / 32]uint64 // 2 bits per rule; see Match

	// Target is the type of the target that decided: "single", "weighted"
	// or "fallback"; "" when none did.
	Target string

	// Partition is the value of the deciding weighted target's partition_by.
	// It may share memory with the request's Input.
	Partition expr.Value

	// Option is the index of the chosen weighted option or fallback agent,
	// or -1.
	Option int

	// Skipped counts the agents passed over because they were unavailable.
	Skipped int

	// Via says how the decision was reached: ViaRule, ViaPin, ViaFallback or
	// ViaCustom.
	Via string

	// PinDue reports that the request had a sticky key and no usable pin, so
	// the router should pin this decision.
	PinDue bool

	// PinIgnored says why the request's pin did not decide: "expired", "not
	// a target" (the policy no longer names its agent), "unavailable", or ""
	// when there was no pin or it decided.
	PinIgnored string
}

// noDecision returns a Decision with every index set to "none".
func noDecision() Decision { return Decision{Rule: -1, Option: -1} }

// maxRecorded is how many rules' match results a Decision records.
const maxRecorded = 128

// setMatch records the match result of rule i (only the first maxRecorded
// rules are recorded; later ones read as NotTried).
func (d *Decision) setMatch(i int, m MatchResult) {
	if i < maxRecorded {
		word, shift := i/32, uint(i%32)*2
		d.matches[word] = d.matches[word]&^(3<<shift) | uint64(m)<<shift
	}
}

// Match returns what rule i's match gave. Rules past Rules were not tried.
// The first 128 rules are recorded (a document has at most MaxRules).
func (d *Decision) Match(i int) MatchResult {
	if i < 0 || i >= maxRecorded || i >= d.Rules {
		return NotTried
	}
	word, shift := i/32, uint(i%32)*2
	return MatchResult(d.matches[word] >> shift & 3)
}

// String explains d in one line, for logs, for example
//
//	agent support-v2 via rule: rules[0] false, rules[1] matched; weighted on 'u-42' chose option 1
func (d Decision) String() string {
	var b strings.Builder
	if d.AgentKey != "" {
		fmt.Fprintf(&b, "agent %s via %s", d.AgentKey, viaName(d.Via))
	} else {
		b.WriteString("no agent")
	}
	if d.Rules > 0 {
		b.WriteString(":")
		for i := 0; i < d.Rules && i < maxRecorded; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " rules[%d] %s", i, d.Match(i))
		}
	}
	if d.PinIgnored != "" {
		fmt.Fprintf(&b, "; pin ignored (%s)", d.PinIgnored)
	}
	switch d.Target {
	case TargetWeighted:
		fmt.Fprintf(&b, "; weighted on %s", d.Partition)
		if d.Option >= 0 {
			fmt.Fprintf(&b, " chose option %d", d.Option)
		}
	case TargetFallback:
		if d.Option >= 0 {
			fmt.Fprintf(&b, "; fallback chose agent %d", d.Option)
		}
	}
	if d.Skipped > 0 {
		fmt.Fprintf(&b, "; %d unavailable skipped", d.Skipped)
	}
	if d.PinDue {
		b.WriteString("; pin due")
	}
	return b.String()
}

func viaName(v string) string {
	if v == ViaCustom {
		return "custom policy"
	}
	return v
}
