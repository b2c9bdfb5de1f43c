package agentalias_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/memstore"
)

// TestAliasRouter_SessionsOfADeletedAlias checks that sessions created
// through an alias are reachable through it only while it exists, and never
// through a later alias that reuses its key; through their agent they stay
// reachable throughout.
func TestAliasRouter_SessionsOfADeletedAlias(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	noop := agentalias.AgentFunc(func(context.Context, *agentalias.Turn) error { return nil })
	r, err := agentalias.New(memstore.New(), &agentalias.Options{
		Agents: map[string]agentalias.Agent{"v1": noop},
		Now:    func() time.Time { now = now.Add(time.Second); return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pol := policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "v1"}}}}
	if _, err := r.CreateAlias(ctx, alias.Params{Key: "bot", Name: "Bot", Policy: pol}); err != nil {
		t.Fatal(err)
	}
	enabled := false
	if _, err := r.CreateSession(ctx, agentalias.ViaAlias("bot"), session.Params{Key: "old", Enabled: &enabled}); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteAlias(ctx, "bot"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Session(ctx, agentalias.ViaAlias("bot"), "old"); agentalias.ErrorCode(err) != agentalias.NotFound {
		t.Errorf("Session via the deleted alias = %v, want NotFound", err)
	}
	if _, err := r.Session(ctx, agentalias.ViaAgent("v1"), "old"); err != nil {
		t.Errorf("Session via its agent = %v, want it", err)
	}
	if _, err := r.CreateAlias(ctx, alias.Params{Key: "bot", Name: "Bot again", Policy: pol}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Session(ctx, agentalias.ViaAlias("bot"), "old"); agentalias.ErrorCode(err) != agentalias.NotFound {
		t.Errorf("Session via the re-created alias = %v, want NotFound", err)
	}
	if _, err := r.CreateSession(ctx, agentalias.ViaAlias("bot"), session.Params{Key: "new"}); err != nil {
		t.Fatal(err)
	}
	page, err := r.ListSessions(ctx, agentalias.ViaAlias("bot"), storage.SessionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].Key != "new" {
		t.Errorf("ListSessions via the re-created alias = %v, want only new", page.Items)
	}
}
