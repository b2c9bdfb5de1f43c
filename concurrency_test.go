package agentalias_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/session"
)

// TestAliasRouter_ConcurrentPolicySwap creates hundreds of sessions through
// one alias, and runs inputs on existing sessions, while the alias's policy
// is replaced: every session gets the old agent or the new one, and every
// creation that starts after ReplacePolicy returned gets the new one.
func TestAliasRouter_ConcurrentPolicySwap(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		h := newHarness(t, newStore, func(o *agentalias.Options) {
			o.Agents = map[string]agentalias.Agent{"v1": echo, "v2": echo, "decoy": echo}
		})
		mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("v1")})
		const (
			creators      = 8
			perCreator    = 40
			existing      = 6
			inputsPerSess = 8
			swapAfter     = creators * perCreator / 3
		)
		for i := range existing {
			mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: fmt.Sprintf("old-%d", i)})
		}

		type created struct {
			key, agent   string
			afterReplace bool // ReplacePolicy had returned when the creation started
			beforeSwap   bool // ReplacePolicy had not started when the creation returned
		}
		var (
			swapStarted atomic.Bool
			replaced    atomic.Bool
			started     atomic.Int64
			swapping    = make(chan struct{}) // closed as ReplacePolicy is called
			swapped     = make(chan struct{}) // closed once it returned
			results     = make(chan created, creators*perCreator)
			errs        = make(chan error, creators*perCreator+existing*inputsPerSess+1)
			wg          sync.WaitGroup
		)
		wg.Add(1)
		go func() { // the swap, once a third of the creations are under way
			defer wg.Done()
			defer close(swapped)
			for started.Load() < swapAfter {
				runtime.Gosched()
			}
			swapStarted.Store(true)
			close(swapping)
			if _, err := h.r.ReplacePolicy(ctx, "support", singlePolicy("v2"), nil); err != nil {
				errs <- fmt.Errorf("ReplacePolicy: %w", err)
			}
			replaced.Store(true)
		}()
		for c := range creators {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perCreator {
					// Gates, so that the swap happens mid-flight on any
					// number of CPUs: half the creations wait for it to
					// start, the last few for it to finish.
					switch i {
					case perCreator / 2:
						<-swapping
					case perCreator - 5:
						<-swapped
					}
					after := replaced.Load()
					started.Add(1)
					key := fmt.Sprintf("new-%d-%d", c, i)
					s, err := h.r.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{Key: key})
					if err != nil {
						errs <- fmt.Errorf("CreateSession(%s): %w", key, err)
						continue
					}
					results <- created{key: s.Key, agent: s.AgentKey, afterReplace: after, beforeSwap: !swapStarted.Load()}
				}
			}()
		}
		for i := range existing {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprintf("old-%d", i)
				for j := range inputsPerSess {
					scope := agentalias.ViaAlias("support")
					if j%2 == 1 {
						scope = agentalias.ViaAgent("v1")
					}
					resp, err := h.r.Submit(ctx, scope, key, agentalias.Input{Messages: []event.Input{event.Text(fmt.Sprint(j))}}, nil)
					if err != nil {
						errs <- fmt.Errorf("Submit(%s): %w", key, err)
						continue
					}
					if want := "v1: " + fmt.Sprint(j); len(resp.Events) != 2 || resp.Events[1].Content != want {
						errs <- fmt.Errorf("Submit(%s) reply %v, want %q", key, resp.Events, want)
					}
				}
			}()
		}
		wg.Wait()
		close(results)
		close(errs)
		for err := range errs {
			t.Error(err)
		}

		got := map[string]string{}
		count := map[string]int{}
		for c := range results {
			got[c.key] = c.agent
			count[c.agent]++
			switch {
			case c.agent != "v1" && c.agent != "v2":
				t.Errorf("session %s went to %q, neither the old agent nor the new", c.key, c.agent)
			case c.afterReplace && c.agent != "v2":
				t.Errorf("session %s, created after ReplacePolicy returned, went to %s", c.key, c.agent)
			case c.beforeSwap && c.agent != "v1":
				t.Errorf("session %s, created before ReplacePolicy was called, went to %s", c.key, c.agent)
			}
		}
		if count["v1"] < swapAfter-creators || count["v2"] < 5*creators {
			t.Errorf("agents: %v; want v1 at least %d, v2 at least %d", count, swapAfter-creators, 5*creators)
		}
		// The store agrees, and the existing sessions kept their agent.
		stored := allSessions(t, h.r, agentalias.ViaAlias("support"))
		if len(stored) != existing+creators*perCreator {
			t.Errorf("%d sessions stored, want %d", len(stored), existing+creators*perCreator)
		}
		for _, s := range stored {
			want, ok := got[s.Key]
			if !ok {
				want = "v1"
				if n := len(allEvents(t, h.r, agentalias.ViaAgent("v1"), s.Key, true)); n != 2*inputsPerSess {
					t.Errorf("existing session %s has %d events, want %d", s.Key, n, 2*inputsPerSess)
				}
				if s.Status != session.Stopped {
					t.Errorf("existing session %s is %s after its inputs", s.Key, s.Status)
				}
			}
			if s.AgentKey != want {
				t.Errorf("stored session %s has agent %s, want %s", s.Key, s.AgentKey, want)
			}
		}
		if s := mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{}); s.AgentKey != "v2" {
			t.Errorf("after the swap: %s", s.AgentKey)
		}
	})
}

// TestAliasRouter_ConcurrentInputs sends inputs to one session from many
// goroutines at once: one turn runs at a time, the others are Conflict.
func TestAliasRouter_ConcurrentInputs(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		var running, maxRunning atomic.Int64
		slow := agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
			n := running.Add(1)
			defer running.Add(-1)
			for {
				m := maxRunning.Load()
				if n <= m || maxRunning.CompareAndSwap(m, n) {
					break
				}
			}
			return t.Reply("ok")
		})
		h := newHarness(t, newStore, func(o *agentalias.Options) { o.Agents["slow"] = slow })
		mustCreateSession(t, h.r, agentalias.ViaAgent("slow"), session.Params{Key: "s"})
		const n = 32
		var ok, conflict atomic.Int64
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := h.r.Submit(ctx, agentalias.ViaAgent("slow"), "s", text(fmt.Sprint(i)), nil)
				switch code := agentalias.ErrorCode(err); code {
				case "":
					ok.Add(1)
				case agentalias.Conflict:
					conflict.Add(1)
				default:
					t.Errorf("Submit: %v", err)
				}
			}()
		}
		wg.Wait()
		if maxRunning.Load() != 1 {
			t.Errorf("%d turns ran at once on one session", maxRunning.Load())
		}
		if ok.Load() == 0 || ok.Load()+conflict.Load() != n {
			t.Errorf("%d ok, %d conflict of %d", ok.Load(), conflict.Load(), n)
		}
		if got := len(allEvents(t, h.r, agentalias.ViaAgent("slow"), "s", true)); got != int(2*ok.Load()) {
			t.Errorf("%d events stored for %d turns", got, ok.Load())
		}
		if s, _ := h.r.Session(ctx, agentalias.ViaAgent("slow"), "s"); s.Status != session.Stopped {
			t.Errorf("status = %s", s.Status)
		}
	})
}

// TestAliasRouter_ConcurrentToolOutputs answers the same client tool call
// twice at once: exactly one answer is taken.
func TestAliasRouter_ConcurrentToolOutputs(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		var answers atomic.Int64
		tools := agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
			if t.Input.Type == agentalias.InputToolOutput {
				answers.Add(1)
				return t.Reply("ok")
			}
			id := event.NewID("call_" + t.Session.Key)
			if _, err := t.Emit(&event.Event{ID: id, Type: event.ToolInput, ToolCallID: id, ToolConfigurationName: "web", ToolName: "search"}); err != nil {
				return err
			}
			return t.AwaitClientTools(event.PendingCall{EventID: id, ToolName: "search"})
		})
		h := newHarness(t, newStore, func(o *agentalias.Options) { o.Agents["tools"] = tools })
		scope := agentalias.ViaAgent("tools")
		const rounds = 100
		for i := range rounds {
			key := fmt.Sprintf("s%d", i)
			mustCreateSession(t, h.r, scope, session.Params{Key: key})
			mustSubmit(t, h.r, scope, key, "go")
			in := agentalias.Input{Type: agentalias.InputToolOutput, ToolOutputs: []agentalias.ToolOutput{{Type: "success", EventID: event.NewID("call_" + key), Output: map[string]any{"ok": true}}}}
			var wg sync.WaitGroup
			var ok atomic.Int64
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := h.r.Submit(ctx, scope, key, in, nil)
					switch agentalias.ErrorCode(err) {
					case "":
						ok.Add(1)
					case agentalias.Invalid, agentalias.Conflict:
					default:
						t.Errorf("Submit(tool_output): %v", err)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 1 {
				t.Fatalf("round %d: %d answers to one call were taken, want 1", i, ok.Load())
			}
			var outputs int
			for _, ev := range allEvents(t, h.r, scope, key, true) {
				if ev.Type == event.ToolOutput {
					outputs++
				}
			}
			if outputs != 1 {
				t.Fatalf("round %d: %d tool_output events stored, want 1", i, outputs)
			}
		}
		if answers.Load() != rounds {
			t.Errorf("the agent ran %d tool_output turns for %d calls", answers.Load(), rounds)
		}
	})
}
