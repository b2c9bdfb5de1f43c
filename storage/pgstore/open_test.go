package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/pgstore"
	"github.com/agentalias/agentalias/storage/storagetest"
)

func testAlias(key string) *alias.Alias {
	return &alias.Alias{
		Key: key, Name: "Alias " + key, Enabled: true,
		CreatedAt: time.Date(2026, 6, 2, 10, 0, 0, 0, time.UTC),
		UpdatedAt: time.Date(2026, 6, 2, 10, 0, 0, 0, time.UTC),
		Policy: policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
			{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "agent-1"}},
		}},
	}
}

// appliedVersions returns the versions recorded in a schema's
// schema_migrations table.
func appliedVersions(t *testing.T, schema string) []int {
	t.Helper()
	rows, err := testPool(t).Query(context.Background(), "SELECT version FROM "+pgx.Identifier{schema}.Sanitize()+".schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func wantVersions(t *testing.T, schema string) {
	t.Helper()
	got := appliedVersions(t, schema)
	if len(got) != pgstore.SchemaVersion || got[len(got)-1] != pgstore.SchemaVersion {
		t.Errorf("schema_migrations holds versions %v; want 1..%d once each", got, pgstore.SchemaVersion)
	}
}

func TestNew_MigratesOnce(t *testing.T) {
	ctx := context.Background()
	schema := newSchema(t)
	first, err := pgstore.New(ctx, testPool(t), &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := first.CreateAlias(ctx, "", testAlias("kept")); err != nil {
		t.Fatal(err)
	}
	// Opening the migrated schema again changes nothing and sees the data.
	second, err := pgstore.New(ctx, testPool(t), &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatalf("second New on a migrated schema: %v", err)
	}
	defer second.Close()
	if _, err := second.Alias(ctx, "", "kept"); err != nil {
		t.Errorf("alias stored before the second New: %v", err)
	}
	wantVersions(t, schema)
	if second.Schema() != schema {
		t.Errorf("Schema() = %q, want %q", second.Schema(), schema)
	}
}

func TestOpen_ConcurrentMigrations(t *testing.T) {
	// Replicas starting at once on an empty database: every one succeeds
	// and the migrations run once.
	ctx := context.Background()
	dsn, schema := testDSN(t), newSchema(t)
	const n = 6
	stores := make([]*pgstore.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = pgstore.Open(ctx, dsn, &pgstore.Options{Schema: schema})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	wantVersions(t, schema)
}

func TestNew_SchemaNewerThanCode(t *testing.T) {
	ctx := context.Background()
	schema := newSchema(t)
	st, err := pgstore.New(ctx, testPool(t), &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	newer := pgstore.SchemaVersion + 1
	if _, err := testPool(t).Exec(ctx, "INSERT INTO "+schema+".schema_migrations (version, name) VALUES ($1, 'from_the_future.sql')", newer); err != nil {
		t.Fatal(err)
	}
	_, err = pgstore.New(ctx, testPool(t), &pgstore.Options{Schema: schema})
	if err == nil {
		t.Fatal("New on a schema newer than the code succeeded")
	}
	for _, want := range []string{schema, "newer", "upgrade"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// Nothing was changed: the newer version is still the newest.
	if got := appliedVersions(t, schema); got[len(got)-1] != newer {
		t.Errorf("versions after the refused New: %v", got)
	}
}

func TestOpen_Errors(t *testing.T) {
	ctx := context.Background()
	if _, err := pgstore.Open(ctx, "postgres://%zz", nil); err == nil {
		t.Error("Open with a malformed DSN succeeded")
	}
	// Nothing listens on port 1: Open fails (it connects to migrate).
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := pgstore.Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5", nil); err == nil {
		t.Error("Open with no server succeeded")
	}
	if _, err := pgstore.New(ctx, nil, nil); err == nil {
		t.Error("New with a nil pool succeeded")
	}
}

func TestClose_LeavesASharedPoolOpen(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Alias(ctx, "", "a"); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Alias after Close: %v, want ErrClosed", err)
	}
	if err := testPool(t).Ping(ctx); err != nil {
		t.Errorf("the pool New was given is closed after Close: %v", err)
	}
}

func TestOptions_QuotedSchemaName(t *testing.T) {
	// A schema name that needs quoting works, and lands where it says.
	ctx := context.Background()
	b := make([]byte, 4)
	rand.Read(b)
	schema := `Agent "Alias" ` + hex.EncodeToString(b)
	ident := pgx.Identifier{schema}.Sanitize()
	t.Cleanup(func() { testPool(t).Exec(context.Background(), "DROP SCHEMA IF EXISTS "+ident+" CASCADE") })
	st, err := pgstore.New(ctx, testPool(t), &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateAlias(ctx, "", testAlias("al")); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := testPool(t).QueryRow(ctx, "SELECT count(*) FROM "+ident+".aliases").Scan(&n); err != nil || n != 1 {
		t.Errorf("aliases in schema %q: %d, %v; want 1", schema, n, err)
	}
}

// TestCollation runs the ordering checks in a database whose default
// collation is ICU's en-US, where "_" sorts before "-", and "a" before "B":
// keys must still list in byte order.
func TestCollation(t *testing.T) {
	ctx := context.Background()
	admin := testPool(t)
	b := make([]byte, 4)
	rand.Read(b)
	db := "agentalias_icu_" + hex.EncodeToString(b)
	_, err := admin.Exec(ctx, "CREATE DATABASE "+db+" TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
	if err != nil {
		t.Fatalf("create a database with an ICU collation (PostgreSQL 15 or newer with ICU): %v", err)
	}
	cfg, err := pgxpool.ParseConfig(testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Database = db
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		if _, err := admin.Exec(context.Background(), "DROP DATABASE "+db+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", db, err)
		}
	})
	st, err := pgstore.New(ctx, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	keys := []string{"_x", "-x", "0x", "ax", "Bx", "Ax", "bx"}
	for _, k := range keys {
		if _, err := st.CreateAlias(ctx, "", testAlias(k)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	q := storage.AliasQuery{Limit: 2}
	for {
		page, err := st.ListAliases(ctx, "", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Items {
			got = append(got, a.Key)
		}
		if page.Next == "" {
			break
		}
		q.PageKey = page.Next
	}
	want := "-x 0x Ax Bx _x ax bx"
	if strings.Join(got, " ") != want {
		t.Errorf("aliases listed as %v; want byte order %s", got, want)
	}

	// Artifacts with equal times are ordered by id, in byte order too.
	now := time.Date(2026, 6, 2, 10, 0, 0, 0, time.UTC)
	if _, err := st.CreateSession(ctx, "", &session.Session{Key: "s", AgentKey: "agent-1", Enabled: true, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	ids := []string{"art_b", "art__", "art_-", "art_0", "art_a"}
	for _, id := range ids {
		if err := st.CreateArtifact(ctx, "", &artifact.Artifact{ID: id, SessionKey: "s", Filename: "f", MimeType: "text/plain", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := st.ListArtifacts(ctx, "", "s", storage.ArtifactQuery{Order: storage.OrderAsc})
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, a := range page.Items {
		got = append(got, a.ID)
	}
	if want := "art_- art_0 art__ art_a art_b"; strings.Join(got, " ") != want {
		t.Errorf("artifacts listed as %v; want byte order %s", got, want)
	}
}

func FuzzPageKey(f *testing.F) {
	storagetest.FuzzPageKeys(f, newStore(f))
}

// TestInputsPostgreSQLWouldRefuse checks inputs that PostgreSQL itself would
// refuse (text that is not UTF-8, NUL bytes, times an int64 of nanoseconds
// cannot hold): the store answers them with its sentinels, not internal
// errors, and stores nothing.
func TestInputsPostgreSQLWouldRefuse(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	now := time.Date(2026, 6, 2, 10, 0, 0, 0, time.UTC)
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.CreateSession(ctx, "", &session.Session{Key: "s", AgentKey: "agent-1", Enabled: true, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	pin := &storage.Pin{AliasKey: "al", Key: "u", AgentKey: "agent-1", CreatedAt: now}
	if err := st.SetPin(ctx, "", pin, nil); err != nil {
		t.Fatal(err)
	}
	wantIs := func(what string, err, target error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("%s: %v, want %v", what, err, target)
		}
	}
	for _, bad := range []string{"\xff", "a\x00b"} {
		s := &session.Session{Key: "s", AgentKey: bad, Enabled: true, CreatedAt: now, Revision: 1}
		_, err := st.UpdateSession(ctx, "", s)
		wantIs(fmt.Sprintf("UpdateSession with agent key %q", bad), err, storage.ErrInvalid)
		s.AgentKey, s.AliasKey = "agent-1", bad
		_, err = st.UpdateSession(ctx, "", s)
		wantIs(fmt.Sprintf("UpdateSession with alias key %q", bad), err, storage.ErrInvalid)
		s.Key = "gone"
		_, err = st.UpdateSession(ctx, "", s)
		wantIs(fmt.Sprintf("UpdateSession of a missing session with alias key %q", bad), err, storage.ErrNotFound)
		prev := *pin
		prev.AgentKey = bad
		err = st.SetPin(ctx, "", &storage.Pin{AliasKey: "al", Key: "u", AgentKey: "agent-2", CreatedAt: now}, &prev)
		wantIs(fmt.Sprintf("SetPin with a prev of agent %q", bad), err, storage.ErrConflict)
	}
	_, err := st.CreateAlias(ctx, "", &alias.Alias{Key: "far", Name: "far", CreatedAt: far, Policy: testAlias("x").Policy})
	wantIs("CreateAlias in the year 3000", err, storage.ErrInvalid)
	_, err = st.CreateSession(ctx, "", &session.Session{Key: "far", AgentKey: "agent-1", CreatedAt: now, ExpiresAt: far})
	wantIs("CreateSession expiring in the year 3000", err, storage.ErrInvalid)
	err = st.SetPin(ctx, "", &storage.Pin{AliasKey: "al", Key: "far", AgentKey: "agent-1", CreatedAt: now, ExpiresAt: far}, nil)
	wantIs("SetPin expiring in the year 3000", err, storage.ErrInvalid)
	err = st.CreateArtifact(ctx, "", &artifact.Artifact{ID: "art_far", SessionKey: "s", Filename: "f", MimeType: "text/plain", CreatedAt: now, UpdatedAt: far})
	wantIs("CreateArtifact updated in the year 3000", err, storage.ErrInvalid)

	// Nothing of it was stored.
	s, err := st.Session(ctx, "", "s")
	if err != nil || s.Revision != 1 || s.AgentKey != "agent-1" {
		t.Errorf("session after refused updates: %+v, %v", s, err)
	}
	if p, err := st.Pin(ctx, "", "al", "u"); err != nil || !p.Same(pin) {
		t.Errorf("pin after a refused SetPin: %+v, %v", p, err)
	}
	for _, got := range []error{
		func() error { _, err := st.Alias(ctx, "", "far"); return err }(),
		func() error { _, err := st.Session(ctx, "", "far"); return err }(),
		func() error { _, err := st.Pin(ctx, "", "al", "far"); return err }(),
		func() error { _, err := st.Artifact(ctx, "", "s", "art_far"); return err }(),
	} {
		wantIs("a refused write's item", got, storage.ErrNotFound)
	}
}
