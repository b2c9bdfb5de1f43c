package agentalias_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// gatedAgent blocks each turn until released, after saying it started.
type gatedAgent struct {
	started chan struct{}
	release chan struct{}
}

func newGatedAgent() *gatedAgent {
	return &gatedAgent{started: make(chan struct{}, 16), release: make(chan struct{})}
}

func (a *gatedAgent) Run(ctx context.Context, t *agentalias.Turn) error {
	a.started <- struct{}{}
	select {
	case <-a.release:
		return t.Reply("done")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// routersOn opens n routers over one store, with one clock, each with the
// given agents.
func routersOn(t *testing.T, store storage.Storage, clock *fakeClock, n int, agents map[string]agentalias.Agent, configure func(*agentalias.Options)) []*agentalias.AliasRouter {
	t.Helper()
	var rs []*agentalias.AliasRouter
	for range n {
		opts := &agentalias.Options{Agents: agents, Now: clock.Now, SweepInterval: -1}
		if configure != nil {
			configure(opts)
		}
		r, err := agentalias.New(store, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		rs = append(rs, r)
	}
	return rs
}

// TestAliasRouter_TurnsAcrossRouters: while a turn runs through one router,
// an input to the same session through another router sharing the store is
// Conflict, and nothing of it is stored; once the turn ends, it is accepted.
func TestAliasRouter_TurnsAcrossRouters(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		store, clock, agent := newStore(t), newClock(), newGatedAgent()
		rs := routersOn(t, store, clock, 2, map[string]agentalias.Agent{"v1": agent}, nil)
		a, b := rs[0], rs[1]
		mustCreateSession(t, a, agentalias.ViaAgent("v1"), session.Params{Key: "s1"})

		done := make(chan error, 1)
		go func() {
			_, err := a.Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil)
			done <- err
		}()
		<-agent.started
		stored := len(allEvents(t, b, agentalias.ViaAgent("v1"), "s1", true))
		_, err := b.Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil)
		if agentalias.ErrorCode(err) != agentalias.Conflict || agentalias.ErrorMessage(err) != "Session is already running." {
			t.Errorf("input through the other router during a turn: %v; want Conflict, Session is already running.", err)
		}
		if n := len(allEvents(t, b, agentalias.ViaAgent("v1"), "s1", true)); n != stored {
			t.Errorf("the refused input stored %d events", n-stored)
		}
		close(agent.release)
		if err := <-done; err != nil {
			t.Fatalf("the first turn: %v", err)
		}
		if _, err := b.Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil); err != nil {
			t.Errorf("input through the other router after the turn: %v", err)
		}
		s, err := store.Session(ctx, "", "s1")
		if err != nil || s.Status != session.Stopped || !s.TurnDeadline.IsZero() {
			t.Errorf("session after the turns: %+v, %v; want stopped with no deadline", s, err)
		}
	})
}

// TestAliasRouter_TurnsRacingAcrossRouters sends inputs to one session from
// many goroutines through three routers: turns never overlap.
func TestAliasRouter_TurnsRacingAcrossRouters(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		store, clock := newStore(t), newClock()
		var mu sync.Mutex
		running, overlaps, turns := 0, 0, 0
		agent := agentalias.AgentFunc(func(ctx context.Context, turn *agentalias.Turn) error {
			mu.Lock()
			running++
			if running > 1 {
				overlaps++
			}
			turns++
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			running--
			mu.Unlock()
			return turn.Reply("ok")
		})
		rs := routersOn(t, store, clock, 3, map[string]agentalias.Agent{"v1": agent}, nil)
		mustCreateSession(t, rs[0], agentalias.ViaAgent("v1"), session.Params{Key: "s1"})
		var wg sync.WaitGroup
		for g := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					_, err := rs[g%3].Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil)
					if err != nil && agentalias.ErrorCode(err) != agentalias.Conflict {
						t.Errorf("Submit: %v", err)
					}
				}
			}()
		}
		wg.Wait()
		if overlaps != 0 || turns == 0 {
			t.Errorf("%d turns, %d of them overlapping another; want some, none overlapping", turns, overlaps)
		}
		// Each turn stored its input and its reply, and nothing else.
		if n := len(allEvents(t, rs[0], agentalias.ViaAgent("v1"), "s1", true)); n != 2*turns {
			t.Errorf("%d events stored for %d turns; want %d", n, turns, 2*turns)
		}
	})
}

// TestAliasRouter_TurnOfACrashedRouter: a session a crashed router left
// running refuses input until its TurnDeadline, then takes it.
func TestAliasRouter_TurnOfACrashedRouter(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		h := newHarness(t, newStore, func(o *agentalias.Options) { o.TurnTimeout = 10 * time.Minute })
		mustCreateSession(t, h.r, agentalias.ViaAgent("v1"), session.Params{Key: "s1"})
		// What a router that crashed mid-turn leaves behind.
		s, err := h.store.Session(ctx, "", "s1")
		if err != nil {
			t.Fatal(err)
		}
		s.Status, s.TurnDeadline = session.Running, h.clock.Now().Add(10*time.Minute)
		if _, err := h.store.UpdateSession(ctx, "", s); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(9 * time.Minute)
		_, err = h.r.Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil)
		if agentalias.ErrorCode(err) != agentalias.Conflict {
			t.Errorf("input before the deadline: %v, want Conflict", err)
		}
		h.clock.Advance(time.Minute)
		resp, err := h.r.Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil)
		if err != nil {
			t.Fatalf("input at the deadline: %v", err)
		}
		if len(resp.Events) != 2 {
			t.Errorf("turn after the deadline: %d events, want input and reply", len(resp.Events))
		}
	})
}

// TestAliasRouter_TurnTimeout: a turn longer than TurnTimeout is cancelled,
// ends with session_interrupted and an Internal error, and frees the
// session.
func TestAliasRouter_TurnTimeout(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		agent := newGatedAgent()
		h := newHarness(t, newStore, func(o *agentalias.Options) {
			o.TurnTimeout = 50 * time.Millisecond
			o.Agents = map[string]agentalias.Agent{"slow": agent, "v1": echo}
		})
		mustCreateSession(t, h.r, agentalias.ViaAgent("slow"), session.Params{Key: "s1"})
		resp, err := h.r.Submit(ctx, agentalias.ViaAgent("slow"), "s1", text("hi"), nil)
		if agentalias.ErrorCode(err) != agentalias.Internal || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "TurnTimeout") {
			t.Errorf("a turn past TurnTimeout: %v; want Internal naming TurnTimeout", err)
		}
		if resp == nil || len(resp.Events) == 0 || resp.Events[len(resp.Events)-1].Type != event.SessionInterrupted {
			t.Errorf("a turn past TurnTimeout ended with %+v; want session_interrupted last", resp)
		}
		s, err := h.store.Session(ctx, "", "s1")
		if err != nil || s.Status != session.Stopped {
			t.Errorf("session after the timeout: %+v, %v; want stopped", s, err)
		}
		go func() { <-agent.started; agent.release <- struct{}{} }()
		if _, err := h.r.Submit(ctx, agentalias.ViaAgent("slow"), "s1", text("hi"), nil); err != nil {
			t.Errorf("the next input: %v", err)
		}
	})
}

// TestAliasRouter_InterruptAcrossRouters: an interrupt through a router that
// does not run the turn cancels it through the store; the turn ends with
// session_interrupted, and the interrupt returns once it has ended.
func TestAliasRouter_InterruptAcrossRouters(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		store, clock, agent := newStore(t), newClock(), newGatedAgent()
		rs := routersOn(t, store, clock, 2, map[string]agentalias.Agent{"v1": agent}, func(o *agentalias.Options) {
			o.InterruptPoll = 10 * time.Millisecond
		})
		a, b := rs[0], rs[1]
		mustCreateSession(t, a, agentalias.ViaAgent("v1"), session.Params{Key: "s1"})

		type result struct {
			resp *agentalias.Response
			err  error
		}
		done := make(chan result, 1)
		go func() {
			resp, err := a.Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil)
			done <- result{resp, err}
		}()
		<-agent.started
		resp, err := b.Submit(ctx, agentalias.ViaAgent("v1"), "s1", agentalias.Input{Type: agentalias.InputInterrupt}, nil)
		if err != nil || len(resp.Events) != 1 || resp.Events[0].Type != event.SessionInterrupted {
			t.Fatalf("interrupt through the other router: %+v, %v", resp, err)
		}
		// The interrupt returned after the turn ended.
		s, err := store.Session(ctx, "", "s1")
		if err != nil || s.Status != session.Stopped || !s.InterruptAt.IsZero() {
			t.Errorf("session when the interrupt returned: %+v, %v; want stopped, no interrupt pending", s, err)
		}
		var res result
		select {
		case res = <-done:
		case <-time.After(10 * time.Second):
			close(agent.release) // let the test end
			t.Fatal("the turn was not interrupted through the other router")
		}
		if res.err != nil {
			t.Errorf("the interrupted turn: %v, want nil", res.err)
		}
		if n := len(res.resp.Events); n == 0 || res.resp.Events[n-1].Type != event.SessionInterrupted {
			t.Errorf("the interrupted turn ended with %+v; want session_interrupted last", res.resp.Events)
		}
		// The session takes input again, through either router.
		go func() { <-agent.started; agent.release <- struct{}{} }()
		if _, err := b.Submit(ctx, agentalias.ViaAgent("v1"), "s1", text("hi"), nil); err != nil {
			t.Errorf("input after the interrupt: %v", err)
		}
		// An interrupt with no turn running anywhere does nothing.
		if _, err := b.Submit(ctx, agentalias.ViaAgent("v1"), "s1", agentalias.Input{Type: agentalias.InputInterrupt}, nil); err != nil {
			t.Errorf("interrupt with no turn: %v", err)
		}
		if s, err := store.Session(ctx, "", "s1"); err != nil || !s.InterruptAt.IsZero() {
			t.Errorf("an interrupt with no turn left %+v, %v", s, err)
		}
	})
}
