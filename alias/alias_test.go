package alias_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/policy"
)

// guideCreateResponse is the contract's literal create response
// (vectara-api.md §2.2).
const guideCreateResponse = `{"key":"support","name":"Customer Support","description":"Stable public handle for the support agent",
 "policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]},
 "enabled":true,"metadata":{},"created_at":"2026-06-02T10:35:00.000Z"}`

// contractExample is the contract's AgentAlias example with a weighted rule
// and updated_at (vectara-api.md §2.2).
const contractExample = `{
  "key": "support",
  "name": "Customer Support",
  "description": "Stable public handle for the support agent",
  "policy": {
    "type": "routed",
    "rules": [
      {
        "match": "get('$.session.metadata.tenant') == 'acme'",
        "targets": { "type": "single", "agent_key": "support-acme" }
      },
      {
        "targets": {
          "type": "weighted",
          "partition_by": "get('$.session.metadata.user_id', '')",
          "options": [
            { "agent_key": "support-v1", "weight": 90 },
            { "agent_key": "support-v2", "weight": 10 }
          ]
        }
      }
    ]
  },
  "enabled": true,
  "metadata": { "region": "us" },
  "created_at": "2026-06-02T10:35:00.000Z",
  "updated_at": "2026-06-03T08:00:00.000Z"
}`

var created = time.Date(2026, 6, 2, 10, 35, 0, 0, time.UTC)

func singlePolicy(agent string) policy.Document {
	return policy.Document{
		Type:  policy.TypeRouted,
		Rules: []policy.Rule{{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: agent}}},
	}
}

// guideAlias is the alias of guideCreateResponse.
func guideAlias() *alias.Alias {
	return &alias.Alias{
		Key:         "support",
		Name:        "Customer Support",
		Description: "Stable public handle for the support agent",
		Policy:      singlePolicy("support-v1"),
		Enabled:     true,
		CreatedAt:   created,
	}
}

// semantic decodes the JSON text s into a generic value in which every
// "*_at" timestamp string is replaced by the time.Time it denotes, so that
// "10:35:00.000Z" and "10:35:00Z" compare equal but "10:35:01Z" does not.
func semantic(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", s, err)
	}
	var walk func(any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if str, ok := e.(string); ok && strings.HasSuffix(k, "_at") {
					ts, err := time.Parse(time.RFC3339Nano, str)
					if err != nil {
						t.Fatalf("%s: %q is not an RFC 3339 timestamp: %v", k, str, err)
					}
					v[k] = ts
					continue
				}
				v[k] = walk(e)
			}
		case []any:
			for i, e := range v {
				v[i] = walk(e)
			}
		}
		return v
	}
	return walk(v)
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%T): %v", v, err)
	}
	return string(b)
}

// fieldErrors returns the field errors of err through the documented
// interface, failing the test if err has none.
func fieldErrors(t *testing.T, err error) map[string]string {
	t.Helper()
	var fe interface{ FieldErrors() map[string]string }
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) has no FieldErrors method", err, err)
	}
	return fe.FieldErrors()
}

func TestAlias_Validate(t *testing.T) {
	const keyMsg = "must match ^[0-9a-zA-Z_-]+$ and be 1-50 characters"
	tests := []struct {
		name string
		in   func(a *alias.Alias)
		want map[string]string // nil means valid
	}{
		{name: "OK", in: func(a *alias.Alias) {}},
		{name: "Key50", in: func(a *alias.Alias) { a.Key = strings.Repeat("k", 50) }},
		{name: "KeyAllClasses", in: func(a *alias.Alias) { a.Key = "Support_v-1" }},
		{name: "KeyEmpty", in: func(a *alias.Alias) { a.Key = "" }, want: map[string]string{"key": keyMsg}},
		{name: "Key51", in: func(a *alias.Alias) { a.Key = strings.Repeat("k", 51) }, want: map[string]string{"key": keyMsg}},
		{name: "KeySpace", in: func(a *alias.Alias) { a.Key = "sup port" }, want: map[string]string{"key": keyMsg}},
		{name: "KeyDot", in: func(a *alias.Alias) { a.Key = "support.v1" }, want: map[string]string{"key": keyMsg}},
		{name: "KeySlash", in: func(a *alias.Alias) { a.Key = "a/b" }, want: map[string]string{"key": keyMsg}},
		{name: "KeyUnicode", in: func(a *alias.Alias) { a.Key = "supp\u00f6rt" }, want: map[string]string{"key": keyMsg}},
		{name: "NameEmpty", in: func(a *alias.Alias) { a.Name = "" }, want: map[string]string{"name": "is required"}},
		{name: "Name100", in: func(a *alias.Alias) { a.Name = strings.Repeat("n", 100) }},
		{name: "Name100MultiByte", in: func(a *alias.Alias) { a.Name = strings.Repeat("\u00e9", 100) }},
		{name: "Name101", in: func(a *alias.Alias) { a.Name = strings.Repeat("n", 101) }, want: map[string]string{"name": "must be at most 100 characters"}},
		{name: "NameInvalidUTF8", in: func(a *alias.Alias) { a.Name = "bad\xff" }, want: map[string]string{"name": "must be valid UTF-8"}},
		{name: "DescriptionEmpty", in: func(a *alias.Alias) { a.Description = "" }},
		{name: "Description10000", in: func(a *alias.Alias) { a.Description = strings.Repeat("d", 10000) }},
		{name: "Description10001", in: func(a *alias.Alias) { a.Description = strings.Repeat("d", 10001) }, want: map[string]string{"description": "must be at most 10000 characters"}},
		{name: "DescriptionInvalidUTF8", in: func(a *alias.Alias) { a.Description = "\xc3" }, want: map[string]string{"description": "must be valid UTF-8"}},
		{name: "MetadataJSON", in: func(a *alias.Alias) {
			a.Metadata = map[string]any{"region": "us", "n": 1, "l": []any{true, nil}, "m": map[string]any{}}
		}},
		{
			name: "MetadataChannel",
			in:   func(a *alias.Alias) { a.Metadata = map[string]any{"c": make(chan int)} },
			want: map[string]string{"metadata": "must be a JSON object: chan int is not a JSON value"},
		},
		{
			name: "MetadataNaN",
			in:   func(a *alias.Alias) { a.Metadata = map[string]any{"x": []any{nanValue()}} },
			want: map[string]string{"metadata": "must be a JSON object: NaN is not a JSON number"},
		},
		{
			name: "MetadataTooLarge",
			in:   func(a *alias.Alias) { a.Metadata = map[string]any{"big": strings.Repeat("x", alias.MaxMetadataBytes)} },
			want: map[string]string{"metadata": "must be at most 65536 bytes of JSON"},
		},
		{
			name: "Several",
			in: func(a *alias.Alias) {
				a.Key = ""
				a.Name = ""
				a.Description = strings.Repeat("d", 10001)
				a.Metadata = map[string]any{"c": make(chan int)}
			},
			want: map[string]string{
				"key":         keyMsg,
				"name":        "is required",
				"description": "must be at most 10000 characters",
				"metadata":    "must be a JSON object: chan int is not a JSON value",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := guideAlias()
			tt.in(a)
			err := a.Validate()
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
		})
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

// TestAlias_ValidatePolicy checks that the policy's problems are reported
// under "policy." and the stickiness's under "stickiness.". The messages
// belong to the policy package, so only the paths are compared.
func TestAlias_ValidatePolicy(t *testing.T) {
	tests := []struct {
		name string
		in   func(a *alias.Alias)
		want []string
	}{
		{
			name: "RoutedWithoutRules",
			in:   func(a *alias.Alias) { a.Policy = policy.Document{Type: "routed"} },
			want: []string{"policy.rules"},
		},
		{
			name: "ZeroPolicy",
			in:   func(a *alias.Alias) { a.Policy = policy.Document{} },
			want: []string{"policy.rules", "policy.type"},
		},
		{
			name: "BadAgentKey",
			in:   func(a *alias.Alias) { a.Policy = singlePolicy("bad key") },
			want: []string{"policy.rules[0].targets.agent_key"},
		},
		{
			name: "WithOwnErrors",
			in: func(a *alias.Alias) {
				a.Key = "bad key"
				a.Policy = policy.Document{Type: "routed"}
			},
			want: []string{"key", "policy.rules"},
		},
		{
			name: "StickinessWithoutKey",
			in:   func(a *alias.Alias) { a.Stickiness = &policy.Stickiness{TTLMinutes: 10} },
			want: []string{"stickiness.key"},
		},
		{
			name: "StickinessOK",
			in: func(a *alias.Alias) {
				a.Stickiness = &policy.Stickiness{Key: "get('$.session.metadata.user_id')", TTLMinutes: 60}
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := guideAlias()
			tt.in(a)
			err := a.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var got []string
			for p := range fieldErrors(t, err) {
				got = append(got, p)
			}
			sortStrings(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("error paths (-want +got):\n%s", diff)
			}
		})
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestAlias_ValidateNormalizesMetadata(t *testing.T) {
	a := guideAlias()
	a.Metadata = map[string]any{"n": 3, "tags": []string{"a"}}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"n": 3.0, "tags": []any{"a"}}
	if diff := cmp.Diff(want, a.Metadata); diff != "" {
		t.Errorf("Metadata after Validate (-want +got):\n%s", diff)
	}
}

func TestAlias_ValidateErrorIsFieldErrors(t *testing.T) {
	a := guideAlias()
	a.Key = ""
	a.Policy = policy.Document{Type: "routed"}
	err := a.Validate()
	got := fieldErrors(t, err)
	if _, ok := got["policy.rules"]; !ok {
		t.Errorf("FieldErrors() = %v, want a policy.rules entry", got)
	}
	if _, ok := got["key"]; !ok {
		t.Errorf("FieldErrors() = %v, want a key entry", got)
	}
	// Error() names every path.
	for p := range got {
		if !strings.Contains(err.Error(), p+": ") {
			t.Errorf("Error() = %q, does not mention %q", err, p)
		}
	}
}

func TestValidKey(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "OK", in: "support", want: true},
		{name: "Empty", in: "", want: false},
		{name: "Max", in: strings.Repeat("a", alias.MaxKeyLen), want: true},
		{name: "TooLong", in: strings.Repeat("a", alias.MaxKeyLen+1), want: false},
		{name: "BadChar", in: "a!", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, alias.ValidKey(tt.in)); diff != "" {
				t.Errorf("ValidKey(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestAlias_MarshalJSON(t *testing.T) {
	cest := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name string
		in   *alias.Alias
		want string
	}{
		{
			name: "GuideCreateResponse",
			in:   guideAlias(),
			want: guideCreateResponse,
		},
		{
			name: "ContractExample",
			in: &alias.Alias{
				Key:         "support",
				Name:        "Customer Support",
				Description: "Stable public handle for the support agent",
				Policy: policy.Document{Type: "routed", Rules: []policy.Rule{
					{
						Match:   "get('$.session.metadata.tenant') == 'acme'",
						Targets: policy.Targets{Type: "single", AgentKey: "support-acme"},
					},
					{Targets: policy.Targets{
						Type:        "weighted",
						PartitionBy: "get('$.session.metadata.user_id', '')",
						Options:     []policy.Option{{AgentKey: "support-v1", Weight: 90}, {AgentKey: "support-v2", Weight: 10}},
					}},
				}},
				Enabled:   true,
				Metadata:  map[string]any{"region": "us"},
				CreatedAt: created,
				UpdatedAt: time.Date(2026, 6, 3, 8, 0, 0, 0, time.UTC),
				Revision:  7,
			},
			want: contractExample,
		},
		{
			name: "OtherLocation",
			in: func() *alias.Alias {
				a := guideAlias()
				a.CreatedAt = time.Date(2026, 6, 2, 12, 35, 0, 0, cest)
				a.UpdatedAt = time.Date(2026, 6, 3, 10, 0, 0, 0, cest)
				return a
			}(),
			want: `{"key":"support","name":"Customer Support","description":"Stable public handle for the support agent",
			 "policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]},
			 "enabled":true,"metadata":{},"created_at":"2026-06-02T10:35:00Z","updated_at":"2026-06-03T08:00:00Z"}`,
		},
		{
			name: "DisabledNoDescriptionWithStickiness",
			in: func() *alias.Alias {
				a := guideAlias()
				a.Enabled = false
				a.Description = ""
				a.Stickiness = &policy.Stickiness{Key: "get('$.session.metadata.user_id')", TTLMinutes: 60}
				return a
			}(),
			want: `{"key":"support","name":"Customer Support",
			 "policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]},
			 "stickiness":{"key":"get('$.session.metadata.user_id')","ttl_minutes":60},
			 "enabled":false,"metadata":{},"created_at":"2026-06-02T10:35:00Z"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustMarshal(t, tt.in)
			if diff := cmp.Diff(semantic(t, tt.want), semantic(t, got)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s\ngot: %s", diff, got)
			}
		})
	}
}

func TestAlias_MarshalJSONTimestamps(t *testing.T) {
	a := guideAlias()
	a.CreatedAt = time.Date(2026, 6, 2, 5, 35, 0, 0, time.FixedZone("EST", -5*60*60))
	var got map[string]any
	if err := json.Unmarshal([]byte(mustMarshal(t, a)), &got); err != nil {
		t.Fatal(err)
	}
	s, _ := got["created_at"].(string)
	if !strings.HasSuffix(s, "Z") {
		t.Errorf("created_at = %q, want a UTC timestamp ending in Z", s)
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("created_at = %q: %v", s, err)
	}
	if !ts.Equal(created) {
		t.Errorf("created_at = %v, want %v", ts, created)
	}
	if _, ok := got["updated_at"]; ok {
		t.Errorf("updated_at present for a zero UpdatedAt: %v", got)
	}
	if _, ok := got["Revision"]; ok {
		t.Errorf("Revision is part of the JSON: %v", got)
	}
	if _, ok := got["stickiness"]; ok {
		t.Errorf("stickiness present without one: %v", got)
	}

	// A pointer encodes the same way as a value.
	if diff := cmp.Diff(mustMarshal(t, *a), mustMarshal(t, a)); diff != "" {
		t.Errorf("value vs pointer JSON (-value +pointer):\n%s", diff)
	}
}

func TestAlias_UnmarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *alias.Alias
	}{
		{
			name: "GuideCreateResponse",
			in:   guideCreateResponse,
			want: guideAlias(),
		},
		{
			name: "EnabledAbsentDefaultsTrue",
			in: `{"key":"support","name":"Customer Support",
			 "policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]},
			 "created_at":"2026-06-02T10:35:00Z"}`,
			want: &alias.Alias{Key: "support", Name: "Customer Support", Policy: singlePolicy("support-v1"), Enabled: true, CreatedAt: created},
		},
		{
			name: "EnabledFalse",
			in: `{"key":"support","name":"Customer Support","enabled":false,
			 "policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]},
			 "created_at":"2026-06-02T10:35:00Z"}`,
			want: &alias.Alias{Key: "support", Name: "Customer Support", Policy: singlePolicy("support-v1"), Enabled: false, CreatedAt: created},
		},
		{
			name: "ContractExample",
			in:   contractExample,
			want: &alias.Alias{
				Key:         "support",
				Name:        "Customer Support",
				Description: "Stable public handle for the support agent",
				Policy: policy.Document{Type: "routed", Rules: []policy.Rule{
					{
						Match:   "get('$.session.metadata.tenant') == 'acme'",
						Targets: policy.Targets{Type: "single", AgentKey: "support-acme"},
					},
					{Targets: policy.Targets{
						Type:        "weighted",
						PartitionBy: "get('$.session.metadata.user_id', '')",
						Options:     []policy.Option{{AgentKey: "support-v1", Weight: 90}, {AgentKey: "support-v2", Weight: 10}},
					}},
				}},
				Enabled:   true,
				Metadata:  map[string]any{"region": "us"},
				CreatedAt: created,
				UpdatedAt: time.Date(2026, 6, 3, 8, 0, 0, 0, time.UTC),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got alias.Alias
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if tt.want.Metadata == nil && got.Metadata != nil && len(got.Metadata) == 0 {
				// {} decodes to an empty map; the encoded form is the same.
				got.Metadata = nil
			}
			if diff := cmp.Diff(tt.want, &got); diff != "" {
				t.Errorf("decoded alias (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAlias_UnmarshalJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{name: "NotAnObject", in: `[]`},
		{name: "BadPolicy", in: `{"key":"a","policy":{"type":"routed","rules":[],"bogus":1}}`},
		{name: "BadEnabled", in: `{"key":"a","enabled":"yes"}`},
		{name: "BadTime", in: `{"key":"a","created_at":"yesterday"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a alias.Alias
			if err := json.Unmarshal([]byte(tt.in), &a); err == nil {
				t.Errorf("Unmarshal(%s) = nil error, want one; got %+v", tt.in, a)
			}
		})
	}
}

func TestAlias_JSONRoundTrip(t *testing.T) {
	in := guideAlias()
	in.Metadata = map[string]any{"region": "us", "n": 1.5, "nested": map[string]any{"l": []any{true, nil, "x"}}}
	in.UpdatedAt = time.Date(2026, 6, 3, 8, 0, 0, 123e6, time.UTC)
	in.Stickiness = &policy.Stickiness{Key: "get('$.session.key') <> ''", TTLMinutes: 5}
	var got alias.Alias
	if err := json.Unmarshal([]byte(mustMarshal(t, in)), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, &got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestAlias_Clone(t *testing.T) {
	if got := (*alias.Alias)(nil).Clone(); got != nil {
		t.Errorf("nil.Clone() = %v, want nil", got)
	}

	newAlias := func() *alias.Alias {
		return &alias.Alias{
			Key:  "support",
			Name: "Customer Support",
			Policy: policy.Document{Type: "routed", Rules: []policy.Rule{
				{Match: "true", Targets: policy.Targets{Type: "fallback", AgentKeys: []string{"a", "b"}}},
				{Targets: policy.Targets{Type: "weighted", PartitionBy: "x", Options: []policy.Option{{AgentKey: "a", Weight: 1}}}},
			}},
			Stickiness: &policy.Stickiness{Key: "k", TTLMinutes: 1},
			Enabled:    true,
			Metadata:   map[string]any{"m": map[string]any{"k": "v"}, "l": []any{"x"}},
			CreatedAt:  created,
			Revision:   3,
		}
	}
	orig := newAlias()
	c := orig.Clone()
	if diff := cmp.Diff(orig, c); diff != "" {
		t.Fatalf("Clone() differs (-orig +clone):\n%s", diff)
	}

	c.Name = "changed"
	c.Policy.Rules[0].Targets.AgentKeys[0] = "changed"
	c.Policy.Rules[1].Targets.Options[0].Weight = 99
	c.Policy.Rules[0].Match = "false"
	c.Stickiness.TTLMinutes = 99
	c.Metadata["m"].(map[string]any)["k"] = "changed"
	c.Metadata["l"].([]any)[0] = "changed"
	c.Metadata["new"] = true

	if diff := cmp.Diff(newAlias(), orig); diff != "" {
		t.Errorf("original changed through the clone (-want +got):\n%s", diff)
	}
}

func TestPatch_UnmarshalJSON(t *testing.T) {
	str := func(s string) *string { return &s }
	boolean := func(b bool) *bool { return &b }
	tests := []struct {
		name string
		in   string
		want alias.Patch
	}{
		{name: "Empty", in: `{}`, want: alias.Patch{}},
		{name: "Name", in: `{"name":"New name"}`, want: alias.Patch{Name: str("New name")}},
		{name: "NameEmptyString", in: `{"name":""}`, want: alias.Patch{Name: str("")}},
		{name: "Description", in: `{"description":"d"}`, want: alias.Patch{Description: str("d")}},
		{name: "DescriptionNullClears", in: `{"description":null}`, want: alias.Patch{Description: str("")}},
		{name: "EnabledFalse", in: `{"enabled":false}`, want: alias.Patch{Enabled: boolean(false)}},
		{name: "EnabledTrue", in: `{"enabled":true}`, want: alias.Patch{Enabled: boolean(true)}},
		{name: "Metadata", in: `{"metadata":{"a":1,"b":[true]}}`, want: alias.Patch{Metadata: map[string]any{"a": 1.0, "b": []any{true}}}},
		{name: "MetadataNullClears", in: `{"metadata":null}`, want: alias.Patch{Metadata: map[string]any{}}},
		{name: "MetadataEmpty", in: `{"metadata":{}}`, want: alias.Patch{Metadata: map[string]any{}}},
		{
			name: "All",
			in:   `{"name":"n","description":"d","enabled":true,"metadata":{"k":"v"}}`,
			want: alias.Patch{Name: str("n"), Description: str("d"), Enabled: boolean(true), Metadata: map[string]any{"k": "v"}},
		},
		{name: "Whitespace", in: " {\n \"description\" : null \n} ", want: alias.Patch{Description: str("")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got alias.Patch
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Patch (-want +got):\n%s", diff)
			}
			// Absent stays absent: only fields named in the body are set.
			for field, set := range map[string]bool{
				"name": got.Name != nil, "description": got.Description != nil,
				"enabled": got.Enabled != nil, "metadata": got.Metadata != nil,
			} {
				if present := strings.Contains(tt.in, `"`+field+`"`); present != set {
					t.Errorf("%s: present in body = %v, set in patch = %v", field, present, set)
				}
			}
		})
	}
}

func TestPatch_UnmarshalJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{name: "NameNull", in: `{"name":null}`, want: map[string]string{"name": "must not be null"}},
		{name: "EnabledNull", in: `{"enabled":null}`, want: map[string]string{"enabled": "must not be null"}},
		{name: "UnknownField", in: `{"stickiness":{}}`, want: map[string]string{"stickiness": "unknown field"}},
		{name: "KeyNotPatchable", in: `{"key":"other"}`, want: map[string]string{"key": "unknown field"}},
		{name: "PolicyNotPatchable", in: `{"policy":{"type":"routed","rules":[]}}`, want: map[string]string{"policy": "unknown field"}},
		{name: "CaseSensitive", in: `{"Name":"x"}`, want: map[string]string{"Name": "unknown field"}},
		{name: "NameNumber", in: `{"name":1}`, want: map[string]string{"name": "must be a string"}},
		{name: "NameObject", in: `{"name":{}}`, want: map[string]string{"name": "must be a string"}},
		{name: "DescriptionBool", in: `{"description":true}`, want: map[string]string{"description": "must be a string"}},
		{name: "EnabledString", in: `{"enabled":"true"}`, want: map[string]string{"enabled": "must be a boolean"}},
		{name: "EnabledNumber", in: `{"enabled":1}`, want: map[string]string{"enabled": "must be a boolean"}},
		{name: "MetadataArray", in: `{"metadata":[1]}`, want: map[string]string{"metadata": "must be a JSON object"}},
		{name: "MetadataString", in: `{"metadata":"x"}`, want: map[string]string{"metadata": "must be a JSON object"}},
		{
			name: "Several",
			in:   `{"name":null,"enabled":"no","extra":1,"metadata":3}`,
			want: map[string]string{
				"name":     "must not be null",
				"enabled":  "must be a boolean",
				"extra":    "unknown field",
				"metadata": "must be a JSON object",
			},
		},
		{name: "BodyNull", in: `null`, want: map[string]string{"": "must be a JSON object"}},
		{name: "BodyArray", in: `[{"name":"x"}]`, want: map[string]string{"": "must be a JSON object"}},
		{name: "BodyString", in: `"name"`, want: map[string]string{"": "must be a JSON object"}},
		{name: "BodyNumber", in: `1`, want: map[string]string{"": "must be a JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := "unchanged"
			p := alias.Patch{Name: &prev}
			// Call the method directly: json.Unmarshal would reject some
			// bodies before it is reached.
			err := p.UnmarshalJSON([]byte(tt.in))
			if err == nil {
				t.Fatalf("UnmarshalJSON(%s) = nil error, want %v", tt.in, tt.want)
			}
			if diff := cmp.Diff(tt.want, fieldErrors(t, err)); diff != "" {
				t.Errorf("FieldErrors() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(alias.Patch{Name: &prev}, p); diff != "" {
				t.Errorf("Patch changed on error (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("ViaJSONUnmarshal", func(t *testing.T) {
		var p alias.Patch
		err := json.Unmarshal([]byte(`{"name":null}`), &p)
		if diff := cmp.Diff(map[string]string{"name": "must not be null"}, fieldErrors(t, err)); diff != "" {
			t.Errorf("FieldErrors() (-want +got):\n%s", diff)
		}
	})
}

func FuzzPatch_UnmarshalJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"x"}`, `{"description":null}`, `{"metadata":{"a":[1,{"b":null}]}}`, `{"enabled":null}`, `null`, `[`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var p alias.Patch
		err := p.UnmarshalJSON([]byte(in))
		if err != nil {
			fieldErrors(t, err) // every error names its fields
			if !p.IsZero() {
				t.Fatalf("patch set on error: %+v", p)
			}
			return
		}
		// A decoded patch re-encodes to a body that decodes to the same patch.
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		var again alias.Patch
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if diff := cmp.Diff(p, again); diff != "" {
			t.Fatalf("round trip of %s (-first +second):\n%s", in, diff)
		}
	})
}

func TestPatch_MarshalJSON(t *testing.T) {
	str := func(s string) *string { return &s }
	boolean := func(b bool) *bool { return &b }
	tests := []struct {
		name string
		in   alias.Patch
		want string
	}{
		{name: "Zero", in: alias.Patch{}, want: `{}`},
		{name: "Name", in: alias.Patch{Name: str("n")}, want: `{"name":"n"}`},
		{name: "DescriptionEmpty", in: alias.Patch{Description: str("")}, want: `{"description":""}`},
		{name: "EnabledFalse", in: alias.Patch{Enabled: boolean(false)}, want: `{"enabled":false}`},
		{name: "MetadataEmpty", in: alias.Patch{Metadata: map[string]any{}}, want: `{"metadata":{}}`},
		{name: "NoHTMLEscape", in: alias.Patch{Name: str("a<b")}, want: `{"name":"a<b"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("MarshalJSON() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPatch_IsZero(t *testing.T) {
	s := ""
	b := false
	tests := []struct {
		name string
		in   alias.Patch
		want bool
	}{
		{name: "Zero", in: alias.Patch{}, want: true},
		{name: "Name", in: alias.Patch{Name: &s}, want: false},
		{name: "Description", in: alias.Patch{Description: &s}, want: false},
		{name: "Enabled", in: alias.Patch{Enabled: &b}, want: false},
		{name: "EmptyMetadata", in: alias.Patch{Metadata: map[string]any{}}, want: false},
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
	str := func(s string) *string { return &s }
	tests := []struct {
		name string
		in   alias.Patch
		want map[string]string
	}{
		{name: "Zero", in: alias.Patch{}},
		{name: "OK", in: alias.Patch{Name: str("n"), Description: str(""), Metadata: map[string]any{"a": 1}}},
		{name: "NameEmpty", in: alias.Patch{Name: str("")}, want: map[string]string{"name": "is required"}},
		{name: "Name101", in: alias.Patch{Name: str(strings.Repeat("x", 101))}, want: map[string]string{"name": "must be at most 100 characters"}},
		{name: "DescriptionTooLong", in: alias.Patch{Description: str(strings.Repeat("x", 10001))}, want: map[string]string{"description": "must be at most 10000 characters"}},
		{
			name: "MetadataChannel",
			in:   alias.Patch{Metadata: map[string]any{"c": make(chan int)}},
			want: map[string]string{"metadata": "must be a JSON object: chan int is not a JSON value"},
		},
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

	t.Run("NormalizesMetadata", func(t *testing.T) {
		p := alias.Patch{Metadata: map[string]any{"n": 2}}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]any{"n": 2.0}, p.Metadata); diff != "" {
			t.Errorf("Metadata (-want +got):\n%s", diff)
		}
	})
}

func TestPatch_Apply(t *testing.T) {
	str := func(s string) *string { return &s }
	boolean := func(b bool) *bool { return &b }
	now := time.Date(2026, 6, 3, 8, 0, 0, 0, time.UTC)
	base := func() *alias.Alias {
		a := guideAlias()
		a.Metadata = map[string]any{"region": "us", "tier": "gold"}
		a.Revision = 4
		return a
	}
	with := func(f func(a *alias.Alias)) *alias.Alias {
		a := base()
		a.UpdatedAt = now
		f(a)
		return a
	}
	tests := []struct {
		name string
		in   alias.Patch
		want *alias.Alias
	}{
		{name: "Zero", in: alias.Patch{}, want: with(func(a *alias.Alias) {})},
		{name: "Name", in: alias.Patch{Name: str("New")}, want: with(func(a *alias.Alias) { a.Name = "New" })},
		{name: "DescriptionCleared", in: alias.Patch{Description: str("")}, want: with(func(a *alias.Alias) { a.Description = "" })},
		{name: "Disable", in: alias.Patch{Enabled: boolean(false)}, want: with(func(a *alias.Alias) { a.Enabled = false })},
		{
			name: "MetadataReplacedWhole",
			in:   alias.Patch{Metadata: map[string]any{"region": "eu"}},
			want: with(func(a *alias.Alias) { a.Metadata = map[string]any{"region": "eu"} }),
		},
		{
			name: "MetadataCleared",
			in:   alias.Patch{Metadata: map[string]any{}},
			want: with(func(a *alias.Alias) { a.Metadata = map[string]any{} }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			got := tt.in.Apply(in, now)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Apply() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(base(), in); diff != "" {
				t.Errorf("Apply() changed its input (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("ResultIndependentOfInputAndPatch", func(t *testing.T) {
		in := base()
		p := alias.Patch{Metadata: map[string]any{"m": map[string]any{"k": "v"}}}
		got := p.Apply(in, now)
		p.Metadata["m"].(map[string]any)["k"] = "changed by patch"
		in.Metadata["region"] = "changed by input"
		in.Policy.Rules[0].Targets.AgentKey = "changed"
		want := with(func(a *alias.Alias) { a.Metadata = map[string]any{"m": map[string]any{"k": "v"}} })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Apply() result aliases its inputs (-want +got):\n%s", diff)
		}
	})
}
