package storagetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/storage"
)

func (s *suite) events(t *testing.T) {
	group(t, "Append", s.eventsAppend)
	group(t, "Get", s.eventsGet)
	group(t, "List", s.eventsList)
	group(t, "Hide", s.eventsHide)
	group(t, "Delete", s.eventsDelete)
}

// withSession returns st after creating the session s1 in the default tenant.
func withSession(t *testing.T, st storage.Storage) storage.Storage {
	t.Helper()
	mustCreateSession(t, st, "", newSession("s1", "", "agent-1"))
	return st
}

// hidden returns e with HideReason set to event.HiddenManual.
func hidden(e *event.Event) *event.Event {
	e.HideReason = event.HiddenManual
	return e
}

func (s *suite) eventsAppend(t *testing.T) {
	s.test(t, "OK", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		// Append order, not id order, across several calls.
		batches := [][]string{{"aev_z", "aev_a"}, {"aev_m"}, {"aev_B", "aev_9", "aev_y"}}
		var want []*event.Event
		for _, ids := range batches {
			var evs []*event.Event
			for _, id := range ids {
				evs = append(evs, newEvent("s1", id))
				want = append(want, newEvent("s1", id))
			}
			mustAppend(t, st, "", "s1", evs...)
		}
		diff(t, "ListEvents", want, allEvents(t, st, "", "s1", storage.EventQuery{}))
		for _, w := range want {
			diff(t, "Event "+w.ID, w, mustEvent(t, st, "", "s1", w.ID))
		}
	})
	s.test(t, "AllTypes", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustAppend(t, st, "", "s1", richEvents("s1")...)
		want := richEvents("s1")
		diff(t, "ListEvents with hidden", want, allEvents(t, st, "", "s1", storage.EventQuery{IncludeHidden: true}))
		for _, w := range want {
			diff(t, "Event "+w.ID, w, mustEvent(t, st, "", "s1", w.ID))
		}
	})
	s.test(t, "SameIDInOtherSession", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustCreateSession(t, st, "", newSession("s2", "", "agent-1"))
		mustAppendIDs(t, st, "", "s1", "aev_1")
		mustAppendIDs(t, st, "", "s2", "aev_1")
		diff(t, "event of s2", newEvent("s2", "aev_1"), mustEvent(t, st, "", "s2", "aev_1"))
		diff(t, "event of s1", newEvent("s1", "aev_1"), mustEvent(t, st, "", "s1", "aev_1"))
	})
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		err := st.AppendEvents(t.Context(), "", "missing", []*event.Event{newEvent("missing", "aev_1")})
		wantErr(t, "AppendEvents to a missing session", err, storage.ErrNotFound)
		err = st.AppendEvents(t.Context(), "", "s10", []*event.Event{newEvent("s10", "aev_1")})
		wantErr(t, "AppendEvents to a session whose key extends an existing one", err, storage.ErrNotFound)
		diff(t, "events of s1", []string(nil), idsOf(allEvents(t, st, "", "s1", storage.EventQuery{IncludeHidden: true})))
	})
	s.test(t, "ErrExists", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustAppendIDs(t, st, "", "s1", "aev_0")
		for _, tc := range []struct {
			name string
			ids  []string
		}{
			{"TwiceInBatch", []string{"aev_1", "aev_2", "aev_1"}},
			{"TwiceInBatchAdjacent", []string{"aev_1", "aev_1"}},
			{"AlreadyStored", []string{"aev_1", "aev_0"}},
			{"AlreadyStoredFirst", []string{"aev_0", "aev_1"}},
		} {
			var evs []*event.Event
			for _, id := range tc.ids {
				evs = append(evs, newEvent("s1", id))
			}
			wantErr(t, tc.name, st.AppendEvents(t.Context(), "", "s1", evs), storage.ErrExists)
			diff(t, tc.name+": events after the failed append", []string{"aev_0"}, idsOf(allEvents(t, st, "", "s1", storage.EventQuery{IncludeHidden: true})))
			_, err := st.Event(t.Context(), "", "s1", "aev_1")
			wantErr(t, tc.name+": Event aev_1 after the failed append", err, storage.ErrNotFound)
		}
		// A hidden event's id is used too.
		mustHide(t, st, "", "s1", "aev_0", event.HiddenManual)
		wantErr(t, "append the id of a hidden event", st.AppendEvents(t.Context(), "", "s1", []*event.Event{newEvent("s1", "aev_0")}), storage.ErrExists)
	})
	s.test(t, "ErrInvalid", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustCreateSession(t, st, "", newSession("s2", "", "agent-1"))
		withID := func(id string) *event.Event { return newEvent("s1", id) }
		withSessionKey := func(key string) *event.Event { return newEvent(key, "aev_x") }
		for _, tc := range []struct {
			name string
			bad  *event.Event
		}{
			{"EmptyID", withID("")},
			{"PrefixOnly", withID("aev_")},
			{"OtherPrefix", withID("evt_1")},
			{"UpperPrefix", withID("AEV_1")},
			{"Space", withID("aev_a b")},
			{"Slash", withID("aev_a/b")},
			{"NonASCII", withID("aev_é")},
			{"ArtifactID", withID("art_1")},
			{"EmptySessionKey", withSessionKey("")},
			{"OtherSessionKey", withSessionKey("s2")},
			{"PrefixSessionKey", withSessionKey("s")},
		} {
			err := st.AppendEvents(t.Context(), "", "s1", []*event.Event{newEvent("s1", "aev_good"), tc.bad})
			wantErr(t, tc.name, err, storage.ErrInvalid)
		}
		diff(t, "events of s1 after failed appends", []string(nil), idsOf(allEvents(t, st, "", "s1", storage.EventQuery{IncludeHidden: true})))
		diff(t, "events of s2 after failed appends", []string(nil), idsOf(allEvents(t, st, "", "s2", storage.EventQuery{IncludeHidden: true})))
	})
}

func (s *suite) eventsGet(t *testing.T) {
	s.test(t, "Hidden", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustAppend(t, st, "", "s1", newEvent("s1", "aev_1"), hidden(newEvent("s1", "aev_2")))
		mustHide(t, st, "", "s1", "aev_1", event.HiddenManual)
		diff(t, "Event hidden by SetEventHidden", hidden(newEvent("s1", "aev_1")), mustEvent(t, st, "", "s1", "aev_1"))
		diff(t, "Event appended hidden", hidden(newEvent("s1", "aev_2")), mustEvent(t, st, "", "s1", "aev_2"))
	})
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustCreateSession(t, st, "", newSession("s2", "", "agent-1"))
		mustAppendIDs(t, st, "", "s1", "aev_1")
		mustAppendIDs(t, st, "", "s2", "aev_2")
		for _, tc := range []struct{ session, id string }{
			{"s1", "aev_2"},      // an event of another session
			{"s1", "aev_10"},     // an id extending an existing one
			{"s1", "aev_"},       // a prefix of an existing one
			{"missing", "aev_1"}, // a missing session
			{"s2", "aev_1"},
		} {
			_, err := st.Event(t.Context(), "", tc.session, tc.id)
			wantErr(t, fmt.Sprintf("Event(%q, %q)", tc.session, tc.id), err, storage.ErrNotFound)
		}
	})
}

func (s *suite) eventsList(t *testing.T) {
	s.test(t, "Empty", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		p, err := st.ListEvents(t.Context(), "", "s1", storage.EventQuery{})
		must(t, "ListEvents", err)
		if len(p.Items) != 0 || p.Next != "" {
			t.Errorf("ListEvents of a new session = %d items, Next %q; want none and \"\"", len(p.Items), p.Next)
		}
	})
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		_, err := st.ListEvents(t.Context(), "", "missing", storage.EventQuery{})
		wantErr(t, "ListEvents of a missing session", err, storage.ErrNotFound)
		_, err = st.ListEvents(t.Context(), "", "missing", storage.EventQuery{IncludeHidden: true, Limit: 5})
		wantErr(t, "ListEvents of a missing session with IncludeHidden", err, storage.ErrNotFound)
	})
	s.test(t, "Hidden", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustAppend(t, st, "", "s1", newEvent("s1", "aev_1"), newEvent("s1", "aev_2"), hidden(newEvent("s1", "aev_3")))
		mustAppend(t, st, "", "s1", newEvent("s1", "aev_4"), newEvent("s1", "aev_5"))
		mustHide(t, st, "", "s1", "aev_2", event.HiddenManual)
		mustHide(t, st, "", "s1", "aev_5", "compacted")
		diff(t, "visible events", []string{"aev_1", "aev_4"}, idsOf(allEvents(t, st, "", "s1", storage.EventQuery{})))
		all := allEvents(t, st, "", "s1", storage.EventQuery{IncludeHidden: true})
		want := []*event.Event{newEvent("s1", "aev_1"), hidden(newEvent("s1", "aev_2")), hidden(newEvent("s1", "aev_3")), newEvent("s1", "aev_4"), newEvent("s1", "aev_5")}
		want[4].HideReason = "compacted"
		diff(t, "events with IncludeHidden", want, all)
	})
	s.test(t, "DefaultLimit", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		ids := eventIDs("e", storage.DefaultLimit+1)
		mustAppendIDs(t, st, "", "s1", ids...)
		p, err := st.ListEvents(t.Context(), "", "s1", storage.EventQuery{})
		must(t, "ListEvents", err)
		diff(t, "first page with Limit 0", ids[:storage.DefaultLimit], idsOf(p.Items))
		if p.Next == "" {
			t.Fatalf("Next is empty though one more event exists")
		}
		p, err = st.ListEvents(t.Context(), "", "s1", storage.EventQuery{PageKey: p.Next})
		must(t, "ListEvents page 2", err)
		diff(t, "second page", ids[storage.DefaultLimit:], idsOf(p.Items))
		if p.Next != "" {
			t.Errorf("Next = %q on the last page, want \"\"", p.Next)
		}
	})
	s.test(t, "MaxLimit", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		ids := eventIDs("e", storage.MaxLimit+1)
		mustAppendIDs(t, st, "", "s1", ids...)
		p, err := st.ListEvents(t.Context(), "", "s1", storage.EventQuery{Limit: storage.MaxLimit})
		must(t, "ListEvents", err)
		diff(t, "first page with Limit 100", ids[:storage.MaxLimit], idsOf(p.Items))
		diff(t, "all pages", ids, idsOf(allEvents(t, st, "", "s1", storage.EventQuery{Limit: storage.MaxLimit})))
	})
	s.test(t, "ErrInvalid", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustAppendIDs(t, st, "", "s1", "aev_1")
		for _, limit := range badLimits() {
			_, err := st.ListEvents(t.Context(), "", "s1", storage.EventQuery{Limit: limit})
			wantErr(t, fmt.Sprintf("ListEvents with Limit %d", limit), err, storage.ErrInvalid)
		}
		_, err := st.ListEvents(t.Context(), "", "s1", storage.EventQuery{PageKey: garbagePageKey})
		wantErr(t, "ListEvents with a garbage page key", err, storage.ErrInvalid)
	})
	s.test(t, "Pagination", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		// 17 events in 4 appends, ids out of order, every third hidden.
		order := []int{5, 0, 16, 3, 9, 1, 12, 7, 2, 14, 10, 4, 15, 6, 11, 8, 13}
		ids := eventIDs("p", 17)
		var all, visible []string
		var batch []*event.Event
		for n, i := range order {
			e := newEvent("s1", ids[i])
			if n%3 == 1 {
				hidden(e)
			} else {
				visible = append(visible, e.ID)
			}
			all = append(all, e.ID)
			batch = append(batch, e)
			if n%5 == 4 || n == len(order)-1 {
				mustAppend(t, st, "", "s1", batch...)
				batch = nil
			}
		}
		for _, limit := range []int{1, 2, 3, 4, 5, 7, 11, 12, 17, 18} {
			diff(t, fmt.Sprintf("visible events with Limit %d", limit), visible, idsOf(allEvents(t, st, "", "s1", storage.EventQuery{Limit: limit})))
			diff(t, fmt.Sprintf("all events with Limit %d", limit), all, idsOf(allEvents(t, st, "", "s1", storage.EventQuery{Limit: limit, IncludeHidden: true})))
		}
	})
	s.test(t, "NextEmptyWhenNothingMoreMatches", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustAppend(t, st, "", "s1", newEvent("s1", "aev_1"), newEvent("s1", "aev_2"), newEvent("s1", "aev_3"),
			hidden(newEvent("s1", "aev_4")), hidden(newEvent("s1", "aev_5")))
		p, err := st.ListEvents(t.Context(), "", "s1", storage.EventQuery{Limit: 3})
		must(t, "ListEvents", err)
		diff(t, "visible events", []string{"aev_1", "aev_2", "aev_3"}, idsOf(p.Items))
		if p.Next != "" {
			t.Errorf("Next = %q, want \"\": only hidden events follow", p.Next)
		}
	})
	s.test(t, "Stability", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		ids := eventIDs("s", 20)
		mustAppendIDs(t, st, "", "s1", ids...)
		ever := map[string]bool{}
		for _, id := range ids {
			ever[id] = true
		}
		gone := map[string]bool{}
		del := func(ids ...string) {
			for _, id := range ids {
				must(t, "DeleteEvent "+id, st.DeleteEvent(t.Context(), "", "s1", id))
				gone[id] = true
			}
		}
		appendNew := func(ids ...string) {
			mustAppendIDs(t, st, "", "s1", ids...)
			for _, id := range ids {
				ever[id] = true
			}
		}
		q := storage.EventQuery{Limit: 5}
		p1, err := st.ListEvents(t.Context(), "", "s1", q)
		must(t, "ListEvents page 1", err)
		if len(p1.Items) != 5 || p1.Next == "" {
			t.Fatalf("page 1 = %d items, Next %q; want 5 items and more", len(p1.Items), p1.Next)
		}
		del(p1.Items[4].ID, p1.Items[2].ID, ids[11])
		appendNew("aev_new1", "aev_new2")
		q.PageKey = p1.Next
		p2, err := st.ListEvents(t.Context(), "", "s1", q)
		must(t, "ListEvents page 2", err)
		if len(p2.Items) != 5 || p2.Next == "" {
			t.Fatalf("page 2 = %d items, Next %q; want 5 items and more", len(p2.Items), p2.Next)
		}
		got := append(idsOf(p1.Items), idsOf(p2.Items)...)
		del(p2.Items[4].ID, ids[16], "aev_new1")
		appendNew("aev_new3")
		got = append(got, idsOf(allEvents(t, st, "", "s1", storage.EventQuery{Limit: 5, PageKey: p2.Next}))...)
		var throughout []string
		for _, id := range ids {
			if !gone[id] {
				throughout = append(throughout, id)
			}
		}
		checkStable(t, got, throughout, ever)
	})
	s.testForeignPageKeys(t, "events", func(ctx context.Context, st storage.Storage, pageKey string) error {
		_, err := st.ListEvents(ctx, "", "pk-1", storage.EventQuery{Limit: 1, PageKey: pageKey})
		return err
	})
}

func (s *suite) eventsHide(t *testing.T) {
	s.test(t, "OK", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustAppend(t, st, "", "s1", richEvents("s1")...)
		for _, e := range richEvents("s1") {
			want := e.Clone()
			want.HideReason = event.HiddenManual
			diff(t, "SetEventHidden result for "+e.ID, want, mustHide(t, st, "", "s1", e.ID, event.HiddenManual))
			diff(t, "Event after SetEventHidden", want, mustEvent(t, st, "", "s1", e.ID))
		}
		diff(t, "visible events", []string(nil), idsOf(allEvents(t, st, "", "s1", storage.EventQuery{})))
	})
	s.test(t, "Idempotent", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustAppendIDs(t, st, "", "s1", "aev_1", "aev_2")
		want := hidden(newEvent("s1", "aev_1"))
		for i := 0; i < 3; i++ {
			diff(t, fmt.Sprintf("SetEventHidden call %d", i+1), want, mustHide(t, st, "", "s1", "aev_1", event.HiddenManual))
		}
		diff(t, "Event", want, mustEvent(t, st, "", "s1", "aev_1"))
		// Unhiding a visible event is no error either.
		diff(t, "SetEventHidden of a visible event to \"\"", newEvent("s1", "aev_2"), mustHide(t, st, "", "s1", "aev_2", ""))
		diff(t, "events with hidden", []string{"aev_1", "aev_2"}, idsOf(allEvents(t, st, "", "s1", storage.EventQuery{IncludeHidden: true})))
	})
	s.test(t, "Unhide", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustAppend(t, st, "", "s1", newEvent("s1", "aev_1"), hidden(newEvent("s1", "aev_2")), newEvent("s1", "aev_3"))
		mustHide(t, st, "", "s1", "aev_1", event.HiddenManual)
		diff(t, "visible events", []string{"aev_3"}, idsOf(allEvents(t, st, "", "s1", storage.EventQuery{})))
		diff(t, "SetEventHidden(\"\")", newEvent("s1", "aev_2"), mustHide(t, st, "", "s1", "aev_2", ""))
		diff(t, "Event after unhide", newEvent("s1", "aev_2"), mustEvent(t, st, "", "s1", "aev_2"))
		// An unhidden event keeps its place.
		diff(t, "visible events after unhide", []string{"aev_2", "aev_3"}, idsOf(allEvents(t, st, "", "s1", storage.EventQuery{})))
		mustHide(t, st, "", "s1", "aev_1", "")
		diff(t, "visible events after unhiding all", []string{"aev_1", "aev_2", "aev_3"}, idsOf(allEvents(t, st, "", "s1", storage.EventQuery{})))
	})
	s.test(t, "ChangeReason", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustAppendIDs(t, st, "", "s1", "aev_1")
		mustHide(t, st, "", "s1", "aev_1", "compacted")
		want := hidden(newEvent("s1", "aev_1"))
		diff(t, "SetEventHidden with another reason", want, mustHide(t, st, "", "s1", "aev_1", event.HiddenManual))
		diff(t, "Event", want, mustEvent(t, st, "", "s1", "aev_1"))
	})
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustCreateSession(t, st, "", newSession("s2", "", "agent-1"))
		mustAppendIDs(t, st, "", "s1", "aev_1")
		for _, tc := range []struct{ session, id string }{
			{"s1", "aev_missing"},
			{"s2", "aev_1"},
			{"missing", "aev_1"},
		} {
			_, err := st.SetEventHidden(t.Context(), "", tc.session, tc.id, event.HiddenManual)
			wantErr(t, fmt.Sprintf("SetEventHidden(%q, %q)", tc.session, tc.id), err, storage.ErrNotFound)
		}
		diff(t, "Event aev_1", newEvent("s1", "aev_1"), mustEvent(t, st, "", "s1", "aev_1"))
		_, err := st.Event(t.Context(), "", "s2", "aev_1")
		wantErr(t, "Event(s2, aev_1) after the failed SetEventHidden", err, storage.ErrNotFound)
	})
}

func (s *suite) eventsDelete(t *testing.T) {
	s.test(t, "OK", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustCreateSession(t, st, "", newSession("s2", "", "agent-1"))
		mustAppendIDs(t, st, "", "s1", "aev_1", "aev_2", "aev_3", "aev_4")
		mustAppendIDs(t, st, "", "s2", "aev_2")
		mustHide(t, st, "", "s1", "aev_4", event.HiddenManual)
		must(t, "DeleteEvent", st.DeleteEvent(t.Context(), "", "s1", "aev_2"))
		must(t, "DeleteEvent of a hidden event", st.DeleteEvent(t.Context(), "", "s1", "aev_4"))
		for _, id := range []string{"aev_2", "aev_4"} {
			_, err := st.Event(t.Context(), "", "s1", id)
			wantErr(t, "Event after DeleteEvent", err, storage.ErrNotFound)
		}
		diff(t, "events with hidden", []string{"aev_1", "aev_3"}, idsOf(allEvents(t, st, "", "s1", storage.EventQuery{IncludeHidden: true})))
		diff(t, "event of the other session", newEvent("s2", "aev_2"), mustEvent(t, st, "", "s2", "aev_2"))
		mustAppendIDs(t, st, "", "s1", "aev_5")
		diff(t, "events after a later append", []string{"aev_1", "aev_3", "aev_5"}, idsOf(allEvents(t, st, "", "s1", storage.EventQuery{})))
	})
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustCreateSession(t, st, "", newSession("s2", "", "agent-1"))
		mustAppendIDs(t, st, "", "s1", "aev_1")
		wantErr(t, "DeleteEvent of a missing event", st.DeleteEvent(t.Context(), "", "s1", "aev_missing"), storage.ErrNotFound)
		wantErr(t, "DeleteEvent in another session", st.DeleteEvent(t.Context(), "", "s2", "aev_1"), storage.ErrNotFound)
		wantErr(t, "DeleteEvent in a missing session", st.DeleteEvent(t.Context(), "", "missing", "aev_1"), storage.ErrNotFound)
		must(t, "DeleteEvent", st.DeleteEvent(t.Context(), "", "s1", "aev_1"))
		wantErr(t, "second DeleteEvent", st.DeleteEvent(t.Context(), "", "s1", "aev_1"), storage.ErrNotFound)
	})
}
