package agentalias_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/policy/expr"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/boltstore"
	"github.com/agentalias/agentalias/storage/memstore"
)

// ---------------------------------------------------------------------------
// Helpers shared by the root package's tests.

// storeFactory opens a new, empty store that is closed when the test ends.
type storeFactory = func(t *testing.T) storage.Storage

func newMemStore(t *testing.T) storage.Storage {
	t.Helper()
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	return s
}

func newBoltStore(t *testing.T) storage.Storage {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "agentalias.db"), &boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatalf("boltstore.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEachStore runs fn once per store implementation, as subtests named
// after the store. Each call of newStore opens a fresh store.
func forEachStore(t *testing.T, fn func(t *testing.T, newStore storeFactory)) {
	t.Helper()
	t.Run("memstore", func(t *testing.T) { fn(t, newMemStore) })
	t.Run("boltstore", func(t *testing.T) { fn(t, newBoltStore) })
}

// fakeClock is a goroutine-safe clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 6, 2, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// seqIDs returns a deterministic Options.NewID: 8 decimal digits counting
// up, so that the first 8 characters (a generated session key's suffix)
// are unique.
func seqIDs() func() string {
	var n atomic.Int64
	return func() string { return fmt.Sprintf("%08d", n.Add(1)) }
}

// echo is an agent that answers "<agent>: <text of the input>".
var echo = agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
	return t.Reply(t.Session.AgentKey + ": " + inputText(t.Input))
})

func inputText(in agentalias.Input) string {
	var parts []string
	for _, m := range in.Messages {
		parts = append(parts, m.Content)
	}
	return strings.Join(parts, " ")
}

// harness is a router over a fresh store with a fake clock.
type harness struct {
	store storage.Storage
	clock *fakeClock
	r     *agentalias.AliasRouter
}

// newHarness opens a store and a router over it with agents v1, v2 and eu
// (all echo), a fake clock, sequential ids and no background sweeper;
// configure may change the options before New.
func newHarness(t *testing.T, newStore storeFactory, configure func(*agentalias.Options)) *harness {
	t.Helper()
	h := &harness{store: newStore(t), clock: newClock()}
	opts := &agentalias.Options{
		Agents:        map[string]agentalias.Agent{"v1": echo, "v2": echo, "eu": echo},
		Now:           h.clock.Now,
		NewID:         seqIDs(),
		SweepInterval: -1,
	}
	if configure != nil {
		configure(opts)
	}
	r, err := agentalias.New(h.store, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	h.r = r
	return h
}

// singlePolicy routes every session to agent.
func singlePolicy(agent string) policy.Document {
	return policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
		{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: agent}},
	}}
}

// weightedPolicy splits sessions between v1 and v2 by partitionBy.
func weightedPolicy(partitionBy string, w1, w2 int64) policy.Document {
	return policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
		{Targets: policy.Targets{Type: policy.TargetWeighted, PartitionBy: partitionBy, Options: []policy.Option{
			{AgentKey: "v1", Weight: w1}, {AgentKey: "v2", Weight: w2},
		}}},
	}}
}

func mustPolicy(t testing.TB, js string) policy.Document {
	t.Helper()
	d, err := policy.Parse([]byte(js))
	if err != nil {
		t.Fatalf("policy.Parse: %v", err)
	}
	return *d
}

func mustCreateAlias(t testing.TB, r *agentalias.AliasRouter, p alias.Params) *alias.Alias {
	t.Helper()
	if p.Name == "" {
		p.Name = p.Key
	}
	a, err := r.CreateAlias(context.Background(), p)
	if err != nil {
		t.Fatalf("CreateAlias(%s): %v", p.Key, err)
	}
	return a
}

func mustCreateSession(t testing.TB, r *agentalias.AliasRouter, scope agentalias.Scope, p session.Params) *session.Session {
	t.Helper()
	s, err := r.CreateSession(context.Background(), scope, p)
	if err != nil {
		t.Fatalf("CreateSession(%+v): %v", p, err)
	}
	return s
}

func mustSubmit(t testing.TB, r *agentalias.AliasRouter, scope agentalias.Scope, key, text string) *agentalias.Response {
	t.Helper()
	resp, err := r.Submit(context.Background(), scope, key, agentalias.Input{Messages: []event.Input{event.Text(text)}}, nil)
	if err != nil {
		t.Fatalf("Submit(%s, %q): %v", key, text, err)
	}
	return resp
}

// allEvents lists every event of a session, following page keys.
func allEvents(t testing.TB, r *agentalias.AliasRouter, scope agentalias.Scope, key string, hidden bool) []*event.Event {
	t.Helper()
	var out []*event.Event
	q := storage.EventQuery{Limit: 3, IncludeHidden: hidden}
	for {
		page, err := r.ListEvents(context.Background(), scope, key, q)
		if err != nil {
			t.Fatalf("ListEvents(%s): %v", key, err)
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out
		}
		q.PageKey = page.Next
	}
}

// allSessions lists every session in scope, following page keys.
func allSessions(t testing.TB, r *agentalias.AliasRouter, scope agentalias.Scope) []*session.Session {
	t.Helper()
	var out []*session.Session
	q := storage.SessionQuery{Limit: 100}
	for {
		page, err := r.ListSessions(context.Background(), scope, q)
		if err != nil {
			t.Fatalf("ListSessions: %v", err)
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out
		}
		q.PageKey = page.Next
	}
}

func sessionKeys(ss []*session.Session) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, s.Key)
	}
	return out
}

func eventTypes(evs []*event.Event) []event.Type {
	out := []event.Type{}
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func eventIDs(evs []*event.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

// wantCode fails unless err is an *agentalias.Error with code.
func wantCode(t testing.TB, err error, code agentalias.Code) *agentalias.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want code %s", code)
	}
	var e *agentalias.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want an *agentalias.Error", err, err)
	}
	if got := agentalias.ErrorCode(err); got != code {
		t.Fatalf("ErrorCode(%v) = %s, want %s", err, got, code)
	}
	return e
}

// decide evaluates doc (without stickiness) for a session created through
// an alias with the given key and metadata, as the router would.
func decide(t testing.TB, doc policy.Document, aliasKey string, aliasMD map[string]any, sessionKey string, sessionMD map[string]any) string {
	t.Helper()
	p, err := policy.Compile(&doc, nil)
	if err != nil {
		t.Fatalf("policy.Compile: %v", err)
	}
	d, err := p.Choose(context.Background(), &policy.Request{Input: expr.Input{
		Agent:   expr.Object{Key: aliasKey, Name: aliasKey, Metadata: aliasMD},
		Session: expr.Object{Key: sessionKey, Name: sessionKey, Metadata: sessionMD},
	}})
	if err != nil {
		t.Fatalf("Choose: %v", err)
	}
	return d.AgentKey
}

// findKey returns the first session key "<prefix>-N" for which want reports
// true.
func findKey(t testing.TB, prefix string, want func(key string) bool) string {
	t.Helper()
	for i := range 10000 {
		k := fmt.Sprintf("%s-%d", prefix, i)
		if want(k) {
			return k
		}
	}
	t.Fatalf("no key with prefix %s qualifies", prefix)
	return ""
}

// observer records the resolutions Options.Observe receives.
type observer struct {
	mu  sync.Mutex
	got []agentalias.Resolution
}

func (o *observer) observe(_ context.Context, r agentalias.Resolution) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, r)
}

func (o *observer) last(t testing.TB) agentalias.Resolution {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.got) == 0 {
		t.Fatal("Observe was not called")
	}
	return o.got[len(o.got)-1]
}

func (o *observer) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.got)
}

// availability is a mutable Options.Available.
type availability struct {
	mu   sync.Mutex
	down map[string]bool
}

func (a *availability) set(agent string, up bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down == nil {
		a.down = map[string]bool{}
	}
	a.down[agent] = !up
}

func (a *availability) available(_ context.Context, agent string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.down[agent]
}

func ptr[T any](v T) *T { return &v }

// equateEmpty makes nil and empty maps and slices equal, as stores promise.
var equateEmpty = cmpopts.EquateEmpty()

// ---------------------------------------------------------------------------
// New

func TestNew(t *testing.T) {
	t.Parallel()
	t.Run("ErrNilStore", func(t *testing.T) {
		r, err := agentalias.New(nil, nil)
		if err == nil || r != nil {
			t.Fatalf("New(nil) = %v, %v; want an error", r, err)
		}
	})
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		t.Run("ErrInvalidAgentKey", func(t *testing.T) {
			for _, key := range []string{"", "has space", "dot.ted", strings.Repeat("a", 51)} {
				r, err := agentalias.New(newStore(t), &agentalias.Options{Agents: map[string]agentalias.Agent{"v1": echo, key: echo}})
				if err == nil {
					r.Close()
					t.Errorf("New with agent key %q: no error", key)
				}
			}
		})
		t.Run("ErrNilAgent", func(t *testing.T) {
			r, err := agentalias.New(newStore(t), &agentalias.Options{Agents: map[string]agentalias.Agent{"v1": nil}})
			if err == nil {
				r.Close()
				t.Fatal("New with a nil agent: no error")
			}
		})
		t.Run("Defaults", func(t *testing.T) {
			ctx := context.Background()
			r, err := agentalias.New(newStore(t), nil)
			if err != nil {
				t.Fatalf("New(store, nil): %v", err)
			}
			defer r.Close()
			if got := r.Agents(); len(got) != 0 {
				t.Errorf("Agents() = %v, want none", got)
			}
			if err := r.RegisterAgent("v1", echo); err != nil {
				t.Fatalf("RegisterAgent: %v", err)
			}
			if err := r.RegisterAgent("bad key", echo); err == nil {
				t.Error("RegisterAgent(bad key): no error")
			}
			mustCreateAlias(t, r, alias.Params{Key: "support", Policy: singlePolicy("v1")})
			s := mustCreateSession(t, r, agentalias.ViaAlias("support"), session.Params{Name: "Hello there"})
			if !strings.HasPrefix(s.Key, "hello-there-") || !session.ValidKey(s.Key) {
				t.Errorf("generated key %q: want hello-there-<random>", s.Key)
			}
			if time.Since(s.CreatedAt) > time.Minute || s.CreatedAt.Location() != time.UTC {
				t.Errorf("CreatedAt = %v, want about now, in UTC", s.CreatedAt)
			}
			resp, err := r.Submit(ctx, agentalias.ViaAlias("support"), s.Key, agentalias.Input{Messages: []event.Input{event.Text("hi")}}, nil)
			if err != nil {
				t.Fatalf("Submit: %v", err)
			}
			if diff := cmp.Diff([]event.Type{event.InputMessage, event.AgentOutput}, eventTypes(resp.Events)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			for _, ev := range resp.Events {
				if !event.ValidID(ev.ID) {
					t.Errorf("event id %q is not valid", ev.ID)
				}
			}
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := r.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
		t.Run("ShortNewID", func(t *testing.T) {
			// Options.NewID promises only [0-9a-z_-] characters, not a
			// length: a short token must not break generated keys.
			var n atomic.Int64
			r, err := agentalias.New(newStore(t), &agentalias.Options{
				Agents: map[string]agentalias.Agent{"v1": echo},
				NewID:  func() string { return fmt.Sprint(n.Add(1)) },
			})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			s, err := r.CreateSession(context.Background(), agentalias.ViaAgent("v1"), session.Params{Name: "x"})
			if err != nil {
				t.Fatalf("CreateSession with a short NewID: %v", err)
			}
			if !session.ValidKey(s.Key) {
				t.Errorf("key %q is not valid", s.Key)
			}
		})
	})
}

// ---------------------------------------------------------------------------
// Aliases

func TestAliasRouter_CreateAlias(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		t.Run("OK", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			st := &policy.Stickiness{Key: "get('$.session.metadata.user_id')", TTLMinutes: 30}
			a, err := h.r.CreateAlias(ctx, alias.Params{
				Key: "support", Name: "Support", Description: "Front door",
				Policy: singlePolicy("v1"), Stickiness: st, Metadata: map[string]any{"region": "eu"},
			})
			if err != nil {
				t.Fatalf("CreateAlias: %v", err)
			}
			want := &alias.Alias{
				Key: "support", Name: "Support", Description: "Front door",
				Policy: singlePolicy("v1"), Stickiness: st, Enabled: true,
				Metadata: map[string]any{"region": "eu"}, CreatedAt: h.clock.Now(), Revision: 1,
			}
			if diff := cmp.Diff(want, a, equateEmpty); diff != "" {
				t.Errorf("created alias (-want +got):\n%s", diff)
			}
			got, err := h.r.Alias(ctx, "support")
			if err != nil {
				t.Fatalf("Alias: %v", err)
			}
			if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
				t.Errorf("stored alias (-want +got):\n%s", diff)
			}

			off, err := h.r.CreateAlias(ctx, alias.Params{Key: "off", Name: "Off", Policy: singlePolicy("v1"), Enabled: ptr(false)})
			if err != nil {
				t.Fatalf("CreateAlias(enabled false): %v", err)
			}
			if off.Enabled {
				t.Error("Params.Enabled = false was not respected")
			}
			on, err := h.r.CreateAlias(ctx, alias.Params{Key: "on", Name: "On", Policy: singlePolicy("v1"), Enabled: ptr(true)})
			if err != nil || !on.Enabled {
				t.Errorf("CreateAlias(enabled true) = %+v, %v", on, err)
			}
		})
		t.Run("ErrUnknownAgents", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			doc := mustPolicy(t, `{"type":"routed","rules":[
				{"match":"get('$.session.metadata.x') == 1","targets":{"type":"single","agent_key":"zeta"}},
				{"targets":{"type":"weighted","partition_by":"get('$.session.key')",
				  "options":[{"agent_key":"v1","weight":1},{"agent_key":"alpha","weight":1},{"agent_key":"zeta","weight":1}]}}]}`)
			_, err := h.r.CreateAlias(ctx, alias.Params{Key: "support", Name: "Support", Policy: doc})
			wantCode(t, err, agentalias.Invalid)
			if got, want := agentalias.ErrorMessage(err), "Alias references unknown agent(s): [zeta, alpha]"; got != want {
				t.Errorf("message = %q, want %q", got, want)
			}
			if _, err := h.r.Alias(ctx, "support"); agentalias.ErrorCode(err) != agentalias.NotFound {
				t.Errorf("after a failed create, Alias = %v, want NotFound", err)
			}
		})
		t.Run("ErrInvalidPolicy", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			for _, tc := range []struct {
				name  string
				doc   policy.Document
				st    *policy.Stickiness
				field string
			}{
				{"syntax", mustPolicy(t, `{"type":"routed","rules":[{"match":"get('$.x') ==","targets":{"type":"single","agent_key":"v1"}}]}`),
					nil, "policy.rules[0].match"},
				{"weight", policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{{Targets: policy.Targets{
					Type: policy.TargetWeighted, PartitionBy: "get('$.session.key')",
					Options: []policy.Option{{AgentKey: "v1", Weight: -1}, {AgentKey: "v2", Weight: 1}},
				}}}}, nil, "policy.rules[0].targets.options[0].weight"},
				{"unreachable", policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
					{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "v1"}},
					{Match: "true", Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "v2"}},
				}}, nil, "policy.rules[1]"},
				{"no rules", policy.Document{Type: policy.TypeRouted}, nil, "policy.rules"},
				{"sticky key", singlePolicy("v1"), &policy.Stickiness{Key: "get(", TTLMinutes: 1}, "stickiness.key"},
			} {
				_, err := h.r.CreateAlias(ctx, alias.Params{Key: "bad", Name: "Bad", Policy: tc.doc, Stickiness: tc.st})
				e := wantCode(t, err, agentalias.Invalid)
				if _, ok := e.Fields[tc.field]; !ok {
					t.Errorf("%s: FieldErrors = %v, want a %q entry", tc.name, agentalias.FieldErrors(err), tc.field)
				}
			}
			_, err := h.r.CreateAlias(ctx, alias.Params{Key: "bad key!", Name: "", Policy: singlePolicy("v1")})
			e := wantCode(t, err, agentalias.Invalid)
			for _, f := range []string{"key", "name"} {
				if _, ok := e.Fields[f]; !ok {
					t.Errorf("FieldErrors = %v, want a %q entry", e.Fields, f)
				}
			}
			if page, err := h.r.ListAliases(ctx, storage.AliasQuery{}); err != nil || len(page.Items) != 0 {
				t.Errorf("after failed creates, ListAliases = %v, %v; want none", page.Items, err)
			}
		})
		t.Run("ErrAlreadyExists", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			first := mustCreateAlias(t, h.r, alias.Params{Key: "support", Name: "First", Policy: singlePolicy("v1")})
			_, err := h.r.CreateAlias(ctx, alias.Params{Key: "support", Name: "Second", Policy: singlePolicy("v2")})
			wantCode(t, err, agentalias.AlreadyExists)
			if got, want := agentalias.ErrorMessage(err), "An alias with this key already exists."; got != want {
				t.Errorf("message = %q, want %q", got, want)
			}
			got, _ := h.r.Alias(ctx, "support")
			if diff := cmp.Diff(first, got, equateEmpty); diff != "" {
				t.Errorf("alias changed by a failed create (-want +got):\n%s", diff)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			_, err := h.r.Alias(ctx, "nope")
			e := wantCode(t, err, agentalias.NotFound)
			if e.ID != "nope" {
				t.Errorf("Error.ID = %q, want nope", e.ID)
			}
			if !errors.Is(err, agentalias.ErrNotFound) || !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("errors.Is(%v, ErrNotFound) is false", err)
			}
		})
	})
}

func TestAliasRouter_ListAliases(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		h := newHarness(t, newStore, nil)
		for _, p := range []alias.Params{
			{Key: "a1", Name: "Billing", Policy: singlePolicy("v1")},
			{Key: "a2", Name: "Support EU", Policy: singlePolicy("eu"), Enabled: ptr(false)},
			{Key: "a3", Name: "Canary", Description: "billing canary", Policy: weightedPolicy("get('$.session.key')", 90, 10)},
			{Key: "a4", Name: "Support", Policy: singlePolicy("v2")},
			{Key: "a5", Name: "Other", Policy: singlePolicy("v1"), Enabled: ptr(false)},
		} {
			mustCreateAlias(t, h.r, p)
		}
		keys := func(q storage.AliasQuery) []string {
			t.Helper()
			out := []string{}
			for {
				page, err := h.r.ListAliases(ctx, q)
				if err != nil {
					t.Fatalf("ListAliases(%+v): %v", q, err)
				}
				if q.Limit > 0 && len(page.Items) > q.Limit {
					t.Fatalf("page of %d items, limit %d", len(page.Items), q.Limit)
				}
				for _, a := range page.Items {
					out = append(out, a.Key)
				}
				if page.Next == "" {
					return out
				}
				q.PageKey = page.Next
			}
		}
		for _, tc := range []struct {
			name string
			in   storage.AliasQuery
			want []string
		}{
			{"all", storage.AliasQuery{}, []string{"a1", "a2", "a3", "a4", "a5"}},
			{"paged", storage.AliasQuery{Limit: 2}, []string{"a1", "a2", "a3", "a4", "a5"}},
			{"enabled", storage.AliasQuery{Enabled: ptr(true)}, []string{"a1", "a3", "a4"}},
			{"disabled", storage.AliasQuery{Enabled: ptr(false), Limit: 1}, []string{"a2", "a5"}},
			{"agent v2", storage.AliasQuery{AgentKey: "v2"}, []string{"a3", "a4"}},
			{"agent v1 enabled", storage.AliasQuery{AgentKey: "v1", Enabled: ptr(true)}, []string{"a1", "a3"}},
			{"filter", storage.AliasQuery{Filter: regexp.MustCompile(`(?i)billing`)}, []string{"a1", "a3"}},
			{"filter none", storage.AliasQuery{Filter: regexp.MustCompile(`^zzz`)}, []string{}},
		} {
			if diff := cmp.Diff(tc.want, keys(tc.in)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.name, diff)
			}
		}
		page, err := h.r.ListAliases(ctx, storage.AliasQuery{Limit: 2})
		if err != nil || len(page.Items) != 2 || page.Next == "" {
			t.Fatalf("first page = %d items, next %q, %v", len(page.Items), page.Next, err)
		}
		_, err = h.r.ListAliases(ctx, storage.AliasQuery{Limit: 101})
		e := wantCode(t, err, agentalias.Invalid)
		if _, ok := e.Fields["limit"]; !ok {
			t.Errorf("FieldErrors = %v, want limit", e.Fields)
		}
		_, err = h.r.ListAliases(ctx, storage.AliasQuery{PageKey: "not-a-page-key"})
		wantCode(t, err, agentalias.Invalid)
	})
}

func TestAliasRouter_UpdateAlias(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		h := newHarness(t, newStore, nil)
		st := &policy.Stickiness{Key: "get('$.session.metadata.user_id')", TTLMinutes: 5}
		orig := mustCreateAlias(t, h.r, alias.Params{
			Key: "support", Name: "Support", Description: "desc", Policy: singlePolicy("v1"),
			Stickiness: st, Metadata: map[string]any{"region": "eu", "tier": "gold"},
		})
		h.clock.Advance(time.Minute)

		// A zero patch changes nothing but the update time.
		got, err := h.r.UpdateAlias(ctx, "support", alias.Patch{})
		if err != nil {
			t.Fatalf("UpdateAlias(zero): %v", err)
		}
		want := orig.Clone()
		want.UpdatedAt, want.Revision = h.clock.Now(), got.Revision
		if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
			t.Errorf("zero patch (-want +got):\n%s", diff)
		}

		got, err = h.r.UpdateAlias(ctx, "support", alias.Patch{
			Name: ptr("Support 2"), Enabled: ptr(false), Metadata: map[string]any{"region": "us"},
		})
		if err != nil {
			t.Fatalf("UpdateAlias: %v", err)
		}
		want.Name, want.Enabled, want.Metadata, want.Revision = "Support 2", false, map[string]any{"region": "us"}, got.Revision
		if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
			t.Errorf("patched alias (-want +got):\n%s", diff)
		}
		// Description left out: unchanged; "" clears; empty metadata clears.
		got, err = h.r.UpdateAlias(ctx, "support", alias.Patch{Description: ptr(""), Metadata: map[string]any{}})
		if err != nil {
			t.Fatalf("UpdateAlias(clear): %v", err)
		}
		if got.Description != "" || len(got.Metadata) != 0 || got.Name != "Support 2" {
			t.Errorf("after clearing: %+v", got)
		}
		// The policy and stickiness never change through a patch.
		if diff := cmp.Diff(orig.Policy, got.Policy, equateEmpty); diff != "" {
			t.Errorf("policy changed by a patch:\n%s", diff)
		}
		if diff := cmp.Diff(orig.Stickiness, got.Stickiness, equateEmpty); diff != "" {
			t.Errorf("stickiness changed by a patch:\n%s", diff)
		}
		stored, _ := h.r.Alias(ctx, "support")
		if diff := cmp.Diff(got, stored, equateEmpty); diff != "" {
			t.Errorf("stored alias differs from the returned one (-returned +stored):\n%s", diff)
		}

		// An invalid patch changes nothing.
		_, err = h.r.UpdateAlias(ctx, "support", alias.Patch{Name: ptr(""), Description: ptr(strings.Repeat("x", alias.MaxDescriptionLen+1))})
		e := wantCode(t, err, agentalias.Invalid)
		if _, ok := e.Fields["name"]; !ok {
			t.Errorf("FieldErrors = %v, want name", e.Fields)
		}
		after, _ := h.r.Alias(ctx, "support")
		if diff := cmp.Diff(stored, after, equateEmpty); diff != "" {
			t.Errorf("a failed patch changed the alias:\n%s", diff)
		}

		_, err = h.r.UpdateAlias(ctx, "nope", alias.Patch{Name: ptr("x")})
		if e := wantCode(t, err, agentalias.NotFound); e.ID != "nope" {
			t.Errorf("Error.ID = %q", e.ID)
		}
	})
}

func TestAliasRouter_ReplacePolicy(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		h := newHarness(t, newStore, nil)
		st := &policy.Stickiness{Key: "get('$.session.metadata.user_id')", TTLMinutes: 5}
		mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("v1"), Stickiness: st, Metadata: map[string]any{"k": "v"}})
		old := mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "old"})

		h.clock.Advance(time.Minute)
		// Whole: replacing without stickiness drops it.
		got, err := h.r.ReplacePolicy(ctx, "support", singlePolicy("v2"), nil)
		if err != nil {
			t.Fatalf("ReplacePolicy: %v", err)
		}
		if diff := cmp.Diff(singlePolicy("v2"), got.Policy); diff != "" {
			t.Errorf("policy (-want +got):\n%s", diff)
		}
		if got.Stickiness != nil {
			t.Errorf("stickiness = %+v, want nil after a whole replacement without it", got.Stickiness)
		}
		if !got.UpdatedAt.Equal(h.clock.Now()) || got.Name != "support" || got.Metadata["k"] != "v" {
			t.Errorf("replaced alias = %+v", got)
		}
		st2 := &policy.Stickiness{Key: "get('$.session.metadata.org')", TTLMinutes: 10}
		got, err = h.r.ReplacePolicy(ctx, "support", singlePolicy("v2"), st2)
		if err != nil {
			t.Fatalf("ReplacePolicy(sticky): %v", err)
		}
		if diff := cmp.Diff(st2, got.Stickiness); diff != "" {
			t.Errorf("stickiness (-want +got):\n%s", diff)
		}
		// New sessions use the new policy; the old session keeps its agent.
		s := mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "new"})
		if s.AgentKey != "v2" {
			t.Errorf("new session's agent = %s, want v2", s.AgentKey)
		}
		if o, _ := h.r.Session(ctx, agentalias.ViaAlias("support"), old.Key); o.AgentKey != "v1" {
			t.Errorf("old session's agent = %s, want v1 (resolution happens once)", o.AgentKey)
		}

		// A failed replacement changes nothing.
		before, err := h.r.Alias(ctx, "support")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			doc  policy.Document
			st   *policy.Stickiness
			code agentalias.Code
			msg  string
		}{
			{"unknown agents", mustPolicy(t, `{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"get('$.session.key')",
				"options":[{"agent_key":"ghost-b","weight":1},{"agent_key":"v1","weight":1},{"agent_key":"ghost-a","weight":1}]}}]}`),
				nil, agentalias.Invalid, "Alias references unknown agent(s): [ghost-b, ghost-a]"},
			{"bad match", mustPolicy(t, `{"type":"routed","rules":[{"match":"(((","targets":{"type":"single","agent_key":"v1"}}]}`),
				nil, agentalias.Invalid, ""},
			{"bad stickiness", singlePolicy("v1"), &policy.Stickiness{Key: "", TTLMinutes: -1}, agentalias.Invalid, ""},
		} {
			_, err := h.r.ReplacePolicy(ctx, "support", tc.doc, tc.st)
			wantCode(t, err, tc.code)
			if tc.msg != "" && agentalias.ErrorMessage(err) != tc.msg {
				t.Errorf("%s: message = %q, want %q", tc.name, agentalias.ErrorMessage(err), tc.msg)
			}
			after, err := h.r.Alias(ctx, "support")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, after, equateEmpty); diff != "" {
				t.Errorf("%s: a failed ReplacePolicy changed the alias (-before +after):\n%s", tc.name, diff)
			}
		}
		s = mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "newer"})
		if s.AgentKey != "v2" {
			t.Errorf("after failed replacements, agent = %s, want v2", s.AgentKey)
		}

		_, err = h.r.ReplacePolicy(ctx, "nope", singlePolicy("v1"), nil)
		if e := wantCode(t, err, agentalias.NotFound); e.ID != "nope" {
			t.Errorf("Error.ID = %q", e.ID)
		}
	})
}

func TestAliasRouter_DeleteAlias(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		var refuse atomic.Bool
		var hookCalls atomic.Int64
		h := newHarness(t, newStore, func(o *agentalias.Options) {
			o.CanDeleteAlias = func(_ context.Context, tenant, key string) error {
				hookCalls.Add(1)
				if refuse.Load() {
					return fmt.Errorf("connector c-1 still uses alias %s", key)
				}
				return nil
			}
		})
		t.Run("ConflictWhileEnabledSession", func(t *testing.T) {
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("v1")})
			s := mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "live"})
			err := h.r.DeleteAlias(ctx, "support")
			wantCode(t, err, agentalias.Conflict)
			if _, err := h.r.Alias(ctx, "support"); err != nil {
				t.Fatalf("alias gone after a refused delete: %v", err)
			}
			// Disabled sessions do not hold the alias.
			if _, err := h.r.UpdateSession(ctx, agentalias.ViaAlias("support"), s.Key, session.Patch{Enabled: ptr(false)}); err != nil {
				t.Fatal(err)
			}
			if err := h.r.DeleteAlias(ctx, "support"); err != nil {
				t.Fatalf("DeleteAlias with only a disabled session: %v", err)
			}
			if _, err := h.r.Alias(ctx, "support"); agentalias.ErrorCode(err) != agentalias.NotFound {
				t.Errorf("Alias after delete = %v, want NotFound", err)
			}
			// The session stays reachable through its agent, keeps its
			// alias_key, and the agents are not affected.
			got, err := h.r.Session(ctx, agentalias.ViaAgent("v1"), s.Key)
			if err != nil {
				t.Fatalf("session via agent after alias delete: %v", err)
			}
			if got.AliasKey != "support" {
				t.Errorf("AliasKey = %q, want support", got.AliasKey)
			}
			if diff := cmp.Diff([]string{"eu", "v1", "v2"}, h.r.Agents()); diff != "" {
				t.Errorf("agents changed (-want +got):\n%s", diff)
			}
			if _, err := h.r.UpdateSession(ctx, agentalias.ViaAgent("v1"), s.Key, session.Patch{Enabled: ptr(true)}); err != nil {
				t.Fatal(err)
			}
			mustSubmit(t, h.r, agentalias.ViaAgent("v1"), s.Key, "still works")
			// Creating through the deleted alias is NotFound; the key is free.
			_, err = h.r.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{})
			wantCode(t, err, agentalias.NotFound)
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("v2")})
		})
		t.Run("OKAfterSessionDeleted", func(t *testing.T) {
			mustCreateAlias(t, h.r, alias.Params{Key: "temp", Policy: singlePolicy("v1")})
			s := mustCreateSession(t, h.r, agentalias.ViaAlias("temp"), session.Params{})
			wantCode(t, h.r.DeleteAlias(ctx, "temp"), agentalias.Conflict)
			if err := h.r.DeleteSession(ctx, agentalias.ViaAlias("temp"), s.Key); err != nil {
				t.Fatal(err)
			}
			if err := h.r.DeleteAlias(ctx, "temp"); err != nil {
				t.Fatalf("DeleteAlias after its session was deleted: %v", err)
			}
		})
		t.Run("OKAfterSessionExpired", func(t *testing.T) {
			mustCreateAlias(t, h.r, alias.Params{Key: "idle", Policy: singlePolicy("v1")})
			mustCreateSession(t, h.r, agentalias.ViaAlias("idle"), session.Params{TTIMinutes: 1})
			wantCode(t, h.r.DeleteAlias(ctx, "idle"), agentalias.Conflict)
			h.clock.Advance(2 * time.Minute)
			if err := h.r.DeleteAlias(ctx, "idle"); err != nil {
				t.Fatalf("DeleteAlias whose only session expired: %v", err)
			}
		})
		t.Run("HookRefuses", func(t *testing.T) {
			mustCreateAlias(t, h.r, alias.Params{Key: "hooked", Policy: singlePolicy("v1")})
			before, _ := h.r.Alias(ctx, "hooked")
			refuse.Store(true)
			defer refuse.Store(false)
			calls := hookCalls.Load()
			err := h.r.DeleteAlias(ctx, "hooked")
			wantCode(t, err, agentalias.Conflict)
			if !strings.Contains(agentalias.ErrorMessage(err), "connector c-1") {
				t.Errorf("message %q does not carry the hook's reason", agentalias.ErrorMessage(err))
			}
			if hookCalls.Load() != calls+1 {
				t.Error("the hook was not asked")
			}
			after, err := h.r.Alias(ctx, "hooked")
			if err != nil {
				t.Fatalf("alias deleted despite the hook: %v", err)
			}
			if diff := cmp.Diff(before, after, equateEmpty); diff != "" {
				t.Errorf("alias changed (-before +after):\n%s", diff)
			}
			s := mustCreateSession(t, h.r, agentalias.ViaAlias("hooked"), session.Params{})
			if s.AgentKey != "v1" {
				t.Errorf("routing after a refused delete: %s", s.AgentKey)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			err := h.r.DeleteAlias(ctx, "nope")
			if e := wantCode(t, err, agentalias.NotFound); e.ID != "nope" {
				t.Errorf("Error.ID = %q", e.ID)
			}
		})
	})
}

// ---------------------------------------------------------------------------
// Routing

func TestAliasRouter_Routing(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		t.Run("StoresAgentAndAlias", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("v2")})
			s := mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "s1"})
			if s.AgentKey != "v2" || s.AliasKey != "support" || s.Status != session.Unstarted || !s.Enabled {
				t.Errorf("created = %+v", s)
			}
			stored, err := h.store.Session(ctx, "", "s1")
			if err != nil {
				t.Fatal(err)
			}
			if stored.AgentKey != "v2" || stored.AliasKey != "support" {
				t.Errorf("stored agent_key %q alias_key %q", stored.AgentKey, stored.AliasKey)
			}
			direct := mustCreateSession(t, h.r, agentalias.ViaAgent("v1"), session.Params{Key: "s2"})
			if direct.AgentKey != "v1" || direct.AliasKey != "" {
				t.Errorf("direct = %+v", direct)
			}
			_, err = h.r.CreateSession(ctx, agentalias.ViaAgent("ghost"), session.Params{})
			wantCode(t, err, agentalias.NotFound)
		})
		t.Run("RoutingContext", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			doc := mustPolicy(t, `{"type":"routed","rules":[
				{"match":"get('$.agent.metadata.region') == 'eu'","targets":{"type":"single","agent_key":"eu"}},
				{"match":"get('$.session.metadata.tier') == 'gold' or get('$.session.name') == 'VIP chat' or get('$.session.key') == 'k-special'",
				 "targets":{"type":"single","agent_key":"v2"}},
				{"match":"get('$.agent.key') == 'by-key' and get('$.agent.name') == 'Named'","targets":{"type":"single","agent_key":"v2"}},
				{"targets":{"type":"single","agent_key":"v1"}}]}`)
			mustCreateAlias(t, h.r, alias.Params{Key: "eu-door", Policy: doc, Metadata: map[string]any{"region": "eu"}})
			mustCreateAlias(t, h.r, alias.Params{Key: "us-door", Policy: doc, Metadata: map[string]any{"region": "us"}})
			mustCreateAlias(t, h.r, alias.Params{Key: "by-key", Name: "Named", Policy: doc})
			for _, tc := range []struct {
				alias string
				in    session.Params
				want  string
			}{
				{"eu-door", session.Params{}, "eu"},
				{"eu-door", session.Params{Metadata: map[string]any{"tier": "gold"}}, "eu"},
				{"us-door", session.Params{}, "v1"},
				{"us-door", session.Params{Metadata: map[string]any{"tier": "gold"}}, "v2"},
				{"us-door", session.Params{Metadata: map[string]any{"tier": "silver"}}, "v1"},
				{"us-door", session.Params{Name: "VIP chat"}, "v2"},
				{"us-door", session.Params{Key: "k-special"}, "v2"},
				{"by-key", session.Params{}, "v2"},
			} {
				s, err := h.r.CreateSession(ctx, agentalias.ViaAlias(tc.alias), tc.in)
				if err != nil {
					t.Fatalf("CreateSession(%s, %+v): %v", tc.alias, tc.in, err)
				}
				if s.AgentKey != tc.want {
					t.Errorf("CreateSession(%s, %+v) agent = %s, want %s", tc.alias, tc.in, s.AgentKey, tc.want)
				}
			}
		})
		t.Run("ErrDisabledAlias", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("v1")})
			existing := mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "before"})
			if _, err := h.r.UpdateAlias(ctx, "support", alias.Patch{Enabled: ptr(false)}); err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{"support", "missing"} {
				_, err := h.r.CreateSession(ctx, agentalias.ViaAlias(key), session.Params{})
				e := wantCode(t, err, agentalias.NotFound)
				if e.Message != "Alias not found or not currently active" {
					t.Errorf("%s: message = %q", key, e.Message)
				}
				if e.ID != key {
					t.Errorf("%s: Error.ID = %q", key, e.ID)
				}
			}
			// Existing sessions keep working through the alias.
			mustSubmit(t, h.r, agentalias.ViaAlias("support"), existing.Key, "hi")
			if got := sessionKeys(allSessions(t, h.r, agentalias.ViaAlias("support"))); !cmp.Equal(got, []string{"before"}) {
				t.Errorf("sessions = %v", got)
			}
		})
		t.Run("ErrNoRuleMatched", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: mustPolicy(t, `{"type":"routed","rules":[
				{"match":"get('$.session.metadata.tier') == 'gold'","targets":{"type":"single","agent_key":"v2"}}]}`)})
			_, err := h.r.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{Key: "s"})
			wantCode(t, err, agentalias.Invalid)
			if !strings.Contains(agentalias.ErrorMessage(err), "no rule matched") {
				t.Errorf("message %q does not say no rule matched", agentalias.ErrorMessage(err))
			}
			if !errors.Is(err, policy.ErrNoMatch) {
				t.Errorf("errors.Is(err, policy.ErrNoMatch) = false for %v", err)
			}
			if got := allSessions(t, h.r, agentalias.ViaAlias("support")); len(got) != 0 {
				t.Errorf("a failed creation stored sessions: %v", sessionKeys(got))
			}
		})
		t.Run("ErrNullPartition", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: weightedPolicy("get('$.session.metadata.user_id')", 1, 1)})
			_, err := h.r.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{Key: "s"})
			wantCode(t, err, agentalias.Invalid)
			if !strings.Contains(agentalias.ErrorMessage(err), "partition_by") {
				t.Errorf("message %q does not mention partition_by", agentalias.ErrorMessage(err))
			}
			if _, err := h.r.Session(ctx, agentalias.ViaAlias("support"), "s"); agentalias.ErrorCode(err) != agentalias.NotFound {
				t.Errorf("a failed creation stored the session: %v", err)
			}
			s := mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "s", Metadata: map[string]any{"user_id": "u1"}})
			if s.AgentKey != "v1" && s.AgentKey != "v2" {
				t.Errorf("agent = %s", s.AgentKey)
			}
		})
		t.Run("Available", func(t *testing.T) {
			var av availability
			obs := &observer{}
			h := newHarness(t, newStore, func(o *agentalias.Options) {
				o.Available = av.available
				o.Observe = obs.observe
			})
			mustCreateAlias(t, h.r, alias.Params{Key: "fb", Policy: mustPolicy(t, `{"type":"routed","rules":[
				{"targets":{"type":"fallback","agent_keys":["v1","v2"]}}]}`)})
			mustCreateAlias(t, h.r, alias.Params{Key: "one", Policy: singlePolicy("v1")})

			if s := mustCreateSession(t, h.r, agentalias.ViaAlias("fb"), session.Params{}); s.AgentKey != "v1" {
				t.Errorf("primary up: agent = %s, want v1", s.AgentKey)
			}
			av.set("v1", false)
			s := mustCreateSession(t, h.r, agentalias.ViaAlias("fb"), session.Params{})
			if s.AgentKey != "v2" {
				t.Errorf("primary down: agent = %s, want v2", s.AgentKey)
			}
			if d := obs.last(t).Decision; d.Via != policy.ViaFallback || d.Skipped != 1 || d.Option != 1 {
				t.Errorf("decision = %+v (%s), want via fallback, 1 skipped", d, d)
			}
			_, err := h.r.CreateSession(ctx, agentalias.ViaAlias("one"), session.Params{Key: "down"})
			wantCode(t, err, agentalias.Unavailable)
			if !errors.Is(err, agentalias.ErrUnavailable) || !errors.Is(err, policy.ErrUnavailable) {
				t.Errorf("errors.Is unavailable false for %v", err)
			}
			av.set("v2", false)
			_, err = h.r.CreateSession(ctx, agentalias.ViaAlias("fb"), session.Params{Key: "down"})
			wantCode(t, err, agentalias.Unavailable)
			if _, err := h.r.Session(ctx, agentalias.ViaAgent("v1"), "down"); agentalias.ErrorCode(err) != agentalias.NotFound {
				t.Errorf("an unavailable creation stored the session: %v", err)
			}
		})
		t.Run("Observe", func(t *testing.T) {
			obs := &observer{}
			h := newHarness(t, newStore, func(o *agentalias.Options) { o.Observe = obs.observe })
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: mustPolicy(t, `{"type":"routed","rules":[
				{"match":"get('$.session.metadata.tier') == 'gold'","targets":{"type":"single","agent_key":"v2"}},
				{"match":"get('$.session.metadata.tier') == 'silver'","targets":{"type":"weighted","partition_by":"get('$.session.key')",
				  "options":[{"agent_key":"v1","weight":1},{"agent_key":"v2","weight":0}]}}]}`)})

			mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "g", Metadata: map[string]any{"tier": "gold"}})
			res := obs.last(t)
			if res.Err != nil || res.AliasKey != "support" || res.SessionKey != "g" || res.Tenant != "" {
				t.Errorf("resolution = %+v", res)
			}
			d := res.Decision
			if d.AgentKey != "v2" || d.Rule != 0 || d.Rules != 1 || d.Match(0) != policy.Matched || d.Target != policy.TargetSingle || d.Via != policy.ViaRule {
				t.Errorf("decision = %s", d)
			}

			mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "s", Metadata: map[string]any{"tier": "silver"}})
			d = obs.last(t).Decision
			if d.AgentKey != "v1" || d.Rule != 1 || d.Match(0) != policy.NotMatched || d.Target != policy.TargetWeighted || d.Option != 0 {
				t.Errorf("decision = %s", d)
			}
			if !strings.Contains(d.String(), "rules[0] false, rules[1] matched") {
				t.Errorf("explanation %q", d.String())
			}

			n := obs.count()
			_, err := h.r.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{Key: "none"})
			wantCode(t, err, agentalias.Invalid)
			if obs.count() != n+1 {
				t.Fatalf("Observe called %d times for a failed resolution, want 1", obs.count()-n)
			}
			res = obs.last(t)
			if res.Err == nil || res.Decision.AgentKey != "" || res.Decision.Rules != 2 || res.Decision.Rule != -1 {
				t.Errorf("failed resolution = %+v (%s)", res, res.Decision)
			}

			// A decision whose session cannot be stored is reported as failed.
			n = obs.count()
			_, err = h.r.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{Key: "g", Metadata: map[string]any{"tier": "gold"}})
			wantCode(t, err, agentalias.AlreadyExists)
			if obs.count() != n+1 {
				t.Fatalf("Observe called %d times for a duplicate key, want 1", obs.count()-n)
			}
			if res := obs.last(t); res.Err == nil {
				t.Errorf("Observe got Err nil for a session that was not created: %+v", res)
			}

			// Sessions created on an agent are not routed, so not observed.
			n = obs.count()
			mustCreateSession(t, h.r, agentalias.ViaAgent("v1"), session.Params{})
			if obs.count() != n {
				t.Error("Observe called for a session created on an agent")
			}
		})
		t.Run("StickyPins", func(t *testing.T) {
			testStickyPins(t, newStore)
		})
		t.Run("StickyPinRace", func(t *testing.T) {
			testStickyPinRace(t, newStore)
		})
		t.Run("CompiledPoliciesNeverStale", func(t *testing.T) {
			store := newStore(t)
			clock := newClock()
			open := func() *agentalias.AliasRouter {
				r, err := agentalias.New(store, &agentalias.Options{
					Agents: map[string]agentalias.Agent{"v1": echo, "v2": echo},
					Now:    clock.Now, SweepInterval: -1,
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { r.Close() })
				return r
			}
			a, b := open(), open()
			mustCreateAlias(t, a, alias.Params{Key: "support", Policy: singlePolicy("v1")})
			for i, tc := range []struct {
				via  *agentalias.AliasRouter
				doc  policy.Document
				want string
			}{
				{a, singlePolicy("v1"), "v1"},
				{a, singlePolicy("v2"), "v2"},
				{b, singlePolicy("v1"), "v1"},
				{a, weightedPolicy("get('$.session.key')", 0, 1), "v2"},
			} {
				if i > 0 {
					if _, err := tc.via.ReplacePolicy(ctx, "support", tc.doc, nil); err != nil {
						t.Fatal(err)
					}
				}
				// Both routers have compiled (and cached) the previous policy.
				for j, r := range []*agentalias.AliasRouter{b, a} {
					s := mustCreateSession(t, r, agentalias.ViaAlias("support"), session.Params{Key: fmt.Sprintf("s-%d-%d", i, j)})
					if s.AgentKey != tc.want {
						t.Errorf("step %d, router %d: agent = %s, want %s", i, j, s.AgentKey, tc.want)
					}
				}
			}

			// Deleted and created again through one router, at the same
			// instant: the new alias starts over at revision 1, and the
			// other router must not take it for the old one.
			mustCreateAlias(t, a, alias.Params{Key: "again", Policy: singlePolicy("v1")})
			old := mustCreateSession(t, b, agentalias.ViaAlias("again"), session.Params{Key: "again-1"})
			if old.AgentKey != "v1" {
				t.Fatalf("agent = %s", old.AgentKey)
			}
			if err := b.DeleteSession(ctx, agentalias.ViaAlias("again"), old.Key); err != nil {
				t.Fatal(err)
			}
			if err := a.DeleteAlias(ctx, "again"); err != nil {
				t.Fatal(err)
			}
			if got := mustCreateAlias(t, a, alias.Params{Key: "again", Policy: singlePolicy("v2")}); got.Revision != 1 {
				t.Logf("a re-created alias starts at revision %d", got.Revision)
			}
			for j, r := range []*agentalias.AliasRouter{b, a} {
				s := mustCreateSession(t, r, agentalias.ViaAlias("again"), session.Params{Key: fmt.Sprintf("again-2-%d", j)})
				if s.AgentKey != "v2" {
					t.Errorf("re-created alias, router %d: agent = %s, want v2 (a stale compiled policy)", j, s.AgentKey)
				}
			}
		})
	})
}

// testStickyPinRace creates the first sessions of many users at once, each
// user's from several goroutines, through a 50/50 split by session key:
// every user's sessions must land on one agent, the one its pin names.
func testStickyPinRace(t *testing.T, newStore storeFactory) {
	ctx := context.Background()
	h := newHarness(t, newStore, nil)
	st := &policy.Stickiness{Key: "get('$.session.metadata.user')", TTLMinutes: 60}
	mustCreateAlias(t, h.r, alias.Params{Key: "canary", Policy: weightedPolicy("get('$.session.key')", 50, 50), Stickiness: st})
	const users, perUser = 40, 6
	agents := make([][]string, users)
	for u := range users {
		agents[u] = make([]string, perUser)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range perUser {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				s, err := h.r.CreateSession(ctx, agentalias.ViaAlias("canary"), session.Params{
					Key: fmt.Sprintf("u%d-s%d", u, i), Metadata: map[string]any{"user": fmt.Sprint(u)}})
				if err != nil {
					t.Errorf("user %d session %d: %v", u, i, err)
					return
				}
				agents[u][i] = s.AgentKey
			}()
		}
		close(start)
		wg.Wait()
	}
	split := 0
	for u, got := range agents {
		pin, err := h.store.Pin(ctx, "", "canary", fmt.Sprint(u))
		if err != nil {
			t.Errorf("user %d: no pin: %v", u, err)
			continue
		}
		for i, a := range got {
			if a != pin.AgentKey {
				t.Errorf("user %d session %d went to %s; the user is pinned to %s", u, i, a, pin.AgentKey)
			}
		}
		if pin.AgentKey != agents[0][0] {
			split++
		}
	}
	// The split is by session key, so both agents have users.
	if split == 0 || split == users {
		t.Errorf("%d of %d users pinned to another agent than user 0's; want both agents used", split, users)
	}
}

// testStickyPins checks sticky pins: same sticky key, same agent, across a
// change of weights; expiry with the clock; pins to unavailable agents.
func testStickyPins(t *testing.T, newStore storeFactory) {
	ctx := context.Background()
	var av availability
	obs := &observer{}
	h := newHarness(t, newStore, func(o *agentalias.Options) {
		o.Available = av.available
		o.Observe = obs.observe
	})
	const partition = "get('$.session.key')"
	docA := weightedPolicy(partition, 90, 10)
	docB := weightedPolicy(partition, 10, 90)
	st := &policy.Stickiness{Key: "get('$.session.metadata.user_id')", TTLMinutes: 60}
	mustCreateAlias(t, h.r, alias.Params{Key: "canary", Policy: docA, Stickiness: st})

	under := func(doc policy.Document, key string) string { return decide(t, doc, "canary", nil, key, nil) }
	// Keys whose unpinned decision is known under both policies.
	aV1bV2 := func(k string) bool { return under(docA, k) == "v1" && under(docB, k) == "v2" }
	aV2 := func(k string) bool { return under(docA, k) == "v2" }
	bV1 := func(k string) bool { return under(docB, k) == "v1" }
	bV2 := func(k string) bool { return under(docB, k) == "v2" }

	create := func(key, user string) (string, policy.Decision) {
		t.Helper()
		s := mustCreateSession(t, h.r, agentalias.ViaAlias("canary"), session.Params{Key: key, Metadata: map[string]any{"user_id": user}})
		res := obs.last(t)
		if res.SessionKey != key || res.Decision.AgentKey != s.AgentKey {
			t.Fatalf("resolution %+v does not match session %s/%s", res, s.Key, s.AgentKey)
		}
		return s.AgentKey, res.Decision
	}

	// A creation that fails after the decision leaves no pin behind.
	mustCreateSession(t, h.r, agentalias.ViaAgent("v1"), session.Params{Key: "fork-src"})
	_, err := h.r.CreateSession(ctx, agentalias.ViaAlias("canary"), session.Params{
		Key: "fork-fail", Metadata: map[string]any{"user_id": "u1"},
		FromSession: &session.Fork{SessionKey: "fork-src", IncludeUpToEventID: "aev_missing"},
	})
	if err == nil {
		t.Fatal("fork up to a missing event succeeded")
	}
	if res := obs.last(t); res.Err == nil || res.SessionKey != "fork-fail" {
		t.Errorf("failed fork observed as %+v, want Err set", res)
	}
	if _, err := h.store.Pin(ctx, "", "canary", "u1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a failed creation stored a pin: %v", err)
	}

	// Nor does one whose key is taken.
	mustCreateSession(t, h.r, agentalias.ViaAgent("v1"), session.Params{Key: "taken"})
	_, err = h.r.CreateSession(ctx, agentalias.ViaAlias("canary"), session.Params{Key: "taken", Metadata: map[string]any{"user_id": "u1"}})
	if agentalias.ErrorCode(err) != agentalias.AlreadyExists {
		t.Fatalf("session with a taken key: %v, want AlreadyExists", err)
	}
	if _, err := h.store.Pin(ctx, "", "canary", "u1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a creation with a taken key stored a pin: %v", err)
	}

	// The first session of u1 goes where the weights say, and is pinned.
	first := findKey(t, "first", aV1bV2)
	agent, d := create(first, "u1")
	if agent != "v1" || d.Via != policy.ViaRule || !d.PinDue {
		t.Fatalf("first session: agent %s, decision %s; want v1 by rule, pin due", agent, d)
	}
	// Later sessions of u1 follow the pin, even those the weights would
	// send elsewhere; other users are routed by the weights.
	for i := range 5 {
		k := findKey(t, fmt.Sprintf("later%d", i), aV2)
		agent, d := create(k, "u1")
		if agent != "v1" || d.Via != policy.ViaPin || d.PinDue {
			t.Errorf("u1 session %s: agent %s, decision %s; want v1 via pin", k, agent, d)
		}
	}
	other := findKey(t, "other", aV2)
	if agent, d := create(other, "u2"); agent != "v2" || d.Via != policy.ViaRule {
		t.Errorf("u2: agent %s, decision %s; want v2 by rule", agent, d)
	}
	// A session without a sticky key is not pinned.
	if _, err := h.r.CreateSession(ctx, agentalias.ViaAlias("canary"), session.Params{Key: findKey(t, "nokey", aV2)}); err != nil {
		t.Fatal(err)
	}
	if d := obs.last(t).Decision; d.PinDue || d.AgentKey != "v2" {
		t.Errorf("session without a sticky key: %s", d)
	}

	// The weights move; u1 stays pinned to v1.
	if _, err := h.r.ReplacePolicy(ctx, "canary", docB, st); err != nil {
		t.Fatal(err)
	}
	if agent, d := create(findKey(t, "moved", bV2), "u1"); agent != "v1" || d.Via != policy.ViaPin {
		t.Errorf("after the weights moved: agent %s, decision %s; want v1 via pin", agent, d)
	}
	h.clock.Advance(59 * time.Minute)
	if agent, _ := create(findKey(t, "almost", bV2), "u1"); agent != "v1" {
		t.Errorf("a minute before expiry: agent %s, want v1", agent)
	}

	// The pin expires: u1 is routed by the new weights and pinned again.
	h.clock.Advance(2 * time.Minute)
	agent, d = create(findKey(t, "expired", bV2), "u1")
	if agent != "v2" || d.Via != policy.ViaRule || d.PinIgnored != "expired" || !d.PinDue {
		t.Errorf("after expiry: agent %s, decision %s; want v2 by rule, pin ignored (expired)", agent, d)
	}
	if agent, d := create(findKey(t, "repinned", bV1), "u1"); agent != "v2" || d.Via != policy.ViaPin {
		t.Errorf("after re-pinning: agent %s, decision %s; want v2 via pin", agent, d)
	}

	// A pin to an unavailable agent is ignored, and the new decision pinned.
	av.set("v2", false)
	agent, d = create(findKey(t, "down", bV2), "u1")
	if agent != "v1" || d.PinIgnored != "unavailable" {
		t.Errorf("pinned agent down: agent %s, decision %s; want v1, pin ignored (unavailable)", agent, d)
	}
	av.set("v2", true)
	if agent, d := create(findKey(t, "back", bV2), "u1"); agent != "v1" || d.Via != policy.ViaPin {
		t.Errorf("after the outage: agent %s, decision %s; want v1 via the new pin", agent, d)
	}

	// A pin to an agent the policy no longer names is ignored.
	if _, err := h.r.ReplacePolicy(ctx, "canary", singlePolicy("eu"), st); err != nil {
		t.Fatal(err)
	}
	if agent, d := create("not-a-target", "u1"); agent != "eu" || d.PinIgnored != "not a target" {
		t.Errorf("pin to a dropped agent: agent %s, decision %s; want eu, pin ignored (not a target)", agent, d)
	}

	// Sweep removes expired pins: nothing visible changes.
	h.clock.Advance(2 * time.Hour)
	if _, err := h.r.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Pin(ctx, "", "canary", "u1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("after Sweep, expired pin: %v, want ErrNotFound", err)
	}
}

// ---------------------------------------------------------------------------
// Sessions

func TestAliasRouter_Sessions(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		t.Run("Keys", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("v1")})
			s := mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Name: "Billing question"})
			if !regexp.MustCompile(`^billing-question-[0-9a-z_-]{8}$`).MatchString(s.Key) || s.Name != "Billing question" {
				t.Errorf("generated key %q, name %q", s.Key, s.Name)
			}
			s2 := mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Name: "Billing question"})
			if s2.Key == s.Key {
				t.Error("two generated keys are equal")
			}
			noName := mustCreateSession(t, h.r, agentalias.ViaAgent("v1"), session.Params{})
			if !strings.HasPrefix(noName.Key, "session-") || noName.Name != noName.Key {
				t.Errorf("no name: key %q, name %q", noName.Key, noName.Name)
			}
			mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "mine", Name: "First"})
			for _, scope := range []agentalias.Scope{agentalias.ViaAlias("support"), agentalias.ViaAgent("v2")} {
				_, err := h.r.CreateSession(ctx, scope, session.Params{Key: "mine", Name: "Second"})
				wantCode(t, err, agentalias.AlreadyExists)
			}
			got, _ := h.r.Session(ctx, agentalias.ViaAgent("v1"), "mine")
			if got.Name != "First" {
				t.Errorf("a duplicate create changed the session: %+v", got)
			}
			_, err := h.r.CreateSession(ctx, agentalias.ViaAgent("v1"), session.Params{Key: "bad key"})
			if e := wantCode(t, err, agentalias.Invalid); e.Fields["key"] == "" {
				t.Errorf("FieldErrors = %v", e.Fields)
			}
			_, err = h.r.CreateSession(ctx, agentalias.Scope{}, session.Params{})
			wantCode(t, err, agentalias.Invalid)
		})
		t.Run("Scopes", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			mustCreateAlias(t, h.r, alias.Params{Key: "a1", Policy: singlePolicy("v1")})
			mustCreateAlias(t, h.r, alias.Params{Key: "a2", Policy: singlePolicy("v1")})
			mustCreateSession(t, h.r, agentalias.ViaAlias("a1"), session.Params{Key: "via-a1"})
			mustCreateSession(t, h.r, agentalias.ViaAlias("a2"), session.Params{Key: "via-a2"})
			mustCreateSession(t, h.r, agentalias.ViaAgent("v1"), session.Params{Key: "direct"})
			mustCreateSession(t, h.r, agentalias.ViaAgent("v2"), session.Params{Key: "other-agent"})

			for _, tc := range []struct {
				scope agentalias.Scope
				key   string
				ok    bool
			}{
				{agentalias.ViaAlias("a1"), "via-a1", true},
				{agentalias.ViaAlias("a1"), "via-a2", false},
				{agentalias.ViaAlias("a1"), "direct", false},
				{agentalias.ViaAlias("a2"), "via-a2", true},
				{agentalias.ViaAgent("v1"), "via-a1", true},
				{agentalias.ViaAgent("v1"), "via-a2", true},
				{agentalias.ViaAgent("v1"), "direct", true},
				{agentalias.ViaAgent("v1"), "other-agent", false},
				{agentalias.ViaAgent("v2"), "direct", false},
				{agentalias.ViaAlias("missing"), "via-a1", false},
			} {
				_, err := h.r.Session(ctx, tc.scope, tc.key)
				switch {
				case tc.ok && err != nil:
					t.Errorf("Session(%+v, %s): %v", tc.scope, tc.key, err)
				case !tc.ok:
					if e := wantCode(t, err, agentalias.NotFound); e.ID != tc.key {
						t.Errorf("Session(%+v, %s): Error.ID = %q", tc.scope, tc.key, e.ID)
					}
					// Every operation on the session agrees.
					_, err = h.r.UpdateSession(ctx, tc.scope, tc.key, session.Patch{Name: ptr("x")})
					wantCode(t, err, agentalias.NotFound)
					wantCode(t, h.r.DeleteSession(ctx, tc.scope, tc.key), agentalias.NotFound)
					_, err = h.r.Submit(ctx, tc.scope, tc.key, agentalias.Input{Messages: []event.Input{event.Text("x")}}, nil)
					wantCode(t, err, agentalias.NotFound)
					_, err = h.r.ListEvents(ctx, tc.scope, tc.key, storage.EventQuery{})
					wantCode(t, err, agentalias.NotFound)
				}
			}
			for _, tc := range []struct {
				scope agentalias.Scope
				want  []string
			}{
				{agentalias.ViaAlias("a1"), []string{"via-a1"}},
				{agentalias.ViaAlias("a2"), []string{"via-a2"}},
				{agentalias.ViaAgent("v1"), []string{"via-a1", "via-a2", "direct"}},
				{agentalias.ViaAgent("v2"), []string{"other-agent"}},
				{agentalias.ViaAgent("eu"), []string{}},
			} {
				if diff := cmp.Diff(tc.want, sessionKeys(allSessions(t, h.r, tc.scope))); diff != "" {
					t.Errorf("ListSessions(%+v) (-want +got):\n%s", tc.scope, diff)
				}
			}
			_, err := h.r.ListSessions(ctx, agentalias.ViaAlias("missing"), storage.SessionQuery{})
			wantCode(t, err, agentalias.NotFound)
			page, err := h.r.ListSessions(ctx, agentalias.ViaAgent("v1"), storage.SessionQuery{Limit: 2})
			if err != nil || len(page.Items) != 2 || page.Next == "" {
				t.Errorf("first page: %v items, next %q, %v", len(page.Items), page.Next, err)
			}
			page, err = h.r.ListSessions(ctx, agentalias.ViaAgent("v1"), storage.SessionQuery{Filter: regexp.MustCompile("direct")})
			if err != nil || !cmp.Equal(sessionKeys(page.Items), []string{"direct"}) {
				t.Errorf("filtered: %v, %v", sessionKeys(page.Items), err)
			}
		})
		t.Run("UpdateAndDelete", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("v1")})
			s := mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{
				Key: "s", Name: "Name", Description: "desc", Metadata: map[string]any{"a": "b"},
			})
			h.clock.Advance(time.Minute)
			got, err := h.r.UpdateSession(ctx, agentalias.ViaAgent("v1"), "s", session.Patch{
				Name: ptr("New"), Metadata: map[string]any{"c": 1.0}, Enabled: ptr(false), TTIMinutes: ptr(int64(30)),
			})
			if err != nil {
				t.Fatalf("UpdateSession: %v", err)
			}
			want := s.Clone()
			want.Name, want.Metadata, want.Enabled, want.TTIMinutes = "New", map[string]any{"c": 1.0}, false, 30
			want.ExpiresAt, want.Revision = h.clock.Now().Add(30*time.Minute), got.Revision
			if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
				t.Errorf("updated (-want +got):\n%s", diff)
			}
			read, _ := h.r.Session(ctx, agentalias.ViaAlias("support"), "s")
			if diff := cmp.Diff(got, read, equateEmpty); diff != "" {
				t.Errorf("read after update (-want +got):\n%s", diff)
			}
			// The agent and alias never change through a patch; an invalid
			// patch changes nothing.
			_, err = h.r.UpdateSession(ctx, agentalias.ViaAlias("support"), "s", session.Patch{TTIMinutes: ptr(int64(-1))})
			wantCode(t, err, agentalias.Invalid)
			after, _ := h.r.Session(ctx, agentalias.ViaAlias("support"), "s")
			if diff := cmp.Diff(read, after, equateEmpty); diff != "" {
				t.Errorf("a failed update changed the session:\n%s", diff)
			}
			// A name patched to "" shows the key.
			got, _ = h.r.UpdateSession(ctx, agentalias.ViaAlias("support"), "s", session.Patch{Name: ptr(""), Description: ptr("")})
			if got.Name != "s" || got.Description != "" {
				t.Errorf("cleared name/description: %q %q", got.Name, got.Description)
			}

			if err := h.r.DeleteSession(ctx, agentalias.ViaAlias("support"), "s"); err != nil {
				t.Fatalf("DeleteSession: %v", err)
			}
			for _, scope := range []agentalias.Scope{agentalias.ViaAlias("support"), agentalias.ViaAgent("v1")} {
				_, err := h.r.Session(ctx, scope, "s")
				wantCode(t, err, agentalias.NotFound)
			}
			wantCode(t, h.r.DeleteSession(ctx, agentalias.ViaAgent("v1"), "s"), agentalias.NotFound)
			if got := allSessions(t, h.r, agentalias.ViaAgent("v1")); len(got) != 0 {
				t.Errorf("deleted session listed: %v", sessionKeys(got))
			}
		})
		t.Run("Secrets", func(t *testing.T) {
			var seen sync.Map
			h := newHarness(t, newStore, func(o *agentalias.Options) {
				o.Agents["spy"] = agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
					seen.Store(inputText(t.Input), map[string]string(t.Session.Secrets.Clone()))
					return t.Reply("ok")
				})
			})
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("spy")})
			masked := map[string]string{"api_key": session.Mask, "token": session.Mask}
			check := func(what string, s *session.Session) {
				t.Helper()
				if diff := cmp.Diff(masked, map[string]string(s.Secrets)); diff != "" {
					t.Errorf("%s: secrets not masked (-want +got):\n%s", what, diff)
				}
			}
			s, err := h.r.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{
				Key: "s", Secrets: map[string]string{"api_key": "sk-123", "token": "t-456"},
			})
			if err != nil {
				t.Fatal(err)
			}
			check("CreateSession", s)
			for _, scope := range []agentalias.Scope{agentalias.ViaAlias("support"), agentalias.ViaAgent("spy")} {
				got, err := h.r.Session(ctx, scope, "s")
				if err != nil {
					t.Fatal(err)
				}
				check("Session", got)
				for _, got := range allSessions(t, h.r, scope) {
					check("ListSessions", got)
				}
			}
			mustSubmit(t, h.r, agentalias.ViaAlias("support"), "s", "one")
			if v, _ := seen.Load("one"); !cmp.Equal(v, map[string]string{"api_key": "sk-123", "token": "t-456"}) {
				t.Errorf("the agent saw secrets %v, want the real values", v)
			}
			got, err := h.r.UpdateSession(ctx, agentalias.ViaAlias("support"), "s", session.Patch{
				Secrets: map[string]*string{"token": nil, "extra": ptr("x-789")},
			})
			if err != nil {
				t.Fatal(err)
			}
			masked = map[string]string{"api_key": session.Mask, "extra": session.Mask}
			check("UpdateSession", got)
			check("Session after update", func() *session.Session { s, _ := h.r.Session(ctx, agentalias.ViaAlias("support"), "s"); return s }())
			mustSubmit(t, h.r, agentalias.ViaAlias("support"), "s", "two")
			if v, _ := seen.Load("two"); !cmp.Equal(v, map[string]string{"api_key": "sk-123", "extra": "x-789"}) {
				t.Errorf("after the secrets patch the agent saw %v", v)
			}
			// The store keeps the real values; what a caller mutates does
			// not reach it.
			s.Secrets["api_key"] = "changed"
			stored, _ := h.store.Session(ctx, "", "s")
			if stored.Secrets["api_key"] != "sk-123" {
				t.Errorf("stored secret = %q", stored.Secrets["api_key"])
			}
		})
		t.Run("IdleExpiry", func(t *testing.T) {
			h := newHarness(t, newStore, nil)
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("v1")})
			mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "idle", TTIMinutes: 10})
			mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "active", TTIMinutes: 10})
			mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "forever"})
			h.clock.Advance(6 * time.Minute)
			mustSubmit(t, h.r, agentalias.ViaAlias("support"), "active", "keep me alive") // activity restarts the idle clock
			h.clock.Advance(5 * time.Minute)

			for _, scope := range []agentalias.Scope{agentalias.ViaAlias("support"), agentalias.ViaAgent("v1")} {
				_, err := h.r.Session(ctx, scope, "idle")
				wantCode(t, err, agentalias.NotFound)
				if diff := cmp.Diff([]string{"active", "forever"}, sessionKeys(allSessions(t, h.r, scope))); diff != "" {
					t.Errorf("ListSessions (-want +got):\n%s", diff)
				}
			}
			_, err := h.r.Submit(ctx, agentalias.ViaAlias("support"), "idle", agentalias.Input{Messages: []event.Input{event.Text("x")}}, nil)
			wantCode(t, err, agentalias.NotFound)
			_, err = h.r.UpdateSession(ctx, agentalias.ViaAlias("support"), "idle", session.Patch{TTIMinutes: ptr(int64(0))})
			wantCode(t, err, agentalias.NotFound)
			_, err = h.r.ListEvents(ctx, agentalias.ViaAlias("support"), "idle", storage.EventQuery{})
			wantCode(t, err, agentalias.NotFound)
			// Still in the store until swept.
			if _, err := h.store.Session(ctx, "", "idle"); err != nil {
				t.Fatalf("store lost the session before the sweep: %v", err)
			}
			n, err := h.r.Sweep(ctx)
			if err != nil || n < 1 {
				t.Fatalf("Sweep = %d, %v; want at least 1", n, err)
			}
			if _, err := h.store.Session(ctx, "", "idle"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("after Sweep, store.Session = %v, want ErrNotFound", err)
			}
			if _, err := h.r.Session(ctx, agentalias.ViaAgent("v1"), "active"); err != nil {
				t.Errorf("Sweep removed an active session: %v", err)
			}
			// The key of an expired, swept session can be used again.
			mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "idle"})
		})
		t.Run("Fork", func(t *testing.T) {
			h := newHarness(t, newStore, func(o *agentalias.Options) {
				o.Agents["chatty"] = agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
					if err := t.Think("thinking about " + inputText(t.Input)); err != nil {
						return err
					}
					return t.Reply("answer to " + inputText(t.Input))
				})
			})
			mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("chatty")})
			src := mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "src"})
			mustSubmit(t, h.r, agentalias.ViaAlias("support"), src.Key, "one")
			mustSubmit(t, h.r, agentalias.ViaAlias("support"), src.Key, "two")
			art, err := h.r.UploadArtifact(ctx, agentalias.ViaAlias("support"), src.Key, agentalias.ArtifactParams{
				Filename: "notes.txt", MimeType: "text/plain", Data: []byte("notes"),
			})
			if err != nil {
				t.Fatal(err)
			}
			all := allEvents(t, h.r, agentalias.ViaAlias("support"), src.Key, false)
			if len(all) != 7 {
				t.Fatalf("source has %d events: %v", len(all), eventTypes(all))
			}
			// Hide the first thinking event: it is not copied.
			if _, err := h.r.HideEvent(ctx, agentalias.ViaAlias("support"), src.Key, all[1].ID); err != nil {
				t.Fatal(err)
			}
			visible := append([]*event.Event{all[0]}, all[2:]...)

			strip := func(evs []*event.Event) []*event.Event {
				out := make([]*event.Event, len(evs))
				for i, e := range evs {
					c := e.Clone()
					c.SessionKey = ""
					out[i] = c
				}
				return out
			}
			fork := mustCreateSession(t, h.r, agentalias.ViaAlias("support"), session.Params{Key: "fork", FromSession: &session.Fork{SessionKey: src.Key}})
			got := allEvents(t, h.r, agentalias.ViaAlias("support"), fork.Key, true)
			if diff := cmp.Diff(strip(visible), strip(got), equateEmpty); diff != "" {
				t.Errorf("forked events (-want +got):\n%s", diff)
			}
			for _, e := range got {
				if e.SessionKey != "fork" {
					t.Errorf("forked event %s has session key %q", e.ID, e.SessionKey)
				}
			}
			arts, err := h.r.ListArtifacts(ctx, agentalias.ViaAlias("support"), fork.Key, storage.ArtifactQuery{})
			if err != nil || len(arts.Items) != 1 || arts.Items[0].ID != art.ID {
				t.Fatalf("forked artifacts = %v, %v", arts.Items, err)
			}
			data, err := h.r.Artifact(ctx, agentalias.ViaAlias("support"), fork.Key, art.ID)
			if err != nil || string(data.Data) != "notes" {
				t.Errorf("forked artifact data = %v, %v", data, err)
			}
			// The fork is independent of its source.
			mustSubmit(t, h.r, agentalias.ViaAlias("support"), fork.Key, "three")
			if n := len(allEvents(t, h.r, agentalias.ViaAlias("support"), src.Key, true)); n != 7 {
				t.Errorf("the source has %d events after the fork took input, want 7", n)
			}

			// include_up_to_event_id copies up to and including that event.
			upTo := mustCreateSession(t, h.r, agentalias.ViaAgent("chatty"), session.Params{Key: "upto", FromSession: &session.Fork{SessionKey: src.Key, IncludeUpToEventID: all[2].ID}})
			got = allEvents(t, h.r, agentalias.ViaAgent("chatty"), upTo.Key, true)
			if diff := cmp.Diff([]string{all[0].ID, all[2].ID}, eventIDs(got)); diff != "" {
				t.Errorf("forked up to %s (-want +got):\n%s", all[2].ID, diff)
			}

			// A failed fork creates nothing.
			for _, tc := range []struct {
				name  string
				fork  session.Fork
				code  agentalias.Code
				field string
			}{
				{"hidden event", session.Fork{SessionKey: src.Key, IncludeUpToEventID: all[1].ID}, agentalias.Invalid, "from_session.include_up_to_event_id"},
				{"unknown event", session.Fork{SessionKey: src.Key, IncludeUpToEventID: "aev_nope"}, agentalias.Invalid, "from_session.include_up_to_event_id"},
				{"compact", session.Fork{SessionKey: src.Key, CompactUpToEventID: all[2].ID}, agentalias.Invalid, "from_session.compact_up_to_event_id"},
				{"both", session.Fork{SessionKey: src.Key, IncludeUpToEventID: all[2].ID, CompactUpToEventID: all[2].ID}, agentalias.Invalid, "from_session"},
				{"missing source", session.Fork{SessionKey: "nope"}, agentalias.NotFound, ""},
				{"wrong agent", session.Fork{SessionKey: src.Key, AgentKey: "v1"}, agentalias.NotFound, ""},
			} {
				f := tc.fork
				_, err := h.r.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{Key: "failed", FromSession: &f})
				e := wantCode(t, err, tc.code)
				if tc.field != "" {
					if _, ok := e.Fields[tc.field]; !ok {
						t.Errorf("%s: FieldErrors = %v, want %q", tc.name, e.Fields, tc.field)
					}
				}
				if _, err := h.store.Session(ctx, "", "failed"); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("%s: a failed fork left a session: %v", tc.name, err)
				}
			}
		})
	})
}

// ---------------------------------------------------------------------------
// Events and artifacts

func TestAliasRouter_Events(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		h := newHarness(t, newStore, func(o *agentalias.Options) {
			o.Agents["chatty"] = agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
				t.Think("hmm")
				return t.Reply("answer")
			})
		})
		mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("chatty")})
		scope := agentalias.ViaAlias("support")
		mustCreateSession(t, h.r, scope, session.Params{Key: "s"})
		resp := mustSubmit(t, h.r, scope, "s", "question")
		evs := allEvents(t, h.r, scope, "s", false)
		if diff := cmp.Diff(resp.Events, evs, equateEmpty); diff != "" {
			t.Fatalf("listed events differ from the response (-resp +list):\n%s", diff)
		}
		thinking := evs[1]

		hidden, err := h.r.HideEvent(ctx, scope, "s", thinking.ID)
		if err != nil || hidden.HideReason != event.HiddenManual {
			t.Fatalf("HideEvent = %+v, %v; want hide_reason manual", hidden, err)
		}
		if _, err := h.r.HideEvent(ctx, agentalias.ViaAgent("chatty"), "s", thinking.ID); err != nil {
			t.Errorf("hiding a hidden event: %v", err)
		}
		if diff := cmp.Diff([]string{evs[0].ID, evs[2].ID}, eventIDs(allEvents(t, h.r, scope, "s", false))); diff != "" {
			t.Errorf("visible events (-want +got):\n%s", diff)
		}
		withHidden := allEvents(t, h.r, scope, "s", true)
		if diff := cmp.Diff(eventIDs(evs), eventIDs(withHidden)); diff != "" {
			t.Errorf("IncludeHidden (-want +got):\n%s", diff)
		}
		if withHidden[1].HideReason != event.HiddenManual {
			t.Errorf("listed hidden event has hide_reason %q", withHidden[1].HideReason)
		}
		got, err := h.r.Event(ctx, scope, "s", thinking.ID)
		if err != nil || got.HideReason != event.HiddenManual || got.Content != "hmm" {
			t.Errorf("Event(hidden) = %+v, %v", got, err)
		}
		// Hidden events are not part of the next turn's history.
		var history []string
		h.r.RegisterAgent("history", agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
			history = eventIDs(t.History)
			return nil
		}))
		mustCreateSession(t, h.r, agentalias.ViaAgent("history"), session.Params{Key: "h", FromSession: &session.Fork{SessionKey: "s", AgentKey: "chatty"}})
		mustSubmit(t, h.r, agentalias.ViaAgent("history"), "h", "x")
		if diff := cmp.Diff([]string{evs[0].ID, evs[2].ID}, history); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}

		unhidden, err := h.r.UnhideEvent(ctx, scope, "s", thinking.ID)
		if err != nil || unhidden.HideReason != "" {
			t.Fatalf("UnhideEvent = %+v, %v", unhidden, err)
		}
		if _, err := h.r.UnhideEvent(ctx, scope, "s", thinking.ID); err != nil {
			t.Errorf("unhiding a visible event: %v", err)
		}
		if diff := cmp.Diff(evs, allEvents(t, h.r, scope, "s", false), equateEmpty); diff != "" {
			t.Errorf("after unhide (-want +got):\n%s", diff)
		}

		if err := h.r.DeleteEvent(ctx, scope, "s", thinking.ID); err != nil {
			t.Fatalf("DeleteEvent: %v", err)
		}
		if diff := cmp.Diff([]string{evs[0].ID, evs[2].ID}, eventIDs(allEvents(t, h.r, scope, "s", true))); diff != "" {
			t.Errorf("after delete (-want +got):\n%s", diff)
		}
		for name, err := range map[string]error{
			"Event":       func() error { _, err := h.r.Event(ctx, scope, "s", thinking.ID); return err }(),
			"DeleteEvent": h.r.DeleteEvent(ctx, scope, "s", thinking.ID),
			"HideEvent":   func() error { _, err := h.r.HideEvent(ctx, scope, "s", "aev_nope"); return err }(),
			"UnhideEvent": func() error { _, err := h.r.UnhideEvent(ctx, scope, "s", "aev_nope"); return err }(),
		} {
			if agentalias.ErrorCode(err) != agentalias.NotFound {
				t.Errorf("%s of a missing event: %v, want NotFound", name, err)
			}
		}
		_, err = h.r.Event(ctx, scope, "s", "aev_nope")
		if e := wantCode(t, err, agentalias.NotFound); e.ID != "aev_nope" {
			t.Errorf("Error.ID = %q", e.ID)
		}
		_, err = h.r.ListEvents(ctx, scope, "s", storage.EventQuery{Limit: -1})
		wantCode(t, err, agentalias.Invalid)
	})
}

func TestAliasRouter_Artifacts(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		ctx := context.Background()
		h := newHarness(t, newStore, func(o *agentalias.Options) {
			o.MaxArtifactBytes = 64
			o.Agents["maker"] = agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
				_, err := t.SaveArtifact(agentalias.ArtifactParams{Filename: "out.csv", MimeType: "text/csv", Data: []byte("a,b\n1,2\n")})
				return err
			})
		})
		mustCreateAlias(t, h.r, alias.Params{Key: "support", Policy: singlePolicy("maker")})
		scope := agentalias.ViaAlias("support")
		mustCreateSession(t, h.r, scope, session.Params{Key: "s"})

		data := []byte("hello, artifact")
		sum := sha256.Sum256(data)
		a, err := h.r.UploadArtifact(ctx, scope, "s", agentalias.ArtifactParams{
			Filename: "hello.txt", MimeType: "text/plain", Data: data, Description: "greeting",
		})
		if err != nil {
			t.Fatalf("UploadArtifact: %v", err)
		}
		if !regexp.MustCompile(`^art_[a-z0-9_-]+$`).MatchString(a.ID) || a.SizeBytes != int64(len(data)) ||
			a.ChecksumSHA256 != hex.EncodeToString(sum[:]) || a.Filename != "hello.txt" || !a.CreatedAt.Equal(h.clock.Now()) {
			t.Errorf("uploaded = %+v", a)
		}
		evs := allEvents(t, h.r, scope, "s", false)
		if len(evs) != 1 || evs[0].Type != event.ArtifactUpload || len(evs[0].Artifacts) != 1 ||
			evs[0].Artifacts[0] != (event.ArtifactRef{ArtifactID: a.ID, Filename: "hello.txt", MimeType: "text/plain", SizeBytes: int64(len(data))}) {
			t.Errorf("events after upload = %+v", evs)
		}
		got, err := h.r.Artifact(ctx, agentalias.ViaAgent("maker"), "s", a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Data) != string(data) || got.ChecksumSHA256 != hex.EncodeToString(sum[:]) || !got.Verify() {
			t.Errorf("Artifact = %+v", got)
		}

		// An agent's artifact, with its event in the turn.
		resp := mustSubmit(t, h.r, scope, "s", "make one")
		if diff := cmp.Diff([]event.Type{event.InputMessage, event.ArtifactUpload}, eventTypes(resp.Events)); diff != "" {
			t.Errorf("turn events (-want +got):\n%s", diff)
		}
		made := resp.Events[1].Artifacts[0].ArtifactID

		page, err := h.r.ListArtifacts(ctx, scope, "s", storage.ArtifactQuery{Order: storage.OrderAsc})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range page.Items {
			ids = append(ids, it.ID)
			if it.Data != nil {
				t.Errorf("listed artifact %s carries data", it.ID)
			}
		}
		if diff := cmp.Diff([]string{a.ID, made}, ids); diff != "" {
			t.Errorf("ListArtifacts (-want +got):\n%s", diff)
		}
		_, err = h.r.ListArtifacts(ctx, scope, "s", storage.ArtifactQuery{SortBy: "size"})
		wantCode(t, err, agentalias.Invalid)

		// Over the limit: TooLarge, nothing stored.
		_, err = h.r.UploadArtifact(ctx, scope, "s", agentalias.ArtifactParams{Filename: "big.bin", MimeType: "application/octet-stream", Data: make([]byte, 65)})
		wantCode(t, err, agentalias.TooLarge)
		if !errors.Is(err, agentalias.ErrTooLarge) {
			t.Error("errors.Is(err, ErrTooLarge) = false")
		}
		if page, _ := h.r.ListArtifacts(ctx, scope, "s", storage.ArtifactQuery{}); len(page.Items) != 2 {
			t.Errorf("a refused upload stored an artifact: %d listed", len(page.Items))
		}
		if n := len(allEvents(t, h.r, scope, "s", true)); n != 3 {
			t.Errorf("a refused upload added events: %d", n)
		}
		if _, err := h.r.UploadArtifact(ctx, scope, "s", agentalias.ArtifactParams{Filename: "max.bin", MimeType: "application/octet-stream", Data: make([]byte, 64)}); err != nil {
			t.Errorf("upload at the limit: %v", err)
		}

		// ttl_days expiry.
		short, err := h.r.UploadArtifact(ctx, scope, "s", agentalias.ArtifactParams{Filename: "tmp.txt", MimeType: "text/plain", Data: []byte("tmp"), TTLDays: 1})
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(23 * time.Hour)
		if _, err := h.r.Artifact(ctx, scope, "s", short.ID); err != nil {
			t.Errorf("before expiry: %v", err)
		}
		h.clock.Advance(time.Hour)
		_, err = h.r.Artifact(ctx, scope, "s", short.ID)
		if e := wantCode(t, err, agentalias.NotFound); e.ID != short.ID {
			t.Errorf("Error.ID = %q", e.ID)
		}
		page, _ = h.r.ListArtifacts(ctx, scope, "s", storage.ArtifactQuery{Limit: 100})
		for _, it := range page.Items {
			if it.ID == short.ID {
				t.Error("expired artifact listed")
			}
		}
		if n, err := h.r.Sweep(ctx); err != nil || n != 1 {
			t.Errorf("Sweep = %d, %v; want 1", n, err)
		}
		if _, err := h.store.Artifact(ctx, "", "s", short.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("after Sweep: %v", err)
		}

		_, err = h.r.Artifact(ctx, scope, "s", "art_nope")
		wantCode(t, err, agentalias.NotFound)
		_, err = h.r.UploadArtifact(ctx, scope, "nope", agentalias.ArtifactParams{Filename: "x", MimeType: "text/plain", Data: []byte("x")})
		wantCode(t, err, agentalias.NotFound)
	})
}

// ---------------------------------------------------------------------------
// Errors

func TestAliasRouter_Errors(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		h := newHarness(t, newStore, nil)
		_, err := h.r.Session(context.Background(), agentalias.ViaAgent("v1"), "missing")
		if !errors.Is(err, agentalias.ErrNotFound) {
			t.Errorf("errors.Is(err, agentalias.ErrNotFound) = false for %v", err)
		}
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("errors.Is(err, storage.ErrNotFound) = false for %v", err)
		}
		if errors.Is(err, agentalias.ErrConflict) || errors.Is(err, agentalias.ErrInternal) {
			t.Errorf("errors.Is matches another code for %v", err)
		}
		var e *agentalias.Error
		if !errors.As(err, &e) {
			t.Fatalf("errors.As(%v, *Error) = false", err)
		}
		if e.Code != agentalias.NotFound || e.ID != "missing" || e.Message == "" {
			t.Errorf("Error = %+v", e)
		}
		wrapped := fmt.Errorf("handler: %w", err)
		if agentalias.ErrorCode(wrapped) != agentalias.NotFound || agentalias.ErrorMessage(wrapped) != e.Message {
			t.Errorf("ErrorCode/ErrorMessage of a wrapped error: %s %q", agentalias.ErrorCode(wrapped), agentalias.ErrorMessage(wrapped))
		}
		if agentalias.ErrorCode(nil) != "" || agentalias.ErrorCode(errors.New("x")) != agentalias.Internal {
			t.Error("ErrorCode of nil or a plain error")
		}
		if agentalias.ErrorMessage(errors.New("secret detail")) == "secret detail" {
			t.Error("ErrorMessage leaks the text of an uncoded error")
		}
		if agentalias.FieldErrors(err) != nil {
			t.Error("FieldErrors of a NotFound error")
		}

		// A cancelled context fails before doing anything.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = h.r.CreateAlias(ctx, alias.Params{Key: "x", Name: "x", Policy: singlePolicy("v1")})
		if err == nil {
			t.Fatal("CreateAlias with a cancelled context succeeded")
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("errors.Is(err, context.Canceled) = false for %v", err)
		}
		if _, err := h.r.Alias(context.Background(), "x"); agentalias.ErrorCode(err) != agentalias.NotFound {
			t.Errorf("a cancelled create stored the alias: %v", err)
		}
	})
}
