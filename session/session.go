// Package session defines a session: one conversation with one agent, created
// directly on the agent or through an alias whose policy picked the agent.
//
// # JSON
//
// Session encodes to the REST contract's AgentSession object. Secrets are
// write-only: Secrets encodes every value as "****", prints as "****" with
// the fmt package and logs as "****" with log/slog. Stores keep the real
// values (they are handed to the agent); only the JSON and text forms mask
// them. Fields that belong to an agent runtime (current_step_name,
// session_context_usage, effective_compaction) carry what the host's agent
// reports, and are left out when it reports nothing.
//
// # Keys
//
// A session key matches ^[0-9a-zA-Z_-]+$ and is 1-50 characters long. When a
// caller creates a session without a key, KeyFromName derives one from the
// name and a random suffix ("Billing question" becomes
// "billing-question-7f3a9c2e"); the store rejects a key already in use, and
// the creator tries another suffix.
//
// # Patches
//
// Patch is the contract's UpdateAgentSessionRequest: name, description,
// metadata, enabled, tti_minutes and secrets. A field left out is left
// unchanged. An explicit JSON null clears name, description (to "") and
// metadata (to {}); null for enabled or tti_minutes is invalid. Metadata in
// a patch replaces the stored object whole. Secrets is itself a patch: a name
// mapped to a string is set, a name mapped to null is removed, and names not
// mentioned are kept.
package session

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/internal/jsonvalue"
	"github.com/agentalias/agentalias/internal/keys"
	"github.com/agentalias/agentalias/internal/validate"
)

// Limits on the fields of a session.
const (
	MaxKeyLen         = keys.MaxLen
	MaxNameLen        = 100
	MaxDescriptionLen = 10000
	MaxMetadataBytes  = 64 << 10
	MaxSecrets        = 64
	MaxSecretLen      = 4096
	MaxSecretNameLen  = 128
	// MaxTTIMinutes is the largest idle time-to-live: about 100 years.
	MaxTTIMinutes = 100 * 525960
)

// Status is a session's lifecycle state.
type Status string

// The statuses of the contract. A session is Unstarted until its first input,
// Running while an agent turn is in flight, and Stopped when idle after that.
const (
	Unstarted Status = "unstarted"
	Running   Status = "running"
	Stopped   Status = "stopped"
)

// Valid reports whether s is one of the contract's statuses.
func (s Status) Valid() bool { return s == Unstarted || s == Running || s == Stopped }

// Session is one conversation with one agent.
//
// Session is a plain value: stores copy it on the way in and out, and Clone
// makes a deep copy.
type Session struct {
	// Key identifies the session within its tenant.
	Key string `json:"key"`

	// AgentKey is the agent that owns the session: for a session created
	// through an alias, the agent the alias's policy picked. It never changes.
	AgentKey string `json:"agent_key"`

	// AliasKey is the alias the session was created through, or "" for a
	// session created directly on an agent. It never changes.
	AliasKey string `json:"alias_key,omitempty"`

	// Name is a human-readable name, at most 100 characters.
	Name string `json:"name"`

	// Description is an optional short description.
	Description string `json:"description,omitempty"`

	// Metadata is arbitrary JSON; policies read it as $.session.metadata.
	// It encodes as {} when nil.
	Metadata map[string]any `json:"metadata"`

	// CurrentStepName is the step the next input resumes at, as the agent
	// reports it; nil when the agent reports none.
	CurrentStepName *string `json:"current_step_name,omitempty"`

	// Enabled reports whether the session accepts new input.
	Enabled bool `json:"enabled"`

	// Status is the lifecycle state; the router maintains it.
	Status Status `json:"status,omitempty"`

	// CreatedByAgentKey and CreatedBySessionKey name the agent and session
	// that created this one as a sub-agent session, if any.
	CreatedByAgentKey   string `json:"created_by_agent_key,omitempty"`
	CreatedBySessionKey string `json:"created_by_session_key,omitempty"`

	// TTIMinutes is the idle time-to-live: the session expires after this
	// many minutes without activity. 0 means never.
	TTIMinutes int64 `json:"tti_minutes"`

	// CreatedAt is when the session was created.
	CreatedAt time.Time `json:"created_at"`

	// ContextUsage is what the agent last reported about its context use.
	ContextUsage *ContextUsage `json:"session_context_usage,omitempty"`

	// Compaction is the compaction configuration the agent reported when the
	// session was created.
	Compaction *Compaction `json:"effective_compaction,omitempty"`

	// Secrets are write-only values handed to the agent; they are masked in
	// every encoded or printed form.
	Secrets Secrets `json:"secrets,omitempty"`

	// PendingToolCalls are the client tool calls the agent is waiting on:
	// recorded when a turn pauses for the client, cleared when a tool_output
	// input answers them. They are not part of the session's JSON; the
	// contract's outstanding_client_tool_calls operation lists them.
	PendingToolCalls []event.PendingCall `json:"-"`

	// ExpiresAt is when the session expires if nothing happens before then:
	// the last activity plus TTIMinutes. Zero means never. It is not part of
	// the JSON. A session whose ExpiresAt is not after the current time is
	// expired: invisible to readers, and removed by a sweep.
	ExpiresAt time.Time `json:"-"`

	// TurnDeadline is, while Status is Running, when the running turn ends
	// at the latest: the router running it cancels it then. Until then no
	// other turn may start, in any router sharing the store; after it, a
	// session left Running (its router crashed) takes input again. It is not
	// part of the JSON.
	TurnDeadline time.Time `json:"-"`

	// TurnID identifies, while Status is Running, the turn that claimed the
	// session: only that turn ends the claim. It is not part of the JSON.
	TurnID string `json:"-"`

	// InterruptAt is when an interrupt for the running turn was sent through
	// a router that does not run it; the router running the turn watches for
	// it and cancels the turn. Zero when none is pending. It is not part of
	// the JSON.
	InterruptAt time.Time `json:"-"`

	// Revision counts changes to the stored session. Stores set it: 1 on
	// creation, incremented by every update. It is not part of the JSON.
	Revision uint64 `json:"-"`
}

// ContextUsage is the contract's SessionContextUsage.
type ContextUsage struct {
	InputTokens        InputTokens  `json:"input_tokens"`
	OutputTokens       OutputTokens `json:"output_tokens"`
	TotalTokens        int64        `json:"total_tokens"`
	ModelContextWindow int64        `json:"model_context_window,omitempty"`
}

// InputTokens counts the input tokens of the most recent agent call.
type InputTokens struct {
	Count        int64 `json:"count"`
	CachedTokens int64 `json:"cached_tokens,omitempty"`
}

// OutputTokens counts the output tokens of the most recent agent call.
type OutputTokens struct {
	Count           int64 `json:"count"`
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

// Compaction is the contract's CompactionConfig.
type Compaction struct {
	Enabled           bool   `json:"enabled"`
	ThresholdPercent  int    `json:"threshold_percent,omitempty"`
	KeepRecentInputs  int    `json:"keep_recent_inputs,omitempty"`
	CompactionMessage string `json:"compaction_message,omitempty"`
	ToolEventPolicy   string `json:"tool_event_policy,omitempty"`
}

// Mask is what every read shows instead of a secret's value.
const Mask = "****"

// Secrets maps secret names to values. Its JSON, fmt and slog forms show
// every value as Mask; the values themselves are only reachable in Go.
type Secrets map[string]string

// MarshalJSON encodes s with every value replaced by Mask.
func (s Secrets) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	return jsonvalue.Marshal(s.Masked())
}

// UnmarshalJSON decodes a JSON object of strings (the create request's form).
func (s *Secrets) UnmarshalJSON(b []byte) error {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*s = m
	return nil
}

// Masked returns a copy of s with every value replaced by Mask.
func (s Secrets) Masked() map[string]string {
	if s == nil {
		return nil
	}
	m := make(map[string]string, len(s))
	for k := range s {
		m[k] = Mask
	}
	return m
}

// String lists the secret names with masked values.
func (s Secrets) String() string {
	names := make([]string, 0, len(s))
	for k := range s {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("map[")
	for i, k := range names {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteString(":" + Mask)
	}
	b.WriteByte(']')
	return b.String()
}

// Format prints s as String does, whatever the verb, so that no fmt verb
// reveals a value.
func (s Secrets) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// LogValue makes log/slog log s with masked values.
func (s Secrets) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Clone returns a copy of s.
func (s Secrets) Clone() Secrets {
	if s == nil {
		return nil
	}
	c := make(Secrets, len(s))
	for k, v := range s {
		c[k] = v
	}
	return c
}

// sessionJSON has Session's fields and encoding without its methods.
type sessionJSON Session

// MarshalJSON encodes s in the contract's shape: metadata is never null,
// timestamps are UTC, and secrets are masked.
func (s Session) MarshalJSON() ([]byte, error) {
	j := sessionJSON(s)
	if j.Metadata == nil {
		j.Metadata = map[string]any{}
	}
	j.CreatedAt = j.CreatedAt.UTC()
	return jsonvalue.Marshal(j)
}

// UnmarshalJSON decodes s, setting Enabled to true when "enabled" is absent.
func (s *Session) UnmarshalJSON(b []byte) error {
	j := sessionJSON{Enabled: true}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Session(j)
	return nil
}

// Clone returns a deep copy of s.
func (s *Session) Clone() *Session {
	if s == nil {
		return nil
	}
	c := *s
	c.Metadata = jsonvalue.Clone(s.Metadata)
	if s.CurrentStepName != nil {
		v := *s.CurrentStepName
		c.CurrentStepName = &v
	}
	if s.ContextUsage != nil {
		v := *s.ContextUsage
		c.ContextUsage = &v
	}
	if s.Compaction != nil {
		v := *s.Compaction
		c.Compaction = &v
	}
	c.Secrets = s.Secrets.Clone()
	if s.PendingToolCalls != nil {
		c.PendingToolCalls = make([]event.PendingCall, len(s.PendingToolCalls))
		for i, p := range s.PendingToolCalls {
			p.Arguments = jsonvalue.Clone(p.Arguments)
			c.PendingToolCalls[i] = p
		}
	}
	return &c
}

// Expired reports whether s has expired at now.
func (s *Session) Expired(now time.Time) bool {
	return !s.ExpiresAt.IsZero() && !s.ExpiresAt.After(now)
}

// Touch sets ExpiresAt from TTIMinutes, counting from now.
func (s *Session) Touch(now time.Time) {
	if s.TTIMinutes <= 0 {
		s.ExpiresAt = time.Time{}
		return
	}
	s.ExpiresAt = now.Add(time.Duration(s.TTIMinutes) * time.Minute)
}

// Validate checks a session about to be created, after its creator filled in
// defaults (a generated key; the key as name when none was given): key,
// agent_key, alias_key, name, description, metadata, status, tti_minutes and
// secrets. It returns all problems at once and may normalise Metadata.
func (s *Session) Validate() error {
	var errs validate.Errors
	if !keys.Valid(s.Key) {
		errs.Add("key", keys.Message)
	}
	if !keys.Valid(s.AgentKey) {
		errs.Add("agent_key", keys.Message)
	}
	if s.AliasKey != "" && !keys.Valid(s.AliasKey) {
		errs.Add("alias_key", keys.Message)
	}
	if s.Name == "" {
		errs.Add("name", "is required")
	}
	checkText(&errs, "name", s.Name, MaxNameLen)
	checkText(&errs, "description", s.Description, MaxDescriptionLen)
	if m, err := CheckMetadata(s.Metadata); err != nil {
		errs.Add("metadata", err.Error())
	} else {
		s.Metadata = m
	}
	if s.Status != "" && !s.Status.Valid() {
		errs.Addf("status", "unknown status %q", s.Status)
	}
	checkTTI(&errs, s.TTIMinutes)
	if len(s.Secrets) > MaxSecrets {
		errs.Addf("secrets", "must have at most %d entries", MaxSecrets)
	}
	for _, name := range sortedNames(s.Secrets) {
		checkSecret(&errs, name, s.Secrets[name])
	}
	return errs.Err()
}

// ValidKey reports whether key is a valid session key: 1-50 characters from
// [0-9a-zA-Z_-].
func ValidKey(key string) bool { return keys.Valid(key) }

// KeyFromName derives a session key from a name and a suffix (which should
// be random, for uniqueness): the name lower-cased, each run of characters
// outside [0-9a-z_-] turned into one "-", trimmed so that the key with "-"
// and the suffix fits in 50 characters. An empty name gives "session".
// The suffix must itself consist of key characters; KeyFromName panics if the
// result is not a valid key.
func KeyFromName(name, suffix string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r < utf8.RuneSelf && keys.KeyByte(byte(r)) {
			if r == '-' {
				if dash || b.Len() == 0 {
					continue
				}
				dash = true
			} else {
				dash = false
			}
			b.WriteRune(r)
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	base := strings.Trim(b.String(), "-")
	if base == "" {
		base = "session"
	}
	room := MaxKeyLen - len(suffix) - 1
	if suffix == "" {
		room = MaxKeyLen
	}
	if len(base) > room {
		base = strings.TrimRight(base[:room], "-")
		if base == "" {
			base = "s"
		}
	}
	key := base
	if suffix != "" {
		key += "-" + suffix
	}
	if !keys.Valid(key) {
		panic(fmt.Sprintf("session: KeyFromName(%q, %q) = %q is not a valid key", name, suffix, key))
	}
	return key
}

// CheckMetadata returns a normalised deep copy of m, or an error if m holds
// something that is not JSON or encodes to more than MaxMetadataBytes.
func CheckMetadata(m map[string]any) (map[string]any, error) {
	return jsonvalue.Metadata(m, MaxMetadataBytes)
}

// ValidSecretName reports whether name may name a secret: 1-128 characters
// from [A-Za-z0-9_-].
func ValidSecretName(name string) bool {
	if len(name) == 0 || len(name) > MaxSecretNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !keys.KeyByte(name[i]) {
			return false
		}
	}
	return true
}

func checkSecret(errs *validate.Errors, name, value string) {
	path := "secrets." + name
	if !ValidSecretName(name) {
		errs.Add(path, "secret names must match ^[A-Za-z0-9_-]+$ and be 1-128 characters")
		return
	}
	if len(value) < 1 || len(value) > MaxSecretLen {
		errs.Addf(path, "must be 1-%d characters", MaxSecretLen)
	}
}

func checkTTI(errs *validate.Errors, m int64) {
	if m < 0 || m > MaxTTIMinutes {
		errs.Addf("tti_minutes", "must be between 0 and %d", MaxTTIMinutes)
	}
}

func checkText(errs *validate.Errors, path, s string, max int) {
	switch {
	case !utf8.ValidString(s):
		errs.Add(path, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		errs.Addf(path, "must be at most %d characters", max)
	}
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
