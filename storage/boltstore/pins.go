package boltstore

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/agentalias/agentalias/internal/keys"
	"github.com/agentalias/agentalias/storage"
)

// pinKey is the key of a pin in its tenant's "p" bucket, and its item in the
// expiry index: the alias key (which has no zero byte), a zero byte, and the
// sticky key.
func pinKey(aliasKey, key string) []byte {
	return append(append([]byte(aliasKey), 0), key...)
}

// Pin implements storage.Pins.
func (s *Store) Pin(ctx context.Context, tenant, aliasKey, key string) (*storage.Pin, error) {
	var p *storage.Pin
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := get(sub(tenantBucket(tx, tenant), "p"), pinKey(aliasKey, key))
		if v == nil {
			return notFound("pin", key)
		}
		var err error
		p, err = decodePin(v, aliasKey, key)
		return err
	})
	return p, err
}

// SetPin implements storage.Pins.
func (s *Store) SetPin(ctx context.Context, tenant string, p, prev *storage.Pin) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkTenant(tenant); err != nil {
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
	rec, err := encodePin(p)
	if err != nil {
		return fmt.Errorf("boltstore: encode pin: %w", err)
	}
	k := pinKey(p.AliasKey, p.Key)
	return s.update(ctx, func(tx *bolt.Tx) error {
		var cur *storage.Pin
		if v := get(sub(tenantBucket(tx, tenant), "p"), k); v != nil {
			var err error
			if cur, err = decodePin(v, p.AliasKey, p.Key); err != nil {
				return err
			}
		}
		if !cur.Same(prev) {
			return fmt.Errorf("boltstore: pin %q of alias %q changed: %w", p.Key, p.AliasKey, storage.ErrConflict)
		}
		// Checks passed: change things.
		t, err := tenantBucketW(tx, tenant)
		if err != nil {
			return err
		}
		if err := putIn(t, k, rec, "p"); err != nil {
			return err
		}
		var old *timeRef
		if cur != nil {
			old = &cur.ExpiresAt
		}
		return setExpiry(tx, 'p', tenant, k, old, p.ExpiresAt)
	})
}

// deletePins deletes every pin of an alias in tenant bucket t.
func deletePins(tx *bolt.Tx, t *bolt.Bucket, tenant, aliasKey string) error {
	b := sub(t, "p")
	if b == nil {
		return nil
	}
	prefix := append([]byte(aliasKey), 0)
	var doomed [][]byte
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		p, err := decodePin(v, aliasKey, string(k[len(prefix):]))
		if err != nil {
			return err
		}
		if err := setExpiry(tx, 'p', tenant, k, &p.ExpiresAt, zeroTime); err != nil {
			return err
		}
		doomed = append(doomed, append([]byte(nil), k...))
	}
	for _, k := range doomed {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
