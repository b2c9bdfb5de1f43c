package memstore_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/memstore"
)

var base = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func benchSession(key, aliasKey string) *session.Session {
	return &session.Session{
		Key: key, AgentKey: "support-v1", AliasKey: aliasKey, Name: "Chat " + key,
		Metadata: map[string]any{"tenant": "acme", "user_id": "u-" + key, "tier": "gold"},
		Enabled:  true, Status: session.Unstarted, CreatedAt: base,
	}
}

func newStore(b *testing.B) *memstore.Store {
	st := memstore.New()
	b.Cleanup(func() { st.Close() })
	a := &alias.Alias{Key: "support", Name: "Support", Enabled: true, CreatedAt: base,
		Policy: policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "support-v1"}}}}}
	if _, err := st.CreateAlias(context.Background(), "", a); err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkMemory_PerSession reports the heap a stored session costs: it
// stores b.N sessions like the ones session creation makes (three metadata
// keys) and divides the growth of the live heap by b.N.
func BenchmarkMemory_PerSession(b *testing.B) {
	st := newStore(b)
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range b.N {
		if _, err := st.CreateSession(ctx, "", benchSession(fmt.Sprintf("s-%d", i), "support")); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heap-bytes/session")
	runtime.KeepAlive(st)
}

// BenchmarkCreateSession creates sessions in memory.
func BenchmarkCreateSession(b *testing.B) {
	st := newStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := st.CreateSession(ctx, "", benchSession(fmt.Sprintf("s-%d", i), "support")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListSessions_Page50 lists a page of 50 sessions of one alias
// among n.
func BenchmarkListSessions_Page50(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			st := newStore(b)
			ctx := context.Background()
			for i := range n {
				if _, err := st.CreateSession(ctx, "", benchSession(fmt.Sprintf("s-%d", i), "support")); err != nil {
					b.Fatal(err)
				}
			}
			page, _ := st.ListSessions(ctx, "", storage.SessionQuery{AliasKey: "support", Limit: 100})
			q := storage.SessionQuery{AliasKey: "support", Limit: 50, PageKey: page.Next}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if p, err := st.ListSessions(ctx, "", q); err != nil || len(p.Items) != 50 {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendEvents_OneSession appends events to one session.
func BenchmarkAppendEvents_OneSession(b *testing.B) {
	st := newStore(b)
	ctx := context.Background()
	if _, err := st.CreateSession(ctx, "", benchSession("chat", "support")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ev := &event.Event{ID: fmt.Sprintf("aev_%d", i), SessionKey: "chat", CreatedAt: base, Type: event.AgentOutput, Content: "a reply"}
		if err := st.AppendEvents(ctx, "", "chat", []*event.Event{ev}); err != nil {
			b.Fatal(err)
		}
	}
}
