// Package pgstore is a storage.Storage in PostgreSQL, for hosts that run
// several replicas of their service: every replica opens the same database
// and they share aliases, sessions, events, artifacts and sticky pins.
//
// pgstore is its own Go module (github.com/agentalias/agentalias/storage/pgstore),
// so that hosts importing the core never download pgx. It is tested on
// PostgreSQL 15 and uses nothing newer than PostgreSQL 12 has.
//
// # Use
//
//	st, err := pgstore.Open(ctx, "postgres://app@db.internal/app", nil)
//	if err != nil { ... }
//	defer st.Close()
//	router, err := agentalias.New(st, &agentalias.Options{Agents: agents})
//
// [Open] makes its own pool from a DSN (a URL or key=value string, as
// [pgxpool.ParseConfig] reads it) and closes it on Close. [New] uses a pool
// the host already has and leaves it open on Close.
//
// pgx's pool holds at most max(4, number of CPUs) connections unless the
// DSN says otherwise (pool_max_conns=16). A server taking many concurrent
// requests wants more: on two cores, 16 gave 17% more session creations per
// second than 4, and more than 16 only raised the tail latency (see
// BENCHMARKS.md in the repository).
//
// # Schema and migrations
//
// The tables live in one PostgreSQL schema, "agentalias" unless
// Options.Schema names another, so several independent stores can share a
// database. Open and New create the schema and bring it up to date with the
// versioned SQL migrations embedded in this package (see the migrations
// directory); each applied version is recorded in the table
// schema_migrations. Migrating is idempotent and safe when several
// replicas start at once: it runs in one transaction under an advisory lock.
// A schema whose version is newer than this package's [SchemaVersion] is an
// error: an older binary never writes to a newer layout.
//
// The tables, all keyed by tenant first:
//
//	aliases    (tenant, key) -> enabled, revision, record
//	sessions   (tenant, key) -> seq (creation order), alias_key, agent_key,
//	           enabled, expires_at, revision, record
//	events     (tenant, session_key, id) -> seq (append order), hidden, record
//	artifacts  (tenant, session_key, id) -> created_at, updated_at,
//	           expires_at, record, data
//	pins       (tenant, alias_key, key) -> agent_key, created_at, expires_at
//
// Records are the domain values' JSON. Events and artifacts reference their
// session with ON DELETE CASCADE. Every list is a keyset scan of an index
// whose order is the list's order (sessions by (tenant, seq), by (tenant,
// alias_key, seq) or by (tenant, agent_key, seq); events by (tenant,
// session_key, seq); artifacts by (tenant, session_key, created_at or
// updated_at, id)), so a page costs O(page) however many rows the tables
// hold. Page keys carry the position of the last item, not an offset, and
// stay valid while others write.
//
// # Concurrency across processes
//
// Every method changes the database in at most one statement or one
// transaction (other statements only read, to tell why a write did not
// happen), so it is atomic across every process sharing the database:
//
//   - CreateSession locks the alias row (FOR KEY SHARE) in the same statement
//     that inserts the session, and DeleteAlias locks it (FOR UPDATE) before
//     it looks for enabled sessions: a session is never created through an
//     alias that a concurrent DeleteAlias removes, and DeleteAlias never
//     misses a session created concurrently.
//   - SetPin with no previous pin is an INSERT that the pins primary key
//     lets exactly one process win; replacing a pin is an UPDATE conditioned
//     on the row still holding the previous pin.
//   - UpdateAlias and UpdateSession are compare-and-set on the revision
//     column.
//   - AppendEvents locks its session row, so concurrent appends to one
//     session are serialized and their events keep the order of their calls.
//
// Sessions list in the order their rows were inserted (an identity column).
// Two CreateSession calls that commit at the same moment from different
// connections may list in either order; calls that do not overlap list in
// the order they returned.
//
// # Times
//
// Records keep Go's full time precision. The columns that queries compare
// (creation, expiry, artifact order, pins) hold Unix nanoseconds, so a write
// of such a time before 1678 or after 2262 is storage.ErrInvalid.
//
// # Sweeping
//
// Sweep deletes expired rows through their expiry indexes, skipping rows
// another transaction holds locked (SKIP LOCKED), so that stores sweeping
// one database at once share the work. Unlike the other stores, it may
// therefore return fewer than its limit while expired items remain; the next
// sweep takes them.
//
// # Secrets
//
// Session secrets are stored in the session record as they are, as
// boltstore stores them: protect the database (its roles, its backups) as
// you would the secrets.
//
// # Testing
//
// The package's tests need a PostgreSQL server; they read its DSN from
// AGENTALIAS_PG_DSN and refuse to run without it. Each test works in a
// schema of its own and drops it:
//
//	AGENTALIAS_PG_DSN='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./...
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/storage"
)

// SchemaVersion is the newest schema version this package knows: the number
// of its last migration.
const SchemaVersion = 1

// DefaultSchema is the PostgreSQL schema the tables live in when
// Options.Schema is "".
const DefaultSchema = "agentalias"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options configures Open and New. The zero value (or nil) gives the
// defaults.
type Options struct {
	// Schema is the PostgreSQL schema holding the tables; it is created if
	// it does not exist. The default is DefaultSchema.
	Schema string

	// MaxArtifactBytes is the largest artifact content CreateArtifact
	// accepts. The default is 64 MiB.
	MaxArtifactBytes int
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.Schema == "" {
		out.Schema = DefaultSchema
	}
	if out.MaxArtifactBytes <= 0 {
		out.MaxArtifactBytes = 64 << 20
	}
	return out
}

// Store is a storage.Storage in PostgreSQL. It is safe for concurrent use,
// and any number of Stores, in any number of processes, may share one
// database and schema. Create one with Open or New.
type Store struct {
	pool    *pgxpool.Pool
	ownPool bool
	opts    Options
	schema  string // quoted identifier

	queries sync.Map // query text with {s} -> query text with the schema
	closed  atomic.Bool

	// decoded holds the last decoded form of each alias Alias has read,
	// by tenant and key, with the record it came from: a read whose record
	// is unchanged returns a copy instead of decoding it again (session
	// creation reads its alias every time). DeleteAlias removes the entry,
	// and so does a read that finds the alias gone (another process may have
	// deleted it).
	decoded sync.Map // aliasID -> *decodedAlias
}

// aliasID names an alias across tenants.
type aliasID struct{ tenant, key string }

// decodedAlias is a decoded alias record and its revision.
type decodedAlias struct {
	rec []byte
	rev int64
	a   *alias.Alias
}

// Open connects to the database dsn names, migrates the schema, and returns
// a Store that owns its connection pool: Close closes it. dsn is a URL
// ("postgres://user@host:5432/db?sslmode=disable") or key=value pairs, as
// pgxpool.ParseConfig reads them, pool settings (pool_max_conns) included.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s, err := newStore(ctx, pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownPool = true
	return s, nil
}

// New returns a Store on a pool the caller owns, after migrating the schema.
// Close leaves the pool open.
func New(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: New: nil pool")
	}
	return newStore(ctx, pool, opts)
}

func newStore(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	s := &Store{pool: pool, opts: o, schema: pgx.Identifier{o.Schema}.Sanitize()}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Schema returns the name of the PostgreSQL schema holding the store's
// tables.
func (s *Store) Schema() string { return s.opts.Schema }

// Close marks the store closed and, if Open made the pool, closes it after
// the calls in progress return. Afterwards every method returns
// storage.ErrClosed; calling Close again returns nil.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.ownPool {
		s.pool.Close()
	}
	return nil
}

// migration is one embedded migration file, NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order of version. Versions
// start at 1 and have no gaps.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("pgstore: migration file %q is not named NNNN_name.sql", name)
		}
		b, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("pgstore: migration %q: want version %d", m.name, i+1)
		}
	}
	return out, nil
}

// lockID is the advisory lock that serializes migrations of one schema.
func lockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("agentalias/pgstore:" + schema))
	return int64(h.Sum64())
}

// migrate creates the schema and applies the migrations it lacks, in one
// transaction under an advisory lock.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	steps := []string{
		"SELECT pg_advisory_xact_lock(" + strconv.FormatInt(lockID(s.opts.Schema), 10) + ")",
		"CREATE SCHEMA IF NOT EXISTS " + s.schema,
		"SET LOCAL search_path TO " + s.schema,
		`CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`,
	}
	for _, q := range steps {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("pgstore: migrate schema %q: %w", s.opts.Schema, err)
		}
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("pgstore: migrate schema %q: %w", s.opts.Schema, err)
	}
	if current > len(ms) {
		return fmt.Errorf("pgstore: schema %q is at version %d, newer than this package's %d: upgrade github.com/agentalias/agentalias/storage/pgstore", s.opts.Schema, current, len(ms))
	}
	for _, m := range ms[current:] {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("pgstore: migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return fmt.Errorf("pgstore: migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

// q returns query with "{s}" replaced by the store's quoted schema. Queries
// are constants, so the results are kept.
func (s *Store) q(query string) string {
	if v, ok := s.queries.Load(query); ok {
		return v.(string)
	}
	out := strings.ReplaceAll(query, "{s}", s.schema)
	s.queries.Store(query, out)
	return out
}

// check fails fast when ctx is done or the store is closed.
func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return storage.ErrClosed
	}
	return nil
}

// fail turns an error from pgx into the store's: a done context stays
// ctx.Err(), a call cut short by Close is storage.ErrClosed, constraint
// violations are the storage sentinels, and anything else is wrapped as an
// internal failure.
func (s *Store) fail(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if isSentinel(err) {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if s.closed.Load() {
		return fmt.Errorf("pgstore: %s: %w", what, storage.ErrClosed)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("pgstore: %s: %w", what, storage.ErrExists)
		case "23503": // foreign_key_violation: the session is gone
			return fmt.Errorf("pgstore: %s: %w", what, storage.ErrNotFound)
		}
	}
	return fmt.Errorf("pgstore: %s: %w", what, err)
}

func isSentinel(err error) bool {
	for _, e := range []error{storage.ErrNotFound, storage.ErrExists, storage.ErrConflict, storage.ErrInvalid, storage.ErrClosed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// checkTenant rejects tenant names the storage contract does not allow.
func checkTenant(tenant string) error {
	if len(tenant) > storage.MaxTenantLen || !utf8.ValidString(tenant) {
		return invalid("tenant %.40q is not at most %d bytes of UTF-8", tenant, storage.MaxTenantLen)
	}
	return nil
}

func notFound(what, key string) error {
	return fmt.Errorf("pgstore: %s %q: %w", what, key, storage.ErrNotFound)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("pgstore: "+format+": %w", append(args, storage.ErrInvalid)...)
}

// inTx runs fn in a transaction and commits it, or rolls it back if fn
// fails.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
