package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// sweeps are the statements Sweep runs in turn, each deleting up to $2 rows
// expired at $1, oldest first. Rows another transaction holds locked are
// skipped (SKIP LOCKED), so stores sweeping the same database at once share
// the work instead of queueing on each other; what one skips, the next
// sweep takes. So, unlike the other stores, Sweep may return fewer than its
// limit while expired items remain: those that another transaction (a
// concurrent sweep, an update of the session, an event being appended to
// it) held locked at that moment. A session's events and artifacts go with it (ON DELETE
// CASCADE).
var sweeps = []struct{ what, query string }{
	{"sessions", `
		DELETE FROM {s}.sessions WHERE (tenant, key) IN (
			SELECT tenant, key FROM {s}.sessions WHERE expires_at <= $1
			ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`},
	{"artifacts", `
		DELETE FROM {s}.artifacts WHERE (tenant, session_key, id) IN (
			SELECT tenant, session_key, id FROM {s}.artifacts WHERE expires_at <= $1
			ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`},
	{"pins", `
		DELETE FROM {s}.pins WHERE (tenant, alias_key, key) IN (
			SELECT tenant, alias_key, key FROM {s}.pins WHERE expires_at <= $1
			ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`},
}

// Sweep implements storage.Sweeper. Each kind of item is found through its
// expiry index, so a sweep costs O(items deleted).
func (s *Store) Sweep(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, invalid("sweep limit %d", limit)
	}
	n, at := 0, clampNanos(now)
	for _, sw := range sweeps {
		if n == limit {
			break
		}
		// Planned for these values every time (QueryExecModeExec), so that
		// the expiry index is used whatever a cached plan would do.
		tag, err := s.pool.Exec(ctx, s.q(sw.query), pgx.QueryExecModeExec, at, limit-n)
		if err != nil {
			return n, s.fail(ctx, "sweep "+sw.what, err)
		}
		n += int(tag.RowsAffected())
	}
	return n, nil
}
