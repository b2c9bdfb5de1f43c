package storagetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/storage"
)

func (s *suite) artifacts(t *testing.T) {
	group(t, "Create", s.artifactsCreate)
	group(t, "Get", s.artifactsGet)
	group(t, "List", s.artifactsList)
}

// timedArtifact returns newArtifact with the given creation and update
// times, in milliseconds after at(0).
func timedArtifact(sessionKey, id string, created, updated int) *artifact.Artifact {
	a := newArtifact(sessionKey, id)
	a.CreatedAt, a.UpdatedAt = at(created), at(updated)
	return a
}

// sortArtifacts sorts as by q's order: SortBy time (CreatedAt by default)
// in Order (descending by default), ties broken by ID in the same direction.
func sortArtifacts(as []*artifact.Artifact, q storage.ArtifactQuery) []string {
	as = slices.Clone(as)
	key := func(a *artifact.Artifact) time.Time { return a.CreatedAt }
	if q.SortBy == storage.SortUpdatedAt {
		key = func(a *artifact.Artifact) time.Time { return a.UpdatedAt }
	}
	slices.SortFunc(as, func(a, b *artifact.Artifact) int {
		c := key(a).Compare(key(b))
		if c == 0 {
			c = cmp.Compare(a.ID, b.ID)
		}
		if q.Order != storage.OrderAsc {
			c = -c
		}
		return c
	})
	return artifactIDs(as)
}

// sortQueries are every combination of SortBy and Order, defaults included.
func sortQueries() []storage.ArtifactQuery {
	var qs []storage.ArtifactQuery
	for _, by := range []string{"", storage.SortCreatedAt, storage.SortUpdatedAt} {
		for _, order := range []string{"", storage.OrderAsc, storage.OrderDesc} {
			qs = append(qs, storage.ArtifactQuery{SortBy: by, Order: order})
		}
	}
	return qs
}

func (s *suite) artifactsCreate(t *testing.T) {
	s.test(t, "OK", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		in := newArtifact("s1", "art_report-1")
		in.MimeType = "application/pdf"
		in.TTLDays = 7
		in.ExpiresAt = at(7 * 24 * 60 * minute)
		in.UpdatedAt = at(5)
		must(t, "CreateArtifact", st.CreateArtifact(t.Context(), "", in.Clone()))
		got := mustArtifact(t, st, "", "s1", "art_report-1")
		diff(t, "Artifact", in, got)
		if !got.Verify() {
			t.Errorf("Artifact does not verify against its checksum: %d bytes, SizeBytes %d", len(got.Data), got.SizeBytes)
		}
	})
	s.test(t, "BinaryContent", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		data := make([]byte, 70_000)
		for i := range data {
			data[i] = byte(i * 7)
		}
		for _, tc := range []struct {
			id   string
			data []byte
		}{
			{"art_big", data},
			{"art_empty", []byte{}},
			{"art_zeros", make([]byte, 5)},
		} {
			a := newArtifact("s1", tc.id)
			a.Data, a.SizeBytes, a.ChecksumSHA256 = tc.data, int64(len(tc.data)), artifact.Checksum(tc.data)
			mustCreateArtifact(t, st, "", a)
			got := mustArtifact(t, st, "", "s1", tc.id)
			diff(t, "Artifact "+tc.id, a, got)
			if !got.Verify() {
				t.Errorf("Artifact %s does not verify against its checksum", tc.id)
			}
		}
	})
	s.test(t, "ValidIDs", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		for _, id := range []string{"art_a", "art_0", "art_-", "art__", "art_abc-123_x", "art_" + strings.Repeat("z", 196)} {
			mustCreateArtifact(t, st, "", newArtifact("s1", id))
			diff(t, "Artifact "+id, newArtifact("s1", id), mustArtifact(t, st, "", "s1", id))
		}
	})
	s.test(t, "SameIDInOtherSession", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustCreateSession(t, st, "", newSession("s2", "", "agent-1"))
		a1, a2 := newArtifact("s1", "art_1"), newArtifact("s2", "art_1")
		a2.Filename = "other.txt"
		mustCreateArtifact(t, st, "", a1)
		mustCreateArtifact(t, st, "", a2)
		diff(t, "artifact of s1", a1, mustArtifact(t, st, "", "s1", "art_1"))
		diff(t, "artifact of s2", a2, mustArtifact(t, st, "", "s2", "art_1"))
	})
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		wantErr(t, "CreateArtifact in a missing session", st.CreateArtifact(t.Context(), "", newArtifact("missing", "art_1")), storage.ErrNotFound)
		wantErr(t, "CreateArtifact in a session whose key extends an existing one", st.CreateArtifact(t.Context(), "", newArtifact("s10", "art_1")), storage.ErrNotFound)
		_, err := st.Artifact(t.Context(), "", "s1", "art_1")
		wantErr(t, "Artifact after failed creates", err, storage.ErrNotFound)
	})
	s.test(t, "ErrExists", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		first := newArtifact("s1", "art_1")
		mustCreateArtifact(t, st, "", first)
		dup := newArtifact("s1", "art_1")
		dup.Filename = "dup.txt"
		dup.Data = []byte("other content")
		dup.SizeBytes, dup.ChecksumSHA256 = int64(len(dup.Data)), artifact.Checksum(dup.Data)
		wantErr(t, "CreateArtifact of an existing id", st.CreateArtifact(t.Context(), "", dup), storage.ErrExists)
		diff(t, "Artifact after the failed create", first, mustArtifact(t, st, "", "s1", "art_1"))
		diff(t, "artifacts after the failed create", []string{"art_1"}, artifactIDs(allArtifacts(t, st, "", "s1", storage.ArtifactQuery{})))
	})
	s.test(t, "ErrInvalid", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		for _, id := range []string{"", "art_", "art_ABC", "art_a b", "art_a/b", "art_é", "aev_1", "ART_1", "x", "art_" + strings.Repeat("z", 197)} {
			wantErr(t, fmt.Sprintf("CreateArtifact with id %q", id), st.CreateArtifact(t.Context(), "", newArtifact("s1", id)), storage.ErrInvalid)
		}
		diff(t, "artifacts after failed creates", []string(nil), artifactIDs(allArtifacts(t, st, "", "s1", storage.ArtifactQuery{})))
	})
}

func (s *suite) artifactsGet(t *testing.T) {
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustCreateSession(t, st, "", newSession("s2", "", "agent-1"))
		mustCreateArtifact(t, st, "", newArtifact("s1", "art_1"))
		for _, tc := range []struct{ session, id string }{
			{"s1", "art_2"},
			{"s1", "art_10"},
			{"s2", "art_1"},
			{"missing", "art_1"},
		} {
			_, err := st.Artifact(t.Context(), "", tc.session, tc.id)
			wantErr(t, fmt.Sprintf("Artifact(%q, %q)", tc.session, tc.id), err, storage.ErrNotFound)
		}
	})
	s.test(t, "Expired", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		a := newArtifact("s1", "art_1")
		a.TTLDays = 1
		a.ExpiresAt = at(24 * 60 * minute)
		mustCreateArtifact(t, st, "", a)
		diff(t, "Artifact of an expired artifact", a, mustArtifact(t, st, "", "s1", "art_1"))
	})
}

func (s *suite) artifactsList(t *testing.T) {
	s.test(t, "Empty", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		p, err := st.ListArtifacts(t.Context(), "", "s1", storage.ArtifactQuery{})
		must(t, "ListArtifacts", err)
		if len(p.Items) != 0 || p.Next != "" {
			t.Errorf("ListArtifacts of a new session = %d items, Next %q; want none and \"\"", len(p.Items), p.Next)
		}
	})
	s.test(t, "ErrNotFound", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		_, err := st.ListArtifacts(t.Context(), "", "missing", storage.ArtifactQuery{})
		wantErr(t, "ListArtifacts of a missing session", err, storage.ErrNotFound)
	})
	s.test(t, "WithoutData", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		var want []*artifact.Artifact
		for i, id := range []string{"art_c", "art_b", "art_a"} {
			a := timedArtifact("s1", id, 10-i, 10+i)
			a.TTLDays = int64(i)
			if i > 0 {
				a.ExpiresAt = at(100 * minute * i)
			}
			mustCreateArtifact(t, st, "", a)
			want = append(want, a.WithoutData())
		}
		got := allArtifacts(t, st, "", "s1", storage.ArtifactQuery{})
		diff(t, "ListArtifacts items", want, got)
		for _, a := range got {
			if a.Data != nil {
				t.Errorf("ListArtifacts item %s has Data (%d bytes), want nil", a.ID, len(a.Data))
			}
		}
	})
	s.test(t, "Order", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		// Ties on both times; creation order differs from every sort order.
		arts := []*artifact.Artifact{
			timedArtifact("s1", "art_f", 4, 9),
			timedArtifact("s1", "art_c", 2, 9),
			timedArtifact("s1", "art_a", 1, 5),
			timedArtifact("s1", "art_e", 1, 5),
			timedArtifact("s1", "art_d", 3, 1),
			timedArtifact("s1", "art_b", 2, 2),
			timedArtifact("s1", "art_g", -5, 20),
		}
		for _, a := range arts {
			mustCreateArtifact(t, st, "", a)
		}
		for _, q := range sortQueries() {
			want := sortArtifacts(arts, q)
			diff(t, fmt.Sprintf("SortBy %q, Order %q", q.SortBy, q.Order), want, artifactIDs(allArtifacts(t, st, "", "s1", q)))
		}
		// The defaults spelled out.
		diff(t, "default order is created_at desc", []string{"art_f", "art_d", "art_c", "art_b", "art_e", "art_a", "art_g"},
			artifactIDs(allArtifacts(t, st, "", "s1", storage.ArtifactQuery{})))
		diff(t, "updated_at asc", []string{"art_d", "art_b", "art_a", "art_e", "art_c", "art_f", "art_g"},
			artifactIDs(allArtifacts(t, st, "", "s1", storage.ArtifactQuery{SortBy: storage.SortUpdatedAt, Order: storage.OrderAsc})))
	})
	s.test(t, "Now", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		now := at(60 * minute)
		for _, tc := range []struct {
			id      string
			expires time.Time
		}{
			{"art_never", time.Time{}},
			{"art_before", now.Add(-time.Millisecond)},
			{"art_at", now},
			{"art_after", now.Add(time.Millisecond)},
		} {
			a := newArtifact("s1", tc.id)
			a.ExpiresAt = tc.expires
			mustCreateArtifact(t, st, "", a)
		}
		asc := storage.ArtifactQuery{SortBy: storage.SortCreatedAt, Order: storage.OrderAsc}
		diff(t, "without Now", []string{"art_after", "art_at", "art_before", "art_never"}, artifactIDs(allArtifacts(t, st, "", "s1", asc)))
		asc.Now = now
		diff(t, "with Now", []string{"art_after", "art_never"}, artifactIDs(allArtifacts(t, st, "", "s1", asc)))
		asc.Limit = 1
		diff(t, "with Now, 1 per page", []string{"art_after", "art_never"}, artifactIDs(allArtifacts(t, st, "", "s1", asc)))
		asc.Now = now.Add(-time.Hour)
		asc.Limit = 0
		diff(t, "with an earlier Now", []string{"art_after", "art_at", "art_before", "art_never"}, artifactIDs(allArtifacts(t, st, "", "s1", asc)))
		// Expired artifacts stay readable by id.
		mustArtifact(t, st, "", "s1", "art_before")

		// Next is "" when only expired artifacts follow.
		p, err := st.ListArtifacts(t.Context(), "", "s1", storage.ArtifactQuery{Now: now, Limit: 1, SortBy: storage.SortCreatedAt, Order: storage.OrderDesc})
		must(t, "ListArtifacts", err)
		if len(p.Items) != 1 {
			t.Fatalf("ListArtifacts with Limit 1 = %d items, want 1", len(p.Items))
		}
		q := storage.ArtifactQuery{Now: now, Limit: 1, SortBy: storage.SortCreatedAt, Order: storage.OrderDesc, PageKey: p.Next}
		if p.Next == "" {
			t.Fatalf("first page: Next is empty, but art_after matches")
		}
		p, err = st.ListArtifacts(t.Context(), "", "s1", q)
		must(t, "ListArtifacts page 2", err)
		diff(t, "page 2", []string{"art_after"}, artifactIDs(p.Items))
		if p.Next != "" {
			t.Errorf("Next = %q, want \"\": only expired artifacts follow", p.Next)
		}
	})
	s.test(t, "DefaultLimit", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		var arts []*artifact.Artifact
		for i := range storage.DefaultLimit + 1 {
			a := timedArtifact("s1", fmt.Sprintf("art_%02d", i), i, i)
			arts = append(arts, a)
			mustCreateArtifact(t, st, "", a)
		}
		want := sortArtifacts(arts, storage.ArtifactQuery{})
		p, err := st.ListArtifacts(t.Context(), "", "s1", storage.ArtifactQuery{})
		must(t, "ListArtifacts", err)
		diff(t, "first page with Limit 0", want[:storage.DefaultLimit], artifactIDs(p.Items))
		if p.Next == "" {
			t.Fatalf("Next is empty though one more artifact exists")
		}
		p, err = st.ListArtifacts(t.Context(), "", "s1", storage.ArtifactQuery{PageKey: p.Next})
		must(t, "ListArtifacts page 2", err)
		diff(t, "second page", want[storage.DefaultLimit:], artifactIDs(p.Items))
		if p.Next != "" {
			t.Errorf("Next = %q on the last page, want \"\"", p.Next)
		}
	})
	s.test(t, "MaxLimit", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		var arts []*artifact.Artifact
		for i := range storage.MaxLimit + 1 {
			a := timedArtifact("s1", fmt.Sprintf("art_%03d", i), i%7, i%5)
			arts = append(arts, a)
			mustCreateArtifact(t, st, "", a)
		}
		q := storage.ArtifactQuery{Limit: storage.MaxLimit}
		want := sortArtifacts(arts, q)
		p, err := st.ListArtifacts(t.Context(), "", "s1", q)
		must(t, "ListArtifacts", err)
		diff(t, "first page with Limit 100", want[:storage.MaxLimit], artifactIDs(p.Items))
		diff(t, "all pages", want, artifactIDs(allArtifacts(t, st, "", "s1", q)))
	})
	s.test(t, "ErrInvalid", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		mustCreateArtifact(t, st, "", newArtifact("s1", "art_1"))
		for _, limit := range badLimits() {
			_, err := st.ListArtifacts(t.Context(), "", "s1", storage.ArtifactQuery{Limit: limit})
			wantErr(t, fmt.Sprintf("ListArtifacts with Limit %d", limit), err, storage.ErrInvalid)
		}
		_, err := st.ListArtifacts(t.Context(), "", "s1", storage.ArtifactQuery{PageKey: garbagePageKey})
		wantErr(t, "ListArtifacts with a garbage page key", err, storage.ErrInvalid)
		for _, q := range []storage.ArtifactQuery{
			{SortBy: "size"},
			{SortBy: "CREATED_AT"},
			{SortBy: "created_at "},
			{Order: "up"},
			{Order: "ASC"},
			{SortBy: storage.SortUpdatedAt, Order: "descending"},
		} {
			_, err := st.ListArtifacts(t.Context(), "", "s1", q)
			wantErr(t, fmt.Sprintf("ListArtifacts with SortBy %q, Order %q", q.SortBy, q.Order), err, storage.ErrInvalid)
		}
	})
	s.test(t, "Pagination", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		// 13 artifacts with many equal times, created out of order.
		var arts []*artifact.Artifact
		for _, i := range []int{7, 2, 11, 0, 9, 4, 12, 1, 6, 10, 3, 8, 5} {
			a := timedArtifact("s1", fmt.Sprintf("art_%02d", i), i%3, (i*5)%4)
			arts = append(arts, a)
			mustCreateArtifact(t, st, "", a)
		}
		for _, q := range sortQueries() {
			want := sortArtifacts(arts, q)
			for _, limit := range []int{1, 2, 3, 4, 5, 12, 13, 14} {
				q.Limit = limit
				diff(t, fmt.Sprintf("SortBy %q, Order %q, Limit %d", q.SortBy, q.Order, limit), want, artifactIDs(allArtifacts(t, st, "", "s1", q)))
			}
		}
	})
	s.test(t, "Stability", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		// Artifacts go away only by expiring and being swept.
		sweepAt := at(60 * minute)
		var arts []*artifact.Artifact
		ever := map[string]bool{}
		for i := range 20 {
			a := timedArtifact("s1", fmt.Sprintf("art_%02d", i), 10*(i/2), 0) // pairs share a time
			arts = append(arts, a)
		}
		// Page 1 (created_at desc, 5 per page) is art_19..art_15; art_15 is
		// its last item. art_17 was seen, art_08 and art_03 not yet.
		for _, i := range []int{15, 17, 8} {
			arts[i].ExpiresAt = sweepAt
		}
		for _, a := range arts {
			mustCreateArtifact(t, st, "", a)
			ever[a.ID] = true
		}
		create := func(id string, created int) {
			mustCreateArtifact(t, st, "", timedArtifact("s1", id, created, 0))
			ever[id] = true
		}
		q := storage.ArtifactQuery{Limit: 5}
		p1, err := st.ListArtifacts(t.Context(), "", "s1", q)
		must(t, "ListArtifacts page 1", err)
		diff(t, "page 1", []string{"art_19", "art_18", "art_17", "art_16", "art_15"}, artifactIDs(p1.Items))
		if p1.Next == "" {
			t.Fatalf("page 1: Next is empty, want more")
		}
		n, err := st.Sweep(t.Context(), sweepAt, 100)
		must(t, "Sweep", err)
		if n != 3 {
			t.Errorf("Sweep deleted %d items, want 3", n)
		}
		// The same time as the cursor: art_70 sorts before it, art_14x after.
		create("art_70", 70)
		create("art_14x", 70)
		create("art_new", 1000)
		create("art_old", -10)
		q.PageKey = p1.Next
		got := append(artifactIDs(p1.Items), artifactIDs(allArtifacts(t, st, "", "s1", q))...)
		var throughout []string
		for _, a := range slices.Backward(arts) {
			if a.ExpiresAt.IsZero() {
				throughout = append(throughout, a.ID)
			}
		}
		checkStable(t, got, throughout, ever)
	})
	s.testForeignPageKeys(t, "artifacts", func(ctx context.Context, st storage.Storage, pageKey string) error {
		_, err := st.ListArtifacts(ctx, "", "pk-1", storage.ArtifactQuery{Limit: 1, PageKey: pageKey})
		return err
	})
}
