package agentalias_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/memstore"
)

// TestAliasRouter_StaleTurnEndKeepsNewClaim: a turn that outlives its
// claim (another router claimed the session after the deadline) ends without
// clearing the new claim, so a third input is still Conflict.
func TestAliasRouter_StaleTurnEndKeepsNewClaim(t *testing.T) {
	ctx := context.Background()
	store, clock := newMemStore(t), newClock()
	var running, maxRunning atomic.Int32
	gate := make(chan struct{})
	agent := agentalias.AgentFunc(func(ctx context.Context, tr *agentalias.Turn) error {
		n := running.Add(1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		defer running.Add(-1)
		<-gate
		return nil
	})
	rs := routersOn(t, store, clock, 3, map[string]agentalias.Agent{"v1": agent}, func(o *agentalias.Options) { o.TurnTimeout = 10 * time.Minute })
	a, b, c := rs[0], rs[1], rs[2]
	mustCreateSession(t, a, agentalias.ViaAgent("v1"), session.Params{Key: "s1"})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); a.Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil) }()
	for running.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	clock.Advance(11 * time.Minute) // A's stored claim lapses (A's turn still runs)
	wg.Add(1)
	go func() { defer wg.Done(); b.Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil) }()
	for running.Load() != 2 {
		time.Sleep(time.Millisecond)
	}
	// A's turn ends: gate one agent.
	gate <- struct{}{}
	for running.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	s, _ := store.Session(ctx, "", "s1")
	if s.Status != session.Running {
		t.Errorf("after the stale turn ended, the session is %s; want running (B's turn)", s.Status)
	}
	if _, err := c.Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil); agentalias.ErrorCode(err) != agentalias.Conflict {
		t.Errorf("input while B's turn runs: %v; want Conflict", err)
	}
	close(gate)
	wg.Wait()
	if maxRunning.Load() > 2 || running.Load() != 0 {
		t.Errorf("max concurrent turns on one session: %d", maxRunning.Load())
	}
}

// TestAliasRouter_DeleteSessionAcrossRouters: a session whose turn runs
// through another router cannot be deleted (Conflict), and is intact after.
func TestAliasRouter_DeleteSessionAcrossRouters(t *testing.T) {
	ctx := context.Background()
	store, clock, agent := newMemStore(t), newClock(), newGatedAgent()
	rs := routersOn(t, store, clock, 2, map[string]agentalias.Agent{"v1": agent}, nil)
	a, b := rs[0], rs[1]
	mustCreateSession(t, a, agentalias.ViaAgent("v1"), session.Params{Key: "s1"})
	done := make(chan error, 1)
	go func() { _, err := a.Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil); done <- err }()
	<-agent.started
	err := b.DeleteSession(ctx, agentalias.ViaAgent("v1"), "s1")
	if agentalias.ErrorCode(err) != agentalias.Conflict {
		t.Errorf("DeleteSession through the other router during a turn: %v; want Conflict", err)
	}
	close(agent.release)
	if err := <-done; err != nil {
		t.Errorf("the turn: %v", err)
	}
	if err := b.DeleteSession(ctx, agentalias.ViaAgent("v1"), "s1"); err != nil {
		t.Errorf("DeleteSession after the turn: %v", err)
	}
}

// swapStore replaces s1 with a session of agent v2 right after the first
// Session read that Submit makes for scope checking.
type swapStore struct {
	storage.Storage
	armed atomic.Bool
}

func (s *swapStore) Session(ctx context.Context, tenant, key string) (*session.Session, error) {
	got, err := s.Storage.Session(ctx, tenant, key)
	if s.armed.CompareAndSwap(true, false) {
		s.Storage.DeleteSession(ctx, tenant, key)
		n := got.Clone()
		n.AgentKey, n.Revision = "v2", 0
		n.Secrets = session.Secrets{"token": "v2-secret"}
		s.Storage.CreateSession(ctx, tenant, n)
	}
	return got, err
}

// TestAliasRouter_ClaimChecksIdentity: a session replaced by another under
// the same key between Submit's scope check and its claim is NotFound; the
// agent of the old one never runs on the new one.
func TestAliasRouter_ClaimChecksIdentity(t *testing.T) {
	ctx := context.Background()
	st := &swapStore{Storage: newMemStore(t)}
	clock := newClock()
	var saw string
	v1 := agentalias.AgentFunc(func(ctx context.Context, tr *agentalias.Turn) error {
		saw = tr.Session.AgentKey + " secrets=" + tr.Session.Secrets["token"]
		return nil
	})
	rs := routersOn(t, st, clock, 1, map[string]agentalias.Agent{"v1": v1, "v2": echo}, nil)
	mustCreateSession(t, rs[0], agentalias.ViaAgent("v1"), session.Params{Key: "s1"})
	st.armed.Store(true)
	_, err := rs[0].Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil)
	if agentalias.ErrorCode(err) != agentalias.NotFound {
		t.Errorf("Submit to a replaced session: %v; want NotFound", err)
	}
	if saw != "" {
		t.Error("agent v1 ran on a session owned by v2")
	}
}

// TestAliasRouter_PatchTTIDuringTurn: changing tti_minutes while a turn runs
// does not let the session expire (and be swept) under the turn.
func TestAliasRouter_PatchTTIDuringTurn(t *testing.T) {
	ctx := context.Background()
	store, clock := newMemStore(t), newClock()
	agent := newGatedAgent()
	rs := routersOn(t, store, clock, 1, map[string]agentalias.Agent{"v1": agent}, nil)
	r := rs[0]
	mustCreateSession(t, r, agentalias.ViaAgent("v1"), session.Params{Key: "s1"})
	done := make(chan error, 1)
	go func() { _, err := r.Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil); done <- err }()
	<-agent.started
	one := int64(1)
	if _, err := r.UpdateSession(ctx, agentalias.ViaAgent("v1"), "s1", session.Patch{TTIMinutes: &one}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	n, err := r.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Session(ctx, "", "s1"); err != nil {
		t.Errorf("session after a sweep mid-turn: %v", err)
	}
	close(agent.release)
	if err := <-done; err != nil {
		t.Errorf("the turn: %v", err)
	}
	if n > 0 {
		t.Error("running session swept mid-turn")
	}
}

// TestAliasRouter_TurnWindingDownKeepsClaim: with the real clock, an agent
// that takes 30 ms to wind down after TurnTimeout cancels it still holds the
// session; inputs through three routers never overlap turns.
func TestAliasRouter_TurnWindingDownKeepsClaim(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	defer store.Close()
	var running, maxRunning atomic.Int32
	agent := agentalias.AgentFunc(func(ctx context.Context, tr *agentalias.Turn) error {
		n := running.Add(1)
		defer running.Add(-1)
		for m := maxRunning.Load(); n > m && !maxRunning.CompareAndSwap(m, n); m = maxRunning.Load() {
		}
		<-ctx.Done()
		time.Sleep(30 * time.Millisecond) // winding down
		return nil
	})
	var rs []*agentalias.AliasRouter
	for range 3 {
		r, err := agentalias.New(store, &agentalias.Options{Agents: map[string]agentalias.Agent{"v1": agent}, TurnTimeout: 100 * time.Millisecond, SweepInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		rs = append(rs, r)
	}
	mustCreateSession(t, rs[0], agentalias.ViaAgent("v1"), session.Params{Key: "s1"})
	sctx, cancel := context.WithTimeout(ctx, 600*time.Millisecond)
	defer cancel()
	stop := sctx.Done()
	done := make(chan struct{})
	for i := range 3 {
		go func() {
			for {
				select {
				case <-stop:
					done <- struct{}{}
					return
				default:
				}
				rs[i].Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil)
				time.Sleep(time.Millisecond)
			}
		}()
	}
	for range 3 {
		<-done
	}
	time.Sleep(300 * time.Millisecond)
	if maxRunning.Load() > 1 {
		t.Errorf("up to %d turns of one session ran at once", maxRunning.Load())
	}
}
