package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/storage"
)

// race runs f(0), ..., f(n-1) in n goroutines started together, and waits
// for them.
func race(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

// winners checks that exactly one of errs is nil and every other matches
// loser, and returns the index of the nil one.
func winners(t *testing.T, what string, errs []error, loser error) int {
	t.Helper()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("%s: goroutines %d and %d both succeeded", what, won, i)
		case err == nil:
			won = i
		case !errors.Is(err, loser):
			t.Errorf("%s: goroutine %d: error %v, want %v", what, i, err, loser)
		}
	}
	if won < 0 {
		t.Fatalf("%s: no goroutine succeeded", what)
	}
	return won
}

func (s *suite) concurrency(t *testing.T) {
	const n = 8
	s.test(t, "CreateAlias", func(t *testing.T, st storage.Storage) {
		for round := range 5 {
			key := fmt.Sprintf("al-%d", round)
			errs := make([]error, n)
			race(n, func(i int) {
				a := newAlias(key, fmt.Sprintf("agent-%d", i))
				_, errs[i] = st.CreateAlias(t.Context(), "", a)
			})
			won := winners(t, "CreateAlias of one key", errs, storage.ErrExists)
			want := newAlias(key, fmt.Sprintf("agent-%d", won))
			want.Revision = 1
			diff(t, "the alias", want, mustAlias(t, st, "", key))
		}
	})
	s.test(t, "CreateSession", func(t *testing.T, st storage.Storage) {
		for round := range 5 {
			key := fmt.Sprintf("s-%d", round)
			errs := make([]error, n)
			race(n, func(i int) {
				_, errs[i] = st.CreateSession(t.Context(), "", newSession(key, "", fmt.Sprintf("agent-%d", i)))
			})
			won := winners(t, "CreateSession of one key", errs, storage.ErrExists)
			if got := mustSession(t, st, "", key).AgentKey; got != fmt.Sprintf("agent-%d", won) {
				t.Errorf("session %s has agent %s, but goroutine %d won", key, got, won)
			}
		}
		diff(t, "sessions", []string{"s-0", "s-1", "s-2", "s-3", "s-4"}, sessionKeys(allSessions(t, st, "", storage.SessionQuery{})))
	})
	s.test(t, "UpdateAlias", func(t *testing.T, st storage.Storage) {
		cur := mustCreateAlias(t, st, "", newAlias("al", "agent-1"))
		for round := range 5 {
			errs := make([]error, n)
			race(n, func(i int) {
				a := cur.Clone()
				a.Name = fmt.Sprintf("writer %d", i)
				_, errs[i] = st.UpdateAlias(t.Context(), "", a)
			})
			won := winners(t, fmt.Sprintf("round %d: UpdateAlias from one revision", round), errs, storage.ErrConflict)
			got := mustAlias(t, st, "", "al")
			if want := fmt.Sprintf("writer %d", won); got.Name != want || got.Revision != cur.Revision+1 {
				t.Fatalf("alias after round %d = (Name %q, Revision %d), want (%q, %d)", round, got.Name, got.Revision, want, cur.Revision+1)
			}
			cur = got
		}
	})
	s.test(t, "UpdateSession", func(t *testing.T, st storage.Storage) {
		cur := mustCreateSession(t, st, "", newSession("s1", "", "agent-1"))
		for round := range 5 {
			errs := make([]error, n)
			race(n, func(i int) {
				sess := cur.Clone()
				sess.Name = fmt.Sprintf("writer %d", i)
				_, errs[i] = st.UpdateSession(t.Context(), "", sess)
			})
			won := winners(t, fmt.Sprintf("round %d: UpdateSession from one revision", round), errs, storage.ErrConflict)
			got := mustSession(t, st, "", "s1")
			if want := fmt.Sprintf("writer %d", won); got.Name != want || got.Revision != cur.Revision+1 {
				t.Fatalf("session after round %d = (Name %q, Revision %d), want (%q, %d)", round, got.Name, got.Revision, want, cur.Revision+1)
			}
			cur = got
		}
	})
	s.test(t, "SetPinCreate", func(t *testing.T, st storage.Storage) {
		for round := range 5 {
			key := fmt.Sprintf("user-%d", round)
			errs := make([]error, n)
			race(n, func(i int) {
				errs[i] = st.SetPin(t.Context(), "", newPin("al", key, fmt.Sprintf("agent-%d", i)), nil)
			})
			won := winners(t, "SetPin with prev nil", errs, storage.ErrConflict)
			diff(t, "the pin", newPin("al", key, fmt.Sprintf("agent-%d", won)), mustPin(t, st, "", "al", key))
		}
	})
	s.test(t, "SetPinReplace", func(t *testing.T, st storage.Storage) {
		mustSetPin(t, st, "", newPin("al", "u1", "agent-start"), nil)
		for round := range 5 {
			prev := mustPin(t, st, "", "al", "u1")
			errs := make([]error, n)
			race(n, func(i int) {
				errs[i] = st.SetPin(t.Context(), "", newPin("al", "u1", fmt.Sprintf("agent-%d-%d", round, i)), prev)
			})
			won := winners(t, "SetPin with the same prev", errs, storage.ErrConflict)
			diff(t, "the pin", newPin("al", "u1", fmt.Sprintf("agent-%d-%d", round, won)), mustPin(t, st, "", "al", "u1"))
		}
	})
	s.test(t, "AppendEvents", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		const writers, batches, perBatch = 4, 25, 2
		race(writers, func(w int) {
			for b := range batches {
				evs := make([]*event.Event, perBatch)
				for i := range evs {
					evs[i] = newEvent("s1", fmt.Sprintf("aev_w%d-%03d", w, b*perBatch+i))
				}
				if err := st.AppendEvents(t.Context(), "", "s1", evs); err != nil {
					t.Errorf("writer %d: AppendEvents: %v", w, err)
					return
				}
			}
		})
		got := idsOf(allEvents(t, st, "", "s1", storage.EventQuery{Limit: storage.MaxLimit}))
		if len(got) != writers*batches*perBatch {
			t.Errorf("listed %d events, want %d", len(got), writers*batches*perBatch)
		}
		// Each writer's events appear once each, in the order it appended
		// them, and each batch stays together.
		next := make([]int, writers)
		for i, id := range got {
			var w, seq int
			if _, err := fmt.Sscanf(id, "aev_w%d-%03d", &w, &seq); err != nil || w < 0 || w >= writers {
				t.Fatalf("unexpected event id %q", id)
			}
			if seq != next[w] {
				t.Fatalf("writer %d's event %d listed where event %d was expected: %v", w, seq, next[w], got)
			}
			next[w]++
			if seq%perBatch != 0 && (i == 0 || got[i-1] != fmt.Sprintf("aev_w%d-%03d", w, seq-1)) {
				t.Errorf("event %s is separated from the rest of its batch", id)
			}
		}
	})
	s.test(t, "CreateSessionWhileDeleteAlias", func(t *testing.T, st storage.Storage) {
		// Creators make enabled sessions that never expire through an alias
		// while a deleter tries to delete it. Either the alias goes first and
		// every create fails with ErrNotFound, or a create goes first and
		// every delete fails with ErrConflict: never an enabled session
		// through a deleted alias. A store that checks for sessions and
		// deletes the alias in two steps fails this now and then, not
		// always; a correct store always passes.
		const rounds, creators, perCreator = 20, 4, 3
		outcomes := map[bool]int{}
		for round := range rounds {
			key := fmt.Sprintf("al-%d", round)
			mustCreateAlias(t, st, "", newAlias(key, "agent-1"))
			var created, done atomic.Int32
			var deleted atomic.Bool
			race(creators+1, func(i int) {
				if i == creators { // the deleter
					// A head start for the creators that grows with the
					// round, so that both outcomes occur.
					for range round {
						_, _ = st.Alias(t.Context(), "", key)
					}
					for {
						last := done.Load() == creators
						err := st.DeleteAlias(t.Context(), "", key, at(0))
						if err == nil {
							deleted.Store(true)
							return
						}
						if !errors.Is(err, storage.ErrConflict) {
							t.Errorf("DeleteAlias: %v", err)
							return
						}
						if last {
							return
						}
					}
				}
				defer done.Add(1)
				for j := range perCreator {
					sk := fmt.Sprintf("s-%d-%d-%d", round, i, j)
					_, err := st.CreateSession(t.Context(), "", newSession(sk, key, "agent-1"))
					switch {
					case err == nil:
						created.Add(1)
					case errors.Is(err, storage.ErrNotFound):
					default:
						t.Errorf("CreateSession: %v", err)
					}
				}
			})
			listed := len(allSessions(t, st, "", storage.SessionQuery{AliasKey: key, Limit: storage.MaxLimit}))
			if listed != int(created.Load()) {
				t.Errorf("round %d: %d sessions listed for the alias, but %d creates succeeded", round, listed, created.Load())
			}
			_, aliasErr := st.Alias(t.Context(), "", key)
			switch {
			case deleted.Load() && created.Load() > 0:
				t.Errorf("round %d: the alias was deleted, yet %d enabled sessions were created through it", round, created.Load())
			case deleted.Load():
				wantErr(t, "Alias after DeleteAlias", aliasErr, storage.ErrNotFound)
			case created.Load() == 0:
				t.Errorf("round %d: no session was created, yet DeleteAlias never succeeded", round)
			default:
				must(t, "Alias", aliasErr)
				wantErr(t, "DeleteAlias with enabled sessions", st.DeleteAlias(t.Context(), "", key, at(0)), storage.ErrConflict)
			}
			outcomes[deleted.Load()]++
		}
		t.Logf("rounds where the delete won: %d; where a create won: %d", outcomes[true], outcomes[false])
	})
	s.test(t, "Mixed", func(t *testing.T, st storage.Storage) {
		// Readers list and read while writers create, update and delete;
		// under the race detector this finds unsynchronised access.
		const writers, readers, ops = 3, 3, 30
		mustCreateAlias(t, st, "", newAlias("al", "agent-1"))
		var wg sync.WaitGroup
		var stop atomic.Bool
		for r := range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					ctx := t.Context()
					p, err := st.ListSessions(ctx, "", storage.SessionQuery{AliasKey: "al", Limit: 7})
					if err != nil {
						t.Errorf("reader %d: ListSessions: %v", r, err)
						return
					}
					seen := map[string]bool{}
					for _, sess := range p.Items {
						if seen[sess.Key] {
							t.Errorf("reader %d: session %s twice in one page", r, sess.Key)
						}
						seen[sess.Key] = true
						if _, err := st.ListEvents(ctx, "", sess.Key, storage.EventQuery{}); err != nil && !errors.Is(err, storage.ErrNotFound) {
							t.Errorf("reader %d: ListEvents: %v", r, err)
						}
					}
					if _, err := st.ListAliases(ctx, "", storage.AliasQuery{}); err != nil {
						t.Errorf("reader %d: ListAliases: %v", r, err)
					}
					if _, err := st.Sweep(ctx, at(0), 10); err != nil {
						t.Errorf("reader %d: Sweep: %v", r, err)
					}
				}
			}()
		}
		race(writers, func(w int) {
			ctx := t.Context()
			for i := range ops {
				key := fmt.Sprintf("s-%d-%02d", w, i)
				sess, err := st.CreateSession(ctx, "", newSession(key, "al", "agent-1"))
				if err != nil {
					t.Errorf("writer %d: CreateSession: %v", w, err)
					return
				}
				if err := st.AppendEvents(ctx, "", key, []*event.Event{newEvent(key, "aev_1"), newEvent(key, "aev_2")}); err != nil {
					t.Errorf("writer %d: AppendEvents: %v", w, err)
				}
				sess.Name = "updated"
				if _, err := st.UpdateSession(ctx, "", sess); err != nil {
					t.Errorf("writer %d: UpdateSession: %v", w, err)
				}
				if i%3 == 0 {
					if err := st.DeleteSession(ctx, "", key); err != nil {
						t.Errorf("writer %d: DeleteSession: %v", w, err)
					}
				}
			}
		})
		stop.Store(true)
		wg.Wait()
		got := allSessions(t, st, "", storage.SessionQuery{Limit: storage.MaxLimit})
		if want := writers * (ops - ops/3); len(got) != want {
			t.Errorf("%d sessions left, want %d", len(got), want)
		}
		for _, sess := range got {
			if sess.Name != "updated" || sess.Revision != 2 {
				t.Errorf("session %s = (Name %q, Revision %d), want (\"updated\", 2)", sess.Key, sess.Name, sess.Revision)
			}
		}
	})
}
