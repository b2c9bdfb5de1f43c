package storagetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/storage"
)

// tenantPairs are pairs of distinct tenants, the default tenant included.
func tenantPairs() []struct{ name, a, b string } {
	return []struct{ name, a, b string }{
		{"Named", "a", "b"},
		{"FromDefault", "", "a"},
		{"ToDefault", "a", ""},
		{"Prefix", "acme", "acme-eu"},
		{"Unicode", "acme/eu 東京", "acme/eu"},
	}
}

func (s *suite) tenants(t *testing.T) {
	group(t, "Isolation", func(t *testing.T) {
		for _, p := range tenantPairs() {
			s.test(t, p.name, func(t *testing.T, st storage.Storage) { tenantIsolation(t, st, p.a, p.b) })
		}
	})
	group(t, "SameKeys", func(t *testing.T) {
		for _, p := range tenantPairs() {
			s.test(t, p.name, func(t *testing.T, st storage.Storage) { tenantSameKeys(t, st, p.a, p.b) })
		}
	})
	s.test(t, "NoCollisions", func(t *testing.T, st storage.Storage) {
		// A store that joins tenant and key with a separator must not mix
		// these up.
		tenants := []string{"", "t", "t-k", "t:k", "t/k", "tk", `t\k`, "t k", "t-", "-k"}
		keys := []string{"k", "x", "k-x", "kx", "t-k"}
		for _, tenant := range tenants {
			for _, key := range keys {
				a := newAlias(key, "agent-1")
				a.Name = tenant + "|" + key
				mustCreateAlias(t, st, tenant, a)
				sess := newSession(key, "", "agent-1")
				sess.Name = tenant + "|" + key
				mustCreateSession(t, st, tenant, sess)
				mustAppendIDs(t, st, tenant, key, "aev_"+key)
				mustSetPin(t, st, tenant, newPin(key, key, "agent-1"), nil)
			}
		}
		for _, tenant := range tenants {
			var names []string
			for _, a := range allAliases(t, st, tenant, storage.AliasQuery{Limit: 3}) {
				names = append(names, a.Name)
			}
			var want []string
			for _, key := range []string{"k", "k-x", "kx", "t-k", "x"} {
				want = append(want, tenant+"|"+key)
			}
			diff(t, fmt.Sprintf("aliases of tenant %q", tenant), want, names)
			names = nil
			for _, sess := range allSessions(t, st, tenant, storage.SessionQuery{Limit: 3}) {
				names = append(names, sess.Name)
			}
			want = nil
			for _, key := range keys {
				want = append(want, tenant+"|"+key)
			}
			diff(t, fmt.Sprintf("sessions of tenant %q", tenant), want, names)
			for _, key := range keys {
				diff(t, fmt.Sprintf("events of tenant %q session %q", tenant, key), []string{"aev_" + key}, idsOf(allEvents(t, st, tenant, key, storage.EventQuery{})))
				mustPin(t, st, tenant, key, key)
			}
		}
	})
	s.test(t, "ErrInvalid", func(t *testing.T, st storage.Storage) {
		ctx := t.Context()
		for _, tenant := range []string{strings.Repeat("t", storage.MaxTenantLen+1), "\xff", "ok\xfe", strings.Repeat("é", 128)} {
			_, err := st.CreateAlias(ctx, tenant, newAlias("al", "agent-1"))
			wantErr(t, fmt.Sprintf("CreateAlias in tenant %.20q", tenant), err, storage.ErrInvalid)
			_, err = st.CreateSession(ctx, tenant, newSession("s1", "", "agent-1"))
			wantErr(t, fmt.Sprintf("CreateSession in tenant %.20q", tenant), err, storage.ErrInvalid)
			err = st.SetPin(ctx, tenant, newPin("al", "u1", "agent-1"), nil)
			wantErr(t, fmt.Sprintf("SetPin in tenant %.20q", tenant), err, storage.ErrInvalid)
			_, err = st.Alias(ctx, tenant, "al")
			wantErrOneOf(t, fmt.Sprintf("Alias in tenant %.20q", tenant), err, storage.ErrInvalid, storage.ErrNotFound)
			_, err = st.Session(ctx, tenant, "s1")
			wantErrOneOf(t, fmt.Sprintf("Session in tenant %.20q", tenant), err, storage.ErrInvalid, storage.ErrNotFound)
			_, err = st.Pin(ctx, tenant, "al", "u1")
			wantErrOneOf(t, fmt.Sprintf("Pin in tenant %.20q", tenant), err, storage.ErrInvalid, storage.ErrNotFound)
		}
	})
	s.test(t, "LongestTenant", func(t *testing.T, st storage.Storage) {
		tenant := strings.Repeat("é", 127) + "x" // 255 bytes
		if len(tenant) != storage.MaxTenantLen {
			t.Fatalf("test tenant has %d bytes, want %d", len(tenant), storage.MaxTenantLen)
		}
		mustCreateAlias(t, st, tenant, newAlias("al", "agent-1"))
		mustCreateSession(t, st, tenant, newSession("s1", "al", "agent-1"))
		mustAppendIDs(t, st, tenant, "s1", "aev_1")
		mustCreateArtifact(t, st, tenant, newArtifact("s1", "art_1"))
		mustSetPin(t, st, tenant, newPin("al", "u1", "agent-1"), nil)
		diff(t, "aliases", []string{"al"}, aliasKeys(allAliases(t, st, tenant, storage.AliasQuery{})))
		diff(t, "sessions", []string{"s1"}, sessionKeys(allSessions(t, st, tenant, storage.SessionQuery{})))
		diff(t, "events", []string{"aev_1"}, idsOf(allEvents(t, st, tenant, "s1", storage.EventQuery{})))
		mustArtifact(t, st, tenant, "s1", "art_1")
		mustPin(t, st, tenant, "al", "u1")
		diff(t, "aliases of the default tenant", []string(nil), aliasKeys(allAliases(t, st, "", storage.AliasQuery{})))
	})
}

// tenantIsolation checks that what tenant a stores is invisible to tenant
// b, and that b's failed calls do not touch it.
func tenantIsolation(t *testing.T, st storage.Storage, a, b string) {
	ctx := t.Context()
	al := mustCreateAlias(t, st, a, richAlias("al"))
	sess := mustCreateSession(t, st, a, richSession("s1", "al", "gold-agent"))
	mustAppendIDs(t, st, a, "s1", "aev_1", "aev_2")
	art := newArtifact("s1", "art_1")
	mustCreateArtifact(t, st, a, art)
	pin := newPin("al", "u1", "agent-1")
	mustSetPin(t, st, a, pin, nil)

	notFound := func(what string, err error) {
		t.Helper()
		wantErr(t, what+" in the other tenant", err, storage.ErrNotFound)
	}
	_, err := st.Alias(ctx, b, "al")
	notFound("Alias", err)
	_, err = st.UpdateAlias(ctx, b, al)
	notFound("UpdateAlias", err)
	notFound("DeleteAlias", st.DeleteAlias(ctx, b, "al", at(0)))
	_, err = st.CreateSession(ctx, b, newSession("s2", "al", "agent-1"))
	notFound("CreateSession through the alias", err)
	_, err = st.Session(ctx, b, "s1")
	notFound("Session", err)
	_, err = st.UpdateSession(ctx, b, sess)
	notFound("UpdateSession", err)
	notFound("DeleteSession", st.DeleteSession(ctx, b, "s1"))
	notFound("AppendEvents", st.AppendEvents(ctx, b, "s1", []*event.Event{newEvent("s1", "aev_3")}))
	_, err = st.Event(ctx, b, "s1", "aev_1")
	notFound("Event", err)
	_, err = st.ListEvents(ctx, b, "s1", storage.EventQuery{IncludeHidden: true})
	notFound("ListEvents", err)
	notFound("DeleteEvent", st.DeleteEvent(ctx, b, "s1", "aev_1"))
	_, err = st.SetEventHidden(ctx, b, "s1", "aev_1", event.HiddenManual)
	notFound("SetEventHidden", err)
	notFound("CreateArtifact", st.CreateArtifact(ctx, b, newArtifact("s1", "art_2")))
	_, err = st.Artifact(ctx, b, "s1", "art_1")
	notFound("Artifact", err)
	_, err = st.ListArtifacts(ctx, b, "s1", storage.ArtifactQuery{})
	notFound("ListArtifacts", err)
	_, err = st.Pin(ctx, b, "al", "u1")
	notFound("Pin", err)
	wantErr(t, "SetPin replacing the other tenant's pin", st.SetPin(ctx, b, newPin("al", "u1", "agent-2"), pin), storage.ErrConflict)

	diff(t, "aliases of the other tenant", []string(nil), aliasKeys(allAliases(t, st, b, storage.AliasQuery{})))
	diff(t, "aliases of the other tenant by agent", []string(nil), aliasKeys(allAliases(t, st, b, storage.AliasQuery{AgentKey: "gold-agent"})))
	diff(t, "sessions of the other tenant", []string(nil), sessionKeys(allSessions(t, st, b, storage.SessionQuery{})))
	diff(t, "sessions of the other tenant by alias", []string(nil), sessionKeys(allSessions(t, st, b, storage.SessionQuery{AliasKey: "al"})))
	diff(t, "sessions of the other tenant by agent", []string(nil), sessionKeys(allSessions(t, st, b, storage.SessionQuery{AgentKey: "gold-agent"})))
	if n, err := st.Sweep(ctx, at(0), 100); err != nil || n != 0 {
		t.Errorf("Sweep = %d, %v; want 0, nil", n, err)
	}

	// Tenant a is as it was.
	diff(t, "Alias", al, mustAlias(t, st, a, "al"))
	diff(t, "Session", sess, mustSession(t, st, a, "s1"))
	diff(t, "events", []*event.Event{newEvent("s1", "aev_1"), newEvent("s1", "aev_2")}, allEvents(t, st, a, "s1", storage.EventQuery{IncludeHidden: true}))
	diff(t, "Artifact", art, mustArtifact(t, st, a, "s1", "art_1"))
	diff(t, "Pin", pin, mustPin(t, st, a, "al", "u1"))
	diff(t, "aliases", []string{"al"}, aliasKeys(allAliases(t, st, a, storage.AliasQuery{})))
	diff(t, "sessions", []string{"s1"}, sessionKeys(allSessions(t, st, a, storage.SessionQuery{AliasKey: "al"})))
}

// tenantSameKeys checks that tenants a and b can use the same keys and ids
// independently.
func tenantSameKeys(t *testing.T, st storage.Storage, a, b string) {
	ctx := t.Context()
	for _, tenant := range []string{a, b} {
		agent := "agent-a"
		if tenant == b {
			agent = "agent-b"
		}
		al := newAlias("al", agent)
		al.Name = "alias of " + tenant
		mustCreateAlias(t, st, tenant, al)
		sess := newSession("s1", "al", agent)
		sess.Name = "session of " + tenant
		mustCreateSession(t, st, tenant, sess)
		e := newEvent("s1", "aev_1")
		e.Content = "event of " + tenant
		mustAppend(t, st, tenant, "s1", e)
		art := newArtifact("s1", "art_1")
		art.Filename = "file of " + tenant
		mustCreateArtifact(t, st, tenant, art)
		mustSetPin(t, st, tenant, newPin("al", "u1", agent), nil)
	}
	check := func(tenant string) {
		t.Helper()
		if got := mustAlias(t, st, tenant, "al").Name; got != "alias of "+tenant {
			t.Errorf("alias name in tenant %q = %q", tenant, got)
		}
		if got := mustSession(t, st, tenant, "s1").Name; got != "session of "+tenant {
			t.Errorf("session name in tenant %q = %q", tenant, got)
		}
		if got := mustEvent(t, st, tenant, "s1", "aev_1").Content; got != "event of "+tenant {
			t.Errorf("event content in tenant %q = %q", tenant, got)
		}
		if got := mustArtifact(t, st, tenant, "s1", "art_1").Filename; got != "file of "+tenant {
			t.Errorf("artifact filename in tenant %q = %q", tenant, got)
		}
		diff(t, fmt.Sprintf("aliases of %q", tenant), []string{"al"}, aliasKeys(allAliases(t, st, tenant, storage.AliasQuery{})))
		diff(t, fmt.Sprintf("sessions of %q", tenant), []string{"s1"}, sessionKeys(allSessions(t, st, tenant, storage.SessionQuery{})))
	}
	check(a)
	check(b)
	aPin := mustPin(t, st, a, "al", "u1")
	if aPin.AgentKey == "agent-b" {
		t.Errorf("tenant %q's pin has tenant %q's agent", a, b)
	}

	// Changes in b leave a alone.
	bAlias := mustAlias(t, st, b, "al")
	bAlias.Name = "changed"
	if _, err := st.UpdateAlias(ctx, b, bAlias); err != nil {
		t.Fatalf("UpdateAlias in %q: %v", b, err)
	}
	if got := mustAlias(t, st, a, "al"); got.Revision != 1 {
		t.Errorf("alias in %q has Revision %d after an update in %q, want 1", a, got.Revision, b)
	}
	mustHide(t, st, b, "s1", "aev_1", event.HiddenManual)
	diff(t, fmt.Sprintf("visible events of %q", a), []string{"aev_1"}, idsOf(allEvents(t, st, a, "s1", storage.EventQuery{})))
	must(t, "DeleteEvent", st.DeleteEvent(ctx, b, "s1", "aev_1"))
	mustEvent(t, st, a, "s1", "aev_1")
	must(t, "DeleteSession", st.DeleteSession(ctx, b, "s1"))
	mustSession(t, st, a, "s1")
	mustArtifact(t, st, a, "s1", "art_1")
	diff(t, fmt.Sprintf("events of %q", a), []string{"aev_1"}, idsOf(allEvents(t, st, a, "s1", storage.EventQuery{})))

	// DeleteAlias in b ignores a's enabled session through an alias of the
	// same key, and removes only b's pins.
	must(t, "DeleteAlias in "+b, st.DeleteAlias(ctx, b, "al", at(0)))
	mustAlias(t, st, a, "al")
	diff(t, "Pin of "+a, aPin, mustPin(t, st, a, "al", "u1"))
	_, err := st.Pin(ctx, b, "al", "u1")
	wantErr(t, "Pin of "+b+" after DeleteAlias", err, storage.ErrNotFound)
	_, err = st.CreateSession(ctx, b, newSession("s2", "al", "agent-b"))
	wantErr(t, "CreateSession in "+b+" through its deleted alias", err, storage.ErrNotFound)
	wantErr(t, "DeleteAlias in "+a, st.DeleteAlias(ctx, a, "al", at(0)), storage.ErrConflict)
}
