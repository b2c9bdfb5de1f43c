package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/storage"
)

// Pin implements storage.Pins.
func (s *Store) Pin(ctx context.Context, tenant, aliasKey, key string) (*storage.Pin, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if !alias.ValidKey(aliasKey) {
		return nil, notFound("pin", key)
	}
	p := &storage.Pin{AliasKey: aliasKey, Key: key}
	var created, expires *int64
	err := s.pool.QueryRow(ctx, s.q(`SELECT agent_key, created_at, expires_at FROM {s}.pins WHERE tenant = $1 AND alias_key = $2 AND key = $3`),
		[]byte(tenant), aliasKey, []byte(key)).Scan(&p.AgentKey, &created, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("pin", key)
	}
	if err != nil {
		return nil, s.fail(ctx, "read pin", err)
	}
	p.CreatedAt, p.ExpiresAt = fromNanos(created), fromNanos(expires)
	return p, nil
}

// SetPin implements storage.Pins. With no previous pin it is an INSERT
// that the primary key lets exactly one caller win, in whichever process;
// otherwise an UPDATE of the row only while it still holds prev.
func (s *Store) SetPin(ctx context.Context, tenant string, p, prev *storage.Pin) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkTenant(tenant); err != nil {
		return err
	}
	switch {
	case !alias.ValidKey(p.AliasKey):
		return invalid("pin alias key %q", p.AliasKey)
	case !policy.ValidAgentKey(p.AgentKey):
		return invalid("pin agent key %q", p.AgentKey)
	case p.Key == "" || len(p.Key) > storage.MaxPinKeyLen:
		return invalid("pin key must be 1-%d bytes", storage.MaxPinKeyLen)
	}
	if err := checkTimes("pin", p.CreatedAt, p.ExpiresAt); err != nil {
		return err
	}
	t, k := []byte(tenant), []byte(p.Key)
	var tag interface{ RowsAffected() int64 }
	var err error
	switch {
	case prev == nil:
		tag, err = s.pool.Exec(ctx, s.q(`
			INSERT INTO {s}.pins (tenant, alias_key, key, agent_key, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT DO NOTHING`),
			t, p.AliasKey, k, p.AgentKey, nanos(p.CreatedAt), nanos(p.ExpiresAt))
	case prev.AliasKey != p.AliasKey || prev.Key != p.Key || !policy.ValidAgentKey(prev.AgentKey) || checkTimes("pin", prev.CreatedAt, prev.ExpiresAt) != nil:
		// prev cannot be the stored pin.
		return fmt.Errorf("pgstore: pin %q of alias %q changed: %w", p.Key, p.AliasKey, storage.ErrConflict)
	default:
		tag, err = s.pool.Exec(ctx, s.q(`
			UPDATE {s}.pins SET agent_key = $4, created_at = $5, expires_at = $6
			WHERE tenant = $1 AND alias_key = $2 AND key = $3
			  AND agent_key = $7 AND created_at IS NOT DISTINCT FROM $8 AND expires_at IS NOT DISTINCT FROM $9`),
			t, p.AliasKey, k, p.AgentKey, nanos(p.CreatedAt), nanos(p.ExpiresAt),
			prev.AgentKey, nanos(prev.CreatedAt), nanos(prev.ExpiresAt))
	}
	if err != nil {
		return s.fail(ctx, "set pin", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: pin %q of alias %q changed: %w", p.Key, p.AliasKey, storage.ErrConflict)
	}
	return nil
}
