// Package storage defines where agentalias keeps its state: the Storage
// interface that every store implements, and the errors stores return.
//
// Implementations live in subpackages: storage/memstore keeps everything in
// memory, storage/boltstore in one bbolt file, and storage/pgstore (a Go
// module of its own) in PostgreSQL, shared by any number of processes. storage/storagetest is the
// specification: one conformance suite that every store runs. A behaviour the
// suite does not check is not promised.
//
// # For implementers
//
// Every method is atomic: it happens entirely or not at all, and a failed call
// changes nothing. Every method is safe for concurrent use. Every method takes
// a context first; a store checks it before it starts work and returns
// ctx.Err() if it is done. After Close every method returns ErrClosed,
// whatever its arguments (a done context still answers ctx.Err()).
//
// Values are copied in and out: a store never keeps a pointer the caller
// passed in, and the values it returns belong to the caller. A store never
// interprets time itself: callers pass the current time where expiry matters,
// so stores need no clock and tests control time completely.
//
// # Tenants
//
// Every method is scoped to a tenant, a string of at most 255 bytes of valid
// UTF-8; "" is the default tenant that single-tenant hosts use. Each tenant
// has its own namespace of aliases, sessions, events, artifacts and pins. A
// key of another tenant behaves exactly as a key that does not exist, and never
// shows up in a list.
//
// # Listing
//
// Lists return a Page of at most Limit items (1-100; 0 means DefaultLimit) in
// a stable order, and a Next page key when more items follow; every page but
// the last holds exactly Limit items. A page key is opaque, valid only with
// the list (and, for artifacts, the sort order) that produced it, and stays
// valid while other callers insert and delete: following page keys from the
// first page yields every item that existed throughout exactly once. A list
// costs O(page), not O(items stored), except for the items a filter skips.
// Keys sort in byte order and are case-sensitive.
//
// Keys and ids that are malformed (not matching the contract's patterns) are
// ErrInvalid when creating; on reads a store may answer ErrNotFound or
// ErrInvalid for them. Maps and slices in stored values read back equal, with
// nil and empty counting as the same.
//
// # Errors
//
// Stores return (possibly wrapping) ErrNotFound, ErrExists, ErrConflict,
// ErrInvalid and ErrClosed; callers test them with errors.Is. Any other error
// is an internal failure of the store (for example, of the disk).
package storage

import (
	"context"
	"errors"
	"io"
	"regexp"
	"time"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/session"
)

// Errors returned by stores. Stores may wrap them; test with errors.Is.
var (
	// ErrNotFound means the item, or an item it depends on (the session of an
	// event, the alias of a new session), does not exist in the tenant.
	ErrNotFound = errors.New("storage: not found")

	// ErrExists means an item with the same key or id already exists.
	ErrExists = errors.New("storage: already exists")

	// ErrConflict means the call lost a race or would break an invariant: an
	// update whose Revision is stale, a pin that changed since it was read,
	// an alias still referenced by an enabled session.
	ErrConflict = errors.New("storage: conflict")

	// ErrInvalid means an argument is malformed: a bad key or tenant, a limit
	// out of range, a page key the store did not produce for this query, a
	// change to a field that never changes.
	ErrInvalid = errors.New("storage: invalid argument")

	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("storage: closed")
)

// Page sizes.
const (
	DefaultLimit = 10  // items per page when a query's Limit is 0
	MaxLimit     = 100 // largest Limit a query may ask for
)

// MaxTenantLen is the longest tenant name, in bytes.
const MaxTenantLen = 255

// MaxPinKeyLen is the longest sticky key a Pin may hold, in bytes.
const MaxPinKeyLen = 1024

// Storage is everything agentalias stores. A Storage is safe for concurrent
// use by multiple goroutines.
type Storage interface {
	Aliases
	Sessions
	Events
	Artifacts
	Pins
	Sweeper

	// Close releases the store's resources. Afterwards every method returns
	// ErrClosed; calling Close again returns nil.
	io.Closer
}

// Page is one page of a list.
type Page[T any] struct {
	// Items holds at most the query's Limit items, in the list's order.
	Items []T

	// Next is the page key of the next page, or "" when no more items
	// matched at the time of the call.
	Next string
}

// AliasQuery selects aliases. The zero value lists every alias of a tenant,
// DefaultLimit at a time, in ascending order of key.
type AliasQuery struct {
	Limit   int    // 0 means DefaultLimit; at most MaxLimit
	PageKey string // from the previous Page.Next; "" for the first page

	// Enabled, if not nil, keeps only aliases whose Enabled equals *Enabled.
	Enabled *bool

	// AgentKey, if not "", keeps only aliases whose policy names that agent
	// (the contract's aliased_agent_key).
	AgentKey string

	// Filter, if not nil, keeps only aliases whose name or description it
	// matches.
	Filter *regexp.Regexp
}

// Aliases stores aliases.
type Aliases interface {
	// CreateAlias stores a new alias in tenant and returns the stored copy,
	// whose Revision is 1. It returns ErrExists if the tenant already has an
	// alias with a.Key, and ErrInvalid if a.Key is not a valid alias key.
	// The caller validates everything else.
	CreateAlias(ctx context.Context, tenant string, a *alias.Alias) (*alias.Alias, error)

	// Alias returns the alias with key in tenant, or ErrNotFound.
	Alias(ctx context.Context, tenant, key string) (*alias.Alias, error)

	// ListAliases returns one page of tenant's aliases matching q, in
	// ascending order of key.
	ListAliases(ctx context.Context, tenant string, q AliasQuery) (Page[*alias.Alias], error)

	// UpdateAlias replaces the stored alias with key a.Key by a, if the stored
	// Revision equals a.Revision (compare-and-set), and returns the stored
	// copy with Revision incremented. It returns ErrNotFound if there is no
	// such alias, ErrConflict if the revision is stale, and ErrInvalid if
	// a.CreatedAt differs from the stored value.
	UpdateAlias(ctx context.Context, tenant string, a *alias.Alias) (*alias.Alias, error)

	// DeleteAlias deletes the alias with key and the sticky pins recorded for
	// it. It returns ErrNotFound if there is no such alias and ErrConflict if
	// a session created through the alias is enabled and not expired at now;
	// the check and the deletion are atomic with respect to CreateSession.
	// Sessions created through the alias are not touched.
	DeleteAlias(ctx context.Context, tenant, key string, now time.Time) error
}

// SessionQuery selects sessions. The zero value lists every session of a
// tenant, DefaultLimit at a time, in creation order (oldest first).
type SessionQuery struct {
	Limit   int    // 0 means DefaultLimit; at most MaxLimit
	PageKey string // from the previous Page.Next; "" for the first page

	// AliasKey, if not "", keeps only sessions created through that alias.
	AliasKey string

	// AgentKey, if not "", keeps only sessions owned by that agent.
	AgentKey string

	// Filter, if not nil, keeps only sessions whose name or description it
	// matches.
	Filter *regexp.Regexp

	// Now, if not zero, leaves out sessions expired at Now.
	Now time.Time
}

// Sessions stores sessions.
type Sessions interface {
	// CreateSession stores a new session in tenant and returns the stored
	// copy, whose Revision is 1. It returns ErrExists if the tenant already
	// has a session with s.Key, ErrNotFound if s.AliasKey is not "" and the
	// tenant has no such alias (checked atomically with DeleteAlias), and
	// ErrInvalid if s.Key, s.AgentKey or a non-empty s.AliasKey is not a
	// valid key. The caller validates everything else.
	CreateSession(ctx context.Context, tenant string, s *session.Session) (*session.Session, error)

	// Session returns the session with key in tenant, or ErrNotFound. It
	// returns expired sessions too; callers check Session.Expired.
	Session(ctx context.Context, tenant, key string) (*session.Session, error)

	// ListSessions returns one page of tenant's sessions matching q, in
	// creation order: the order in which their CreateSession calls
	// succeeded.
	ListSessions(ctx context.Context, tenant string, q SessionQuery) (Page[*session.Session], error)

	// UpdateSession replaces the stored session with key s.Key by s, if the
	// stored Revision equals s.Revision (compare-and-set), and returns the
	// stored copy with Revision incremented. It returns ErrNotFound if there
	// is no such session, ErrConflict if the revision is stale, and
	// ErrInvalid if AgentKey, AliasKey or CreatedAt differ from the stored
	// values.
	UpdateSession(ctx context.Context, tenant string, s *session.Session) (*session.Session, error)

	// DeleteSession deletes the session with key, its events and its
	// artifacts, and nothing else. It returns ErrNotFound if there is no such
	// session.
	DeleteSession(ctx context.Context, tenant, key string) error
}

// EventQuery selects the events of a session. The zero value lists the
// visible events, DefaultLimit at a time, in the order they were appended.
type EventQuery struct {
	Limit   int    // 0 means DefaultLimit; at most MaxLimit
	PageKey string // from the previous Page.Next; "" for the first page

	// IncludeHidden also lists hidden events.
	IncludeHidden bool
}

// Events stores the events of sessions.
type Events interface {
	// AppendEvents appends evs, in order, to the session with sessionKey:
	// all of them or none. It returns ErrNotFound if there is no such
	// session, ErrExists if an id is already used in the session (or twice
	// in evs), and ErrInvalid if an event's SessionKey is not sessionKey or
	// its ID is not a valid event id.
	AppendEvents(ctx context.Context, tenant, sessionKey string, evs []*event.Event) error

	// Event returns one event of a session, hidden or not, or ErrNotFound if
	// the session or the event does not exist.
	Event(ctx context.Context, tenant, sessionKey, id string) (*event.Event, error)

	// ListEvents returns one page of a session's events, in the order they
	// were appended. It returns ErrNotFound if there is no such session.
	ListEvents(ctx context.Context, tenant, sessionKey string, q EventQuery) (Page[*event.Event], error)

	// DeleteEvent deletes one event of a session, or returns ErrNotFound.
	DeleteEvent(ctx context.Context, tenant, sessionKey, id string) error

	// SetEventHidden sets the HideReason of one event ("" makes it visible
	// again) and returns the stored copy; setting the reason it already has
	// is not an error. It returns ErrNotFound if the session or the event
	// does not exist.
	SetEventHidden(ctx context.Context, tenant, sessionKey, id, reason string) (*event.Event, error)
}

// Artifact sort orders.
const (
	SortCreatedAt = "created_at"
	SortUpdatedAt = "updated_at"
	OrderAsc      = "asc"
	OrderDesc     = "desc"
)

// ArtifactQuery selects the artifacts of a session. The zero value lists
// them DefaultLimit at a time, newest first by CreatedAt.
type ArtifactQuery struct {
	Limit   int    // 0 means DefaultLimit; at most MaxLimit
	PageKey string // from the previous Page.Next; "" for the first page

	// SortBy is SortCreatedAt (the default when "") or SortUpdatedAt.
	SortBy string

	// Order is OrderDesc (the default when "") or OrderAsc. Artifacts with
	// equal times are ordered by ID in the same direction.
	Order string

	// Now, if not zero, leaves out artifacts expired at Now.
	Now time.Time
}

// Artifacts stores the artifacts of sessions. Content is stored apart from
// the metadata: lists never read or return it.
type Artifacts interface {
	// CreateArtifact stores a new artifact, content (a.Data) included, in the
	// session a.SessionKey. It returns ErrNotFound if there is no such
	// session, ErrExists if the session already has an artifact with a.ID,
	// and ErrInvalid if a.ID is not a valid artifact id. The caller validates
	// everything else, including the size limit.
	CreateArtifact(ctx context.Context, tenant string, a *artifact.Artifact) error

	// Artifact returns one artifact with its content, or ErrNotFound if the
	// session or the artifact does not exist. It returns expired artifacts
	// too; callers check Artifact.Expired.
	Artifact(ctx context.Context, tenant, sessionKey, id string) (*artifact.Artifact, error)

	// ListArtifacts returns one page of a session's artifacts, without
	// content (Data is nil). It returns ErrNotFound if there is no such
	// session and ErrInvalid for an unknown SortBy or Order.
	ListArtifacts(ctx context.Context, tenant, sessionKey string, q ArtifactQuery) (Page[*artifact.Artifact], error)
}

// Pin records the agent chosen for a sticky key of an alias, so that later
// sessions with the same key go to the same agent.
type Pin struct {
	AliasKey  string
	Key       string // the value of the alias's sticky-key expression: 1 to MaxPinKeyLen arbitrary bytes
	AgentKey  string
	CreatedAt time.Time
	ExpiresAt time.Time // zero means never
}

// Expired reports whether p has expired at now.
func (p *Pin) Expired(now time.Time) bool {
	return !p.ExpiresAt.IsZero() && !p.ExpiresAt.After(now)
}

// Same reports whether p and q record the same decision: equal keys, agent
// and times. A nil Pin is the same only as another nil Pin.
func (p *Pin) Same(q *Pin) bool {
	if p == nil || q == nil {
		return p == q
	}
	return p.AliasKey == q.AliasKey && p.Key == q.Key && p.AgentKey == q.AgentKey &&
		p.CreatedAt.Equal(q.CreatedAt) && p.ExpiresAt.Equal(q.ExpiresAt)
}

// Pins stores sticky pins.
type Pins interface {
	// Pin returns the pin for key of the alias aliasKey, or ErrNotFound. It
	// returns expired pins too; callers check Pin.Expired.
	Pin(ctx context.Context, tenant, aliasKey, key string) (*Pin, error)

	// SetPin stores p if the pin currently stored for (p.AliasKey, p.Key) is
	// the same as prev (nil meaning none is stored), and returns ErrConflict
	// otherwise: of two callers that read the same pin, exactly one wins.
	// It does not require the alias to exist. It returns ErrInvalid if
	// p.AliasKey or p.AgentKey is not a valid key or p.Key is empty or
	// longer than MaxPinKeyLen.
	SetPin(ctx context.Context, tenant string, p, prev *Pin) error
}

// Sweeper removes expired data.
type Sweeper interface {
	// Sweep deletes, across all tenants, up to limit items expired at now:
	// sessions (each counted as one item, its events and artifacts going
	// with it), artifacts, and pins. It returns how many it deleted (an
	// expired artifact of an expired session may or may not count on its
	// own); fewer than limit means none are left. A limit below 1 is
	// ErrInvalid.
	Sweep(ctx context.Context, now time.Time, limit int) (int, error)
}
