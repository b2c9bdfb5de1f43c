package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

func (s *suite) sweep(t *testing.T) {
	now := at(60 * minute)
	ms := func(d int) time.Time { return now.Add(time.Duration(d) * time.Millisecond) }
	never := time.Time{}

	// fixture stores in tenant the items below and returns how many of them
	// are expired at now: 2 sessions, 3 artifacts of live sessions, 2 pins.
	fixture := func(t *testing.T, st storage.Storage, tenant string) int {
		t.Helper()
		sess := func(key string, expires time.Time, mod func(*session.Session)) {
			s := newSession(key, "", "agent-1")
			s.ExpiresAt = expires
			if mod != nil {
				mod(s)
			}
			mustCreateSession(t, st, tenant, s)
		}
		art := func(sessionKey, id string, expires time.Time) {
			a := newArtifact(sessionKey, id)
			a.ExpiresAt = expires
			mustCreateArtifact(t, st, tenant, a)
		}
		pin := func(key string, expires time.Time) {
			p := newPin("al", key, "agent-1")
			p.ExpiresAt = expires
			mustSetPin(t, st, tenant, p, nil)
		}
		sess("s-exp", ms(-1), nil)
		mustAppendIDs(t, st, tenant, "s-exp", "aev_1", "aev_2")
		art("s-exp", "art_1", never)
		sess("s-now", now, nil)
		mustAppendIDs(t, st, tenant, "s-now", "aev_1")
		sess("s-live", ms(1), nil)
		mustAppendIDs(t, st, tenant, "s-live", "aev_1")
		art("s-live", "art_exp", ms(-minute))
		art("s-live", "art_now", now)
		art("s-live", "art_live", ms(1))
		art("s-live", "art_never", never)
		sess("s-forever", never, nil)
		art("s-forever", "art_exp", ms(-1))
		sess("s-disabled", ms(1), func(s *session.Session) { s.Enabled = false })
		pin("p-now", now)
		pin("p-old", ms(-30*minute))
		pin("p-live", ms(1))
		pin("p-never", never)
		return 7
	}
	// checkSwept checks that exactly the expired items of fixture are gone.
	checkSwept := func(t *testing.T, st storage.Storage, tenant string) {
		t.Helper()
		ctx := t.Context()
		for _, k := range []string{"s-exp", "s-now"} {
			_, err := st.Session(ctx, tenant, k)
			wantErr(t, "Session "+k, err, storage.ErrNotFound)
			_, err = st.Event(ctx, tenant, k, "aev_1")
			wantErr(t, "Event of "+k, err, storage.ErrNotFound)
		}
		_, err := st.Artifact(ctx, tenant, "s-exp", "art_1")
		wantErr(t, "Artifact of s-exp", err, storage.ErrNotFound)
		for _, k := range []string{"s-live", "s-forever", "s-disabled"} {
			mustSession(t, st, tenant, k)
		}
		diff(t, "events of s-live", []string{"aev_1"}, idsOf(allEvents(t, st, tenant, "s-live", storage.EventQuery{})))
		asc := storage.ArtifactQuery{Order: storage.OrderAsc}
		diff(t, "artifacts of s-live", []string{"art_live", "art_never"}, artifactIDs(allArtifacts(t, st, tenant, "s-live", asc)))
		diff(t, "artifacts of s-forever", []string(nil), artifactIDs(allArtifacts(t, st, tenant, "s-forever", asc)))
		for _, k := range []string{"p-now", "p-old"} {
			_, err := st.Pin(ctx, tenant, "al", k)
			wantErr(t, "Pin "+k, err, storage.ErrNotFound)
		}
		for _, k := range []string{"p-live", "p-never"} {
			mustPin(t, st, tenant, "al", k)
		}
		// A session re-created with a swept key starts empty.
		mustCreateSession(t, st, tenant, newSession("s-exp", "", "agent-1"))
		diff(t, "events of the re-created session", []string(nil), idsOf(allEvents(t, st, tenant, "s-exp", storage.EventQuery{IncludeHidden: true})))
		diff(t, "artifacts of the re-created session", []string(nil), artifactIDs(allArtifacts(t, st, tenant, "s-exp", storage.ArtifactQuery{})))
	}
	sweep := func(t *testing.T, st storage.Storage, limit int) int {
		t.Helper()
		n, err := st.Sweep(t.Context(), now, limit)
		must(t, fmt.Sprintf("Sweep(limit %d)", limit), err)
		return n
	}

	s.test(t, "ErrInvalid", func(t *testing.T, st storage.Storage) {
		fixture(t, st, "")
		for _, limit := range []int{0, -1} {
			n, err := st.Sweep(t.Context(), now, limit)
			wantErr(t, fmt.Sprintf("Sweep(limit %d)", limit), err, storage.ErrInvalid)
			if n != 0 {
				t.Errorf("Sweep(limit %d) = %d, want 0", limit, n)
			}
		}
		mustSession(t, st, "", "s-exp") // nothing was swept
	})
	s.test(t, "Empty", func(t *testing.T, st storage.Storage) {
		if n := sweep(t, st, 100); n != 0 {
			t.Errorf("Sweep of an empty store = %d, want 0", n)
		}
	})
	s.test(t, "OK", func(t *testing.T, st storage.Storage) {
		want := fixture(t, st, "") + fixture(t, st, "t2")
		if n := sweep(t, st, 1000); n != want {
			t.Errorf("Sweep = %d, want %d", n, want)
		}
		if n := sweep(t, st, 1000); n != 0 {
			t.Errorf("second Sweep = %d, want 0", n)
		}
		checkSwept(t, st, "")
		checkSwept(t, st, "t2")
	})
	s.test(t, "Limit", func(t *testing.T, st storage.Storage) {
		remaining := fixture(t, st, "") + fixture(t, st, "t2")
		const limit = 4
		for call := 1; ; call++ {
			if call > remaining+5 {
				t.Fatalf("Sweep did not finish after %d calls", call)
			}
			n := sweep(t, st, limit)
			if want := min(limit, remaining); n != want {
				t.Fatalf("Sweep call %d = %d with %d expired items left, want %d", call, n, remaining, want)
			}
			remaining -= n
			if n < limit {
				break
			}
		}
		if n := sweep(t, st, limit); n != 0 {
			t.Errorf("Sweep after it returned fewer than limit = %d, want 0", n)
		}
		checkSwept(t, st, "")
		checkSwept(t, st, "t2")
	})
	s.test(t, "LimitOne", func(t *testing.T, st storage.Storage) {
		remaining := fixture(t, st, "a")
		for remaining > 0 {
			if n := sweep(t, st, 1); n != 1 {
				t.Fatalf("Sweep(limit 1) = %d with %d expired items left, want 1", n, remaining)
			}
			remaining--
		}
		if n := sweep(t, st, 1); n != 0 {
			t.Errorf("Sweep(limit 1) with nothing expired = %d, want 0", n)
		}
		checkSwept(t, st, "a")
	})
	s.test(t, "NothingExpired", func(t *testing.T, st storage.Storage) {
		fixture(t, st, "")
		before := allSessions(t, st, "", storage.SessionQuery{})
		n, err := st.Sweep(t.Context(), at(0), 100) // before anything expires
		must(t, "Sweep", err)
		if n != 0 {
			t.Errorf("Sweep before anything expired = %d, want 0", n)
		}
		diff(t, "sessions after Sweep", before, allSessions(t, st, "", storage.SessionQuery{}))
		diff(t, "artifacts of s-live", 4, len(allArtifacts(t, st, "", "s-live", storage.ArtifactQuery{})))
		for _, k := range []string{"p-now", "p-old", "p-live", "p-never"} {
			mustPin(t, st, "", "al", k)
		}
	})
}
