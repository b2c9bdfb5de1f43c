package boltstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bolt "go.etcd.io/bbolt"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/boltstore"
)

// equate is how stored values are compared: nil and empty maps and slices
// count as the same (the storage contract says so); times compare with
// time.Time.Equal, which go-cmp uses by itself.
var equate = cmpopts.EquateEmpty()

// t0 is the reference time of these tests: UTC, whole milliseconds, so that
// values compare exactly after a round trip through the file.
var t0 = time.Date(2026, time.March, 4, 5, 6, 7, 0, time.UTC)

// ms returns t0 plus n milliseconds.
func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

// tenantData is everything TestReopen stores in one tenant, as the store
// returned it (or, for methods that return nothing, as it was passed in).
type tenantData struct {
	aliases   []*alias.Alias            // in key order
	sessions  []*session.Session        // in creation order
	gone      []string                  // deleted session keys
	events    map[string][]*event.Event // by session key, in append order, hidden included
	goneEvent map[string]string         // session key -> deleted event id
	artifacts map[string][]*artifact.Artifact
	pins      []*storage.Pin
}

// fill stores a rich data set in tenant and returns it. tag makes the values
// of each tenant different, so that a mix-up between tenants shows.
func fill(t *testing.T, st storage.Storage, tenant, tag string) *tenantData {
	t.Helper()
	ctx := context.Background()
	d := &tenantData{events: map[string][]*event.Event{}, goneEvent: map[string]string{}, artifacts: map[string][]*artifact.Artifact{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("tenant %q: %v", tenant, err)
		}
	}

	// Aliases: one with every field set, updated once; one plain and
	// disabled.
	rich := &alias.Alias{
		Key:         "support",
		Name:        "Support " + tag,
		Description: "Routes support traffic for " + tag,
		Policy: policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
			{Match: "get('$.session.metadata.tier') == 'gold'", Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "gold-" + tag}},
			{Match: "get('$.session.metadata.beta', false)", Targets: policy.Targets{
				Type: policy.TargetWeighted, PartitionBy: "get('$.session.key')",
				Options: []policy.Option{{AgentKey: "w-1", Weight: 90}, {AgentKey: "w-2", Weight: 10}, {AgentKey: "w-3", Weight: 0}},
			}},
			{Targets: policy.Targets{Type: policy.TargetFallback, AgentKeys: []string{"fb-1", "fb-2"}}},
		}},
		Stickiness: &policy.Stickiness{Key: "get('$.session.metadata.user')", TTLMinutes: 90},
		Enabled:    true,
		Metadata: map[string]any{
			"team":   tag,
			"tier":   float64(2),
			"ratio":  0.25,
			"tags":   []any{"a", "b", float64(3), nil, true},
			"owner":  map[string]any{"name": "ops", "oncall": true, "nested": map[string]any{"deep": []any{map[string]any{"x": "y"}}}},
			"nil":    nil,
			"emoji":  "héllo 🌍 \u0000 \"quoted\"",
			"escape": "<script>&</script>",
		},
		CreatedAt: ms(0),
	}
	a, err := st.CreateAlias(ctx, tenant, rich)
	must(err)
	a.Name = "Support (renamed) " + tag
	a.UpdatedAt = ms(500)
	a, err = st.UpdateAlias(ctx, tenant, a)
	must(err)
	plain, err := st.CreateAlias(ctx, tenant, &alias.Alias{
		Key:       "plain-" + tag,
		Name:      "Plain",
		Policy:    policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "agent-" + tag}}}},
		Enabled:   false,
		CreatedAt: ms(1),
	})
	must(err)
	d.aliases = []*alias.Alias{plain, a}
	if plain.Key > a.Key {
		d.aliases = []*alias.Alias{a, plain}
	}

	// Sessions: one with every field set, updated once; one plain, created
	// directly on an agent; one deleted.
	step := "collect-" + tag
	s1, err := st.CreateSession(ctx, tenant, &session.Session{
		Key:                 "s-rich",
		AgentKey:            "gold-" + tag,
		AliasKey:            "support",
		Name:                "Rich " + tag,
		Description:         "A session with every field",
		Metadata:            map[string]any{"tier": "gold", "user": "u-" + tag, "n": float64(42), "list": []any{"x", float64(1)}},
		CurrentStepName:     &step,
		Enabled:             true,
		Status:              session.Unstarted,
		CreatedByAgentKey:   "parent-agent",
		CreatedBySessionKey: "parent-session",
		TTIMinutes:          60 * 24 * 365,
		CreatedAt:           ms(10),
		Compaction:          &session.Compaction{Enabled: true, ThresholdPercent: 80, KeepRecentInputs: 3, CompactionMessage: "compacted", ToolEventPolicy: "drop"},
		Secrets:             session.Secrets{"API_KEY": "sk-" + tag + "-secret", "OTHER": "x\x00y"},
		ExpiresAt:           ms(10).Add(365 * 24 * time.Hour),
	})
	must(err)
	s1.Status = session.Stopped
	s1.ContextUsage = &session.ContextUsage{InputTokens: session.InputTokens{Count: 100, CachedTokens: 20}, OutputTokens: session.OutputTokens{Count: 50, ReasoningTokens: 7}, TotalTokens: 150, ModelContextWindow: 200000}
	s1.Metadata["updated"] = true
	s1.PendingToolCalls = []event.PendingCall{
		{EventID: "aev_tin1", ToolConfigurationName: "client-cfg", ToolName: "pick_file", Arguments: map[string]any{"dir": "/tmp", "depth": float64(2), "opts": []any{"a", true}}},
		{EventID: "aev_tin2", ToolConfigurationName: "client-cfg", ToolName: "confirm"},
	}
	s1.ExpiresAt = ms(2000).Add(365 * 24 * time.Hour)
	s1, err = st.UpdateSession(ctx, tenant, s1)
	must(err)
	s2, err := st.CreateSession(ctx, tenant, &session.Session{
		Key: "s-plain", AgentKey: "agent-" + tag, Name: "Plain", Enabled: false, CreatedAt: ms(11),
	})
	must(err)
	_, err = st.CreateSession(ctx, tenant, &session.Session{
		Key: "s-gone", AgentKey: "agent-" + tag, AliasKey: "support", Name: "Gone", Enabled: true, CreatedAt: ms(12),
	})
	must(err)
	d.sessions = []*session.Session{s1, s2}

	// Events of several types; one hidden, one deleted.
	evs := []*event.Event{
		{ID: "aev_in1", Type: event.InputMessage, Messages: []event.Input{event.Text("hello " + tag), {Type: event.InputSkill, SkillName: "search"}}, MessageDiffs: []string{"", "d"}},
		{ID: "aev_think1", Type: event.Thinking, Content: "thinking about " + tag},
		{ID: "aev_tin1", Type: event.ToolInput, ToolCallID: "call-1", ToolConfigurationName: "cfg", ToolName: "search", ToolInput: map[string]any{"q": "weather", "n": float64(3)}, ArgumentOverridePaths: []string{"$.q"}},
		{ID: "aev_tout1", Type: event.ToolOutput, ToolCallID: "call-1", ToolConfigurationName: "cfg", ToolName: "search", ToolOutput: map[string]any{"result": []any{"sunny"}}, Error: true, ResolvedArgumentOverrides: map[string]any{"q": "rain"}},
		{ID: "aev_out1", Type: event.AgentOutput, Content: "It is sunny in " + tag + " \u2603"},
		{ID: "aev_struct1", Type: event.StructuredOutput, SchemaName: "forecast", Structured: map[string]any{"temp": 21.5, "unit": "C", "days": []any{"mon", "tue"}}},
		{ID: "aev_up1", Type: event.ArtifactUpload, Artifacts: []event.ArtifactRef{{ArtifactID: "art_a1", Filename: "a.bin", MimeType: "application/octet-stream", SizeBytes: 3}}, AgentUploadMessage: "uploaded"},
		{ID: "aev_step1", Type: event.StepTransition, FromStep: "collect", ToStep: "answer", Content: "moving on"},
		{ID: "aev_img1", Type: event.ImageRead, ArtifactID: "art_a1", Detail: "high"},
		{ID: "aev_skill1", Type: event.SkillLoad, SkillName: "search", Content: "skill body"},
		{ID: "aev_doomed", Type: event.AgentOutput, Content: "to be deleted"},
	}
	for i, e := range evs {
		e.SessionKey = "s-rich"
		e.CreatedAt = ms(100 + i)
	}
	must(st.AppendEvents(ctx, tenant, "s-rich", evs[:4]))
	must(st.AppendEvents(ctx, tenant, "s-rich", evs[4:]))
	hidden, err := st.SetEventHidden(ctx, tenant, "s-rich", "aev_think1", event.HiddenManual)
	must(err)
	evs[1] = hidden
	must(st.DeleteEvent(ctx, tenant, "s-rich", "aev_doomed"))
	d.events["s-rich"] = evs[:len(evs)-1]
	d.goneEvent["s-rich"] = "aev_doomed"
	plainEv := &event.Event{ID: "aev_p1", SessionKey: "s-plain", CreatedAt: ms(200), Type: event.AgentOutput, Content: "plain"}
	must(st.AppendEvents(ctx, tenant, "s-plain", []*event.Event{plainEv}))
	d.events["s-plain"] = []*event.Event{plainEv}
	must(st.AppendEvents(ctx, tenant, "s-gone", []*event.Event{{ID: "aev_g1", SessionKey: "s-gone", CreatedAt: ms(201), Type: event.AgentOutput, Content: "gone"}}))

	// Artifacts with binary content (every byte value, zeros included), one
	// larger than a page, one that expires.
	rng := rand.New(rand.NewPCG(1, uint64(len(tag))))
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	big := make([]byte, 100<<10)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	for i, c := range []struct {
		id, name, mime string
		data           []byte
		ttl            int64
	}{
		{"art_a1", "a.bin", "application/octet-stream", []byte{0, 1, 2}, 0},
		{"art_bin", "all-bytes.bin", "application/octet-stream", bin, 0},
		{"art_big", "big-" + tag + ".dat", "application/x-big", big, 7},
		{"art_empty", "empty.txt", "text/plain", []byte{}, 0},
	} {
		ar := &artifact.Artifact{
			ID: c.id, SessionKey: "s-rich", Filename: c.name, MimeType: c.mime,
			SizeBytes: int64(len(c.data)), ChecksumSHA256: artifact.Checksum(c.data),
			Metadata:    map[string]any{"i": float64(i), "tag": tag},
			Description: "artifact " + c.id,
			TTLDays:     c.ttl,
			CreatedAt:   ms(300 + 10*i), UpdatedAt: ms(1000 - 10*i),
			Data: c.data,
		}
		if c.ttl > 0 {
			ar.ExpiresAt = ar.CreatedAt.Add(time.Duration(c.ttl) * 24 * time.Hour)
		}
		must(st.CreateArtifact(ctx, tenant, ar.Clone()))
		d.artifacts["s-rich"] = append(d.artifacts["s-rich"], ar)
	}

	// The session deleted with its events and artifacts.
	must(st.CreateArtifact(ctx, tenant, &artifact.Artifact{ID: "art_g1", SessionKey: "s-gone", Filename: "g", MimeType: "text/plain", Data: []byte("g"), SizeBytes: 1, ChecksumSHA256: artifact.Checksum([]byte("g")), CreatedAt: ms(400), UpdatedAt: ms(400)}))
	must(st.DeleteSession(ctx, tenant, "s-gone"))
	d.gone = []string{"s-gone"}

	// Pins: with and without expiry, a binary sticky key, one replaced.
	p1 := &storage.Pin{AliasKey: "support", Key: "user-" + tag, AgentKey: "w-1", CreatedAt: ms(50), ExpiresAt: ms(50).Add(90 * time.Minute)}
	must(st.SetPin(ctx, tenant, p1, nil))
	p1b := &storage.Pin{AliasKey: "support", Key: "user-" + tag, AgentKey: "w-2", CreatedAt: ms(60), ExpiresAt: ms(60).Add(90 * time.Minute)}
	must(st.SetPin(ctx, tenant, p1b, p1))
	p2 := &storage.Pin{AliasKey: "support", Key: "\x00\xff bin " + tag, AgentKey: "fb-1", CreatedAt: ms(70)}
	must(st.SetPin(ctx, tenant, p2, nil))
	p3 := &storage.Pin{AliasKey: "no-such-alias", Key: strings.Repeat("k", storage.MaxPinKeyLen), AgentKey: "fb-2", CreatedAt: ms(80)}
	must(st.SetPin(ctx, tenant, p3, nil))
	d.pins = []*storage.Pin{p1b, p2, p3}
	return d
}

// verify reads back everything d holds from tenant, through every read
// method, and reports each difference.
func verify(t *testing.T, st storage.Storage, tenant string, d *tenantData) {
	t.Helper()
	ctx := context.Background()
	diff := func(what string, want, got any) {
		t.Helper()
		if diff := cmp.Diff(want, got, equate); diff != "" {
			t.Errorf("tenant %q: %s (-want +got):\n%s", tenant, what, diff)
		}
	}

	for _, want := range d.aliases {
		got, err := st.Alias(ctx, tenant, want.Key)
		if err != nil {
			t.Errorf("tenant %q: Alias(%q): %v", tenant, want.Key, err)
			continue
		}
		diff("Alias("+want.Key+")", want, got)
	}
	diff("ListAliases", d.aliases, listAll(t, func(pk string) (storage.Page[*alias.Alias], error) {
		return st.ListAliases(ctx, tenant, storage.AliasQuery{Limit: 1, PageKey: pk})
	}))

	for _, want := range d.sessions {
		got, err := st.Session(ctx, tenant, want.Key)
		if err != nil {
			t.Errorf("tenant %q: Session(%q): %v", tenant, want.Key, err)
			continue
		}
		diff("Session("+want.Key+")", want, got)
	}
	diff("ListSessions", d.sessions, listAll(t, func(pk string) (storage.Page[*session.Session], error) {
		return st.ListSessions(ctx, tenant, storage.SessionQuery{Limit: 1, PageKey: pk})
	}))
	var viaAlias []*session.Session
	for _, s := range d.sessions {
		if s.AliasKey == "support" {
			viaAlias = append(viaAlias, s)
		}
	}
	diff("ListSessions(alias support)", viaAlias, listAll(t, func(pk string) (storage.Page[*session.Session], error) {
		return st.ListSessions(ctx, tenant, storage.SessionQuery{Limit: 1, PageKey: pk, AliasKey: "support"})
	}))
	for _, key := range d.gone {
		if _, err := st.Session(ctx, tenant, key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("tenant %q: deleted Session(%q): got %v, want ErrNotFound", tenant, key, err)
		}
		if _, err := st.ListEvents(ctx, tenant, key, storage.EventQuery{}); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("tenant %q: deleted session ListEvents(%q): got %v, want ErrNotFound", tenant, key, err)
		}
	}

	for key, want := range d.events {
		diff("ListEvents("+key+", hidden)", want, listAll(t, func(pk string) (storage.Page[*event.Event], error) {
			return st.ListEvents(ctx, tenant, key, storage.EventQuery{Limit: 2, PageKey: pk, IncludeHidden: true})
		}))
		var visible []*event.Event
		for _, e := range want {
			if !e.Hidden() {
				visible = append(visible, e)
			}
			got, err := st.Event(ctx, tenant, key, e.ID)
			if err != nil {
				t.Errorf("tenant %q: Event(%q, %q): %v", tenant, key, e.ID, err)
				continue
			}
			diff("Event("+e.ID+")", e, got)
		}
		diff("ListEvents("+key+")", visible, listAll(t, func(pk string) (storage.Page[*event.Event], error) {
			return st.ListEvents(ctx, tenant, key, storage.EventQuery{Limit: 3, PageKey: pk})
		}))
	}
	for key, id := range d.goneEvent {
		if _, err := st.Event(ctx, tenant, key, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("tenant %q: deleted Event(%q, %q): got %v, want ErrNotFound", tenant, key, id, err)
		}
	}

	for key, want := range d.artifacts {
		var metas []*artifact.Artifact
		for _, a := range want {
			metas = append(metas, a.WithoutData())
			got, err := st.Artifact(ctx, tenant, key, a.ID)
			if err != nil {
				t.Errorf("tenant %q: Artifact(%q, %q): %v", tenant, key, a.ID, err)
				continue
			}
			if d := diffArtifact(a, got); d != "" {
				t.Errorf("tenant %q: Artifact(%q) (-want +got):\n%s", tenant, a.ID, d)
			}
			if !got.Verify() {
				t.Errorf("tenant %q: Artifact(%q): content does not match its size and checksum", tenant, a.ID)
			}
		}
		diff("ListArtifacts("+key+", created asc)", metas, listAll(t, func(pk string) (storage.Page[*artifact.Artifact], error) {
			return st.ListArtifacts(ctx, tenant, key, storage.ArtifactQuery{Limit: 1, PageKey: pk, SortBy: storage.SortCreatedAt, Order: storage.OrderAsc})
		}))
	}

	for _, want := range d.pins {
		got, err := st.Pin(ctx, tenant, want.AliasKey, want.Key)
		if err != nil {
			t.Errorf("tenant %q: Pin(%q, %q): %v", tenant, want.AliasKey, want.Key, err)
			continue
		}
		diff(fmt.Sprintf("Pin(%q, %q)", want.AliasKey, want.Key), want, got)
	}
}

// diffArtifact compares two artifacts, content included, as cmp.Diff does;
// cmp is slow on large byte slices, so the content is compared apart.
func diffArtifact(want, got *artifact.Artifact) string {
	d := cmp.Diff(want.WithoutData(), got.WithoutData(), equate)
	if want != nil && got != nil && !bytes.Equal(want.Data, got.Data) {
		d += fmt.Sprintf("Data: want %d bytes (sha256 %s), got %d bytes (sha256 %s)\n",
			len(want.Data), artifact.Checksum(want.Data), len(got.Data), artifact.Checksum(got.Data))
	}
	return d
}

// listAll follows page keys from the first page to the last and returns
// every item.
func listAll[T any](t *testing.T, list func(pageKey string) (storage.Page[T], error)) []T {
	t.Helper()
	var all []T
	pk := ""
	for range 100_000 {
		page, err := list(pk)
		if err != nil {
			t.Errorf("list: %v", err)
			return all
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			return all
		}
		pk = page.Next
	}
	t.Errorf("list: no last page after 100000 pages")
	return all
}

// dump returns every key and value in the bbolt file at path, nested
// buckets included, keyed by the bucket path and key.
func dump(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("bbolt open %s: %v", path, err)
	}
	defer db.Close()
	out := map[string]string{}
	var walk func(prefix string, b *bolt.Bucket) error
	walk = func(prefix string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			name := prefix + "/" + fmt.Sprintf("%q", k)
			if v == nil {
				if nb := b.Bucket(k); nb != nil {
					out[name+"/"] = fmt.Sprintf("bucket seq=%d", nb.Sequence())
					return walk(name, nb)
				}
			}
			out[name] = string(v)
			return nil
		})
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			n := fmt.Sprintf("%q", name)
			out[n+"/"] = fmt.Sprintf("bucket seq=%d", b.Sequence())
			return walk(n, b)
		})
	})
	if err != nil {
		t.Fatalf("dump %s: %v", path, err)
	}
	return out
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reopen.db")
	st, err := boltstore.Open(path, nil) // durable: the default
	if err != nil {
		t.Fatal(err)
	}
	tenants := map[string]*tenantData{
		"":     fill(t, st, "", "default"),
		"acme": fill(t, st, "acme", "acme"),
	}
	// What the open store answers is the reference: a difference here is a
	// round-trip bug, not a durability bug.
	for tenant, d := range tenants {
		verify(t, st, tenant, d)
	}
	if t.Failed() {
		t.Fatal("the store does not read back what it was given before reopening")
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	before := dump(t, path)

	st, err = boltstore.Open(path, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	for tenant, d := range tenants {
		verify(t, st, tenant, d)
	}
	// A third tenant sees nothing.
	if page, err := st.ListAliases(context.Background(), "other", storage.AliasQuery{}); err != nil || len(page.Items) != 0 {
		t.Errorf("tenant other: ListAliases = %d items, %v; want none", len(page.Items), err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close after reopen: %v", err)
	}
	// Opening and reading changed no stored key or value.
	if diff := cmp.Diff(before, dump(t, path)); diff != "" {
		t.Errorf("reopening changed the stored data (-before +after):\n%s", diff)
	}
	checkFile(t, path)
}

// checkFile runs bbolt's consistency check on the file at path, which no
// store may hold open.
func checkFile(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("bbolt open %s for check: %v", path, err)
	}
	defer db.Close()
	n := 0
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			n++
			if n <= 20 {
				t.Errorf("bbolt check: %v", err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("bbolt check: %v", err)
	}
	if n > 20 {
		t.Errorf("bbolt check: %d errors in all", n)
	}
}

// fileSum returns the SHA-256 of the file at path.
func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// mustFail opens path, which must fail with an error containing every one of
// wants, and checks that the file did not change.
func mustFail(t *testing.T, path string, wants ...string) {
	t.Helper()
	sum := fileSum(t, path)
	st, err := boltstore.Open(path, &boltstore.Options{Timeout: time.Second})
	if err == nil {
		st.Close()
		t.Fatalf("Open(%s) succeeded; want an error", filepath.Base(path))
	}
	t.Logf("Open: %v", err)
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Open error %q does not mention %q", err, w)
		}
	}
	if fileSum(t, path) != sum {
		t.Errorf("a failed Open changed the file")
	}
}

func TestOpen_SchemaVersion(t *testing.T) {
	// newStore makes a closed store file holding one session.
	newStore := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "store.db")
		st, err := boltstore.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateSession(context.Background(), "", &session.Session{Key: "s1", AgentKey: "a", Name: "s1", Enabled: true, CreatedAt: ms(0)}); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	setMeta := func(t *testing.T, path string, fn func(meta *bolt.Bucket) error) {
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket([]byte("meta"))) }); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("current", func(t *testing.T) {
		path := newStore(t)
		v := dump(t, path)[`"meta"/"version"`]
		if v != boltstore.SchemaVersion {
			t.Errorf("meta/version = %q, want %q", v, boltstore.SchemaVersion)
		}
	})
	t.Run("newer", func(t *testing.T) {
		path := newStore(t)
		setMeta(t, path, func(meta *bolt.Bucket) error { return meta.Put([]byte("version"), []byte("2")) })
		mustFail(t, path, `version "2"`, "version "+boltstore.SchemaVersion)
	})
	t.Run("missing version", func(t *testing.T) {
		path := newStore(t)
		setMeta(t, path, func(meta *bolt.Bucket) error { return meta.Delete([]byte("version")) })
		mustFail(t, path, "schema version")
	})
	t.Run("foreign bbolt file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "foreign.db")
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("widgets"))
			if err != nil {
				return err
			}
			return b.Put([]byte("w1"), []byte("sprocket"))
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		mustFail(t, path, "not an agentalias store", "no meta bucket")
		if got := dump(t, path)[`"widgets"/"w1"`]; got != "sprocket" {
			t.Errorf("the foreign data changed: widgets/w1 = %q", got)
		}
	})
	t.Run("not bbolt", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "random.db")
		data := make([]byte, 64<<10)
		rng := rand.New(rand.NewPCG(7, 7))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		mustFail(t, path, path)
	})
	t.Run("text file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "notes.txt")
		if err := os.WriteFile(path, bytes.Repeat([]byte("not a database\n"), 1000), 0o600); err != nil {
			t.Fatal(err)
		}
		mustFail(t, path, path)
	})
}

func TestOpen_NoDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	path := filepath.Join(dir, "store.db")
	st, err := boltstore.Open(path, nil)
	if err == nil {
		st.Close()
		t.Fatal("Open in a missing directory succeeded")
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open error %q: want one that wraps os.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Open error %q does not name the file", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open created the directory (stat: %v)", err)
	}
}
