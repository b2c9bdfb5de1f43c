package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// CreateSession implements storage.Sessions. The session is inserted by one
// statement that also locks its alias row (FOR KEY SHARE), so it cannot
// slip past a concurrent DeleteAlias.
func (s *Store) CreateSession(ctx context.Context, tenant string, sess *session.Session) (*session.Session, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	switch {
	case !session.ValidKey(sess.Key):
		return nil, invalid("session key %q", sess.Key)
	case !session.ValidKey(sess.AgentKey):
		return nil, invalid("agent key %q", sess.AgentKey)
	case sess.AliasKey != "" && !session.ValidKey(sess.AliasKey):
		return nil, invalid("alias key %q", sess.AliasKey)
	}
	if err := checkTimes("session "+sess.Key, sess.CreatedAt, sess.ExpiresAt); err != nil {
		return nil, err
	}
	c := sess.Clone()
	c.Revision = 1
	rec, err := encodeSession(c)
	if err != nil {
		return nil, fmt.Errorf("pgstore: encode session: %w", err)
	}
	var aliasKey *string
	if c.AliasKey != "" {
		aliasKey = &c.AliasKey
	}
	t := []byte(tenant)
	// The insert finds nothing to do when the key is taken or the alias is
	// missing; the second query tells which. Between the two another caller
	// may delete the session or create the alias, so try again a few times.
	for range 3 {
		tag, err := s.pool.Exec(ctx, s.q(`
			WITH a AS (SELECT FROM {s}.aliases WHERE tenant = $1 AND key = $3 FOR KEY SHARE)
			INSERT INTO {s}.sessions (tenant, key, alias_key, agent_key, enabled, created_at, expires_at, revision, rec)
			SELECT $1, $2, $3, $4, $5, $6, $7, 1, $8
			WHERE $3::text IS NULL OR EXISTS (SELECT FROM a)
			ON CONFLICT DO NOTHING`),
			t, c.Key, aliasKey, c.AgentKey, c.Enabled, nanos(c.CreatedAt), nanos(c.ExpiresAt), rec)
		if err != nil {
			return nil, s.fail(ctx, "create session", err)
		}
		if tag.RowsAffected() == 1 {
			return c, nil
		}
		var exists, aliasExists bool
		err = s.pool.QueryRow(ctx, s.q(`
			SELECT EXISTS (SELECT FROM {s}.sessions WHERE tenant = $1 AND key = $2),
			       $3::text IS NULL OR EXISTS (SELECT FROM {s}.aliases WHERE tenant = $1 AND key = $3)`),
			t, c.Key, aliasKey).Scan(&exists, &aliasExists)
		switch {
		case err != nil:
			return nil, s.fail(ctx, "create session", err)
		case exists:
			return nil, fmt.Errorf("pgstore: session %q: %w", c.Key, storage.ErrExists)
		case !aliasExists:
			return nil, notFound("alias", c.AliasKey)
		}
	}
	return nil, fmt.Errorf("pgstore: session %q: lost repeated races: %w", c.Key, storage.ErrConflict)
}

// Session implements storage.Sessions.
func (s *Store) Session(ctx context.Context, tenant, key string) (*session.Session, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if !session.ValidKey(key) {
		return nil, notFound("session", key)
	}
	var rec []byte
	var rev int64
	err := s.pool.QueryRow(ctx, s.q(`SELECT rec, revision FROM {s}.sessions WHERE tenant = $1 AND key = $2`),
		[]byte(tenant), key).Scan(&rec, &rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("session", key)
	}
	if err != nil {
		return nil, s.fail(ctx, "read session", err)
	}
	return decodeSession(rec, rev)
}

// Session list queries, one per index: the key condition must be plain for
// the planner to use the index whatever plan it caches. $1 is the tenant,
// $2 the last seq seen, $3 the expiry time or NULL, $4 the limit, and $5
// the alias or agent key.
const (
	listSessionsAll = `
		SELECT seq, rec, revision FROM {s}.sessions
		WHERE tenant = $1 AND seq > $2 AND ($3::bigint IS NULL OR expires_at IS NULL OR expires_at > $3)
		ORDER BY seq LIMIT $4`
	listSessionsAlias = `
		SELECT seq, rec, revision FROM {s}.sessions
		WHERE tenant = $1 AND alias_key = $5 AND seq > $2 AND ($3::bigint IS NULL OR expires_at IS NULL OR expires_at > $3)
		ORDER BY seq LIMIT $4`
	listSessionsAgent = `
		SELECT seq, rec, revision FROM {s}.sessions
		WHERE tenant = $1 AND agent_key = $5 AND seq > $2 AND ($3::bigint IS NULL OR expires_at IS NULL OR expires_at > $3)
		ORDER BY seq LIMIT $4`
)

// ListSessions implements storage.Sessions. Alias, agent and expiry filters
// are applied by the database; Filter by the store, reading on in chunks.
func (s *Store) ListSessions(ctx context.Context, tenant string, q storage.SessionQuery) (storage.Page[*session.Session], error) {
	var page storage.Page[*session.Session]
	if err := s.check(ctx); err != nil {
		return page, err
	}
	limit, err := checkLimit(q.Limit)
	if err != nil {
		return page, err
	}
	after, hasAfter, err := decodePageKey(q.PageKey, "s")
	if err != nil {
		return page, err
	}
	if hasAfter {
		if _, err := seqOf(after, q.PageKey); err != nil {
			return page, err
		}
	}
	if q.AliasKey != "" && !session.ValidKey(q.AliasKey) || q.AgentKey != "" && !session.ValidKey(q.AgentKey) {
		return page, nil // matches nothing
	}
	query, key := listSessionsAll, ""
	switch {
	case q.AliasKey != "":
		query, key = listSessionsAlias, q.AliasKey
	case q.AgentKey != "":
		query, key = listSessionsAgent, q.AgentKey
	}
	query = s.q(query)
	var now *int64
	if !q.Now.IsZero() {
		now = nanos(q.Now)
	}
	fetch := func(after []byte, n int) ([]row[*session.Session], error) {
		var from int64 // identity values start at 1
		if after != nil {
			from, _ = seqOf(after, "")
		}
		args := []any{[]byte(tenant), from, now, n}
		if key != "" {
			args = append(args, key)
		}
		rows, err := s.pool.Query(ctx, query, args...)
		if err != nil {
			return nil, s.fail(ctx, "list sessions", err)
		}
		defer rows.Close()
		var out []row[*session.Session]
		for rows.Next() {
			var seq, rev int64
			var rec []byte
			if err := rows.Scan(&seq, &rec, &rev); err != nil {
				return nil, s.fail(ctx, "list sessions", err)
			}
			x, err := decodeSession(rec, rev)
			if err != nil {
				return nil, err
			}
			out = append(out, row[*session.Session]{x, seqPos(seq)})
		}
		return out, s.fail(ctx, "list sessions", rows.Err())
	}
	var keep func(*session.Session) bool
	if q.Filter != nil || q.AliasKey != "" && q.AgentKey != "" {
		keep = func(x *session.Session) bool {
			return (q.AgentKey == "" || x.AgentKey == q.AgentKey) && matches(q.Filter, x.Name, x.Description)
		}
	}
	return collect("s", limit, after, keep != nil, fetch, keep)
}

// UpdateSession implements storage.Sessions: one UPDATE conditioned on the
// revision and the fields that never change, and on failure a read to tell
// why.
func (s *Store) UpdateSession(ctx context.Context, tenant string, sess *session.Session) (*session.Session, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if !session.ValidKey(sess.Key) {
		return nil, notFound("session", sess.Key)
	}
	if err := checkTimes("session "+sess.Key, sess.CreatedAt, sess.ExpiresAt); err != nil {
		return nil, err
	}
	c := sess.Clone()
	c.Revision = sess.Revision + 1
	rec, err := encodeSession(c)
	if err != nil {
		return nil, fmt.Errorf("pgstore: encode session: %w", err)
	}
	t := []byte(tenant)
	// Malformed agent or alias keys cannot match the stored ones: skip to
	// telling why (and keep them away from PostgreSQL's text checks).
	if session.ValidKey(sess.AgentKey) && (sess.AliasKey == "" || session.ValidKey(sess.AliasKey)) {
		tag, err := s.pool.Exec(ctx, s.q(`
			UPDATE {s}.sessions SET enabled = $3, expires_at = $4, revision = revision + 1, rec = $5
			WHERE tenant = $1 AND key = $2 AND revision = $6
			  AND agent_key = $7 AND coalesce(alias_key, '') = $8 AND created_at IS NOT DISTINCT FROM $9`),
			t, sess.Key, c.Enabled, nanos(c.ExpiresAt), rec, int64(sess.Revision), sess.AgentKey, sess.AliasKey, nanos(sess.CreatedAt))
		if err != nil {
			return nil, s.fail(ctx, "update session", err)
		}
		if tag.RowsAffected() == 1 {
			return c, nil
		}
	}
	// Nothing changed: find out why.
	var agentKey, aliasKey string
	var created *int64
	var rev int64
	err = s.pool.QueryRow(ctx, s.q(`
		SELECT agent_key, coalesce(alias_key, ''), created_at, revision FROM {s}.sessions
		WHERE tenant = $1 AND key = $2`), t, sess.Key).Scan(&agentKey, &aliasKey, &created, &rev)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, notFound("session", sess.Key)
	case err != nil:
		return nil, s.fail(ctx, "update session", err)
	case agentKey != sess.AgentKey || aliasKey != sess.AliasKey || !sameNanos(created, sess.CreatedAt):
		return nil, invalid("session %q: agent_key, alias_key and created_at cannot change", sess.Key)
	}
	return nil, fmt.Errorf("pgstore: session %q: revision %d is stale (stored %d): %w", sess.Key, sess.Revision, rev, storage.ErrConflict)
}

// DeleteSession implements storage.Sessions. Its events and artifacts go
// with it (ON DELETE CASCADE).
func (s *Store) DeleteSession(ctx context.Context, tenant, key string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if !session.ValidKey(key) {
		return notFound("session", key)
	}
	tag, err := s.pool.Exec(ctx, s.q(`DELETE FROM {s}.sessions WHERE tenant = $1 AND key = $2`), []byte(tenant), key)
	if err != nil {
		return s.fail(ctx, "delete session", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("session", key)
	}
	return nil
}
