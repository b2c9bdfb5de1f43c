package boltstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agentalias/agentalias/storage"
)

// timeRef points at an item's old expiry time, for setExpiry.
type timeRef = time.Time

// zeroTime is "no expiry": setExpiry with it removes the entry.
var zeroTime time.Time

// get reads key from b, which may be nil.
func get(b *bolt.Bucket, key []byte) []byte {
	if b == nil {
		return nil
	}
	return b.Get(key)
}

// expiryKey is the key of an item in the expiry index.
func expiryKey(at time.Time, kind byte, tenant string, item []byte) []byte {
	k := make([]byte, 0, 8+2+len(tenant)+len(item))
	k = append(k, timeKey(at)...)
	k = append(k, kind, byte(len(tenant)))
	k = append(k, tenant...)
	return append(k, item...)
}

// setExpiry moves an item's entry in the expiry index from old (nil or zero:
// none) to new (zero: none).
func setExpiry(tx *bolt.Tx, kind byte, tenant string, item []byte, old *time.Time, new time.Time) error {
	x := tx.Bucket(bucketExpiry)
	if old != nil && !old.IsZero() {
		if old.Equal(new) {
			return nil
		}
		if err := x.Delete(expiryKey(*old, kind, tenant, item)); err != nil {
			return err
		}
	}
	if new.IsZero() {
		return nil
	}
	return x.Put(expiryKey(new, kind, tenant, item), nil)
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

func matches(re *regexp.Regexp, name, description string) bool {
	return re == nil || re.MatchString(name) || re.MatchString(description)
}

// Page keys are base64url of "<tag>:" followed by the index key of the last
// item returned; the tag names the list and order.

func encodePageKey(tag string, pos []byte) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte(tag+":"), pos...))
}

func decodePageKey(pageKey, tag string) ([]byte, bool, error) {
	if pageKey == "" {
		return nil, false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(pageKey)
	if err != nil || !bytes.HasPrefix(b, []byte(tag+":")) || len(b) == len(tag)+1 {
		return nil, false, fmt.Errorf("boltstore: page key %q: %w", pageKey, storage.ErrInvalid)
	}
	return b[len(tag)+1:], true, nil
}

// listStart is the common start of every list: it fails fast when ctx is
// done or the store closed, checks the limit, and decodes the page key of
// the list tag, whose position must be keyLen bytes long (0: any length).
func (s *Store) listStart(ctx context.Context, limit int, pageKey, tag string, keyLen int) (n int, after []byte, hasAfter bool, err error) {
	if err = s.check(ctx); err != nil {
		return
	}
	if n, err = checkLimit(limit); err != nil {
		return
	}
	if after, hasAfter, err = decodePageKey(pageKey, tag); err != nil {
		return
	}
	if hasAfter && keyLen > 0 && len(after) != keyLen {
		err = invalid("page key %q", pageKey)
	}
	return
}
