package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Sweep implements storage.Sweeper. It walks the expiry index from the
// oldest entry, so it costs O(items deleted).
func (s *Store) Sweep(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, invalid("sweep limit %d", limit)
	}
	var n int
	err := s.update(ctx, func(tx *bolt.Tx) error {
		n = 0
		x := tx.Bucket(bucketExpiry)
		end := timeKey(now)
		// Deleting an item may delete other entries (a session's
		// artifacts), so look for the oldest entry afresh each time.
		for n < limit {
			k, _ := x.Cursor().First()
			if k == nil || bytes.Compare(k[:8], end) > 0 {
				break
			}
			if err := sweepOne(tx, append([]byte(nil), k...)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// sweepOne deletes the item of one expiry-index entry.
func sweepOne(tx *bolt.Tx, k []byte) error {
	if len(k) < 10 || len(k) < 10+int(k[9]) {
		return errors.New("boltstore: corrupt expiry index entry")
	}
	kind, tlen := k[8], int(k[9])
	tenant, item := string(k[10:10+tlen]), k[10+tlen:]
	t := tenantBucket(tx, tenant)
	switch kind {
	case 's':
		sess, seq, err := getSession(t, string(item))
		if err != nil {
			return fmt.Errorf("boltstore: expiry index names a missing session: %w", err)
		}
		return deleteSession(tx, t, tenant, sess, seq)
	case 'r':
		i := bytes.IndexByte(item, 0)
		if i < 0 {
			return errors.New("boltstore: corrupt artifact expiry entry")
		}
		return deleteArtifact(tx, t, tenant, string(item[:i]), string(item[i+1:]))
	case 'p':
		if err := sub(t, "p").Delete(item); err != nil {
			return err
		}
		return tx.Bucket(bucketExpiry).Delete(k)
	}
	return fmt.Errorf("boltstore: unknown expiry entry kind %q", kind)
}

// deleteArtifact removes one artifact, its content, index and expiry entries.
func deleteArtifact(tx *bolt.Tx, t *bolt.Bucket, tenant, sessionKey, id string) error {
	v := get(sub(t, "r", sessionKey), []byte(id))
	if v == nil {
		return notFound("artifact", id)
	}
	a, err := decodeArtifact(v, sessionKey)
	if err != nil {
		return err
	}
	for _, del := range []struct {
		bucket string
		key    []byte
	}{
		{"r", []byte(id)},
		{"rd", []byte(id)},
		{"rc", timeIDKey(timeKey(a.CreatedAt), id)},
		{"ru", timeIDKey(timeKey(a.UpdatedAt), id)},
	} {
		if err := sub(t, del.bucket, sessionKey).Delete(del.key); err != nil {
			return err
		}
	}
	return setExpiry(tx, 'r', tenant, artifactItem(sessionKey, id), &a.ExpiresAt, zeroTime)
}
