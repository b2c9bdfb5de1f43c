package agentalias_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// tenantState is everything a tenant view can read, for before/after
// comparisons.
type tenantState struct {
	Aliases   []*alias.Alias
	Sessions  []*session.Session
	Events    map[string][]*event.Event
	Artifacts map[string][]*artifact.Artifact
	Pending   map[string][]event.PendingCall
}

func snapshot(t *testing.T, r *agentalias.AliasRouter) tenantState {
	t.Helper()
	ctx := context.Background()
	st := tenantState{Events: map[string][]*event.Event{}, Artifacts: map[string][]*artifact.Artifact{}, Pending: map[string][]event.PendingCall{}}
	page, err := r.ListAliases(ctx, storage.AliasQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	st.Aliases = page.Items
	for _, agent := range r.Agents() {
		st.Sessions = append(st.Sessions, allSessions(t, r, agentalias.ViaAgent(agent))...)
	}
	sort.Slice(st.Sessions, func(i, j int) bool { return st.Sessions[i].Key < st.Sessions[j].Key })
	for _, s := range st.Sessions {
		scope := agentalias.ViaAgent(s.AgentKey)
		st.Events[s.Key] = allEvents(t, r, scope, s.Key, true)
		arts, err := r.ListArtifacts(ctx, scope, s.Key, storage.ArtifactQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		st.Artifacts[s.Key] = arts.Items
		calls, err := r.OutstandingToolCalls(ctx, scope, s.Key)
		if err != nil {
			t.Fatal(err)
		}
		st.Pending[s.Key] = calls
	}
	return st
}

func TestAliasRouter_Tenants(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, newStore storeFactory) {
		for _, pair := range []struct{ a, b string }{{"a", "b"}, {"", "a"}, {"a", ""}} {
			t.Run(fmt.Sprintf("%q/%q", pair.a, pair.b), func(t *testing.T) {
				testTenantPair(t, newStore, pair.a, pair.b)
			})
		}
	})
}

// testTenantPair fills tenant a, then checks that tenant b sees none of it,
// and that b can use the same keys without touching a.
func testTenantPair(t *testing.T, newStore storeFactory, ta, tb string) {
	ctx := context.Background()
	b := newBlocker()
	tools := agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
		if t.Input.Type == agentalias.InputToolOutput {
			return t.Reply("thanks")
		}
		if inputText(t.Input) == "block" {
			return b.Run(ctx, t)
		}
		id := event.NewID("call_" + t.Session.Key)
		if _, err := t.Emit(&event.Event{ID: id, Type: event.ToolInput, ToolCallID: id, ToolConfigurationName: "web", ToolName: "search"}); err != nil {
			return err
		}
		if err := t.Reply("need a search"); err != nil {
			return err
		}
		return t.AwaitClientTools(event.PendingCall{EventID: id, ToolName: "search"})
	})
	h := newHarness(t, newStore, func(o *agentalias.Options) {
		o.Agents = map[string]agentalias.Agent{"v1": tools, "v2": tools}
	})
	if got := h.r.Tenant("").TenantName(); got != "" || h.r.TenantName() != "" {
		t.Fatalf("default tenant name = %q", got)
	}
	A, B := h.r.Tenant(ta), h.r.Tenant(tb)
	if A.TenantName() != ta || B.TenantName() != tb {
		t.Fatalf("tenant names %q %q", A.TenantName(), B.TenantName())
	}

	// Tenant a: a sticky weighted alias, sessions through it and directly,
	// events (one hidden), an artifact, an outstanding tool call and a pin.
	doc := weightedPolicy("get('$.session.key')", 1, 1)
	st := &policy.Stickiness{Key: "get('$.session.metadata.user_id')", TTLMinutes: 60}
	mustCreateAlias(t, A, alias.Params{Key: "support", Name: "Support A", Policy: doc, Stickiness: st})
	s1 := mustCreateSession(t, A, agentalias.ViaAlias("support"), session.Params{Key: "s1", Metadata: map[string]any{"user_id": "u1"}})
	mustCreateSession(t, A, agentalias.ViaAgent("v1"), session.Params{Key: "s2"})
	resp := mustSubmit(t, A, agentalias.ViaAlias("support"), "s1", "hello")
	evID := resp.Events[0].ID
	if _, err := A.HideEvent(ctx, agentalias.ViaAlias("support"), "s1", resp.Events[2].ID); err != nil {
		t.Fatal(err)
	}
	art, err := A.UploadArtifact(ctx, agentalias.ViaAlias("support"), "s1", agentalias.ArtifactParams{Filename: "a.txt", MimeType: "text/plain", Data: []byte("tenant a")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Pin(ctx, ta, "support", "u1"); err != nil {
		t.Fatalf("tenant a has no pin: %v", err)
	}
	before := snapshot(t, A)

	// Tenant b sees none of it: every method answers NotFound, never
	// another code, through the alias and through the agent.
	for _, scope := range []agentalias.Scope{agentalias.ViaAlias("support"), agentalias.ViaAgent(s1.AgentKey)} {
		for name, call := range everyMethod(B, "support", scope, "s1", evID, art.ID) {
			switch name {
			case "CreateAlias", "ListAliases", "Sweep":
				continue // not about a's resources
			case "ListSessions":
				if scope.AgentKey() != "" {
					continue // checked below: an empty list
				}
			}
			err := call(ctx)
			if code := agentalias.ErrorCode(err); code != agentalias.NotFound {
				t.Errorf("tenant %q, %s via %+v on tenant %q's resources: %v (code %q), want NotFound", tb, name, scope, ta, err, code)
			}
		}
	}
	// Tenant b's lists never show a's resources.
	if page, err := B.ListAliases(ctx, storage.AliasQuery{}); err != nil || len(page.Items) != 0 {
		t.Errorf("tenant %q ListAliases = %v, %v", tb, page.Items, err)
	}
	if page, err := B.ListAliases(ctx, storage.AliasQuery{AgentKey: "v1", Filter: regexp.MustCompile("Support")}); err != nil || len(page.Items) != 0 {
		t.Errorf("tenant %q ListAliases(filtered) = %v, %v", tb, page.Items, err)
	}
	for _, agent := range []string{"v1", "v2"} {
		if got := allSessions(t, B, agentalias.ViaAgent(agent)); len(got) != 0 {
			t.Errorf("tenant %q lists sessions of %s: %v", tb, agent, sessionKeys(got))
		}
	}
	if diff := cmp.Diff(before, snapshot(t, A), equateEmpty); diff != "" {
		t.Fatalf("tenant %q's calls changed tenant %q (-before +after):\n%s", tb, ta, diff)
	}

	// Tenant b uses the same keys independently.
	aliasB := mustCreateAlias(t, B, alias.Params{Key: "support", Name: "Support B", Policy: doc, Stickiness: st})
	if aliasB.Revision != 1 {
		t.Errorf("tenant %q's alias revision = %d, want 1 (a new alias)", tb, aliasB.Revision)
	}
	// u1 is pinned in a; in b, a session of u1 whose key the weights send
	// to the other agent goes there: pins are per tenant.
	other := map[string]string{"v1": "v2", "v2": "v1"}[s1.AgentKey]
	keyB := findKey(t, "b", func(k string) bool { return decide(t, doc, "support", nil, k, nil) == other })
	sB := mustCreateSession(t, B, agentalias.ViaAlias("support"), session.Params{Key: keyB, Metadata: map[string]any{"user_id": "u1"}})
	if sB.AgentKey != other {
		t.Errorf("tenant %q followed tenant %q's pin: agent %s, want %s", tb, ta, sB.AgentKey, other)
	}
	s1B := mustCreateSession(t, B, agentalias.ViaAgent("v2"), session.Params{Key: "s1"})
	mustCreateSession(t, B, agentalias.ViaAgent("v2"), session.Params{Key: "s2"})
	if _, err := B.UpdateAlias(ctx, "support", alias.Patch{Name: ptr("Renamed B")}); err != nil {
		t.Fatal(err)
	}
	if _, err := B.ReplacePolicy(ctx, "support", singlePolicy("v2"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := B.UpdateSession(ctx, agentalias.ViaAgent("v2"), "s1", session.Patch{Name: ptr("b's s1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := B.UploadArtifact(ctx, agentalias.ViaAgent("v2"), "s1", agentalias.ArtifactParams{Filename: "b.txt", MimeType: "text/plain", Data: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	// A turn running on a's s1 does not block b's s1.
	done := submitAsync(ctx, A, agentalias.ViaAlias("support"), "s1", text("block"), nil)
	waitFor(t, b.started, "tenant a's turn")
	respB, err := B.Submit(ctx, agentalias.ViaAgent("v2"), "s1", text("hi"), nil)
	if err != nil {
		t.Errorf("tenant %q's s1 blocked by tenant %q's running turn: %v", tb, ta, err)
	}
	// An interrupt in b does not reach a's turn.
	if _, err := B.Submit(ctx, agentalias.ViaAgent("v2"), "s1", agentalias.Input{Type: agentalias.InputInterrupt}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		t.Fatalf("tenant %q's interrupt ended tenant %q's turn", tb, ta)
	default:
	}
	if _, err := A.Submit(ctx, agentalias.ViaAlias("support"), "s1", agentalias.Input{Type: agentalias.InputInterrupt}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, done, "tenant a's interrupted turn")
	// b answers its own tool call; a's stays outstanding.
	callB := respB.Events[1].ID
	if _, err := B.Submit(ctx, agentalias.ViaAgent("v2"), "s1", agentalias.Input{Type: agentalias.InputToolOutput,
		ToolOutputs: []agentalias.ToolOutput{{Type: "success", EventID: callB, Output: map[string]any{"ok": true}}}}, nil); err != nil {
		t.Fatal(err)
	}
	if calls, _ := A.OutstandingToolCalls(ctx, agentalias.ViaAlias("support"), "s1"); len(calls) != 1 {
		t.Errorf("tenant %q's outstanding calls = %v", ta, calls)
	}
	// b deletes everything of its own.
	for _, s := range []*session.Session{sB, s1B} {
		if err := B.DeleteSession(ctx, agentalias.ViaAgent(s.AgentKey), s.Key); err != nil {
			t.Fatal(err)
		}
	}
	if err := B.DeleteAlias(ctx, "support"); err != nil {
		t.Fatalf("tenant %q DeleteAlias: %v", tb, err)
	}

	// a is as it was, but for the turn it ran meanwhile.
	after := snapshot(t, A)
	if n := len(after.Events["s1"]) - len(before.Events["s1"]); n != 2 {
		t.Errorf("tenant %q's s1 gained %d events, want 2 (its own blocked turn)", ta, n)
	}
	after.Events["s1"] = after.Events["s1"][:len(before.Events["s1"])]
	for _, s := range append(after.Sessions, before.Sessions...) {
		s.Status, s.Revision = "", 0 // the blocked turn changed these
	}
	if diff := cmp.Diff(before, after, equateEmpty); diff != "" {
		t.Errorf("tenant %q changed tenant %q (-before +after):\n%s", tb, ta, diff)
	}
	if _, err := h.store.Pin(ctx, ta, "support", "u1"); err != nil {
		t.Errorf("tenant %q's pin is gone: %v", ta, err)
	}
	if _, err := h.store.Pin(ctx, tb, "support", "u1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("tenant %q's pin outlived its alias: %v", tb, err)
	}
	if got, err := A.Alias(ctx, "support"); err != nil || got.Name != "Support A" {
		t.Errorf("tenant %q's alias = %+v, %v", ta, got, err)
	}
}
