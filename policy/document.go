package policy

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/agentalias/agentalias/internal/keys"
	"github.com/agentalias/agentalias/internal/validate"
)

// TypeRouted is the type of every policy document, and the only one the
// contract defines.
const TypeRouted = "routed"

// Target types, the values of [Targets.Type].
const (
	TargetSingle   = "single"   // one agent
	TargetWeighted = "weighted" // weighted options, picked by partition value
	TargetFallback = "fallback" // ordered agents, the first available wins
)

// Limits on documents and stickiness settings.
const (
	MaxRules            = 100         // rules in a document
	MaxOptions          = 100         // options of a weighted target, agent keys of a fallback target
	MaxWeight           = 1_000_000   // weight of one option
	MaxExpressionLength = 4096        // bytes in a match, partition_by or sticky key expression
	MaxTTLMinutes       = 10 * 525600 // Stickiness.TTLMinutes: ten years
)

// agentKeyMessage is the validation message for an invalid agent key.
const agentKeyMessage = "must match ^[0-9a-zA-Z_-]+$ and be 1-50 characters"

// Document is an alias routing policy as JSON clients send it (the
// contract's AliasPolicy). Rules are checked in order; the first rule whose
// match is true decides the agent.
//
// A Document is a plain value: the zero value is not valid, and a Document
// decoded from JSON has not been validated. Call [Document.Validate], or use
// [Parse].
type Document struct {
	Type  string `json:"type"` // always TypeRouted
	Rules []Rule `json:"rules"`
}

// Rule is one rule of a [Document].
type Rule struct {
	// Match is a UserFn expression that must evaluate to a boolean. An empty
	// Match makes the rule a catch-all, which must be the last rule.
	Match   string  `json:"match,omitempty"`
	Targets Targets `json:"targets"`
}

// Targets says which agent a [Rule] picks. It is a union on Type: a
// [TargetSingle] target uses AgentKey; a [TargetWeighted] target uses
// PartitionBy and Options; a [TargetFallback] target uses AgentKeys, ordered
// by preference, the first available agent winning. Fields that do not belong
// to the type must be empty.
type Targets struct {
	Type        string   `json:"type"`
	AgentKey    string   `json:"agent_key,omitempty"`
	PartitionBy string   `json:"partition_by,omitempty"` // UserFn expression; its value is hashed
	Options     []Option `json:"options,omitempty"`
	AgentKeys   []string `json:"agent_keys,omitempty"`
}

// Option is one choice of a weighted target. Weights are relative: an option
// gets Weight divided by the sum of the target's weights of the traffic, and
// a weight of 0 gets none.
type Option struct {
	AgentKey string `json:"agent_key"`
	Weight   int64  `json:"weight"`
}

// Stickiness pins the first decision for a sticky key, so that later
// sessions with the same key reach the same agent. It is an extension to the
// contract; in JSON it appears beside "policy" in an alias, and as
// "stickiness" in the body of a policy replacement.
type Stickiness struct {
	Key        string `json:"key"`         // UserFn expression giving the sticky key
	TTLMinutes int64  `json:"ttl_minutes"` // how long a pin stays fresh; 0 means it never expires
}

// ValidAgentKey reports whether s is a valid agent key: 1 to 50 characters,
// each a letter, digit, '_' or '-' (the contract's ^[0-9a-zA-Z_-]+$).
func ValidAgentKey(s string) bool { return keys.Valid(s) }

// Parse decodes the JSON document b strictly, as [Document.UnmarshalJSON]
// does, and validates it. It accepts exactly one JSON value, with optional
// surrounding white space. Every error it returns is a [*validate.Errors].
//
// [*validate.Errors]: github.com/agentalias/agentalias/internal/validate.Errors
func Parse(b []byte) (*Document, error) {
	d := new(Document)
	if err := d.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// Validate reports every problem with d as a [*validate.Errors] whose paths
// are relative to the document, or returns nil if d is valid. It does not
// compile expressions and does not check that the agents exist.
//
// [*validate.Errors]: github.com/agentalias/agentalias/internal/validate.Errors
func (d *Document) Validate() error {
	var errs validate.Errors
	if d == nil {
		errs.Add("", "is required")
		return errs.Err()
	}
	switch d.Type {
	case "":
		errs.Add("type", "is required")
	case TypeRouted:
	default:
		errs.Addf("type", "unknown policy type %q; the only type is %s", d.Type, TypeRouted)
	}
	switch n := len(d.Rules); {
	case n == 0:
		errs.Add("rules", "at least one rule is required")
	case n > MaxRules:
		errs.Addf("rules", "must have at most %d rules", MaxRules)
	}
	catchAll := -1
	for i := range d.Rules {
		path := validate.Index("rules", i)
		if catchAll >= 0 {
			errs.Addf(path, "unreachable: rule follows the catch-all rule rules[%d]", catchAll)
		}
		r := &d.Rules[i]
		if r.Match == "" {
			if catchAll < 0 {
				catchAll = i
			}
		} else {
			checkExpression(&errs, validate.Join(path, "match"), r.Match, "; omit match for a catch-all")
		}
		r.Targets.validate(&errs, validate.Join(path, "targets"))
	}
	return errs.Err()
}

// checkExpression checks the length of a non-empty expression and that it is
// not blank. Blank adds to the blank message.
func checkExpression(errs *validate.Errors, path, expr, blank string) {
	switch {
	case len(expr) > MaxExpressionLength:
		errs.Addf(path, "must be at most %d bytes", MaxExpressionLength)
	case strings.TrimSpace(expr) == "":
		errs.Addf(path, "must not be blank%s", blank)
	}
}

// checkAgentKey checks a required agent key.
func checkAgentKey(errs *validate.Errors, path, key string) {
	switch {
	case key == "":
		errs.Add(path, "is required")
	case !ValidAgentKey(key):
		errs.Add(path, agentKeyMessage)
	}
}

// validate adds the problems of t to errs, under path.
func (t *Targets) validate(errs *validate.Errors, path string) {
	field := func(name string) string { return validate.Join(path, name) }
	// notAllowed rejects the non-empty fields that do not belong to t.Type.
	notAllowed := func(agentKey, partitionBy, options, agentKeys bool) {
		for _, f := range []struct {
			name   string
			check  bool
			filled bool
		}{
			{"agent_key", agentKey, t.AgentKey != ""},
			{"partition_by", partitionBy, t.PartitionBy != ""},
			{"options", options, len(t.Options) > 0},
			{"agent_keys", agentKeys, len(t.AgentKeys) > 0},
		} {
			if f.check && f.filled {
				errs.Addf(field(f.name), "not allowed with type %s", t.Type)
			}
		}
	}
	switch t.Type {
	case "":
		errs.Add(field("type"), "is required")
	case TargetSingle:
		notAllowed(false, true, true, true)
		checkAgentKey(errs, field("agent_key"), t.AgentKey)
	case TargetWeighted:
		notAllowed(true, false, false, true)
		if t.PartitionBy == "" {
			errs.Add(field("partition_by"), "is required")
		} else {
			checkExpression(errs, field("partition_by"), t.PartitionBy, "")
		}
		t.validateOptions(errs, field("options"))
	case TargetFallback:
		notAllowed(true, true, true, false)
		t.validateAgentKeys(errs, field("agent_keys"))
	default:
		errs.Addf(field("type"), "unknown target type %q; want %s, %s or %s",
			t.Type, TargetSingle, TargetWeighted, TargetFallback)
	}
}

// validateOptions checks the options of a weighted target.
func (t *Targets) validateOptions(errs *validate.Errors, path string) {
	switch n := len(t.Options); {
	case t.Options == nil:
		errs.Add(path, "is required")
		return
	case n == 0:
		errs.Add(path, "at least one option is required")
		return
	case n > MaxOptions:
		errs.Addf(path, "must have at most %d options", MaxOptions)
	}
	positive := false
	seen := make(map[string]bool, len(t.Options))
	for i, o := range t.Options {
		p := validate.Index(path, i)
		checkAgentKey(errs, validate.Join(p, "agent_key"), o.AgentKey)
		if o.AgentKey != "" && seen[o.AgentKey] {
			errs.Addf(validate.Join(p, "agent_key"), "duplicate agent %q in this target", o.AgentKey)
		}
		seen[o.AgentKey] = true
		switch {
		case o.Weight < 0:
			errs.Add(validate.Join(p, "weight"), "must be at least 0")
		case o.Weight > MaxWeight:
			errs.Addf(validate.Join(p, "weight"), "must be at most %d", MaxWeight)
		case o.Weight > 0:
			positive = true
		}
	}
	if !positive {
		errs.Add(path, "at least one weight must be greater than 0")
	}
}

// validateAgentKeys checks the agent keys of a fallback target.
func (t *Targets) validateAgentKeys(errs *validate.Errors, path string) {
	switch n := len(t.AgentKeys); {
	case t.AgentKeys == nil:
		errs.Add(path, "is required")
		return
	case n == 0:
		errs.Add(path, "at least one agent key is required")
		return
	case n > MaxOptions:
		errs.Addf(path, "must have at most %d agent keys", MaxOptions)
	}
	seen := make(map[string]bool, len(t.AgentKeys))
	for i, k := range t.AgentKeys {
		p := validate.Index(path, i)
		checkAgentKey(errs, p, k)
		if k != "" && seen[k] {
			errs.Addf(p, "duplicate agent %q in this target", k)
		}
		seen[k] = true
	}
}

// Validate reports every problem with s as a [*validate.Errors] whose paths
// are relative to the stickiness object ("key", "ttl_minutes"), or returns
// nil if s is valid.
//
// [*validate.Errors]: github.com/agentalias/agentalias/internal/validate.Errors
func (s *Stickiness) Validate() error {
	var errs validate.Errors
	if s == nil {
		errs.Add("", "is required")
		return errs.Err()
	}
	if s.Key == "" {
		errs.Add("key", "is required")
	} else {
		checkExpression(&errs, "key", s.Key, "")
	}
	switch {
	case s.TTLMinutes < 0:
		errs.Add("ttl_minutes", "must be at least 0")
	case s.TTLMinutes > MaxTTLMinutes:
		errs.Addf("ttl_minutes", "must be at most %d", MaxTTLMinutes)
	}
	return errs.Err()
}

// AgentKeys returns every agent key d names, in any target field, without
// duplicates and in order of first appearance. It returns nil if d names no
// agent. The caller owns the returned slice.
func (d *Document) AgentKeys() []string {
	if d == nil {
		return nil
	}
	var keys []string
	seen := make(map[string]bool)
	add := func(k string) {
		if k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, r := range d.Rules {
		t := &r.Targets
		add(t.AgentKey)
		for _, o := range t.Options {
			add(o.AgentKey)
		}
		for _, k := range t.AgentKeys {
			add(k)
		}
	}
	return keys
}

// References reports whether d names the agent agentKey in any target.
func (d *Document) References(agentKey string) bool {
	if d == nil || agentKey == "" {
		return false
	}
	for _, r := range d.Rules {
		t := &r.Targets
		if t.AgentKey == agentKey || slices.Contains(t.AgentKeys, agentKey) ||
			slices.ContainsFunc(t.Options, func(o Option) bool { return o.AgentKey == agentKey }) {
			return true
		}
	}
	return false
}

// Clone returns a deep copy of d, or nil if d is nil. Nil and empty slices
// stay nil and empty.
func (d *Document) Clone() *Document {
	if d == nil {
		return nil
	}
	c := &Document{Type: d.Type}
	if d.Rules != nil {
		c.Rules = make([]Rule, len(d.Rules))
		for i, r := range d.Rules {
			r.Targets.Options = slices.Clone(r.Targets.Options)
			r.Targets.AgentKeys = slices.Clone(r.Targets.AgentKeys)
			c.Rules[i] = r
		}
	}
	return c
}

// Equal reports whether d and o are the same document. Two nil documents are
// equal; a nil slice equals an empty one.
func (d *Document) Equal(o *Document) bool {
	if d == nil || o == nil {
		return d == o
	}
	return d.Type == o.Type && slices.EqualFunc(d.Rules, o.Rules, func(a, b Rule) bool {
		return a.Match == b.Match &&
			a.Targets.Type == b.Targets.Type &&
			a.Targets.AgentKey == b.Targets.AgentKey &&
			a.Targets.PartitionBy == b.Targets.PartitionBy &&
			slices.Equal(a.Targets.Options, b.Targets.Options) &&
			slices.Equal(a.Targets.AgentKeys, b.Targets.AgentKeys)
	})
}

// Clone returns a copy of s, or nil if s is nil.
func (s *Stickiness) Clone() *Stickiness {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}

// MarshalJSON encodes d with the members in declaration order, empty
// optional members left out, nil Rules written as [], and without escaping
// <, > and &.
func (d Document) MarshalJSON() ([]byte, error) {
	type plain Document // plain has no methods, so no recursion
	if d.Rules == nil {
		d.Rules = []Rule{}
	}
	return marshal(plain(d))
}

// MarshalJSON encodes s as {"key":...,"ttl_minutes":...}, without escaping
// <, > and &.
func (s Stickiness) MarshalJSON() ([]byte, error) {
	type plain Stickiness
	return marshal(plain(s))
}

// marshal encodes v without HTML escaping and without a trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON decodes the JSON document b strictly: unknown or repeated
// members, values of the wrong JSON type, non-integral or out-of-range weights,
// options without a weight, and a null document are errors. It reports every
// such problem as a [*validate.Errors] whose paths are relative to the
// document, and leaves d unchanged on error. A null member counts as absent.
//
// UnmarshalJSON does not validate: call [Document.Validate] next, or use [Parse].
//
// [*validate.Errors]: github.com/agentalias/agentalias/internal/validate.Errors
func (d *Document) UnmarshalJSON(b []byte) error {
	var dec decoder
	if !dec.valid(b) {
		return dec.errs.Err()
	}
	doc := dec.document("", b)
	if err := dec.errs.Err(); err != nil {
		return err
	}
	*d = doc
	return nil
}

// UnmarshalJSON decodes the JSON object b strictly, as
// [Document.UnmarshalJSON] does, with paths relative to the stickiness object.
// An absent ttl_minutes means 0.
func (s *Stickiness) UnmarshalJSON(b []byte) error {
	var dec decoder
	if !dec.valid(b) {
		return dec.errs.Err()
	}
	var st Stickiness
	if m := dec.members("", b, "key", "ttl_minutes"); m != nil {
		if v, ok := m["key"]; ok {
			st.Key = dec.string("key", v)
		}
		if v, ok := m["ttl_minutes"]; ok {
			st.TTLMinutes = dec.integer("ttl_minutes", v, MaxTTLMinutes)
		}
	}
	if err := dec.errs.Err(); err != nil {
		return err
	}
	*s = st
	return nil
}

// decoder decodes JSON values strictly, recording every problem in errs.
// Its methods take a path, for messages, and the raw JSON value, which must
// be syntactically valid.
type decoder struct {
	errs validate.Errors
}

// valid checks that b holds one syntactically valid JSON value.
func (dec *decoder) valid(b []byte) bool {
	var v json.RawMessage
	if err := json.Unmarshal(b, &v); err != nil {
		dec.errs.Addf("", "invalid JSON: %v", err)
		return false
	}
	return true
}

func (dec *decoder) document(path string, raw []byte) Document {
	var d Document
	m := dec.members(path, raw, "type", "rules")
	if m == nil {
		return d
	}
	if v, ok := m["type"]; ok {
		d.Type = dec.string(member(path, "type"), v)
	}
	if v, ok := m["rules"]; ok {
		p := member(path, "rules")
		if elems, ok := dec.array(p, v); ok {
			d.Rules = make([]Rule, len(elems))
			for i, e := range elems {
				d.Rules[i] = dec.rule(validate.Index(p, i), e)
			}
		}
	}
	return d
}

func (dec *decoder) rule(path string, raw []byte) Rule {
	var r Rule
	m := dec.members(path, raw, "match", "targets")
	if m == nil {
		return r
	}
	if v, ok := m["match"]; ok {
		r.Match = dec.string(member(path, "match"), v)
	}
	if v, ok := m["targets"]; ok {
		r.Targets = dec.targets(member(path, "targets"), v)
	}
	return r
}

func (dec *decoder) targets(path string, raw []byte) Targets {
	var t Targets
	m := dec.members(path, raw, "type", "agent_key", "partition_by", "options", "agent_keys")
	if m == nil {
		return t
	}
	if v, ok := m["type"]; ok {
		t.Type = dec.string(member(path, "type"), v)
	}
	if v, ok := m["agent_key"]; ok {
		t.AgentKey = dec.string(member(path, "agent_key"), v)
	}
	if v, ok := m["partition_by"]; ok {
		t.PartitionBy = dec.string(member(path, "partition_by"), v)
	}
	if v, ok := m["options"]; ok {
		p := member(path, "options")
		if elems, ok := dec.array(p, v); ok {
			t.Options = make([]Option, len(elems))
			for i, e := range elems {
				t.Options[i] = dec.option(validate.Index(p, i), e)
			}
		}
	}
	if v, ok := m["agent_keys"]; ok {
		p := member(path, "agent_keys")
		if elems, ok := dec.array(p, v); ok {
			t.AgentKeys = make([]string, len(elems))
			for i, e := range elems {
				t.AgentKeys[i] = dec.string(validate.Index(p, i), e)
			}
		}
	}
	return t
}

func (dec *decoder) option(path string, raw []byte) Option {
	var o Option
	m := dec.members(path, raw, "agent_key", "weight")
	if m == nil {
		return o
	}
	if v, ok := m["agent_key"]; ok {
		o.AgentKey = dec.string(member(path, "agent_key"), v)
	}
	if v, ok := m["weight"]; ok {
		o.Weight = dec.integer(member(path, "weight"), v, MaxWeight)
	} else {
		dec.errs.Add(member(path, "weight"), "is required")
	}
	return o
}

// member returns the path of the member name of the object at path.
func member(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// members returns the non-null members of the JSON object raw, keyed by
// name. It records an error for a value that is not an object, and for each
// member that is not one of known or that repeats an earlier member; those
// members are left out. It returns nil if raw is not an object.
func (dec *decoder) members(path string, raw []byte, known ...string) map[string]json.RawMessage {
	if kind(raw) != '{' {
		dec.errs.Add(path, "must be an object")
		return nil
	}
	m := make(map[string]json.RawMessage, len(known))
	seen := make(map[string]bool, len(known))
	jd := json.NewDecoder(bytes.NewReader(raw))
	if _, err := jd.Token(); err != nil { // the opening brace
		dec.errs.Addf(path, "invalid JSON: %v", err)
		return m
	}
	for jd.More() {
		tok, err := jd.Token()
		var v json.RawMessage
		if err == nil {
			err = jd.Decode(&v)
		}
		name, ok := tok.(string)
		if err != nil || !ok {
			dec.errs.Addf(path, "invalid JSON: %v", err)
			return m
		}
		p := member(path, name)
		switch {
		case !slices.Contains(known, name):
			dec.errs.Add(p, "unknown field")
		case seen[name]:
			dec.errs.Add(p, "duplicate field")
		case kind(v) != 'n':
			m[name] = v
		}
		seen[name] = true
	}
	return m
}

// array returns the elements of the JSON array raw, or records an error and
// returns false if raw is not an array. The elements of an empty array are
// a non-nil empty slice.
func (dec *decoder) array(path string, raw []byte) ([]json.RawMessage, bool) {
	if kind(raw) != '[' {
		dec.errs.Add(path, "must be an array")
		return nil, false
	}
	elems := []json.RawMessage{}
	if err := json.Unmarshal(raw, &elems); err != nil {
		dec.errs.Addf(path, "invalid JSON: %v", err)
		return nil, false
	}
	return elems, true
}

// string returns the JSON string raw, or records an error and returns "" if
// raw is not a string.
func (dec *decoder) string(path string, raw []byte) string {
	var s string
	if kind(raw) != '"' {
		dec.errs.Add(path, "must be a string")
		return ""
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		dec.errs.Addf(path, "invalid JSON: %v", err)
		return ""
	}
	return s
}

// integer returns the integral value of the JSON number raw. It records an
// error and returns 0 if raw is not a number with an integral value, or if
// the value does not fit in an int64; limit is only used in the message for
// the latter.
func (dec *decoder) integer(path string, raw []byte, limit int64) int64 {
	if kind(raw) != '0' {
		dec.errs.Add(path, "must be an integer")
		return 0
	}
	v, integral, inRange := parseInteger(string(bytes.TrimSpace(raw)))
	switch {
	case !integral:
		dec.errs.Add(path, "must be an integer")
	case !inRange:
		dec.errs.Addf(path, "must be an integer between 0 and %d", limit)
	}
	return v
}

// kind returns the kind of the JSON value raw: '{' for an object, '[' for an
// array, '"' for a string, '0' for a number, 't' for a boolean, 'n' for null,
// and 0 for anything else.
func kind(raw []byte) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	switch c := raw[0]; c {
	case '{', '[', '"', 'n':
		return c
	case 't', 'f':
		return 't'
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return '0'
	}
	return 0
}

// maxExponent bounds the exponent parseInteger tracks; anything larger is
// out of range for an int64 or not integral either way.
const maxExponent = 1 << 30

// parseInteger parses the JSON number s exactly. It reports whether the value
// is integral and, if so, whether it fits in an int64, and returns the value
// when both hold. It never builds large numbers, whatever the exponent.
func parseInteger(s string) (v int64, integral, inRange bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	whole := s[:i]
	var frac string
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		frac = s[i+1 : j]
		i = j
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		expNeg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			expNeg = s[i] == '-'
			i++
		}
		for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			if exp < maxExponent {
				exp = exp*10 + int(s[i]-'0')
			}
		}
		if expNeg {
			exp = -exp
		}
	}
	if len(whole) == 0 || i != len(s) {
		return 0, false, false // not a JSON number
	}
	// The value is ±digits × 10^shift.
	digits := strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		return 0, true, true
	}
	shift := exp - len(frac)
	trimmed := strings.TrimRight(digits, "0")
	shift += len(digits) - len(trimmed)
	digits = trimmed
	switch {
	case shift < 0:
		return 0, false, false
	case len(digits)+shift > 19: // at least 10^19, beyond int64
		return 0, true, false
	}
	digits += strings.Repeat("0", shift)
	if neg {
		digits = "-" + digits
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, true, false
	}
	return v, true, true
}
