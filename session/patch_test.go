package session_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias/session"
)

func ptr[T any](v T) *T { return &v }

func TestPatch_UnmarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want session.Patch
	}{
		{name: "Empty", in: `{}`, want: session.Patch{}},
		{name: "Name", in: `{"name":"n"}`, want: session.Patch{Name: ptr("n")}},
		{name: "NameNullClears", in: `{"name":null}`, want: session.Patch{Name: ptr("")}},
		{name: "Description", in: `{"description":"d"}`, want: session.Patch{Description: ptr("d")}},
		{name: "DescriptionNullClears", in: `{"description":null}`, want: session.Patch{Description: ptr("")}},
		{name: "Metadata", in: `{"metadata":{"tenant":"acme","n":2}}`, want: session.Patch{Metadata: map[string]any{"tenant": "acme", "n": 2.0}}},
		{name: "MetadataNullClears", in: `{"metadata":null}`, want: session.Patch{Metadata: map[string]any{}}},
		{name: "EnabledFalse", in: `{"enabled":false}`, want: session.Patch{Enabled: ptr(false)}},
		{name: "TTI", in: `{"tti_minutes":30}`, want: session.Patch{TTIMinutes: ptr(int64(30))}},
		{name: "TTIZero", in: `{"tti_minutes":0}`, want: session.Patch{TTIMinutes: ptr(int64(0))}},
		{name: "SecretSet", in: `{"secrets":{"tok":"v"}}`, want: session.Patch{Secrets: map[string]*string{"tok": ptr("v")}}},
		{name: "SecretNullRemoves", in: `{"secrets":{"tok":null}}`, want: session.Patch{Secrets: map[string]*string{"tok": nil}}},
		{
			name: "SecretsMixed",
			in:   `{"secrets":{"keep":"new","drop":null}}`,
			want: session.Patch{Secrets: map[string]*string{"keep": ptr("new"), "drop": nil}},
		},
		{name: "SecretsEmpty", in: `{"secrets":{}}`, want: session.Patch{Secrets: map[string]*string{}}},
		{
			name: "All",
			in:   `{"name":"n","description":"","metadata":{},"enabled":true,"tti_minutes":5,"secrets":{"a":"b"}}`,
			want: session.Patch{
				Name: ptr("n"), Description: ptr(""), Metadata: map[string]any{}, Enabled: ptr(true),
				TTIMinutes: ptr(int64(5)), Secrets: map[string]*string{"a": ptr("b")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got session.Patch
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Patch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPatch_UnmarshalJSONErrors(t *testing.T) {
	const secretsMsg = "must be an object mapping names to strings or null"
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{name: "EnabledNull", in: `{"enabled":null}`, want: map[string]string{"enabled": "must not be null"}},
		{name: "TTINull", in: `{"tti_minutes":null}`, want: map[string]string{"tti_minutes": "must not be null"}},
		{name: "SecretsNull", in: `{"secrets":null}`, want: map[string]string{"secrets": secretsMsg}},
		{name: "SecretNumber", in: `{"secrets":{"tok":1}}`, want: map[string]string{"secrets": secretsMsg}},
		{name: "SecretsArray", in: `{"secrets":["tok"]}`, want: map[string]string{"secrets": secretsMsg}},
		{name: "NameNumber", in: `{"name":5}`, want: map[string]string{"name": "must be a string"}},
		{name: "DescriptionArray", in: `{"description":[]}`, want: map[string]string{"description": "must be a string"}},
		{name: "MetadataString", in: `{"metadata":"x"}`, want: map[string]string{"metadata": "must be a JSON object"}},
		{name: "EnabledString", in: `{"enabled":"false"}`, want: map[string]string{"enabled": "must be a boolean"}},
		{name: "TTIFraction", in: `{"tti_minutes":1.5}`, want: map[string]string{"tti_minutes": "must be an integer"}},
		{name: "TTIString", in: `{"tti_minutes":"5"}`, want: map[string]string{"tti_minutes": "must be an integer"}},
		{name: "AgentKeyNotPatchable", in: `{"agent_key":"other"}`, want: map[string]string{"agent_key": "unknown field"}},
		{name: "AliasKeyNotPatchable", in: `{"alias_key":"other"}`, want: map[string]string{"alias_key": "unknown field"}},
		{name: "KeyNotPatchable", in: `{"key":"other"}`, want: map[string]string{"key": "unknown field"}},
		{name: "StatusNotPatchable", in: `{"status":"stopped"}`, want: map[string]string{"status": "unknown field"}},
		{
			name: "Several",
			in:   `{"enabled":null,"tti_minutes":"x","bogus":true}`,
			want: map[string]string{"enabled": "must not be null", "tti_minutes": "must be an integer", "bogus": "unknown field"},
		},
		{name: "BodyNull", in: `null`, want: map[string]string{"": "must be a JSON object"}},
		{name: "BodyArray", in: `[]`, want: map[string]string{"": "must be a JSON object"}},
		{name: "BodyString", in: `"x"`, want: map[string]string{"": "must be a JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := session.Patch{Name: ptr("unchanged")}
			err := p.UnmarshalJSON([]byte(tt.in))
			if err == nil {
				t.Fatalf("UnmarshalJSON(%s) = nil error, want %v", tt.in, tt.want)
			}
			if diff := cmp.Diff(tt.want, fieldErrors(t, err)); diff != "" {
				t.Errorf("FieldErrors() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(session.Patch{Name: ptr("unchanged")}, p); diff != "" {
				t.Errorf("Patch changed on error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPatch_MarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		in   session.Patch
		want string
	}{
		{name: "Zero", in: session.Patch{}, want: `{}`},
		{name: "TTIZero", in: session.Patch{TTIMinutes: ptr(int64(0))}, want: `{"tti_minutes":0}`},
		{name: "MetadataEmpty", in: session.Patch{Metadata: map[string]any{}}, want: `{"metadata":{}}`},
		{
			name: "SecretsMasked",
			in:   session.Patch{Secrets: map[string]*string{"set": ptr(secretValue), "drop": nil}},
			want: `{"secrets":{"drop":null,"set":"****"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("DoesNotChangePatch", func(t *testing.T) {
		p := session.Patch{Secrets: map[string]*string{"set": ptr(secretValue)}}
		if _, err := json.Marshal(p); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(session.Patch{Secrets: map[string]*string{"set": ptr(secretValue)}}, p); diff != "" {
			t.Errorf("MarshalJSON changed the patch (-want +got):\n%s", diff)
		}
	})
}

func TestPatch_IsZero(t *testing.T) {
	tests := []struct {
		name string
		in   session.Patch
		want bool
	}{
		{name: "Zero", in: session.Patch{}, want: true},
		{name: "Name", in: session.Patch{Name: ptr("")}, want: false},
		{name: "Description", in: session.Patch{Description: ptr("")}, want: false},
		{name: "Metadata", in: session.Patch{Metadata: map[string]any{}}, want: false},
		{name: "Enabled", in: session.Patch{Enabled: ptr(false)}, want: false},
		{name: "TTI", in: session.Patch{TTIMinutes: ptr(int64(0))}, want: false},
		{name: "Secrets", in: session.Patch{Secrets: map[string]*string{}}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.in.IsZero()); diff != "" {
				t.Errorf("IsZero() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPatch_Validate(t *testing.T) {
	const nameMsg = "secret names must match ^[A-Za-z0-9_-]+$ and be 1-128 characters"
	many := map[string]*string{}
	for i := 0; i <= session.MaxSecrets; i++ {
		many[fmt.Sprintf("s%d", i)] = nil
	}
	tests := []struct {
		name string
		in   session.Patch
		want map[string]string
	}{
		{name: "Zero", in: session.Patch{}},
		{name: "NameEmptyAllowed", in: session.Patch{Name: ptr("")}},
		{name: "OK", in: session.Patch{Name: ptr("n"), TTIMinutes: ptr(int64(60)), Secrets: map[string]*string{"a": ptr("v"), "b": nil}}},
		{name: "Name101", in: session.Patch{Name: ptr(strings.Repeat("n", 101))}, want: map[string]string{"name": "must be at most 100 characters"}},
		{name: "DescriptionTooLong", in: session.Patch{Description: ptr(strings.Repeat("d", 10001))}, want: map[string]string{"description": "must be at most 10000 characters"}},
		{name: "MetadataChannel", in: session.Patch{Metadata: map[string]any{"c": make(chan int)}}, want: map[string]string{"metadata": "must be a JSON object: chan int is not a JSON value"}},
		{name: "TTINegative", in: session.Patch{TTIMinutes: ptr(int64(-1))}, want: map[string]string{"tti_minutes": "must be between 0 and 52596000"}},
		{name: "SecretEmpty", in: session.Patch{Secrets: map[string]*string{"a": ptr("")}}, want: map[string]string{"secrets.a": "must be 1-4096 characters"}},
		{name: "SecretBadName", in: session.Patch{Secrets: map[string]*string{"a.b": ptr("v")}}, want: map[string]string{"secrets.a.b": nameMsg}},
		{name: "RemoveBadName", in: session.Patch{Secrets: map[string]*string{"a b": nil}}, want: map[string]string{"secrets.a b": nameMsg}},
		{name: "TooMany", in: session.Patch{Secrets: many}, want: map[string]string{"secrets": "must have at most 64 entries"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if diff := cmp.Diff(tt.want, fieldErrors(t, err)); diff != "" {
				t.Errorf("FieldErrors() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPatch_Apply(t *testing.T) {
	now := time.Date(2026, 6, 2, 12, 0, 0, 0, time.UTC)
	oldExpiry := now.Add(5 * time.Minute)
	base := func() *session.Session {
		s := validSession()
		s.Description = "old description"
		s.Metadata = map[string]any{"tenant": "acme", "user_id": "u-123"}
		s.TTIMinutes = 10
		s.ExpiresAt = oldExpiry
		s.Secrets = session.Secrets{"keep": "k", "replace": "old", "drop": "d"}
		s.Revision = 3
		return s
	}
	with := func(f func(s *session.Session)) *session.Session {
		s := base()
		f(s)
		return s
	}
	tests := []struct {
		name string
		in   session.Patch
		want *session.Session
	}{
		{name: "Zero", in: session.Patch{}, want: base()},
		{name: "Name", in: session.Patch{Name: ptr("New")}, want: with(func(s *session.Session) { s.Name = "New" })},
		{name: "NameEmptyBecomesKey", in: session.Patch{Name: ptr("")}, want: with(func(s *session.Session) { s.Name = "chat-42" })},
		{name: "DescriptionCleared", in: session.Patch{Description: ptr("")}, want: with(func(s *session.Session) { s.Description = "" })},
		{name: "Disable", in: session.Patch{Enabled: ptr(false)}, want: with(func(s *session.Session) { s.Enabled = false })},
		{
			name: "MetadataReplacedWhole",
			in:   session.Patch{Metadata: map[string]any{"tenant": "globex"}},
			want: with(func(s *session.Session) { s.Metadata = map[string]any{"tenant": "globex"} }),
		},
		{
			name: "TTIChangeRestartsClock",
			in:   session.Patch{TTIMinutes: ptr(int64(60))},
			want: with(func(s *session.Session) { s.TTIMinutes = 60; s.ExpiresAt = now.Add(60 * time.Minute) }),
		},
		{
			name: "TTISameValueRestartsClock",
			in:   session.Patch{TTIMinutes: ptr(int64(10))},
			want: with(func(s *session.Session) { s.ExpiresAt = now.Add(10 * time.Minute) }),
		},
		{
			name: "TTIZeroNeverExpires",
			in:   session.Patch{TTIMinutes: ptr(int64(0))},
			want: with(func(s *session.Session) { s.TTIMinutes = 0; s.ExpiresAt = time.Time{} }),
		},
		{
			name: "Secrets",
			in:   session.Patch{Secrets: map[string]*string{"replace": ptr("new"), "drop": nil, "add": ptr("a"), "absent": nil}},
			want: with(func(s *session.Session) { s.Secrets = session.Secrets{"keep": "k", "replace": "new", "add": "a"} }),
		},
		{
			name: "SecretsAllRemoved",
			in:   session.Patch{Secrets: map[string]*string{"keep": nil, "replace": nil, "drop": nil}},
			want: with(func(s *session.Session) { s.Secrets = nil }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			got, err := tt.in.Apply(in, now)
			if err != nil {
				t.Fatalf("Apply() error: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Apply() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(base(), in); diff != "" {
				t.Errorf("Apply() changed its input (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("SecretsOnSessionWithout", func(t *testing.T) {
		in := validSession()
		got, err := session.Patch{Secrets: map[string]*string{"a": ptr("1"), "b": nil}}.Apply(in, now)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(session.Secrets{"a": "1"}, got.Secrets); diff != "" {
			t.Errorf("Secrets (-want +got):\n%s", diff)
		}
		if in.Secrets != nil {
			t.Errorf("input Secrets = %v, want nil", in.Secrets)
		}
	})

	t.Run("TooManySecrets", func(t *testing.T) {
		in := base()
		p := session.Patch{Secrets: map[string]*string{}}
		for i := 0; i < session.MaxSecrets; i++ {
			p.Secrets[fmt.Sprintf("s%d", i)] = ptr("v")
		}
		got, err := p.Apply(in, now)
		if err == nil {
			t.Fatalf("Apply() = %v, nil error; want an error (%d existing + %d new secrets)", got, len(in.Secrets), len(p.Secrets))
		}
		if diff := cmp.Diff(map[string]string{"secrets": "a session may hold at most 64 secrets"}, fieldErrors(t, err)); diff != "" {
			t.Errorf("FieldErrors() (-want +got):\n%s", diff)
		}
		if got != nil {
			t.Errorf("Apply() returned %v with an error", got)
		}
		if diff := cmp.Diff(base(), in); diff != "" {
			t.Errorf("Apply() changed its input (-want +got):\n%s", diff)
		}
	})

	t.Run("ResultIndependentOfPatch", func(t *testing.T) {
		p := session.Patch{Metadata: map[string]any{"m": map[string]any{"k": "v"}}, Secrets: map[string]*string{"s": ptr("v")}}
		got, err := p.Apply(base(), now)
		if err != nil {
			t.Fatal(err)
		}
		p.Metadata["m"].(map[string]any)["k"] = "changed"
		*p.Secrets["s"] = "changed"
		if diff := cmp.Diff(map[string]any{"m": map[string]any{"k": "v"}}, got.Metadata); diff != "" {
			t.Errorf("Metadata aliases the patch (-want +got):\n%s", diff)
		}
		if got.Secrets["s"] != "v" {
			t.Errorf("Secrets[s] = %q, want %q", got.Secrets["s"], "v")
		}
	})
}

func TestPatch_JSONThenApply(t *testing.T) {
	// The contract's PATCH semantics end to end: secrets name→null removes,
	// name→string sets, names not mentioned are kept.
	in := validSession()
	in.Secrets = session.Secrets{"slack_user_token": "old", "github_token": "gh"}
	var p session.Patch
	if err := json.Unmarshal([]byte(`{"secrets":{"slack_user_token":null,"jira_token":"new"},"name":null}`), &p); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := p.Apply(in, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(session.Secrets{"github_token": "gh", "jira_token": "new"}, got.Secrets); diff != "" {
		t.Errorf("Secrets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(in.Key, got.Name); diff != "" {
		t.Errorf("Name after null (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"github_token": "****", "jira_token": "****"}, m["secrets"]); diff != "" {
		t.Errorf("secrets JSON (-want +got):\n%s", diff)
	}
}
