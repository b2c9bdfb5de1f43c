package agentalias_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/policy/expr"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage/memstore"
)

const benchPolicy = `{"type":"routed","rules":[
 {"match":"get('$.session.metadata.tenant') == 'acme'","targets":{"type":"single","agent_key":"support-acme"}},
 {"targets":{"type":"weighted","partition_by":"get('$.session.metadata.user_id', '')",
  "options":[{"agent_key":"support-v1","weight":80},{"agent_key":"support-v2","weight":15},{"agent_key":"support-v3","weight":5}]}}]}`

// BenchmarkAliasRouter_CreateSession creates sessions through an alias with
// the in-memory store: validation, routing, key generation and storage.
func BenchmarkAliasRouter_CreateSession(b *testing.B) {
	noop := agentalias.AgentFunc(func(context.Context, *agentalias.Turn) error { return nil })
	r, err := agentalias.New(memstore.New(), &agentalias.Options{Agents: map[string]agentalias.Agent{
		"support-acme": noop, "support-v1": noop, "support-v2": noop, "support-v3": noop}, SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	doc, err := policy.Parse([]byte(benchPolicy))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.CreateAlias(ctx, alias.Params{Key: "support", Name: "Support", Policy: *doc}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		_, err := r.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{
			Key:      fmt.Sprintf("s-%d", i),
			Metadata: map[string]any{"tenant": "globex", "user_id": fmt.Sprintf("u-%d", i)},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCeiling_MapInsertAndResolve is the ceiling for CreateSession: the
// same policy resolution plus an insert of the session into a mutex-guarded
// map, with nothing else.
func BenchmarkCeiling_MapInsertAndResolve(b *testing.B) {
	doc, err := policy.Parse([]byte(benchPolicy))
	if err != nil {
		b.Fatal(err)
	}
	p, err := policy.Compile(doc, nil)
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	m := map[string]*session.Session{}
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		key := fmt.Sprintf("s-%d", i)
		md := map[string]any{"tenant": "globex", "user_id": fmt.Sprintf("u-%d", i)}
		req := policy.Request{Input: expr.Input{Agent: expr.Object{Key: "support", Name: "Support"},
			Session: expr.Object{Key: key, Name: key, Metadata: md}, CurrentDate: now.Format(time.RFC3339)}}
		d, err := p.Choose(ctx, &req)
		if err != nil {
			b.Fatal(err)
		}
		s := &session.Session{Key: key, AgentKey: d.AgentKey, AliasKey: "support", Name: key, Metadata: md, Enabled: true, CreatedAt: now}
		mu.Lock()
		m[key] = s
		mu.Unlock()
	}
}
