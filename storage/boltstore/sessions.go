package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/agentalias/agentalias/internal/keys"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// CreateSession implements storage.Sessions.
func (s *Store) CreateSession(ctx context.Context, tenant string, sess *session.Session) (*session.Session, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := checkTenant(tenant); err != nil {
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
	c := sess.Clone()
	c.Revision = 1
	err := s.update(ctx, func(tx *bolt.Tx) error {
		t := tenantBucket(tx, tenant)
		if get(sub(t, "s"), []byte(c.Key)) != nil {
			return fmt.Errorf("boltstore: session %q: %w", c.Key, storage.ErrExists)
		}
		if c.AliasKey != "" && get(sub(t, "a"), []byte(c.AliasKey)) == nil {
			return notFound("alias", c.AliasKey)
		}
		// Checks passed: change things.
		t, err := tenantBucketW(tx, tenant)
		if err != nil {
			return err
		}
		bySeq, err := subW(t, "sq")
		if err != nil {
			return err
		}
		seq, err := bySeq.NextSequence()
		if err != nil {
			return err
		}
		rec, err := encodeSession(c, seq)
		if err != nil {
			return err
		}
		key, seqKey := []byte(c.Key), u64(seq)
		if err := put(t, rec, "s", c.Key); err != nil {
			return err
		}
		if err := bySeq.Put(seqKey, key); err != nil {
			return err
		}
		if err := putIn(t, seqKey, key, "sg", c.AgentKey); err != nil {
			return err
		}
		if c.AliasKey != "" {
			if err := putIn(t, seqKey, key, "sa", c.AliasKey); err != nil {
				return err
			}
		}
		return setExpiry(tx, 's', tenant, key, nil, c.ExpiresAt)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// put stores value under the last name in the bucket path names[:len-1],
// creating buckets as needed.
func put(b *bolt.Bucket, value []byte, names ...string) error {
	b, err := subW(b, names[:len(names)-1]...)
	if err != nil {
		return err
	}
	return b.Put([]byte(names[len(names)-1]), value)
}

// putIn stores key -> value in the bucket path names, creating it.
func putIn(b *bolt.Bucket, key, value []byte, names ...string) error {
	b, err := subW(b, names...)
	if err != nil {
		return err
	}
	return b.Put(key, value)
}

// Session implements storage.Sessions.
func (s *Store) Session(ctx context.Context, tenant, key string) (*session.Session, error) {
	var sess *session.Session
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		sess, _, err = getSession(tenantBucket(tx, tenant), key)
		return err
	})
	return sess, err
}

// getSession reads a session and its sequence number from tenant bucket t.
func getSession(t *bolt.Bucket, key string) (*session.Session, uint64, error) {
	v := get(sub(t, "s"), []byte(key))
	if v == nil {
		return nil, 0, notFound("session", key)
	}
	return decodeSession(v)
}

// ListSessions implements storage.Sessions.
func (s *Store) ListSessions(ctx context.Context, tenant string, q storage.SessionQuery) (storage.Page[*session.Session], error) {
	var page storage.Page[*session.Session]
	limit, after, hasAfter, err := s.listStart(ctx, q.Limit, q.PageKey, "s", 8)
	if err != nil {
		return page, err
	}
	err = s.view(ctx, func(tx *bolt.Tx) error {
		t := tenantBucket(tx, tenant)
		idx := sub(t, "sq")
		switch {
		case q.AliasKey != "":
			idx = sub(t, "sa", q.AliasKey)
		case q.AgentKey != "":
			idx = sub(t, "sg", q.AgentKey)
		}
		if idx == nil {
			return nil
		}
		sessions := sub(t, "s")
		c := idx.Cursor()
		k, v := c.First()
		if hasAfter {
			k, v = seekAfter(c, after)
		}
		var last []byte
		for ; k != nil; k, v = c.Next() {
			x, _, err := decodeSession(sessions.Get(v))
			if err != nil {
				return err
			}
			if q.AliasKey != "" && x.AliasKey != q.AliasKey ||
				q.AgentKey != "" && x.AgentKey != q.AgentKey ||
				!q.Now.IsZero() && x.Expired(q.Now) ||
				!matches(q.Filter, x.Name, x.Description) {
				continue
			}
			if len(page.Items) == limit {
				page.Next = encodePageKey("s", last)
				break
			}
			page.Items = append(page.Items, x)
			last = append(last[:0], k...)
		}
		return nil
	})
	return page, err
}

// UpdateSession implements storage.Sessions.
func (s *Store) UpdateSession(ctx context.Context, tenant string, sess *session.Session) (*session.Session, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	c := sess.Clone()
	c.Revision = sess.Revision + 1
	err := s.update(ctx, func(tx *bolt.Tx) error {
		t := tenantBucket(tx, tenant)
		old, seq, err := getSession(t, sess.Key)
		if err != nil {
			return err
		}
		if old.AgentKey != sess.AgentKey || old.AliasKey != sess.AliasKey || !old.CreatedAt.Equal(sess.CreatedAt) {
			return invalid("session %q: agent_key, alias_key and created_at cannot change", sess.Key)
		}
		if old.Revision != sess.Revision {
			return fmt.Errorf("boltstore: session %q: revision %d is stale (stored %d): %w", sess.Key, sess.Revision, old.Revision, storage.ErrConflict)
		}
		rec, err := encodeSession(c, seq)
		if err != nil {
			return err
		}
		if err := put(t, rec, "s", c.Key); err != nil {
			return err
		}
		return setExpiry(tx, 's', tenant, []byte(c.Key), &old.ExpiresAt, c.ExpiresAt)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteSession implements storage.Sessions.
func (s *Store) DeleteSession(ctx context.Context, tenant, key string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		t := tenantBucket(tx, tenant)
		old, seq, err := getSession(t, key)
		if err != nil {
			return err
		}
		return deleteSession(tx, t, tenant, old, seq)
	})
}

// deleteSession removes a session, its index entries, events and artifacts.
func deleteSession(tx *bolt.Tx, t *bolt.Bucket, tenant string, sess *session.Session, seq uint64) error {
	key, seqKey := []byte(sess.Key), u64(seq)
	if err := sub(t, "s").Delete(key); err != nil {
		return err
	}
	if err := sub(t, "sq").Delete(seqKey); err != nil {
		return err
	}
	if err := deleteIndexEntry(t, "sg", sess.AgentKey, seqKey); err != nil {
		return err
	}
	if sess.AliasKey != "" {
		if err := deleteIndexEntry(t, "sa", sess.AliasKey, seqKey); err != nil {
			return err
		}
	}
	if err := setExpiry(tx, 's', tenant, key, &sess.ExpiresAt, zeroTime); err != nil {
		return err
	}
	// Artifacts' expiry entries go with them.
	if arts := sub(t, "r", sess.Key); arts != nil {
		c := arts.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			a, err := decodeArtifact(v, sess.Key)
			if err != nil {
				return err
			}
			if err := setExpiry(tx, 'r', tenant, artifactItem(sess.Key, string(k)), &a.ExpiresAt, zeroTime); err != nil {
				return err
			}
		}
	}
	for _, name := range []string{"e", "ei", "r", "rd", "rc", "ru"} {
		if b := sub(t, name); b != nil && b.Bucket(key) != nil {
			if err := b.DeleteBucket(key); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteIndexEntry removes seqKey from the index bucket name/key, and the
// bucket when it becomes empty.
func deleteIndexEntry(t *bolt.Bucket, name, key string, seqKey []byte) error {
	idx := sub(t, name, key)
	if idx == nil {
		return nil
	}
	if err := idx.Delete(seqKey); err != nil {
		return err
	}
	if k, _ := idx.Cursor().First(); k == nil {
		return sub(t, name).DeleteBucket([]byte(key))
	}
	return nil
}

// seqOf decodes an 8-byte sequence key.
func seqOf(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

// seekAfter positions c on the first key strictly after after.
func seekAfter(c *bolt.Cursor, after []byte) ([]byte, []byte) {
	k, v := c.Seek(after)
	if k != nil && bytes.Equal(k, after) {
		k, v = c.Next()
	}
	return k, v
}
