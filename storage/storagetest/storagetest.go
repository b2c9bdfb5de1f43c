// Package storagetest is the conformance suite for implementations of
// [storage.Storage]. Every store runs it, and it is the specification: a
// behaviour the suite does not check is not promised by the interface.
//
// # Use
//
// A store's tests call [Run] from a TestConformance function, with a factory
// that makes a fresh, empty store and registers its own cleanup:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Storage {
//			s, err := boltstore.Open(filepath.Join(t.TempDir(), "agentalias.db"), nil)
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run calls the factory once in every subtest, with that subtest's
// *testing.T, so subtests share nothing; most of them run in parallel, so the
// factory may be called from several goroutines at once. Run the suite with
// the race detector (go test -race): the Concurrency subtests are meant for
// it. A single behaviour can be run by name, for example
//
//	go test -race -run 'TestConformance/Sessions/List/Pagination' ./storage/memstore/
//
// # Groups
//
// Subtests are named Group/Method/Case. The groups are Aliases, Sessions,
// Events, Artifacts and Pins (each method's results and documented errors,
// revisions, listing order, filters, paging), Sweep, Tenants (isolation and
// the tenant's format), Copies (values are copied in and out), Concurrency
// (atomicity under concurrent callers), Context (a done context) and Closed
// (use after Close).
//
// # Points the suite decides
//
// Where the doc comments of package storage leave room, the suite decides:
//
//   - Aliases list in ascending byte order of key (as Go compares strings);
//     keys are case-sensitive.
//   - Sessions list in the order of their successful CreateSession calls.
//   - A page holds exactly Limit items unless it is the last page; Next is
//     not "" exactly when at least one more item matches, so a page is never
//     empty except when nothing at all matches.
//   - Sweep counts a session, with its events and artifacts, as one item; an
//     expired artifact of an unexpired session and an expired pin are one
//     item each. Sweep returns limit, not fewer, while more expired items
//     remain.
//   - Reading, updating or deleting by a malformed key (Alias(ctx, "", "a b"))
//     returns ErrNotFound or ErrInvalid; either is accepted. Creating with a
//     malformed key or in a malformed tenant returns ErrInvalid.
//   - A nil map or slice and an empty one are interchangeable; stores need
//     not preserve the difference. Artifact.Data in lists must be nil.
//   - Times are compared with time.Time.Equal. The suite only stores UTC
//     times with whole milliseconds, which every store must round-trip.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// Run runs the conformance suite against the stores newStore makes. newStore
// must return a fresh, empty store for the test it is given and register the
// store's cleanup with t.Cleanup; it may call t.Fatal.
func Run(t *testing.T, newStore func(t *testing.T) storage.Storage) {
	if newStore == nil {
		t.Fatal("storagetest.Run: newStore is nil")
	}
	s := &suite{newStore: newStore}
	groups := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Aliases", s.aliases},
		{"Sessions", s.sessions},
		{"Events", s.events},
		{"Artifacts", s.artifacts},
		{"Pins", s.pins},
		{"Sweep", s.sweep},
		{"Tenants", s.tenants},
		{"Copies", s.copies},
		{"Concurrency", s.concurrency},
		{"Context", s.context},
		{"Closed", s.closed},
	}
	for _, g := range groups {
		group(t, g.name, g.run)
	}
}

// suite holds the factory the subtests make their stores with.
type suite struct {
	newStore func(t *testing.T) storage.Storage
}

// store returns a fresh store for t.
func (s *suite) store(t *testing.T) storage.Storage {
	t.Helper()
	st := s.newStore(t)
	if st == nil {
		t.Fatal("newStore returned nil")
	}
	return st
}

// test runs f as a parallel subtest of t with a fresh store of its own.
func (s *suite) test(t *testing.T, name string, f func(t *testing.T, st storage.Storage)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		f(t, s.store(t))
	})
}

// group runs f, which holds further subtests, as a parallel subtest of t.
func group(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		f(t)
	})
}

// --- Fixtures -------------------------------------------------------------

// at returns the suite's reference time plus ms milliseconds. Every time the
// suite stores is in UTC with whole milliseconds.
func at(ms int) time.Time {
	return time.Date(2026, time.June, 2, 10, 35, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond)
}

// minute is one minute in the milliseconds at takes.
const minute = 60_000

// singlePolicy routes every session to agent.
func singlePolicy(agent string) policy.Document {
	return policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
		{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: agent}},
	}}
}

// weightedPolicy splits sessions evenly between agents.
func weightedPolicy(agents ...string) policy.Document {
	opts := make([]policy.Option, len(agents))
	for i, a := range agents {
		opts[i] = policy.Option{AgentKey: a, Weight: 50}
	}
	return policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
		{Targets: policy.Targets{Type: policy.TargetWeighted, PartitionBy: "get('$.session.key')", Options: opts}},
	}}
}

// fallbackPolicy sends sessions to the first available of agents.
func fallbackPolicy(agents ...string) policy.Document {
	return policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
		{Targets: policy.Targets{Type: policy.TargetFallback, AgentKeys: slices.Clone(agents)}},
	}}
}

// richPolicy uses every kind of target.
func richPolicy() policy.Document {
	return policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
		{
			Match:   "get('$.session.metadata.tier') == 'gold'",
			Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "gold-agent"},
		},
		{
			Match: "get('$.session.metadata.beta', false)",
			Targets: policy.Targets{Type: policy.TargetWeighted, PartitionBy: "get('$.session.key')",
				Options: []policy.Option{{AgentKey: "w-1", Weight: 90}, {AgentKey: "w-2", Weight: 10}}},
		},
		{Targets: policy.Targets{Type: policy.TargetFallback, AgentKeys: []string{"fb-1", "fb-2"}}},
	}}
}

// newAlias returns a plain enabled alias routing to agent.
func newAlias(key, agent string) *alias.Alias {
	return &alias.Alias{
		Key:       key,
		Name:      "Alias " + key,
		Policy:    singlePolicy(agent),
		Enabled:   true,
		CreatedAt: at(0),
	}
}

// richAlias returns an alias with every field set.
func richAlias(key string) *alias.Alias {
	return &alias.Alias{
		Key:         key,
		Name:        "Alias " + key,
		Description: "Routes " + key + " traffic",
		Policy:      richPolicy(),
		Stickiness:  &policy.Stickiness{Key: "get('$.session.metadata.user')", TTLMinutes: 60},
		Enabled:     true,
		Metadata: map[string]any{
			"team":  "core",
			"tier":  float64(2),
			"tags":  []any{"a", "b"},
			"owner": map[string]any{"name": "ops", "oncall": true},
		},
		CreatedAt: at(0),
		UpdatedAt: at(1000),
	}
}

// newSession returns a plain enabled session that never expires.
func newSession(key, aliasKey, agentKey string) *session.Session {
	return &session.Session{
		Key:       key,
		AgentKey:  agentKey,
		AliasKey:  aliasKey,
		Name:      "Session " + key,
		Enabled:   true,
		Status:    session.Unstarted,
		CreatedAt: at(0),
	}
}

// richSession returns a session with every field set.
func richSession(key, aliasKey, agentKey string) *session.Session {
	step := "collect"
	return &session.Session{
		Key:                 key,
		AgentKey:            agentKey,
		AliasKey:            aliasKey,
		Name:                "Session " + key,
		Description:         "About " + key,
		Metadata:            map[string]any{"user": "u-1", "score": float64(7), "nested": map[string]any{"k": "v"}, "list": []any{"x", float64(1)}},
		CurrentStepName:     &step,
		Enabled:             true,
		Status:              session.Stopped,
		CreatedByAgentKey:   "parent-agent",
		CreatedBySessionKey: "parent-session",
		TTIMinutes:          30,
		CreatedAt:           at(0),
		ContextUsage: &session.ContextUsage{
			InputTokens:        session.InputTokens{Count: 10, CachedTokens: 2},
			OutputTokens:       session.OutputTokens{Count: 5, ReasoningTokens: 1},
			TotalTokens:        15,
			ModelContextWindow: 1000,
		},
		Compaction: &session.Compaction{
			Enabled: true, ThresholdPercent: 80, KeepRecentInputs: 3,
			CompactionMessage: "compacted", ToolEventPolicy: "keep",
		},
		Secrets: session.Secrets{"api_key": "s3cret", "other": "value"},
		PendingToolCalls: []event.PendingCall{
			{EventID: "aev_call1", ToolConfigurationName: "client", ToolName: "pick_file", Arguments: map[string]any{"dir": "/tmp", "depth": float64(2)}},
			{EventID: "aev_call2", ToolConfigurationName: "client", ToolName: "confirm"},
		},
		ExpiresAt:    at(30 * minute),
		TurnDeadline: at(15 * minute),
		InterruptAt:  at(14 * minute),
		TurnID:       "turn-1",
	}
}

// newEvent returns a visible agent_output event.
func newEvent(sessionKey, id string) *event.Event {
	return &event.Event{
		ID:         id,
		SessionKey: sessionKey,
		CreatedAt:  at(0),
		Type:       event.AgentOutput,
		Content:    "output of " + id,
	}
}

// richEvents returns one event of each stored type, each with the fields of
// its type set; ids are aev_rich-0, aev_rich-1, ...
func richEvents(sessionKey string) []*event.Event {
	evs := []*event.Event{
		{Type: event.InputMessage, Messages: []event.Input{event.Text("hello"), {Type: event.InputSkill, SkillName: "search"}}, MessageDiffs: []string{"", "+skill"}},
		{Type: event.SkillLoad, SkillName: "search", Content: "skill body"},
		{Type: event.ArtifactUpload, Artifacts: []event.ArtifactRef{{ArtifactID: "art_1", Filename: "a.txt", MimeType: "text/plain", SizeBytes: 3}}, AgentUploadMessage: "uploaded"},
		{Type: event.ToolInput, ToolCallID: "call-1", ToolConfigurationName: "cfg", ToolName: "lookup", ToolInput: map[string]any{"q": "x", "n": float64(2)}, ArgumentOverridePaths: []string{"$.q"}},
		{Type: event.ToolOutput, ToolCallID: "call-1", ToolConfigurationName: "cfg", ToolName: "lookup", ToolOutput: map[string]any{"rows": []any{"r1"}}, Error: true, ResolvedArgumentOverrides: map[string]any{"q": "y"}},
		{Type: event.Thinking, Content: "hmm"},
		{Type: event.AgentOutput, Content: "answer"},
		{Type: event.StructuredOutput, SchemaName: "result", Structured: map[string]any{"ok": true, "n": float64(1)}},
		{Type: event.ImageRead, ArtifactID: "art_img", Detail: "high"},
		{Type: event.StepTransition, FromStep: "a", ToStep: "b", Content: "moving on"},
		{Type: event.Compaction, TurnsCompacted: 3, EventsCompacted: 9, SummaryKey: "sum-1", SummaryText: "summary", HideReason: event.HiddenManual},
	}
	for i, e := range evs {
		e.ID = fmt.Sprintf("aev_rich-%d", i)
		e.SessionKey = sessionKey
		e.CreatedAt = at(i)
	}
	return evs
}

// newArtifact returns an artifact whose content is derived from id.
func newArtifact(sessionKey, id string) *artifact.Artifact {
	data := []byte("content of " + id)
	return &artifact.Artifact{
		ID:             id,
		SessionKey:     sessionKey,
		Filename:       id + ".txt",
		MimeType:       "text/plain",
		SizeBytes:      int64(len(data)),
		ChecksumSHA256: artifact.Checksum(data),
		Metadata:       map[string]any{"source": "upload", "nested": map[string]any{"k": "v"}},
		Description:    "file " + id,
		TTLDays:        0,
		CreatedAt:      at(0),
		UpdatedAt:      at(0),
		Data:           data,
	}
}

// newPin returns a pin that expires an hour after at(0).
func newPin(aliasKey, key, agent string) *storage.Pin {
	return &storage.Pin{AliasKey: aliasKey, Key: key, AgentKey: agent, CreatedAt: at(0), ExpiresAt: at(60 * minute)}
}

// eventIDs returns "aev_<prefix><i>" for i in [0, n).
func eventIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("aev_%s%02d", prefix, i)
	}
	return ids
}

// numbered returns prefix followed by i for i in [0, n), with leading zeros
// so that the results sort in numeric order (at least two digits).
func numbered(prefix string, n int) []string {
	width := max(2, len(strconv.Itoa(n-1)))
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%0*d", prefix, width, i)
	}
	return out
}

// --- Assertions -----------------------------------------------------------

// diff reports a difference between want and got. Empty and nil maps and
// slices are equal; times are compared with Equal.
func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// must stops the test if err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr reports an error if err does not match target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// wantErrOneOf reports an error if err matches none of targets.
func wantErrOneOf(t *testing.T, what string, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if errors.Is(err, target) {
			return
		}
	}
	t.Errorf("%s: error %v, want one of %v", what, err, targets)
}

// --- Shortcuts that must succeed ------------------------------------------

func mustCreateAlias(t *testing.T, st storage.Storage, tenant string, a *alias.Alias) *alias.Alias {
	t.Helper()
	got, err := st.CreateAlias(t.Context(), tenant, a)
	must(t, fmt.Sprintf("CreateAlias(%q, %q)", tenant, a.Key), err)
	return got
}

func mustAlias(t *testing.T, st storage.Storage, tenant, key string) *alias.Alias {
	t.Helper()
	got, err := st.Alias(t.Context(), tenant, key)
	must(t, fmt.Sprintf("Alias(%q, %q)", tenant, key), err)
	return got
}

func mustCreateSession(t *testing.T, st storage.Storage, tenant string, s *session.Session) *session.Session {
	t.Helper()
	got, err := st.CreateSession(t.Context(), tenant, s)
	must(t, fmt.Sprintf("CreateSession(%q, %q)", tenant, s.Key), err)
	return got
}

func mustSession(t *testing.T, st storage.Storage, tenant, key string) *session.Session {
	t.Helper()
	got, err := st.Session(t.Context(), tenant, key)
	must(t, fmt.Sprintf("Session(%q, %q)", tenant, key), err)
	return got
}

func mustUpdateSession(t *testing.T, st storage.Storage, tenant string, s *session.Session) *session.Session {
	t.Helper()
	got, err := st.UpdateSession(t.Context(), tenant, s)
	must(t, fmt.Sprintf("UpdateSession(%q, %q)", tenant, s.Key), err)
	return got
}

func mustAppend(t *testing.T, st storage.Storage, tenant, sessionKey string, evs ...*event.Event) {
	t.Helper()
	must(t, fmt.Sprintf("AppendEvents(%q, %q)", tenant, sessionKey), st.AppendEvents(t.Context(), tenant, sessionKey, evs))
}

// mustAppendIDs appends one newEvent per id.
func mustAppendIDs(t *testing.T, st storage.Storage, tenant, sessionKey string, ids ...string) {
	t.Helper()
	evs := make([]*event.Event, len(ids))
	for i, id := range ids {
		evs[i] = newEvent(sessionKey, id)
	}
	mustAppend(t, st, tenant, sessionKey, evs...)
}

func mustEvent(t *testing.T, st storage.Storage, tenant, sessionKey, id string) *event.Event {
	t.Helper()
	got, err := st.Event(t.Context(), tenant, sessionKey, id)
	must(t, fmt.Sprintf("Event(%q, %q, %q)", tenant, sessionKey, id), err)
	return got
}

func mustHide(t *testing.T, st storage.Storage, tenant, sessionKey, id, reason string) *event.Event {
	t.Helper()
	got, err := st.SetEventHidden(t.Context(), tenant, sessionKey, id, reason)
	must(t, fmt.Sprintf("SetEventHidden(%q, %q, %q, %q)", tenant, sessionKey, id, reason), err)
	return got
}

func mustCreateArtifact(t *testing.T, st storage.Storage, tenant string, a *artifact.Artifact) {
	t.Helper()
	must(t, fmt.Sprintf("CreateArtifact(%q, %q, %q)", tenant, a.SessionKey, a.ID), st.CreateArtifact(t.Context(), tenant, a))
}

func mustArtifact(t *testing.T, st storage.Storage, tenant, sessionKey, id string) *artifact.Artifact {
	t.Helper()
	got, err := st.Artifact(t.Context(), tenant, sessionKey, id)
	must(t, fmt.Sprintf("Artifact(%q, %q, %q)", tenant, sessionKey, id), err)
	return got
}

func mustSetPin(t *testing.T, st storage.Storage, tenant string, p, prev *storage.Pin) {
	t.Helper()
	must(t, fmt.Sprintf("SetPin(%q, %q, %q)", tenant, p.AliasKey, p.Key), st.SetPin(t.Context(), tenant, p, prev))
}

func mustPin(t *testing.T, st storage.Storage, tenant, aliasKey, key string) *storage.Pin {
	t.Helper()
	got, err := st.Pin(t.Context(), tenant, aliasKey, key)
	must(t, fmt.Sprintf("Pin(%q, %q, %q)", tenant, aliasKey, key), err)
	return got
}

// --- Lists ----------------------------------------------------------------

// collect follows page keys from the page of pageKey ("" for the first page)
// to the last and returns every item in order. It checks that every page but
// the last holds exactly limit items (DefaultLimit for 0), that only a first
// page can be empty, and that page keys make progress.
func collect[T any](t *testing.T, limit int, pageKey string, list func(pageKey string) (storage.Page[T], error)) []T {
	t.Helper()
	want := limit
	if want == 0 {
		want = storage.DefaultLimit
	}
	var all []T
	seenKeys := map[string]bool{pageKey: pageKey != ""}
	for n := 1; ; n++ {
		if n > 1000 {
			t.Fatalf("more than 1000 pages: page keys do not end")
		}
		p, err := list(pageKey)
		if err != nil {
			t.Fatalf("page %d (page key %q): %v", n, pageKey, err)
		}
		if len(p.Items) > want {
			t.Fatalf("page %d has %d items, more than the limit %d", n, len(p.Items), want)
		}
		if p.Next != "" && len(p.Items) < want {
			t.Errorf("page %d has %d items, fewer than the limit %d, but Next = %q: a short page must be the last", n, len(p.Items), want, p.Next)
		}
		if len(p.Items) == 0 && pageKey != "" {
			t.Errorf("page %d is empty, but the page key %q promised more items", n, pageKey)
		}
		all = append(all, p.Items...)
		if p.Next == "" {
			return all
		}
		if seenKeys[p.Next] {
			t.Fatalf("page %d: Next = %q was already returned", n, p.Next)
		}
		seenKeys[p.Next] = true
		pageKey = p.Next
	}
}

func allAliases(t *testing.T, st storage.Storage, tenant string, q storage.AliasQuery) []*alias.Alias {
	t.Helper()
	return collect(t, q.Limit, q.PageKey, func(pageKey string) (storage.Page[*alias.Alias], error) {
		q.PageKey = pageKey
		return st.ListAliases(t.Context(), tenant, q)
	})
}

func allSessions(t *testing.T, st storage.Storage, tenant string, q storage.SessionQuery) []*session.Session {
	t.Helper()
	return collect(t, q.Limit, q.PageKey, func(pageKey string) (storage.Page[*session.Session], error) {
		q.PageKey = pageKey
		return st.ListSessions(t.Context(), tenant, q)
	})
}

func allEvents(t *testing.T, st storage.Storage, tenant, sessionKey string, q storage.EventQuery) []*event.Event {
	t.Helper()
	return collect(t, q.Limit, q.PageKey, func(pageKey string) (storage.Page[*event.Event], error) {
		q.PageKey = pageKey
		return st.ListEvents(t.Context(), tenant, sessionKey, q)
	})
}

func allArtifacts(t *testing.T, st storage.Storage, tenant, sessionKey string, q storage.ArtifactQuery) []*artifact.Artifact {
	t.Helper()
	return collect(t, q.Limit, q.PageKey, func(pageKey string) (storage.Page[*artifact.Artifact], error) {
		q.PageKey = pageKey
		return st.ListArtifacts(t.Context(), tenant, sessionKey, q)
	})
}

func aliasKeys(as []*alias.Alias) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Key
	}
	return out
}

func sessionKeys(ss []*session.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Key
	}
	return out
}

func idsOf(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func artifactIDs(as []*artifact.Artifact) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// checkStable checks the items read by paging while others changed the
// list: no item twice, every item of throughout (which existed during the
// whole paging) once and in the order of throughout, and nothing that never
// existed.
func checkStable(t *testing.T, got, throughout []string, ever map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	var kept []string
	keep := map[string]bool{}
	for _, k := range throughout {
		keep[k] = true
	}
	for _, k := range got {
		if seen[k] {
			t.Errorf("item %q listed twice; got %v", k, got)
		}
		seen[k] = true
		if !ever[k] {
			t.Errorf("item %q listed, but it never existed; got %v", k, got)
		}
		if keep[k] {
			kept = append(kept, k)
		}
	}
	diff(t, "items that existed throughout, in list order", throughout, kept)
}

// --- Errors of list queries -----------------------------------------------

// garbagePageKey is not a page key any store could have produced.
const garbagePageKey = "%%% not a page key \x01 %%%"

// badLimits returns limits every list rejects with ErrInvalid.
func badLimits() []int { return []int{-1, storage.MaxLimit + 1} }

// keysOK returns valid keys that exercise the key alphabet's edges.
func keysOK() []string {
	return []string{"a", "Z", "0", "-", "_", "a-b_C9", strings.Repeat("k", 50)}
}

// badKeys returns keys that are not valid alias, agent or session keys.
func badKeys() []string {
	return []string{"", "has space", "slash/key", "dot.key", "ünï", "tab\tkey", strings.Repeat("k", 51), "semi;colon"}
}

// foreignPageKeys fills st with two aliases, two sessions, and two events
// and two artifacts of session "pk-1", and returns a valid second-page key
// of each list, by list name: "aliases", "sessions", "events", "artifacts".
func foreignPageKeys(t *testing.T, st storage.Storage) map[string]string {
	t.Helper()
	ctx := t.Context()
	for _, k := range []string{"pk-1", "pk-2"} {
		mustCreateAlias(t, st, "", newAlias(k, "agent-1"))
		mustCreateSession(t, st, "", newSession(k, "", "agent-1"))
	}
	mustAppendIDs(t, st, "", "pk-1", "aev_1", "aev_2")
	mustCreateArtifact(t, st, "", newArtifact("pk-1", "art_1"))
	mustCreateArtifact(t, st, "", newArtifact("pk-1", "art_2"))
	keys := map[string]string{}
	pa, err := st.ListAliases(ctx, "", storage.AliasQuery{Limit: 1})
	must(t, "ListAliases", err)
	keys["aliases"] = pa.Next
	ps, err := st.ListSessions(ctx, "", storage.SessionQuery{Limit: 1})
	must(t, "ListSessions", err)
	keys["sessions"] = ps.Next
	pe, err := st.ListEvents(ctx, "", "pk-1", storage.EventQuery{Limit: 1})
	must(t, "ListEvents", err)
	keys["events"] = pe.Next
	pr, err := st.ListArtifacts(ctx, "", "pk-1", storage.ArtifactQuery{Limit: 1})
	must(t, "ListArtifacts", err)
	keys["artifacts"] = pr.Next
	for list, k := range keys {
		if k == "" {
			t.Fatalf("first page of %s with Limit 1 of 2 has no Next", list)
		}
	}
	return keys
}

// testForeignPageKeys checks that list rejects, with ErrInvalid, the page
// keys of every other list; name is the list's own name in foreignPageKeys.
func (s *suite) testForeignPageKeys(t *testing.T, name string, list func(ctx context.Context, st storage.Storage, pageKey string) error) {
	s.test(t, "ForeignPageKey", func(t *testing.T, st storage.Storage) {
		keys := foreignPageKeys(t, st)
		must(t, "the list's own page key", list(t.Context(), st, keys[name]))
		for other, k := range keys {
			if other != name {
				wantErr(t, "a page key of "+other, list(t.Context(), st, k), storage.ErrInvalid)
			}
		}
	})
}
