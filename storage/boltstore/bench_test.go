package boltstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/boltstore"
)

// The benchmarks measure the store beside a ceiling measured in the same run:
// raw bbolt writing the same bytes (a session record) the simplest way.
// BENCHMARKS.md records the ratios and the commands.

var benchBase = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func benchAlias(key string) *alias.Alias {
	return &alias.Alias{
		Key: key, Name: "Support", Enabled: true, CreatedAt: benchBase,
		Policy: policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
			{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "support-v1"}}}},
	}
}

func benchSession(key, aliasKey string) *session.Session {
	return &session.Session{
		Key: key, AgentKey: "support-v1", AliasKey: aliasKey, Name: "Chat " + key,
		Metadata: map[string]any{"tenant": "acme", "user_id": "u-" + key, "tier": "gold"},
		Enabled:  true, Status: session.Unstarted, CreatedAt: benchBase,
	}
}

// benchRecord is a session record of the size the store writes.
func benchRecord(key string) []byte {
	b, _ := json.Marshal(benchSession(key, "support"))
	return b
}

func openBench(b *testing.B, noSync bool) *boltstore.Store {
	b.Helper()
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"), &boltstore.Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if _, err := st.CreateAlias(context.Background(), "", benchAlias("support")); err != nil {
		b.Fatal(err)
	}
	return st
}

func openRaw(b *testing.B) *bolt.DB {
	b.Helper()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("s"))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkCreateSession_OneWriter: one goroutine creating durable sessions
// through an alias, one commit (and fsync) each.
func BenchmarkCreateSession_OneWriter(b *testing.B) {
	st := openBench(b, false)
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

// BenchmarkRaw_OneWriter is the ceiling for OneWriter: raw bbolt, one Update
// putting one session record.
func BenchmarkRaw_OneWriter(b *testing.B) {
	db := openRaw(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		key := fmt.Sprintf("s-%d", i)
		rec := benchRecord(key)
		if err := db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("s")).Put([]byte(key), rec)
		}); err != nil {
			b.Fatal(err)
		}
	}
}

const writers = 64

// runWriters runs b.N calls of op spread over 64 goroutines and reports
// the throughput.
func runWriters(b *testing.B, op func(i int64) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
}

// BenchmarkCreateSession_64Writers: 64 goroutines creating durable sessions;
// the committer groups them into shared commits.
func BenchmarkCreateSession_64Writers(b *testing.B) {
	st := openBench(b, false)
	ctx := context.Background()
	runWriters(b, func(i int64) error {
		_, err := st.CreateSession(ctx, "", benchSession(fmt.Sprintf("s-%d", i), "support"))
		return err
	})
}

// BenchmarkRaw_64WritersGroupCommit is the ceiling for 64Writers: raw bbolt
// with a group-commit loop that starts the next transaction the moment the
// previous commit returns, taking everything queued.
func BenchmarkRaw_64WritersGroupCommit(b *testing.B) {
	db := openRaw(b)
	type req struct {
		key, rec []byte
		done     chan error
	}
	queue := make(chan req, 1024)
	stop := make(chan struct{})
	go func() {
		batch := make([]req, 0, 1024)
		for {
			select {
			case r := <-queue:
				batch = append(batch[:0], r)
			case <-stop:
				return
			}
		drain:
			for len(batch) < cap(batch) {
				select {
				case r := <-queue:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			err := db.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket([]byte("s"))
				for _, r := range batch {
					if err := bk.Put(r.key, r.rec); err != nil {
						return err
					}
				}
				return nil
			})
			for _, r := range batch {
				r.done <- err
			}
		}
	}()
	defer close(stop)
	runWriters(b, func(i int64) error {
		key := fmt.Sprintf("s-%d", i)
		r := req{key: []byte(key), rec: benchRecord(key), done: make(chan error, 1)}
		queue <- r
		return <-r.done
	})
}

// BenchmarkBatch_64Writers shows bbolt's own Batch with its default 10 ms
// delay, for comparison.
func BenchmarkRaw_64WritersBatch(b *testing.B) {
	db := openRaw(b)
	runWriters(b, func(i int64) error {
		key := fmt.Sprintf("s-%d", i)
		rec := benchRecord(key)
		return db.Batch(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("s")).Put([]byte(key), rec)
		})
	})
}

// Large stores are built once per run (with NoSync, through the store's own
// API) and reopened durable for measuring.

var (
	populated   = map[int]string{}
	populatedMu sync.Mutex
)

// populatedFile returns a store file holding n sessions: n-1000 through the
// alias "bulk" and 1000 through the alias "small"... precisely: "small" gets
// min(n, 1000) sessions and "bulk" the rest.
func populatedFile(b *testing.B, n int) string {
	populatedMu.Lock()
	defer populatedMu.Unlock()
	if path, ok := populated[n]; ok {
		return path
	}
	dir, err := os.MkdirTemp("", "agentalias-bench-")
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "bench.db")
	st, err := boltstore.Open(path, &boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, a := range []string{"small", "bulk"} {
		if _, err := st.CreateAlias(ctx, "", benchAlias(a)); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				a := "bulk"
				if i <= 1000 {
					a = "small"
				}
				if _, err := st.CreateSession(ctx, "", benchSession(fmt.Sprintf("s-%d", i), a)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	populated[n] = path
	return path
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, path := range populated {
		os.RemoveAll(filepath.Dir(path))
	}
	os.Exit(code)
}

func openPopulated(b *testing.B, n int) *boltstore.Store {
	b.Helper()
	return openFile(b, populatedFile(b, n))
}

// openFile opens the store in path, durable, and closes it when b ends.
func openFile(b *testing.B, path string) *boltstore.Store {
	b.Helper()
	st, err := boltstore.Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkGetSession reads one session by key among n.
func BenchmarkGetSession(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			st := openPopulated(b, n)
			ctx := context.Background()
			b.ReportAllocs()
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

// BenchmarkRaw_Get is the ceiling for GetSession: a raw bbolt View reading
// and copying one session record among n.
func BenchmarkRaw_Get(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			st := openPopulated(b, n)
			st.Close()
			db, err := bolt.Open(st.Path(), 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i = i%n + 1
				key := []byte(fmt.Sprintf("s-%d", i))
				if err := db.View(func(tx *bolt.Tx) error {
					v := tx.Bucket([]byte("t")).Bucket([]byte("s")).Get(key)
					if v == nil {
						return storage.ErrNotFound
					}
					_ = append([]byte(nil), v...)
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkListSessions_Page50 lists the first page of 50 sessions of the
// alias "small" (1000 sessions) in a store of n.
func BenchmarkListSessions_Page50(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			st := openPopulated(b, n)
			ctx := context.Background()
			// Start from the middle of the alias's sessions.
			page, err := st.ListSessions(ctx, "", storage.SessionQuery{AliasKey: "small", Limit: 100})
			if err != nil {
				b.Fatal(err)
			}
			q := storage.SessionQuery{AliasKey: "small", Limit: 50, PageKey: page.Next}
			b.ReportAllocs()
			for b.Loop() {
				p, err := st.ListSessions(ctx, "", q)
				if err != nil || len(p.Items) != 50 {
					b.Fatal(len(p.Items), err)
				}
			}
		})
	}
}
