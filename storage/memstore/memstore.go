// Package memstore is an in-memory storage.Storage.
//
// It is a supported store, held to the same conformance suite
// (storage/storagetest) as the durable ones: use it in unit tests, in
// examples, and in hosts that can afford to lose their state on restart.
//
// Values are copied on the way in and on the way out, so callers never share
// memory with the store. A Store is safe for concurrent use; every method is
// atomic. Lists keep ordered indexes (by alias key, by creation order per
// tenant, per alias and per agent, by append order per session, by time per
// session's artifacts), so a page costs O(log n + page) however much is
// stored. Sweep scans everything, which is fine for the sizes memory holds.
package memstore

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/internal/keys"
	"github.com/agentalias/agentalias/internal/ordmap"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// Store is an in-memory storage.Storage. Create one with New.
type Store struct {
	isClosed atomic.Bool // set by Close; lets calls fail fast before checking arguments

	mu      sync.RWMutex
	rUnlock func() // s.mu.RUnlock, bound once so begin does not allocate
	wUnlock func() // s.mu.Unlock
	closed  bool
	seq     uint64 // last sequence number given to a session or event
	tenants map[string]*tenant
}

var _ storage.Storage = (*Store)(nil)

type tenant struct {
	aliases  *ordmap.Map[string, *alias.Alias]
	sessions map[string]*sessionEntry
	bySeq    *ordmap.Map[uint64, *sessionEntry]
	byAlias  map[string]*ordmap.Map[uint64, *sessionEntry]
	byAgent  map[string]*ordmap.Map[uint64, *sessionEntry]
	pins     map[pinID]*storage.Pin
}

type pinID struct{ alias, key string }

type sessionEntry struct {
	s         *session.Session
	seq       uint64
	events    *ordmap.Map[uint64, *event.Event]
	eventSeq  map[string]uint64 // event id -> sequence
	artifacts map[string]*artifact.Artifact
	byCreated *ordmap.Map[artKey, *artifact.Artifact]
	byUpdated *ordmap.Map[artKey, *artifact.Artifact]
}

type artKey struct {
	t  int64 // nanos of the time
	id string
}

// The earliest and latest times UnixNano can represent.
var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// nanos is t.UnixNano for ordering, saturated for the times an int64 cannot
// hold (before 1678, the zero time included, or after 2262), for which
// UnixNano wraps around.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minNanoTime):
		return math.MinInt64
	case t.After(maxNanoTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func cmpArtKey(a, b artKey) int {
	if c := cmp.Compare(a.t, b.t); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// New returns an empty store.
func New() *Store {
	s := &Store{tenants: map[string]*tenant{}}
	s.rUnlock, s.wUnlock = s.mu.RUnlock, s.mu.Unlock
	return s
}

// Close empties the store. Afterwards every method returns storage.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.isClosed.Store(true)
	s.tenants = nil
	return nil
}

// check fails fast when ctx is done or the store is closed, so that those
// errors win over argument errors.
func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed.Load() {
		return storage.ErrClosed
	}
	return nil
}

// begin checks the context, the store and the tenant before a call, and locks
// the store for writing (write) or reading. The caller must call the returned
// unlock function.
func (s *Store) begin(ctx context.Context, tenantName string, write bool) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(tenantName) > storage.MaxTenantLen || !utf8.ValidString(tenantName) {
		return nil, fmt.Errorf("memstore: tenant: %w", storage.ErrInvalid)
	}
	if write {
		s.mu.Lock()
		unlock = s.wUnlock
	} else {
		s.mu.RLock()
		unlock = s.rUnlock
	}
	if s.closed {
		unlock()
		return nil, storage.ErrClosed
	}
	return unlock, nil
}

// tenant returns the named tenant, creating it if create is set; otherwise
// it may return nil.
func (s *Store) tenant(name string, create bool) *tenant {
	t := s.tenants[name]
	if t == nil && create {
		t = &tenant{
			aliases:  ordmap.New[string, *alias.Alias](strings.Compare),
			sessions: map[string]*sessionEntry{},
			bySeq:    ordmap.New[uint64, *sessionEntry](cmp.Compare[uint64]),
			byAlias:  map[string]*ordmap.Map[uint64, *sessionEntry]{},
			byAgent:  map[string]*ordmap.Map[uint64, *sessionEntry]{},
			pins:     map[pinID]*storage.Pin{},
		}
		s.tenants[name] = t
	}
	return t
}

func notFound(what, key string) error {
	return fmt.Errorf("memstore: %s %q: %w", what, key, storage.ErrNotFound)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("memstore: %s: %w", fmt.Sprintf(format, args...), storage.ErrInvalid)
}

// ---- aliases

// CreateAlias implements storage.Aliases.
func (s *Store) CreateAlias(ctx context.Context, tenantName string, a *alias.Alias) (*alias.Alias, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if !keys.Valid(a.Key) {
		return nil, invalid("alias key %q", a.Key)
	}
	unlock, err := s.begin(ctx, tenantName, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	t := s.tenant(tenantName, true)
	if _, ok := t.aliases.Get(a.Key); ok {
		return nil, fmt.Errorf("memstore: alias %q: %w", a.Key, storage.ErrExists)
	}
	c := a.Clone()
	c.Revision = 1
	t.aliases.Set(c.Key, c)
	return c.Clone(), nil
}

// Alias implements storage.Aliases.
func (s *Store) Alias(ctx context.Context, tenantName, key string) (*alias.Alias, error) {
	unlock, err := s.begin(ctx, tenantName, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if t := s.tenant(tenantName, false); t != nil {
		if a, ok := t.aliases.Get(key); ok {
			return a.Clone(), nil
		}
	}
	return nil, notFound("alias", key)
}

// ListAliases implements storage.Aliases.
func (s *Store) ListAliases(ctx context.Context, tenantName string, q storage.AliasQuery) (storage.Page[*alias.Alias], error) {
	var page storage.Page[*alias.Alias]
	limit, after, hasAfter, unlock, err := listing(s, ctx, tenantName, q.Limit, q.PageKey, decoder(decodeKey, "a"))
	if err != nil {
		return page, err
	}
	defer unlock()
	t := s.tenant(tenantName, false)
	if t == nil {
		return page, nil
	}
	it := t.aliases.Ascend()
	if hasAfter {
		it = t.aliases.AscendFrom(after, true)
	}
	for _, a := range it {
		if q.Enabled != nil && a.Enabled != *q.Enabled ||
			q.AgentKey != "" && !a.Policy.References(q.AgentKey) ||
			!matches(q.Filter, a.Name, a.Description) {
			continue
		}
		if len(page.Items) == limit {
			page.Next = encodeKey("a", page.Items[limit-1].Key)
			break
		}
		page.Items = append(page.Items, a.Clone())
	}
	return page, nil
}

// UpdateAlias implements storage.Aliases.
func (s *Store) UpdateAlias(ctx context.Context, tenantName string, a *alias.Alias) (*alias.Alias, error) {
	unlock, err := s.begin(ctx, tenantName, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	t := s.tenant(tenantName, false)
	if t == nil {
		return nil, notFound("alias", a.Key)
	}
	old, ok := t.aliases.Get(a.Key)
	if !ok {
		return nil, notFound("alias", a.Key)
	}
	if !old.CreatedAt.Equal(a.CreatedAt) {
		return nil, invalid("alias %q: created_at cannot change", a.Key)
	}
	if old.Revision != a.Revision {
		return nil, fmt.Errorf("memstore: alias %q: revision %d is stale (stored %d): %w", a.Key, a.Revision, old.Revision, storage.ErrConflict)
	}
	c := a.Clone()
	c.Revision = old.Revision + 1
	t.aliases.Set(c.Key, c)
	return c.Clone(), nil
}

// DeleteAlias implements storage.Aliases.
func (s *Store) DeleteAlias(ctx context.Context, tenantName, key string, now time.Time) error {
	unlock, err := s.begin(ctx, tenantName, true)
	if err != nil {
		return err
	}
	defer unlock()
	t := s.tenant(tenantName, false)
	if t == nil {
		return notFound("alias", key)
	}
	if _, ok := t.aliases.Get(key); !ok {
		return notFound("alias", key)
	}
	if idx := t.byAlias[key]; idx != nil {
		for _, e := range idx.Ascend() {
			if e.s.Enabled && !e.s.Expired(now) {
				return fmt.Errorf("memstore: alias %q: enabled session %q was created through it: %w", key, e.s.Key, storage.ErrConflict)
			}
		}
	}
	t.aliases.Delete(key)
	for id := range t.pins {
		if id.alias == key {
			delete(t.pins, id)
		}
	}
	return nil
}

// ---- sessions

// CreateSession implements storage.Sessions.
func (s *Store) CreateSession(ctx context.Context, tenantName string, sess *session.Session) (*session.Session, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	switch {
	case !keys.Valid(sess.Key):
		return nil, invalid("session key %q", sess.Key)
	case !keys.Valid(sess.AgentKey):
		return nil, invalid("agent key %q", sess.AgentKey)
	case sess.AliasKey != "" && !keys.Valid(sess.AliasKey):
		return nil, invalid("alias key %q", sess.AliasKey)
	}
	unlock, err := s.begin(ctx, tenantName, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	t := s.tenant(tenantName, true)
	if _, ok := t.sessions[sess.Key]; ok {
		return nil, fmt.Errorf("memstore: session %q: %w", sess.Key, storage.ErrExists)
	}
	if sess.AliasKey != "" {
		if _, ok := t.aliases.Get(sess.AliasKey); !ok {
			return nil, notFound("alias", sess.AliasKey)
		}
	}
	c := sess.Clone()
	c.Revision = 1
	s.seq++
	// A session's event and artifact indexes are made when first needed:
	// most sessions in a large store have few or none.
	e := &sessionEntry{s: c, seq: s.seq}
	t.sessions[c.Key] = e
	t.bySeq.Set(e.seq, e)
	index(t.byAgent, c.AgentKey).Set(e.seq, e)
	if c.AliasKey != "" {
		index(t.byAlias, c.AliasKey).Set(e.seq, e)
	}
	return c.Clone(), nil
}

func index(m map[string]*ordmap.Map[uint64, *sessionEntry], key string) *ordmap.Map[uint64, *sessionEntry] {
	idx := m[key]
	if idx == nil {
		idx = ordmap.New[uint64, *sessionEntry](cmp.Compare[uint64])
		m[key] = idx
	}
	return idx
}

func unindex(m map[string]*ordmap.Map[uint64, *sessionEntry], key string, seq uint64) {
	if idx := m[key]; idx != nil {
		idx.Delete(seq)
		if idx.Len() == 0 {
			delete(m, key)
		}
	}
}

// Session implements storage.Sessions.
func (s *Store) Session(ctx context.Context, tenantName, key string) (*session.Session, error) {
	unlock, err := s.begin(ctx, tenantName, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	e, err := s.session(tenantName, key)
	if err != nil {
		return nil, err
	}
	return e.s.Clone(), nil
}

func (s *Store) session(tenantName, key string) (*sessionEntry, error) {
	if t := s.tenant(tenantName, false); t != nil {
		if e := t.sessions[key]; e != nil {
			return e, nil
		}
	}
	return nil, notFound("session", key)
}

// ListSessions implements storage.Sessions.
func (s *Store) ListSessions(ctx context.Context, tenantName string, q storage.SessionQuery) (storage.Page[*session.Session], error) {
	var page storage.Page[*session.Session]
	limit, after, hasAfter, unlock, err := listing(s, ctx, tenantName, q.Limit, q.PageKey, decoder(decodeSeq, "s"))
	if err != nil {
		return page, err
	}
	defer unlock()
	t := s.tenant(tenantName, false)
	if t == nil {
		return page, nil
	}
	// Walk the narrowest index; check the other conditions on each entry.
	idx := t.bySeq
	switch {
	case q.AliasKey != "":
		idx = t.byAlias[q.AliasKey]
	case q.AgentKey != "":
		idx = t.byAgent[q.AgentKey]
	}
	if idx == nil {
		return page, nil
	}
	it := idx.Ascend()
	if hasAfter {
		it = idx.AscendFrom(after, true)
	}
	var last uint64
	for seq, e := range it {
		x := e.s
		if q.AliasKey != "" && x.AliasKey != q.AliasKey ||
			q.AgentKey != "" && x.AgentKey != q.AgentKey ||
			!q.Now.IsZero() && x.Expired(q.Now) ||
			!matches(q.Filter, x.Name, x.Description) {
			continue
		}
		if len(page.Items) == limit {
			page.Next = encodeSeq("s", last)
			break
		}
		page.Items = append(page.Items, x.Clone())
		last = seq
	}
	return page, nil
}

// UpdateSession implements storage.Sessions.
func (s *Store) UpdateSession(ctx context.Context, tenantName string, sess *session.Session) (*session.Session, error) {
	unlock, err := s.begin(ctx, tenantName, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	e, err := s.session(tenantName, sess.Key)
	if err != nil {
		return nil, err
	}
	old := e.s
	if old.AgentKey != sess.AgentKey || old.AliasKey != sess.AliasKey || !old.CreatedAt.Equal(sess.CreatedAt) {
		return nil, invalid("session %q: agent_key, alias_key and created_at cannot change", sess.Key)
	}
	if old.Revision != sess.Revision {
		return nil, fmt.Errorf("memstore: session %q: revision %d is stale (stored %d): %w", sess.Key, sess.Revision, old.Revision, storage.ErrConflict)
	}
	c := sess.Clone()
	c.Revision = old.Revision + 1
	e.s = c
	return c.Clone(), nil
}

// DeleteSession implements storage.Sessions.
func (s *Store) DeleteSession(ctx context.Context, tenantName, key string) error {
	unlock, err := s.begin(ctx, tenantName, true)
	if err != nil {
		return err
	}
	defer unlock()
	e, err := s.session(tenantName, key)
	if err != nil {
		return err
	}
	s.deleteSession(s.tenants[tenantName], e)
	return nil
}

func (s *Store) deleteSession(t *tenant, e *sessionEntry) {
	delete(t.sessions, e.s.Key)
	t.bySeq.Delete(e.seq)
	unindex(t.byAgent, e.s.AgentKey, e.seq)
	if e.s.AliasKey != "" {
		unindex(t.byAlias, e.s.AliasKey, e.seq)
	}
}

// ---- events

// AppendEvents implements storage.Events.
func (s *Store) AppendEvents(ctx context.Context, tenantName, sessionKey string, evs []*event.Event) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	seen := make(map[string]bool, len(evs))
	for _, ev := range evs {
		if ev.SessionKey != sessionKey {
			return invalid("event %q belongs to session %q, not %q", ev.ID, ev.SessionKey, sessionKey)
		}
		if !event.ValidID(ev.ID) {
			return invalid("event id %q", ev.ID)
		}
		if seen[ev.ID] {
			return fmt.Errorf("memstore: event %q appears twice: %w", ev.ID, storage.ErrExists)
		}
		seen[ev.ID] = true
	}
	unlock, err := s.begin(ctx, tenantName, true)
	if err != nil {
		return err
	}
	defer unlock()
	e, err := s.session(tenantName, sessionKey)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if _, ok := e.eventSeq[ev.ID]; ok {
			return fmt.Errorf("memstore: event %q: %w", ev.ID, storage.ErrExists)
		}
	}
	if e.events == nil {
		e.events = ordmap.New[uint64, *event.Event](cmp.Compare[uint64])
		e.eventSeq = map[string]uint64{}
	}
	for _, ev := range evs {
		s.seq++
		e.events.Set(s.seq, ev.Clone())
		e.eventSeq[ev.ID] = s.seq
	}
	return nil
}

func (s *Store) event(tenantName, sessionKey, id string) (*sessionEntry, uint64, *event.Event, error) {
	e, err := s.session(tenantName, sessionKey)
	if err != nil {
		return nil, 0, nil, err
	}
	seq, ok := e.eventSeq[id]
	if !ok {
		return nil, 0, nil, notFound("event", id)
	}
	ev, _ := e.events.Get(seq)
	return e, seq, ev, nil
}

// Event implements storage.Events.
func (s *Store) Event(ctx context.Context, tenantName, sessionKey, id string) (*event.Event, error) {
	unlock, err := s.begin(ctx, tenantName, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	_, _, ev, err := s.event(tenantName, sessionKey, id)
	if err != nil {
		return nil, err
	}
	return ev.Clone(), nil
}

// ListEvents implements storage.Events.
func (s *Store) ListEvents(ctx context.Context, tenantName, sessionKey string, q storage.EventQuery) (storage.Page[*event.Event], error) {
	var page storage.Page[*event.Event]
	limit, after, hasAfter, unlock, err := listing(s, ctx, tenantName, q.Limit, q.PageKey, decoder(decodeSeq, "e"))
	if err != nil {
		return page, err
	}
	defer unlock()
	e, err := s.session(tenantName, sessionKey)
	if err != nil {
		return page, err
	}
	it := e.events.Ascend()
	if hasAfter {
		it = e.events.AscendFrom(after, true)
	}
	var last uint64
	for seq, ev := range it {
		if ev.Hidden() && !q.IncludeHidden {
			continue
		}
		if len(page.Items) == limit {
			page.Next = encodeSeq("e", last)
			break
		}
		page.Items = append(page.Items, ev.Clone())
		last = seq
	}
	return page, nil
}

// DeleteEvent implements storage.Events.
func (s *Store) DeleteEvent(ctx context.Context, tenantName, sessionKey, id string) error {
	unlock, err := s.begin(ctx, tenantName, true)
	if err != nil {
		return err
	}
	defer unlock()
	e, seq, _, err := s.event(tenantName, sessionKey, id)
	if err != nil {
		return err
	}
	e.events.Delete(seq)
	delete(e.eventSeq, id)
	return nil
}

// SetEventHidden implements storage.Events.
func (s *Store) SetEventHidden(ctx context.Context, tenantName, sessionKey, id, reason string) (*event.Event, error) {
	unlock, err := s.begin(ctx, tenantName, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	_, _, ev, err := s.event(tenantName, sessionKey, id)
	if err != nil {
		return nil, err
	}
	ev.HideReason = reason
	return ev.Clone(), nil
}

// ---- artifacts

// CreateArtifact implements storage.Artifacts.
func (s *Store) CreateArtifact(ctx context.Context, tenantName string, a *artifact.Artifact) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if !artifact.ValidID(a.ID) {
		return invalid("artifact id %q", a.ID)
	}
	unlock, err := s.begin(ctx, tenantName, true)
	if err != nil {
		return err
	}
	defer unlock()
	e, err := s.session(tenantName, a.SessionKey)
	if err != nil {
		return err
	}
	if _, ok := e.artifacts[a.ID]; ok {
		return fmt.Errorf("memstore: artifact %q: %w", a.ID, storage.ErrExists)
	}
	c := a.Clone()
	if e.artifacts == nil {
		e.artifacts = map[string]*artifact.Artifact{}
		e.byCreated = ordmap.New[artKey, *artifact.Artifact](cmpArtKey)
		e.byUpdated = ordmap.New[artKey, *artifact.Artifact](cmpArtKey)
	}
	e.artifacts[c.ID] = c
	e.byCreated.Set(artKey{nanos(c.CreatedAt), c.ID}, c)
	e.byUpdated.Set(artKey{nanos(c.UpdatedAt), c.ID}, c)
	return nil
}

// Artifact implements storage.Artifacts.
func (s *Store) Artifact(ctx context.Context, tenantName, sessionKey, id string) (*artifact.Artifact, error) {
	unlock, err := s.begin(ctx, tenantName, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	e, err := s.session(tenantName, sessionKey)
	if err != nil {
		return nil, err
	}
	a := e.artifacts[id]
	if a == nil {
		return nil, notFound("artifact", id)
	}
	return a.Clone(), nil
}

// ListArtifacts implements storage.Artifacts.
func (s *Store) ListArtifacts(ctx context.Context, tenantName, sessionKey string, q storage.ArtifactQuery) (storage.Page[*artifact.Artifact], error) {
	if err := s.check(ctx); err != nil {
		return storage.Page[*artifact.Artifact]{}, err
	}
	var page storage.Page[*artifact.Artifact]
	sortBy, order := q.SortBy, q.Order
	if sortBy == "" {
		sortBy = storage.SortCreatedAt
	}
	if order == "" {
		order = storage.OrderDesc
	}
	if sortBy != storage.SortCreatedAt && sortBy != storage.SortUpdatedAt {
		return page, invalid("sort_by %q", q.SortBy)
	}
	if order != storage.OrderAsc && order != storage.OrderDesc {
		return page, invalid("order_by %q", q.Order)
	}
	tag := "r" + sortBy[:1] + order[:1]
	limit, after, hasAfter, unlock, err := listing(s, ctx, tenantName, q.Limit, q.PageKey, decoder(decodeArtKey, tag))
	if err != nil {
		return page, err
	}
	defer unlock()
	e, err := s.session(tenantName, sessionKey)
	if err != nil {
		return page, err
	}
	idx := e.byCreated
	if sortBy == storage.SortUpdatedAt {
		idx = e.byUpdated
	}
	var it func(func(artKey, *artifact.Artifact) bool)
	switch {
	case order == storage.OrderAsc && hasAfter:
		it = idx.AscendFrom(after, true)
	case order == storage.OrderAsc:
		it = idx.Ascend()
	case hasAfter:
		it = idx.DescendFrom(after, true)
	default:
		it = idx.Descend()
	}
	var last artKey
	for k, a := range it {
		if !q.Now.IsZero() && a.Expired(q.Now) {
			continue
		}
		if len(page.Items) == limit {
			page.Next = encodeArtKey(tag, last)
			break
		}
		page.Items = append(page.Items, a.WithoutData())
		last = k
	}
	return page, nil
}

// ---- pins

// Pin implements storage.Pins.
func (s *Store) Pin(ctx context.Context, tenantName, aliasKey, key string) (*storage.Pin, error) {
	unlock, err := s.begin(ctx, tenantName, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if t := s.tenant(tenantName, false); t != nil {
		if p := t.pins[pinID{aliasKey, key}]; p != nil {
			c := *p
			return &c, nil
		}
	}
	return nil, notFound("pin", key)
}

// SetPin implements storage.Pins.
func (s *Store) SetPin(ctx context.Context, tenantName string, p, prev *storage.Pin) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	switch {
	case !keys.Valid(p.AliasKey):
		return invalid("pin alias key %q", p.AliasKey)
	case !keys.Valid(p.AgentKey):
		return invalid("pin agent key %q", p.AgentKey)
	case p.Key == "" || len(p.Key) > storage.MaxPinKeyLen:
		return invalid("pin key must be 1-%d bytes", storage.MaxPinKeyLen)
	}
	unlock, err := s.begin(ctx, tenantName, true)
	if err != nil {
		return err
	}
	defer unlock()
	t := s.tenant(tenantName, true)
	id := pinID{p.AliasKey, p.Key}
	if !t.pins[id].Same(prev) {
		return fmt.Errorf("memstore: pin %q of alias %q changed: %w", p.Key, p.AliasKey, storage.ErrConflict)
	}
	c := *p
	t.pins[id] = &c
	return nil
}

// ---- sweeping

// Sweep implements storage.Sweeper.
func (s *Store) Sweep(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, invalid("sweep limit %d", limit)
	}
	unlock, err := s.begin(ctx, "", true)
	if err != nil {
		return 0, err
	}
	defer unlock()
	n := 0
	for _, t := range s.tenants {
		for _, e := range t.sessions {
			if n == limit {
				return n, nil
			}
			if e.s.Expired(now) {
				s.deleteSession(t, e)
				n++
				continue
			}
			for id, a := range e.artifacts {
				if n == limit {
					return n, nil
				}
				if a.Expired(now) {
					delete(e.artifacts, id)
					e.byCreated.Delete(artKey{nanos(a.CreatedAt), id})
					e.byUpdated.Delete(artKey{nanos(a.UpdatedAt), id})
					n++
				}
			}
		}
		for id, p := range t.pins {
			if n == limit {
				return n, nil
			}
			if p.Expired(now) {
				delete(t.pins, id)
				n++
			}
		}
	}
	return n, nil
}

// ---- helpers

// listing is the common start of every list: it fails fast, checks the limit,
// decodes the page key with decode (unless it is ""), and locks the store for
// reading. On success the caller must call unlock.
func listing[P any](s *Store, ctx context.Context, tenantName string, limit int, pageKey string, decode func(string) (P, error)) (n int, after P, hasAfter bool, unlock func(), err error) {
	if err = s.check(ctx); err != nil {
		return
	}
	if n, err = checkLimit(limit); err != nil {
		return
	}
	if pageKey != "" {
		if after, err = decode(pageKey); err != nil {
			return
		}
		hasAfter = true
	}
	unlock, err = s.begin(ctx, tenantName, false)
	return
}

func matches(re *regexp.Regexp, name, description string) bool {
	return re == nil || re.MatchString(name) || re.MatchString(description)
}

// decoder adapts a page-key decoder to listing, for the given tag.
func decoder[P any](decode func(pageKey, tag string) (P, bool, error), tag string) func(string) (P, error) {
	return func(pageKey string) (P, error) {
		p, _, err := decode(pageKey, tag)
		return p, err
	}
}

func checkLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return storage.DefaultLimit, nil
	case limit < 0 || limit > storage.MaxLimit:
		return 0, invalid("limit %d is not between 1 and %d", limit, storage.MaxLimit)
	}
	return limit, nil
}

// Page keys are base64url of "<tag>:<position>", where the tag names the
// list and order the key belongs to, and the position is the last item
// returned.

func encodeKey(tag, pos string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tag + ":" + pos))
}

func decodeKey(pageKey, tag string) (string, bool, error) {
	if pageKey == "" {
		return "", false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(pageKey)
	pos, ok := strings.CutPrefix(string(b), tag+":")
	if err != nil || !ok {
		return "", false, invalid("page key %q", pageKey)
	}
	return pos, true, nil
}

func encodeSeq(tag string, seq uint64) string {
	return encodeKey(tag, strconv.FormatUint(seq, 10))
}

func decodeSeq(pageKey, tag string) (uint64, bool, error) {
	pos, ok, err := decodeKey(pageKey, tag)
	if err != nil || !ok {
		return 0, ok, err
	}
	seq, err := strconv.ParseUint(pos, 10, 64)
	if err != nil {
		return 0, false, invalid("page key %q", pageKey)
	}
	return seq, true, nil
}

func encodeArtKey(tag string, k artKey) string {
	return encodeKey(tag, strconv.FormatInt(k.t, 10)+":"+k.id)
}

func decodeArtKey(pageKey, tag string) (artKey, bool, error) {
	pos, ok, err := decodeKey(pageKey, tag)
	if err != nil || !ok {
		return artKey{}, ok, err
	}
	ts, id, found := strings.Cut(pos, ":")
	t, err := strconv.ParseInt(ts, 10, 64)
	if !found || err != nil || !artifact.ValidID(id) {
		return artKey{}, false, invalid("page key %q", pageKey)
	}
	return artKey{t, id}, true, nil
}
