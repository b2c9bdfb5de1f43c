package pgstore

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// Records are JSON. The domain types' JSON is the REST contract's, which
// leaves out internal fields and masks secrets, so a session record carries
// those beside the value. Revisions live in their own column.

type sessionRecord struct {
	Session   *session.Session    `json:"session"`
	Secrets   map[string]string   `json:"secrets,omitempty"`
	Pending   []event.PendingCall `json:"pending,omitempty"`
	ExpiresAt time.Time           `json:"exp,omitzero"`
	Turn      time.Time           `json:"turn,omitzero"`
	Interrupt time.Time           `json:"intr,omitzero"`
	TurnID    string              `json:"tid,omitempty"`
}

type artifactRecord struct {
	Artifact  *artifact.Artifact `json:"artifact"`
	ExpiresAt time.Time          `json:"exp,omitzero"`
}

func decodeAlias(b []byte, rev int64) (*alias.Alias, error) {
	var a alias.Alias
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("pgstore: corrupt alias record: %v", err)
	}
	a.Revision = uint64(rev)
	return &a, nil
}

func encodeSession(s *session.Session) ([]byte, error) {
	return json.Marshal(sessionRecord{Session: s, Secrets: s.Secrets, Pending: s.PendingToolCalls, ExpiresAt: s.ExpiresAt, Turn: s.TurnDeadline, Interrupt: s.InterruptAt, TurnID: s.TurnID})
}

func decodeSession(b []byte, rev int64) (*session.Session, error) {
	var r sessionRecord
	if err := json.Unmarshal(b, &r); err != nil || r.Session == nil {
		return nil, fmt.Errorf("pgstore: corrupt session record: %v", err)
	}
	s := r.Session
	s.Secrets = r.Secrets
	s.PendingToolCalls = r.Pending
	s.ExpiresAt = r.ExpiresAt
	s.TurnDeadline = r.Turn
	s.InterruptAt = r.Interrupt
	s.TurnID = r.TurnID
	s.Revision = uint64(rev)
	return s, nil
}

func decodeEvent(b []byte) (*event.Event, error) {
	var e event.Event
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("pgstore: corrupt event record: %v", err)
	}
	return &e, nil
}

func encodeArtifact(a *artifact.Artifact) ([]byte, error) {
	m := *a
	m.Data = nil
	return json.Marshal(artifactRecord{Artifact: &m, ExpiresAt: a.ExpiresAt})
}

func decodeArtifact(b []byte, sessionKey string) (*artifact.Artifact, error) {
	var r artifactRecord
	if err := json.Unmarshal(b, &r); err != nil || r.Artifact == nil {
		return nil, fmt.Errorf("pgstore: corrupt artifact record: %v", err)
	}
	r.Artifact.SessionKey = sessionKey
	r.Artifact.ExpiresAt = r.ExpiresAt
	return r.Artifact, nil
}

// Times that queries compare are stored as Unix nanoseconds, NULL for the
// zero time, clamped to the range an int64 holds.

var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// checkTimes fails with ErrInvalid if a time a write would store in a
// column lies outside the range of Unix nanoseconds (1678 to 2262); the
// zero time, stored as NULL, is fine.
func checkTimes(what string, ts ...time.Time) error {
	for _, t := range ts {
		if !t.IsZero() && (t.Before(minNanoTime) || t.After(maxNanoTime)) {
			return invalid("%s: time %v is outside the years 1678 to 2262 that pgstore stores", what, t)
		}
	}
	return nil
}

// nanos returns t as Unix nanoseconds, clamped; the zero time is nil (NULL).
func nanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := clampNanos(t)
	return &n
}

func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(minNanoTime):
		return math.MinInt64
	case t.After(maxNanoTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// sameNanos reports whether the column value n holds t.
func sameNanos(n *int64, t time.Time) bool {
	if n == nil || t.IsZero() {
		return n == nil && t.IsZero()
	}
	return *n == clampNanos(t)
}

// fromNanos is the inverse of nanos, in UTC.
func fromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

func matches(re *regexp.Regexp, name, description string) bool {
	return re == nil || re.MatchString(name) || re.MatchString(description)
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

// Page keys are base64url of "<tag>:" followed by the position of the last
// item returned; the tag names the list and its order.

func encodePageKey(tag string, pos []byte) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte(tag+":"), pos...))
}

func decodePageKey(pageKey, tag string) ([]byte, bool, error) {
	if pageKey == "" {
		return nil, false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(pageKey)
	if err != nil || !bytes.HasPrefix(b, []byte(tag+":")) || len(b) == len(tag)+1 {
		return nil, false, invalid("page key %q", pageKey)
	}
	return b[len(tag)+1:], true, nil
}

// seqPos encodes a sequence number as a page position, and seqOf decodes
// one, failing on anything seqPos did not make.
func seqPos(seq int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(seq)) }

func seqOf(pos []byte, pageKey string) (int64, error) {
	if len(pos) != 8 {
		return 0, invalid("page key %q", pageKey)
	}
	return int64(binary.BigEndian.Uint64(pos)), nil
}

// row is one row a list query read: the item and its position in the list.
type row[T any] struct {
	item T
	pos  []byte
}

// collect builds one page of at most limit items of the list tag. fetch reads up to n rows
// after the position after (nil: from the start), in the list's order; keep
// is the filter the database cannot apply (nil: keep everything). Without a
// filter one query of limit+1 rows makes the page; with one, collect reads
// on in chunks until the page is full or the rows run out, so a page costs
// O(page + rows the filter skips).
func collect[T any](tag string, limit int, after []byte, filtered bool, fetch func(after []byte, n int) ([]row[T], error), keep func(T) bool) (storage.Page[T], error) {
	var page storage.Page[T]
	chunk := limit + 1
	if filtered {
		chunk = max(chunk, 4*storage.MaxLimit)
	}
	var last []byte
	for {
		rows, err := fetch(after, chunk)
		if err != nil {
			return storage.Page[T]{}, err
		}
		for _, r := range rows {
			if keep != nil && !keep(r.item) {
				continue
			}
			if len(page.Items) == limit {
				page.Next = encodePageKey(tag, last)
				return page, nil
			}
			page.Items = append(page.Items, r.item)
			last = r.pos
		}
		if len(rows) < chunk {
			return page, nil
		}
		after = rows[len(rows)-1].pos
	}
}
