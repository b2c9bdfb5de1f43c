package agentalias_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// waitFor receives from ch or fails after a generous timeout, so that a
// broken router fails the test instead of hanging it.
func waitFor[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// submitResult is the outcome of a Submit run in a goroutine.
type submitResult struct {
	resp *agentalias.Response
	err  error
}

func submitAsync(ctx context.Context, r *agentalias.AliasRouter, scope agentalias.Scope, key string, in agentalias.Input, onEvent func(*event.Event)) <-chan submitResult {
	ch := make(chan submitResult, 1)
	go func() {
		resp, err := r.Submit(ctx, scope, key, in, onEvent)
		ch <- submitResult{resp, err}
	}()
	return ch
}

func text(s string) agentalias.Input {
	return agentalias.Input{Messages: []event.Input{event.Text(s)}}
}

// blocker is an agent that, for the input "block", reports that it started
// and then waits for its context to end; for anything else it replies.
type blocker struct {
	started  chan struct{}
	returned chan error    // ctx.Err() seen by the agent, when it returns
	linger   time.Duration // how long the agent takes to stop once cancelled
}

func newBlocker() *blocker {
	return &blocker{started: make(chan struct{}, 1), returned: make(chan error, 1)}
}

func (b *blocker) Run(ctx context.Context, t *agentalias.Turn) error {
	if inputText(t.Input) != "block" {
		return t.Reply("reply to " + inputText(t.Input))
	}
	if err := t.Think("working"); err != nil {
		return err
	}
	b.started <- struct{}{}
	<-ctx.Done()
	time.Sleep(b.linger)
	b.returned <- ctx.Err()
	return ctx.Err()
}

func TestAliasRouter_Submit(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		t.Run("InputMessage", func(t *testing.T) {
			var router atomic.Pointer[agentalias.AliasRouter]
			statusInside := make(chan session.Status, 2)
			release := make(chan struct{})
			var history [][]string
			agent := agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
				history = append(history, eventIDs(t.History))
				s, err := router.Load().Session(ctx, agentalias.ViaAlias("support"), t.Session.Key)
				if err != nil {
					return err
				}
				statusInside <- s.Status
				statusInside <- t.Session.Status
				if err := t.Think("thinking"); err != nil {
					return err
				}
				if err := t.Reply("first"); err != nil {
					return err
				}
				if inputText(t.Input) == "wait" {
					<-release // until the test has seen "first"
				}
				if _, err := t.Emit(&event.Event{Type: event.ToolInput, ToolCallID: "call-1", ToolConfigurationName: "web", ToolName: "search",
					ToolInput: map[string]any{"q": "weather"}}); err != nil {
					return err
				}
				return t.Reply("second")
			})
			h := newHarness(t, newStore, func(o *agentalias.Options) { o.Agents["live"] = agent })
			router.Store(h.r)
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("live")})
			s := mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "s", TTIMinutes: 10})
			if s.Status != session.Unstarted {
				t.Errorf("new session status = %s, want unstarted", s.Status)
			}

			live := make(chan *event.Event)
			done := submitAsync(ctx, h.r, agentalias.ViaAlias("support"), "s", text("wait"), func(ev *event.Event) { live <- ev })
			var seen []*event.Event
			for len(seen) < 3 {
				seen = append(seen, waitFor(t, live, "a live event"))
			}
			if diff := cmp.Diff([]event.Type{event.InputMessage, event.Thinking, event.AgentOutput}, eventTypes(seen)); diff != "" {
				t.Fatalf("live events before release (-want +got):\n%s", diff)
			}
			if seen[2].Content != "first" {
				t.Errorf("live reply = %q", seen[2].Content)
			}
			select {
			case <-done:
				t.Fatal("Submit returned before the agent was released: events were not delivered live")
			default:
			}
			// The events delivered so far are already stored.
			if diff := cmp.Diff(eventIDs(seen), eventIDs(allEvents(t, h.r, agentalias.ViaAlias("support"), "s", true))); diff != "" {
				t.Errorf("stored while running (-live +stored):\n%s", diff)
			}
			if got := waitFor(t, statusInside, "status"); got != session.Running {
				t.Errorf("status seen by the agent through the router = %s, want running", got)
			}
			if got := waitFor(t, statusInside, "status"); got != session.Running {
				t.Errorf("Turn.Session.Status = %s, want running", got)
			}
			close(release)
			for len(seen) < 5 {
				seen = append(seen, waitFor(t, live, "a live event"))
			}
			res := waitFor(t, done, "Submit")
			if res.err != nil {
				t.Fatalf("Submit: %v", res.err)
			}
			want := []event.Type{event.InputMessage, event.Thinking, event.AgentOutput, event.ToolInput, event.AgentOutput}
			if diff := cmp.Diff(want, eventTypes(res.resp.Events)); diff != "" {
				t.Errorf("response events (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(seen, res.resp.Events, equateEmpty); diff != "" {
				t.Errorf("live events differ from the response (-live +response):\n%s", diff)
			}
			stored := allEvents(t, h.r, agentalias.ViaAlias("support"), "s", true)
			if diff := cmp.Diff(res.resp.Events, stored, equateEmpty); diff != "" {
				t.Errorf("stored events differ from the response (-response +stored):\n%s", diff)
			}
			in := stored[0]
			if in.SessionKey != "s" || !in.CreatedAt.Equal(h.clock.Now()) || !cmp.Equal(in.Messages, []event.Input{event.Text("wait")}) {
				t.Errorf("input event = %+v", in)
			}
			if res.resp.SessionKey != "s" {
				t.Errorf("Response.SessionKey = %q", res.resp.SessionKey)
			}
			after, err := h.r.Session(ctx, agentalias.ViaAgent("live"), "s")
			if err != nil {
				t.Fatal(err)
			}
			if after.Status != session.Stopped {
				t.Errorf("status after the turn = %s, want stopped", after.Status)
			}

			// The next turn sees the history, and activity restarts the
			// idle clock.
			h.clock.Advance(9 * time.Minute)
			resp := mustSubmit(t, h.r, agentalias.ViaAgent("live"), "s", "again")
			h.clock.Advance(9 * time.Minute)
			if _, err := h.r.Session(ctx, agentalias.ViaAgent("live"), "s"); err != nil {
				t.Errorf("session expired despite activity: %v", err)
			}
			if diff := cmp.Diff([][]string{{}, eventIDs(stored)}, history, equateEmpty); diff != "" {
				t.Errorf("histories (-want +got):\n%s", diff)
			}
			if n := len(allEvents(t, h.r, agentalias.ViaAgent("live"), "s", true)); n != len(stored)+len(resp.Events) {
				t.Errorf("%d events stored after two turns", n)
			}
		})
		t.Run("ConflictAndInterrupt", func(t *testing.T) {
			b := newBlocker()
			h := newHarness(t, newStore, func(o *agentalias.Options) { o.Agents["blocker"] = b })
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("blocker")})
			scope := agentalias.ViaAlias("support")
			mustCreateSession(t, h.r, scope, session.Params{Key: "s"})

			var liveMu sync.Mutex
			var live []event.Type
			done := submitAsync(ctx, h.r, scope, "s", text("block"), func(ev *event.Event) {
				liveMu.Lock()
				defer liveMu.Unlock()
				live = append(live, ev.Type)
			})
			waitFor(t, b.started, "the agent to start")

			_, err := h.r.Submit(ctx, agentalias.ViaAgent("blocker"), "s", text("again"), nil)
			wantCode(t, err, agentalias.Conflict)
			if got := agentalias.ErrorMessage(err); got != "Session is already running." {
				t.Errorf("message = %q", got)
			}
			wantCode(t, h.r.DeleteSession(ctx, scope, "s"), agentalias.Conflict)
			if s, _ := h.r.Session(ctx, scope, "s"); s.Status != session.Running {
				t.Errorf("status while running = %s", s.Status)
			}

			var interruptEvents []event.Type
			resp, err := h.r.Submit(ctx, scope, "s", agentalias.Input{Type: agentalias.InputInterrupt}, func(ev *event.Event) {
				interruptEvents = append(interruptEvents, ev.Type)
			})
			if err != nil {
				t.Fatalf("interrupt: %v", err)
			}
			if diff := cmp.Diff([]event.Type{event.SessionInterrupted}, eventTypes(resp.Events)); diff != "" {
				t.Errorf("interrupt response (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]event.Type{event.SessionInterrupted}, interruptEvents); diff != "" {
				t.Errorf("interrupt live events (-want +got):\n%s", diff)
			}
			if err := waitFor(t, b.returned, "the agent to return"); !errors.Is(err, context.Canceled) {
				t.Errorf("the agent's ctx.Err() = %v, want Canceled", err)
			}
			res := waitFor(t, done, "the interrupted Submit")
			if res.err != nil {
				t.Errorf("interrupted Submit: %v", res.err)
			}
			want := []event.Type{event.InputMessage, event.Thinking, event.SessionInterrupted}
			if diff := cmp.Diff(want, eventTypes(res.resp.Events)); diff != "" {
				t.Errorf("interrupted turn's events (-want +got):\n%s", diff)
			}
			liveMu.Lock()
			if diff := cmp.Diff(want, live); diff != "" {
				t.Errorf("interrupted turn's live events (-want +got):\n%s", diff)
			}
			liveMu.Unlock()

			// The session is usable afterwards.
			if s, _ := h.r.Session(ctx, scope, "s"); s.Status != session.Stopped {
				t.Errorf("status after the interrupt = %s, want stopped", s.Status)
			}
			resp = mustSubmit(t, h.r, scope, "s", "hello")
			if diff := cmp.Diff([]event.Type{event.InputMessage, event.AgentOutput}, eventTypes(resp.Events)); diff != "" {
				t.Errorf("next turn (-want +got):\n%s", diff)
			}
			// session_interrupted is delivered, not stored.
			stored := eventTypes(allEvents(t, h.r, scope, "s", true))
			if diff := cmp.Diff([]event.Type{event.InputMessage, event.Thinking, event.InputMessage, event.AgentOutput}, stored); diff != "" {
				t.Errorf("stored events (-want +got):\n%s", diff)
			}
			// An interrupt with nothing running still answers.
			resp, err = h.r.Submit(ctx, scope, "s", agentalias.Input{Type: agentalias.InputInterrupt}, nil)
			if err != nil || len(resp.Events) != 1 || resp.Events[0].Type != event.SessionInterrupted {
				t.Errorf("idle interrupt = %+v, %v", resp, err)
			}
			if err := h.r.DeleteSession(ctx, scope, "s"); err != nil {
				t.Errorf("DeleteSession after the turn: %v", err)
			}
		})
		t.Run("LongTurnIsNotIdle", func(t *testing.T) {
			b := newBlocker()
			h := newHarness(t, newStore, func(o *agentalias.Options) { o.Agents["blocker"] = b })
			scope := agentalias.ViaAgent("blocker")
			mustCreateSession(t, h.r, scope, session.Params{Key: "s", TTIMinutes: 1})
			done := submitAsync(ctx, h.r, scope, "s", text("block"), nil)
			waitFor(t, b.started, "the agent to start")
			// The turn outlasts the idle time-to-live: the session is busy,
			// not idle, so it stays visible, unswept and interruptible.
			h.clock.Advance(5 * time.Minute)
			if s, err := h.r.Session(ctx, scope, "s"); err != nil || s.Status != session.Running {
				t.Errorf("session during a long turn = %+v, %v; want it running", s, err)
			}
			if _, err := h.r.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := h.r.Submit(ctx, scope, "s", agentalias.Input{Type: agentalias.InputInterrupt}, nil); err != nil {
				t.Fatalf("interrupting a long turn: %v", err)
			}
			if res := waitFor(t, done, "the interrupted turn"); res.err != nil {
				t.Errorf("interrupted turn: %v", res.err)
			}
			if n := len(allEvents(t, h.r, scope, "s", true)); n != 2 {
				t.Errorf("%d events after the long turn, want 2", n)
			}
			// The idle clock restarts when the turn ends.
			h.clock.Advance(59 * time.Second)
			if _, err := h.r.Session(ctx, scope, "s"); err != nil {
				t.Errorf("just before the idle time-to-live: %v", err)
			}
			h.clock.Advance(time.Second)
			_, err := h.r.Session(ctx, scope, "s")
			wantCode(t, err, agentalias.NotFound)
		})
		t.Run("ClientDisconnect", func(t *testing.T) {
			b := newBlocker()
			h := newHarness(t, newStore, func(o *agentalias.Options) { o.Agents["blocker"] = b })
			scope := agentalias.ViaAgent("blocker")
			mustCreateSession(t, h.r, scope, session.Params{Key: "s"})
			cctx, cancel := context.WithCancel(ctx)
			done := submitAsync(cctx, h.r, scope, "s", text("block"), nil)
			waitFor(t, b.started, "the agent to start")
			cancel()
			if err := waitFor(t, b.returned, "the agent to see the disconnect"); !errors.Is(err, context.Canceled) {
				t.Errorf("the agent's ctx.Err() = %v, want Canceled", err)
			}
			res := waitFor(t, done, "Submit")
			// The agent stopped as asked: not an agent failure.
			if code := agentalias.ErrorCode(res.err); code == agentalias.Internal {
				t.Errorf("Submit after a disconnect = %v; want a cancellation, not Internal", res.err)
			}
			if !errors.Is(res.err, context.Canceled) {
				t.Errorf("errors.Is(%v, context.Canceled) = false", res.err)
			}
			if res.resp == nil || len(res.resp.Events) < 2 {
				t.Errorf("Submit after a disconnect = %+v, %v; want the events delivered so far", res.resp, res.err)
			}
			if s, _ := h.r.Session(ctx, scope, "s"); s.Status != session.Stopped {
				t.Errorf("status after a disconnect = %s, want stopped", s.Status)
			}
			mustSubmit(t, h.r, scope, "s", "hello")
		})
		t.Run("AgentFails", func(t *testing.T) {
			errBoom := errors.New("boom: db password is hunter2")
			failing := agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
				switch inputText(t.Input) {
				case "fail":
					t.Think("partial")
					return errBoom
				case "panic":
					t.Think("partial")
					panic("agent bug: hunter2")
				}
				return t.Reply("fine")
			})
			h := newHarness(t, newStore, func(o *agentalias.Options) { o.Agents["flaky"] = failing })
			scope := agentalias.ViaAgent("flaky")
			mustCreateSession(t, h.r, scope, session.Params{Key: "s"})
			for _, mode := range []string{"fail", "panic"} {
				before := len(allEvents(t, h.r, scope, "s", true))
				resp, err := h.r.Submit(ctx, scope, "s", text(mode), nil)
				wantCode(t, err, agentalias.Internal)
				if strings.Contains(agentalias.ErrorMessage(err), "hunter2") {
					t.Errorf("%s: the client-safe message leaks the cause: %q", mode, agentalias.ErrorMessage(err))
				}
				if mode == "fail" && !errors.Is(err, errBoom) {
					t.Errorf("the agent's error is not kept as the cause: %v", err)
				}
				if resp == nil {
					t.Fatalf("%s: no response", mode)
				}
				want := []event.Type{event.InputMessage, event.Thinking}
				if diff := cmp.Diff(want, eventTypes(resp.Events)); diff != "" {
					t.Errorf("%s: response events (-want +got):\n%s", mode, diff)
				}
				stored := allEvents(t, h.r, scope, "s", true)[before:]
				if diff := cmp.Diff(resp.Events, stored, equateEmpty); diff != "" {
					t.Errorf("%s: stored events (-want +got):\n%s", mode, diff)
				}
				if s, _ := h.r.Session(ctx, scope, "s"); s.Status != session.Stopped {
					t.Errorf("%s: status = %s, want stopped", mode, s.Status)
				}
				resp = mustSubmit(t, h.r, scope, "s", "ok")
				if len(resp.Events) != 2 || resp.Events[1].Content != "fine" {
					t.Errorf("%s: the next turn = %v", mode, eventTypes(resp.Events))
				}
			}
		})
		t.Run("TurnOver", func(t *testing.T) {
			var kept *agentalias.Turn
			h := newHarness(t, newStore, func(o *agentalias.Options) {
				o.Agents["leaky"] = agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
					kept = t
					return nil
				})
			})
			mustCreateSession(t, h.r, agentalias.ViaAgent("leaky"), session.Params{Key: "s"})
			mustSubmit(t, h.r, agentalias.ViaAgent("leaky"), "s", "x")
			if err := kept.Reply("late"); err == nil {
				t.Error("Reply after the turn ended succeeded")
			}
			if _, err := kept.SaveArtifact(agentalias.ArtifactParams{Filename: "x", MimeType: "text/plain", Data: []byte("x")}); err == nil {
				t.Error("SaveArtifact after the turn ended succeeded")
			}
			if n := len(allEvents(t, h.r, agentalias.ViaAgent("leaky"), "s", true)); n != 1 {
				t.Errorf("%d events stored, want only the input", n)
			}
		})
		t.Run("ToolOutputs", func(t *testing.T) {
			var gotOutputs []agentalias.ToolOutput
			callID := event.NewID("call_search_1")
			tools := agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
				if t.Input.Type == agentalias.InputToolOutput {
					gotOutputs = t.Input.ToolOutputs
					return t.Reply("the answer is " + t.Input.ToolOutputs[0].Output["result"].(string))
				}
				if _, err := t.Emit(&event.Event{ID: callID, Type: event.ToolInput, ToolCallID: callID, ToolConfigurationName: "web",
					ToolName: "search", ToolInput: map[string]any{"q": "answer"}}); err != nil {
					return err
				}
				return t.AwaitClientTools(event.PendingCall{EventID: callID, ToolConfigurationName: "web", ToolName: "search",
					Arguments: map[string]any{"q": "answer"}})
			})
			h := newHarness(t, newStore, func(o *agentalias.Options) { o.Agents["tools"] = tools })
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("tools")})
			scope := agentalias.ViaAlias("support")
			mustCreateSession(t, h.r, scope, session.Params{Key: "s"})

			resp := mustSubmit(t, h.r, scope, "s", "what is the answer?")
			if diff := cmp.Diff([]event.Type{event.InputMessage, event.ToolInput, event.ClientToolPending}, eventTypes(resp.Events)); diff != "" {
				t.Fatalf("first turn (-want +got):\n%s", diff)
			}
			wantCall := event.PendingCall{EventID: callID, ToolConfigurationName: "web", ToolName: "search", Arguments: map[string]any{"q": "answer"}}
			if diff := cmp.Diff([]event.PendingCall{wantCall}, resp.Events[2].PendingCalls); diff != "" {
				t.Errorf("client_tool_pending (-want +got):\n%s", diff)
			}
			for _, sc := range []agentalias.Scope{scope, agentalias.ViaAgent("tools")} {
				calls, err := h.r.OutstandingToolCalls(ctx, sc, "s")
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]event.PendingCall{wantCall}, calls); diff != "" {
					t.Errorf("OutstandingToolCalls (-want +got):\n%s", diff)
				}
			}
			storedBefore := allEvents(t, h.r, scope, "s", true)
			if diff := cmp.Diff([]event.Type{event.InputMessage, event.ToolInput}, eventTypes(storedBefore)); diff != "" {
				t.Errorf("stored after the first turn (-want +got):\n%s", diff)
			}

			// Answers that do not fit are Invalid and change nothing.
			for _, tc := range []struct {
				name  string
				out   agentalias.ToolOutput
				field string
			}{
				{"unknown id", agentalias.ToolOutput{Type: "success", EventID: "aev_unknown", Output: map[string]any{"result": "x"}}, "tool_outputs[0].event_id"},
				{"malformed id", agentalias.ToolOutput{Type: "success", EventID: "nope", Output: map[string]any{}}, "tool_outputs[0].event_id"},
				{"bad type", agentalias.ToolOutput{Type: "maybe", EventID: callID}, "tool_outputs[0].type"},
			} {
				_, err := h.r.Submit(ctx, scope, "s", agentalias.Input{Type: agentalias.InputToolOutput, ToolOutputs: []agentalias.ToolOutput{tc.out}}, nil)
				e := wantCode(t, err, agentalias.Invalid)
				if _, ok := e.Fields[tc.field]; !ok {
					t.Errorf("%s: FieldErrors = %v, want %q", tc.name, e.Fields, tc.field)
				}
			}
			_, err := h.r.Submit(ctx, scope, "s", agentalias.Input{Type: agentalias.InputToolOutput}, nil)
			wantCode(t, err, agentalias.Invalid)
			if diff := cmp.Diff(storedBefore, allEvents(t, h.r, scope, "s", true), equateEmpty); diff != "" {
				t.Errorf("a refused tool output changed the events:\n%s", diff)
			}
			if calls, _ := h.r.OutstandingToolCalls(ctx, scope, "s"); len(calls) != 1 {
				t.Errorf("a refused tool output changed the outstanding calls: %v", calls)
			}

			out := agentalias.ToolOutput{Type: "success", EventID: callID, Output: map[string]any{"result": "42"}}
			resp, err = h.r.Submit(ctx, scope, "s", agentalias.Input{Type: agentalias.InputToolOutput, ToolOutputs: []agentalias.ToolOutput{out}}, nil)
			if err != nil {
				t.Fatalf("tool_output: %v", err)
			}
			if diff := cmp.Diff([]agentalias.ToolOutput{out}, gotOutputs, equateEmpty); diff != "" {
				t.Errorf("Turn.Input.ToolOutputs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]event.Type{event.ToolOutput, event.AgentOutput}, eventTypes(resp.Events)); diff != "" {
				t.Fatalf("tool output turn (-want +got):\n%s", diff)
			}
			te := resp.Events[0]
			if te.ToolCallID != callID || te.ToolName != "search" || te.ToolConfigurationName != "web" || te.Error ||
				!cmp.Equal(te.ToolOutput, map[string]any{"result": "42"}) {
				t.Errorf("tool_output event = %+v", te)
			}
			if resp.Events[1].Content != "the answer is 42" {
				t.Errorf("reply = %q", resp.Events[1].Content)
			}
			stored := allEvents(t, h.r, scope, "s", true)
			if diff := cmp.Diff([]event.Type{event.InputMessage, event.ToolInput, event.ToolOutput, event.AgentOutput}, eventTypes(stored)); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
			calls, err := h.r.OutstandingToolCalls(ctx, scope, "s")
			if err != nil || len(calls) != 0 {
				t.Errorf("OutstandingToolCalls after the answer = %v, %v; want none", calls, err)
			}
			// Answering twice is Invalid.
			_, err = h.r.Submit(ctx, scope, "s", agentalias.Input{Type: agentalias.InputToolOutput, ToolOutputs: []agentalias.ToolOutput{out}}, nil)
			if e := wantCode(t, err, agentalias.Invalid); e.Fields["tool_outputs[0].event_id"] == "" {
				t.Errorf("FieldErrors = %v", e.Fields)
			}
			// Pending calls never show on the session itself.
			if s, _ := h.r.Session(ctx, scope, "s"); s.PendingToolCalls != nil {
				t.Errorf("Session carries pending calls: %v", s.PendingToolCalls)
			}
		})
		t.Run("InvalidInput", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			scope := agentalias.ViaAgent("v1")
			mustCreateSession(t, h.r, scope, session.Params{Key: "s"})
			_, err := h.r.Submit(ctx, scope, "s", agentalias.Input{Type: "compact"}, nil)
			wantCode(t, err, agentalias.Invalid)
			if msg := agentalias.ErrorMessage(err); !strings.Contains(msg, "unsupported") || !strings.Contains(msg, "compact") {
				t.Errorf("message = %q, want it to say the type is unsupported", msg)
			}
			for _, tc := range []struct {
				in    agentalias.Input
				field string
			}{
				{agentalias.Input{}, "messages"},
				{agentalias.Input{Messages: []event.Input{{Type: "image"}}}, "messages[0].type"},
				{agentalias.Input{Messages: []event.Input{event.Text("ok"), {Type: event.InputSkill}}}, "messages[1].skill_name"},
			} {
				_, err := h.r.Submit(ctx, scope, "s", tc.in, nil)
				if e := wantCode(t, err, agentalias.Invalid); e.Fields[tc.field] == "" {
					t.Errorf("Submit(%+v): FieldErrors = %v, want %q", tc.in, e.Fields, tc.field)
				}
			}
			if evs := allEvents(t, h.r, scope, "s", true); len(evs) != 0 {
				t.Errorf("invalid inputs stored events: %v", eventTypes(evs))
			}
			if s, _ := h.r.Session(ctx, scope, "s"); s.Status != session.Unstarted {
				t.Errorf("status after invalid inputs = %s", s.Status)
			}
		})
		t.Run("DisabledSession", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			scope := agentalias.ViaAgent("v1")
			mustCreateSession(t, h.r, scope, session.Params{Key: "off", Enabled: ptr(false)})
			_, err := h.r.Submit(ctx, scope, "off", text("hi"), nil)
			wantCode(t, err, agentalias.Conflict)
			if evs := allEvents(t, h.r, scope, "off", true); len(evs) != 0 {
				t.Errorf("a refused input stored events: %v", eventTypes(evs))
			}
			if _, err := h.r.UpdateSession(ctx, scope, "off", session.Patch{Enabled: ptr(true)}); err != nil {
				t.Fatal(err)
			}
			mustSubmit(t, h.r, scope, "off", "hi")

			// A session whose agent is no longer registered cannot run.
			mustCreateSession(t, h.r, agentalias.ViaAgent("eu"), session.Params{Key: "orphan"})
			h.r.UnregisterAgent("eu")
			_, err = h.r.Submit(ctx, agentalias.ViaAgent("eu"), "orphan", text("hi"), nil)
			wantCode(t, err, agentalias.Unavailable)
		})
		t.Run("StepAndUsage", func(t *testing.T) {
			usage := session.ContextUsage{
				InputTokens: session.InputTokens{Count: 1200, CachedTokens: 200}, OutputTokens: session.OutputTokens{Count: 300, ReasoningTokens: 50},
				TotalTokens: 1500, ModelContextWindow: 128000,
			}
			h := newHarness(t, newStore, func(o *agentalias.Options) {
				o.Agents["stepper"] = agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
					if inputText(t.Input) == "quiet" {
						return t.Reply("nothing to report")
					}
					t.SetStep("collect-details")
					t.ReportUsage(usage)
					return t.Reply("ok")
				})
			})
			scope := agentalias.ViaAgent("stepper")
			s := mustCreateSession(t, h.r, scope, session.Params{Key: "s"})
			if s.CurrentStepName != nil || s.ContextUsage != nil {
				t.Errorf("a new session reports step %v, usage %v; want none (never invented)", s.CurrentStepName, s.ContextUsage)
			}
			mustSubmit(t, h.r, scope, "s", "go")
			got, err := h.r.Session(ctx, scope, "s")
			if err != nil {
				t.Fatal(err)
			}
			if got.CurrentStepName == nil || *got.CurrentStepName != "collect-details" {
				t.Errorf("CurrentStepName = %v", got.CurrentStepName)
			}
			if diff := cmp.Diff(&usage, got.ContextUsage); diff != "" {
				t.Errorf("ContextUsage (-want +got):\n%s", diff)
			}
			// A turn that reports nothing keeps the last report.
			mustSubmit(t, h.r, scope, "s", "quiet")
			got, _ = h.r.Session(ctx, scope, "s")
			if got.CurrentStepName == nil || *got.CurrentStepName != "collect-details" || got.ContextUsage == nil {
				t.Errorf("after a quiet turn: step %v, usage %v", got.CurrentStepName, got.ContextUsage)
			}
		})
	})
}

// TestAliasRouter_Close is not parallel: it counts goroutines.
func TestAliasRouter_Close(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		store := newStore(t)
		clock := newClock()
		b := newBlocker()
		b.linger = 50 * time.Millisecond // a slow stop, that Close must wait out
		baseline := runtime.NumGoroutine()

		r, err := agentalias.New(store, &agentalias.Options{
			Agents:        map[string]agentalias.Agent{"blocker": b, "v1": echo},
			Now:           clock.Now,
			SweepInterval: time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		mustCreateAlias(t, r, alias.Params{Key: "support", Policy: singlePolicy("blocker")})
		mustCreateSession(t, r, agentalias.ViaAlias("support"), session.Params{Key: "s"})
		mustCreateSession(t, r, agentalias.ViaAgent("v1"), session.Params{Key: "idle", TTIMinutes: 1})
		clock.Advance(2 * time.Minute) // give the sweeper something to do
		done := submitAsync(ctx, r, agentalias.ViaAlias("support"), "s", text("block"), nil)
		waitFor(t, b.started, "the agent to start")

		closed := make(chan error, 1)
		go func() { closed <- r.Close() }()
		if err := waitFor(t, closed, "Close"); err != nil {
			t.Fatalf("Close: %v", err)
		}
		// Close waited for the turn: the agent has returned.
		select {
		case err := <-b.returned:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("the agent's ctx.Err() = %v, want Canceled", err)
			}
		default:
			t.Fatal("Close returned before the running turn ended")
		}
		res := waitFor(t, done, "the cancelled Submit")
		if res.resp == nil || len(res.resp.Events) == 0 || res.resp.Events[len(res.resp.Events)-1].Type != event.SessionInterrupted {
			t.Errorf("the turn cut by Close = %+v, %v; want it to end with session_interrupted", res.resp, res.err)
		}
		if s, err := store.Session(ctx, "", "s"); err != nil || s.Status != session.Stopped {
			t.Errorf("after Close the session is %+v, %v; want stopped", s, err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}

		// Every method fails with Unavailable, in every tenant view.
		for _, view := range []*agentalias.AliasRouter{r, r.Tenant("other")} {
			for name, call := range everyMethod(view, "support", agentalias.ViaAlias("support"), "s", "aev_x", "art_x") {
				if err := call(ctx); agentalias.ErrorCode(err) != agentalias.Unavailable {
					t.Errorf("%s after Close: %v, want Unavailable", name, err)
				}
			}
		}

		// No goroutine is left behind.
		deadline := time.Now().Add(2 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= baseline {
				break
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("%d goroutines after Close, %d before New:\n%s", n, baseline, buf)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// everyMethod returns a call of every router method that takes a context,
// on the given alias, and on the given session, event and artifact addressed
// in scope.
func everyMethod(r *agentalias.AliasRouter, aliasKey string, scope agentalias.Scope, sessionKey, eventID, artifactID string) map[string]func(context.Context) error {
	viaAlias := agentalias.ViaAlias(aliasKey)
	msg := text("hello")
	return map[string]func(context.Context) error{
		"CreateAlias": func(ctx context.Context) error {
			_, err := r.CreateAlias(ctx, alias.Params{Key: aliasKey, Name: "x", Policy: singlePolicy("v1")})
			return err
		},
		"Alias":       func(ctx context.Context) error { _, err := r.Alias(ctx, aliasKey); return err },
		"ListAliases": func(ctx context.Context) error { _, err := r.ListAliases(ctx, storage.AliasQuery{}); return err },
		"UpdateAlias": func(ctx context.Context) error {
			_, err := r.UpdateAlias(ctx, aliasKey, alias.Patch{Name: ptr("renamed")})
			return err
		},
		"ReplacePolicy": func(ctx context.Context) error {
			_, err := r.ReplacePolicy(ctx, aliasKey, singlePolicy("v1"), nil)
			return err
		},
		"DeleteAlias": func(ctx context.Context) error { return r.DeleteAlias(ctx, aliasKey) },
		"CreateSession": func(ctx context.Context) error {
			_, err := r.CreateSession(ctx, viaAlias, session.Params{})
			return err
		},
		"CreateSession(fork)": func(ctx context.Context) error {
			_, err := r.CreateSession(ctx, agentalias.ViaAgent("v1"), session.Params{FromSession: &session.Fork{SessionKey: sessionKey}})
			return err
		},
		"Session": func(ctx context.Context) error { _, err := r.Session(ctx, scope, sessionKey); return err },
		"ListSessions": func(ctx context.Context) error {
			_, err := r.ListSessions(ctx, scope, storage.SessionQuery{})
			return err
		},
		"UpdateSession": func(ctx context.Context) error {
			_, err := r.UpdateSession(ctx, scope, sessionKey, session.Patch{Name: ptr("renamed")})
			return err
		},
		"DeleteSession": func(ctx context.Context) error { return r.DeleteSession(ctx, scope, sessionKey) },
		"Submit(input_message)": func(ctx context.Context) error {
			_, err := r.Submit(ctx, scope, sessionKey, msg, nil)
			return err
		},
		"Submit(interrupt)": func(ctx context.Context) error {
			_, err := r.Submit(ctx, scope, sessionKey, agentalias.Input{Type: agentalias.InputInterrupt}, nil)
			return err
		},
		"Submit(tool_output)": func(ctx context.Context) error {
			_, err := r.Submit(ctx, scope, sessionKey, agentalias.Input{Type: agentalias.InputToolOutput,
				ToolOutputs: []agentalias.ToolOutput{{Type: "success", EventID: eventID, Output: map[string]any{"ok": true}}}}, nil)
			return err
		},
		"OutstandingToolCalls": func(ctx context.Context) error {
			_, err := r.OutstandingToolCalls(ctx, scope, sessionKey)
			return err
		},
		"ListEvents": func(ctx context.Context) error {
			_, err := r.ListEvents(ctx, scope, sessionKey, storage.EventQuery{IncludeHidden: true})
			return err
		},
		"Event":       func(ctx context.Context) error { _, err := r.Event(ctx, scope, sessionKey, eventID); return err },
		"DeleteEvent": func(ctx context.Context) error { return r.DeleteEvent(ctx, scope, sessionKey, eventID) },
		"HideEvent": func(ctx context.Context) error {
			_, err := r.HideEvent(ctx, scope, sessionKey, eventID)
			return err
		},
		"UnhideEvent": func(ctx context.Context) error {
			_, err := r.UnhideEvent(ctx, scope, sessionKey, eventID)
			return err
		},
		"ListArtifacts": func(ctx context.Context) error {
			_, err := r.ListArtifacts(ctx, scope, sessionKey, storage.ArtifactQuery{})
			return err
		},
		"Artifact": func(ctx context.Context) error {
			_, err := r.Artifact(ctx, scope, sessionKey, artifactID)
			return err
		},
		"UploadArtifact": func(ctx context.Context) error {
			_, err := r.UploadArtifact(ctx, scope, sessionKey, agentalias.ArtifactParams{Filename: "f.txt", MimeType: "text/plain", Data: []byte("x")})
			return err
		},
		"Sweep": func(ctx context.Context) error { _, err := r.Sweep(ctx); return err },
	}
}
