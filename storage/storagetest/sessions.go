package storagetest

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

func (s *suite) sessions(t *testing.T) {
	group(t, "Create", s.sessionsCreate)
	group(t, "Get", s.sessionsGet)
	group(t, "Update", s.sessionsUpdate)
	group(t, "Delete", s.sessionsDelete)
	group(t, "List", s.sessionsList)
}

func (s *suite) sessionsCreate(t *testing.T) {
	s.test(t, "OK", func(t *testing.T, st storage.Storage) {
		mustCreateAlias(t, st, "", newAlias("al", "agent-1"))
		for _, in := range []*session.Session{
			richSession("through-alias", "al", "agent-1"),
			richSession("direct", "", "agent-2"),
			newSession("plain", "", "agent-2"),
		} {
			want := in.Clone()
			want.Revision = 1
			got, err := st.CreateSession(t.Context(), "", in)
			must(t, "CreateSession "+in.Key, err)
			diff(t, "CreateSession result", want, got)
			diff(t, "Session", want, mustSession(t, st, "", in.Key))
		}
	})
	s.test(t, "RevisionSetByStore", func(t *testing.T, st storage.Storage) {
		in := newSession("s1", "", "agent-1")
		in.Revision = 17
		if got := mustCreateSession(t, st, "", in); got.Revision != 1 {
			t.Errorf("CreateSession result has Revision %d, want 1", got.Revision)
		}
		if got := mustSession(t, st, "", "s1"); got.Revision != 1 {
			t.Errorf("Session has Revision %d, want 1", got.Revision)
		}
	})
	s.test(t, "ValidKeys", func(t *testing.T, st storage.Storage) {
		for _, key := range keysOK() {
			mustCreateAlias(t, st, "", newAlias(key, "agent-1"))
			in := newSession(key, key, key)
			want := in.Clone()
			want.Revision = 1
			diff(t, fmt.Sprintf("CreateSession(%q)", key), want, mustCreateSession(t, st, "", in))
			diff(t, fmt.Sprintf("Session(%q)", key), want, mustSession(t, st, "", key))
		}
	})
	s.test(t, "ErrExists", func(t *testing.T, st storage.Storage) {
		mustCreateAlias(t, st, "", newAlias("al", "agent-1"))
		first := mustCreateSession(t, st, "", newSession("s1", "", "agent-1"))
		for _, dup := range []*session.Session{newSession("s1", "", "agent-1"), newSession("s1", "al", "agent-2")} {
			_, err := st.CreateSession(t.Context(), "", dup)
			wantErr(t, "CreateSession of an existing key", err, storage.ErrExists)
		}
		diff(t, "Session after failed creates", first, mustSession(t, st, "", "s1"))
		diff(t, "sessions of alias al", []string(nil), sessionKeys(allSessions(t, st, "", storage.SessionQuery{AliasKey: "al"})))
	})
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		mustCreateAlias(t, st, "", newAlias("deleted", "agent-1"))
		must(t, "DeleteAlias", st.DeleteAlias(t.Context(), "", "deleted", at(0)))
		mustCreateAlias(t, st, "", newAlias("al", "agent-1"))
		for _, aliasKey := range []string{"missing", "deleted", "Al", "a"} {
			_, err := st.CreateSession(t.Context(), "", newSession("s-"+aliasKey, aliasKey, "agent-1"))
			wantErr(t, fmt.Sprintf("CreateSession through alias %q", aliasKey), err, storage.ErrNotFound)
			_, err = st.Session(t.Context(), "", "s-"+aliasKey)
			wantErr(t, "Session after the failed create", err, storage.ErrNotFound)
		}
	})
	s.test(t, "ErrInvalid", func(t *testing.T, st storage.Storage) {
		mustCreateAlias(t, st, "", newAlias("al", "agent-1"))
		for _, bad := range badKeys() {
			for _, tc := range []struct {
				field string
				s     *session.Session
			}{
				{"Key", newSession(bad, "al", "agent-1")},
				{"AgentKey", newSession("s1", "al", bad)},
				{"AliasKey", newSession("s1", bad, "agent-1")},
			} {
				if tc.field == "AliasKey" && bad == "" {
					continue // "" means no alias
				}
				_, err := st.CreateSession(t.Context(), "", tc.s)
				wantErr(t, fmt.Sprintf("CreateSession with %s %q", tc.field, bad), err, storage.ErrInvalid)
			}
		}
		if got := allSessions(t, st, "", storage.SessionQuery{}); len(got) != 0 {
			t.Errorf("ListSessions after failed creates = %v, want none", sessionKeys(got))
		}
	})
}

func (s *suite) sessionsGet(t *testing.T) {
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		_, err := st.Session(t.Context(), "", "missing")
		wantErr(t, "Session in an empty store", err, storage.ErrNotFound)
		mustCreateSession(t, st, "", newSession("s1", "", "agent-1"))
		mustCreateSession(t, st, "", newSession("s10", "", "agent-1"))
		for _, key := range []string{"S1", "s", "s100", "s1-", "missing"} {
			_, err := st.Session(t.Context(), "", key)
			wantErr(t, fmt.Sprintf("Session(%q)", key), err, storage.ErrNotFound)
		}
	})
	s.test(t, "MalformedKey", func(t *testing.T, st storage.Storage) {
		mustCreateSession(t, st, "", newSession("s1", "", "agent-1"))
		for _, key := range append(badKeys(), "s1 ") {
			_, err := st.Session(t.Context(), "", key)
			wantErrOneOf(t, fmt.Sprintf("Session(%q)", key), err, storage.ErrNotFound, storage.ErrInvalid)
		}
	})
	s.test(t, "Expired", func(t *testing.T, st storage.Storage) {
		in := newSession("s1", "", "agent-1")
		in.TTIMinutes = 1
		in.ExpiresAt = at(minute)
		want := mustCreateSession(t, st, "", in)
		diff(t, "Session of an expired session", want, mustSession(t, st, "", "s1"))
	})
}

func (s *suite) sessionsUpdate(t *testing.T) {
	s.test(t, "OK", func(t *testing.T, st storage.Storage) {
		mustCreateAlias(t, st, "", newAlias("al", "agent-1"))
		sess := mustCreateSession(t, st, "", richSession("s1", "al", "agent-1"))
		step := "review"
		sess.Name = "Renamed"
		sess.Description = ""
		sess.Metadata = map[string]any{"v": float64(2)}
		sess.CurrentStepName = &step
		sess.Enabled = false
		sess.Status = session.Running
		sess.TTIMinutes = 60
		sess.ExpiresAt = at(90 * minute)
		sess.ContextUsage = nil
		sess.Secrets = session.Secrets{"api_key": "rotated"}
		want := sess.Clone()
		want.Revision = 2
		got, err := st.UpdateSession(t.Context(), "", sess)
		must(t, "UpdateSession", err)
		diff(t, "UpdateSession result", want, got)
		diff(t, "Session after UpdateSession", want, mustSession(t, st, "", "s1"))
	})
	s.test(t, "Revision", func(t *testing.T, st storage.Storage) {
		sess := mustCreateSession(t, st, "", newSession("s1", "", "agent-1"))
		for rev := uint64(2); rev <= 5; rev++ {
			sess.Name = fmt.Sprintf("Name %d", rev)
			got := mustUpdateSession(t, st, "", sess)
			if got.Revision != rev {
				t.Fatalf("UpdateSession result has Revision %d, want %d", got.Revision, rev)
			}
			if stored := mustSession(t, st, "", "s1"); stored.Revision != rev || stored.Name != sess.Name {
				t.Fatalf("Session after update = (Revision %d, Name %q), want (%d, %q)", stored.Revision, stored.Name, rev, sess.Name)
			}
			sess = got
		}
	})
	s.test(t, "ErrConflict", func(t *testing.T, st storage.Storage) {
		sess := mustCreateSession(t, st, "", newSession("s1", "", "agent-1"))
		sess.Name = "second"
		current := mustUpdateSession(t, st, "", sess)
		for _, rev := range []uint64{0, 1, 3, 99} {
			stale := current.Clone()
			stale.Revision = rev
			stale.Name = fmt.Sprintf("stale %d", rev)
			_, err := st.UpdateSession(t.Context(), "", stale)
			wantErr(t, fmt.Sprintf("UpdateSession with Revision %d while the stored one is 2", rev), err, storage.ErrConflict)
		}
		diff(t, "Session after failed updates", current, mustSession(t, st, "", "s1"))
	})
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		sess := newSession("missing", "", "agent-1")
		sess.Revision = 1
		_, err := st.UpdateSession(t.Context(), "", sess)
		wantErr(t, "UpdateSession of a missing session", err, storage.ErrNotFound)
		if _, err := st.Session(t.Context(), "", "missing"); err == nil {
			t.Errorf("UpdateSession of a missing session created it")
		}
	})
	s.test(t, "ErrInvalid", func(t *testing.T, st storage.Storage) {
		mustCreateAlias(t, st, "", newAlias("al", "agent-1"))
		mustCreateAlias(t, st, "", newAlias("al2", "agent-1"))
		viaAlias := mustCreateSession(t, st, "", newSession("s1", "al", "agent-1"))
		direct := mustCreateSession(t, st, "", newSession("s2", "", "agent-1"))
		for _, tc := range []struct {
			name string
			orig *session.Session
			mod  func(s *session.Session)
		}{
			{"AgentKey", viaAlias, func(s *session.Session) { s.AgentKey = "agent-2" }},
			{"AliasKey", viaAlias, func(s *session.Session) { s.AliasKey = "al2" }},
			{"AliasKeyCleared", viaAlias, func(s *session.Session) { s.AliasKey = "" }},
			{"AliasKeySet", direct, func(s *session.Session) { s.AliasKey = "al" }},
			{"CreatedAt", viaAlias, func(s *session.Session) { s.CreatedAt = s.CreatedAt.Add(time.Millisecond) }},
			{"CreatedAtZero", direct, func(s *session.Session) { s.CreatedAt = time.Time{} }},
		} {
			sess := tc.orig.Clone()
			sess.Name = "changed"
			tc.mod(sess)
			_, err := st.UpdateSession(t.Context(), "", sess)
			wantErr(t, "UpdateSession changing "+tc.name, err, storage.ErrInvalid)
		}
		diff(t, "session s1 after failed updates", viaAlias, mustSession(t, st, "", "s1"))
		diff(t, "session s2 after failed updates", direct, mustSession(t, st, "", "s2"))
	})
}

func (s *suite) sessionsDelete(t *testing.T) {
	s.test(t, "OK", func(t *testing.T, st storage.Storage) {
		mustCreateAlias(t, st, "", newAlias("al", "agent-1"))
		mustSetPin(t, st, "", newPin("al", "u1", "agent-1"), nil)
		// s1 and s10 share a prefix, and the same event and artifact ids.
		for _, k := range []string{"s1", "s10", "s2"} {
			mustCreateSession(t, st, "", newSession(k, "al", "agent-1"))
			mustAppendIDs(t, st, "", k, "aev_1", "aev_2")
			mustCreateArtifact(t, st, "", newArtifact(k, "art_1"))
		}
		must(t, "DeleteSession", st.DeleteSession(t.Context(), "", "s1"))

		_, err := st.Session(t.Context(), "", "s1")
		wantErr(t, "Session after DeleteSession", err, storage.ErrNotFound)
		_, err = st.Event(t.Context(), "", "s1", "aev_1")
		wantErr(t, "Event of the deleted session", err, storage.ErrNotFound)
		_, err = st.ListEvents(t.Context(), "", "s1", storage.EventQuery{})
		wantErr(t, "ListEvents of the deleted session", err, storage.ErrNotFound)
		_, err = st.Artifact(t.Context(), "", "s1", "art_1")
		wantErr(t, "Artifact of the deleted session", err, storage.ErrNotFound)
		_, err = st.ListArtifacts(t.Context(), "", "s1", storage.ArtifactQuery{})
		wantErr(t, "ListArtifacts of the deleted session", err, storage.ErrNotFound)
		wantErr(t, "AppendEvents to the deleted session", st.AppendEvents(t.Context(), "", "s1", []*event.Event{newEvent("s1", "aev_3")}), storage.ErrNotFound)
		wantErr(t, "CreateArtifact in the deleted session", st.CreateArtifact(t.Context(), "", newArtifact("s1", "art_2")), storage.ErrNotFound)

		// Nothing else changed.
		for _, k := range []string{"s10", "s2"} {
			mustSession(t, st, "", k)
			diff(t, "events of "+k, []string{"aev_1", "aev_2"}, idsOf(allEvents(t, st, "", k, storage.EventQuery{})))
			diff(t, "artifact of "+k, newArtifact(k, "art_1"), mustArtifact(t, st, "", k, "art_1"))
		}
		diff(t, "ListSessions", []string{"s10", "s2"}, sessionKeys(allSessions(t, st, "", storage.SessionQuery{})))
		mustAlias(t, st, "", "al")
		mustPin(t, st, "", "al", "u1")

		// A new session with the same key starts empty.
		mustCreateSession(t, st, "", newSession("s1", "", "agent-2"))
		diff(t, "events of the re-created session", []string(nil), idsOf(allEvents(t, st, "", "s1", storage.EventQuery{IncludeHidden: true})))
		diff(t, "artifacts of the re-created session", []string(nil), artifactIDs(allArtifacts(t, st, "", "s1", storage.ArtifactQuery{})))
		_, err = st.Event(t.Context(), "", "s1", "aev_1")
		wantErr(t, "Event of the re-created session", err, storage.ErrNotFound)
		_, err = st.Artifact(t.Context(), "", "s1", "art_1")
		wantErr(t, "Artifact of the re-created session", err, storage.ErrNotFound)
		mustAppendIDs(t, st, "", "s1", "aev_1")
		mustCreateArtifact(t, st, "", newArtifact("s1", "art_1"))
	})
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		wantErr(t, "DeleteSession of a missing session", st.DeleteSession(t.Context(), "", "missing"), storage.ErrNotFound)
		mustCreateSession(t, st, "", newSession("s1", "", "agent-1"))
		must(t, "DeleteSession", st.DeleteSession(t.Context(), "", "s1"))
		wantErr(t, "second DeleteSession", st.DeleteSession(t.Context(), "", "s1"), storage.ErrNotFound)
	})
}

func (s *suite) sessionsList(t *testing.T) {
	s.test(t, "Empty", func(t *testing.T, st storage.Storage) {
		p, err := st.ListSessions(t.Context(), "", storage.SessionQuery{})
		must(t, "ListSessions", err)
		if len(p.Items) != 0 || p.Next != "" {
			t.Errorf("ListSessions of an empty store = %d items, Next %q; want none and \"\"", len(p.Items), p.Next)
		}
	})
	s.test(t, "Items", func(t *testing.T, st storage.Storage) {
		mustCreateAlias(t, st, "", newAlias("al", "agent-1"))
		mustCreateSession(t, st, "", richSession("s1", "al", "agent-1"))
		sess := mustCreateSession(t, st, "", newSession("s2", "", "agent-2"))
		sess.Name = "renamed"
		mustUpdateSession(t, st, "", sess)
		want := []*session.Session{mustSession(t, st, "", "s1"), mustSession(t, st, "", "s2")}
		diff(t, "ListSessions items", want, allSessions(t, st, "", storage.SessionQuery{}))
	})
	s.test(t, "Order", func(t *testing.T, st storage.Storage) {
		// Creation order, neither key order nor CreatedAt's order.
		keys := []string{"s-z", "s-m", "s-a", "S-b", "0", "zz", "a"}
		for _, k := range keys {
			mustCreateSession(t, st, "", newSession(k, "", "agent-1"))
		}
		diff(t, "ListSessions order", keys, sessionKeys(allSessions(t, st, "", storage.SessionQuery{})))
		diff(t, "ListSessions order, 3 per page", keys, sessionKeys(allSessions(t, st, "", storage.SessionQuery{Limit: 3})))
		// An update does not move a session.
		sess := mustSession(t, st, "", "s-z")
		sess.Name = "updated"
		mustUpdateSession(t, st, "", sess)
		diff(t, "ListSessions order after an update", keys, sessionKeys(allSessions(t, st, "", storage.SessionQuery{})))
	})
	s.test(t, "DefaultLimit", func(t *testing.T, st storage.Storage) {
		keys := numbered("s", storage.DefaultLimit+1)
		for _, k := range keys {
			mustCreateSession(t, st, "", newSession(k, "", "agent-1"))
		}
		p, err := st.ListSessions(t.Context(), "", storage.SessionQuery{})
		must(t, "ListSessions", err)
		diff(t, "first page with Limit 0", keys[:storage.DefaultLimit], sessionKeys(p.Items))
		if p.Next == "" {
			t.Fatalf("Next is empty though one more session exists")
		}
		p, err = st.ListSessions(t.Context(), "", storage.SessionQuery{PageKey: p.Next})
		must(t, "ListSessions page 2", err)
		diff(t, "second page", keys[storage.DefaultLimit:], sessionKeys(p.Items))
		if p.Next != "" {
			t.Errorf("Next = %q on the last page, want \"\"", p.Next)
		}
	})
	s.test(t, "MaxLimit", func(t *testing.T, st storage.Storage) {
		keys := numbered("s", storage.MaxLimit+1)
		for _, k := range keys {
			mustCreateSession(t, st, "", newSession(k, "", "agent-1"))
		}
		p, err := st.ListSessions(t.Context(), "", storage.SessionQuery{Limit: storage.MaxLimit})
		must(t, "ListSessions", err)
		diff(t, "first page with Limit 100", keys[:storage.MaxLimit], sessionKeys(p.Items))
		diff(t, "all pages", keys, sessionKeys(allSessions(t, st, "", storage.SessionQuery{Limit: storage.MaxLimit})))
	})
	s.test(t, "ErrInvalid", func(t *testing.T, st storage.Storage) {
		mustCreateSession(t, st, "", newSession("s1", "", "agent-1"))
		for _, limit := range badLimits() {
			_, err := st.ListSessions(t.Context(), "", storage.SessionQuery{Limit: limit})
			wantErr(t, fmt.Sprintf("ListSessions with Limit %d", limit), err, storage.ErrInvalid)
		}
		_, err := st.ListSessions(t.Context(), "", storage.SessionQuery{PageKey: garbagePageKey})
		wantErr(t, "ListSessions with a garbage page key", err, storage.ErrInvalid)
	})
	s.test(t, "Pagination", func(t *testing.T, st storage.Storage) {
		keys := []string{"q", "w", "e", "r", "t", "y", "u", "i", "o", "p", "a", "s", "d", "f", "g", "h", "j"}
		for _, k := range keys {
			mustCreateSession(t, st, "", newSession(k, "", "agent-1"))
		}
		for _, limit := range []int{1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 100} {
			diff(t, fmt.Sprintf("all pages with Limit %d", limit), keys, sessionKeys(allSessions(t, st, "", storage.SessionQuery{Limit: limit})))
		}
	})
	s.test(t, "Stability", func(t *testing.T, st storage.Storage) {
		keys := numbered("s", 20)
		slices.Reverse(keys) // creation order differs from key order
		ever := map[string]bool{}
		create := func(ks ...string) {
			for _, k := range ks {
				mustCreateSession(t, st, "", newSession(k, "", "agent-1"))
				ever[k] = true
			}
		}
		gone := map[string]bool{}
		del := func(ks ...string) {
			for _, k := range ks {
				must(t, "DeleteSession "+k, st.DeleteSession(t.Context(), "", k))
				gone[k] = true
			}
		}
		create(keys...)
		q := storage.SessionQuery{Limit: 5}
		p1, err := st.ListSessions(t.Context(), "", q)
		must(t, "ListSessions page 1", err)
		if len(p1.Items) != 5 || p1.Next == "" {
			t.Fatalf("page 1 = %d items, Next %q; want 5 items and more", len(p1.Items), p1.Next)
		}
		del(p1.Items[4].Key, p1.Items[1].Key, keys[12])
		create("n1", "n2", "a00")
		q.PageKey = p1.Next
		p2, err := st.ListSessions(t.Context(), "", q)
		must(t, "ListSessions page 2", err)
		if len(p2.Items) != 5 || p2.Next == "" {
			t.Fatalf("page 2 = %d items, Next %q; want 5 items and more", len(p2.Items), p2.Next)
		}
		got := append(sessionKeys(p1.Items), sessionKeys(p2.Items)...)
		del(p2.Items[4].Key, keys[17], "n1")
		create("n3", "s05x")
		got = append(got, sessionKeys(allSessions(t, st, "", storage.SessionQuery{Limit: 5, PageKey: p2.Next}))...)
		var throughout []string
		for _, k := range keys {
			if !gone[k] {
				throughout = append(throughout, k)
			}
		}
		checkStable(t, got, throughout, ever)
	})
	s.testForeignPageKeys(t, "sessions", func(ctx context.Context, st storage.Storage, pageKey string) error {
		_, err := st.ListSessions(ctx, "", storage.SessionQuery{Limit: 1, PageKey: pageKey})
		return err
	})
	group(t, "Filter", s.sessionsFilter)
}

func (s *suite) sessionsFilter(t *testing.T) {
	now := at(10 * minute)
	// fixture creates, in this order:
	//
	//	key  alias  agent    name/description        expires
	//	s01  al-1   agent-a  Session s01             never
	//	s02  al-2   agent-b  Billing question        never
	//	s03  -      agent-a  Session s03             never
	//	s04  al-1   agent-b  Session s04             never
	//	s05  al-2   agent-a  Session s05/billing     never
	//	s06  al-1   agent-a  Session s06             at now (expired)
	//	s07  al-1   agent-a  Session s07             1ms after now
	//	s08  al-11  agent-aa Session s08             never
	//	s09  al-1   agent-a  Session s09             before now (expired)
	fixture := func(t *testing.T, st storage.Storage) {
		for _, a := range []string{"al-1", "al-2", "al-11"} {
			mustCreateAlias(t, st, "", newAlias(a, "agent-a"))
		}
		for _, r := range []struct {
			key, alias, agent, name, desc string
			expires                       time.Time
		}{
			{"s01", "al-1", "agent-a", "", "", time.Time{}},
			{"s02", "al-2", "agent-b", "Billing question", "", time.Time{}},
			{"s03", "", "agent-a", "", "", time.Time{}},
			{"s04", "al-1", "agent-b", "", "", time.Time{}},
			{"s05", "al-2", "agent-a", "", "about billing", time.Time{}},
			{"s06", "al-1", "agent-a", "", "", now},
			{"s07", "al-1", "agent-a", "", "", now.Add(time.Millisecond)},
			{"s08", "al-11", "agent-aa", "", "", time.Time{}},
			{"s09", "al-1", "agent-a", "", "", now.Add(-time.Minute)},
		} {
			sess := newSession(r.key, r.alias, r.agent)
			if r.name != "" {
				sess.Name = r.name
			}
			sess.Description = r.desc
			sess.ExpiresAt = r.expires
			mustCreateSession(t, st, "", sess)
		}
	}
	for _, tc := range []struct {
		name string
		q    storage.SessionQuery
		want []string
	}{
		{"None", storage.SessionQuery{}, []string{"s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09"}},
		{"AliasKey", storage.SessionQuery{AliasKey: "al-1"}, []string{"s01", "s04", "s06", "s07", "s09"}},
		{"AliasKeyOther", storage.SessionQuery{AliasKey: "al-2"}, []string{"s02", "s05"}},
		{"AliasKeyMissing", storage.SessionQuery{AliasKey: "al-3"}, nil},
		{"AgentKey", storage.SessionQuery{AgentKey: "agent-a"}, []string{"s01", "s03", "s05", "s06", "s07", "s09"}},
		{"AgentKeyOther", storage.SessionQuery{AgentKey: "agent-b"}, []string{"s02", "s04"}},
		{"AliasKeyAndAgentKey", storage.SessionQuery{AliasKey: "al-1", AgentKey: "agent-a"}, []string{"s01", "s06", "s07", "s09"}},
		{"AliasKeyAndAgentKeyDisjoint", storage.SessionQuery{AliasKey: "al-2", AgentKey: "agent-aa"}, nil},
		{"Regexp", storage.SessionQuery{Filter: regexp.MustCompile("(?i)billing")}, []string{"s02", "s05"}},
		{"RegexpName", storage.SessionQuery{Filter: regexp.MustCompile("^Session s0[1-4]$")}, []string{"s01", "s03", "s04"}},
		{"RegexpAndAliasKey", storage.SessionQuery{Filter: regexp.MustCompile("(?i)billing"), AliasKey: "al-2", AgentKey: "agent-b"}, []string{"s02"}},
		{"Now", storage.SessionQuery{Now: now}, []string{"s01", "s02", "s03", "s04", "s05", "s07", "s08"}},
		{"NowLater", storage.SessionQuery{Now: now.Add(time.Millisecond)}, []string{"s01", "s02", "s03", "s04", "s05", "s08"}},
		{"NowEarlier", storage.SessionQuery{Now: now.Add(-2 * time.Minute)}, []string{"s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09"}},
		{"NowAndAliasKey", storage.SessionQuery{Now: now, AliasKey: "al-1"}, []string{"s01", "s04", "s07"}},
		{"All", storage.SessionQuery{Now: now, AliasKey: "al-1", AgentKey: "agent-a", Filter: regexp.MustCompile("s0[1-7]")}, []string{"s01", "s07"}},
	} {
		s.test(t, tc.name, func(t *testing.T, st storage.Storage) {
			fixture(t, st)
			for _, limit := range []int{0, 1, 2, 3} {
				q := tc.q
				q.Limit = limit
				diff(t, fmt.Sprintf("sessions with Limit %d", limit), tc.want, sessionKeys(allSessions(t, st, "", q)))
			}
		})
	}
	s.test(t, "AfterUpdate", func(t *testing.T, st storage.Storage) {
		fixture(t, st)
		for _, k := range []string{"s01", "s06"} {
			sess := mustSession(t, st, "", k)
			sess.Name = "Billing " + k
			if k == "s01" {
				sess.ExpiresAt = now
			} else {
				sess.ExpiresAt = time.Time{}
			}
			mustUpdateSession(t, st, "", sess)
		}
		diff(t, "Filter billing", []string{"s01", "s02", "s05", "s06"}, sessionKeys(allSessions(t, st, "", storage.SessionQuery{Filter: regexp.MustCompile("(?i)billing")})))
		diff(t, "Now and AliasKey", []string{"s04", "s06", "s07"}, sessionKeys(allSessions(t, st, "", storage.SessionQuery{Now: now, AliasKey: "al-1"})))
	})
	s.test(t, "NextEmptyWhenNothingMoreMatches", func(t *testing.T, st storage.Storage) {
		fixture(t, st)
		for _, tc := range []struct {
			name string
			q    storage.SessionQuery
			want []string
		}{
			{"AliasKey", storage.SessionQuery{AliasKey: "al-2", Limit: 2}, []string{"s02", "s05"}},
			{"AgentKey", storage.SessionQuery{AgentKey: "agent-b", Limit: 2}, []string{"s02", "s04"}},
			{"Now", storage.SessionQuery{AliasKey: "al-1", Now: now, Limit: 3}, []string{"s01", "s04", "s07"}},
			{"Regexp", storage.SessionQuery{Filter: regexp.MustCompile("billing"), Limit: 1}, []string{"s05"}},
		} {
			p, err := st.ListSessions(t.Context(), "", tc.q)
			must(t, "ListSessions", err)
			diff(t, tc.name, tc.want, sessionKeys(p.Items))
			if p.Next != "" {
				t.Errorf("%s: Next = %q, want \"\": no session after the page matches", tc.name, p.Next)
			}
		}
	})
}
