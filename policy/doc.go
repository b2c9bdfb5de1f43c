// Package policy decides which agent owns a new session created through an
// alias. It holds the routing policy documents as JSON clients send them (the
// REST contract's AliasPolicy, plus this library's stickiness setting), and
// the engine that compiles a document once and then resolves sessions
// against it: fast (well under a microsecond, no allocations), deterministic,
// and able to say why it chose.
//
// # Documents
//
// A [Document] is an ordered list of rules. Rules are checked top to bottom;
// the first rule whose match expression is true decides, and a rule without a
// match is a catch-all. Each rule names its [Targets]:
//
//   - "single": one agent, AgentKey.
//   - "weighted": Options, each an agent key with an integer weight of at
//     least 0, picked by hashing the value of the PartitionBy expression.
//     Weights are relative: they need not add up to anything.
//   - "fallback" (an extension to the contract): AgentKeys, in order of
//     preference; the first available agent wins.
//
// [Stickiness] (also an extension) lives beside the policy in an alias and in
// the body of a policy replacement. It names an expression whose value is the
// sticky key, and how long a pinned decision stays fresh.
//
// The JSON form is the contract's:
//
//	{"type":"routed","rules":[
//	  {"match":"get('$.session.metadata.tenant') == 'acme'",
//	   "targets":{"type":"single","agent_key":"support-acme"}},
//	  {"targets":{"type":"weighted","partition_by":"get('$.session.key')",
//	   "options":[{"agent_key":"support-v1","weight":90},{"agent_key":"support-v2","weight":10}]}}]}
//
// Decoding is strict. Member names are matched exactly (case-sensitively); an
// unknown or repeated member, or a value of the wrong JSON type, is an error
// that names its path within the document, such as
// "rules[0].targets.options[1].weight: must be an integer". A null member is
// treated as absent, but a null document, rule, option or agent key is an
// error. A weight must be present, and is a JSON number with an integral
// value: 1, 1.0 and 1e3 are accepted; 1.5 and "90" are not.
//
// Encoding writes the members in the order shown above, leaves out empty
// optional members, and does not escape <, > and & (expressions use them), so
// a document decoded from compact JSON encodes back to the same bytes. An
// enclosing value encoded with [encoding/json.Marshal] has those characters
// escaped again by the encoder; use an [encoding/json.Encoder] with
// SetEscapeHTML(false) to avoid that.
//
// # Validation
//
// [Document.Validate] and [Stickiness.Validate] check everything that can be
// checked without compiling expressions or knowing which agents exist, and
// report every problem at once as a [*validate.Errors] whose paths are
// relative to the document ("type", "rules[2].targets.partition_by").
// Among other things, a rule after the catch-all rule is rejected as
// unreachable, a field that does not belong to its target type is rejected,
// agent keys must match ^[0-9a-zA-Z_-]+$ and be 1-50 characters, one target
// may not name the same agent twice, and a weighted target needs at least one
// weight above 0.
//
// Whether the named agents exist is the caller's business: [Document.AgentKeys]
// lists them.
//
// [Parse] decodes and validates in one step.
//
// # Engine
//
// [Compile] (or [Document.Compile] and [Stickiness.Compile]) turns a valid
// document into a [Policy]: a [*Routed] of compiled rules, wrapped in a
// [*Sticky] when the alias has stickiness. A syntax error in an expression is
// a field error naming the rule and the position, for example
// "policy.rules[1].match: syntax error at position 12: ...". Compiled
// policies are immutable and safe for concurrent use.
//
// [Policy] is one method, Choose, which takes a [Request] and returns a
// [Decision]. Policies do no I/O: the routing context (the alias as "agent",
// the session being created, the current date), which agents are available,
// and the sticky pin the router loaded all arrive in the Request. That keeps
// every policy a pure function, easy to table-test. The built-in targets
// [*Single], [*Weighted] and [*Fallback] are policies themselves, and a host
// can plug in its own Go policy, alone or as a rule's target, with [Func].
//
// Resolution fails with [ErrNoMatch] when no rule matches, [ErrNullPartition]
// when a weighted target's partition_by is null, and [ErrUnavailable] when
// every agent the deciding target could pick is unavailable; the errors say
// which rule and expression were involved. Expressions themselves never fail:
// see package expr for the language and its null semantics.
//
// # Weighted split
//
// A weighted target must send the same partition value to the same agent in
// every process, on every platform and in every future version, and a change
// of one weight must move only the keys that go into or out of that option.
// It uses weighted rendezvous hashing, with integer arithmetic only, so that
// no platform's floating point can change an answer. For partition string p
// (the value of partition_by as expr.Value.AppendText writes it) and each
// available option with agent key k and weight w > 0:
//
//	h     = fmix64(FNV-1a-64(p || 0x00 || k))            // Hash
//	u     = (h >> 11) + 1                                  // 1 .. 2^53
//	score = 53*2^32 - log2fixed(u)                         // RendezvousScore: -log2(u/2^53) in Q32
//
// where fmix64 is MurmurHash3's 64-bit finalizer and log2fixed(u) is log2(u)
// with 32 fractional bits, rounded down, computed by repeated squaring of the
// mantissa. The option with the smallest score/w wins, compared exactly as
// score_a*w_b < score_b*w_a; a tie goes to the smaller agent key. Each
// option's score depends only on p and its own key, so raising an option's
// weight only takes keys from the others, lowering it only gives keys away,
// removing an option moves only its keys, the order of options does not
// matter, and an unavailable option's keys spread over the rest while every
// other key stays put. Weights are relative; weight 0 receives nothing.
//
// Frozen vectors (pinned by the tests; partition values "u-0" to "u-39", one
// digit per value giving the index of the chosen option):
//
//	support-v1:90 support-v2:10   0000010000100000000000000000000000000000
//	a:1 b:1 c:1                   1212121020022000102112202211201101220101
//	blue:50 green:30 red:20       2020010110200022210001120120201200020001
//	Hash("u-42", "support-v1") = 0xf6b25854ee08fa40, RendezvousScore = 229375413
//
// # Fallback and availability
//
// Request.Available, when set, reports whether an agent can take a session.
// No built-in policy ever picks an agent it rejects: a single target fails
// with ErrUnavailable, a weighted target skips the option (keeping every
// other key where it was), and a fallback target ("fallback", our
// extension) takes the first available agent of its ordered list, or fails.
//
// # Stickiness
//
// A [*Sticky] policy computes a sticky key for each session ([Sticky.Key]);
// the router loads the pin stored for that key and passes it in the Request.
// A pin decides while it is fresh (within its TTL), the policy can still pick
// its agent (it is named by a target, with a weight above 0 in a weighted
// one), and that agent is available. Otherwise the wrapped policy
// decides and the Decision reports PinDue, so the router stores a new pin
// ([Sticky.NewPin]). Sessions whose key is null or empty are not sticky.
//
// # Decisions
//
// A [Decision] names the agent and says why: how many rules were tried and
// what each match gave ([Decision.Match]), the rule that decided, the
// partition value, the option chosen, how many unavailable agents were
// skipped, and whether a pin or a fallback decided. It is a plain value
// returned on every resolution without allocating; [Decision.String] renders
// it for logs.
//
// # Limits
//
// A document has at most [MaxRules] rules; a weighted target at most
// [MaxOptions] options and a fallback target at most [MaxOptions] agent keys;
// a weight is at most [MaxWeight]; an expression (match, partition_by, or the
// sticky key) is at most [MaxExpressionLength] bytes; and a sticky pin lives
// at most [MaxTTLMinutes] minutes (ten years).
//
// [*validate.Errors]: github.com/agentalias/agentalias/internal/validate.Errors
package policy
