package event_test

import (
	"encoding/json"
	"errors"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/agentalias/agentalias/event"
)

var created = time.Date(2026, 6, 2, 10, 41, 0, 0, time.UTC)

func base(typ event.Type) event.Event {
	return event.Event{ID: "aev_test_001", SessionKey: "chat-42", CreatedAt: created, Type: typ}
}

// full returns an event of type typ with every field of its type set.
func full(typ event.Type) event.Event {
	e := base(typ)
	switch typ {
	case event.InputMessage:
		e.Messages = []event.Input{event.Text("hello"), {Type: event.InputSkill, SkillName: "summarize"}}
		e.MessageDiffs = []string{"diff-1", "diff-2"}
	case event.SkillLoad:
		e.SkillName = "summarize"
		e.Content = "skill instructions"
	case event.ArtifactUpload:
		e.Artifacts = []event.ArtifactRef{{ArtifactID: "art_report", Filename: "report.pdf", MimeType: "application/pdf", SizeBytes: 2048}}
		e.AgentUploadMessage = "here is the report"
	case event.ToolInput:
		e.ToolCallID = "call_1"
		e.ToolConfigurationName = "customer_search"
		e.ToolName = "web_search"
		e.ToolInput = map[string]any{"query": "widget", "limit": 5.0}
		e.ArgumentOverridePaths = []string{"$.api_key"}
	case event.ToolOutput:
		e.ToolCallID = "call_1"
		e.ToolConfigurationName = "customer_search"
		e.ToolName = "web_search"
		e.ToolOutput = map[string]any{"result": []any{"a", "b"}}
		e.Error = true
		e.ResolvedArgumentOverrides = map[string]any{"api_key": "****"}
	case event.Thinking:
		e.Content = "considering"
	case event.AgentOutput:
		e.Content = "Hello!"
	case event.StructuredOutput:
		e.SchemaName = "ticket"
		e.Structured = map[string]any{"priority": "high", "tags": []any{"x"}, "n": 1.5}
	case event.ContextLimitExceeded:
		e.Message = "too long"
		e.ContextLimit = 200000
		e.ActualTokens = 250000
	case event.StepTransitionLimitExceeded:
		e.Message = "too many transitions"
		e.TransitionLimit = 10
	case event.SessionInterrupted:
	case event.ClientToolPending:
		e.PendingCalls = []event.PendingCall{{
			EventID: "aev_tin_001", ToolConfigurationName: "browser", ToolName: "open_url",
			Arguments: map[string]any{"url": "https://example.com", "token": "unmasked"},
		}}
	case event.ImageRead:
		e.ArtifactID = "art_diagram_png"
		e.Detail = "high"
	case event.StepTransition:
		e.FromStep = "triage"
		e.ToStep = "resolve"
		e.Content = "moving on"
	case event.Compaction:
		e.TurnsCompacted = 3
		e.EventsCompacted = 12
		e.SummaryKey = "sum_1"
		e.SummaryText = "summary"
	}
	return e
}

var allTypes = []event.Type{
	event.InputMessage, event.SkillLoad, event.ArtifactUpload, event.ToolInput, event.ToolOutput,
	event.Thinking, event.AgentOutput, event.StructuredOutput, event.ContextLimitExceeded,
	event.StepTransitionLimitExceeded, event.SessionInterrupted, event.ClientToolPending,
	event.ImageRead, event.StepTransition, event.Compaction,
}

var common = []string{"created_at", "id", "session_key", "type"}

func withCommon(fields ...string) []string {
	out := append(append([]string{}, common...), fields...)
	sort.Strings(out)
	return out
}

func jsonKeys(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("invalid JSON object %s: %v", b, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return v
}

func fieldErrors(t *testing.T, err error) map[string]string {
	t.Helper()
	var fe interface{ FieldErrors() map[string]string }
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) has no FieldErrors method", err, err)
	}
	return fe.FieldErrors()
}

func TestEvent_JSONRoundTrip(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(string(typ), func(t *testing.T) {
			in := full(typ)
			b, err := json.Marshal(in)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			var got event.Event
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", b, err)
			}
			if diff := cmp.Diff(in, got); diff != "" {
				t.Errorf("round trip via %s (-want +got):\n%s", b, diff)
			}
		})
	}
}

func TestEvent_JSONRoundTripMinimal(t *testing.T) {
	// An event with no payload decodes back to itself, up to nil versus
	// empty slices and maps (required arrays and objects encode as [] and {}).
	for _, typ := range allTypes {
		t.Run(string(typ), func(t *testing.T) {
			in := base(typ)
			b, err := json.Marshal(in)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			var got event.Event
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", b, err)
			}
			if diff := cmp.Diff(in, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("round trip via %s (-want +got):\n%s", b, diff)
			}
		})
	}
}

func TestEvent_MarshalJSONFields(t *testing.T) {
	tests := []struct {
		name string
		in   event.Type
		want []string // every field of the type, with all set
		min  []string // the fields present with nothing set: the contract's required ones
	}{
		{name: "InputMessage", in: event.InputMessage, want: withCommon("messages", "message_diffs"), min: withCommon("messages")},
		{name: "SkillLoad", in: event.SkillLoad, want: withCommon("skill_name", "content"), min: withCommon("skill_name", "content")},
		{name: "ArtifactUpload", in: event.ArtifactUpload, want: withCommon("artifacts", "agent_upload_message"), min: withCommon("artifacts")},
		{
			name: "ToolInput", in: event.ToolInput,
			want: withCommon("tool_call_id", "tool_configuration_name", "tool_name", "tool_input", "argument_override_paths"),
			min:  withCommon("tool_call_id", "tool_configuration_name", "tool_name", "tool_input"),
		},
		{
			name: "ToolOutput", in: event.ToolOutput,
			want: withCommon("tool_call_id", "tool_configuration_name", "tool_name", "tool_output", "error", "resolved_argument_overrides"),
			min:  withCommon("tool_call_id", "tool_configuration_name", "tool_name", "tool_output", "error"),
		},
		{name: "Thinking", in: event.Thinking, want: withCommon("content"), min: withCommon()},
		{name: "AgentOutput", in: event.AgentOutput, want: withCommon("content"), min: withCommon("content")},
		{name: "StructuredOutput", in: event.StructuredOutput, want: withCommon("schema_name", "content"), min: withCommon("schema_name", "content")},
		{name: "ContextLimitExceeded", in: event.ContextLimitExceeded, want: withCommon("message", "context_limit", "actual_tokens"), min: withCommon("message")},
		{name: "StepTransitionLimitExceeded", in: event.StepTransitionLimitExceeded, want: withCommon("message", "transition_limit"), min: withCommon("message")},
		{name: "SessionInterrupted", in: event.SessionInterrupted, want: withCommon(), min: withCommon()},
		{name: "ClientToolPending", in: event.ClientToolPending, want: withCommon("pending_calls"), min: withCommon("pending_calls")},
		{name: "ImageRead", in: event.ImageRead, want: withCommon("artifact_id", "detail"), min: withCommon("artifact_id")},
		{name: "StepTransition", in: event.StepTransition, want: withCommon("from_step", "to_step", "content"), min: withCommon("from_step", "to_step", "content")},
		{
			name: "Compaction", in: event.Compaction,
			want: withCommon("turns_compacted", "events_compacted", "summary_key", "summary_text"),
			min:  withCommon("turns_compacted", "events_compacted", "summary_key"),
		},
	}
	if len(tests) != len(allTypes) {
		t.Fatalf("%d cases for %d types", len(tests), len(allTypes))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Fill every payload field of every type: only the type's own
			// may appear.
			e := full(tt.in)
			for _, other := range allTypes {
				if other == tt.in {
					continue
				}
				o := full(other)
				fillMissing(&e, &o)
			}
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, jsonKeys(t, b)); diff != "" {
				t.Errorf("fields of %s (-want +got):\n%s", b, diff)
			}

			b, err = json.Marshal(base(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.min, jsonKeys(t, b)); diff != "" {
				t.Errorf("fields of minimal %s (-want +got):\n%s", b, diff)
			}
		})
	}
}

// fillMissing copies into e the payload fields of o that e leaves empty.
func fillMissing(e, o *event.Event) {
	if e.Messages == nil {
		e.Messages, e.MessageDiffs = o.Messages, o.MessageDiffs
	}
	if e.Content == "" {
		e.Content = o.Content
	}
	if e.SkillName == "" {
		e.SkillName = o.SkillName
	}
	if e.Artifacts == nil {
		e.Artifacts, e.AgentUploadMessage = o.Artifacts, o.AgentUploadMessage
	}
	if e.ToolCallID == "" {
		e.ToolCallID, e.ToolConfigurationName, e.ToolName = o.ToolCallID, o.ToolConfigurationName, o.ToolName
	}
	if e.ToolInput == nil {
		e.ToolInput, e.ArgumentOverridePaths = o.ToolInput, o.ArgumentOverridePaths
	}
	if e.ToolOutput == nil {
		e.ToolOutput, e.Error, e.ResolvedArgumentOverrides = o.ToolOutput, o.Error, o.ResolvedArgumentOverrides
	}
	if e.SchemaName == "" {
		e.SchemaName = o.SchemaName
	}
	if e.Structured == nil {
		e.Structured = o.Structured
	}
	if e.Message == "" {
		e.Message, e.ContextLimit, e.ActualTokens, e.TransitionLimit = o.Message, o.ContextLimit, o.ActualTokens, o.TransitionLimit
	}
	if e.PendingCalls == nil {
		e.PendingCalls = o.PendingCalls
	}
	if e.ArtifactID == "" {
		e.ArtifactID, e.Detail = o.ArtifactID, o.Detail
	}
	if e.FromStep == "" {
		e.FromStep, e.ToStep = o.FromStep, o.ToStep
	}
	if e.SummaryKey == "" {
		e.TurnsCompacted, e.EventsCompacted, e.SummaryKey, e.SummaryText = o.TurnsCompacted, o.EventsCompacted, o.SummaryKey, o.SummaryText
	}
}

func TestEvent_MarshalJSONValues(t *testing.T) {
	tests := []struct {
		name string
		in   event.Event
		want string
	}{
		{
			name: "ToolOutputErrorFalsePresent",
			in: func() event.Event {
				e := full(event.ToolOutput)
				e.Error = false
				e.ResolvedArgumentOverrides = nil
				return e
			}(),
			want: `{"id":"aev_test_001","session_key":"chat-42","created_at":"2026-06-02T10:41:00Z","type":"tool_output",
			 "tool_call_id":"call_1","tool_configuration_name":"customer_search","tool_name":"web_search",
			 "tool_output":{"result":["a","b"]},"error":false}`,
		},
		{
			name: "AgentOutputEmptyContent",
			in:   base(event.AgentOutput),
			want: `{"id":"aev_test_001","session_key":"chat-42","created_at":"2026-06-02T10:41:00Z","type":"agent_output","content":""}`,
		},
		{
			name: "StructuredObject",
			in:   full(event.StructuredOutput),
			want: `{"id":"aev_test_001","session_key":"chat-42","created_at":"2026-06-02T10:41:00Z","type":"structured_output",
			 "schema_name":"ticket","content":{"priority":"high","tags":["x"],"n":1.5}}`,
		},
		{
			name: "StructuredString",
			in: func() event.Event {
				e := full(event.StructuredOutput)
				e.Structured = "just text"
				return e
			}(),
			want: `{"id":"aev_test_001","session_key":"chat-42","created_at":"2026-06-02T10:41:00Z","type":"structured_output",
			 "schema_name":"ticket","content":"just text"}`,
		},
		{
			name: "StructuredArray",
			in: func() event.Event {
				e := full(event.StructuredOutput)
				e.Structured = []any{1.0, true, nil}
				return e
			}(),
			want: `{"id":"aev_test_001","session_key":"chat-42","created_at":"2026-06-02T10:41:00Z","type":"structured_output",
			 "schema_name":"ticket","content":[1,true,null]}`,
		},
		{
			name: "Hidden",
			in: func() event.Event {
				e := full(event.AgentOutput)
				e.HideReason = event.HiddenManual
				return e
			}(),
			want: `{"id":"aev_test_001","session_key":"chat-42","created_at":"2026-06-02T10:41:00Z","type":"agent_output",
			 "content":"Hello!","hide_reason":"manual"}`,
		},
		{
			name: "UTC",
			in: func() event.Event {
				e := base(event.SessionInterrupted)
				e.CreatedAt = time.Date(2026, 6, 2, 12, 41, 0, 0, time.FixedZone("CEST", 7200))
				return e
			}(),
			want: `{"id":"aev_test_001","session_key":"chat-42","created_at":"2026-06-02T10:41:00Z","type":"session_interrupted"}`,
		},
		{
			name: "ContentNotHTMLEscaped",
			in: func() event.Event {
				e := base(event.AgentOutput)
				e.Content = "a < b && c > d"
				return e
			}(),
			want: `{"id":"aev_test_001","session_key":"chat-42","created_at":"2026-06-02T10:41:00Z","type":"agent_output","content":"a < b && c > d"}`,
		},
		{
			name: "ClientToolPendingUnmasked",
			in:   full(event.ClientToolPending),
			want: `{"id":"aev_test_001","session_key":"chat-42","created_at":"2026-06-02T10:41:00Z","type":"client_tool_pending",
			 "pending_calls":[{"event_id":"aev_tin_001","tool_configuration_name":"browser","tool_name":"open_url",
			 "arguments":{"url":"https://example.com","token":"unmasked"}}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(decodeAny(t, []byte(tt.want)), decodeAny(t, b)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s\ngot: %s", diff, b)
			}
		})
	}
}

func TestEvent_HideReasonOnlyWhenHidden(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(string(typ), func(t *testing.T) {
			e := full(typ)
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "hide_reason") {
				t.Errorf("visible event has hide_reason: %s", b)
			}
			e.HideReason = event.HiddenManual
			b, err = json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff("manual", m["hide_reason"]); diff != "" {
				t.Errorf("hide_reason of %s (-want +got):\n%s", b, diff)
			}
			var got event.Event
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !got.Hidden() || got.HideReason != event.HiddenManual {
				t.Errorf("decoded HideReason = %q, want %q", got.HideReason, event.HiddenManual)
			}
		})
	}
}

func TestEvent_ContractExamples(t *testing.T) {
	// The contract's example events (vectara-api.md §2.5).
	tests := []struct {
		name string
		in   string
		want event.Event
	}{
		{
			name: "InputMessage",
			in: `{ "id": "aev_user_001", "session_key": "chat-42", "created_at": "2026-06-02T10:41:00Z",
  "type": "input_message", "messages": [ { "type": "text", "content": "I need help with my widget installation" } ] }`,
			want: event.Event{
				ID: "aev_user_001", SessionKey: "chat-42", CreatedAt: time.Date(2026, 6, 2, 10, 41, 0, 0, time.UTC),
				Type: event.InputMessage, Messages: []event.Input{event.Text("I need help with my widget installation")},
			},
		},
		{
			name: "Thinking",
			in: `{ "id": "aev_think_001", "session_key": "chat-42", "created_at": "2026-06-02T10:41:01Z",
  "type": "thinking", "content": "Analyzing user request and considering available options" }`,
			want: event.Event{
				ID: "aev_think_001", SessionKey: "chat-42", CreatedAt: time.Date(2026, 6, 2, 10, 41, 1, 0, time.UTC),
				Type: event.Thinking, Content: "Analyzing user request and considering available options",
			},
		},
		{
			name: "ToolInput",
			in: `{ "id": "aev_tin_001", "session_key": "chat-42", "created_at": "2026-06-02T10:41:02Z",
  "type": "tool_input", "tool_call_id": "call_tool_search_001", "tool_configuration_name": "customer_search",
  "tool_name": "web_search", "tool_input": { "query": "widget install" }, "argument_override_paths": [] }`,
			want: event.Event{
				ID: "aev_tin_001", SessionKey: "chat-42", CreatedAt: time.Date(2026, 6, 2, 10, 41, 2, 0, time.UTC),
				Type: event.ToolInput, ToolCallID: "call_tool_search_001", ToolConfigurationName: "customer_search",
				ToolName: "web_search", ToolInput: map[string]any{"query": "widget install"}, ArgumentOverridePaths: []string{},
			},
		},
		{
			name: "ToolOutput",
			in: `{ "id": "aev_tout_001", "session_key": "chat-42", "created_at": "2026-06-02T10:41:03Z",
  "type": "tool_output", "tool_call_id": "call_tool_search_001", "tool_configuration_name": "customer_search",
  "tool_name": "web_search", "tool_output": { "result": "..." }, "error": false }`,
			want: event.Event{
				ID: "aev_tout_001", SessionKey: "chat-42", CreatedAt: time.Date(2026, 6, 2, 10, 41, 3, 0, time.UTC),
				Type: event.ToolOutput, ToolCallID: "call_tool_search_001", ToolConfigurationName: "customer_search",
				ToolName: "web_search", ToolOutput: map[string]any{"result": "..."}, Error: false,
			},
		},
		{
			name: "AgentOutput",
			in: `{ "id": "aev_out_001", "session_key": "chat-42", "created_at": "2026-06-02T10:41:05Z",
  "type": "agent_output", "content": "Hello! I can help you with your widget installation." }`,
			want: event.Event{
				ID: "aev_out_001", SessionKey: "chat-42", CreatedAt: time.Date(2026, 6, 2, 10, 41, 5, 0, time.UTC),
				Type: event.AgentOutput, Content: "Hello! I can help you with your widget installation.",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got event.Event
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(decodeAny(t, []byte(tt.in)), decodeAny(t, b)); diff != "" {
				t.Errorf("re-encoded (-want +got):\n%s\ngot: %s", diff, b)
			}
		})
	}
}

func TestEvent_UnmarshalJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{name: "NotJSON", in: `{`},
		{name: "NotAnObject", in: `[]`},
		{name: "AgentOutputContentNotString", in: `{"id":"aev_1","type":"agent_output","content":{"a":1}}`},
		{name: "ThinkingContentNumber", in: `{"id":"aev_1","type":"thinking","content":5}`},
		{name: "ErrorNotBool", in: `{"id":"aev_1","type":"tool_output","error":"no"}`},
		{name: "ToolInputNotObject", in: `{"id":"aev_1","type":"tool_input","tool_input":[1]}`},
		{name: "BadTime", in: `{"id":"aev_1","type":"thinking","created_at":"now"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e event.Event
			if err := json.Unmarshal([]byte(tt.in), &e); err == nil {
				t.Errorf("Unmarshal(%s) = nil error, want one; got %+v", tt.in, e)
			}
		})
	}
}

func TestEvent_Validate(t *testing.T) {
	tests := []struct {
		name string
		in   func() event.Event
		want map[string]string
	}{
		{name: "IDBadPrefix", in: func() event.Event { e := full(event.AgentOutput); e.ID = "evt_1"; return e }, want: map[string]string{"id": "must match aev_[0-9a-zA-Z_-]+"}},
		{name: "IDEmpty", in: func() event.Event { e := full(event.AgentOutput); e.ID = ""; return e }, want: map[string]string{"id": "must match aev_[0-9a-zA-Z_-]+"}},
		{name: "IDPrefixOnly", in: func() event.Event { e := full(event.AgentOutput); e.ID = "aev_"; return e }, want: map[string]string{"id": "must match aev_[0-9a-zA-Z_-]+"}},
		{
			name: "SessionKeyBad", in: func() event.Event { e := full(event.AgentOutput); e.SessionKey = "chat 42"; return e },
			want: map[string]string{"session_key": "must match ^[0-9a-zA-Z_-]+$ and be 1-50 characters"},
		},
		{name: "TypeUnknown", in: func() event.Event { return base("bogus") }, want: map[string]string{"type": `unknown event type "bogus"`}},
		{name: "TypeEmpty", in: func() event.Event { return base("") }, want: map[string]string{"type": `unknown event type ""`}},
		{
			name: "HideReasonTooLong",
			in:   func() event.Event { e := full(event.AgentOutput); e.HideReason = strings.Repeat("r", 65); return e },
			want: map[string]string{"hide_reason": "must be at most 64 characters"},
		},
		{name: "InputNoMessages", in: func() event.Event { return base(event.InputMessage) }, want: map[string]string{"messages": "at least one message is required"}},
		{
			name: "InputBadMessages",
			in: func() event.Event {
				e := base(event.InputMessage)
				e.Messages = []event.Input{{Type: "image"}, {Type: event.InputSkill}}
				return e
			},
			want: map[string]string{
				"messages[0].type":       `unknown input type "image"; want text or skill`,
				"messages[1].skill_name": "is required",
			},
		},
		{
			name: "InputDiffsMismatch",
			in: func() event.Event {
				e := full(event.InputMessage)
				e.MessageDiffs = []string{"only one"}
				return e
			},
			want: map[string]string{"message_diffs": "must have one entry per message"},
		},
		{
			name: "InputDiffsEmptyNotNil",
			in: func() event.Event {
				e := full(event.InputMessage)
				e.MessageDiffs = []string{}
				return e
			},
			want: map[string]string{"message_diffs": "must have one entry per message"},
		},
		{name: "SkillLoadNoName", in: func() event.Event { return base(event.SkillLoad) }, want: map[string]string{"skill_name": "is required"}},
		{name: "ArtifactUploadEmpty", in: func() event.Event { return base(event.ArtifactUpload) }, want: map[string]string{"artifacts": "at least one artifact is required"}},
		{name: "ToolInputEmpty", in: func() event.Event { return base(event.ToolInput) }, want: map[string]string{"tool_call_id": "is required", "tool_configuration_name": "is required", "tool_name": "is required"}},
		{name: "ToolOutputEmpty", in: func() event.Event { return base(event.ToolOutput) }, want: map[string]string{"tool_call_id": "is required", "tool_configuration_name": "is required", "tool_name": "is required"}},
		{
			name: "ToolInputNotJSON",
			in: func() event.Event {
				e := full(event.ToolInput)
				e.ToolInput = map[string]any{"c": make(chan int)}
				return e
			},
			want: map[string]string{"tool_input": "must be a JSON object: chan int is not a JSON value"},
		},
		{
			name: "ToolOutputNaN",
			in: func() event.Event {
				e := full(event.ToolOutput)
				e.ToolOutput = map[string]any{"x": math.NaN()}
				return e
			},
			want: map[string]string{"tool_output": "must be a JSON object: NaN is not a JSON number"},
		},
		{
			name: "OverridesNotJSON",
			in: func() event.Event {
				e := full(event.ToolOutput)
				e.ResolvedArgumentOverrides = map[string]any{"f": func() {}}
				return e
			},
			want: map[string]string{"resolved_argument_overrides": "must be a JSON object: func() is not a JSON value"},
		},
		{name: "StructuredNoSchema", in: func() event.Event { return base(event.StructuredOutput) }, want: map[string]string{"schema_name": "is required"}},
		{
			name: "StructuredNotJSON",
			in: func() event.Event {
				e := full(event.StructuredOutput)
				e.Structured = math.Inf(1)
				return e
			},
			want: map[string]string{"content": "must be a JSON value: +Inf is not a JSON number"},
		},
		{
			name: "PendingCallArgsNotJSON",
			in: func() event.Event {
				e := full(event.ClientToolPending)
				e.PendingCalls = append(e.PendingCalls, event.PendingCall{EventID: "aev_2", Arguments: map[string]any{"c": make(chan int)}})
				return e
			},
			want: map[string]string{"pending_calls[1].arguments": "must be a JSON object: chan int is not a JSON value"},
		},
		{name: "ImageReadNoArtifact", in: func() event.Event { return base(event.ImageRead) }, want: map[string]string{"artifact_id": "must match ^art_[a-z0-9_-]+$"}},
		{
			name: "ImageReadUppercase",
			in:   func() event.Event { e := full(event.ImageRead); e.ArtifactID = "art_Diagram"; return e },
			want: map[string]string{"artifact_id": "must match ^art_[a-z0-9_-]+$"},
		},
		{name: "StepTransitionEmpty", in: func() event.Event { return base(event.StepTransition) }, want: map[string]string{"from_step": "is required", "to_step": "is required"}},
		{
			name: "Several",
			in: func() event.Event {
				e := base(event.SkillLoad)
				e.ID, e.SessionKey = "x", ""
				return e
			},
			want: map[string]string{
				"id":          "must match aev_[0-9a-zA-Z_-]+",
				"session_key": "must match ^[0-9a-zA-Z_-]+$ and be 1-50 characters",
				"skill_name":  "is required",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.in()
			err := e.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want %v", tt.want)
			}
			if diff := cmp.Diff(tt.want, fieldErrors(t, err)); diff != "" {
				t.Errorf("FieldErrors() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvent_ValidateOK(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(string(typ), func(t *testing.T) {
			e := full(typ)
			if err := e.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
			e.HideReason = event.HiddenManual
			if err := e.Validate(); err != nil {
				t.Errorf("Validate() hidden = %v, want nil", err)
			}
		})
	}
	t.Run("HideReasonCompaction", func(t *testing.T) {
		e := full(event.AgentOutput)
		e.HideReason = strings.Repeat("c", 64)
		if err := e.Validate(); err != nil {
			t.Errorf("Validate() = %v, want nil", err)
		}
	})
	t.Run("Normalizes", func(t *testing.T) {
		e := full(event.ToolInput)
		e.ToolInput = map[string]any{"limit": 5, "tags": []string{"a"}}
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]any{"limit": 5.0, "tags": []any{"a"}}, e.ToolInput); diff != "" {
			t.Errorf("ToolInput (-want +got):\n%s", diff)
		}
		s := full(event.StructuredOutput)
		s.Structured = []any{int32(7)}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(any([]any{7.0}), s.Structured); diff != "" {
			t.Errorf("Structured (-want +got):\n%s", diff)
		}
	})
}

func TestValidID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "ContractExample", in: "aev_user_001", want: true},
		{name: "MixedCase", in: "aev_AbC-9", want: true},
		{name: "NewID", in: event.NewID("Tok_123"), want: true},
		{name: "Max200", in: "aev_" + strings.Repeat("x", 196), want: true},
		{name: "TooLong", in: "aev_" + strings.Repeat("x", 197), want: false},
		{name: "PrefixOnly", in: "aev_", want: false},
		{name: "Empty", in: "", want: false},
		{name: "WrongPrefix", in: "art_1", want: false},
		{name: "UpperPrefix", in: "AEV_1", want: false},
		{name: "Dot", in: "aev_1.2", want: false},
		{name: "Space", in: "aev_1 2", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, event.ValidID(tt.in)); diff != "" {
				t.Errorf("ValidID(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	if diff := cmp.Diff("aev_abc123", event.NewID("abc123")); diff != "" {
		t.Errorf("NewID (-want +got):\n%s", diff)
	}
}

func TestType_Transient(t *testing.T) {
	transient := map[event.Type]bool{
		event.ContextLimitExceeded:        true,
		event.StepTransitionLimitExceeded: true,
		event.SessionInterrupted:          true,
		event.ClientToolPending:           true,
	}
	for _, typ := range allTypes {
		t.Run(string(typ), func(t *testing.T) {
			if diff := cmp.Diff(transient[typ], typ.Transient()); diff != "" {
				t.Errorf("Transient() (-want +got):\n%s", diff)
			}
			if !typ.Known() {
				t.Errorf("Known() = false for %q", typ)
			}
		})
	}
	for _, typ := range []event.Type{"", "bogus", "Agent_Output"} {
		if typ.Known() || typ.Transient() {
			t.Errorf("%q: Known() = %v, Transient() = %v; want false, false", typ, typ.Known(), typ.Transient())
		}
	}
}

func TestText(t *testing.T) {
	if diff := cmp.Diff(event.Input{Type: "text", Content: "hi"}, event.Text("hi")); diff != "" {
		t.Errorf("Text (-want +got):\n%s", diff)
	}
}

func TestEvent_Hidden(t *testing.T) {
	e := full(event.AgentOutput)
	if e.Hidden() {
		t.Error("Hidden() = true for a new event")
	}
	e.HideReason = event.HiddenManual
	if !e.Hidden() {
		t.Error("Hidden() = false with HideReason set")
	}
}

func TestEvent_Clone(t *testing.T) {
	if got := (*event.Event)(nil).Clone(); got != nil {
		t.Errorf("nil.Clone() = %v, want nil", got)
	}
	for _, typ := range allTypes {
		t.Run(string(typ), func(t *testing.T) {
			orig := full(typ)
			c := orig.Clone()
			if diff := cmp.Diff(orig, *c); diff != "" {
				t.Fatalf("Clone() differs (-orig +clone):\n%s", diff)
			}
			mutate(c)
			if diff := cmp.Diff(full(typ), orig); diff != "" {
				t.Errorf("original changed through the clone (-want +got):\n%s", diff)
			}
		})
	}
}

// mutate changes every element of every slice and map of e, in place.
func mutate(e *event.Event) {
	for i := range e.Messages {
		e.Messages[i].Content = "changed"
	}
	for i := range e.MessageDiffs {
		e.MessageDiffs[i] = "changed"
	}
	for i := range e.Artifacts {
		e.Artifacts[i].Filename = "changed"
	}
	for i := range e.ArgumentOverridePaths {
		e.ArgumentOverridePaths[i] = "changed"
	}
	for _, m := range []map[string]any{e.ToolInput, e.ToolOutput, e.ResolvedArgumentOverrides} {
		mutateMap(m)
	}
	if m, ok := e.Structured.(map[string]any); ok {
		mutateMap(m)
	}
	for i := range e.PendingCalls {
		e.PendingCalls[i].ToolName = "changed"
		mutateMap(e.PendingCalls[i].Arguments)
	}
}

func mutateMap(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case []any:
			for i := range v {
				v[i] = "changed"
			}
		case map[string]any:
			mutateMap(v)
		default:
			m[k] = "changed"
		}
	}
	if m != nil {
		m["added"] = true
	}
}

// FuzzEvent_JSON checks that decoding any JSON and encoding the result
// reaches a fixed point: the encoding of a decoded event decodes to an event
// with the same encoding.
func FuzzEvent_JSON(f *testing.F) {
	for _, typ := range allTypes {
		b, err := json.Marshal(full(typ))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(`{"id":"aev_1","type":"agent_output","messages":[{"type":"text"}],"content":"x","hide_reason":"manual"}`)
	f.Add(`{"type":"structured_output","content":null}`)
	f.Fuzz(func(t *testing.T, in string) {
		var e1 event.Event
		if err := json.Unmarshal([]byte(in), &e1); err != nil {
			return
		}
		b1, err := json.Marshal(e1)
		if err != nil {
			return // for example a tool_output holding a value JSON cannot encode
		}
		var e2 event.Event
		if err := json.Unmarshal(b1, &e2); err != nil {
			t.Fatalf("decoding our own encoding %s: %v", b1, err)
		}
		b2, err := json.Marshal(e2)
		if err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
		if diff := cmp.Diff(decodeAny(t, b1), decodeAny(t, b2)); diff != "" {
			t.Fatalf("encoding not stable for %s (-first +second):\n%s", in, diff)
		}
	})
}
