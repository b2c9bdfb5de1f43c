package storagetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentalias/agentalias/storage"
)

func (s *suite) pins(t *testing.T) {
	group(t, "SetPin", s.pinsSet)
	group(t, "Pin", s.pinsGet)
}

func (s *suite) pinsSet(t *testing.T) {
	s.test(t, "Create", func(t *testing.T, st storage.Storage) {
		// The alias need not exist.
		p := newPin("al", "user-1", "agent-1")
		mustSetPin(t, st, "", p, nil)
		diff(t, "Pin", newPin("al", "user-1", "agent-1"), mustPin(t, st, "", "al", "user-1"))
		never := newPin("al", "user-2", "agent-2")
		never.ExpiresAt = time.Time{}
		mustSetPin(t, st, "", never, nil)
		diff(t, "Pin that never expires", never, mustPin(t, st, "", "al", "user-2"))
	})
	s.test(t, "ErrConflictExists", func(t *testing.T, st storage.Storage) {
		mustSetPin(t, st, "", newPin("al", "user-1", "agent-1"), nil)
		err := st.SetPin(t.Context(), "", newPin("al", "user-1", "agent-2"), nil)
		wantErr(t, "SetPin with prev nil over an existing pin", err, storage.ErrConflict)
		diff(t, "Pin after the failed SetPin", newPin("al", "user-1", "agent-1"), mustPin(t, st, "", "al", "user-1"))
	})
	s.test(t, "Replace", func(t *testing.T, st storage.Storage) {
		mustSetPin(t, st, "", newPin("al", "user-1", "agent-1"), nil)
		next := newPin("al", "user-1", "agent-2")
		next.CreatedAt, next.ExpiresAt = at(minute), at(61*minute)
		mustSetPin(t, st, "", next, mustPin(t, st, "", "al", "user-1"))
		diff(t, "Pin after replacing it", next, mustPin(t, st, "", "al", "user-1"))
		// prev is compared by value (Pin.Same), not by identity; times by
		// instant, whatever their location.
		prev := clonePin(next)
		prev.CreatedAt = prev.CreatedAt.In(time.FixedZone("X", 5*3600))
		third := newPin("al", "user-1", "agent-3")
		mustSetPin(t, st, "", third, prev)
		diff(t, "Pin after replacing it again", third, mustPin(t, st, "", "al", "user-1"))
		// Replacing a pin by the same decision is allowed.
		mustSetPin(t, st, "", clonePin(third), clonePin(third))
		diff(t, "Pin after replacing it by itself", third, mustPin(t, st, "", "al", "user-1"))
	})
	s.test(t, "ReplaceExpired", func(t *testing.T, st storage.Storage) {
		old := newPin("al", "user-1", "agent-1")
		old.ExpiresAt = at(1)
		mustSetPin(t, st, "", old, nil)
		err := st.SetPin(t.Context(), "", newPin("al", "user-1", "agent-2"), nil)
		wantErr(t, "SetPin with prev nil over an expired pin", err, storage.ErrConflict)
		mustSetPin(t, st, "", newPin("al", "user-1", "agent-2"), old)
		diff(t, "Pin", newPin("al", "user-1", "agent-2"), mustPin(t, st, "", "al", "user-1"))
	})
	s.test(t, "ErrConflictStale", func(t *testing.T, st storage.Storage) {
		first := newPin("al", "user-1", "agent-1")
		mustSetPin(t, st, "", first, nil)
		second := newPin("al", "user-1", "agent-2")
		mustSetPin(t, st, "", second, first)
		for _, tc := range []struct {
			name string
			prev *storage.Pin
		}{
			{"Replaced", first},
			{"OtherAgent", newPin("al", "user-1", "agent-3")},
			{"OtherCreatedAt", func() *storage.Pin { p := clonePin(second); p.CreatedAt = at(1); return p }()},
			{"OtherExpiresAt", func() *storage.Pin { p := clonePin(second); p.ExpiresAt = time.Time{}; return p }()},
		} {
			err := st.SetPin(t.Context(), "", newPin("al", "user-1", "agent-4"), tc.prev)
			wantErr(t, "SetPin with a stale prev: "+tc.name, err, storage.ErrConflict)
		}
		diff(t, "Pin after failed SetPins", second, mustPin(t, st, "", "al", "user-1"))
	})
	s.test(t, "ErrConflictMissing", func(t *testing.T, st storage.Storage) {
		mustSetPin(t, st, "", newPin("al", "user-2", "agent-1"), nil)
		err := st.SetPin(t.Context(), "", newPin("al", "user-1", "agent-1"), newPin("al", "user-1", "agent-1"))
		wantErr(t, "SetPin with a prev where none is stored", err, storage.ErrConflict)
		_, err = st.Pin(t.Context(), "", "al", "user-1")
		wantErr(t, "Pin after the failed SetPin", err, storage.ErrNotFound)
	})
	s.test(t, "ErrInvalid", func(t *testing.T, st storage.Storage) {
		mod := func(f func(p *storage.Pin)) *storage.Pin {
			p := newPin("al", "user-1", "agent-1")
			f(p)
			return p
		}
		type pinCase struct {
			name string
			p    *storage.Pin
		}
		cases := []pinCase{
			{"EmptyKey", mod(func(p *storage.Pin) { p.Key = "" })},
			{"LongKey", mod(func(p *storage.Pin) { p.Key = strings.Repeat("k", storage.MaxPinKeyLen+1) })},
		}
		for _, bad := range badKeys() {
			cases = append(cases,
				pinCase{fmt.Sprintf("AliasKey %q", bad), mod(func(p *storage.Pin) { p.AliasKey = bad })},
				pinCase{fmt.Sprintf("AgentKey %q", bad), mod(func(p *storage.Pin) { p.AgentKey = bad })})
		}
		for _, tc := range cases {
			wantErr(t, "SetPin with "+tc.name, st.SetPin(t.Context(), "", tc.p, nil), storage.ErrInvalid)
		}
		_, err := st.Pin(t.Context(), "", "al", "user-1")
		wantErr(t, "Pin after failed SetPins", err, storage.ErrNotFound)
	})
	s.test(t, "Keys", func(t *testing.T, st storage.Storage) {
		// A sticky key is any string of 1 to MaxPinKeyLen bytes.
		keys := []string{
			"k",
			strings.Repeat("k", storage.MaxPinKeyLen),
			"user 1/with spaces:and\x00nul",
			"ユーザー",
			"K",
			"user-1",
			"user-10",
			"\xff\xfe not utf-8",
		}
		for i, k := range keys {
			mustSetPin(t, st, "", newPin("al", k, fmt.Sprintf("agent-%d", i)), nil)
		}
		for i, k := range keys {
			diff(t, fmt.Sprintf("Pin(%.20q)", k), newPin("al", k, fmt.Sprintf("agent-%d", i)), mustPin(t, st, "", "al", k))
		}
	})
}

func (s *suite) pinsGet(t *testing.T) {
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		_, err := st.Pin(t.Context(), "", "al", "user-1")
		wantErr(t, "Pin in an empty store", err, storage.ErrNotFound)
		mustSetPin(t, st, "", newPin("al", "user-1", "agent-1"), nil)
		for _, tc := range []struct{ alias, key string }{
			{"al", "user-2"},
			{"al", "User-1"},
			{"al", "user-10"},
			{"al", "user-"},
			{"al2", "user-1"},
			{"a", "l-user-1"},
			{"al-user", "1"},
		} {
			_, err := st.Pin(t.Context(), "", tc.alias, tc.key)
			wantErr(t, fmt.Sprintf("Pin(%q, %q)", tc.alias, tc.key), err, storage.ErrNotFound)
		}
	})
	s.test(t, "Expired", func(t *testing.T, st storage.Storage) {
		p := newPin("al", "user-1", "agent-1")
		p.ExpiresAt = at(1)
		mustSetPin(t, st, "", p, nil)
		got := mustPin(t, st, "", "al", "user-1")
		diff(t, "Pin of an expired pin", p, got)
		if !got.Expired(at(1)) {
			t.Errorf("returned pin is not expired at its ExpiresAt")
		}
	})
	s.test(t, "ScopedByAlias", func(t *testing.T, st storage.Storage) {
		for i, al := range []string{"al", "al2", "AL", "a"} {
			mustSetPin(t, st, "", newPin(al, "user-1", fmt.Sprintf("agent-%d", i)), nil)
		}
		for i, al := range []string{"al", "al2", "AL", "a"} {
			diff(t, "Pin of alias "+al, newPin(al, "user-1", fmt.Sprintf("agent-%d", i)), mustPin(t, st, "", al, "user-1"))
		}
	})
}

// clonePin returns a copy of p.
func clonePin(p *storage.Pin) *storage.Pin {
	c := *p
	return &c
}
