package agentalias

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/internal/jsonvalue"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// The input types a session accepts.
const (
	InputMessage    = "input_message" // new messages from the user; the default
	InputInterrupt  = "interrupt"     // cancel the running turn
	InputToolOutput = "tool_output"   // results of client tool calls the agent waits on
)

// Input is what a client submits to a session (the contract's
// CreateInputRequest).
type Input struct {
	// Type is InputMessage (when ""), InputInterrupt or InputToolOutput.
	Type string

	// Messages are the parts of an input message.
	Messages []event.Input

	// ToolOutputs answer the session's outstanding client tool calls.
	ToolOutputs []ToolOutput
}

// ToolOutput is the result of one client tool call.
type ToolOutput struct {
	// Type is "success" or "error".
	Type string
	// EventID is the id of the tool_input event of the call.
	EventID string
	// Output is the tool's result, for "success".
	Output map[string]any
	// Error describes the failure, for "error": a string or a JSON object.
	Error any
}

// Response is the outcome of one input: every event delivered during the
// turn, the input's own event first.
type Response struct {
	SessionKey string
	Events     []*event.Event
}

// validate checks in and fills the default type.
func (in *Input) validate() error {
	if in.Type == "" {
		in.Type = InputMessage
	}
	fields := map[string]string{}
	switch in.Type {
	case InputMessage:
		if len(in.Messages) == 0 {
			fields["messages"] = "at least one message is required"
		}
		for i, m := range in.Messages {
			p := fmt.Sprintf("messages[%d]", i)
			switch m.Type {
			case event.InputText:
				if m.Content == "" {
					fields[p+".content"] = "is required"
				}
				if m.SkillName != "" {
					fields[p+".skill_name"] = "not allowed with type text"
				}
			case event.InputSkill:
				if m.SkillName == "" {
					fields[p+".skill_name"] = "is required"
				}
				if m.Content != "" {
					fields[p+".content"] = "not allowed with type skill"
				}
			default:
				fields[p+".type"] = fmt.Sprintf("unknown input type %q; want text or skill", m.Type)
			}
		}
	case InputInterrupt:
		if len(in.Messages) > 0 {
			fields["messages"] = "not allowed with type interrupt"
		}
		if len(in.ToolOutputs) > 0 {
			fields["tool_outputs"] = "not allowed with type interrupt"
		}
	case InputToolOutput:
		if len(in.Messages) > 0 {
			fields["messages"] = "not allowed with type tool_output"
		}
		if len(in.ToolOutputs) == 0 {
			fields["tool_outputs"] = "at least one tool output is required"
		}
		// The slice is the caller's: normalise a copy.
		in.ToolOutputs = slices.Clone(in.ToolOutputs)
		for i, o := range in.ToolOutputs {
			p := fmt.Sprintf("tool_outputs[%d]", i)
			if o.Type != "success" && o.Type != "error" {
				fields[p+".type"] = `must be "success" or "error"`
			}
			if !event.ValidID(o.EventID) {
				fields[p+".event_id"] = "must match aev_[0-9a-zA-Z_-]+"
			}
			if m, err := jsonvalue.Object(o.Output); err != nil {
				fields[p+".output"] = "must be a JSON object"
			} else {
				in.ToolOutputs[i].Output = m
			}
			if o.Type == "success" && o.Output == nil {
				fields[p+".output"] = "is required with type success"
			}
			v, err := jsonvalue.Normalize(o.Error)
			switch v.(type) {
			case string, map[string]any:
			case nil:
				if o.Type == "error" {
					fields[p+".error"] = "is required with type error"
				}
			default:
				err = errors.New("not a string or an object")
			}
			if err != nil {
				fields[p+".error"] = "must be a string or a JSON object"
			} else {
				in.ToolOutputs[i].Error = v
			}
		}
	default:
		return &Error{Code: Invalid, Message: fmt.Sprintf("unsupported input type %q: this library accepts input_message, interrupt and tool_output", in.Type),
			Fields: map[string]string{"type": "unsupported input type"}}
	}
	if len(fields) > 0 {
		return &Error{Code: Invalid, Message: "invalid input", Fields: fields}
	}
	return nil
}

// turnKey names a session across tenants.
type turnKey struct{ tenant, session string }

// running is a turn in progress in this router.
type running struct {
	cancel  context.CancelCauseFunc
	done    chan struct{}
	claimed atomic.Bool // the turn holds the session's claim in the store
}

var errInterrupted = errors.New("interrupted by the client")

// Submit sends one input to a session and, for an input message or tool
// output, runs the session's agent for one turn. onEvent, if not nil,
// receives every event as it is delivered (for streaming), on the agent's
// goroutine; it must not block for long.
//
// A second input while a turn is running, through this router or another
// sharing the store, is Conflict ("Session is already running.") and stores
// nothing; an interrupt cancels the turn this router runs, if any, and waits
// for it to end. A turn is cancelled after Options.TurnTimeout.
// If the agent fails or panics, Submit returns what was delivered so far and
// an Internal error; the session stays usable. Cancelling ctx (a client that
// disconnects) cancels the turn.
func (r *AliasRouter) Submit(ctx context.Context, scope Scope, sessionKey string, in Input, onEvent func(*event.Event)) (*Response, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	sess, err := r.session(ctx, scope, sessionKey)
	if err != nil {
		return nil, err
	}
	tk := turnKey{r.tenant, sess.Key}
	if in.Type == InputInterrupt {
		return r.interrupt(ctx, tk, sess.Key, onEvent)
	}
	if !sess.Enabled {
		return nil, &Error{Code: Conflict, Message: "The session is disabled and does not accept input."}
	}
	agent := r.agent(sess.AgentKey)
	if agent == nil {
		return nil, &Error{Code: Unavailable, Message: fmt.Sprintf("agent %s is not registered", sess.AgentKey)}
	}
	var answered map[string]event.PendingCall
	if in.Type == InputToolOutput {
		if answered, err = checkToolOutputs(sess, in.ToolOutputs); err != nil {
			return nil, err
		}
	}

	// One turn at a time per session.
	turnCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	run := &running{cancel: cancel, done: make(chan struct{})}
	r.turnsMu.Lock()
	if r.closed.Load() {
		r.turnsMu.Unlock()
		return nil, &Error{Code: Unavailable, Message: "the router is closed"}
	}
	if r.turns[tk] != nil {
		r.turnsMu.Unlock()
		return nil, &Error{Code: Conflict, Message: "Session is already running."}
	}
	r.turns[tk] = run
	r.turnsMu.Unlock()
	defer func() {
		r.turnsMu.Lock()
		delete(r.turns, tk)
		r.turnsMu.Unlock()
		close(run.done)
	}()
	// ... and across the routers sharing the store: the session is marked
	// running, until a deadline, by a compare-and-set.
	before, err := r.claimTurn(ctx, sess, in)
	if err != nil {
		return nil, err
	}
	run.claimed.Store(true)
	sess = before.claimed
	answered = before.answered
	release := func() {
		if err := r.releaseTurn(sess.Key, sess.TurnID, before.prev); err != nil {
			r.log.Warn("agentalias: releasing a turn that failed to start", "session", sess.Key, "tenant", r.tenant, "err", err)
		}
	}
	turnCtx, stop := context.WithTimeoutCause(turnCtx, r.opts.TurnTimeout, errTurnTimeout)
	defer stop()

	history, err := r.allEvents(ctx, sess.Key)
	if err != nil {
		release()
		return nil, err
	}
	t := &Turn{Session: sess, Input: in, History: history, r: r, emit: onEvent}

	// The input itself is the first event of the turn.
	if err := r.recordInput(t, answered); err != nil {
		t.end()
		release()
		return nil, err
	}

	stopWatching := r.watchInterrupts(turnCtx, sess.Key, sess.TurnID, cancel)
	runErr := runAgent(turnCtx, agent, t)
	stopWatching()
	cause := context.Cause(turnCtx)
	switch {
	case errors.Is(cause, errInterrupted) || errors.Is(cause, errClosing):
		t.Emit(&event.Event{Type: event.SessionInterrupted})
		runErr = nil
	case errors.Is(cause, errTurnTimeout) && ctx.Err() == nil:
		t.Emit(&event.Event{Type: event.SessionInterrupted})
		runErr = fmt.Errorf("%w (%v)", errTurnTimeout, r.opts.TurnTimeout)
	}
	events := t.end()

	// Record the outcome whatever happened: the session must not stay
	// "running". (Unless the claim is no longer this turn's: it outlived its
	// deadline and another turn claimed the session, which that turn ends.)
	_, err = r.changeSessionIf(context.Background(), sess.Key, func(s *session.Session) bool {
		if s.TurnID != sess.TurnID {
			return false
		}
		s.Status = session.Stopped
		s.TurnDeadline, s.InterruptAt, s.TurnID = time.Time{}, time.Time{}, ""
		s.Touch(r.now())
		if t.step != nil {
			s.CurrentStepName = t.step
		}
		if t.usage != nil {
			s.ContextUsage = t.usage
		}
		if t.paused {
			s.PendingToolCalls = append(s.PendingToolCalls, t.pending...)
		}
		return true
	})
	resp := &Response{SessionKey: sess.Key, Events: events}
	if runErr != nil && ctx.Err() != nil {
		// The caller went away (or timed out) and the agent stopped, as
		// Agent.Run is asked to: that is not a failure of the agent.
		return resp, classify(ctx.Err(), "session", sess.Key)
	}
	if runErr != nil {
		r.log.Error("agentalias: agent failed", "agent", sess.AgentKey, "session", sess.Key, "tenant", r.tenant, "err", runErr)
		return resp, &Error{Code: Internal, Message: fmt.Sprintf("agent %s failed; the turn was ended", sess.AgentKey), Err: runErr}
	}
	if err != nil && !errors.Is(err, errGone) {
		return resp, err
	}
	return resp, nil
}

// errTurnTimeout cancels a turn that runs longer than Options.TurnTimeout.
var errTurnTimeout = errors.New("the turn ran longer than the router's TurnTimeout")

// claim is a session claimed for a turn: as stored before and after the
// claim, and the pending tool calls the input answers.
type claim struct {
	prev, claimed *session.Session
	answered      map[string]event.PendingCall
}

// claimGrace is how long the stored claim of a turn outlasts the turn's own
// timeout, so that a turn still winding down after its context was cancelled
// keeps the session to itself.
const claimGrace = 30 * time.Second

// claimTurn marks a session running for a turn of in, in the store, by a
// compare-and-set on its revision: of inputs racing to the same session,
// through this router or another sharing the store, one wins and the others
// are Conflict ("Session is already running."). The claim carries a random
// TurnID, which only its turn clears, and lasts until TurnDeadline
// (TurnTimeout plus claimGrace), after which a session left running by a
// router that crashed takes input again. For a tool output, the answered
// calls are checked and removed in the same update, so two answers to one
// call cannot both be taken. scoped is the session as the caller found it:
// a different session stored under its key since is NotFound.
func (r *AliasRouter) claimTurn(ctx context.Context, scoped *session.Session, in Input) (*claim, error) {
	key := scoped.Key
	for range maxRetries {
		s, err := r.store.Session(ctx, r.tenant, key)
		if err == nil && (s.Expired(r.now()) || s.AgentKey != scoped.AgentKey || s.AliasKey != scoped.AliasKey || !s.CreatedAt.Equal(scoped.CreatedAt)) {
			err = storage.ErrNotFound
		}
		if err != nil {
			return nil, sessionErr(err, key)
		}
		now := r.now()
		switch {
		case s.Status == session.Running && now.Before(s.TurnDeadline):
			return nil, &Error{Code: Conflict, Message: "Session is already running."}
		case !s.Enabled:
			return nil, &Error{Code: Conflict, Message: "The session is disabled and does not accept input."}
		}
		c := &claim{prev: s.Clone()}
		if in.Type == InputToolOutput {
			if c.answered, err = checkToolOutputs(s, in.ToolOutputs); err != nil {
				return nil, err
			}
			s.PendingToolCalls = remaining(s.PendingToolCalls, c.answered)
		}
		s.Status = session.Running
		s.TurnID = r.token()
		s.TurnDeadline, s.InterruptAt = now.Add(r.opts.TurnTimeout+claimGrace), time.Time{}
		// A running session is not idle: it does not expire while the turn
		// runs, and the update that ends the turn restarts the idle clock.
		s.ExpiresAt = time.Time{}
		if err := ctx.Err(); err != nil {
			return nil, classify(err, "session", key)
		}
		// The write is not cut short by ctx: a claim the store committed
		// although the caller saw an error would hold the session for the
		// whole deadline, with no turn to end it.
		c.claimed, err = r.store.UpdateSession(context.WithoutCancel(ctx), r.tenant, s)
		switch {
		case errors.Is(err, storage.ErrConflict):
			continue
		case err != nil:
			return nil, sessionErr(err, key)
		}
		return c, nil
	}
	return nil, &Error{Code: Conflict, Message: "the session is being changed concurrently; retry"}
}

// releaseTurn undoes claimTurn for a turn that failed before its agent
// ran, if the claim is still turnID's: status, deadline, expiry and pending
// calls go back to what they were.
func (r *AliasRouter) releaseTurn(key, turnID string, prev *session.Session) error {
	_, err := r.changeSessionIf(context.Background(), key, func(s *session.Session) bool {
		if s.TurnID != turnID {
			return false
		}
		s.Status = prev.Status
		s.TurnDeadline, s.InterruptAt, s.TurnID = prev.TurnDeadline, prev.InterruptAt, prev.TurnID
		s.ExpiresAt = prev.ExpiresAt
		s.PendingToolCalls = prev.PendingToolCalls
		return true
	})
	return err
}

// runAgent runs one turn, turning a panic into an error.
func runAgent(ctx context.Context, a Agent, t *Turn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("agent panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return a.Run(ctx, t)
}

// interrupt cancels the running turn of a session, if any, and waits for it
// to end: at once if this router runs it, through the store if another
// router sharing the store does.
func (r *AliasRouter) interrupt(ctx context.Context, tk turnKey, sessionKey string, onEvent func(*event.Event)) (*Response, error) {
	r.turnsMu.Lock()
	run := r.turns[tk]
	r.turnsMu.Unlock()
	if run != nil && run.claimed.Load() {
		run.cancel(errInterrupted)
		<-run.done
	} else if r.opts.InterruptPoll > 0 {
		// No turn here, or only an input that has not (yet) claimed the
		// session and may be refused: the turn, if any, runs elsewhere.
		if err := r.interruptElsewhere(ctx, sessionKey); err != nil {
			return nil, err
		}
	}
	ev := &event.Event{ID: event.NewID(r.token()), SessionKey: sessionKey, CreatedAt: r.now(), Type: event.SessionInterrupted}
	if onEvent != nil {
		onEvent(ev.Clone())
	}
	return &Response{SessionKey: sessionKey, Events: []*event.Event{ev}}, nil
}

// interruptElsewhere asks the router running a turn of the session, another
// one sharing the store, to cancel it, by setting the session's InterruptAt;
// that router's watchInterrupts sees it within InterruptPoll. It then waits
// until that turn has ended, looking five times an InterruptPoll, at most 50
// times (the router may have crashed, leaving the session claimed until its
// deadline).
func (r *AliasRouter) interruptElsewhere(ctx context.Context, key string) error {
	var turnID string
	for attempt := 0; ; attempt++ {
		s, err := r.store.Session(ctx, r.tenant, key)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return sessionErr(err, key)
		}
		if s.Status != session.Running || !r.now().Before(s.TurnDeadline) {
			return nil // no turn runs
		}
		turnID = s.TurnID
		if !s.InterruptAt.IsZero() {
			break // already asked
		}
		s.InterruptAt = r.now()
		_, err = r.store.UpdateSession(ctx, r.tenant, s)
		if err == nil {
			break
		}
		if !errors.Is(err, storage.ErrConflict) || attempt == maxRetries {
			return sessionErr(err, key)
		}
	}
	ticker := time.NewTicker(max(r.opts.InterruptPoll/5, 5*time.Millisecond))
	defer ticker.Stop()
	for range 50 {
		select {
		case <-ctx.Done():
			return classify(ctx.Err(), "session", key)
		case <-ticker.C:
		}
		s, err := r.store.Session(ctx, r.tenant, key)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return nil
		case err != nil:
			return sessionErr(err, key)
		case s.Status != session.Running || s.TurnID != turnID:
			return nil // the turn has ended
		}
	}
	return nil
}

// watchInterrupts watches the store for an interrupt of the turn turnID,
// sent through another router, and cancels the turn when one comes. The
// returned function stops the watcher and waits for it.
func (r *AliasRouter) watchInterrupts(ctx context.Context, key, turnID string, cancel context.CancelCauseFunc) (stop func()) {
	if r.opts.InterruptPoll <= 0 {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(r.opts.InterruptPoll)
		defer ticker.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			s, err := r.store.Session(ctx, r.tenant, key)
			if err == nil && s.TurnID == turnID && !s.InterruptAt.IsZero() {
				cancel(errInterrupted)
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// checkToolOutputs matches tool outputs to the session's outstanding calls.
func checkToolOutputs(sess *session.Session, outs []ToolOutput) (map[string]event.PendingCall, error) {
	pending := map[string]event.PendingCall{}
	for _, c := range sess.PendingToolCalls {
		pending[c.EventID] = c
	}
	answered := map[string]event.PendingCall{}
	fields := map[string]string{}
	for i, o := range outs {
		c, ok := pending[o.EventID]
		switch {
		case !ok:
			fields[fmt.Sprintf("tool_outputs[%d].event_id", i)] = "the session has no outstanding client tool call with this id"
		case answered[o.EventID].EventID != "":
			fields[fmt.Sprintf("tool_outputs[%d].event_id", i)] = "answered twice"
		default:
			answered[o.EventID] = c
		}
	}
	if len(fields) > 0 {
		return nil, &Error{Code: Invalid, Message: "invalid tool outputs", Fields: fields}
	}
	return answered, nil
}

func remaining(calls []event.PendingCall, answered map[string]event.PendingCall) []event.PendingCall {
	var out []event.PendingCall
	for _, c := range calls {
		if _, ok := answered[c.EventID]; !ok {
			out = append(out, c)
		}
	}
	return out
}

// recordInput stores the input of a turn as its first event(s).
func (r *AliasRouter) recordInput(t *Turn, answered map[string]event.PendingCall) error {
	in := t.Input
	if in.Type == InputMessage {
		_, err := t.Emit(&event.Event{Type: event.InputMessage, Messages: in.Messages})
		return err
	}
	for _, o := range in.ToolOutputs {
		call := answered[o.EventID]
		ev := &event.Event{
			Type: event.ToolOutput, ToolCallID: o.EventID,
			ToolConfigurationName: call.ToolConfigurationName, ToolName: call.ToolName,
			ToolOutput: o.Output, Error: o.Type == "error",
		}
		if ev.ToolConfigurationName == "" {
			ev.ToolConfigurationName = call.ToolName
		}
		if o.Type == "error" {
			ev.ToolOutput = map[string]any{"error": o.Error}
		}
		if _, err := t.Emit(ev); err != nil {
			return err
		}
	}
	return nil
}
