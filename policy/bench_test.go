package policy_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/policy/expr"
)

// benchInput is a routing context like the ones session creation builds.
func benchInput() expr.Input {
	return expr.Input{
		Agent: expr.Object{Key: "support", Name: "Customer Support",
			Metadata: map[string]any{"region": "us"}},
		Session: expr.Object{Key: "chat-42", Name: "Chat 42",
			Metadata: map[string]any{"tenant": "globex", "tier": "gold", "user_id": "u-12345", "region": "us-east"}},
		CurrentDate: "2026-12-04T10:00:00Z",
	}
}

const benchRouted = `{"type":"routed","rules":[
 {"match":"get('$.session.metadata.tenant') == 'acme'","targets":{"type":"single","agent_key":"support-acme"}},
 {"match":"(get('$.session.metadata.tenant') == 'us') and (get('$.session.metadata.tier') == 'gold')","targets":{"type":"single","agent_key":"support-gold"}},
 {"match":"(get('$.session.metadata.region') == 'eu-west') or (get('$.session.metadata.region') == 'eu-north')","targets":{"type":"single","agent_key":"support-eu"}},
 {"match":"get('$.session.metadata.tier', 'free') == 'trial'","targets":{"type":"fallback","agent_keys":["support-trial","support-v1"]}},
 {"targets":{"type":"weighted","partition_by":"get('$.session.metadata.user_id', '')",
  "options":[{"agent_key":"support-v1","weight":80},{"agent_key":"support-v2","weight":15},{"agent_key":"support-v3","weight":5}]}}]}`

func mustCompile(b *testing.B, doc string, st *policy.Stickiness) policy.Policy {
	b.Helper()
	d, err := policy.Parse([]byte(doc))
	if err != nil {
		b.Fatal(err)
	}
	p, err := policy.Compile(d, st)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func benchChoose(b *testing.B, p policy.Policy, req *policy.Request) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		d, err := p.Choose(ctx, req)
		if err != nil || d.AgentKey == "" {
			b.Fatal(d, err)
		}
	}
}

// BenchmarkCompile compiles the five-rule routed policy from its document.
func BenchmarkCompile(b *testing.B) {
	d, err := policy.Parse([]byte(benchRouted))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Compile(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChoose_Single resolves a one-rule policy with a single target.
func BenchmarkChoose_Single(b *testing.B) {
	p := mustCompile(b, `{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]}`, nil)
	benchChoose(b, p, &policy.Request{Input: benchInput()})
}

// BenchmarkChoose_Weighted3 resolves a weighted target with three options.
func BenchmarkChoose_Weighted3(b *testing.B) {
	p := mustCompile(b, `{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"get('$.session.metadata.user_id', '')",
	  "options":[{"agent_key":"support-v1","weight":80},{"agent_key":"support-v2","weight":15},{"agent_key":"support-v3","weight":5}]}}]}`, nil)
	benchChoose(b, p, &policy.Request{Input: benchInput()})
}

// BenchmarkChoose_Routed5 tries four match rules that fail and decides on a
// weighted catch-all with three options.
func BenchmarkChoose_Routed5(b *testing.B) {
	p := mustCompile(b, benchRouted, nil)
	benchChoose(b, p, &policy.Request{Input: benchInput(), Available: func(string) bool { return true }})
}

// BenchmarkChoose_StickyPinned resolves through a fresh sticky pin.
func BenchmarkChoose_StickyPinned(b *testing.B) {
	p := mustCompile(b, benchRouted, &policy.Stickiness{Key: "get('$.session.metadata.user_id')", TTLMinutes: 60})
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	benchChoose(b, p, &policy.Request{Input: benchInput(), StickyKey: "u-12345",
		Pin: &policy.Pin{AgentKey: "support-v2", ExpiresAt: now.Add(time.Hour)}, Now: now})
}

// BenchmarkChoose_StickyMiss resolves a sticky policy with no pin yet: the
// routed rules decide and a pin is due.
func BenchmarkChoose_StickyMiss(b *testing.B) {
	p := mustCompile(b, benchRouted, &policy.Stickiness{Key: "get('$.session.metadata.user_id')", TTLMinutes: 60})
	benchChoose(b, p, &policy.Request{Input: benchInput(), StickyKey: "u-12345", Now: time.Now()})
}

// BenchmarkSticky_Key computes a session's sticky key (this allocates the
// key string, which the router needs to look the pin up).
func BenchmarkSticky_Key(b *testing.B) {
	p := mustCompile(b, benchRouted, &policy.Stickiness{Key: "get('$.session.metadata.user_id')", TTLMinutes: 60})
	s := p.(*policy.Sticky)
	in := benchInput()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.Key(&in); !ok {
			b.Fatal("no key")
		}
	}
}

// BenchmarkHandwritten_Routed5 is the ceiling for Choose_Routed5: the same
// routing written directly in Go (the four match rules as map lookups and
// comparisons, then the weighted split with the same hash and scores), with
// no expression evaluation and no explanation.
func BenchmarkHandwritten_Routed5(b *testing.B) {
	in := benchInput()
	options := []policy.Option{{AgentKey: "support-v1", Weight: 80}, {AgentKey: "support-v2", Weight: 15}, {AgentKey: "support-v3", Weight: 5}}
	route := func(md map[string]any) string {
		tenant, _ := md["tenant"].(string)
		tier, _ := md["tier"].(string)
		region, _ := md["region"].(string)
		switch {
		case tenant == "acme":
			return "support-acme"
		case tenant == "us" && tier == "gold":
			return "support-gold"
		case region == "eu-west" || region == "eu-north":
			return "support-eu"
		case tier == "trial":
			return "support-trial"
		}
		user, _ := md["user_id"].(string)
		var buf [64]byte
		part := append(buf[:0], user...)
		best, bestScore, bestWeight := -1, uint64(0), int64(0)
		for i, o := range options {
			s := policy.RendezvousScore(part, o.AgentKey)
			if best < 0 || s*uint64(bestWeight) < bestScore*uint64(o.Weight) {
				best, bestScore, bestWeight = i, s, o.Weight
			}
		}
		return options[best].AgentKey
	}
	b.ReportAllocs()
	for b.Loop() {
		if route(in.Session.Metadata) == "" {
			b.Fatal("no agent")
		}
	}
}
