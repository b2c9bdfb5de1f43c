// Package event defines the events of a session: its inputs, the agent's
// outputs, tool calls, thinking and artifact uploads, appended in order.
//
// # JSON
//
// Event encodes to the REST contract's AgentEvent: the common fields id,
// session_key, created_at and type, followed by the fields of its type and
// no others. Fields the contract marks required are always present, even
// when zero (a tool_output's "error": false). An event hidden by hide (or by
// compaction) carries "hide_reason"; that field is our extension, since the
// contract keeps the reason internal.
//
// # Identifiers
//
// Event ids match aev_[0-9a-zA-Z_-]+; NewID builds one from a random token.
//
// # Hiding
//
// Hide sets HideReason to HiddenManual and unhide clears it. Hidden events
// stay stored and readable by id; lists leave them out unless asked.
package event

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/agentalias/agentalias/internal/jsonvalue"
	"github.com/agentalias/agentalias/internal/keys"
	"github.com/agentalias/agentalias/internal/validate"
)

// Type is the kind of an event.
type Type string

// The event types of the contract. Types marked transient are delivered to a
// streaming caller but never stored.
const (
	InputMessage                Type = "input_message"
	SkillLoad                   Type = "skill_load"
	ArtifactUpload              Type = "artifact_upload"
	ToolInput                   Type = "tool_input"
	ToolOutput                  Type = "tool_output"
	Thinking                    Type = "thinking"
	AgentOutput                 Type = "agent_output"
	StructuredOutput            Type = "structured_output"
	ContextLimitExceeded        Type = "context_limit_exceeded"         // transient
	StepTransitionLimitExceeded Type = "step_transition_limit_exceeded" // transient
	SessionInterrupted          Type = "session_interrupted"            // transient
	ClientToolPending           Type = "client_tool_pending"            // transient
	ImageRead                   Type = "image_read"
	StepTransition              Type = "step_transition"
	Compaction                  Type = "compaction"
)

// Transient reports whether events of type t are delivered but not stored.
func (t Type) Transient() bool {
	switch t {
	case ContextLimitExceeded, StepTransitionLimitExceeded, SessionInterrupted, ClientToolPending:
		return true
	}
	return false
}

// Known reports whether t is one of the contract's event types.
func (t Type) Known() bool {
	switch t {
	case InputMessage, SkillLoad, ArtifactUpload, ToolInput, ToolOutput, Thinking,
		AgentOutput, StructuredOutput, ContextLimitExceeded, StepTransitionLimitExceeded,
		SessionInterrupted, ClientToolPending, ImageRead, StepTransition, Compaction:
		return true
	}
	return false
}

// HiddenManual is the HideReason set by hiding an event by hand.
const HiddenManual = "manual"

// Event is one entry in a session's history. Type decides which of the
// payload fields are meaningful; the others are ignored when encoding.
//
// Event is a plain value: stores copy it on the way in and out, and Clone
// makes a deep copy.
type Event struct {
	ID         string
	SessionKey string
	CreatedAt  time.Time
	Type       Type

	// HideReason is "" for a visible event, HiddenManual once hidden by hand.
	HideReason string

	// Input messages (InputMessage).
	Messages     []Input
	MessageDiffs []string

	// Text payload: the content of Thinking, AgentOutput, SkillLoad and
	// StepTransition events.
	Content string

	// SkillName names the skill of a SkillLoad event.
	SkillName string

	// Artifacts and AgentUploadMessage describe an ArtifactUpload.
	Artifacts          []ArtifactRef
	AgentUploadMessage string

	// Tool calls (ToolInput, ToolOutput).
	ToolCallID                string
	ToolConfigurationName     string
	ToolName                  string
	ToolInput                 map[string]any
	ArgumentOverridePaths     []string
	ToolOutput                map[string]any
	Error                     bool
	ResolvedArgumentOverrides map[string]any

	// StructuredOutput: SchemaName and Structured (encoded as "content").
	SchemaName string
	Structured any

	// Limits (ContextLimitExceeded, StepTransitionLimitExceeded).
	Message         string
	ContextLimit    int64
	ActualTokens    int64
	TransitionLimit int64

	// PendingCalls of a ClientToolPending event.
	PendingCalls []PendingCall

	// ImageRead.
	ArtifactID string
	Detail     string

	// StepTransition.
	FromStep string
	ToStep   string

	// Compaction.
	TurnsCompacted  int64
	EventsCompacted int64
	SummaryKey      string
	SummaryText     string
}

// Input is one part of an input message: text, or a skill to invoke.
type Input struct {
	Type      string `json:"type"` // "text" or "skill"
	Content   string `json:"content,omitempty"`
	SkillName string `json:"skill_name,omitempty"`
}

// The kinds of Input.
const (
	InputText  = "text"
	InputSkill = "skill"
)

// Text returns a text input.
func Text(content string) Input { return Input{Type: InputText, Content: content} }

// ArtifactRef names an artifact in an ArtifactUpload event.
type ArtifactRef struct {
	ArtifactID string `json:"artifact_id"`
	Filename   string `json:"filename"`
	MimeType   string `json:"mime_type"`
	SizeBytes  int64  `json:"size_bytes"`
}

// PendingCall is a client tool call the agent waits on (the contract's
// ClientToolPendingCall).
type PendingCall struct {
	EventID               string         `json:"event_id"`
	ToolConfigurationName string         `json:"tool_configuration_name"`
	ToolName              string         `json:"tool_name"`
	Arguments             map[string]any `json:"arguments"`
}

// Hidden reports whether e is hidden.
func (e *Event) Hidden() bool { return e.HideReason != "" }

// NewID returns an event id made of the prefix "aev_" and token, which must
// consist of [0-9a-zA-Z_-].
func NewID(token string) string { return "aev_" + token }

// ValidID reports whether id is a valid event id: "aev_" followed by at
// least one character from [0-9a-zA-Z_-], at most 200 bytes in all.
func ValidID(id string) bool { return keys.ValidID(id, "aev_", false) }

// Clone returns a deep copy of e.
func (e *Event) Clone() *Event {
	if e == nil {
		return nil
	}
	c := *e
	c.Messages = slices.Clone(e.Messages)
	c.MessageDiffs = slices.Clone(e.MessageDiffs)
	c.Artifacts = slices.Clone(e.Artifacts)
	c.ToolInput = jsonvalue.Clone(e.ToolInput)
	c.ArgumentOverridePaths = slices.Clone(e.ArgumentOverridePaths)
	c.ToolOutput = jsonvalue.Clone(e.ToolOutput)
	c.ResolvedArgumentOverrides = jsonvalue.Clone(e.ResolvedArgumentOverrides)
	c.Structured = jsonvalue.CloneValue(e.Structured)
	if e.PendingCalls != nil {
		c.PendingCalls = make([]PendingCall, len(e.PendingCalls))
		for i, p := range e.PendingCalls {
			p.Arguments = jsonvalue.Clone(p.Arguments)
			c.PendingCalls[i] = p
		}
	}
	return &c
}

// Validate checks e before it is stored: its id, session key, a known type,
// and the fields its type requires. It may normalise the JSON payloads.
func (e *Event) Validate() error {
	var errs validate.Errors
	if !ValidID(e.ID) {
		errs.Add("id", "must match aev_[0-9a-zA-Z_-]+")
	}
	if !keys.Valid(e.SessionKey) {
		errs.Add("session_key", keys.Message)
	}
	if !e.Type.Known() {
		errs.Addf("type", "unknown event type %q", e.Type)
	}
	if e.HideReason != "" && e.HideReason != HiddenManual && len(e.HideReason) > 64 {
		errs.Add("hide_reason", "must be at most 64 characters")
	}
	norm := func(path string, m map[string]any) map[string]any {
		n, err := jsonvalue.Object(m)
		if err != nil {
			errs.Add(path, "must be a JSON object: "+err.Error())
			return m
		}
		return n
	}
	e.ToolInput = norm("tool_input", e.ToolInput)
	e.ToolOutput = norm("tool_output", e.ToolOutput)
	e.ResolvedArgumentOverrides = norm("resolved_argument_overrides", e.ResolvedArgumentOverrides)
	if v, err := jsonvalue.Normalize(e.Structured); err != nil {
		errs.Add("content", "must be a JSON value: "+err.Error())
	} else {
		e.Structured = v
	}
	for i := range e.PendingCalls {
		e.PendingCalls[i].Arguments = norm(validate.Index("pending_calls", i)+".arguments", e.PendingCalls[i].Arguments)
	}
	switch e.Type {
	case InputMessage:
		if len(e.Messages) == 0 {
			errs.Add("messages", "at least one message is required")
		}
		for i, m := range e.Messages {
			p := validate.Index("messages", i)
			switch m.Type {
			case InputText:
			case InputSkill:
				if m.SkillName == "" {
					errs.Add(p+".skill_name", "is required")
				}
			default:
				errs.Addf(p+".type", "unknown input type %q; want text or skill", m.Type)
			}
		}
		if e.MessageDiffs != nil && len(e.MessageDiffs) != len(e.Messages) {
			errs.Add("message_diffs", "must have one entry per message")
		}
	case SkillLoad:
		if e.SkillName == "" {
			errs.Add("skill_name", "is required")
		}
	case ArtifactUpload:
		if len(e.Artifacts) == 0 {
			errs.Add("artifacts", "at least one artifact is required")
		}
	case ToolInput, ToolOutput:
		if e.ToolCallID == "" {
			errs.Add("tool_call_id", "is required")
		}
		if e.ToolConfigurationName == "" {
			errs.Add("tool_configuration_name", "is required")
		}
		if e.ToolName == "" {
			errs.Add("tool_name", "is required")
		}
	case StructuredOutput:
		if e.SchemaName == "" {
			errs.Add("schema_name", "is required")
		}
	case ImageRead:
		if !keys.ValidID(e.ArtifactID, "art_", true) {
			errs.Add("artifact_id", "must match ^art_[a-z0-9_-]+$")
		}
		switch e.Detail {
		case "", "auto", "low", "high":
		default:
			errs.Add("detail", "must be auto, low or high")
		}
	case StepTransition:
		if e.FromStep == "" {
			errs.Add("from_step", "is required")
		}
		if e.ToStep == "" {
			errs.Add("to_step", "is required")
		}
	}
	return errs.Err()
}

// wire is the JSON form of every event type; pointers mark fields that are
// present (possibly zero) for the event's type.
type wire struct {
	ID         string    `json:"id"`
	SessionKey string    `json:"session_key"`
	CreatedAt  time.Time `json:"created_at"`
	Type       Type      `json:"type"`

	Messages                  []Input          `json:"messages,omitzero"`
	MessageDiffs              []string         `json:"message_diffs,omitzero"`
	SkillName                 *string          `json:"skill_name,omitempty"`
	Artifacts                 []ArtifactRef    `json:"artifacts,omitzero"`
	AgentUploadMessage        string           `json:"agent_upload_message,omitempty"`
	ToolCallID                *string          `json:"tool_call_id,omitempty"`
	ToolConfigurationName     *string          `json:"tool_configuration_name,omitempty"`
	ToolName                  *string          `json:"tool_name,omitempty"`
	ToolInput                 *map[string]any  `json:"tool_input,omitempty"`
	ArgumentOverridePaths     []string         `json:"argument_override_paths,omitzero"`
	ToolOutput                *map[string]any  `json:"tool_output,omitempty"`
	Error                     *bool            `json:"error,omitempty"`
	ResolvedArgumentOverrides map[string]any   `json:"resolved_argument_overrides,omitzero"`
	SchemaName                *string          `json:"schema_name,omitempty"`
	Content                   *json.RawMessage `json:"content,omitempty"`
	Message                   *string          `json:"message,omitempty"`
	ContextLimit              int64            `json:"context_limit,omitempty"`
	ActualTokens              int64            `json:"actual_tokens,omitempty"`
	TransitionLimit           int64            `json:"transition_limit,omitempty"`
	PendingCalls              *[]PendingCall   `json:"pending_calls,omitempty"`
	ArtifactID                *string          `json:"artifact_id,omitempty"`
	Detail                    string           `json:"detail,omitempty"`
	FromStep                  *string          `json:"from_step,omitempty"`
	ToStep                    *string          `json:"to_step,omitempty"`
	TurnsCompacted            *int64           `json:"turns_compacted,omitempty"`
	EventsCompacted           *int64           `json:"events_compacted,omitempty"`
	SummaryKey                *string          `json:"summary_key,omitempty"`
	SummaryText               string           `json:"summary_text,omitempty"`

	HideReason string `json:"hide_reason,omitempty"`
}

func text(s string) *json.RawMessage {
	b, _ := jsonvalue.Marshal(s)
	r := json.RawMessage(b)
	return &r
}

// MarshalJSON encodes e as the contract's AgentEvent variant for its type.
func (e Event) MarshalJSON() ([]byte, error) {
	w := wire{ID: e.ID, SessionKey: e.SessionKey, CreatedAt: e.CreatedAt.UTC(), Type: e.Type, HideReason: e.HideReason}
	str := func(s string) *string { return &s }
	obj := func(m map[string]any) *map[string]any {
		if m == nil {
			m = map[string]any{}
		}
		return &m
	}
	switch e.Type {
	case InputMessage:
		w.Messages = e.Messages
		if w.Messages == nil {
			w.Messages = []Input{}
		}
		w.MessageDiffs = e.MessageDiffs
	case SkillLoad:
		w.SkillName, w.Content = str(e.SkillName), text(e.Content)
	case ArtifactUpload:
		w.Artifacts = e.Artifacts
		if w.Artifacts == nil {
			w.Artifacts = []ArtifactRef{}
		}
		w.AgentUploadMessage = e.AgentUploadMessage
	case ToolInput:
		w.ToolCallID, w.ToolConfigurationName, w.ToolName = str(e.ToolCallID), str(e.ToolConfigurationName), str(e.ToolName)
		w.ToolInput = obj(e.ToolInput)
		w.ArgumentOverridePaths = e.ArgumentOverridePaths
	case ToolOutput:
		w.ToolCallID, w.ToolConfigurationName, w.ToolName = str(e.ToolCallID), str(e.ToolConfigurationName), str(e.ToolName)
		w.ToolOutput = obj(e.ToolOutput)
		w.Error = &e.Error
		w.ResolvedArgumentOverrides = e.ResolvedArgumentOverrides
	case Thinking:
		if e.Content != "" {
			w.Content = text(e.Content)
		}
	case AgentOutput:
		w.Content = text(e.Content)
	case StructuredOutput:
		w.SchemaName = str(e.SchemaName)
		b, err := jsonvalue.Marshal(e.Structured)
		if err != nil {
			return nil, fmt.Errorf("event: structured content: %w", err)
		}
		r := json.RawMessage(b)
		w.Content = &r
	case ContextLimitExceeded:
		w.Message = str(e.Message)
		w.ContextLimit, w.ActualTokens = e.ContextLimit, e.ActualTokens
	case StepTransitionLimitExceeded:
		w.Message = str(e.Message)
		w.TransitionLimit = e.TransitionLimit
	case ClientToolPending:
		pc := make([]PendingCall, len(e.PendingCalls))
		for i, p := range e.PendingCalls {
			if p.Arguments == nil {
				p.Arguments = map[string]any{}
			}
			pc[i] = p
		}
		w.PendingCalls = &pc
	case ImageRead:
		w.ArtifactID = str(e.ArtifactID)
		w.Detail = e.Detail
	case StepTransition:
		w.FromStep, w.ToStep, w.Content = str(e.FromStep), str(e.ToStep), text(e.Content)
	case Compaction:
		w.TurnsCompacted, w.EventsCompacted = &e.TurnsCompacted, &e.EventsCompacted
		w.SummaryKey = str(e.SummaryKey)
		w.SummaryText = e.SummaryText
	}
	return jsonvalue.Marshal(w)
}

// UnmarshalJSON decodes an AgentEvent of any type.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	out := Event{
		ID: w.ID, SessionKey: w.SessionKey, CreatedAt: w.CreatedAt, Type: w.Type, HideReason: w.HideReason,
		Messages: w.Messages, MessageDiffs: w.MessageDiffs, Artifacts: w.Artifacts,
		AgentUploadMessage: w.AgentUploadMessage, ArgumentOverridePaths: w.ArgumentOverridePaths,
		ResolvedArgumentOverrides: w.ResolvedArgumentOverrides, ContextLimit: w.ContextLimit,
		ActualTokens: w.ActualTokens, TransitionLimit: w.TransitionLimit, Detail: w.Detail,
		SummaryText: w.SummaryText,
	}
	get := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	out.SkillName, out.ToolCallID = get(w.SkillName), get(w.ToolCallID)
	out.ToolConfigurationName, out.ToolName = get(w.ToolConfigurationName), get(w.ToolName)
	out.SchemaName, out.Message, out.ArtifactID = get(w.SchemaName), get(w.Message), get(w.ArtifactID)
	out.FromStep, out.ToStep, out.SummaryKey = get(w.FromStep), get(w.ToStep), get(w.SummaryKey)
	if w.ToolInput != nil {
		out.ToolInput = *w.ToolInput
	}
	if w.ToolOutput != nil {
		out.ToolOutput = *w.ToolOutput
	}
	if w.Error != nil {
		out.Error = *w.Error
	}
	if w.PendingCalls != nil {
		out.PendingCalls = *w.PendingCalls
	}
	if w.TurnsCompacted != nil {
		out.TurnsCompacted = *w.TurnsCompacted
	}
	if w.EventsCompacted != nil {
		out.EventsCompacted = *w.EventsCompacted
	}
	if w.Content != nil {
		if w.Type == StructuredOutput {
			if err := json.Unmarshal(*w.Content, &out.Structured); err != nil {
				return err
			}
		} else if err := json.Unmarshal(*w.Content, &out.Content); err != nil {
			return fmt.Errorf("event: content of a %s event must be a string", w.Type)
		}
	}
	*e = out
	return nil
}
