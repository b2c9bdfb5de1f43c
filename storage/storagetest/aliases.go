package storagetest

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

func (s *suite) aliases(t *testing.T) {
	group(t, "Create", s.aliasesCreate)
	group(t, "Get", s.aliasesGet)
	group(t, "Update", s.aliasesUpdate)
	group(t, "Delete", s.aliasesDelete)
	group(t, "List", s.aliasesList)
}

func (s *suite) aliasesCreate(t *testing.T) {
	s.test(t, "OK", func(t *testing.T, st storage.Storage) {
		got, err := st.CreateAlias(t.Context(), "", richAlias("support"))
		must(t, "CreateAlias", err)
		want := richAlias("support")
		want.Revision = 1
		diff(t, "CreateAlias result", want, got)
		diff(t, "Alias", want, mustAlias(t, st, "", "support"))
	})
	s.test(t, "Minimal", func(t *testing.T, st storage.Storage) {
		// Disabled, no description, metadata, stickiness or UpdatedAt.
		in := &alias.Alias{Key: "m", Name: "M", Policy: singlePolicy("agent-1"), CreatedAt: at(0)}
		want := in.Clone()
		want.Revision = 1
		diff(t, "CreateAlias result", want, mustCreateAlias(t, st, "", in))
		diff(t, "Alias", want, mustAlias(t, st, "", "m"))
	})
	s.test(t, "RevisionSetByStore", func(t *testing.T, st storage.Storage) {
		in := newAlias("support", "agent-1")
		in.Revision = 41
		if got := mustCreateAlias(t, st, "", in); got.Revision != 1 {
			t.Errorf("CreateAlias result has Revision %d, want 1", got.Revision)
		}
		if got := mustAlias(t, st, "", "support"); got.Revision != 1 {
			t.Errorf("Alias has Revision %d, want 1", got.Revision)
		}
	})
	s.test(t, "ValidKeys", func(t *testing.T, st storage.Storage) {
		for _, key := range keysOK() {
			want := newAlias(key, "agent-1")
			want.Revision = 1
			diff(t, fmt.Sprintf("CreateAlias(%q)", key), want, mustCreateAlias(t, st, "", newAlias(key, "agent-1")))
			diff(t, fmt.Sprintf("Alias(%q)", key), want, mustAlias(t, st, "", key))
		}
	})
	s.test(t, "ErrExists", func(t *testing.T, st storage.Storage) {
		first := mustCreateAlias(t, st, "", newAlias("support", "agent-1"))
		dup := newAlias("support", "agent-2")
		dup.Name = "Duplicate"
		_, err := st.CreateAlias(t.Context(), "", dup)
		wantErr(t, "CreateAlias of an existing key", err, storage.ErrExists)
		diff(t, "Alias after the failed create", first, mustAlias(t, st, "", "support"))
	})
	s.test(t, "ErrInvalid", func(t *testing.T, st storage.Storage) {
		for _, key := range badKeys() {
			_, err := st.CreateAlias(t.Context(), "", newAlias(key, "agent-1"))
			wantErr(t, fmt.Sprintf("CreateAlias(%q)", key), err, storage.ErrInvalid)
		}
		if got := allAliases(t, st, "", storage.AliasQuery{}); len(got) != 0 {
			t.Errorf("ListAliases after failed creates = %v, want none", aliasKeys(got))
		}
	})
}

func (s *suite) aliasesGet(t *testing.T) {
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		_, err := st.Alias(t.Context(), "", "missing")
		wantErr(t, "Alias in an empty store", err, storage.ErrNotFound)
		mustCreateAlias(t, st, "", newAlias("support", "agent-1"))
		mustCreateAlias(t, st, "", newAlias("support-2", "agent-1"))
		for _, key := range []string{"Support", "SUPPORT", "suppor", "supportx", "support-", "missing"} {
			_, err := st.Alias(t.Context(), "", key)
			wantErr(t, fmt.Sprintf("Alias(%q)", key), err, storage.ErrNotFound)
		}
	})
	s.test(t, "MalformedKey", func(t *testing.T, st storage.Storage) {
		mustCreateAlias(t, st, "", newAlias("support", "agent-1"))
		for _, key := range append(badKeys(), "support ", " support") {
			_, err := st.Alias(t.Context(), "", key)
			wantErrOneOf(t, fmt.Sprintf("Alias(%q)", key), err, storage.ErrNotFound, storage.ErrInvalid)
		}
	})
}

func (s *suite) aliasesUpdate(t *testing.T) {
	s.test(t, "OK", func(t *testing.T, st storage.Storage) {
		a := mustCreateAlias(t, st, "", richAlias("support"))
		a.Name = "Support v2"
		a.Description = ""
		a.Enabled = false
		a.Policy = weightedPolicy("w-1", "w-3")
		a.Stickiness = nil
		a.Metadata = map[string]any{"v": "2"}
		a.UpdatedAt = at(5 * minute)
		want := a.Clone()
		want.Revision = 2
		got, err := st.UpdateAlias(t.Context(), "", a)
		must(t, "UpdateAlias", err)
		diff(t, "UpdateAlias result", want, got)
		diff(t, "Alias after UpdateAlias", want, mustAlias(t, st, "", "support"))
	})
	s.test(t, "Revision", func(t *testing.T, st storage.Storage) {
		a := mustCreateAlias(t, st, "", newAlias("support", "agent-1"))
		for rev := uint64(2); rev <= 5; rev++ {
			a.Name = fmt.Sprintf("Name %d", rev)
			got, err := st.UpdateAlias(t.Context(), "", a)
			must(t, fmt.Sprintf("UpdateAlias to revision %d", rev), err)
			if got.Revision != rev {
				t.Fatalf("UpdateAlias result has Revision %d, want %d", got.Revision, rev)
			}
			if stored := mustAlias(t, st, "", "support"); stored.Revision != rev || stored.Name != a.Name {
				t.Fatalf("Alias after update = (Revision %d, Name %q), want (%d, %q)", stored.Revision, stored.Name, rev, a.Name)
			}
			a = got
		}
	})
	s.test(t, "ErrConflict", func(t *testing.T, st storage.Storage) {
		a := mustCreateAlias(t, st, "", newAlias("support", "agent-1"))
		a.Name = "second"
		current, err := st.UpdateAlias(t.Context(), "", a)
		must(t, "UpdateAlias", err)
		for _, rev := range []uint64{0, 1, 3, 99} {
			stale := current.Clone()
			stale.Revision = rev
			stale.Name = fmt.Sprintf("stale %d", rev)
			_, err := st.UpdateAlias(t.Context(), "", stale)
			wantErr(t, fmt.Sprintf("UpdateAlias with Revision %d while the stored one is 2", rev), err, storage.ErrConflict)
		}
		diff(t, "Alias after failed updates", current, mustAlias(t, st, "", "support"))
	})
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		a := newAlias("missing", "agent-1")
		a.Revision = 1
		_, err := st.UpdateAlias(t.Context(), "", a)
		wantErr(t, "UpdateAlias of a missing alias", err, storage.ErrNotFound)
		if _, err := st.Alias(t.Context(), "", "missing"); err == nil {
			t.Errorf("UpdateAlias of a missing alias created it")
		}
	})
	s.test(t, "ErrInvalid", func(t *testing.T, st storage.Storage) {
		orig := mustCreateAlias(t, st, "", newAlias("support", "agent-1"))
		for _, createdAt := range []int{1, -minute} {
			a := orig.Clone()
			a.CreatedAt = at(createdAt)
			a.Name = "changed"
			_, err := st.UpdateAlias(t.Context(), "", a)
			wantErr(t, "UpdateAlias changing CreatedAt", err, storage.ErrInvalid)
		}
		a := orig.Clone()
		a.CreatedAt = time.Time{}
		_, err := st.UpdateAlias(t.Context(), "", a)
		wantErr(t, "UpdateAlias with a zero CreatedAt", err, storage.ErrInvalid)
		diff(t, "Alias after failed updates", orig, mustAlias(t, st, "", "support"))
	})
}

func (s *suite) aliasesDelete(t *testing.T) {
	s.test(t, "OK", func(t *testing.T, st storage.Storage) {
		mustCreateAlias(t, st, "", newAlias("support", "agent-1"))
		other := mustCreateAlias(t, st, "", newAlias("sales", "agent-1"))
		must(t, "DeleteAlias", st.DeleteAlias(t.Context(), "", "support", at(0)))
		_, err := st.Alias(t.Context(), "", "support")
		wantErr(t, "Alias after DeleteAlias", err, storage.ErrNotFound)
		diff(t, "the other alias", other, mustAlias(t, st, "", "sales"))
		diff(t, "ListAliases after DeleteAlias", []string{"sales"}, aliasKeys(allAliases(t, st, "", storage.AliasQuery{})))
	})
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		wantErr(t, "DeleteAlias of a missing alias", st.DeleteAlias(t.Context(), "", "missing", at(0)), storage.ErrNotFound)
		mustCreateAlias(t, st, "", newAlias("support", "agent-1"))
		must(t, "DeleteAlias", st.DeleteAlias(t.Context(), "", "support", at(0)))
		wantErr(t, "second DeleteAlias", st.DeleteAlias(t.Context(), "", "support", at(0)), storage.ErrNotFound)
	})
	s.test(t, "Recreate", func(t *testing.T, st storage.Storage) {
		mustCreateAlias(t, st, "", newAlias("support", "agent-1"))
		mustSetPin(t, st, "", newPin("support", "u1", "agent-1"), nil)
		must(t, "DeleteAlias", st.DeleteAlias(t.Context(), "", "support", at(0)))
		again := newAlias("support", "agent-2")
		again.Name = "Again"
		want := again.Clone()
		want.Revision = 1
		diff(t, "CreateAlias after DeleteAlias", want, mustCreateAlias(t, st, "", again))
		_, err := st.Pin(t.Context(), "", "support", "u1")
		wantErr(t, "Pin of the deleted alias after re-creating it", err, storage.ErrNotFound)
	})

	// Sessions: DeleteAlias fails with ErrConflict exactly while a session
	// created through the alias is enabled and not expired at now.
	now := at(100 * minute)
	type sessions func(t *testing.T, st storage.Storage) []string
	create := func(key string, mod func(s *session.Session)) func(t *testing.T, st storage.Storage) string {
		return func(t *testing.T, st storage.Storage) string {
			sess := newSession(key, "target", "agent-1")
			if mod != nil {
				mod(sess)
			}
			mustCreateSession(t, st, "", sess)
			return key
		}
	}
	update := func(key string, mod func(s *session.Session)) func(t *testing.T, st storage.Storage) {
		return func(t *testing.T, st storage.Storage) {
			sess := mustSession(t, st, "", key)
			mod(sess)
			mustUpdateSession(t, st, "", sess)
		}
	}
	disabled := func(s *session.Session) { s.Enabled = false }
	enabled := func(s *session.Session) { s.Enabled = true }
	expiresAt := func(ms int) func(s *session.Session) {
		return func(s *session.Session) { s.ExpiresAt = now.Add(time.Duration(ms) * time.Millisecond) }
	}
	steps := func(fs ...func(t *testing.T, st storage.Storage) string) sessions {
		return func(t *testing.T, st storage.Storage) []string {
			var keys []string
			for _, f := range fs {
				if k := f(t, st); k != "" {
					keys = append(keys, k)
				}
			}
			return keys
		}
	}
	then := func(f func(t *testing.T, st storage.Storage)) func(t *testing.T, st storage.Storage) string {
		return func(t *testing.T, st storage.Storage) string { f(t, st); return "" }
	}
	cases := []struct {
		name     string
		sessions sessions
		want     error
	}{
		{"None", steps(), nil},
		{"EnabledNeverExpires", steps(create("s1", nil)), storage.ErrConflict},
		{"EnabledExpiresAfterNow", steps(create("s1", expiresAt(1))), storage.ErrConflict},
		{"EnabledExpiredAtNow", steps(create("s1", expiresAt(0))), nil},
		{"EnabledExpiredBeforeNow", steps(create("s1", expiresAt(-minute))), nil},
		{"Disabled", steps(create("s1", disabled)), nil},
		{"DisabledThenEnabled", steps(create("s1", disabled), then(update("s1", enabled))), storage.ErrConflict},
		{"EnabledThenDisabled", steps(create("s1", nil), then(update("s1", disabled))), nil},
		{"ExpiredThenExtended", steps(create("s1", expiresAt(-1)), then(update("s1", expiresAt(minute)))), storage.ErrConflict},
		{"Deleted", steps(then(func(t *testing.T, st storage.Storage) {
			mustCreateSession(t, st, "", newSession("s1", "target", "agent-1"))
			must(t, "DeleteSession", st.DeleteSession(t.Context(), "", "s1"))
		})), nil},
		{"OneOfManyEnabled", steps(create("s1", disabled), create("s2", expiresAt(-1)), create("s3", nil), create("s4", disabled)), storage.ErrConflict},
		{"AllDisabledOrExpired", steps(create("s1", disabled), create("s2", expiresAt(-1)), create("s3", expiresAt(0))), nil},
		{"OnOtherAlias", steps(then(func(t *testing.T, st storage.Storage) {
			mustCreateSession(t, st, "", newSession("o1", "other", "agent-1"))
		})), nil},
		{"WithoutAlias", steps(then(func(t *testing.T, st storage.Storage) {
			mustCreateSession(t, st, "", newSession("d1", "", "agent-1"))
		})), nil},
	}
	group(t, "Sessions", func(t *testing.T) {
		for _, tc := range cases {
			s.test(t, tc.name, func(t *testing.T, st storage.Storage) {
				target := mustCreateAlias(t, st, "", newAlias("target", "agent-1"))
				mustCreateAlias(t, st, "", newAlias("other", "agent-1"))
				mustSetPin(t, st, "", newPin("target", "u1", "agent-1"), nil)
				keys := tc.sessions(t, st)
				var before []*session.Session
				for _, k := range keys {
					before = append(before, mustSession(t, st, "", k))
				}

				err := st.DeleteAlias(t.Context(), "", "target", now)
				if tc.want == nil {
					must(t, "DeleteAlias", err)
					_, err := st.Alias(t.Context(), "", "target")
					wantErr(t, "Alias after DeleteAlias", err, storage.ErrNotFound)
					_, err = st.Pin(t.Context(), "", "target", "u1")
					wantErr(t, "Pin of the deleted alias", err, storage.ErrNotFound)
				} else {
					wantErr(t, "DeleteAlias", err, tc.want)
					diff(t, "Alias after the failed DeleteAlias", target, mustAlias(t, st, "", "target"))
					diff(t, "Pin after the failed DeleteAlias", newPin("target", "u1", "agent-1"), mustPin(t, st, "", "target", "u1"))
				}
				for _, b := range before {
					diff(t, "session after DeleteAlias", b, mustSession(t, st, "", b.Key))
				}
			})
		}
	})

	s.test(t, "Pins", func(t *testing.T, st storage.Storage) {
		mustCreateAlias(t, st, "", newAlias("target", "agent-1"))
		mustCreateAlias(t, st, "", newAlias("other", "agent-1"))
		mustSetPin(t, st, "", newPin("target", "u1", "agent-1"), nil)
		mustSetPin(t, st, "", newPin("target", "u2", "agent-2"), nil)
		mustSetPin(t, st, "", newPin("other", "u1", "agent-3"), nil)
		mustSetPin(t, st, "", newPin("targets", "u1", "agent-4"), nil) // a longer alias key with the same prefix
		mustSetPin(t, st, "", newPin("nonexistent", "u1", "agent-5"), nil)
		must(t, "DeleteAlias", st.DeleteAlias(t.Context(), "", "target", at(0)))
		for _, key := range []string{"u1", "u2"} {
			_, err := st.Pin(t.Context(), "", "target", key)
			wantErr(t, fmt.Sprintf("Pin(target, %s) after DeleteAlias", key), err, storage.ErrNotFound)
		}
		diff(t, "Pin of another alias", newPin("other", "u1", "agent-3"), mustPin(t, st, "", "other", "u1"))
		diff(t, "Pin of an alias whose key extends the deleted one", newPin("targets", "u1", "agent-4"), mustPin(t, st, "", "targets", "u1"))
		diff(t, "Pin of an alias that never existed", newPin("nonexistent", "u1", "agent-5"), mustPin(t, st, "", "nonexistent", "u1"))
	})
}

func (s *suite) aliasesList(t *testing.T) {
	s.test(t, "Empty", func(t *testing.T, st storage.Storage) {
		p, err := st.ListAliases(t.Context(), "", storage.AliasQuery{})
		must(t, "ListAliases", err)
		if len(p.Items) != 0 || p.Next != "" {
			t.Errorf("ListAliases of an empty store = %d items, Next %q; want none and \"\"", len(p.Items), p.Next)
		}
	})
	s.test(t, "Items", func(t *testing.T, st storage.Storage) {
		mustCreateAlias(t, st, "", richAlias("b"))
		a := mustCreateAlias(t, st, "", newAlias("a", "agent-1"))
		a.Name = "updated"
		_, err := st.UpdateAlias(t.Context(), "", a)
		must(t, "UpdateAlias", err)
		want := []*alias.Alias{mustAlias(t, st, "", "a"), mustAlias(t, st, "", "b")}
		diff(t, "ListAliases items", want, allAliases(t, st, "", storage.AliasQuery{}))
	})
	s.test(t, "Order", func(t *testing.T, st storage.Storage) {
		keys := []string{"b", "a", "-y", "9", "B", "_x", "a-1", "a_1", "aa", "A", "a0", "zz", "Z"}
		for _, k := range keys {
			mustCreateAlias(t, st, "", newAlias(k, "agent-1"))
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		diff(t, "ListAliases order (ascending bytes)", want, aliasKeys(allAliases(t, st, "", storage.AliasQuery{Limit: 100})))
		diff(t, "ListAliases order, 2 per page", want, aliasKeys(allAliases(t, st, "", storage.AliasQuery{Limit: 2})))
	})
	s.test(t, "DefaultLimit", func(t *testing.T, st storage.Storage) {
		keys := numbered("k", storage.DefaultLimit+1)
		for _, k := range keys {
			mustCreateAlias(t, st, "", newAlias(k, "agent-1"))
		}
		p, err := st.ListAliases(t.Context(), "", storage.AliasQuery{})
		must(t, "ListAliases", err)
		diff(t, "first page with Limit 0", keys[:storage.DefaultLimit], aliasKeys(p.Items))
		if p.Next == "" {
			t.Fatalf("Next is empty though one more alias exists")
		}
		p, err = st.ListAliases(t.Context(), "", storage.AliasQuery{PageKey: p.Next})
		must(t, "ListAliases page 2", err)
		diff(t, "second page", keys[storage.DefaultLimit:], aliasKeys(p.Items))
		if p.Next != "" {
			t.Errorf("Next = %q on the last page, want \"\"", p.Next)
		}
	})
	s.test(t, "MaxLimit", func(t *testing.T, st storage.Storage) {
		keys := numbered("k", storage.MaxLimit+1)
		for _, k := range keys {
			mustCreateAlias(t, st, "", newAlias(k, "agent-1"))
		}
		p, err := st.ListAliases(t.Context(), "", storage.AliasQuery{Limit: storage.MaxLimit})
		must(t, "ListAliases", err)
		diff(t, "first page with Limit 100", keys[:storage.MaxLimit], aliasKeys(p.Items))
		if p.Next == "" {
			t.Fatalf("Next is empty though one more alias exists")
		}
		diff(t, "all pages", keys, aliasKeys(allAliases(t, st, "", storage.AliasQuery{Limit: storage.MaxLimit})))
	})
	s.test(t, "ErrInvalid", func(t *testing.T, st storage.Storage) {
		mustCreateAlias(t, st, "", newAlias("a", "agent-1"))
		for _, limit := range badLimits() {
			_, err := st.ListAliases(t.Context(), "", storage.AliasQuery{Limit: limit})
			wantErr(t, fmt.Sprintf("ListAliases with Limit %d", limit), err, storage.ErrInvalid)
		}
		_, err := st.ListAliases(t.Context(), "", storage.AliasQuery{PageKey: garbagePageKey})
		wantErr(t, "ListAliases with a garbage page key", err, storage.ErrInvalid)
	})
	s.test(t, "Pagination", func(t *testing.T, st storage.Storage) {
		keys := numbered("k", 17)
		for _, i := range []int{3, 16, 0, 8, 1, 12, 4, 9, 15, 2, 13, 5, 11, 6, 14, 7, 10} {
			mustCreateAlias(t, st, "", newAlias(keys[i], "agent-1"))
		}
		for _, limit := range []int{1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 100} {
			diff(t, fmt.Sprintf("all pages with Limit %d", limit), keys, aliasKeys(allAliases(t, st, "", storage.AliasQuery{Limit: limit})))
		}
	})
	s.test(t, "Stability", func(t *testing.T, st storage.Storage) {
		keys := numbered("k", 20)
		ever := map[string]bool{}
		for _, k := range keys {
			mustCreateAlias(t, st, "", newAlias(k, "agent-1"))
			ever[k] = true
		}
		create := func(ks ...string) {
			for _, k := range ks {
				mustCreateAlias(t, st, "", newAlias(k, "agent-1"))
				ever[k] = true
			}
		}
		gone := map[string]bool{}
		del := func(ks ...string) {
			for _, k := range ks {
				must(t, "DeleteAlias "+k, st.DeleteAlias(t.Context(), "", k, at(0)))
				gone[k] = true
			}
		}
		q := storage.AliasQuery{Limit: 5}
		p1, err := st.ListAliases(t.Context(), "", q)
		must(t, "ListAliases page 1", err)
		if len(p1.Items) != 5 || p1.Next == "" {
			t.Fatalf("page 1 = %d items, Next %q; want 5 items and more", len(p1.Items), p1.Next)
		}
		// The last item of page 1, an earlier one and a later one go; new
		// items appear before, between and after.
		del("k04", "k02", "k12")
		create("a", "k015", "k045", "k125", "z")
		q.PageKey = p1.Next
		p2, err := st.ListAliases(t.Context(), "", q)
		must(t, "ListAliases page 2", err)
		if len(p2.Items) != 5 || p2.Next == "" {
			t.Fatalf("page 2 = %d items, Next %q; want 5 items and more", len(p2.Items), p2.Next)
		}
		got := append(aliasKeys(p1.Items), aliasKeys(p2.Items)...)
		del(p2.Items[len(p2.Items)-1].Key, "k15", "k16")
		create("k095", "k155", "k165")
		got = append(got, aliasKeys(allAliases(t, st, "", storage.AliasQuery{Limit: 5, PageKey: p2.Next}))...)
		var throughout []string
		for _, k := range keys {
			if !gone[k] {
				throughout = append(throughout, k)
			}
		}
		checkStable(t, got, throughout, ever)
		if !slices.IsSorted(got) {
			t.Errorf("aliases listed while paging are not in ascending order: %v", got)
		}
	})
	s.testForeignPageKeys(t, "aliases", func(ctx context.Context, st storage.Storage, pageKey string) error {
		_, err := st.ListAliases(ctx, "", storage.AliasQuery{Limit: 1, PageKey: pageKey})
		return err
	})
	group(t, "Filter", s.aliasesFilter)
}

func (s *suite) aliasesFilter(t *testing.T) {
	yes, no := true, false
	s.test(t, "Enabled", func(t *testing.T, st storage.Storage) {
		for i, k := range numbered("k", 9) {
			a := newAlias(k, "agent-1")
			a.Enabled = i%3 != 0
			mustCreateAlias(t, st, "", a)
		}
		diff(t, "Enabled=true", []string{"k01", "k02", "k04", "k05", "k07", "k08"}, aliasKeys(allAliases(t, st, "", storage.AliasQuery{Enabled: &yes})))
		diff(t, "Enabled=false", []string{"k00", "k03", "k06"}, aliasKeys(allAliases(t, st, "", storage.AliasQuery{Enabled: &no})))
		diff(t, "Enabled=false, 2 per page", []string{"k00", "k03", "k06"}, aliasKeys(allAliases(t, st, "", storage.AliasQuery{Enabled: &no, Limit: 2})))
		diff(t, "Enabled=nil", numbered("k", 9), aliasKeys(allAliases(t, st, "", storage.AliasQuery{})))
	})
	s.test(t, "EnabledAfterUpdate", func(t *testing.T, st storage.Storage) {
		a := mustCreateAlias(t, st, "", newAlias("a", "agent-1"))
		mustCreateAlias(t, st, "", newAlias("b", "agent-1"))
		a.Enabled = false
		_, err := st.UpdateAlias(t.Context(), "", a)
		must(t, "UpdateAlias", err)
		diff(t, "Enabled=true", []string{"b"}, aliasKeys(allAliases(t, st, "", storage.AliasQuery{Enabled: &yes})))
		diff(t, "Enabled=false", []string{"a"}, aliasKeys(allAliases(t, st, "", storage.AliasQuery{Enabled: &no})))
	})
	s.test(t, "AgentKey", func(t *testing.T, st storage.Storage) {
		second := policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
			{Match: "get('$.session.metadata.vip')", Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "agent-q"}},
			{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "agent-x"}},
		}}
		docs := map[string]policy.Document{
			"a-single":   singlePolicy("agent-x"),
			"b-weighted": weightedPolicy("agent-y", "agent-x"),
			"c-fallback": fallbackPolicy("agent-z", "agent-x"),
			"d-rule2":    second,
			"e-other":    singlePolicy("agent-y"),
			"f-longer":   singlePolicy("agent-xx"),
			"g-shorter":  singlePolicy("agent-"),
		}
		for k, doc := range docs {
			a := newAlias(k, "unused")
			a.Policy = doc
			mustCreateAlias(t, st, "", a)
		}
		for _, tc := range []struct {
			agent string
			want  []string
		}{
			{"agent-x", []string{"a-single", "b-weighted", "c-fallback", "d-rule2"}},
			{"agent-y", []string{"b-weighted", "e-other"}},
			{"agent-z", []string{"c-fallback"}},
			{"agent-q", []string{"d-rule2"}},
			{"agent-xx", []string{"f-longer"}},
			{"nobody", nil},
		} {
			diff(t, "AgentKey "+tc.agent, tc.want, aliasKeys(allAliases(t, st, "", storage.AliasQuery{AgentKey: tc.agent})))
			diff(t, "AgentKey "+tc.agent+", 1 per page", tc.want, aliasKeys(allAliases(t, st, "", storage.AliasQuery{AgentKey: tc.agent, Limit: 1})))
		}
	})
	s.test(t, "AgentKeyAfterUpdate", func(t *testing.T, st storage.Storage) {
		a := mustCreateAlias(t, st, "", newAlias("a", "agent-old"))
		a.Policy = singlePolicy("agent-new")
		_, err := st.UpdateAlias(t.Context(), "", a)
		must(t, "UpdateAlias", err)
		diff(t, "AgentKey agent-old", []string(nil), aliasKeys(allAliases(t, st, "", storage.AliasQuery{AgentKey: "agent-old"})))
		diff(t, "AgentKey agent-new", []string{"a"}, aliasKeys(allAliases(t, st, "", storage.AliasQuery{AgentKey: "agent-new"})))
	})
	s.test(t, "Regexp", func(t *testing.T, st storage.Storage) {
		for _, a := range []struct{ key, name, desc string }{
			{"a", "Customer Support", ""},
			{"b", "Billing", "handles support tickets"},
			{"c", "Sales", "leads"},
			{"d", "Support", "Billing questions"},
		} {
			al := newAlias(a.key, "agent-1")
			al.Name, al.Description = a.name, a.desc
			mustCreateAlias(t, st, "", al)
		}
		for _, tc := range []struct {
			re   string
			want []string
		}{
			{"support", []string{"b"}},
			{"(?i)support", []string{"a", "b", "d"}},
			{"^Sales$", []string{"c"}},
			{"tickets$", []string{"b"}},
			{"^leads$", []string{"c"}},
			{"Billing", []string{"b", "d"}},
			{`Billing[\s\S]*handles`, nil}, // name and description are matched separately
			{"^$", []string{"a"}},          // a's empty description
			{"nothing", nil},
		} {
			q := storage.AliasQuery{Filter: regexp.MustCompile(tc.re)}
			diff(t, "Filter "+tc.re, tc.want, aliasKeys(allAliases(t, st, "", q)))
			q.Limit = 1
			diff(t, "Filter "+tc.re+", 1 per page", tc.want, aliasKeys(allAliases(t, st, "", q)))
		}
	})
	s.test(t, "Combined", func(t *testing.T, st storage.Storage) {
		for i, k := range numbered("k", 12) {
			a := newAlias(k, "agent-1")
			a.Enabled = i%2 == 0
			if i%3 == 0 {
				a.Policy = singlePolicy("agent-2")
			}
			if i%4 == 0 {
				a.Description = "special"
			}
			mustCreateAlias(t, st, "", a)
		}
		q := storage.AliasQuery{Enabled: &yes, AgentKey: "agent-2", Filter: regexp.MustCompile("special")}
		diff(t, "Enabled, AgentKey and Filter", []string{"k00"}, aliasKeys(allAliases(t, st, "", q)))
		q = storage.AliasQuery{Enabled: &yes, AgentKey: "agent-2", Limit: 1}
		diff(t, "Enabled and AgentKey", []string{"k00", "k06"}, aliasKeys(allAliases(t, st, "", q)))
		q = storage.AliasQuery{Enabled: &no, AgentKey: "agent-1", Limit: 2}
		diff(t, "disabled with agent-1", []string{"k01", "k05", "k07", "k11"}, aliasKeys(allAliases(t, st, "", q)))
	})
	s.test(t, "NextEmptyWhenNothingMoreMatches", func(t *testing.T, st storage.Storage) {
		for i, k := range numbered("k", 8) {
			a := newAlias(k, "agent-1")
			a.Enabled = i < 3
			mustCreateAlias(t, st, "", a)
		}
		p, err := st.ListAliases(t.Context(), "", storage.AliasQuery{Enabled: &yes, Limit: 3})
		must(t, "ListAliases", err)
		diff(t, "enabled aliases", []string{"k00", "k01", "k02"}, aliasKeys(p.Items))
		if p.Next != "" {
			t.Errorf("Next = %q, want \"\": no alias after the page matches", p.Next)
		}
		p, err = st.ListAliases(t.Context(), "", storage.AliasQuery{Limit: 8})
		must(t, "ListAliases", err)
		if len(p.Items) != 8 || p.Next != "" {
			t.Errorf("ListAliases with Limit 8 of 8 = %d items, Next %q; want 8 and \"\"", len(p.Items), p.Next)
		}
	})
}
