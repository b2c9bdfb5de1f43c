package policy_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/policy/expr"
)

// fuzzInputs are the routing contexts each compiled fuzz document resolves.
func fuzzInputs() []expr.Input {
	long := strings.Repeat("x", 300)
	return []expr.Input{
		{},
		sessionIn(meta("tenant", "acme", "user_id", "u-1")),
		sessionIn(meta("tenant", "globex", "user_id", "u-5", "tier", "gold", "region", "us-east")),
		sessionIn(meta("tenant", "us", "tier", "free", "region", "us-west", "n", 1.0)),
		sessionIn(meta("user_id", 42.0, "tenant", nil, "flag", true, "list", []any{1.0, "a", nil},
			"obj", map[string]any{"k": []any{map[string]any{}}})),
		{
			Agent:       expr.Object{Key: "support", Name: "n", Description: "d", Metadata: meta("region", "eu")},
			Session:     expr.Object{Key: long, Name: "'quoted''", Metadata: meta("user_id", long, "x", -1.5)},
			CurrentDate: "2026-07-01T00:00:00Z",
		},
	}
}

// FuzzCompile compiles policy documents that parse, and resolves them on a
// few routing contexts, with and without unavailable agents. Compile must
// not panic; a decision must name an agent of the document that is
// available, and a failure must wrap one of the three sentinel errors.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		// The contract's examples.
		`{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]}`,
		contractPolicy,
		`{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"get('$.session.key')","options":[{"agent_key":"support-v1","weight":90},{"agent_key":"support-v2","weight":10}]}}]}`,
		// Fallback targets and every contract expression.
		`{"type":"routed","rules":[{"match":"get('$.session.metadata.tenant') == 'us'","targets":{"type":"fallback","agent_keys":["primary","secondary"]}},{"match":"(get('$.session.metadata.tenant') == 'us') and (get('$.session.metadata.tier') == 'gold')","targets":{"type":"single","agent_key":"gold"}},{"match":"(get('$.session.metadata.region') == 'us-west') or (get('$.session.metadata.region') == 'us-east')","targets":{"type":"fallback","agent_keys":["west","east","support-v1"]}},{"match":"get('$.session.metadata.tier', 'free') != 'free'","targets":{"type":"single","agent_key":"paid"}}]}`,
		`{"type":"routed","rules":[{"match":"get('$.agent.metadata.region') == 'eu'","targets":{"type":"weighted","partition_by":"get('$.session.metadata.user_id')","options":[{"agent_key":"eu-1","weight":1},{"agent_key":"eu-2","weight":0}]}},{"targets":{"type":"fallback","agent_keys":["a","b","c"]}}]}`,
		`{"type":"routed","rules":[{"match":"get('$.currentDate') >= '2026-07-01'","targets":{"type":"single","agent_key":"summer"}},{"match":"get('$.session.metadata.n')","targets":{"type":"single","agent_key":"n"}}]}`,
		`{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"get('$.session.metadata.obj')","options":[{"agent_key":"a","weight":1000000},{"agent_key":"b","weight":1}]}}]}`,
		`{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"if (get('$.session.metadata.flag')) get('$') else get('$.session.metadata.list')","options":[{"agent_key":"a","weight":3},{"agent_key":"b","weight":7}]}}]}`,
		// Bad expressions.
		`{"type":"routed","rules":[{"match":"get('$.session.metadata.tenant') = 'acme'","targets":{"type":"single","agent_key":"a"}}]}`,
		`{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"get('$.nope')","options":[{"agent_key":"a","weight":1}]}}]}`,
		`{"type":"routed","rules":[{"match":"((((","targets":{"type":"fallback","agent_keys":["a"]}}]}`,
	} {
		f.Add([]byte(seed))
	}
	inputs := fuzzInputs()
	now := time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := policy.Parse(b)
		if err != nil {
			return
		}
		r, err := doc.Compile()
		if err != nil {
			var fe interface{ FieldErrors() map[string]string }
			if !errors.As(err, &fe) || len(fe.FieldErrors()) == 0 {
				t.Fatalf("Compile error %v (%T) has no field errors", err, err)
			}
			return
		}
		names := doc.AgentKeys()
		// Agents lists what the policy may pick: every agent the document
		// names, except options whose weight is 0.
		for _, k := range r.Agents() {
			if !slices.Contains(names, k) {
				t.Fatalf("Agents() = %q has %q, which the document does not name (%q)", r.Agents(), k, names)
			}
		}
		if len(r.Agents()) == 0 {
			t.Fatalf("Agents() is empty for a valid document naming %q", names)
		}
		sticky, err := policy.Compile(doc, &policy.Stickiness{Key: "get('$.session.metadata.user_id', get('$.session.key'))", TTLMinutes: 1})
		if err != nil {
			t.Fatalf("Compile with stickiness: %v", err)
		}
		var down []string // every other agent of the document
		for i, k := range names {
			if i%2 == 1 {
				down = append(down, k)
			}
		}
		availability := []func(string) bool{nil, except(down...), only(), except(names[0])}
		ctx := context.Background()
		for _, in := range inputs {
			for _, avail := range availability {
				req := &policy.Request{Input: in, Available: avail, Now: now}
				check := func(via string, d policy.Decision, err error) {
					t.Helper()
					_ = d.String()
					if err != nil {
						if !errors.Is(err, policy.ErrNoMatch) && !errors.Is(err, policy.ErrNullPartition) && !errors.Is(err, policy.ErrUnavailable) {
							t.Fatalf("%s: error %v wraps none of the sentinels", via, err)
						}
						if d.AgentKey != "" {
							t.Fatalf("%s: error %v with agent %q", via, err, d.AgentKey)
						}
						return
					}
					if !slices.Contains(names, d.AgentKey) {
						t.Fatalf("%s: picked %q, not an agent of the document %q", via, d.AgentKey, names)
					}
					if avail != nil && !avail(d.AgentKey) {
						t.Fatalf("%s: picked unavailable agent %q", via, d.AgentKey)
					}
				}
				d, err := r.Choose(ctx, req)
				check("routed", d, err)

				// Sticky: without a pin, then with the decision pinned,
				// then with a pin to an agent of the document.
				s := sticky.(*policy.Sticky)
				key, ok := s.Key(&req.Input)
				if ok {
					req.StickyKey = key
				}
				d, err = sticky.Choose(ctx, req)
				check("sticky", d, err)
				if err == nil && d.PinDue {
					pin := s.NewPin(d, now)
					req.Pin = &pin
					d2, err := sticky.Choose(ctx, req)
					check("sticky pinned", d2, err)
					if d2.AgentKey != d.AgentKey || d2.Via != policy.ViaPin {
						t.Fatalf("pinned %q, then decided %v", d.AgentKey, d2)
					}
				}
				req.Pin = &policy.Pin{AgentKey: names[len(names)-1], ExpiresAt: now.Add(time.Minute)}
				d, err = sticky.Choose(ctx, req)
				check("sticky other pin", d, err)
			}
		}
	})
}
