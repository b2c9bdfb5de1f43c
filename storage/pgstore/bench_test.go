package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/pgstore"
)

// The benchmarks measure the store beside a ceiling measured in the same run:
// raw pgx writing a row of the sessions table's shape holding the same bytes
// (a session record), or reading the same page, the simplest way.
// BENCHMARKS.md records the ratios and the commands. They need
// AGENTALIAS_PG_DSN, like the tests, and skip without it.

var benchBase = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func benchAlias(key string) *alias.Alias {
	return &alias.Alias{
		Key: key, Name: "Support", Enabled: true, CreatedAt: benchBase,
		Policy: policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
			{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "support-v1"}}}},
	}
}

func benchSession(key, aliasKey string) *session.Session {
	return &session.Session{
		Key: key, AgentKey: "support-v1", AliasKey: aliasKey, Name: "Chat " + key,
		Metadata: map[string]any{"tenant": "acme", "user_id": "u-" + key, "tier": "gold"},
		Enabled:  true, Status: session.Unstarted, CreatedAt: benchBase,
	}
}

// benchRecord is the record the store writes for benchSession(key,
// "support"): the same JSON, byte for byte.
func benchRecord(key string) []byte {
	s := benchSession(key, "support")
	s.Revision = 1
	b, _ := json.Marshal(struct {
		Session *session.Session `json:"session"`
	}{s})
	return b
}

// benchConns is the size of the pool every write benchmark uses, store and
// ceiling alike: one connection per concurrent writer, so that no writer
// waits for the pool and the server sees 64 transactions at once, whose
// commits its WAL flushes group (the group commit that boltstore's
// committer does in process). It is set here, whatever the DSN says.
const benchConns = 64

// writers is the number of concurrent writers in the 64Writers benchmarks.
const writers = 64

var (
	benchPoolOnce sync.Once
	benchPoolP    *pgxpool.Pool
	benchPoolErr  error
)

// benchPool returns the pool of benchConns connections that the write
// benchmarks share, every connection already open.
func benchPool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	dsn := testDSN(b)
	benchPoolOnce.Do(func() {
		ctx := context.Background()
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			benchPoolErr = err
			return
		}
		cfg.MaxConns = benchConns
		benchPoolP, benchPoolErr = pgxpool.NewWithConfig(ctx, cfg)
		if benchPoolErr != nil {
			return
		}
		// Open every connection now, not while a benchmark is timed.
		conns := make([]*pgxpool.Conn, 0, benchConns)
		for range benchConns {
			c, err := benchPoolP.Acquire(ctx)
			if err != nil {
				benchPoolErr = err
				break
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Release()
		}
	})
	if benchPoolErr != nil {
		b.Fatalf("bench pool on %s=%q: %v", dsnEnv, dsn, benchPoolErr)
	}
	return benchPoolP
}

// openBench returns a store on the bench pool in a fresh schema (dropped
// when b ends) holding the alias "support".
func openBench(b *testing.B) *pgstore.Store {
	b.Helper()
	st, err := pgstore.New(context.Background(), benchPool(b), &pgstore.Options{Schema: newSchema(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if _, err := st.CreateAlias(context.Background(), "", benchAlias("support")); err != nil {
		b.Fatal(err)
	}
	return st
}

// rawSessionsDDL is the store's sessions table (migrations/0001_init.sql)
// with its primary key and without its other indexes; %s is the schema.
const rawSessionsDDL = `CREATE TABLE %s.sessions (
	tenant     bytea NOT NULL,
	key        text COLLATE "C" NOT NULL,
	seq        bigint GENERATED ALWAYS AS IDENTITY,
	alias_key  text COLLATE "C",
	agent_key  text COLLATE "C" NOT NULL,
	enabled    boolean NOT NULL,
	created_at bigint,
	expires_at bigint,
	revision   bigint NOT NULL,
	rec        bytea NOT NULL,
	PRIMARY KEY (tenant, key)
)`

// rawSessionsIndexes are the store's other four indexes on sessions.
var rawSessionsIndexes = []string{
	`CREATE INDEX sessions_order ON %s.sessions (tenant, seq)`,
	`CREATE INDEX sessions_alias ON %s.sessions (tenant, alias_key, seq) WHERE alias_key IS NOT NULL`,
	`CREATE INDEX sessions_agent ON %s.sessions (tenant, agent_key, seq)`,
	`CREATE INDEX sessions_expiry ON %s.sessions (expires_at) WHERE expires_at IS NOT NULL`,
}

// openRaw makes a sessions table in a fresh schema (dropped when b ends),
// with the store's secondary indexes or without, and returns the insert the
// ceiling runs: one plain INSERT of one row, one transaction.
func openRaw(b *testing.B, indexed bool) (*pgxpool.Pool, string) {
	b.Helper()
	p := benchPool(b)
	schema := pgx.Identifier{newSchema(b)}.Sanitize()
	ddl := []string{"CREATE SCHEMA " + schema, fmt.Sprintf(rawSessionsDDL, schema)}
	if indexed {
		for _, ix := range rawSessionsIndexes {
			ddl = append(ddl, fmt.Sprintf(ix, schema))
		}
	}
	for _, q := range ddl {
		if _, err := p.Exec(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
	return p, `INSERT INTO ` + schema + `.sessions
		(tenant, key, alias_key, agent_key, enabled, created_at, expires_at, revision, rec)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8)`
}

// rawInsert inserts the ceiling's row for key: the columns and the record
// CreateSession writes for benchSession(key, "support").
func rawInsert(ctx context.Context, p *pgxpool.Pool, insert, key string) error {
	rec := benchRecord(key)
	_, err := p.Exec(ctx, insert, []byte(""), key, "support", "support-v1", true, benchBase.UnixNano(), nil, rec)
	return err
}

// BenchmarkCreateSession_OneWriter: one goroutine creating sessions through
// an alias, one durable commit each.
func BenchmarkCreateSession_OneWriter(b *testing.B) {
	st := openBench(b)
	ctx := context.Background()
	if _, err := st.CreateSession(ctx, "", benchSession("warm", "support")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := st.CreateSession(ctx, "", benchSession(fmt.Sprintf("s-%d", i), "support")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRaw_OneWriter is the ceiling for OneWriter: one plain INSERT of
// the same record into a table of the same columns with only its primary
// key, one durable commit each.
func BenchmarkRaw_OneWriter(b *testing.B) {
	p, insert := openRaw(b, false)
	ctx := context.Background()
	if err := rawInsert(ctx, p, insert, "warm"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := rawInsert(ctx, p, insert, fmt.Sprintf("s-%d", i)); err != nil {
			b.Fatal(err)
		}
	}
}

// runWriters runs b.N calls of op spread over 64 goroutines and reports
// the throughput. First every goroutine makes four untimed calls, so that
// every connection has prepared its statement before the clock starts.
func runWriters(b *testing.B, op func(key string) error) {
	var wg sync.WaitGroup
	run := func(keys func(i int64) (string, bool)) {
		var next atomic.Int64
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					key, ok := keys(next.Add(1))
					if !ok {
						return
					}
					if err := op(key); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	run(func(i int64) (string, bool) { return fmt.Sprintf("warm-%d", i), i <= 4*writers })
	if b.Failed() {
		return
	}
	b.ResetTimer()
	start := time.Now()
	run(func(i int64) (string, bool) { return fmt.Sprintf("s-%d", i), i <= int64(b.N) })
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
}

// BenchmarkCreateSession_64Writers: 64 goroutines creating sessions through
// one alias, each call its own durable commit.
func BenchmarkCreateSession_64Writers(b *testing.B) {
	st := openBench(b)
	ctx := context.Background()
	runWriters(b, func(key string) error {
		_, err := st.CreateSession(ctx, "", benchSession(key, "support"))
		return err
	})
}

// BenchmarkRaw_64Writers is the ceiling for 64Writers: the plain INSERT of
// Raw_OneWriter from 64 goroutines on the same pool.
func BenchmarkRaw_64Writers(b *testing.B) {
	p, insert := openRaw(b, false)
	ctx := context.Background()
	runWriters(b, func(key string) error { return rawInsert(ctx, p, insert, key) })
}

// BenchmarkRaw_64WritersIndexed is Raw_64Writers into a table with the
// store's four secondary indexes as well, for comparison: what is left of
// the difference is the store's statement (the alias check and its row
// lock, ON CONFLICT) and its Go code.
func BenchmarkRaw_64WritersIndexed(b *testing.B) {
	p, insert := openRaw(b, true)
	ctx := context.Background()
	runWriters(b, func(key string) error { return rawInsert(ctx, p, insert, key) })
}

// Listing: stores of 1,000 and 1,000,000 sessions, each filled once per
// process by one INSERT ... SELECT straight into the store's own table
// (through the API, a million sessions would take far too long), copying a
// record the store wrote itself, then VACUUM ANALYZE: the table as
// autovacuum would leave it. TestMain drops them.

var listSizes = []int{1_000, 1_000_000}

// smallSessions is how many sessions the alias "small" has in every filled
// store; "bulk" has the rest.
const smallSessions = 1000

type filledStore struct {
	st     *pgstore.Store
	schema string // quoted
	mid    string // page key after the session in the middle of creation order
}

var (
	filledMu      sync.Mutex
	filled        = map[int]*filledStore{}
	filledSchemas []string // to drop, quoted
	filledPool    *pgxpool.Pool
)

// pageKeyAfter is the page key the store gives for a page whose last
// session has seq: records.go's encodePageKey("s", seqPos(seq)).
func pageKeyAfter(seq int64) string {
	return base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint64([]byte("s:"), uint64(seq)))
}

// filledStoreOf returns a store holding n sessions in tenant "": every
// (n/1000)th, 1000 in all, through the alias "small", the others through
// "bulk". Keys are s-1 to s-n.
func filledStoreOf(b *testing.B, n int) *filledStore {
	b.Helper()
	filledMu.Lock()
	defer filledMu.Unlock()
	if f, ok := filled[n]; ok {
		return f
	}
	ctx := context.Background()
	p := testPool(b)
	filledPool = p
	r := make([]byte, 8)
	rand.Read(r)
	name := "agentalias_bench_" + hex.EncodeToString(r)
	schema := pgx.Identifier{name}.Sanitize()
	filledSchemas = append(filledSchemas, schema)
	start := time.Now()
	st, err := pgstore.New(ctx, p, &pgstore.Options{Schema: name})
	if err != nil {
		b.Fatal(err)
	}
	for _, a := range []string{"small", "bulk"} {
		if _, err := st.CreateAlias(ctx, "", benchAlias(a)); err != nil {
			b.Fatal(err)
		}
	}
	// The template, written by the store; every row copies its record with
	// its own key (and so name and user_id) and alias.
	if _, err := st.CreateSession(ctx, "", benchSession("s-template", "small")); err != nil {
		b.Fatal(err)
	}
	fill := fmt.Sprintf(`
		INSERT INTO %[1]s.sessions (tenant, key, alias_key, agent_key, enabled, created_at, expires_at, revision, rec)
		SELECT t.tenant, 's-' || g.i, g.a, t.agent_key, t.enabled, t.created_at, t.expires_at, t.revision,
		       convert_to(replace(replace(convert_from(t.rec, 'UTF8'),
		           's-template', 's-' || g.i),
		           '"alias_key":"small"', '"alias_key":"' || g.a || '"'), 'UTF8')
		FROM %[1]s.sessions t,
		     LATERAL (SELECT i, CASE WHEN i %% $2::int = 0 THEN 'small' ELSE 'bulk' END AS a
		              FROM generate_series(1, $1::int) AS i) g
		WHERE t.tenant = $3 AND t.key = 's-template'`, schema)
	steps := []struct {
		q    string
		args []any
	}{
		{fill, []any{n, n / smallSessions, []byte("")}},
		{"DELETE FROM " + schema + ".sessions WHERE key = 's-template'", nil},
		{"VACUUM ANALYZE " + schema + ".sessions", nil},
	}
	for _, s := range steps {
		if _, err := p.Exec(ctx, s.q, s.args...); err != nil {
			b.Fatalf("fill %d sessions: %v", n, err)
		}
	}
	// The page key after the middle session, as the store makes it; check
	// it against one the store gives, 100 sessions earlier.
	var seqs []int64
	rows, err := p.Query(ctx, "SELECT seq FROM "+schema+".sessions WHERE tenant = $1 ORDER BY seq OFFSET $2 LIMIT 101", []byte(""), n/2-100)
	if err == nil {
		seqs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	}
	if err != nil || len(seqs) != 101 {
		b.Fatalf("middle of %d sessions: %d rows, %v", n, len(seqs), err)
	}
	page, err := st.ListSessions(ctx, "", storage.SessionQuery{Limit: 100, PageKey: pageKeyAfter(seqs[0])})
	if err != nil || page.Next != pageKeyAfter(seqs[100]) {
		b.Fatalf("page key after seq %d: the store gives %q, built %q (%v)", seqs[100], page.Next, pageKeyAfter(seqs[100]), err)
	}
	var count int
	if err := p.QueryRow(ctx, "SELECT count(*) FROM "+schema+".sessions").Scan(&count); err != nil || count != n {
		b.Fatalf("filled %d sessions, want %d (%v)", count, n, err)
	}
	b.Logf("filled %d sessions in %v", n, time.Since(start).Round(time.Millisecond))
	f := &filledStore{st: st, schema: schema, mid: pageKeyAfter(seqs[100])}
	filled[n] = f
	return f
}

// listCase is one page of 50 that the list benchmarks read.
type listCase struct {
	name  string
	alias string // "" for all sessions
	mid   bool   // from the middle, not the first page
}

var listCases = []listCase{
	{"all/first", "", false},
	{"all/middle", "", true},
	{"alias/first", "small", false},
	{"alias/middle", "small", true},
}

// query returns the store's query for c's page in f.
func (c listCase) query(b *testing.B, f *filledStore) storage.SessionQuery {
	b.Helper()
	q := storage.SessionQuery{AliasKey: c.alias, Limit: 50}
	switch {
	case !c.mid:
	case c.alias == "":
		q.PageKey = f.mid
	default:
		// The middle of the alias's 1000 sessions, paging through the store.
		for range (smallSessions / 2) / storage.MaxLimit {
			p, err := f.st.ListSessions(context.Background(), "", storage.SessionQuery{AliasKey: c.alias, Limit: storage.MaxLimit, PageKey: q.PageKey})
			if err != nil || p.Next == "" {
				b.Fatal(p.Next, err)
			}
			q.PageKey = p.Next
		}
	}
	return q
}

// BenchmarkListSessions_Page50 reads a page of 50 sessions in a store of n:
// the first page and one from the middle, of all sessions (the creation
// order index) and of the alias "small" (1000 sessions, spread evenly
// among the others; the alias index).
func BenchmarkListSessions_Page50(b *testing.B) {
	for _, n := range listSizes {
		for _, c := range listCases {
			b.Run(fmt.Sprintf("n=%d/%s", n, c.name), func(b *testing.B) {
				f := filledStoreOf(b, n)
				q := c.query(b, f)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					p, err := f.st.ListSessions(ctx, "", q)
					if err != nil || len(p.Items) != 50 || p.Next == "" {
						b.Fatal(len(p.Items), err)
					}
				}
			})
		}
	}
}

// BenchmarkRaw_ListSessions_Page50 is the ceiling for ListSessions_Page50:
// the store's own query for the same page, run through pgx on the same
// pool, reading the 51 rows the store reads (the 51st tells whether a next
// page exists) and copying their records, without decoding them.
func BenchmarkRaw_ListSessions_Page50(b *testing.B) {
	for _, n := range listSizes {
		for _, c := range listCases {
			b.Run(fmt.Sprintf("n=%d/%s", n, c.name), func(b *testing.B) {
				f := filledStoreOf(b, n)
				q := c.query(b, f)
				var after int64
				if q.PageKey != "" {
					pos, err := base64.RawURLEncoding.DecodeString(q.PageKey)
					if err != nil || len(pos) != 10 {
						b.Fatalf("page key %q: %v", q.PageKey, err)
					}
					after = int64(binary.BigEndian.Uint64(pos[2:]))
				}
				// listSessionsAll and listSessionsAlias in sessions.go.
				query := `SELECT seq, rec, revision FROM ` + f.schema + `.sessions
					WHERE tenant = $1 AND seq > $2 AND ($3::bigint IS NULL OR expires_at IS NULL OR expires_at > $3)
					ORDER BY seq LIMIT $4`
				args := []any{[]byte(""), after, (*int64)(nil), 51}
				if c.alias != "" {
					query = `SELECT seq, rec, revision FROM ` + f.schema + `.sessions
						WHERE tenant = $1 AND alias_key = $5 AND seq > $2 AND ($3::bigint IS NULL OR expires_at IS NULL OR expires_at > $3)
						ORDER BY seq LIMIT $4`
					args = append(args, c.alias)
				}
				p := testPool(b)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					rows, err := p.Query(ctx, query, args...)
					if err != nil {
						b.Fatal(err)
					}
					var recs [][]byte
					for rows.Next() {
						var seq, rev int64
						var rec []byte
						if err := rows.Scan(&seq, &rec, &rev); err != nil {
							b.Fatal(err)
						}
						recs = append(recs, rec)
					}
					if err := rows.Err(); err != nil || len(recs) != 51 {
						b.Fatal(len(recs), err)
					}
				}
			})
		}
	}
}
