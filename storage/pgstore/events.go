package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// AppendEvents implements storage.Events. One statement locks the session
// row and inserts every event, so concurrent appends to a session are
// serialized and keep their order.
func (s *Store) AppendEvents(ctx context.Context, tenant, sessionKey string, evs []*event.Event) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	ids := make([]string, len(evs))
	hidden := make([]bool, len(evs))
	recs := make([][]byte, len(evs))
	seen := make(map[string]bool, len(evs))
	for i, ev := range evs {
		if ev.SessionKey != sessionKey {
			return invalid("event %q belongs to session %q, not %q", ev.ID, ev.SessionKey, sessionKey)
		}
		if !event.ValidID(ev.ID) {
			return invalid("event id %q", ev.ID)
		}
		if seen[ev.ID] {
			return fmt.Errorf("pgstore: event %q appears twice: %w", ev.ID, storage.ErrExists)
		}
		seen[ev.ID] = true
		var err error
		if recs[i], err = json.Marshal(ev); err != nil {
			return fmt.Errorf("pgstore: encode event %q: %w", ev.ID, err)
		}
		ids[i], hidden[i] = ev.ID, ev.Hidden()
	}
	if err := checkTenant(tenant); err != nil {
		return err
	}
	if !session.ValidKey(sessionKey) {
		return notFound("session", sessionKey)
	}
	t := []byte(tenant)
	if len(evs) == 0 {
		var exists bool
		err := s.pool.QueryRow(ctx, s.q(`SELECT EXISTS (SELECT FROM {s}.sessions WHERE tenant = $1 AND key = $2)`), t, sessionKey).Scan(&exists)
		if err != nil {
			return s.fail(ctx, "append events", err)
		}
		if !exists {
			return notFound("session", sessionKey)
		}
		return nil
	}
	tag, err := s.pool.Exec(ctx, s.q(`
		WITH sess AS (SELECT FROM {s}.sessions WHERE tenant = $1 AND key = $2 FOR NO KEY UPDATE)
		INSERT INTO {s}.events (tenant, session_key, id, hidden, rec)
		SELECT $1, $2, e.id, e.hidden, e.rec
		FROM unnest($3::text[], $4::boolean[], $5::bytea[]) WITH ORDINALITY AS e (id, hidden, rec, n)
		WHERE EXISTS (SELECT FROM sess)
		ORDER BY e.n`),
		t, sessionKey, ids, hidden, recs)
	if err != nil {
		return s.fail(ctx, "append events", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("session", sessionKey)
	}
	return nil
}

// Event implements storage.Events.
func (s *Store) Event(ctx context.Context, tenant, sessionKey, id string) (*event.Event, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if !session.ValidKey(sessionKey) || !event.ValidID(id) {
		return nil, notFound("event", id)
	}
	var rec []byte
	err := s.pool.QueryRow(ctx, s.q(`SELECT rec FROM {s}.events WHERE tenant = $1 AND session_key = $2 AND id = $3`),
		[]byte(tenant), sessionKey, id).Scan(&rec)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("event", id)
	}
	if err != nil {
		return nil, s.fail(ctx, "read event", err)
	}
	return decodeEvent(rec)
}

// ListEvents implements storage.Events. One query reads the page and tells
// a missing session (no row) from a session without events (one row of
// NULLs).
func (s *Store) ListEvents(ctx context.Context, tenant, sessionKey string, q storage.EventQuery) (storage.Page[*event.Event], error) {
	var page storage.Page[*event.Event]
	if err := s.check(ctx); err != nil {
		return page, err
	}
	limit, err := checkLimit(q.Limit)
	if err != nil {
		return page, err
	}
	after, hasAfter, err := decodePageKey(q.PageKey, "e")
	if err != nil {
		return page, err
	}
	if hasAfter {
		if _, err := seqOf(after, q.PageKey); err != nil {
			return page, err
		}
	}
	if !session.ValidKey(sessionKey) {
		return page, notFound("session", sessionKey)
	}
	query := s.q(`
		SELECT e.seq, e.rec FROM {s}.sessions s
		LEFT JOIN LATERAL (
			SELECT seq, rec FROM {s}.events
			WHERE tenant = $1 AND session_key = $2 AND seq > $3 AND ($4 OR NOT hidden)
			ORDER BY seq LIMIT $5
		) e ON true
		WHERE s.tenant = $1 AND s.key = $2
		ORDER BY e.seq`)
	fetch := func(after []byte, n int) ([]row[*event.Event], error) {
		var from int64 // identity values start at 1
		if after != nil {
			from, _ = seqOf(after, "")
		}
		rows, err := s.pool.Query(ctx, query, []byte(tenant), sessionKey, from, q.IncludeHidden, n)
		if err != nil {
			return nil, s.fail(ctx, "list events", err)
		}
		defer rows.Close()
		var out []row[*event.Event]
		found := false
		for rows.Next() {
			found = true
			var seq *int64
			var rec []byte
			if err := rows.Scan(&seq, &rec); err != nil {
				return nil, s.fail(ctx, "list events", err)
			}
			if seq == nil {
				continue // the session has no (more) events
			}
			ev, err := decodeEvent(rec)
			if err != nil {
				return nil, err
			}
			out = append(out, row[*event.Event]{ev, seqPos(*seq)})
		}
		if err := rows.Err(); err != nil {
			return nil, s.fail(ctx, "list events", err)
		}
		if !found {
			return nil, notFound("session", sessionKey)
		}
		return out, nil
	}
	return collect("e", limit, after, false, fetch, nil)
}

// DeleteEvent implements storage.Events.
func (s *Store) DeleteEvent(ctx context.Context, tenant, sessionKey, id string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if !session.ValidKey(sessionKey) || !event.ValidID(id) {
		return notFound("event", id)
	}
	tag, err := s.pool.Exec(ctx, s.q(`DELETE FROM {s}.events WHERE tenant = $1 AND session_key = $2 AND id = $3`),
		[]byte(tenant), sessionKey, id)
	if err != nil {
		return s.fail(ctx, "delete event", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("event", id)
	}
	return nil
}

// SetEventHidden implements storage.Events.
func (s *Store) SetEventHidden(ctx context.Context, tenant, sessionKey, id, reason string) (*event.Event, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if !session.ValidKey(sessionKey) || !event.ValidID(id) {
		return nil, notFound("event", id)
	}
	t := []byte(tenant)
	var out *event.Event
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var rec []byte
		err := tx.QueryRow(ctx, s.q(`SELECT rec FROM {s}.events WHERE tenant = $1 AND session_key = $2 AND id = $3 FOR UPDATE`),
			t, sessionKey, id).Scan(&rec)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("event", id)
		}
		if err != nil {
			return err
		}
		ev, err := decodeEvent(rec)
		if err != nil {
			return err
		}
		ev.HideReason = reason
		if rec, err = json.Marshal(ev); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, s.q(`UPDATE {s}.events SET hidden = $4, rec = $5 WHERE tenant = $1 AND session_key = $2 AND id = $3`),
			t, sessionKey, id, ev.Hidden(), rec)
		out = ev
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, "set event hidden", err)
	}
	return out, nil
}
