package agentalias

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/session"
)

// Agent is one of the host's agents. The router calls Run once per input, on
// the goroutine of the caller that submitted it, one turn at a time per
// session.
type Agent interface {
	// Run runs one turn: it reads t.Session, t.Input and t.History, and
	// reports what it does through t (Reply, Emit, SaveArtifact, ...), each
	// of which is stored at once and delivered live to a streaming caller.
	// ctx is cancelled when the client interrupts the turn, disconnects, or
	// the router closes; Run should then return promptly. An error or a
	// panic ends the turn with an error outcome; what was emitted before it
	// stays, and the session remains usable.
	Run(ctx context.Context, t *Turn) error
}

// AgentFunc adapts a function to the Agent interface.
type AgentFunc func(ctx context.Context, t *Turn) error

// Run calls f(ctx, t).
func (f AgentFunc) Run(ctx context.Context, t *Turn) error { return f(ctx, t) }

// Turn is one run of an agent for one input. Its methods are safe for
// concurrent use by the goroutines of one agent run, and fail once Run has
// returned.
type Turn struct {
	// Session is the session, with its secrets (only agents see them).
	Session *session.Session

	// Input is what the client sent.
	Input Input

	// History is the session's visible events before this input, oldest
	// first.
	History []*event.Event

	r    *AliasRouter
	mu   sync.Mutex
	over bool
	out  []*event.Event // everything delivered in this turn
	emit func(*event.Event)

	step    *string
	usage   *session.ContextUsage
	pending []event.PendingCall
	paused  bool
}

// errTurnOver is returned by Turn methods after the turn ended.
var errTurnOver = errors.New("agentalias: the turn is over")

// Emit stores ev in the session's history (unless its type is transient),
// delivers it to a streaming caller, and returns the stored copy. The router
// fills in ID (when empty), SessionKey and CreatedAt; a tool_input event's
// ID is what AwaitClientTools needs. An invalid event is an error and is not
// stored.
func (t *Turn) Emit(ev *event.Event) (*event.Event, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, err := t.emitLocked(ev)
	if err != nil {
		return nil, err
	}
	return e.Clone(), nil
}

func (t *Turn) emitLocked(ev *event.Event) (*event.Event, error) {
	if t.over {
		return nil, errTurnOver
	}
	e := ev.Clone()
	if e.ID == "" {
		e.ID = event.NewID(t.r.token())
	}
	e.SessionKey = t.Session.Key
	e.CreatedAt = t.r.now()
	if err := e.Validate(); err != nil {
		return nil, invalid(err, "invalid event")
	}
	if !e.Type.Transient() {
		// A detached context: an interrupted turn still records what it
		// emitted before it noticed.
		if err := t.r.store.AppendEvents(contextBackground, t.r.tenant, t.Session.Key, []*event.Event{e}); err != nil {
			return nil, classify(err, "event", e.ID)
		}
	}
	t.out = append(t.out, e)
	if t.emit != nil {
		t.emit(e.Clone())
	}
	return e, nil
}

var contextBackground = context.Background()

// Reply emits an agent_output event with the complete response text.
func (t *Turn) Reply(text string) error {
	_, err := t.Emit(&event.Event{Type: event.AgentOutput, Content: text})
	return err
}

// Think emits a thinking event.
func (t *Turn) Think(text string) error {
	_, err := t.Emit(&event.Event{Type: event.Thinking, Content: text})
	return err
}

// ArtifactParams describe a file to store as an artifact of a session.
type ArtifactParams struct {
	Filename    string
	MimeType    string
	Data        []byte
	Description string
	Metadata    map[string]any
	// TTLDays, if above 0, deletes the artifact that many days after
	// creation.
	TTLDays int64
}

// SaveArtifact stores a file the agent made as an artifact of the session
// and emits an artifact_upload event naming it.
func (t *Turn) SaveArtifact(p ArtifactParams) (*artifact.Artifact, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.over {
		return nil, errTurnOver
	}
	a, err := t.r.saveArtifact(contextBackground, t.Session.Key, p, "agent")
	if err != nil {
		return nil, err
	}
	if _, err := t.emitLocked(uploadEvent(a)); err != nil {
		return nil, err
	}
	return a, nil
}

// AwaitClientTools pauses the turn for tools the client must run: it
// records calls as the session's outstanding client tool calls and delivers a
// client_tool_pending event. The agent should return from Run after it; the
// client answers with a tool_output input, which starts the next turn.
func (t *Turn) AwaitClientTools(calls ...event.PendingCall) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.over {
		return errTurnOver
	}
	for _, c := range calls {
		if !event.ValidID(c.EventID) || c.ToolName == "" {
			return &Error{Code: Invalid, Message: fmt.Sprintf("invalid client tool call %q: it needs the id of its tool_input event and a tool name", c.EventID)}
		}
	}
	if _, err := t.emitLocked(&event.Event{Type: event.ClientToolPending, PendingCalls: calls}); err != nil {
		return err
	}
	t.pending = append(t.pending, calls...)
	t.paused = true
	return nil
}

// SetStep records the step the next input resumes at (the session's
// current_step_name) when the turn ends.
func (t *Turn) SetStep(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.step = &name
}

// ReportUsage records the context usage of the agent's latest model call
// (the session's session_context_usage) when the turn ends.
func (t *Turn) ReportUsage(u session.ContextUsage) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.usage = &u
}

// end closes the turn and returns what it delivered.
func (t *Turn) end() []*event.Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.over = true
	return t.out
}
