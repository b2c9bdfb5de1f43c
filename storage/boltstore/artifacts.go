package boltstore

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/storage"
)

// CreateArtifact implements storage.Artifacts. Content over
// Options.MaxArtifactBytes is storage.ErrInvalid.
func (s *Store) CreateArtifact(ctx context.Context, tenant string, a *artifact.Artifact) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if !artifact.ValidID(a.ID) {
		return invalid("artifact id %q", a.ID)
	}
	if err := checkTenant(tenant); err != nil {
		return err
	}
	if len(a.Data) > s.opts.MaxArtifactBytes {
		return invalid("artifact %q: %d bytes of content exceed the store's limit of %d", a.ID, len(a.Data), s.opts.MaxArtifactBytes)
	}
	rec, err := encodeArtifact(a)
	if err != nil {
		return fmt.Errorf("boltstore: encode artifact: %w", err)
	}
	data := append([]byte{}, a.Data...)
	id, sk := []byte(a.ID), a.SessionKey
	return s.update(ctx, func(tx *bolt.Tx) error {
		t := tenantBucket(tx, tenant)
		if get(sub(t, "s"), []byte(sk)) == nil {
			return notFound("session", sk)
		}
		if get(sub(t, "r", sk), id) != nil {
			return fmt.Errorf("boltstore: artifact %q: %w", a.ID, storage.ErrExists)
		}
		// Checks passed: change things.
		if err := putIn(t, id, rec, "r", sk); err != nil {
			return err
		}
		if err := putIn(t, id, data, "rd", sk); err != nil {
			return err
		}
		if err := putIn(t, timeIDKey(timeKey(a.CreatedAt), a.ID), nil, "rc", sk); err != nil {
			return err
		}
		if err := putIn(t, timeIDKey(timeKey(a.UpdatedAt), a.ID), nil, "ru", sk); err != nil {
			return err
		}
		return setExpiry(tx, 'r', tenant, artifactItem(sk, a.ID), nil, a.ExpiresAt)
	})
}

func timeIDKey(tk []byte, id string) []byte { return append(append([]byte{}, tk...), id...) }

// artifactItem is the expiry-index item of an artifact.
func artifactItem(sessionKey, id string) []byte {
	return append(append([]byte(sessionKey), 0), id...)
}

// Artifact implements storage.Artifacts.
func (s *Store) Artifact(ctx context.Context, tenant, sessionKey, id string) (*artifact.Artifact, error) {
	var a *artifact.Artifact
	err := s.view(ctx, func(tx *bolt.Tx) error {
		t := tenantBucket(tx, tenant)
		if get(sub(t, "s"), []byte(sessionKey)) == nil {
			return notFound("session", sessionKey)
		}
		v := get(sub(t, "r", sessionKey), []byte(id))
		if v == nil {
			return notFound("artifact", id)
		}
		var err error
		if a, err = decodeArtifact(v, sessionKey); err != nil {
			return err
		}
		a.Data = append([]byte{}, get(sub(t, "rd", sessionKey), []byte(id))...)
		return nil
	})
	return a, err
}

// ListArtifacts implements storage.Artifacts.
func (s *Store) ListArtifacts(ctx context.Context, tenant, sessionKey string, q storage.ArtifactQuery) (storage.Page[*artifact.Artifact], error) {
	var page storage.Page[*artifact.Artifact]
	if err := s.check(ctx); err != nil {
		return page, err
	}
	sortBy, order := q.SortBy, q.Order
	if sortBy == "" {
		sortBy = storage.SortCreatedAt
	}
	if order == "" {
		order = storage.OrderDesc
	}
	if sortBy != storage.SortCreatedAt && sortBy != storage.SortUpdatedAt {
		return page, invalid("sort_by %q", q.SortBy)
	}
	if order != storage.OrderAsc && order != storage.OrderDesc {
		return page, invalid("order_by %q", q.Order)
	}
	limit, err := checkLimit(q.Limit)
	if err != nil {
		return page, err
	}
	tag := "r" + sortBy[:1] + order[:1]
	after, hasAfter, err := decodePageKey(q.PageKey, tag)
	if err != nil {
		return page, err
	}
	if hasAfter && (len(after) < 9 || !artifact.ValidID(string(after[8:]))) {
		return page, invalid("page key %q", q.PageKey)
	}
	idxName := "rc"
	if sortBy == storage.SortUpdatedAt {
		idxName = "ru"
	}
	desc := order == storage.OrderDesc
	err = s.view(ctx, func(tx *bolt.Tx) error {
		t := tenantBucket(tx, tenant)
		if get(sub(t, "s"), []byte(sessionKey)) == nil {
			return notFound("session", sessionKey)
		}
		idx, metas := sub(t, idxName, sessionKey), sub(t, "r", sessionKey)
		if idx == nil {
			return nil
		}
		c := idx.Cursor()
		var k []byte
		switch {
		case !hasAfter && !desc:
			k, _ = c.First()
		case !hasAfter:
			k, _ = c.Last()
		case !desc:
			k, _ = seekAfter(c, after)
		default:
			// The last key before after.
			k, _ = c.Seek(after)
			if k == nil {
				k, _ = c.Last()
			}
			for k != nil && bytes.Compare(k, after) >= 0 {
				k, _ = c.Prev()
			}
		}
		next := c.Next
		if desc {
			next = c.Prev
		}
		var last []byte
		for ; k != nil; k, _ = next() {
			a, err := decodeArtifact(get(metas, k[8:]), sessionKey)
			if err != nil {
				return err
			}
			if !q.Now.IsZero() && a.Expired(q.Now) {
				continue
			}
			if len(page.Items) == limit {
				page.Next = encodePageKey(tag, last)
				break
			}
			page.Items = append(page.Items, a)
			last = append(last[:0], k...)
		}
		return nil
	})
	return page, err
}
