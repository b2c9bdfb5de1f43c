package policy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/policy/expr"
)

// contractPolicy is the contract's alias policy example (vectara-api.md
// §2.2): tenant acme to its own agent, everyone else split 90/10 by user.
const contractPolicy = `{"type":"routed","rules":[` +
	`{"match":"get('$.session.metadata.tenant') == 'acme'","targets":{"type":"single","agent_key":"support-acme"}},` +
	`{"targets":{"type":"weighted","partition_by":"get('$.session.metadata.user_id', '')",` +
	`"options":[{"agent_key":"support-v1","weight":90},{"agent_key":"support-v2","weight":10}]}}]}`

// Shorthands for match results in tables.
const (
	mT  = policy.Matched
	mF  = policy.NotMatched
	mNB = policy.NotBoolean
)

// outcome is a Decision in a form cmp.Diff can compare and print.
type outcome struct {
	AgentKey   string
	Rule       int
	Matches    []policy.MatchResult // Match(i) for every tried rule
	Target     string
	Partition  string // Partition.String(), or "" when null
	Option     int
	Skipped    int
	Via        string
	PinDue     bool
	PinIgnored string
}

func explain(d policy.Decision) outcome {
	o := outcome{
		AgentKey: d.AgentKey, Rule: d.Rule, Target: d.Target, Option: d.Option,
		Skipped: d.Skipped, Via: d.Via, PinDue: d.PinDue, PinIgnored: d.PinIgnored,
	}
	for i := 0; i < d.Rules; i++ {
		o.Matches = append(o.Matches, d.Match(i))
	}
	if !d.Partition.IsNull() {
		o.Partition = d.Partition.String()
	}
	return o
}

// meta builds a metadata map from key, value pairs.
func meta(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// sessionIn is a routing context for a session with metadata md, created
// through the alias "support".
func sessionIn(md map[string]any) expr.Input {
	return expr.Input{
		Agent:       expr.Object{Key: "support", Name: "Customer Support"},
		Session:     expr.Object{Key: "s-1", Metadata: md},
		CurrentDate: "2026-06-02T10:35:00Z",
	}
}

// compileDoc parses and compiles the JSON document src.
func compileDoc(tb testing.TB, src string) *policy.Routed {
	tb.Helper()
	doc, err := policy.Parse([]byte(src))
	if err != nil {
		tb.Fatalf("Parse(%s): %v", src, err)
	}
	r, err := doc.Compile()
	if err != nil {
		tb.Fatalf("Compile(%s): %v", src, err)
	}
	return r
}

// checkErr fails unless err wraps want (or is nil when want is nil).
func checkErr(tb testing.TB, err, want error) {
	tb.Helper()
	switch {
	case want == nil && err != nil:
		tb.Fatalf("err = %v, want nil", err)
	case want != nil && !errors.Is(err, want):
		tb.Fatalf("err = %v, want one wrapping %v", err, want)
	}
}

// only returns an Available func that accepts exactly the agents named.
func only(agents ...string) func(string) bool {
	return func(a string) bool { return slices.Contains(agents, a) }
}

// except returns an Available func that rejects the agents named.
func except(agents ...string) func(string) bool {
	return func(a string) bool { return !slices.Contains(agents, a) }
}

func TestRouted_Choose_Contract(t *testing.T) {
	r := compileDoc(t, contractPolicy)
	tests := []struct {
		name    string
		in      expr.Input
		want    outcome
		wantErr error
	}{
		{
			name: "AcmeTenant",
			in:   sessionIn(meta("tenant", "acme", "user_id", "u-5")),
			want: outcome{AgentKey: "support-acme", Rule: 0, Matches: []policy.MatchResult{mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
		{
			name: "OtherTenantToV1",
			in:   sessionIn(meta("tenant", "globex", "user_id", "u-1")),
			want: outcome{AgentKey: "support-v1", Rule: 1, Matches: []policy.MatchResult{mF, mT},
				Target: policy.TargetWeighted, Partition: "'u-1'", Option: 0, Via: policy.ViaRule},
		},
		{
			// Frozen: u-5 and u-10 go to support-v2 under 90/10 in every version.
			name: "OtherTenantToV2",
			in:   sessionIn(meta("tenant", "globex", "user_id", "u-5")),
			want: outcome{AgentKey: "support-v2", Rule: 1, Matches: []policy.MatchResult{mF, mT},
				Target: policy.TargetWeighted, Partition: "'u-5'", Option: 1, Via: policy.ViaRule},
		},
		{
			name: "U10ToV2",
			in:   sessionIn(meta("user_id", "u-10")),
			want: outcome{AgentKey: "support-v2", Rule: 1, Matches: []policy.MatchResult{mF, mT},
				Target: policy.TargetWeighted, Partition: "'u-10'", Option: 1, Via: policy.ViaRule},
		},
		{
			// A missing tenant is null; null == 'acme' is false, so rule 0 falls through.
			name: "MissingTenant",
			in:   sessionIn(meta("user_id", "u-1")),
			want: outcome{AgentKey: "support-v1", Rule: 1, Matches: []policy.MatchResult{mF, mT},
				Target: policy.TargetWeighted, Partition: "'u-1'", Option: 0, Via: policy.ViaRule},
		},
		{
			name: "NilMetadata",
			in:   sessionIn(nil),
			want: outcome{AgentKey: "support-v1", Rule: 1, Matches: []policy.MatchResult{mF, mT},
				Target: policy.TargetWeighted, Partition: "''", Option: 0, Via: policy.ViaRule},
		},
		{
			name: "TenantOfWrongKind",
			in:   sessionIn(meta("tenant", 1.0, "user_id", 42.0)),
			want: outcome{AgentKey: "support-v1", Rule: 1, Matches: []policy.MatchResult{mF, mT},
				Target: policy.TargetWeighted, Partition: "42", Option: 0, Via: policy.ViaRule},
		},
		{
			name: "AcmeEvenWhenV1Down",
			in:   sessionIn(meta("tenant", "acme")),
			want: outcome{AgentKey: "support-acme", Rule: 0, Matches: []policy.MatchResult{mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &policy.Request{Input: tt.in}
			d, err := r.Choose(context.Background(), req)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, explain(d)); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("Agents", func(t *testing.T) {
		want := []string{"support-acme", "support-v1", "support-v2"}
		if diff := cmp.Diff(want, r.Agents()); diff != "" {
			t.Errorf("Agents() (-want +got):\n%s", diff)
		}
	})
}

func TestRouted_Choose(t *testing.T) {
	const (
		nonBoolean = `{"type":"routed","rules":[` +
			`{"match":"get('$.session.metadata.n')","targets":{"type":"single","agent_key":"a"}},` +
			`{"targets":{"type":"single","agent_key":"b"}}]}`
		noCatchAll = `{"type":"routed","rules":[` +
			`{"match":"get('$.session.metadata.tenant') == 'acme'","targets":{"type":"single","agent_key":"a"}},` +
			`{"match":"get('$.session.metadata.tenant') == 'globex'","targets":{"type":"single","agent_key":"b"}},` +
			`{"match":"get('$.session.metadata.tier', 'free') != 'free'","targets":{"type":"single","agent_key":"c"}}]}`
		nullPartition = `{"type":"routed","rules":[` +
			`{"match":"get('$.session.metadata.tenant') == 'acme'","targets":{"type":"single","agent_key":"a"}},` +
			`{"targets":{"type":"weighted","partition_by":"get('$.session.metadata.user_id')",` +
			`"options":[{"agent_key":"v1","weight":90},{"agent_key":"v2","weight":10}]}}]}`
		byRegion = `{"type":"routed","rules":[` +
			`{"match":"get('$.agent.metadata.region') == 'eu'","targets":{"type":"single","agent_key":"support-eu"}},` +
			`{"match":"get('$.agent.key') == 'support-us'","targets":{"type":"single","agent_key":"support-us"}},` +
			`{"targets":{"type":"single","agent_key":"support-global"}}]}`
		byDate = `{"type":"routed","rules":[` +
			`{"match":"get('$.currentDate') >= '2026-07-01T00:00:00Z'","targets":{"type":"single","agent_key":"summer"}},` +
			`{"match":"get('$.currentDate') < '2026-01-01'","targets":{"type":"single","agent_key":"last-year"}},` +
			`{"targets":{"type":"single","agent_key":"spring"}}]}`
	)
	alias := func(key string, md map[string]any) expr.Input {
		return expr.Input{Agent: expr.Object{Key: key, Metadata: md}, Session: expr.Object{Key: "s"}}
	}
	at := func(date string) expr.Input { return expr.Input{CurrentDate: date} }
	tests := []struct {
		name    string
		doc     string
		in      expr.Input
		want    outcome
		wantErr error
	}{
		{
			name: "NotBoolean/Number", doc: nonBoolean, in: sessionIn(meta("n", 1.0)),
			want: outcome{AgentKey: "b", Rule: 1, Matches: []policy.MatchResult{mNB, mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
		{
			name: "NotBoolean/String", doc: nonBoolean, in: sessionIn(meta("n", "true")),
			want: outcome{AgentKey: "b", Rule: 1, Matches: []policy.MatchResult{mNB, mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
		{
			name: "NotBoolean/Null", doc: nonBoolean, in: sessionIn(nil),
			want: outcome{AgentKey: "b", Rule: 1, Matches: []policy.MatchResult{mNB, mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
		{
			name: "NotBoolean/False", doc: nonBoolean, in: sessionIn(meta("n", false)),
			want: outcome{AgentKey: "b", Rule: 1, Matches: []policy.MatchResult{mF, mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
		{
			name: "NotBoolean/True", doc: nonBoolean, in: sessionIn(meta("n", true)),
			want: outcome{AgentKey: "a", Rule: 0, Matches: []policy.MatchResult{mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
		{
			name: "ErrNoMatch", doc: noCatchAll, in: sessionIn(meta("tenant", "initech")),
			want:    outcome{Rule: -1, Matches: []policy.MatchResult{mF, mF, mF}, Option: -1},
			wantErr: policy.ErrNoMatch,
		},
		{
			name: "ErrNoMatch/Empty", doc: noCatchAll, in: expr.Input{},
			want:    outcome{Rule: -1, Matches: []policy.MatchResult{mF, mF, mF}, Option: -1},
			wantErr: policy.ErrNoMatch,
		},
		{
			name: "NoCatchAll/ThirdMatches", doc: noCatchAll, in: sessionIn(meta("tenant", "initech", "tier", "gold")),
			want: outcome{AgentKey: "c", Rule: 2, Matches: []policy.MatchResult{mF, mF, mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
		{
			name: "ErrNullPartition", doc: nullPartition, in: sessionIn(meta("tenant", "globex")),
			want: outcome{Rule: 1, Matches: []policy.MatchResult{mF, mT},
				Target: policy.TargetWeighted, Option: -1},
			wantErr: policy.ErrNullPartition,
		},
		{
			name: "ErrNullPartition/JSONNull", doc: nullPartition, in: sessionIn(meta("user_id", nil)),
			want: outcome{Rule: 1, Matches: []policy.MatchResult{mF, mT},
				Target: policy.TargetWeighted, Option: -1},
			wantErr: policy.ErrNullPartition,
		},
		{
			name: "NullPartitionNotReached", doc: nullPartition, in: sessionIn(meta("tenant", "acme")),
			want: outcome{AgentKey: "a", Rule: 0, Matches: []policy.MatchResult{mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
		{
			name: "AliasMetadata/EU", doc: byRegion, in: alias("support-x", meta("region", "eu")),
			want: outcome{AgentKey: "support-eu", Rule: 0, Matches: []policy.MatchResult{mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
		{
			name: "AliasKey", doc: byRegion, in: alias("support-us", meta("region", "us")),
			want: outcome{AgentKey: "support-us", Rule: 1, Matches: []policy.MatchResult{mF, mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
		{
			// Session metadata is not the alias's: region on the session does not count.
			name: "SessionMetadataIsNotAlias", doc: byRegion,
			in: expr.Input{Agent: expr.Object{Key: "support"}, Session: expr.Object{Metadata: meta("region", "eu")}},
			want: outcome{AgentKey: "support-global", Rule: 2, Matches: []policy.MatchResult{mF, mF, mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
		{
			name: "CurrentDate/After", doc: byDate, in: at("2026-07-01T00:00:00Z"),
			want: outcome{AgentKey: "summer", Rule: 0, Matches: []policy.MatchResult{mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
		{
			name: "CurrentDate/Before", doc: byDate, in: at("2025-12-31T23:59:59Z"),
			want: outcome{AgentKey: "last-year", Rule: 1, Matches: []policy.MatchResult{mF, mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
		{
			name: "CurrentDate/Between", doc: byDate, in: at("2026-06-30T23:59:59Z"),
			want: outcome{AgentKey: "spring", Rule: 2, Matches: []policy.MatchResult{mF, mF, mT},
				Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := compileDoc(t, tt.doc)
			d, err := r.Choose(context.Background(), &policy.Request{Input: tt.in})
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, explain(d)); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
			if d.Rules != len(tt.want.Matches) {
				t.Errorf("Rules = %d, want %d", d.Rules, len(tt.want.Matches))
			}
		})
	}

	t.Run("ErrNullPartition/MessageNamesExpression", func(t *testing.T) {
		r := compileDoc(t, nullPartition)
		_, err := r.Choose(context.Background(), &policy.Request{Input: sessionIn(nil)})
		for _, sub := range []string{"get('$.session.metadata.user_id')", "rules[1]", "null"} {
			if err == nil || !strings.Contains(err.Error(), sub) {
				t.Errorf("error %v does not contain %q", err, sub)
			}
		}
	})
	t.Run("ErrNoMatch/Message", func(t *testing.T) {
		r := compileDoc(t, noCatchAll)
		_, err := r.Choose(context.Background(), &policy.Request{})
		if err == nil || !strings.Contains(err.Error(), "3 rules") {
			t.Errorf("error %v does not say how many rules were tried", err)
		}
	})
	t.Run("ErrUnavailable/Wrapped", func(t *testing.T) {
		r := compileDoc(t, nullPartition)
		req := &policy.Request{Input: sessionIn(meta("tenant", "acme")), Available: except("a")}
		d, err := r.Choose(context.Background(), req)
		checkErr(t, err, policy.ErrUnavailable)
		want := outcome{Rule: 0, Matches: []policy.MatchResult{mT}, Target: policy.TargetSingle, Option: -1, Skipped: 1}
		if diff := cmp.Diff(want, explain(d)); diff != "" {
			t.Errorf("decision (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(err.Error(), "rules[0]: ") {
			t.Errorf("error %q does not name the rule", err)
		}
	})
}

// TestRouted_Choose_ContractExpressions evaluates the contract's example
// match expressions (vectara-api.md §2.3.4) as rules of a routed policy.
func TestRouted_Choose_ContractExpressions(t *testing.T) {
	const (
		tenant     = "get('$.session.metadata.tenant') == 'us'"
		tenantTier = "(get('$.session.metadata.tenant') == 'us') and (get('$.session.metadata.tier') == 'gold')"
		region     = "(get('$.session.metadata.region') == 'us-west') or (get('$.session.metadata.region') == 'us-east')"
		paid       = "get('$.session.metadata.tier', 'free') != 'free'"
	)
	tests := []struct {
		name  string
		match string
		in    map[string]any
		want  bool // whether the rule matches
	}{
		{"Tenant/Match", tenant, meta("tenant", "us"), true},
		{"Tenant/Other", tenant, meta("tenant", "eu"), false},
		{"Tenant/Missing", tenant, nil, false},
		{"Tenant/Case", tenant, meta("tenant", "US"), false},
		{"TenantTier/Both", tenantTier, meta("tenant", "us", "tier", "gold"), true},
		{"TenantTier/WrongTier", tenantTier, meta("tenant", "us", "tier", "silver"), false},
		{"TenantTier/MissingTier", tenantTier, meta("tenant", "us"), false},
		{"TenantTier/WrongTenant", tenantTier, meta("tenant", "eu", "tier", "gold"), false},
		{"Region/West", region, meta("region", "us-west"), true},
		{"Region/East", region, meta("region", "us-east"), true},
		{"Region/Central", region, meta("region", "us-central"), false},
		{"Region/Missing", region, nil, false},
		{"Paid/Gold", paid, meta("tier", "gold"), true},
		{"Paid/Free", paid, meta("tier", "free"), false},
		{"Paid/MissingIsFree", paid, nil, false},
		{"Paid/NullIsFree", paid, meta("tier", nil), false},
		{"Paid/Number", paid, meta("tier", 1.0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := compileDoc(t, `{"type":"routed","rules":[{"match":`+jsonString(tt.match)+
				`,"targets":{"type":"single","agent_key":"yes"}},{"targets":{"type":"single","agent_key":"no"}}]}`)
			d, err := r.Choose(context.Background(), &policy.Request{Input: sessionIn(tt.in)})
			if err != nil {
				t.Fatal(err)
			}
			want := outcome{AgentKey: "no", Rule: 1, Matches: []policy.MatchResult{mF, mT}, Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule}
			if tt.want {
				want = outcome{AgentKey: "yes", Rule: 0, Matches: []policy.MatchResult{mT}, Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule}
			}
			if diff := cmp.Diff(want, explain(d)); diff != "" {
				t.Errorf("%s on %v (-want +got):\n%s", tt.match, tt.in, diff)
			}
		})
	}
}

// jsonString quotes s as a JSON string (the expressions used here need no
// escapes beyond quotes and backslashes).
func jsonString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func TestCompile_Errors(t *testing.T) {
	valid := func() *policy.Document {
		return &policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
			{Match: "get('$.session.metadata.tenant') == 'acme'", Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "a"}},
			{Targets: policy.Targets{Type: policy.TargetWeighted, PartitionBy: "get('$.session.key')",
				Options: []policy.Option{{AgentKey: "a", Weight: 1}, {AgentKey: "b", Weight: 1}}}},
		}}
	}
	with := func(f func(d *policy.Document)) *policy.Document {
		d := valid()
		f(d)
		return d
	}
	goodSticky := &policy.Stickiness{Key: "get('$.session.metadata.user_id')", TTLMinutes: 60}
	tests := []struct {
		name string
		doc  *policy.Document
		st   *policy.Stickiness
		// want maps each path policy.Compile reports to a substring of its
		// message. Document.Compile reports the "policy." paths without the
		// prefix.
		want map[string]string
	}{
		{
			name: "MatchSyntax",
			doc: with(func(d *policy.Document) {
				d.Rules = []policy.Rule{d.Rules[0], {Match: "get('$.session.metadata.tier') = 'gold'", Targets: d.Rules[0].Targets}, d.Rules[1]}
			}),
			want: map[string]string{"policy.rules[1].match": "syntax error at position"},
		},
		{
			name: "MatchUnknownRoot",
			doc:  with(func(d *policy.Document) { d.Rules[0].Match = "get('$.tenant') == 'acme'" }),
			want: map[string]string{"policy.rules[0].match": "position"},
		},
		{
			name: "MatchAndPartitionBoth",
			doc: with(func(d *policy.Document) {
				d.Rules[0].Match = "(1"
				d.Rules[1].Targets.PartitionBy = "get('$.session.key'"
			}),
			want: map[string]string{"policy.rules[0].match": "position", "policy.rules[1].targets.partition_by": "position"},
		},
		{
			name: "PartitionSyntax",
			doc: &policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{{Targets: policy.Targets{
				Type: policy.TargetWeighted, PartitionBy: "get('$.session.metadata.user_id', ", Options: []policy.Option{{AgentKey: "a", Weight: 1}}}}}},
			want: map[string]string{"policy.rules[0].targets.partition_by": "position"},
		},
		{
			name: "StickyKeySyntax",
			doc:  valid(),
			st:   &policy.Stickiness{Key: "get('$.session.metadata.user_id'", TTLMinutes: 5},
			want: map[string]string{"stickiness.key": "position"},
		},
		{
			name: "StickyInvalid",
			doc:  valid(),
			st:   &policy.Stickiness{Key: " ", TTLMinutes: -1},
			want: map[string]string{"stickiness.key": "blank", "stickiness.ttl_minutes": "at least 0"},
		},
		{
			name: "ValidateUnreachable",
			doc: with(func(d *policy.Document) {
				d.Rules = append(d.Rules, policy.Rule{Match: "true", Targets: d.Rules[0].Targets})
			}),
			want: map[string]string{"policy.rules[2]": "unreachable"},
		},
		{
			name: "ValidateBadWeightAndType",
			doc: with(func(d *policy.Document) {
				d.Type = "static"
				d.Rules[1].Targets.Options[0].Weight = -1
			}),
			want: map[string]string{"policy.type": "unknown policy type", "policy.rules[1].targets.options[0].weight": "at least 0"},
		},
		{
			// Validation problems are reported, not compiled: no syntax error for rules[0].match.
			name: "ValidateBeforeCompile",
			doc: with(func(d *policy.Document) {
				d.Rules[0].Match = "(("
				d.Rules[1].Targets.Options = nil
			}),
			want: map[string]string{"policy.rules[1].targets.options": "is required"},
		},
		{
			name: "InvalidDocumentValidSticky",
			doc:  with(func(d *policy.Document) { d.Rules = nil }),
			st:   goodSticky,
			want: map[string]string{"policy.rules": "at least one rule"},
		},
		{
			name: "BadMatchValidSticky",
			doc:  with(func(d *policy.Document) { d.Rules[0].Match = "'" }),
			st:   goodSticky,
			want: map[string]string{"policy.rules[0].match": "position"},
		},
		{
			name: "BothInvalid",
			doc:  with(func(d *policy.Document) { d.Rules[0].Match = "1 +" }),
			st:   &policy.Stickiness{Key: "+"},
			want: map[string]string{"policy.rules[0].match": "position", "stickiness.key": "position"},
		},
		{
			name: "NilDocument",
			doc:  nil,
			st:   goodSticky,
			want: map[string]string{"policy": "is required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.Compile(tt.doc, tt.st)
			if p != nil {
				t.Errorf("Compile returned a policy %T with error %v", p, err)
			}
			checkFieldErrors(t, err, tt.want)

			// Document.Compile reports the same problems of the document
			// with paths relative to it.
			docWant := map[string]string{}
			for path, msg := range tt.want {
				if path == "policy" {
					docWant[""] = msg
				} else if rest, ok := strings.CutPrefix(path, "policy."); ok {
					docWant[rest] = msg
				}
			}
			if len(docWant) > 0 {
				r, err := tt.doc.Compile()
				if r != nil {
					t.Errorf("Document.Compile returned a policy with error %v", err)
				}
				checkFieldErrors(t, err, docWant)
			} else if _, err := tt.doc.Compile(); err != nil {
				t.Errorf("Document.Compile: %v, want nil", err)
			}
		})
	}

	t.Run("Stickiness.Compile", func(t *testing.T) {
		st := &policy.Stickiness{Key: "get('$.session.key') +"}
		_, err := st.Compile(compileDoc(t, contractPolicy))
		checkFieldErrors(t, err, map[string]string{"key": "position"})
	})
	t.Run("MessageNamesPosition", func(t *testing.T) {
		doc := valid()
		doc.Rules[0].Match = "get('$.session.key') == = 'x'"
		_, err := doc.Compile()
		if err == nil || !strings.Contains(err.Error(), "rules[0].match: syntax error at position 25") {
			t.Errorf("err = %v, want rules[0].match: syntax error at position 25", err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		p, err := policy.Compile(valid(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.(*policy.Routed); !ok {
			t.Errorf("Compile without stickiness = %T, want *policy.Routed", p)
		}
		p, err = policy.Compile(valid(), goodSticky)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := p.(*policy.Sticky)
		if !ok {
			t.Fatalf("Compile with stickiness = %T, want *policy.Sticky", p)
		}
		if s.TTL() != time.Hour {
			t.Errorf("TTL() = %v, want 1h", s.TTL())
		}
		if _, ok := s.Policy().(*policy.Routed); !ok {
			t.Errorf("Policy() = %T, want *policy.Routed", s.Policy())
		}
		if diff := cmp.Diff([]string{"a", "b"}, s.Agents()); diff != "" {
			t.Errorf("Agents() (-want +got):\n%s", diff)
		}
	})
}

// checkFieldErrors checks that err has a FieldErrors method reporting
// exactly the paths of want, each message containing want's value.
func checkFieldErrors(tb testing.TB, err error, want map[string]string) {
	tb.Helper()
	var fe interface{ FieldErrors() map[string]string }
	if !errors.As(err, &fe) {
		tb.Fatalf("err = %v (%T), want field errors %v", err, err, want)
	}
	got := fe.FieldErrors()
	var gotPaths, wantPaths []string
	for p := range got {
		gotPaths = append(gotPaths, p)
	}
	for p := range want {
		wantPaths = append(wantPaths, p)
	}
	slices.Sort(gotPaths)
	slices.Sort(wantPaths)
	if diff := cmp.Diff(wantPaths, gotPaths); diff != "" {
		tb.Fatalf("paths (-want +got):\n%s\nerror: %v", diff, err)
	}
	for p, sub := range want {
		if !strings.Contains(got[p], sub) {
			tb.Errorf("%s: %q does not contain %q", p, got[p], sub)
		}
	}
}

func TestSingle_Choose(t *testing.T) {
	s := &policy.Single{AgentKey: "a"}
	tests := []struct {
		name      string
		available func(string) bool
		want      outcome
		wantErr   error
	}{
		{"OK", nil, outcome{AgentKey: "a", Rule: -1, Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule}, nil},
		{"OKAvailable", only("a"), outcome{AgentKey: "a", Rule: -1, Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule}, nil},
		{"ErrUnavailable", except("a"), outcome{Rule: -1, Target: policy.TargetSingle, Option: -1, Skipped: 1}, policy.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := s.Choose(context.Background(), &policy.Request{Available: tt.available})
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, explain(d)); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff([]string{"a"}, s.Agents()); diff != "" {
		t.Errorf("Agents() (-want +got):\n%s", diff)
	}
}

func TestFallback_Choose(t *testing.T) {
	f, err := policy.NewFallback([]string{"primary", "secondary", "tertiary"})
	if err != nil {
		t.Fatal(err)
	}
	ok := func(agent string, option, skipped int, via string) outcome {
		return outcome{AgentKey: agent, Rule: -1, Target: policy.TargetFallback, Option: option, Skipped: skipped, Via: via}
	}
	tests := []struct {
		name      string
		available func(string) bool
		want      outcome
		wantErr   error
	}{
		{"AllAvailable", nil, ok("primary", 0, 0, policy.ViaRule), nil},
		{"PrimaryOnly", only("primary"), ok("primary", 0, 0, policy.ViaRule), nil},
		{"PrimaryDown", except("primary"), ok("secondary", 1, 1, policy.ViaFallback), nil},
		{"TwoDown", only("tertiary"), ok("tertiary", 2, 2, policy.ViaFallback), nil},
		{"SecondaryDown", except("secondary"), ok("primary", 0, 0, policy.ViaRule), nil},
		{"ErrUnavailable", only(), outcome{Rule: -1, Target: policy.TargetFallback, Option: -1, Skipped: 3}, policy.ErrUnavailable},
		{"ErrUnavailable/UnknownAgentsUp", only("other"), outcome{Rule: -1, Target: policy.TargetFallback, Option: -1, Skipped: 3}, policy.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := f.Choose(context.Background(), &policy.Request{Available: tt.available})
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, explain(d)); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("InRouted", func(t *testing.T) {
		r := compileDoc(t, `{"type":"routed","rules":[`+
			`{"match":"get('$.session.metadata.tier') == 'gold'","targets":{"type":"fallback","agent_keys":["gold-1","gold-2"]}},`+
			`{"targets":{"type":"fallback","agent_keys":["std-1","std-2"]}}]}`)
		req := &policy.Request{Input: sessionIn(meta("tier", "gold")), Available: except("gold-1")}
		d, err := r.Choose(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		want := outcome{AgentKey: "gold-2", Rule: 0, Matches: []policy.MatchResult{mT}, Target: policy.TargetFallback, Option: 1, Skipped: 1, Via: policy.ViaFallback}
		if diff := cmp.Diff(want, explain(d)); diff != "" {
			t.Errorf("decision (-want +got):\n%s", diff)
		}
		// The rule's fallback is exhausted: no silent move to another rule's agents.
		req.Available = only("std-1", "std-2")
		d, err = r.Choose(context.Background(), req)
		checkErr(t, err, policy.ErrUnavailable)
		if d.AgentKey != "" {
			t.Errorf("AgentKey = %q with error %v", d.AgentKey, err)
		}
	})

	t.Run("Agents", func(t *testing.T) {
		got := f.Agents()
		got[0] = "changed"
		if diff := cmp.Diff([]string{"primary", "secondary", "tertiary"}, f.Agents()); diff != "" {
			t.Errorf("Agents() (-want +got):\n%s", diff)
		}
	})
}

func TestNewFallback(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want bool // whether NewFallback succeeds
	}{
		{"OK", []string{"a", "b"}, true},
		{"One", []string{"a"}, true},
		{"Empty", nil, false},
		{"Duplicate", []string{"a", "b", "a"}, false},
		{"InvalidKey", []string{"a", "b c"}, false},
		{"EmptyKey", []string{""}, false},
		{"TooMany", func() []string {
			var s []string
			for i := 0; i <= policy.MaxOptions; i++ {
				s = append(s, fmt.Sprintf("a%d", i))
			}
			return s
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := policy.NewFallback(tt.in)
			if got := err == nil; got != tt.want {
				t.Fatalf("NewFallback(%q) error = %v, want success %v", tt.in, err, tt.want)
			}
			if err == nil {
				// The fallback keeps its own copy of the list.
				tt.in[0] = "changed"
				if f.Agents()[0] == "changed" {
					t.Errorf("NewFallback kept the caller's slice")
				}
			}
		})
	}
}

func TestNewRouted(t *testing.T) {
	a := &policy.Single{AgentKey: "a"}
	m := expr.MustCompile("true")
	tests := []struct {
		name string
		in   []policy.Case
		want bool
	}{
		{"OK", []policy.Case{{Match: m, Target: a}, {Target: a}}, true},
		{"NoCatchAll", []policy.Case{{Match: m, Target: a}}, true},
		{"Empty", nil, false},
		{"NoTarget", []policy.Case{{Match: m}}, false},
		{"Unreachable", []policy.Case{{Target: a}, {Match: m, Target: a}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := policy.NewRouted(tt.in)
			if got := err == nil; got != tt.want {
				t.Errorf("NewRouted error = %v, want success %v", err, tt.want)
			}
		})
	}
}

// stickyPolicy compiles a sticky policy over a fallback target
// (primary, secondary), keyed by the session's user_id, pins living 60 minutes.
func stickyPolicy(tb testing.TB) *policy.Sticky {
	tb.Helper()
	doc, err := policy.Parse([]byte(`{"type":"routed","rules":[{"targets":{"type":"fallback","agent_keys":["primary","secondary"]}}]}`))
	if err != nil {
		tb.Fatal(err)
	}
	p, err := policy.Compile(doc, &policy.Stickiness{Key: "get('$.session.metadata.user_id')", TTLMinutes: 60})
	if err != nil {
		tb.Fatal(err)
	}
	return p.(*policy.Sticky)
}

func TestSticky_Choose(t *testing.T) {
	s := stickyPolicy(t)
	now := time.Date(2026, 6, 2, 10, 35, 0, 0, time.UTC)
	pin := func(agent string, expires time.Time) *policy.Pin {
		return &policy.Pin{AgentKey: agent, ExpiresAt: expires}
	}
	fresh := now.Add(time.Minute)
	byRule := func(agent string, option, skipped int, via string, ignored string, due bool) outcome {
		return outcome{AgentKey: agent, Rule: 0, Matches: []policy.MatchResult{mT}, Target: policy.TargetFallback,
			Option: option, Skipped: skipped, Via: via, PinIgnored: ignored, PinDue: due}
	}
	byPin := func(agent string) outcome {
		return outcome{AgentKey: agent, Rule: -1, Option: -1, Via: policy.ViaPin}
	}
	tests := []struct {
		name      string
		key       string
		pin       *policy.Pin
		available func(string) bool
		want      outcome
		wantErr   error
	}{
		{name: "FreshPin", key: "u-1", pin: pin("secondary", fresh), want: byPin("secondary")},
		{name: "FreshPinAvailable", key: "u-1", pin: pin("secondary", fresh), available: only("secondary"), want: byPin("secondary")},
		{name: "PinForever", key: "u-1", pin: pin("secondary", time.Time{}), want: byPin("secondary")},
		{name: "PinExpiresNow", key: "u-1", pin: pin("secondary", now), want: byRule("primary", 0, 0, policy.ViaRule, "expired", true)},
		{name: "PinExpired", key: "u-1", pin: pin("secondary", now.Add(-time.Second)), want: byRule("primary", 0, 0, policy.ViaRule, "expired", true)},
		{name: "PinNotATarget", key: "u-1", pin: pin("retired", fresh), want: byRule("primary", 0, 0, policy.ViaRule, "not a target", true)},
		{name: "PinEmptyAgent", key: "u-1", pin: pin("", fresh), want: byRule("primary", 0, 0, policy.ViaRule, "not a target", true)},
		{name: "PinUnavailable", key: "u-1", pin: pin("secondary", fresh), available: except("secondary"),
			want: byRule("primary", 0, 0, policy.ViaRule, "unavailable", true)},
		{name: "PinUnavailableFallback", key: "u-1", pin: pin("primary", fresh), available: except("primary"),
			want: byRule("secondary", 1, 1, policy.ViaFallback, "unavailable", true)},
		{name: "NoPin", key: "u-1", want: byRule("primary", 0, 0, policy.ViaRule, "", true)},
		{name: "NoStickyKey", key: "", want: byRule("primary", 0, 0, policy.ViaRule, "", false)},
		{name: "NoStickyKeyWithPin", key: "", pin: pin("secondary", fresh), want: byRule("primary", 0, 0, policy.ViaRule, "", false)},
		{name: "ErrUnavailable", key: "u-1", available: only(),
			want:    outcome{Rule: 0, Matches: []policy.MatchResult{mT}, Target: policy.TargetFallback, Option: -1, Skipped: 2, PinDue: false},
			wantErr: policy.ErrUnavailable},
		{name: "ErrUnavailableWithPin", key: "u-1", pin: pin("primary", fresh), available: only(),
			want:    outcome{Rule: 0, Matches: []policy.MatchResult{mT}, Target: policy.TargetFallback, Option: -1, Skipped: 2, PinIgnored: "unavailable"},
			wantErr: policy.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &policy.Request{Input: sessionIn(meta("user_id", "u-1")), StickyKey: tt.key, Pin: tt.pin, Available: tt.available, Now: now}
			d, err := s.Choose(context.Background(), req)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, explain(d)); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSticky_Choose_HostTarget checks that pins to agents a host's own
// target picked are honoured: the policy cannot list those agents, so it
// must not call them "not a target".
func TestSticky_Choose_HostTarget(t *testing.T) {
	host := policy.Func(func(_ context.Context, req *policy.Request) (policy.Decision, error) {
		return policy.Decision{AgentKey: "host-" + req.Input.Session.Key, Rule: -1, Option: -1, Via: policy.ViaCustom}, nil
	})
	r, err := policy.NewRouted([]policy.Case{
		{Match: expr.MustCompile("get('$.session.metadata.vip') == true"), Target: host},
		{Target: &policy.Single{AgentKey: "std"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		policy policy.Policy
		pin    string
		want   outcome
	}{
		{"RoutedWithHostTarget", r, "host-s-9", outcome{AgentKey: "host-s-9", Rule: -1, Option: -1, Via: policy.ViaPin}},
		{"HostAlone", host, "host-s-9", outcome{AgentKey: "host-s-9", Rule: -1, Option: -1, Via: policy.ViaPin}},
		{"NestedRouted", mustRouted(t, policy.Case{Target: r}), "host-s-9", outcome{AgentKey: "host-s-9", Rule: -1, Option: -1, Via: policy.ViaPin}},
		{"BuiltInOnly", mustRouted(t, policy.Case{Target: &policy.Single{AgentKey: "std"}}), "host-s-9",
			outcome{AgentKey: "std", Rule: 0, Matches: []policy.MatchResult{mT}, Target: policy.TargetSingle, Option: -1,
				Via: policy.ViaRule, PinIgnored: "not a target", PinDue: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := policy.NewSticky(expr.MustCompile("get('$.session.key')"), time.Hour, tt.policy)
			req := &policy.Request{Input: expr.Input{Session: expr.Object{Key: "s-1"}}, StickyKey: "s-1",
				Pin: &policy.Pin{AgentKey: tt.pin, ExpiresAt: now.Add(time.Minute)}, Now: now}
			d, err := s.Choose(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, explain(d)); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

func mustRouted(tb testing.TB, cases ...policy.Case) *policy.Routed {
	tb.Helper()
	r, err := policy.NewRouted(cases)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func TestSticky_NewPin(t *testing.T) {
	now := time.Date(2026, 6, 2, 10, 35, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   time.Duration // TTL
		want policy.Pin
	}{
		{"Hour", time.Hour, policy.Pin{AgentKey: "a", ExpiresAt: now.Add(time.Hour)}},
		{"TenYears", policy.MaxTTLMinutes * time.Minute, policy.Pin{AgentKey: "a", ExpiresAt: now.Add(policy.MaxTTLMinutes * time.Minute)}},
		{"Forever", 0, policy.Pin{AgentKey: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := policy.NewSticky(expr.MustCompile("get('$.session.key')"), tt.in, &policy.Single{AgentKey: "a"})
			d, err := s.Choose(context.Background(), &policy.Request{StickyKey: "k", Now: now})
			if err != nil || !d.PinDue {
				t.Fatalf("Choose = %+v, %v; want a decision due to be pinned", d, err)
			}
			got := s.NewPin(d, now)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewPin (-want +got):\n%s", diff)
			}
			if !got.Fresh(now) || !got.Fresh(now.Add(tt.in-1)) {
				t.Errorf("a new pin is not fresh before its TTL")
			}
			if tt.in > 0 && got.Fresh(now.Add(tt.in)) {
				t.Errorf("pin is still fresh after its TTL")
			}
		})
	}
	t.Run("FromStickiness", func(t *testing.T) {
		s, err := (&policy.Stickiness{Key: "get('$.session.key')", TTLMinutes: 90}).Compile(&policy.Single{AgentKey: "a"})
		if err != nil {
			t.Fatal(err)
		}
		want := policy.Pin{AgentKey: "b", ExpiresAt: now.Add(90 * time.Minute)}
		if diff := cmp.Diff(want, s.NewPin(policy.Decision{AgentKey: "b"}, now)); diff != "" {
			t.Errorf("NewPin (-want +got):\n%s", diff)
		}
	})
}

func TestSticky_Key(t *testing.T) {
	s := policy.NewSticky(expr.MustCompile("get('$.session.metadata.k')"), time.Hour, &policy.Single{AgentKey: "a"})
	long := strings.Repeat("x", policy.MaxStickyKeyLen+1)
	sum := sha256.Sum256([]byte(long))
	type result struct {
		Key string
		OK  bool
	}
	tests := []struct {
		name string
		in   any
		want result
	}{
		{"String", "u-42", result{"u-42", true}},
		{"Missing", nil, result{"", false}},
		{"Empty", "", result{"", false}},
		{"Number", 42.0, result{"42", true}},
		{"NegativeFraction", -0.5, result{"-0.5", true}},
		{"Bool", true, result{"true", true}},
		{"Object", map[string]any{"b": 1.0, "a": "x"}, result{`{"a":"x","b":1}`, true}},
		{"MaxLen", strings.Repeat("y", policy.MaxStickyKeyLen), result{strings.Repeat("y", policy.MaxStickyKeyLen), true}},
		{"TooLong", long, result{"#" + hex.EncodeToString(sum[:]), true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := sessionIn(nil)
			if tt.in != nil {
				in.Session.Metadata = meta("k", tt.in)
			}
			key, ok := s.Key(&in)
			if diff := cmp.Diff(tt.want, result{key, ok}); diff != "" {
				t.Errorf("Key (-want +got):\n%s", diff)
			}
			if key2, _ := s.Key(&in); key2 != key {
				t.Errorf("Key is not deterministic: %q then %q", key, key2)
			}
			if len(key) > policy.MaxStickyKeyLen {
				t.Errorf("len(Key) = %d, more than MaxStickyKeyLen", len(key))
			}
		})
	}
	t.Run("LongKeysDiffer", func(t *testing.T) {
		in1, in2 := sessionIn(meta("k", long+"1")), sessionIn(meta("k", long+"2"))
		k1, _ := s.Key(&in1)
		k2, _ := s.Key(&in2)
		if k1 == k2 || len(k1) != 65 || !strings.HasPrefix(k1, "#") {
			t.Errorf("keys of distinct long values: %q, %q", k1, k2)
		}
	})
}

func TestFunc(t *testing.T) {
	errHost := errors.New("host says no")
	host := policy.Func(func(_ context.Context, req *policy.Request) (policy.Decision, error) {
		switch req.Input.Session.Metadata["mode"] {
		case "fail":
			return policy.Decision{Rule: -1, Option: -1, Target: "host"}, fmt.Errorf("custom: %w", errHost)
		case "unavailable":
			return policy.Decision{Rule: -1, Option: -1, Skipped: 4}, policy.ErrUnavailable
		}
		return policy.Decision{AgentKey: "host-agent", Rule: 7, Target: "host", Partition: expr.String("p-1"),
			Option: 3, Skipped: 2, Via: policy.ViaCustom}, nil
	})
	r := mustRouted(t,
		policy.Case{Match: expr.MustCompile("get('$.session.metadata.tier') == 'gold'"), Target: &policy.Single{AgentKey: "gold"}},
		policy.Case{Match: expr.MustCompile("get('$.session.metadata.mode', '') != ''"), Target: host},
		policy.Case{Target: &policy.Single{AgentKey: "std"}},
	)
	tests := []struct {
		name    string
		p       policy.Policy
		in      map[string]any
		want    outcome
		wantErr error
	}{
		{
			name: "Alone", p: host, in: meta("mode", "ok"),
			want: outcome{AgentKey: "host-agent", Rule: 7, Target: "host", Partition: "'p-1'", Option: 3, Skipped: 2, Via: policy.ViaCustom},
		},
		{
			name: "Alone/Error", p: host, in: meta("mode", "fail"),
			want: outcome{Rule: -1, Target: "host", Option: -1}, wantErr: errHost,
		},
		{
			name: "InRouted", p: r, in: meta("mode", "ok"),
			want: outcome{AgentKey: "host-agent", Rule: 1, Matches: []policy.MatchResult{mF, mT}, Target: "host",
				Partition: "'p-1'", Option: 3, Skipped: 2, Via: policy.ViaCustom},
		},
		{
			name: "InRouted/Error", p: r, in: meta("mode", "fail"),
			want:    outcome{Rule: 1, Matches: []policy.MatchResult{mF, mT}, Target: "host", Option: -1},
			wantErr: errHost,
		},
		{
			name: "InRouted/ErrUnavailable", p: r, in: meta("mode", "unavailable"),
			want:    outcome{Rule: 1, Matches: []policy.MatchResult{mF, mT}, Option: -1, Skipped: 4},
			wantErr: policy.ErrUnavailable,
		},
		{
			name: "InRouted/NotReached", p: r, in: meta("tier", "gold", "mode", "fail"),
			want: outcome{AgentKey: "gold", Rule: 0, Matches: []policy.MatchResult{mT}, Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
		{
			name: "InRouted/Skipped", p: r, in: nil,
			want: outcome{AgentKey: "std", Rule: 2, Matches: []policy.MatchResult{mF, mF, mT}, Target: policy.TargetSingle, Option: -1, Via: policy.ViaRule},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := tt.p.Choose(context.Background(), &policy.Request{Input: sessionIn(tt.in)})
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, explain(d)); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("Agents", func(t *testing.T) {
		if diff := cmp.Diff([]string{"gold", "std"}, r.Agents()); diff != "" {
			t.Errorf("Agents() (-want +got):\n%s", diff)
		}
	})
}

func TestDecision_String(t *testing.T) {
	r := compileDoc(t, contractPolicy)
	fb := compileDoc(t, `{"type":"routed","rules":[{"targets":{"type":"fallback","agent_keys":["a","b"]}}]}`)
	s := stickyPolicy(t)
	now := time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		p    policy.Policy
		in   policy.Request
		want []string // substrings
	}{
		{
			name: "Weighted", p: r, in: policy.Request{Input: sessionIn(meta("tenant", "x", "user_id", "u-5"))},
			want: []string{"agent support-v2", "via rule", "rules[0] false", "rules[1] matched", "weighted on 'u-5'", "chose option 1"},
		},
		{
			name: "Single", p: r, in: policy.Request{Input: sessionIn(meta("tenant", "acme"))},
			want: []string{"agent support-acme", "rules[0] matched"},
		},
		{
			name: "NullPartition", p: compileDoc(t, `{"type":"routed","rules":[{"match":"get('$.session.metadata.n')","targets":{"type":"single","agent_key":"a"}},{"targets":{"type":"weighted","partition_by":"get('$.session.metadata.u')","options":[{"agent_key":"a","weight":1}]}}]}`),
			in:   policy.Request{Input: sessionIn(meta("n", 1.0))},
			want: []string{"no agent", "rules[0] not a boolean", "rules[1] matched", "weighted on null"},
		},
		{
			name: "Fallback", p: fb, in: policy.Request{Available: except("a")},
			want: []string{"agent b via fallback", "fallback chose agent 1", "1 unavailable skipped"},
		},
		{
			name: "Pin", p: s, in: policy.Request{StickyKey: "k", Pin: &policy.Pin{AgentKey: "secondary"}, Now: now},
			want: []string{"agent secondary via pin"},
		},
		{
			name: "PinIgnored", p: s, in: policy.Request{StickyKey: "k", Pin: &policy.Pin{AgentKey: "gone"}, Now: now},
			want: []string{"agent primary via rule", "pin ignored (not a target)", "pin due"},
		},
		{
			name: "Custom", p: policy.Func(func(context.Context, *policy.Request) (policy.Decision, error) {
				return policy.Decision{AgentKey: "mine", Rule: -1, Option: -1}, nil
			}),
			want: []string{"agent mine via custom policy"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := tt.p.Choose(context.Background(), &tt.in)
			got := d.String()
			for _, sub := range tt.want {
				if !strings.Contains(got, sub) {
					t.Errorf("%q does not contain %q", got, sub)
				}
			}
		})
	}
}

func TestMatchResult_String(t *testing.T) {
	tests := []struct {
		in   policy.MatchResult
		want string
	}{
		{policy.NotTried, "not tried"},
		{policy.Matched, "matched"},
		{policy.NotMatched, "false"},
		{policy.NotBoolean, "not a boolean"},
		{9, "MatchResult(9)"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("MatchResult(%d).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
	var d policy.Decision
	if got := d.Match(0); got != policy.NotTried {
		t.Errorf("zero Decision Match(0) = %v", got)
	}
}

// TestRouted_Concurrent resolves with one compiled policy from 8 goroutines
// and checks every result against sequential resolution. Run it with -race.
func TestRouted_Concurrent(t *testing.T) {
	p, err := policy.Compile(mustParse(t, contractPolicy), &policy.Stickiness{Key: "get('$.session.metadata.user_id', '')", TTLMinutes: 10})
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, perGoroutine = 8, 1000
	now := time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)
	reqs := make([]policy.Request, 97)
	for i := range reqs {
		md := meta("user_id", fmt.Sprintf("user-%d", i))
		switch i % 5 {
		case 0:
			md["tenant"] = "acme"
		case 1:
			delete(md, "user_id")
		}
		reqs[i] = policy.Request{Input: sessionIn(md), Now: now, StickyKey: fmt.Sprint(i)}
		if i%7 == 0 {
			reqs[i].Pin = &policy.Pin{AgentKey: "support-v2", ExpiresAt: now.Add(time.Duration(i%3-1) * time.Minute)}
		}
		if i%11 == 0 {
			reqs[i].Available = except("support-v1")
		}
	}
	type result struct {
		D   outcome
		Err string
	}
	resolve := func(req *policy.Request) result {
		d, err := p.Choose(context.Background(), req)
		r := result{D: explain(d)}
		if err != nil {
			r.Err = err.Error()
		}
		return r
	}
	want := make([]result, len(reqs))
	for i := range reqs {
		want[i] = resolve(&reqs[i])
	}
	got := make([][]result, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[g] = make([]result, perGoroutine)
			for i := range perGoroutine {
				got[g][i] = resolve(&reqs[(i+g*13)%len(reqs)])
			}
		}()
	}
	wg.Wait()
	for g := range goroutines {
		for i := range perGoroutine {
			if diff := cmp.Diff(want[(i+g*13)%len(reqs)], got[g][i]); diff != "" {
				t.Fatalf("goroutine %d, resolution %d (-sequential +concurrent):\n%s", g, i, diff)
			}
		}
	}
}

func mustParse(tb testing.TB, src string) *policy.Document {
	tb.Helper()
	doc, err := policy.Parse([]byte(src))
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

// TestChoose_Allocs checks that the built-in policies allocate nothing when
// they decide.
func TestChoose_Allocs(t *testing.T) {
	ctx := context.Background()
	w3 := compileDoc(t, `{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"get('$.session.metadata.user_id')",`+
		`"options":[{"agent_key":"a","weight":50},{"agent_key":"b","weight":30},{"agent_key":"c","weight":20}]}}]}`)
	routed5 := compileDoc(t, `{"type":"routed","rules":[`+
		`{"match":"get('$.session.metadata.tenant') == 'acme'","targets":{"type":"single","agent_key":"acme"}},`+
		`{"match":"(get('$.session.metadata.tenant') == 'us') and (get('$.session.metadata.tier') == 'gold')","targets":{"type":"single","agent_key":"us-gold"}},`+
		`{"match":"(get('$.session.metadata.region') == 'us-west') or (get('$.session.metadata.region') == 'us-east')","targets":{"type":"fallback","agent_keys":["us-1","us-2"]}},`+
		`{"match":"get('$.session.metadata.tier', 'free') != 'free'","targets":{"type":"single","agent_key":"paid"}},`+
		`{"targets":{"type":"weighted","partition_by":"get('$.session.metadata.user_id', '')",`+
		`"options":[{"agent_key":"v1","weight":80},{"agent_key":"v2","weight":15},{"agent_key":"v3","weight":5}]}}]}`)
	weighted, err := policy.NewWeighted(expr.MustCompile("get('$.session.key')"),
		[]policy.Option{{AgentKey: "a", Weight: 1}, {AgentKey: "b", Weight: 2}, {AgentKey: "c", Weight: 3}})
	if err != nil {
		t.Fatal(err)
	}
	sticky := stickyPolicy(t)
	now := time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)
	in := sessionIn(meta("tenant", "globex", "tier", "free", "region", "eu", "user_id", "user-12345"))
	tests := []struct {
		name string
		p    policy.Policy
		req  policy.Request
		want string // the agent, to make sure the case decides
	}{
		{"Single", &policy.Single{AgentKey: "a"}, policy.Request{Input: in}, "a"},
		{"Weighted", weighted, policy.Request{Input: in}, ""},
		{"RoutedWeighted", w3, policy.Request{Input: in}, ""},
		{"Routed5", routed5, policy.Request{Input: in}, ""},
		{"Routed5/Fallback", routed5, policy.Request{Input: sessionIn(meta("region", "us-east")), Available: except("us-1")}, "us-2"},
		{"StickyFreshPin", sticky, policy.Request{Input: in, StickyKey: "user-12345",
			Pin: &policy.Pin{AgentKey: "secondary", ExpiresAt: now.Add(time.Hour)}, Now: now}, "secondary"},
		{"StickyNoPin", sticky, policy.Request{Input: in, StickyKey: "user-12345", Now: now}, "primary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := tt.p.Choose(ctx, &tt.req)
			if err != nil || d.AgentKey == "" || (tt.want != "" && d.AgentKey != tt.want) {
				t.Fatalf("Choose = %v, %v; want agent %q", d, err, tt.want)
			}
			if tt.name == "Routed5" && d.Rule != 4 {
				t.Fatalf("Routed5 decided by rule %d, want the catch-all", d.Rule)
			}
			allocs := testing.AllocsPerRun(200, func() {
				if _, err := tt.p.Choose(ctx, &tt.req); err != nil {
					panic(err)
				}
			})
			if allocs != 0 {
				t.Errorf("Choose allocates %v times per run, want 0", allocs)
			}
		})
	}
}

// TestSticky_Choose_PinToWeightZero checks that ramping an option down to
// weight 0 also stops the sessions pinned to it: the pin is ignored as
// "not a target" and the policy decides again.
func TestSticky_Choose_PinToWeightZero(t *testing.T) {
	doc, err := policy.Parse([]byte(`{"type":"routed","rules":[{"targets":{"type":"weighted",` +
		`"partition_by":"get('$.session.key')","options":[{"agent_key":"v1","weight":100},{"agent_key":"v2","weight":0}]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Compile(doc, &policy.Stickiness{Key: "get('$.session.key')", TTLMinutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	req := &policy.Request{
		Input:     expr.Input{Session: expr.Object{Key: "s-1"}},
		StickyKey: "s-1",
		Pin:       &policy.Pin{AgentKey: "v2", ExpiresAt: now.Add(time.Hour)},
		Now:       now,
	}
	d, err := p.Choose(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if d.AgentKey != "v1" || d.Via != policy.ViaRule || d.PinIgnored != "not a target" || !d.PinDue {
		t.Errorf("decision = %+v, want v1 via rule, pin ignored as not a target, pin due", d)
	}
}
