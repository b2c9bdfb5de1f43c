package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/internal/keys"
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
	if !keys.Valid(a.Key) {
		return nil, invalid("alias key %q", a.Key)
	}
	c := a.Clone()
	c.Revision = 1
	rec, err := encodeAlias(c)
	if err != nil {
		return nil, fmt.Errorf("boltstore: encode alias: %w", err)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		if get(sub(tenantBucket(tx, tenant), "a"), []byte(c.Key)) != nil {
			return fmt.Errorf("boltstore: alias %q: %w", c.Key, storage.ErrExists)
		}
		t, err := tenantBucketW(tx, tenant)
		if err != nil {
			return err
		}
		b, err := subW(t, "a")
		if err != nil {
			return err
		}
		return b.Put([]byte(c.Key), rec)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Alias implements storage.Aliases.
func (s *Store) Alias(ctx context.Context, tenant, key string) (*alias.Alias, error) {
	var a *alias.Alias
	id := aliasID{tenant, key}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := get(sub(tenantBucket(tx, tenant), "a"), []byte(key))
		if v == nil {
			s.decoded.Delete(id)
			return notFound("alias", key)
		}
		if d, ok := s.decoded.Load(id); ok && bytes.Equal(d.(*decodedAlias).rec, v) {
			a = d.(*decodedAlias).a.Clone()
			return nil
		}
		d, err := decodeAlias(v)
		if err != nil {
			return err
		}
		s.decoded.Store(id, &decodedAlias{rec: bytes.Clone(v), a: d})
		a = d.Clone()
		return nil
	})
	return a, err
}

// ListAliases implements storage.Aliases.
func (s *Store) ListAliases(ctx context.Context, tenant string, q storage.AliasQuery) (storage.Page[*alias.Alias], error) {
	var page storage.Page[*alias.Alias]
	limit, after, hasAfter, err := s.listStart(ctx, q.Limit, q.PageKey, "a", 0)
	if err != nil {
		return page, err
	}
	err = s.view(ctx, func(tx *bolt.Tx) error {
		b := sub(tenantBucket(tx, tenant), "a")
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.First()
		if hasAfter {
			k, v = seekAfter(c, after)
		}
		for ; k != nil; k, v = c.Next() {
			a, err := decodeAlias(v)
			if err != nil {
				return err
			}
			if q.Enabled != nil && a.Enabled != *q.Enabled ||
				q.AgentKey != "" && !a.Policy.References(q.AgentKey) ||
				!matches(q.Filter, a.Name, a.Description) {
				continue
			}
			if len(page.Items) == limit {
				page.Next = encodePageKey("a", []byte(page.Items[limit-1].Key))
				break
			}
			page.Items = append(page.Items, a)
		}
		return nil
	})
	return page, err
}

// UpdateAlias implements storage.Aliases.
func (s *Store) UpdateAlias(ctx context.Context, tenant string, a *alias.Alias) (*alias.Alias, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	c := a.Clone()
	c.Revision = a.Revision + 1
	rec, err := encodeAlias(c)
	if err != nil {
		return nil, fmt.Errorf("boltstore: encode alias: %w", err)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := sub(tenantBucket(tx, tenant), "a")
		v := get(b, []byte(a.Key))
		if v == nil {
			return notFound("alias", a.Key)
		}
		old, err := decodeAlias(v)
		if err != nil {
			return err
		}
		if !old.CreatedAt.Equal(a.CreatedAt) {
			return invalid("alias %q: created_at cannot change", a.Key)
		}
		if old.Revision != a.Revision {
			return fmt.Errorf("boltstore: alias %q: revision %d is stale (stored %d): %w", a.Key, a.Revision, old.Revision, storage.ErrConflict)
		}
		return b.Put([]byte(a.Key), rec)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteAlias implements storage.Aliases.
func (s *Store) DeleteAlias(ctx context.Context, tenant, key string, now time.Time) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		t := tenantBucket(tx, tenant)
		b := sub(t, "a")
		if get(b, []byte(key)) == nil {
			return notFound("alias", key)
		}
		sessions := sub(t, "s")
		if idx := sub(t, "sa", key); idx != nil {
			c := idx.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				sess, _, err := decodeSession(sessions.Get(v))
				if err != nil {
					return err
				}
				if sess.Enabled && !sess.Expired(now) {
					return fmt.Errorf("boltstore: alias %q: enabled session %q was created through it: %w", key, sess.Key, storage.ErrConflict)
				}
			}
		}
		// Checks passed: change things.
		if err := b.Delete([]byte(key)); err != nil {
			return err
		}
		s.decoded.Delete(aliasID{tenant, key})
		return deletePins(tx, t, tenant, key)
	})
}
