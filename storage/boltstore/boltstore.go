// Package boltstore is a durable storage.Storage in one bbolt file: no
// server, and every acknowledged write survives a crash of the process or
// the machine.
//
// # Use
//
//	st, err := boltstore.Open("agentalias.db", nil)
//	if err != nil { ... }
//	defer st.Close()
//
// Only one process can open a file at a time: another one waits Options.Timeout
// for the file lock and then fails with an error that says the file is locked.
//
// # Durability and group commit
//
// A write is acknowledged (its method returns nil) only after the bbolt
// transaction holding it has committed and been synced to disk. Writes from
// concurrent callers share commits: one goroutine, started by Open and
// stopped by Close, takes every write queued since the previous commit and
// applies them in one transaction, the moment the previous commit returns.
// There is no timer, so a lone writer never waits for a batch to fill. Each
// write checks its preconditions before it changes anything, so a write that
// fails (say, with storage.ErrExists) leaves the others of its batch intact;
// if bbolt itself fails while applying a write, the batch is rolled back and
// its writes are retried one transaction each, so exactly the faulty write
// fails. If a commit fails (a full disk, an I/O error), every write in it
// fails; a bbolt commit is atomic, so the file never holds part of a batch.
// (One corner: if the final sync fails after bbolt wrote its meta page, the
// whole batch may still be there after a restart, although it was reported
// as failed.) Reads run concurrently with writes, in
// their own read transactions.
//
// Options.NoSync skips the sync to disk: it is fast and unsafe, for tests.
//
// # File layout
//
// The file is a bbolt database with these buckets (keys and values are
// bytes; "u64" is an 8-byte big-endian integer; "time" is a u64 of the Unix
// time in nanoseconds with its sign bit flipped, so that keys sort by time):
//
//	meta                        "version" -> "1" (the schema version; Open refuses others)
//	x                           the expiry index, for Sweep:
//	                            time | kind | len(tenant) | tenant | item -> ""
//	                            kind 's': item = session key
//	                            kind 'r': item = session key 0x00 artifact id
//	                            kind 'p': item = alias key 0x00 sticky key
//	t<tenant>                   one bucket per tenant ("t" for the default tenant):
//	  a   alias key -> alias record (JSON)
//	  s   session key -> session record (JSON, with its sequence number)
//	  sq  u64 seq -> session key                  (creation order)
//	  sa  alias key -> { u64 seq -> session key }  (sessions created through an alias)
//	  sg  agent key -> { u64 seq -> session key }  (sessions of an agent)
//	  e   session key -> { u64 seq -> event (JSON) }
//	  ei  session key -> { event id -> u64 seq }
//	  r   session key -> { artifact id -> artifact record without content (JSON) }
//	  rd  session key -> { artifact id -> content }
//	  rc  session key -> { time created | id -> "" }
//	  ru  session key -> { time updated | id -> "" }
//	  p   alias key 0x00 sticky key -> pin record (JSON)
//
// Every list walks one of these ordered buckets from the position its page
// key names, so a page costs O(log n + page) however much is stored, and
// page keys stay valid while others write.
package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/storage"
)

// SchemaVersion is the version of the file layout this package reads and
// writes.
const SchemaVersion = "1"

// Options configures Open. The zero value (or nil) gives the defaults.
type Options struct {
	// Timeout is how long Open waits for the lock on a file another process
	// holds before it fails. The default is 1 second; a negative value fails
	// at once.
	Timeout time.Duration

	// NoSync skips syncing commits to disk. UNSAFE: a crash of the machine
	// can lose or corrupt acknowledged writes. Meant for tests.
	NoSync bool

	// MaxArtifactBytes is the largest artifact content CreateArtifact
	// accepts. The default is 64 MiB.
	MaxArtifactBytes int

	// MaxBatch is the most writes one commit takes. The default is 1024.
	MaxBatch int

	// FileMode is the permission of a new file. The default is 0600.
	FileMode os.FileMode
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.Timeout == 0 {
		out.Timeout = time.Second
	}
	if out.MaxArtifactBytes <= 0 {
		out.MaxArtifactBytes = 64 << 20
	}
	if out.MaxBatch <= 0 {
		out.MaxBatch = 1024
	}
	if out.FileMode == 0 {
		out.FileMode = 0o600
	}
	return out
}

// Store is a storage.Storage in one bbolt file. It is safe for concurrent
// use. Create one with Open.
type Store struct {
	db   *bolt.DB
	path string
	opts Options

	closed  atomic.Bool
	closeMu sync.RWMutex // held for reading while a write is being queued
	writes  chan *write
	quit    chan struct{}
	done    chan struct{} // closed when the committer has stopped

	// decoded holds the last decoded form of each alias Alias has read,
	// by tenant and key, with the record it came from: a read whose record
	// is unchanged returns a copy instead of decoding it again (session
	// creation reads its alias every time, and decoding a policy costs
	// more than copying one). DeleteAlias removes the entry.
	decoded sync.Map // aliasID -> *decodedAlias
}

// aliasID names an alias across tenants.
type aliasID struct{ tenant, key string }

// decodedAlias is a decoded alias record.
type decodedAlias struct {
	rec []byte
	a   *alias.Alias
}

var _ storage.Storage = (*Store)(nil)

// write is one queued write and where its result goes.
type write struct {
	fn   func(tx *bolt.Tx) error
	done chan error
}

var (
	bucketMeta   = []byte("meta")
	bucketExpiry = []byte("x")
	keyVersion   = []byte("version")
)

// Open opens (or creates) the store in the file at path.
func Open(path string, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	timeout := o.Timeout
	if timeout < 0 {
		timeout = time.Nanosecond
	}
	db, err := bolt.Open(path, o.FileMode, &bolt.Options{Timeout: timeout, NoSync: o.NoSync, FreelistType: bolt.FreelistMapType})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			waited := fmt.Sprintf("waited %v", o.Timeout)
			if o.Timeout < 0 {
				waited = "did not wait"
			}
			return nil, fmt.Errorf("boltstore: open %s: the file is locked by another process, or by another Store in this one (%s): %w", path, waited, err)
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	if err := initSchema(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s := &Store{
		db:     db,
		path:   path,
		opts:   o,
		writes: make(chan *write, o.MaxBatch),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go s.commitLoop()
	return s, nil
}

// initSchema checks the schema version of an existing file, or writes it
// into a new one.
func initSchema(db *bolt.DB) error {
	// Opening an existing store only reads: it must work on a full disk.
	var current bool
	err := db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return nil
		}
		if v := meta.Get(keyVersion); string(v) != SchemaVersion {
			return fmt.Errorf("the file has schema version %q; this version of boltstore reads only version %s", v, SchemaVersion)
		}
		current = true
		return nil
	})
	if err != nil || current {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		if meta := tx.Bucket(bucketMeta); meta != nil {
			v := meta.Get(keyVersion)
			if string(v) != SchemaVersion {
				return fmt.Errorf("the file has schema version %q; this version of boltstore reads only version %s", v, SchemaVersion)
			}
			return nil
		}
		empty := true
		tx.ForEach(func([]byte, *bolt.Bucket) error {
			empty = false
			return nil
		})
		if !empty {
			return errors.New("the file is a bbolt database but not an agentalias store (it has no meta bucket)")
		}
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketExpiry); err != nil {
			return err
		}
		return meta.Put(keyVersion, []byte(SchemaVersion))
	})
}

// Path returns the path of the store's file.
func (s *Store) Path() string { return s.path }

// Close stops the committer after the writes already queued, and closes the
// file. Afterwards every method returns storage.ErrClosed; calling Close
// again returns nil.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed.Load() {
		s.closeMu.Unlock()
		return nil
	}
	s.closed.Store(true)
	s.closeMu.Unlock()
	close(s.quit)
	<-s.done
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: close: %w", err)
	}
	return nil
}

// commitLoop is the committer goroutine: it applies queued writes in
// batches, one transaction per batch, until Close.
func (s *Store) commitLoop() {
	defer close(s.done)
	batch := make([]*write, 0, s.opts.MaxBatch)
	for {
		select {
		case w := <-s.writes:
			batch = append(batch[:0], w)
		case <-s.quit:
			// Close holds no sender back any more: finish what is queued.
			for {
				select {
				case w := <-s.writes:
					s.commit([]*write{w})
				default:
					return
				}
			}
		}
	drain:
		for len(batch) < s.opts.MaxBatch {
			select {
			case w := <-s.writes:
				batch = append(batch, w)
			default:
				break drain
			}
		}
		s.commit(batch)
		clear(batch)
	}
}

// commit applies batch in one transaction and reports each write's result.
func (s *Store) commit(batch []*write) {
	results := make([]error, len(batch))
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i, w := range batch {
			results[i] = call(w.fn, tx)
			if results[i] != nil && !isDomain(results[i]) {
				return errRetry
			}
		}
		return nil
	})
	switch {
	case err == nil:
		for i, w := range batch {
			w.done <- results[i]
		}
	case errors.Is(err, errRetry) && len(batch) > 1:
		// bbolt failed inside one write: roll back and isolate it.
		for _, w := range batch {
			s.commit([]*write{w})
		}
	case errors.Is(err, errRetry):
		batch[0].done <- fmt.Errorf("boltstore: %w", results[0])
	default:
		// The commit failed: nothing of the batch was written.
		for _, w := range batch {
			w.done <- fmt.Errorf("boltstore: commit: %w", err)
		}
	}
}

// call runs fn, turning a panic into an error so that the committer survives
// a bug in one write and the batch is rolled back.
func call(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in write: %v", r)
		}
	}()
	return fn(tx)
}

// errRetry aborts a batch whose write failed inside bbolt.
var errRetry = errors.New("boltstore: batch aborted")

// isDomain reports whether err is one of the storage errors a write function
// returns before it changes anything.
func isDomain(err error) bool {
	return errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrExists) ||
		errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrInvalid)
}

// update queues fn and waits until its batch has committed. fn must check
// every precondition (returning a storage error) before it changes anything,
// and must not keep the transaction or its byte slices.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &write{fn: fn, done: make(chan error, 1)}
	s.closeMu.RLock()
	if s.closed.Load() {
		s.closeMu.RUnlock()
		return storage.ErrClosed
	}
	s.writes <- w
	s.closeMu.RUnlock()
	// Once queued, the write is committed or fails as a whole; the context
	// can no longer stop it, so wait for the outcome.
	return <-w.done
}

// view runs fn in a read transaction.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	err := s.db.View(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return storage.ErrClosed
	}
	return err
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

// checkTenant rejects tenant names the storage contract does not allow.
func checkTenant(tenant string) error {
	if len(tenant) > storage.MaxTenantLen || !utf8.ValidString(tenant) {
		return fmt.Errorf("boltstore: tenant: %w", storage.ErrInvalid)
	}
	return nil
}

func tenantName(tenant string) []byte { return append([]byte{'t'}, tenant...) }

// tenantBucket returns the bucket of tenant, or nil if it has none yet.
func tenantBucket(tx *bolt.Tx, tenant string) *bolt.Bucket {
	return tx.Bucket(tenantName(tenant))
}

// tenantBucketW returns the bucket of tenant, creating it.
func tenantBucketW(tx *bolt.Tx, tenant string) (*bolt.Bucket, error) {
	return tx.CreateBucketIfNotExists(tenantName(tenant))
}

// sub returns the named bucket inside b, or nil.
func sub(b *bolt.Bucket, names ...string) *bolt.Bucket {
	for _, n := range names {
		if b == nil {
			return nil
		}
		b = b.Bucket([]byte(n))
	}
	return b
}

// subW returns the named bucket inside b, creating each level.
func subW(b *bolt.Bucket, names ...string) (*bolt.Bucket, error) {
	var err error
	for _, n := range names {
		if b, err = b.CreateBucketIfNotExists([]byte(n)); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// timeKey encodes t so that keys sort by time; the zero time sorts first.
// Times that int64 nanoseconds since 1970 cannot hold (before 1678, the zero
// time included, or after 2262) saturate at the ends instead of wrapping
// around, so that an expiry in the year 3000 is never due.
func timeKey(t time.Time) []byte {
	switch {
	case t.Before(minNanoTime):
		return u64(0)
	case t.After(maxNanoTime):
		return u64(math.MaxUint64)
	}
	return u64(uint64(t.UnixNano()) ^ 1<<63)
}

// The earliest and latest times UnixNano can represent.
var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

func notFound(what, key string) error {
	return fmt.Errorf("boltstore: %s %q: %w", what, key, storage.ErrNotFound)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("boltstore: %s: %w", fmt.Sprintf(format, args...), storage.ErrInvalid)
}
