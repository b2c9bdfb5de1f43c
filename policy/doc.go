// Package policy holds alias routing policies as JSON clients send them: the
// REST contract's AliasPolicy, plus this library's stickiness setting.
//
// Compiling a document into something that routes (parsing the match and
// partition_by expressions, hashing partition values, checking agent
// availability) belongs to the policy engine, which builds on the types here.
// This package only decodes, validates, copies and encodes documents.
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
