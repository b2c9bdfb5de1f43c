package session_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias/session"
)

// contractSession is the contract's AgentSession example (vectara-api.md §2.4).
const contractSession = `{
  "key": "chat-42",
  "agent_key": "support-v2",
  "alias_key": "support",
  "name": "Customer Support Session",
  "description": "Helping customer troubleshoot widget installation issues",
  "metadata": { "tenant": "acme", "user_id": "u-123" },
  "current_step_name": null,
  "enabled": true,
  "status": "unstarted",
  "tti_minutes": 0,
  "created_at": "2026-06-02T10:40:00Z",
  "session_context_usage": {
    "input_tokens": { "count": 0 }, "output_tokens": { "count": 0, "reasoning_tokens": 0 },
    "total_tokens": 0, "model_context_window": 200000
  },
  "effective_compaction": { "enabled": true, "threshold_percent": 80, "keep_recent_inputs": 1, "tool_event_policy": "include_outputs" },
  "secrets": { "slack_user_token": "****" }
}`

const secretValue = "xoxp-1234-super-secret-value"

var created = time.Date(2026, 6, 2, 10, 40, 0, 0, time.UTC)

// contractValue is the session of contractSession, holding the real secret.
func contractValue() *session.Session {
	return &session.Session{
		Key:         "chat-42",
		AgentKey:    "support-v2",
		AliasKey:    "support",
		Name:        "Customer Support Session",
		Description: "Helping customer troubleshoot widget installation issues",
		Metadata:    map[string]any{"tenant": "acme", "user_id": "u-123"},
		Enabled:     true,
		Status:      session.Unstarted,
		TTIMinutes:  0,
		CreatedAt:   created,
		ContextUsage: &session.ContextUsage{
			InputTokens:        session.InputTokens{Count: 0},
			OutputTokens:       session.OutputTokens{Count: 0, ReasoningTokens: 0},
			TotalTokens:        0,
			ModelContextWindow: 200000,
		},
		Compaction: &session.Compaction{
			Enabled:          true,
			ThresholdPercent: 80,
			KeepRecentInputs: 1,
			ToolEventPolicy:  "include_outputs",
		},
		Secrets: session.Secrets{"slack_user_token": secretValue},
	}
}

func decodeAny(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("invalid JSON object %s: %v", s, err)
	}
	return v
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%T): %v", v, err)
	}
	return string(b)
}

func fieldErrors(t *testing.T, err error) map[string]string {
	t.Helper()
	var fe interface{ FieldErrors() map[string]string }
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) has no FieldErrors method", err, err)
	}
	return fe.FieldErrors()
}

func TestSession_MarshalJSON(t *testing.T) {
	t.Run("ContractExample", func(t *testing.T) {
		want := decodeAny(t, contractSession)
		// The package leaves current_step_name out when the agent reports
		// none, rather than writing null.
		delete(want, "current_step_name")
		got := decodeAny(t, mustMarshal(t, contractValue()))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("JSON (-want +got):\n%s", diff)
		}
	})

	tests := []struct {
		name string
		in   func(s *session.Session)
		want string
	}{
		{
			name: "Minimal",
			in: func(s *session.Session) {
				*s = session.Session{Key: "chat-1", AgentKey: "agent-1", Name: "chat-1", CreatedAt: created}
			},
			// alias_key left out, metadata {} when nil, enabled and
			// tti_minutes always present.
			want: `{"key":"chat-1","agent_key":"agent-1","name":"chat-1","metadata":{},"enabled":false,"tti_minutes":0,"created_at":"2026-06-02T10:40:00Z"}`,
		},
		{
			name: "CurrentStepAndSubAgent",
			in: func(s *session.Session) {
				step := "triage"
				*s = session.Session{
					Key: "chat-2", AgentKey: "agent-1", Name: "n", CurrentStepName: &step, Enabled: true,
					Status: session.Running, CreatedByAgentKey: "parent-agent", CreatedBySessionKey: "parent-chat",
					TTIMinutes: 30, CreatedAt: created, ExpiresAt: created.Add(time.Hour), Revision: 9,
				}
			},
			want: `{"key":"chat-2","agent_key":"agent-1","name":"n","metadata":{},"current_step_name":"triage","enabled":true,"status":"running",
			 "created_by_agent_key":"parent-agent","created_by_session_key":"parent-chat","tti_minutes":30,"created_at":"2026-06-02T10:40:00Z"}`,
		},
		{
			name: "UTC",
			in: func(s *session.Session) {
				*s = session.Session{Key: "k", AgentKey: "a", Name: "n", CreatedAt: time.Date(2026, 6, 2, 5, 40, 0, 0, time.FixedZone("EST", -5*3600))}
			},
			want: `{"key":"k","agent_key":"a","name":"n","metadata":{},"enabled":false,"tti_minutes":0,"created_at":"2026-06-02T10:40:00Z"}`,
		},
		{
			name: "EmptySecretsLeftOut",
			in: func(s *session.Session) {
				*s = session.Session{Key: "k", AgentKey: "a", Name: "n", CreatedAt: created, Secrets: session.Secrets{}}
			},
			want: `{"key":"k","agent_key":"a","name":"n","metadata":{},"enabled":false,"tti_minutes":0,"created_at":"2026-06-02T10:40:00Z"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s session.Session
			tt.in(&s)
			got := mustMarshal(t, s)
			if diff := cmp.Diff(decodeAny(t, tt.want), decodeAny(t, got)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s\ngot: %s", diff, got)
			}
			// A pointer encodes like the value.
			if diff := cmp.Diff(got, mustMarshal(t, &s)); diff != "" {
				t.Errorf("pointer JSON differs (-value +pointer):\n%s", diff)
			}
		})
	}
}

func TestSession_UnmarshalJSON(t *testing.T) {
	t.Run("ContractExample", func(t *testing.T) {
		var got session.Session
		if err := json.Unmarshal([]byte(contractSession), &got); err != nil {
			t.Fatal(err)
		}
		want := contractValue()
		want.Secrets = session.Secrets{"slack_user_token": "****"}
		if diff := cmp.Diff(want, &got); diff != "" {
			t.Errorf("decoded (-want +got):\n%s", diff)
		}
	})
	t.Run("EnabledDefaultsTrue", func(t *testing.T) {
		var got session.Session
		if err := json.Unmarshal([]byte(`{"key":"k","agent_key":"a","name":"n"}`), &got); err != nil {
			t.Fatal(err)
		}
		if !got.Enabled {
			t.Error("Enabled = false, want true when absent")
		}
	})
	t.Run("EnabledFalse", func(t *testing.T) {
		var got session.Session
		if err := json.Unmarshal([]byte(`{"key":"k","enabled":false}`), &got); err != nil {
			t.Fatal(err)
		}
		if got.Enabled {
			t.Error("Enabled = true, want false")
		}
	})
	t.Run("SecretsFromCreateRequest", func(t *testing.T) {
		var got session.Session
		if err := json.Unmarshal([]byte(`{"key":"k","secrets":{"tok":"v1","other":"v2"}}`), &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(session.Secrets{"tok": "v1", "other": "v2"}, got.Secrets); diff != "" {
			t.Errorf("Secrets (-want +got):\n%s", diff)
		}
	})
	t.Run("SecretsWrongType", func(t *testing.T) {
		var got session.Session
		if err := json.Unmarshal([]byte(`{"key":"k","secrets":{"tok":1}}`), &got); err == nil {
			t.Error("Unmarshal(secret value 1) = nil error, want one")
		}
	})
}

func TestSecrets_MarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		in   session.Secrets
		want string
	}{
		{name: "Nil", in: nil, want: `null`},
		{name: "Empty", in: session.Secrets{}, want: `{}`},
		{name: "Masked", in: session.Secrets{"a": secretValue, "b": "x"}, want: `{"a":"****","b":"****"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, mustMarshal(t, tt.in)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecrets_Masked(t *testing.T) {
	s := session.Secrets{"a": "1", "b": "2"}
	if diff := cmp.Diff(map[string]string{"a": "****", "b": "****"}, s.Masked()); diff != "" {
		t.Errorf("Masked() (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(session.Secrets{"a": "1", "b": "2"}, s); diff != "" {
		t.Errorf("Masked() changed its receiver (-want +got):\n%s", diff)
	}
	if got := session.Secrets(nil).Masked(); got != nil {
		t.Errorf("nil.Masked() = %v, want nil", got)
	}
}

func TestSecrets_Clone(t *testing.T) {
	if got := session.Secrets(nil).Clone(); got != nil {
		t.Errorf("nil.Clone() = %v, want nil", got)
	}
	s := session.Secrets{"a": "1"}
	c := s.Clone()
	c["a"] = "changed"
	c["b"] = "new"
	if diff := cmp.Diff(session.Secrets{"a": "1"}, s); diff != "" {
		t.Errorf("original changed through the clone (-want +got):\n%s", diff)
	}
}

func TestSecrets_Fmt(t *testing.T) {
	s := contractValue()
	s.Secrets["zz_other"] = "another-secret-2"
	tests := []struct {
		name string
		in   string
		want string // must appear
	}{
		{name: "SecretsV", in: fmt.Sprintf("%v", s.Secrets), want: "map[slack_user_token:**** zz_other:****]"},
		{name: "SecretsS", in: fmt.Sprintf("%s", s.Secrets), want: "map[slack_user_token:**** zz_other:****]"},
		{name: "SecretsPlusV", in: fmt.Sprintf("%+v", s.Secrets), want: "map[slack_user_token:**** zz_other:****]"},
		{name: "SecretsSharpV", in: fmt.Sprintf("%#v", s.Secrets), want: "****"},
		{name: "SecretsD", in: fmt.Sprintf("%d", s.Secrets), want: "****"},
		{name: "SecretsPointerV", in: fmt.Sprintf("%v", &s.Secrets), want: "****"},
		{name: "SecretsPrintln", in: fmt.Sprintln(s.Secrets), want: "****"},
		{name: "ValueV", in: fmt.Sprintf("%v", *s), want: "****"},
		{name: "ValuePlusV", in: fmt.Sprintf("%+v", *s), want: "Secrets:map[slack_user_token:**** zz_other:****]"},
		{name: "ValueSharpV", in: fmt.Sprintf("%#v", *s), want: "****"},
		{name: "PointerV", in: fmt.Sprintf("%v", s), want: "****"},
		{name: "PointerPlusV", in: fmt.Sprintf("%+v", s), want: "Secrets:map[slack_user_token:**** zz_other:****]"},
		{name: "PointerSharpV", in: fmt.Sprintf("%#v", s), want: "****"},
		{name: "Slice", in: fmt.Sprintf("%v", []session.Session{*s}), want: "****"},
		{name: "Error", in: fmt.Errorf("creating %v: failed", *s).Error(), want: "****"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range []string{secretValue, "another-secret-2"} {
				if strings.Contains(tt.in, v) {
					t.Errorf("output reveals secret %q: %s", v, tt.in)
				}
			}
			if !strings.Contains(tt.in, tt.want) {
				t.Errorf("output %s does not contain %q", tt.in, tt.want)
			}
		})
	}
}

func TestSecrets_Slog(t *testing.T) {
	s := contractValue()
	handlers := []struct {
		name string
		new  func(b *bytes.Buffer) slog.Handler
	}{
		{name: "JSON", new: func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
		{name: "Text", new: func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
	}
	attrs := []struct {
		name string
		in   slog.Attr
	}{
		{name: "Secrets", in: slog.Any("secrets", s.Secrets)},
		{name: "SecretsPointer", in: slog.Any("secrets", &s.Secrets)},
		{name: "Session", in: slog.Any("session", *s)},
		{name: "SessionPointer", in: slog.Any("session", s)},
		{name: "Group", in: slog.Group("g", slog.Any("secrets", s.Secrets))},
	}
	for _, h := range handlers {
		for _, a := range attrs {
			t.Run(h.name+"/"+a.name, func(t *testing.T) {
				var buf bytes.Buffer
				slog.New(h.new(&buf)).LogAttrs(t.Context(), slog.LevelInfo, "created", a.in)
				out := buf.String()
				if strings.Contains(out, secretValue) {
					t.Errorf("log reveals the secret: %s", out)
				}
				if !strings.Contains(out, "****") {
					t.Errorf("log has no masked secret: %s", out)
				}
				if !strings.Contains(out, "slack_user_token") {
					t.Errorf("log lost the secret's name: %s", out)
				}
			})
		}
	}
}

func TestSecrets_LogValue(t *testing.T) {
	v := session.Secrets{"b": "2", "a": "1"}.LogValue()
	if diff := cmp.Diff("map[a:**** b:****]", v.String()); diff != "" {
		t.Errorf("LogValue() (-want +got):\n%s", diff)
	}
}

func validSession() *session.Session {
	return &session.Session{
		Key:       "chat-42",
		AgentKey:  "support-v2",
		AliasKey:  "support",
		Name:      "Customer Support Session",
		Enabled:   true,
		Status:    session.Unstarted,
		CreatedAt: created,
	}
}

func TestSession_Validate(t *testing.T) {
	const keyMsg = "must match ^[0-9a-zA-Z_-]+$ and be 1-50 characters"
	const nameMsg = "secret names must match ^[A-Za-z0-9_-]+$ and be 1-128 characters"
	manySecrets := session.Secrets{}
	for i := 0; i <= session.MaxSecrets; i++ {
		manySecrets[fmt.Sprintf("s%d", i)] = "v"
	}
	tests := []struct {
		name string
		in   func(s *session.Session)
		want map[string]string
	}{
		{name: "OK", in: func(s *session.Session) {}},
		{name: "NoAlias", in: func(s *session.Session) { s.AliasKey = "" }},
		{name: "NoStatus", in: func(s *session.Session) { s.Status = "" }},
		{name: "Running", in: func(s *session.Session) { s.Status = session.Running }},
		{name: "Stopped", in: func(s *session.Session) { s.Status = session.Stopped }},
		{name: "Key50", in: func(s *session.Session) { s.Key = strings.Repeat("k", 50) }},
		{name: "TTIMax", in: func(s *session.Session) { s.TTIMinutes = session.MaxTTIMinutes }},
		{name: "Secrets", in: func(s *session.Session) {
			s.Secrets = session.Secrets{"slack_user_token": "x", "A-b_9": strings.Repeat("v", 4096)}
		}},
		{name: "Metadata", in: func(s *session.Session) { s.Metadata = map[string]any{"n": 1, "s": []string{"x"}} }},
		{name: "KeyEmpty", in: func(s *session.Session) { s.Key = "" }, want: map[string]string{"key": keyMsg}},
		{name: "Key51", in: func(s *session.Session) { s.Key = strings.Repeat("k", 51) }, want: map[string]string{"key": keyMsg}},
		{name: "KeyBadChar", in: func(s *session.Session) { s.Key = "chat 42" }, want: map[string]string{"key": keyMsg}},
		{name: "AgentKeyEmpty", in: func(s *session.Session) { s.AgentKey = "" }, want: map[string]string{"agent_key": keyMsg}},
		{name: "AgentKeyBad", in: func(s *session.Session) { s.AgentKey = "agt:1" }, want: map[string]string{"agent_key": keyMsg}},
		{name: "AliasKeyBad", in: func(s *session.Session) { s.AliasKey = "sup.port" }, want: map[string]string{"alias_key": keyMsg}},
		{name: "NameEmpty", in: func(s *session.Session) { s.Name = "" }, want: map[string]string{"name": "is required"}},
		{name: "Name101", in: func(s *session.Session) { s.Name = strings.Repeat("n", 101) }, want: map[string]string{"name": "must be at most 100 characters"}},
		{name: "NameBadUTF8", in: func(s *session.Session) { s.Name = "\xff" }, want: map[string]string{"name": "must be valid UTF-8"}},
		{name: "Description10001", in: func(s *session.Session) { s.Description = strings.Repeat("d", 10001) }, want: map[string]string{"description": "must be at most 10000 characters"}},
		{
			name: "MetadataChannel",
			in:   func(s *session.Session) { s.Metadata = map[string]any{"c": make(chan int)} },
			want: map[string]string{"metadata": "must be a JSON object: chan int is not a JSON value"},
		},
		{name: "StatusUnknown", in: func(s *session.Session) { s.Status = "paused" }, want: map[string]string{"status": `unknown status "paused"`}},
		{name: "TTINegative", in: func(s *session.Session) { s.TTIMinutes = -1 }, want: map[string]string{"tti_minutes": "must be between 0 and 52596000"}},
		{name: "TTITooLarge", in: func(s *session.Session) { s.TTIMinutes = session.MaxTTIMinutes + 1 }, want: map[string]string{"tti_minutes": "must be between 0 and 52596000"}},
		{name: "SecretBadName", in: func(s *session.Session) { s.Secrets = session.Secrets{"a b": "v"} }, want: map[string]string{"secrets.a b": nameMsg}},
		{name: "SecretNameTooLong", in: func(s *session.Session) { s.Secrets = session.Secrets{strings.Repeat("n", 129): "v"} }, want: map[string]string{"secrets." + strings.Repeat("n", 129): nameMsg}},
		{name: "SecretEmptyValue", in: func(s *session.Session) { s.Secrets = session.Secrets{"tok": ""} }, want: map[string]string{"secrets.tok": "must be 1-4096 characters"}},
		{name: "SecretTooLong", in: func(s *session.Session) { s.Secrets = session.Secrets{"tok": strings.Repeat("v", 4097)} }, want: map[string]string{"secrets.tok": "must be 1-4096 characters"}},
		{name: "TooManySecrets", in: func(s *session.Session) { s.Secrets = manySecrets }, want: map[string]string{"secrets": "must have at most 64 entries"}},
		{
			name: "Several",
			in: func(s *session.Session) {
				s.Key, s.AgentKey, s.Name, s.TTIMinutes = "", "", "", -5
			},
			want: map[string]string{"key": keyMsg, "agent_key": keyMsg, "name": "is required", "tti_minutes": "must be between 0 and 52596000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSession()
			tt.in(s)
			err := s.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %v", tt.want)
			}
			if diff := cmp.Diff(tt.want, fieldErrors(t, err)); diff != "" {
				t.Errorf("FieldErrors() (-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error(), strings.Repeat("v", 4097)) {
				t.Error("error message reveals a secret value")
			}
		})
	}
}

func TestSession_ValidateNormalizesMetadata(t *testing.T) {
	s := validSession()
	s.Metadata = map[string]any{"n": int64(3)}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"n": 3.0}, s.Metadata); diff != "" {
		t.Errorf("Metadata (-want +got):\n%s", diff)
	}
}

func TestStatus_Valid(t *testing.T) {
	tests := []struct {
		name string
		in   session.Status
		want bool
	}{
		{name: "Unstarted", in: session.Unstarted, want: true},
		{name: "Running", in: session.Running, want: true},
		{name: "Stopped", in: session.Stopped, want: true},
		{name: "Empty", in: "", want: false},
		{name: "Unknown", in: "Running", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.in.Valid()); diff != "" {
				t.Errorf("Valid() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidSecretName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "OK", in: "slack_user_token", want: true},
		{name: "Mixed", in: "A-b_9", want: true},
		{name: "Max", in: strings.Repeat("n", 128), want: true},
		{name: "TooLong", in: strings.Repeat("n", 129), want: false},
		{name: "Empty", in: "", want: false},
		{name: "Dot", in: "a.b", want: false},
		{name: "Space", in: "a b", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, session.ValidSecretName(tt.in)); diff != "" {
				t.Errorf("ValidSecretName(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestKeyFromName(t *testing.T) {
	type in struct{ name, suffix string }
	tests := []struct {
		name string
		in   in
		want string
	}{
		{name: "DocExample", in: in{"Billing question", "7f3a9c2e"}, want: "billing-question-7f3a9c2e"},
		{name: "AlreadyAKey", in: in{"chat-42", "x1"}, want: "chat-42-x1"},
		{name: "Underscore", in: in{"my_chat", "x1"}, want: "my_chat-x1"},
		{name: "Spaces", in: in{"  Hello    World  ", "x1"}, want: "hello-world-x1"},
		{name: "Punctuation", in: in{"Hello, World! (again?)", "x1"}, want: "hello-world-again-x1"},
		{name: "DashRuns", in: in{"a--b - c", "x1"}, want: "a-b-c-x1"},
		{name: "LeadingTrailingDashes", in: in{"--abc--", "x1"}, want: "abc-x1"},
		{name: "LeadingTrailingPunctuation", in: in{"...abc!!!", "x1"}, want: "abc-x1"},
		{name: "Unicode", in: in{"Café Münster", "x1"}, want: "caf-m-nster-x1"},
		{name: "OnlyUnicode", in: in{"日本語", "x1"}, want: "session-x1"},
		{name: "OnlyPunctuation", in: in{"!!! ???", "x1"}, want: "session-x1"},
		{name: "OnlyDashes", in: in{"----", "x1"}, want: "session-x1"},
		{name: "Empty", in: in{"", "7f3a9c2e"}, want: "session-7f3a9c2e"},
		{name: "EmptySuffix", in: in{"Billing question", ""}, want: "billing-question"},
		{name: "EmptyBoth", in: in{"", ""}, want: "session"},
		{name: "UppercaseSuffixKept", in: in{"Chat", "AbC"}, want: "chat-AbC"},
		{name: "InvalidUTF8", in: in{"a\xffb", "x1"}, want: "a-b-x1"},
		{name: "Newlines", in: in{"line1\nline2\t", "x1"}, want: "line1-line2-x1"},
		{name: "KelvinSign", in: in{"\u212aelvin", "x1"}, want: "kelvin-x1"},
		{
			name: "LongTruncated",
			in:   in{strings.Repeat("a", 100), "12345678"},
			want: strings.Repeat("a", 41) + "-12345678",
		},
		{
			name: "LongTruncatedAtDash",
			in:   in{strings.Repeat("a", 40) + " bbbbbbbbbb", "12345678"},
			want: strings.Repeat("a", 40) + "-12345678",
		},
		{
			name: "LongNoSuffix",
			in:   in{strings.Repeat("Ab", 40), ""},
			want: strings.Repeat("ab", 25),
		},
		{
			name: "Exactly50",
			in:   in{strings.Repeat("a", 41), "12345678"},
			want: strings.Repeat("a", 41) + "-12345678",
		},
		{
			name: "LongSuffix",
			in:   in{"Billing question", strings.Repeat("s", 40)},
			want: "billing-q-" + strings.Repeat("s", 40),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := session.KeyFromName(tt.in.name, tt.in.suffix)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("KeyFromName(%q, %q) (-want +got):\n%s", tt.in.name, tt.in.suffix, diff)
			}
			if len(got) > session.MaxKeyLen {
				t.Errorf("len(%q) = %d, want <= %d", got, len(got), session.MaxKeyLen)
			}
			if !session.ValidKey(got) {
				t.Errorf("KeyFromName(%q, %q) = %q, not a valid key", tt.in.name, tt.in.suffix, got)
			}
		})
	}
}

func TestKeyFromName_PanicsOnBadSuffix(t *testing.T) {
	for _, suffix := range []string{"no spaces", "ü", strings.Repeat("s", 50)} {
		t.Run(suffix, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("KeyFromName(name, %q) did not panic", suffix)
				}
			}()
			session.KeyFromName("name", suffix)
		})
	}
}

// keyAlphabet holds the 64 characters a key may contain.
const keyAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-"

// toSuffix maps arbitrary fuzz bytes to a valid suffix of at most 20 key
// characters, so that no input is wasted.
func toSuffix(raw string) string {
	if len(raw) > 20 {
		raw = raw[:20]
	}
	b := []byte(raw)
	for i, c := range b {
		b[i] = keyAlphabet[int(c)%len(keyAlphabet)]
	}
	return string(b)
}

func FuzzKeyFromName(f *testing.F) {
	for _, seed := range []struct{ name, suffix string }{
		{"Billing question", "7f3a9c2e"},
		{"", ""},
		{"", "x"},
		{"--a--", "-"},
		{"日本語 テスト", "abc"},
		{strings.Repeat("word ", 30), strings.Repeat("Z", 20)},
		{"a\xffb", "_"},
		{"\u0130stanbul", "1"},
	} {
		f.Add(seed.name, seed.suffix)
	}
	f.Fuzz(func(t *testing.T, name, rawSuffix string) {
		suffix := toSuffix(rawSuffix)
		got := session.KeyFromName(name, suffix)
		if !session.ValidKey(got) {
			t.Fatalf("KeyFromName(%q, %q) = %q, not a valid key", name, suffix, got)
		}
		base := got
		if suffix != "" {
			if !strings.HasSuffix(got, "-"+suffix) {
				t.Fatalf("KeyFromName(%q, %q) = %q, does not end in -%s", name, suffix, got, suffix)
			}
			base = strings.TrimSuffix(got, "-"+suffix)
		}
		if base == "" || strings.HasPrefix(base, "-") || strings.HasSuffix(base, "-") || strings.Contains(base, "--") {
			t.Fatalf("KeyFromName(%q, %q) = %q: base %q has stray dashes", name, suffix, got, base)
		}
		if strings.ToLower(base) != base {
			t.Fatalf("KeyFromName(%q, %q) = %q: base %q is not lower case", name, suffix, got, base)
		}
		if again := session.KeyFromName(name, suffix); again != got {
			t.Fatalf("KeyFromName(%q, %q) not deterministic: %q then %q", name, suffix, got, again)
		}
	})
}

func TestSession_ExpiredAndTouch(t *testing.T) {
	now := time.Date(2026, 6, 2, 12, 0, 0, 0, time.UTC)
	t.Run("Expired", func(t *testing.T) {
		tests := []struct {
			name string
			in   time.Time // ExpiresAt
			want bool
		}{
			{name: "Never", in: time.Time{}, want: false},
			{name: "Future", in: now.Add(time.Nanosecond), want: false},
			{name: "Now", in: now, want: true},
			{name: "Past", in: now.Add(-time.Minute), want: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := &session.Session{ExpiresAt: tt.in}
				if diff := cmp.Diff(tt.want, s.Expired(now)); diff != "" {
					t.Errorf("Expired() (-want +got):\n%s", diff)
				}
			})
		}
	})
	t.Run("Touch", func(t *testing.T) {
		tests := []struct {
			name string
			in   int64 // TTIMinutes
			want time.Time
		}{
			{name: "Never", in: 0, want: time.Time{}},
			{name: "Negative", in: -3, want: time.Time{}},
			{name: "ThirtyMinutes", in: 30, want: now.Add(30 * time.Minute)},
			{name: "Max", in: session.MaxTTIMinutes, want: now.Add(time.Duration(session.MaxTTIMinutes) * time.Minute)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := &session.Session{TTIMinutes: tt.in, ExpiresAt: now.Add(-time.Hour)}
				s.Touch(now)
				if diff := cmp.Diff(tt.want, s.ExpiresAt); diff != "" {
					t.Errorf("ExpiresAt (-want +got):\n%s", diff)
				}
				if tt.in > 0 && (s.Expired(now) || !s.Expired(tt.want)) {
					t.Errorf("after Touch: Expired(now) = %v, Expired(ExpiresAt) = %v; want false, true", s.Expired(now), s.Expired(tt.want))
				}
			})
		}
	})
}

func TestSession_Clone(t *testing.T) {
	if got := (*session.Session)(nil).Clone(); got != nil {
		t.Errorf("nil.Clone() = %v, want nil", got)
	}
	newSession := func() *session.Session {
		s := contractValue()
		step := "triage"
		s.CurrentStepName = &step
		s.Metadata["nested"] = map[string]any{"l": []any{"x"}}
		return s
	}
	orig := newSession()
	c := orig.Clone()
	if diff := cmp.Diff(orig, c); diff != "" {
		t.Fatalf("Clone() differs (-orig +clone):\n%s", diff)
	}
	*c.CurrentStepName = "changed"
	c.ContextUsage.TotalTokens = 99
	c.Compaction.ThresholdPercent = 50
	c.Secrets["slack_user_token"] = "changed"
	c.Secrets["new"] = "x"
	c.Metadata["tenant"] = "changed"
	c.Metadata["nested"].(map[string]any)["l"].([]any)[0] = "changed"
	if diff := cmp.Diff(newSession(), orig); diff != "" {
		t.Errorf("original changed through the clone (-want +got):\n%s", diff)
	}
}

func TestCheckMetadata(t *testing.T) {
	got, err := session.CheckMetadata(nil)
	if err != nil || got != nil {
		t.Errorf("CheckMetadata(nil) = %v, %v; want nil, nil", got, err)
	}
	in := map[string]any{"n": 1}
	got, err = session.CheckMetadata(in)
	if err != nil {
		t.Fatal(err)
	}
	got["n"] = "changed"
	if diff := cmp.Diff(map[string]any{"n": 1}, in); diff != "" {
		t.Errorf("CheckMetadata's result aliases its input (-want +got):\n%s", diff)
	}
	if _, err := session.CheckMetadata(map[string]any{"big": strings.Repeat("x", session.MaxMetadataBytes)}); err == nil {
		t.Error("CheckMetadata(too large) = nil error, want one")
	}
}
