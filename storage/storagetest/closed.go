package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// call is one call of a Storage method, for tables that try every method.
type call struct {
	name string
	do   func(ctx context.Context, st storage.Storage) error
}

// populate stores an alias "al", a disabled session "s1" through it with
// the event aev_1 and the artifact art_1, and a pin (al, u1), in the default
// tenant.
func populate(t *testing.T, st storage.Storage) {
	t.Helper()
	mustCreateAlias(t, st, "", newAlias("al", "agent-1"))
	mustCreateSession(t, st, "", populatedSession())
	mustAppendIDs(t, st, "", "s1", "aev_1")
	mustCreateArtifact(t, st, "", newArtifact("s1", "art_1"))
	mustSetPin(t, st, "", newPin("al", "u1", "agent-1"), nil)
}

// calls returns one call of every Storage method but Close, each of which
// would succeed on a store that populate filled.
func calls() []call {
	return []call{
		{"CreateAlias", func(ctx context.Context, st storage.Storage) error {
			_, err := st.CreateAlias(ctx, "", newAlias("al2", "agent-1"))
			return err
		}},
		{"Alias", func(ctx context.Context, st storage.Storage) error {
			_, err := st.Alias(ctx, "", "al")
			return err
		}},
		{"ListAliases", func(ctx context.Context, st storage.Storage) error {
			_, err := st.ListAliases(ctx, "", storage.AliasQuery{})
			return err
		}},
		{"UpdateAlias", func(ctx context.Context, st storage.Storage) error {
			a := newAlias("al", "agent-1")
			a.Revision = 1
			_, err := st.UpdateAlias(ctx, "", a)
			return err
		}},
		{"DeleteAlias", func(ctx context.Context, st storage.Storage) error {
			return st.DeleteAlias(ctx, "", "al", at(0))
		}},
		{"CreateSession", func(ctx context.Context, st storage.Storage) error {
			_, err := st.CreateSession(ctx, "", newSession("s2", "al", "agent-1"))
			return err
		}},
		{"Session", func(ctx context.Context, st storage.Storage) error {
			_, err := st.Session(ctx, "", "s1")
			return err
		}},
		{"ListSessions", func(ctx context.Context, st storage.Storage) error {
			_, err := st.ListSessions(ctx, "", storage.SessionQuery{})
			return err
		}},
		{"UpdateSession", func(ctx context.Context, st storage.Storage) error {
			sess := populatedSession()
			sess.Revision = 1
			_, err := st.UpdateSession(ctx, "", sess)
			return err
		}},
		{"DeleteSession", func(ctx context.Context, st storage.Storage) error {
			return st.DeleteSession(ctx, "", "s1")
		}},
		{"AppendEvents", func(ctx context.Context, st storage.Storage) error {
			return st.AppendEvents(ctx, "", "s1", []*event.Event{newEvent("s1", "aev_2")})
		}},
		{"Event", func(ctx context.Context, st storage.Storage) error {
			_, err := st.Event(ctx, "", "s1", "aev_1")
			return err
		}},
		{"ListEvents", func(ctx context.Context, st storage.Storage) error {
			_, err := st.ListEvents(ctx, "", "s1", storage.EventQuery{})
			return err
		}},
		{"DeleteEvent", func(ctx context.Context, st storage.Storage) error {
			return st.DeleteEvent(ctx, "", "s1", "aev_1")
		}},
		{"SetEventHidden", func(ctx context.Context, st storage.Storage) error {
			_, err := st.SetEventHidden(ctx, "", "s1", "aev_1", event.HiddenManual)
			return err
		}},
		{"CreateArtifact", func(ctx context.Context, st storage.Storage) error {
			return st.CreateArtifact(ctx, "", newArtifact("s1", "art_2"))
		}},
		{"Artifact", func(ctx context.Context, st storage.Storage) error {
			_, err := st.Artifact(ctx, "", "s1", "art_1")
			return err
		}},
		{"ListArtifacts", func(ctx context.Context, st storage.Storage) error {
			_, err := st.ListArtifacts(ctx, "", "s1", storage.ArtifactQuery{})
			return err
		}},
		{"Pin", func(ctx context.Context, st storage.Storage) error {
			_, err := st.Pin(ctx, "", "al", "u1")
			return err
		}},
		{"SetPin", func(ctx context.Context, st storage.Storage) error {
			return st.SetPin(ctx, "", newPin("al", "u2", "agent-1"), nil)
		}},
		{"Sweep", func(ctx context.Context, st storage.Storage) error {
			_, err := st.Sweep(ctx, at(0), 10)
			return err
		}},
	}
}

func (s *suite) closed(t *testing.T) {
	group(t, "Methods", func(t *testing.T) {
		for _, c := range calls() {
			s.test(t, c.name, func(t *testing.T, st storage.Storage) {
				populate(t, st)
				if err := st.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				wantErr(t, c.name+" after Close", c.do(t.Context(), st), storage.ErrClosed)
			})
		}
	})
	s.test(t, "BeforeArguments", func(t *testing.T, st storage.Storage) {
		// ErrClosed wins over malformed arguments.
		populate(t, st)
		if err := st.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		ctx := t.Context()
		_, err := st.CreateAlias(ctx, "", newAlias("bad key!", "agent-1"))
		wantErr(t, "CreateAlias(bad key) after Close", err, storage.ErrClosed)
		_, err = st.ListAliases(ctx, "", storage.AliasQuery{Limit: -1})
		wantErr(t, "ListAliases(limit -1) after Close", err, storage.ErrClosed)
		_, err = st.ListSessions(ctx, "", storage.SessionQuery{PageKey: "garbage"})
		wantErr(t, "ListSessions(bad page key) after Close", err, storage.ErrClosed)
		_, err = st.ListArtifacts(ctx, "", "s1", storage.ArtifactQuery{SortBy: "size"})
		wantErr(t, "ListArtifacts(bad sort) after Close", err, storage.ErrClosed)
		_, err = st.Sweep(ctx, at(0), 0)
		wantErr(t, "Sweep(limit 0) after Close", err, storage.ErrClosed)
	})
	s.test(t, "CloseTwice", func(t *testing.T, st storage.Storage) {
		populate(t, st)
		if err := st.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
		_, err := st.Alias(t.Context(), "", "al")
		wantErr(t, "Alias after two Closes", err, storage.ErrClosed)
	})
	s.test(t, "WhileInUse", func(t *testing.T, st storage.Storage) {
		// Calls racing with Close either complete or fail with ErrClosed;
		// once Close has returned, every call fails with ErrClosed.
		populate(t, st)
		const workers = 4
		var wg sync.WaitGroup
		closed := make(chan struct{})
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					afterClose := false
					select {
					case <-closed:
						afterClose = true
					default:
					}
					key := fmt.Sprintf("s-%d-%d", w, i)
					_, err := st.CreateSession(t.Context(), "", newSession(key, "", "agent-1"))
					if err == nil {
						_, err = st.Session(t.Context(), "", key)
					}
					switch {
					case errors.Is(err, storage.ErrClosed):
						return
					case err != nil:
						t.Errorf("worker %d: %v", w, err)
						return
					case afterClose:
						t.Errorf("worker %d: CreateSession and Session succeeded after Close returned", w)
						return
					}
				}
			}()
		}
		var closers sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			closers.Add(1)
			go func() {
				defer closers.Done()
				errs[i] = st.Close()
			}()
		}
		closers.Wait()
		close(closed)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("concurrent Close %d = %v, want nil", i, err)
			}
		}
	})
}

func (s *suite) context(t *testing.T) {
	cancelled := func(t *testing.T) context.Context {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		return ctx
	}
	group(t, "Canceled", func(t *testing.T) {
		for _, c := range calls() {
			s.test(t, c.name, func(t *testing.T, st storage.Storage) {
				populate(t, st)
				wantErr(t, c.name+" with a cancelled context", c.do(cancelled(t), st), context.Canceled)
				// A failed call changes nothing.
				checkPopulated(t, st)
			})
		}
	})
	s.test(t, "DeadlineExceeded", func(t *testing.T, st storage.Storage) {
		populate(t, st)
		ctx, cancel := context.WithDeadline(t.Context(), time.Unix(0, 0))
		defer cancel()
		_, err := st.Session(ctx, "", "s1")
		wantErr(t, "Session with an expired deadline", err, context.DeadlineExceeded)
		_, err = st.CreateSession(ctx, "", newSession("s2", "", "agent-1"))
		wantErr(t, "CreateSession with an expired deadline", err, context.DeadlineExceeded)
		checkPopulated(t, st)
	})
}

// checkPopulated checks that the store holds exactly what populate stored.
func checkPopulated(t *testing.T, st storage.Storage) {
	t.Helper()
	want := newAlias("al", "agent-1")
	want.Revision = 1
	diff(t, "aliases", []string{"al"}, aliasKeys(allAliases(t, st, "", storage.AliasQuery{})))
	diff(t, "alias", want, mustAlias(t, st, "", "al"))
	wantSession := populatedSession()
	wantSession.Revision = 1
	diff(t, "sessions", []string{"s1"}, sessionKeys(allSessions(t, st, "", storage.SessionQuery{})))
	diff(t, "session", wantSession, mustSession(t, st, "", "s1"))
	diff(t, "events", []*event.Event{newEvent("s1", "aev_1")}, allEvents(t, st, "", "s1", storage.EventQuery{IncludeHidden: true}))
	diff(t, "artifacts", []string{"art_1"}, artifactIDs(allArtifacts(t, st, "", "s1", storage.ArtifactQuery{})))
	diff(t, "pin", newPin("al", "u1", "agent-1"), mustPin(t, st, "", "al", "u1"))
	_, err := st.Pin(t.Context(), "", "al", "u2")
	wantErr(t, "Pin(al, u2)", err, storage.ErrNotFound)
}

// populatedSession returns the session populate stores.
func populatedSession() *session.Session {
	s := newSession("s1", "al", "agent-1")
	s.Enabled = false
	return s
}
