package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// FuzzPageKeys is the cursor fuzz target every store runs: it fills st with
// a small fixed data set and lists it with fuzzed page keys and limits. A
// list must not panic; it either fails with ErrInvalid (always, for a limit
// above MaxLimit) or returns a valid page: at most limit items, a run of the
// full list in its order, exactly limit items when a next page key is given
// (and that key continues the run), and the rest of the list when none is.
//
//	func FuzzPageKey(f *testing.F) {
//		st := open(f) // a fresh, empty store
//		storagetest.FuzzPageKeys(f, st)
//	}
func FuzzPageKeys(f *testing.F, st storage.Storage) {
	fuzzPopulate(f, st)
	fuzzPageKey(f, st)
}

// fuzzAt returns a fixed time plus ms milliseconds.
func fuzzAt(ms int) time.Time {
	return time.Date(2026, time.June, 2, 10, 35, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond)
}

// fuzzPopulate fills st: in the default tenant 12 aliases (half disabled,
// half routing to ag1), 14 sessions with two deleted (a third created
// through alias "a"; agents ag1 and ag2), 15 events in s00 with one deleted
// and three hidden, and 12 artifacts in s00 with tied timestamps; a few
// items in tenant "t2".
func fuzzPopulate(tb testing.TB, st storage.Storage) {
	tb.Helper()
	ctx := context.Background()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	single := func(agent string) policy.Document {
		return policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
			{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: agent}},
		}}
	}
	for _, tenant := range []string{"", "t2"} {
		aliasKeys := []string{"A", "B-1", "_x", "a", "a-b", "a0", "ab", "b", "support", "z", "Z9", "zz"}
		if tenant != "" {
			aliasKeys = []string{"a", "m"}
		}
		for i, k := range aliasKeys {
			agent := "ag1"
			if i%2 == 1 {
				agent = "ag2"
			}
			_, err := st.CreateAlias(ctx, tenant, &alias.Alias{Key: k, Name: "Alias " + k, Policy: single(agent),
				Enabled: i%3 != 0, CreatedAt: fuzzAt(0)})
			must(err)
		}
		n := 14
		if tenant != "" {
			n = 3
		}
		for i := range n {
			s := &session.Session{Key: fmt.Sprintf("s%02d", i), AgentKey: "ag1", Name: fmt.Sprintf("Session %d", i),
				Enabled: true, Status: session.Unstarted, CreatedAt: fuzzAt(i)}
			if i%2 == 1 {
				s.AgentKey = "ag2"
			}
			if i%3 == 0 {
				s.AliasKey = "a"
			}
			_, err := st.CreateSession(ctx, tenant, s)
			must(err)
		}
		if tenant != "" {
			continue
		}
		must(st.DeleteSession(ctx, tenant, "s04"))
		must(st.DeleteSession(ctx, tenant, "s09"))
		var evs []*event.Event
		for i := range 15 {
			evs = append(evs, &event.Event{ID: fmt.Sprintf("aev_e%02d", i), SessionKey: "s00", CreatedAt: fuzzAt(i),
				Type: event.AgentOutput, Content: fmt.Sprintf("output %d", i)})
		}
		must(st.AppendEvents(ctx, tenant, "s00", evs))
		must(st.DeleteEvent(ctx, tenant, "s00", "aev_e05"))
		for _, id := range []string{"aev_e00", "aev_e07", "aev_e08"} {
			_, err := st.SetEventHidden(ctx, tenant, "s00", id, event.HiddenManual)
			must(err)
		}
		for i := range 12 {
			data := []byte(fmt.Sprintf("content %d", i))
			must(st.CreateArtifact(ctx, tenant, &artifact.Artifact{
				ID: fmt.Sprintf("art_r%02d", (i*5)%12), SessionKey: "s00", Filename: "f.txt", MimeType: "text/plain",
				SizeBytes: int64(len(data)), ChecksumSHA256: artifact.Checksum(data), Data: data,
				CreatedAt: fuzzAt(i / 3), UpdatedAt: fuzzAt(10 + (11-i)/2),
			}))
		}
	}
}

// fuzzLister is one list of the store, with the ids of its items.
type fuzzLister struct {
	name string
	list func(limit int, pageKey string) (ids []string, next string, err error)
}

func fuzzListers(st storage.Storage) []fuzzLister {
	ctx := context.Background()
	aliases := func(q storage.AliasQuery) func(int, string) ([]string, string, error) {
		return func(limit int, pageKey string) ([]string, string, error) {
			q.Limit, q.PageKey = limit, pageKey
			page, err := st.ListAliases(ctx, "", q)
			var ids []string
			for _, a := range page.Items {
				ids = append(ids, a.Key)
			}
			return ids, page.Next, err
		}
	}
	sessions := func(q storage.SessionQuery) func(int, string) ([]string, string, error) {
		return func(limit int, pageKey string) ([]string, string, error) {
			q.Limit, q.PageKey = limit, pageKey
			page, err := st.ListSessions(ctx, "", q)
			var ids []string
			for _, s := range page.Items {
				ids = append(ids, s.Key)
			}
			return ids, page.Next, err
		}
	}
	events := func(key string, q storage.EventQuery) func(int, string) ([]string, string, error) {
		return func(limit int, pageKey string) ([]string, string, error) {
			q.Limit, q.PageKey = limit, pageKey
			page, err := st.ListEvents(ctx, "", key, q)
			var ids []string
			for _, e := range page.Items {
				ids = append(ids, e.ID)
			}
			return ids, page.Next, err
		}
	}
	artifacts := func(key string, q storage.ArtifactQuery) func(int, string) ([]string, string, error) {
		return func(limit int, pageKey string) ([]string, string, error) {
			q.Limit, q.PageKey = limit, pageKey
			page, err := st.ListArtifacts(ctx, "", key, q)
			var ids []string
			for _, a := range page.Items {
				ids = append(ids, a.ID)
			}
			return ids, page.Next, err
		}
	}
	yes := true
	return []fuzzLister{
		{"aliases", aliases(storage.AliasQuery{})},
		{"aliases enabled", aliases(storage.AliasQuery{Enabled: &yes})},
		{"aliases of ag1", aliases(storage.AliasQuery{AgentKey: "ag1"})},
		{"sessions", sessions(storage.SessionQuery{})},
		{"sessions of alias a", sessions(storage.SessionQuery{AliasKey: "a"})},
		{"sessions of ag2", sessions(storage.SessionQuery{AgentKey: "ag2"})},
		{"events", events("s00", storage.EventQuery{})},
		{"events with hidden", events("s00", storage.EventQuery{IncludeHidden: true})},
		{"artifacts", artifacts("s00", storage.ArtifactQuery{})},
		{"artifacts created asc", artifacts("s00", storage.ArtifactQuery{SortBy: storage.SortCreatedAt, Order: storage.OrderAsc})},
		{"artifacts updated desc", artifacts("s00", storage.ArtifactQuery{SortBy: storage.SortUpdatedAt, Order: storage.OrderDesc})},
		{"artifacts updated asc", artifacts("s00", storage.ArtifactQuery{SortBy: storage.SortUpdatedAt, Order: storage.OrderAsc})},
		// A session without events or artifacts.
		{"events of s01", events("s01", storage.EventQuery{IncludeHidden: true})},
		{"artifacts of s01", artifacts("s01", storage.ArtifactQuery{SortBy: storage.SortUpdatedAt, Order: storage.OrderAsc})},
	}
}

// fuzzPageKey runs the fuzz target over st, which fuzzPopulate filled.
func fuzzPageKey(f *testing.F, st storage.Storage) {
	listers := fuzzListers(st)
	full := make([][]string, len(listers))
	for i, l := range listers {
		ids, next, err := l.list(storage.MaxLimit, "")
		if err != nil || next != "" {
			f.Fatalf("%s: %d items, next %q, error %v", l.name, len(ids), next, err)
		}
		full[i] = ids
		// Seeds: the page keys the store makes, and corruptions of them.
		for _, limit := range []int{1, 3, 5} {
			_, next, err := l.list(limit, "")
			if err != nil {
				f.Fatalf("%s: first page of %d: %v", l.name, limit, err)
			}
			if next == "" {
				continue
			}
			f.Add(uint8(i), uint8(limit), next)
			f.Add(uint8(i), uint8(0), next[:len(next)-1])
			f.Add(uint8(i), uint8(2), next+"A")
			f.Add(uint8((i+1)%len(listers)), uint8(2), next) // another list's key
		}
	}
	for _, s := range []string{"", "!", "====", "ZTowMDAwMDAwMQ", "cnVhOg", "YTo", "YTp6eg", "czox", "czo5OTk5OTk5OTk5OTk5OTk5OTk5OTk", "ZTotMQ", "cmNkOjA6YXJ0X3IwMA", "cmNkOjE6", "cmNkOng6YXJ0X3g", "\x00\xff"} {
		f.Add(uint8(0), uint8(0), s)
		f.Add(uint8(3), uint8(101), s)
		f.Add(uint8(8), uint8(150), s)
	}
	f.Fuzz(func(t *testing.T, which, limitByte uint8, pageKey string) {
		i := int(which) % len(listers)
		l, all := listers[i], full[i]
		limit := int(limitByte) % 151
		ids, next, err := l.list(limit, pageKey)
		what := fmt.Sprintf("%s with limit %d and page key %q", l.name, limit, pageKey)
		if err != nil {
			if !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("%s: error %v is not ErrInvalid", what, err)
			}
			return
		}
		if limit > storage.MaxLimit {
			t.Fatalf("%s: no error for a limit above %d", what, storage.MaxLimit)
		}
		want := limit
		if want == 0 {
			want = storage.DefaultLimit
		}
		end := fuzzCheckRun(t, what, all, ids, next, want)
		if next == "" {
			return
		}
		more, _, err := l.list(limit, next)
		if err != nil {
			t.Fatalf("%s: next page key %q: %v", what, next, err)
		}
		if len(more) == 0 || !slices.Equal(more, all[end:end+len(more)]) {
			t.Fatalf("%s: next page %v does not continue %v (full list %v)", what, more, ids, all)
		}
	})
}

// fuzzCheckRun checks that ids, a page of limit items at most with next
// page key next, is a run of the full list all in order, of exactly limit
// items if next is set and reaching the end of all if not. It returns the
// index in all just after the run.
func fuzzCheckRun(t *testing.T, what string, all, ids []string, next string, limit int) int {
	t.Helper()
	if len(ids) > limit {
		t.Fatalf("%s: %d items, more than the limit", what, len(ids))
	}
	if next != "" && len(ids) != limit {
		t.Fatalf("%s: %d items with a next page key %q; want %d", what, len(ids), next, limit)
	}
	if len(ids) == 0 {
		if next != "" {
			t.Fatalf("%s: empty page with a next page key %q", what, next)
		}
		return len(all)
	}
	start := slices.Index(all, ids[0])
	if start < 0 || start+len(ids) > len(all) || !slices.Equal(ids, all[start:start+len(ids)]) {
		t.Fatalf("%s: page %v is not a run of the full list %v", what, ids, all)
	}
	end := start + len(ids)
	if next == "" && end != len(all) {
		t.Fatalf("%s: page %v has no next page key, but %v follow", what, ids, all[end:])
	}
	return end
}
