package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/storage"
)

// CreateAlias implements storage.Aliases.
func (s *Store) CreateAlias(ctx context.Context, tenant string, a *alias.Alias) (*alias.Alias, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	if !alias.ValidKey(a.Key) {
		return nil, invalid("alias key %q", a.Key)
	}
	if err := checkTimes("alias "+a.Key, a.CreatedAt); err != nil {
		return nil, err
	}
	c := a.Clone()
	c.Revision = 1
	rec, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("pgstore: encode alias: %w", err)
	}
	tag, err := s.pool.Exec(ctx, s.q(`
		INSERT INTO {s}.aliases (tenant, key, enabled, created_at, revision, rec)
		VALUES ($1, $2, $3, $4, 1, $5)
		ON CONFLICT DO NOTHING`),
		[]byte(tenant), c.Key, c.Enabled, nanos(c.CreatedAt), rec)
	if err != nil {
		return nil, s.fail(ctx, "create alias", err)
	}
	if tag.RowsAffected() == 0 {
		return nil, fmt.Errorf("pgstore: alias %q: %w", c.Key, storage.ErrExists)
	}
	return c, nil
}

// Alias implements storage.Aliases.
func (s *Store) Alias(ctx context.Context, tenant, key string) (*alias.Alias, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if !alias.ValidKey(key) {
		return nil, notFound("alias", key)
	}
	var rec []byte
	var rev int64
	err := s.pool.QueryRow(ctx, s.q(`SELECT rec, revision FROM {s}.aliases WHERE tenant = $1 AND key = $2`),
		[]byte(tenant), key).Scan(&rec, &rev)
	id := aliasID{tenant, key}
	if errors.Is(err, pgx.ErrNoRows) {
		s.decoded.Delete(id) // deleted, perhaps by another process
		return nil, notFound("alias", key)
	}
	if err != nil {
		return nil, s.fail(ctx, "read alias", err)
	}
	if d, ok := s.decoded.Load(id); ok {
		if d := d.(*decodedAlias); d.rev == rev && bytes.Equal(d.rec, rec) {
			return d.a.Clone(), nil
		}
	}
	a, err := decodeAlias(rec, rev)
	if err != nil {
		return nil, err
	}
	s.decoded.Store(id, &decodedAlias{rec: rec, rev: rev, a: a})
	return a.Clone(), nil
}

// ListAliases implements storage.Aliases. The Enabled filter is applied by
// the database; AgentKey and Filter by the store, reading on in chunks.
func (s *Store) ListAliases(ctx context.Context, tenant string, q storage.AliasQuery) (storage.Page[*alias.Alias], error) {
	if err := s.check(ctx); err != nil {
		return storage.Page[*alias.Alias]{}, err
	}
	limit, err := checkLimit(q.Limit)
	if err != nil {
		return storage.Page[*alias.Alias]{}, err
	}
	after, hasAfter, err := decodePageKey(q.PageKey, "a")
	if err != nil {
		return storage.Page[*alias.Alias]{}, err
	}
	if hasAfter && !alias.ValidKey(string(after)) {
		return storage.Page[*alias.Alias]{}, invalid("page key %q", q.PageKey)
	}
	query := s.q(`
		SELECT key, rec, revision FROM {s}.aliases
		WHERE tenant = $1 AND key > $2 AND ($3::boolean IS NULL OR enabled = $3)
		ORDER BY key LIMIT $4`)
	fetch := func(after []byte, n int) ([]row[*alias.Alias], error) {
		// Every key is longer than "", the start of the first page.
		rows, err := s.pool.Query(ctx, query, []byte(tenant), string(after), q.Enabled, n)
		if err != nil {
			return nil, s.fail(ctx, "list aliases", err)
		}
		defer rows.Close()
		var out []row[*alias.Alias]
		for rows.Next() {
			var key string
			var rec []byte
			var rev int64
			if err := rows.Scan(&key, &rec, &rev); err != nil {
				return nil, s.fail(ctx, "list aliases", err)
			}
			a, err := decodeAlias(rec, rev)
			if err != nil {
				return nil, err
			}
			out = append(out, row[*alias.Alias]{a, []byte(key)})
		}
		return out, s.fail(ctx, "list aliases", rows.Err())
	}
	var keep func(*alias.Alias) bool
	if q.AgentKey != "" || q.Filter != nil {
		keep = func(a *alias.Alias) bool {
			return (q.AgentKey == "" || a.Policy.References(q.AgentKey)) && matches(q.Filter, a.Name, a.Description)
		}
	}
	return collect("a", limit, after, keep != nil, fetch, keep)
}

// UpdateAlias implements storage.Aliases: one UPDATE conditioned on the
// revision and creation time, and on failure a read to tell why.
func (s *Store) UpdateAlias(ctx context.Context, tenant string, a *alias.Alias) (*alias.Alias, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if !alias.ValidKey(a.Key) {
		return nil, notFound("alias", a.Key)
	}
	if err := checkTimes("alias "+a.Key, a.CreatedAt); err != nil {
		return nil, err
	}
	c := a.Clone()
	c.Revision = a.Revision + 1
	rec, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("pgstore: encode alias: %w", err)
	}
	tag, err := s.pool.Exec(ctx, s.q(`
		UPDATE {s}.aliases SET enabled = $3, revision = revision + 1, rec = $4
		WHERE tenant = $1 AND key = $2 AND revision = $5 AND created_at IS NOT DISTINCT FROM $6`),
		[]byte(tenant), a.Key, c.Enabled, rec, int64(a.Revision), nanos(a.CreatedAt))
	if err != nil {
		return nil, s.fail(ctx, "update alias", err)
	}
	if tag.RowsAffected() == 1 {
		return c, nil
	}
	// Nothing changed: find out why.
	var created *int64
	var rev int64
	err = s.pool.QueryRow(ctx, s.q(`SELECT created_at, revision FROM {s}.aliases WHERE tenant = $1 AND key = $2`),
		[]byte(tenant), a.Key).Scan(&created, &rev)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, notFound("alias", a.Key)
	case err != nil:
		return nil, s.fail(ctx, "update alias", err)
	case !sameNanos(created, a.CreatedAt):
		return nil, invalid("alias %q: created_at cannot change", a.Key)
	}
	return nil, fmt.Errorf("pgstore: alias %q: revision %d is stale (stored %d): %w", a.Key, a.Revision, rev, storage.ErrConflict)
}

// DeleteAlias implements storage.Aliases. It locks the alias row before it
// looks for enabled sessions, so a concurrent CreateSession through the
// alias either commits first (and is seen) or finds the alias gone.
func (s *Store) DeleteAlias(ctx context.Context, tenant, key string, now time.Time) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if !alias.ValidKey(key) {
		return notFound("alias", key)
	}
	t := []byte(tenant)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, s.q(`SELECT 1 FROM {s}.aliases WHERE tenant = $1 AND key = $2 FOR UPDATE`), t, key).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("alias", key)
		}
		if err != nil {
			return err
		}
		var live string
		// Planned for these values every time (QueryExecModeExec): a
		// cached generic plan may scan every session for an alias with few.
		err = tx.QueryRow(ctx, s.q(`
			SELECT key FROM {s}.sessions
			WHERE tenant = $1 AND alias_key = $2 AND enabled AND (expires_at IS NULL OR expires_at > $3)
			LIMIT 1`), pgx.QueryExecModeExec, t, key, clampNanos(now)).Scan(&live)
		switch {
		case err == nil:
			return fmt.Errorf("pgstore: alias %q: enabled session %q was created through it: %w", key, live, storage.ErrConflict)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if _, err := tx.Exec(ctx, s.q(`DELETE FROM {s}.aliases WHERE tenant = $1 AND key = $2`), t, key); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, s.q(`DELETE FROM {s}.pins WHERE tenant = $1 AND alias_key = $2`), t, key)
		s.decoded.Delete(aliasID{tenant, key})
		return err
	})
	return s.fail(ctx, "delete alias", err)
}
