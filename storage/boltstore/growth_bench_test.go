package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/storage"
)

// How cost grows with the number of stored sessions: create, get and list
// at 1e3, 1e5 and 1e6 sessions, on a durable store, with the file's size.

var growthSizes = []int{1_000, 100_000, 1_000_000}

// BenchmarkGrowth_CreateSession creates durable sessions (one writer) in a
// store already holding n.
func BenchmarkGrowth_CreateSession(b *testing.B) {
	for _, n := range growthSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			path := populatedFile(b, n)
			// Work on a copy, so that the shared file keeps n sessions.
			cp := b.TempDir() + "/copy.db"
			data, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(cp, data, 0o600); err != nil {
				b.Fatal(err)
			}
			st := openFile(b, cp)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i++
				if _, err := st.CreateSession(ctx, "", benchSession(fmt.Sprintf("new-%d", i), "bulk")); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "file-bytes")
		})
	}
}

// BenchmarkGrowth_GetSession reads one session among n.
func BenchmarkGrowth_GetSession(b *testing.B) {
	for _, n := range growthSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			st := openPopulated(b, n)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i = i%n + 1
				if _, err := st.Session(ctx, "", fmt.Sprintf("s-%d", i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGrowth_ListSessions lists a page of 50 sessions of the alias
// "small" in a store of n.
func BenchmarkGrowth_ListSessions(b *testing.B) {
	for _, n := range growthSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			st := openPopulated(b, n)
			ctx := context.Background()
			q := storage.SessionQuery{AliasKey: "small", Limit: 50}
			for b.Loop() {
				if p, err := st.ListSessions(ctx, "", q); err != nil || len(p.Items) != 50 {
					b.Fatal(len(p.Items), err)
				}
			}
		})
	}
}

// BenchmarkAppendEvents_OneSession appends events, one durable commit each,
// to one session from one writer and from 8 concurrent writers.
func BenchmarkAppendEvents_OneSession(b *testing.B) {
	for _, writers := range []int{1, 8} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			st := openBench(b, false)
			ctx := context.Background()
			if _, err := st.CreateSession(ctx, "", benchSession("chat", "support")); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.SetParallelism((writers + 1) / 2)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					ev := &event.Event{ID: fmt.Sprintf("aev_%d", i), SessionKey: "chat", CreatedAt: benchBase,
						Type: event.AgentOutput, Content: "a reply of a typical length, a sentence or two."}
					if err := st.AppendEvents(ctx, "", "chat", []*event.Event{ev}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}
