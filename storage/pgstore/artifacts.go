package pgstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/session"
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
	if !session.ValidKey(a.SessionKey) {
		return notFound("session", a.SessionKey)
	}
	if err := checkTimes("artifact "+a.ID, a.CreatedAt, a.UpdatedAt, a.ExpiresAt); err != nil {
		return err
	}
	rec, err := encodeArtifact(a)
	if err != nil {
		return fmt.Errorf("pgstore: encode artifact: %w", err)
	}
	data := a.Data
	if data == nil {
		data = []byte{} // NOT NULL
	}
	// The foreign key answers a missing session (ErrNotFound), the primary
	// key a taken id (ErrExists).
	_, err = s.pool.Exec(ctx, s.q(`
		INSERT INTO {s}.artifacts (tenant, session_key, id, created_at, updated_at, expires_at, rec, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`),
		[]byte(tenant), a.SessionKey, a.ID, clampNanos(a.CreatedAt), clampNanos(a.UpdatedAt), nanos(a.ExpiresAt), rec, data)
	return s.fail(ctx, fmt.Sprintf("artifact %q of session %q", a.ID, a.SessionKey), err)
}

// Artifact implements storage.Artifacts.
func (s *Store) Artifact(ctx context.Context, tenant, sessionKey, id string) (*artifact.Artifact, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if !session.ValidKey(sessionKey) || !artifact.ValidID(id) {
		return nil, notFound("artifact", id)
	}
	var rec, data []byte
	err := s.pool.QueryRow(ctx, s.q(`SELECT rec, data FROM {s}.artifacts WHERE tenant = $1 AND session_key = $2 AND id = $3`),
		[]byte(tenant), sessionKey, id).Scan(&rec, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("artifact", id)
	}
	if err != nil {
		return nil, s.fail(ctx, "read artifact", err)
	}
	a, err := decodeArtifact(rec, sessionKey)
	if err != nil {
		return nil, err
	}
	if data == nil {
		data = []byte{}
	}
	a.Data = data
	return a, nil
}

// listArtifacts is the artifact list query for a sort column and direction.
// $1 tenant, $2 session key, ($3, $4) the position of the last item seen,
// $5 the expiry time or NULL, $6 the limit. As in ListEvents, a missing
// session gives no row and a session with no artifacts one row of NULLs.
func listArtifacts(column string, desc bool) string {
	cmp, dir := ">", "ASC"
	if desc {
		cmp, dir = "<", "DESC"
	}
	return `
		SELECT r.pos, r.id, r.rec FROM {s}.sessions s
		LEFT JOIN LATERAL (
			SELECT ` + column + ` AS pos, id, rec FROM {s}.artifacts
			WHERE tenant = $1 AND session_key = $2 AND (` + column + `, id) ` + cmp + ` ($3, $4)
			  AND ($5::bigint IS NULL OR expires_at IS NULL OR expires_at > $5)
			ORDER BY ` + column + ` ` + dir + `, id ` + dir + ` LIMIT $6
		) r ON true
		WHERE s.tenant = $1 AND s.key = $2
		ORDER BY r.pos ` + dir + `, r.id ` + dir
}

var artifactQueries = map[string]string{
	"rca": listArtifacts("created_at", false),
	"rcd": listArtifacts("created_at", true),
	"rua": listArtifacts("updated_at", false),
	"rud": listArtifacts("updated_at", true),
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
	if !session.ValidKey(sessionKey) {
		return page, notFound("session", sessionKey)
	}
	desc := order == storage.OrderDesc
	query := s.q(artifactQueries[tag])
	var now *int64
	if !q.Now.IsZero() {
		now = nanos(q.Now)
	}
	fetch := func(after []byte, n int) ([]row[*artifact.Artifact], error) {
		// The first page starts before every position: ids are
		// "art_[a-z0-9_-]+", all after "" and before "~".
		pos, id := int64(math.MinInt64), ""
		if desc {
			pos, id = math.MaxInt64, "~"
		}
		if after != nil {
			pos, id = int64(binary.BigEndian.Uint64(after)), string(after[8:])
		}
		rows, err := s.pool.Query(ctx, query, []byte(tenant), sessionKey, pos, id, now, n)
		if err != nil {
			return nil, s.fail(ctx, "list artifacts", err)
		}
		defer rows.Close()
		var out []row[*artifact.Artifact]
		found := false
		for rows.Next() {
			found = true
			var pos *int64
			var id *string
			var rec []byte
			if err := rows.Scan(&pos, &id, &rec); err != nil {
				return nil, s.fail(ctx, "list artifacts", err)
			}
			if pos == nil {
				continue // the session has no (more) artifacts
			}
			a, err := decodeArtifact(rec, sessionKey)
			if err != nil {
				return nil, err
			}
			p := binary.BigEndian.AppendUint64(nil, uint64(*pos))
			out = append(out, row[*artifact.Artifact]{a, append(p, *id...)})
		}
		if err := rows.Err(); err != nil {
			return nil, s.fail(ctx, "list artifacts", err)
		}
		if !found {
			return nil, notFound("session", sessionKey)
		}
		return out, nil
	}
	return collect(tag, limit, after, false, fetch, nil)
}
