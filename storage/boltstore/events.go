package boltstore

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/storage"
)

// AppendEvents implements storage.Events.
func (s *Store) AppendEvents(ctx context.Context, tenant, sessionKey string, evs []*event.Event) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	recs := make([][]byte, len(evs))
	seen := make(map[string]bool, len(evs))
	for i, ev := range evs {
		if ev.SessionKey != sessionKey {
			return invalid("event %q belongs to session %q, not %q", ev.ID, ev.SessionKey, sessionKey)
		}
		if !event.ValidID(ev.ID) {
			return invalid("event id %q", ev.ID)
		}
		if seen[ev.ID] {
			return fmt.Errorf("boltstore: event %q appears twice: %w", ev.ID, storage.ErrExists)
		}
		seen[ev.ID] = true
		var err error
		if recs[i], err = json.Marshal(ev); err != nil {
			return fmt.Errorf("boltstore: encode event %q: %w", ev.ID, err)
		}
	}
	if err := checkTenant(tenant); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		t := tenantBucket(tx, tenant)
		if get(sub(t, "s"), []byte(sessionKey)) == nil {
			return notFound("session", sessionKey)
		}
		ids := sub(t, "ei", sessionKey)
		for _, ev := range evs {
			if get(ids, []byte(ev.ID)) != nil {
				return fmt.Errorf("boltstore: event %q: %w", ev.ID, storage.ErrExists)
			}
		}
		// Checks passed: change things.
		events, err := subW(t, "e", sessionKey)
		if err != nil {
			return err
		}
		if ids, err = subW(t, "ei", sessionKey); err != nil {
			return err
		}
		for i, ev := range evs {
			seq, err := events.NextSequence()
			if err != nil {
				return err
			}
			if err := events.Put(u64(seq), recs[i]); err != nil {
				return err
			}
			if err := ids.Put([]byte(ev.ID), u64(seq)); err != nil {
				return err
			}
		}
		return nil
	})
}

// getEvent finds one event of a session: its bucket, sequence key and value.
func getEvent(t *bolt.Bucket, sessionKey, id string) (*bolt.Bucket, []byte, *event.Event, error) {
	if get(sub(t, "s"), []byte(sessionKey)) == nil {
		return nil, nil, nil, notFound("session", sessionKey)
	}
	seq := get(sub(t, "ei", sessionKey), []byte(id))
	if seq == nil {
		return nil, nil, nil, notFound("event", id)
	}
	events := sub(t, "e", sessionKey)
	ev, err := decodeEvent(get(events, seq))
	if err != nil {
		return nil, nil, nil, err
	}
	return events, append([]byte(nil), seq...), ev, nil
}

// Event implements storage.Events.
func (s *Store) Event(ctx context.Context, tenant, sessionKey, id string) (*event.Event, error) {
	var ev *event.Event
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		_, _, ev, err = getEvent(tenantBucket(tx, tenant), sessionKey, id)
		return err
	})
	return ev, err
}

// ListEvents implements storage.Events.
func (s *Store) ListEvents(ctx context.Context, tenant, sessionKey string, q storage.EventQuery) (storage.Page[*event.Event], error) {
	var page storage.Page[*event.Event]
	limit, after, hasAfter, err := s.listStart(ctx, q.Limit, q.PageKey, "e", 8)
	if err != nil {
		return page, err
	}
	err = s.view(ctx, func(tx *bolt.Tx) error {
		t := tenantBucket(tx, tenant)
		if get(sub(t, "s"), []byte(sessionKey)) == nil {
			return notFound("session", sessionKey)
		}
		events := sub(t, "e", sessionKey)
		if events == nil {
			return nil
		}
		c := events.Cursor()
		k, v := c.First()
		if hasAfter {
			k, v = seekAfter(c, after)
		}
		var last []byte
		for ; k != nil; k, v = c.Next() {
			ev, err := decodeEvent(v)
			if err != nil {
				return err
			}
			if ev.Hidden() && !q.IncludeHidden {
				continue
			}
			if len(page.Items) == limit {
				page.Next = encodePageKey("e", last)
				break
			}
			page.Items = append(page.Items, ev)
			last = append(last[:0], k...)
		}
		return nil
	})
	return page, err
}

// DeleteEvent implements storage.Events.
func (s *Store) DeleteEvent(ctx context.Context, tenant, sessionKey, id string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		t := tenantBucket(tx, tenant)
		events, seq, _, err := getEvent(t, sessionKey, id)
		if err != nil {
			return err
		}
		if err := events.Delete(seq); err != nil {
			return err
		}
		return sub(t, "ei", sessionKey).Delete([]byte(id))
	})
}

// SetEventHidden implements storage.Events.
func (s *Store) SetEventHidden(ctx context.Context, tenant, sessionKey, id, reason string) (*event.Event, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var out *event.Event
	err := s.update(ctx, func(tx *bolt.Tx) error {
		events, seq, ev, err := getEvent(tenantBucket(tx, tenant), sessionKey, id)
		if err != nil {
			return err
		}
		ev.HideReason = reason
		rec, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if err := events.Put(seq, rec); err != nil {
			return err
		}
		out = ev
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
