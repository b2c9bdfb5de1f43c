package agentalias

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/internal/jsonvalue"
	"github.com/agentalias/agentalias/storage"
)

func eventErr(err error, id string) error {
	if errors.Is(err, storage.ErrNotFound) {
		return &Error{Code: NotFound, Message: "Event not found", ID: id, Err: err}
	}
	return classify(err, "event", id)
}

// ListEvents returns one page of a session's events, in order; hidden events
// only when q.IncludeHidden is set.
func (r *AliasRouter) ListEvents(ctx context.Context, scope Scope, sessionKey string, q storage.EventQuery) (storage.Page[*event.Event], error) {
	var page storage.Page[*event.Event]
	if err := r.check(ctx); err != nil {
		return page, err
	}
	if err := checkLimit(q.Limit); err != nil {
		return page, err
	}
	if _, err := r.session(ctx, scope, sessionKey); err != nil {
		return page, err
	}
	page, err := r.store.ListEvents(ctx, r.tenant, sessionKey, q)
	if errors.Is(err, storage.ErrNotFound) {
		return page, sessionErr(err, sessionKey)
	}
	return page, listErr(err)
}

// Event returns one event of a session, hidden or not.
func (r *AliasRouter) Event(ctx context.Context, scope Scope, sessionKey, id string) (*event.Event, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	if _, err := r.session(ctx, scope, sessionKey); err != nil {
		return nil, err
	}
	ev, err := r.store.Event(ctx, r.tenant, sessionKey, id)
	if err != nil {
		return nil, eventErr(err, id)
	}
	return ev, nil
}

// DeleteEvent deletes one event of a session.
func (r *AliasRouter) DeleteEvent(ctx context.Context, scope Scope, sessionKey, id string) error {
	if err := r.check(ctx); err != nil {
		return err
	}
	if _, err := r.session(ctx, scope, sessionKey); err != nil {
		return err
	}
	return eventErr(r.store.DeleteEvent(ctx, r.tenant, sessionKey, id), id)
}

// HideEvent hides one event (hide_reason "manual"): lists leave it out
// unless asked. Hiding a hidden event is not an error.
func (r *AliasRouter) HideEvent(ctx context.Context, scope Scope, sessionKey, id string) (*event.Event, error) {
	return r.setHidden(ctx, scope, sessionKey, id, event.HiddenManual)
}

// UnhideEvent makes a hidden event visible again. Unhiding a visible event
// is not an error.
func (r *AliasRouter) UnhideEvent(ctx context.Context, scope Scope, sessionKey, id string) (*event.Event, error) {
	return r.setHidden(ctx, scope, sessionKey, id, "")
}

func (r *AliasRouter) setHidden(ctx context.Context, scope Scope, sessionKey, id, reason string) (*event.Event, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	if _, err := r.session(ctx, scope, sessionKey); err != nil {
		return nil, err
	}
	ev, err := r.store.SetEventHidden(ctx, r.tenant, sessionKey, id, reason)
	if err != nil {
		return nil, eventErr(err, id)
	}
	return ev, nil
}

// ListArtifacts returns one page of a session's artifacts, without content.
func (r *AliasRouter) ListArtifacts(ctx context.Context, scope Scope, sessionKey string, q storage.ArtifactQuery) (storage.Page[*artifact.Artifact], error) {
	var page storage.Page[*artifact.Artifact]
	if err := r.check(ctx); err != nil {
		return page, err
	}
	if err := checkLimit(q.Limit); err != nil {
		return page, err
	}
	fields := map[string]string{}
	if q.SortBy != "" && q.SortBy != storage.SortCreatedAt && q.SortBy != storage.SortUpdatedAt {
		fields["sort_by"] = "must be created_at or updated_at"
	}
	if q.Order != "" && q.Order != storage.OrderAsc && q.Order != storage.OrderDesc {
		fields["order_by"] = "must be asc or desc"
	}
	if len(fields) > 0 {
		return page, &Error{Code: Invalid, Message: "invalid artifact list", Fields: fields}
	}
	if _, err := r.session(ctx, scope, sessionKey); err != nil {
		return page, err
	}
	q.Now = r.now()
	page, err := r.store.ListArtifacts(ctx, r.tenant, sessionKey, q)
	if errors.Is(err, storage.ErrNotFound) {
		return page, sessionErr(err, sessionKey)
	}
	return page, listErr(err)
}

// Artifact returns one artifact with its content, checked against its
// SHA-256 (a mismatch is Internal: the stored content is damaged).
func (r *AliasRouter) Artifact(ctx context.Context, scope Scope, sessionKey, id string) (*artifact.Artifact, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	if _, err := r.session(ctx, scope, sessionKey); err != nil {
		return nil, err
	}
	a, err := r.store.Artifact(ctx, r.tenant, sessionKey, id)
	if err == nil && a.Expired(r.now()) {
		err = storage.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, &Error{Code: NotFound, Message: "Artifact not found", ID: id, Err: err}
		}
		return nil, classify(err, "artifact", id)
	}
	if !a.Verify() {
		return nil, &Error{Code: Internal, Message: "internal error", Err: fmt.Errorf("artifact %s of session %s fails its checksum", id, sessionKey)}
	}
	return a, nil
}

// UploadArtifact stores a file a user uploads as an artifact of the session,
// and records an artifact_upload event. Content over
// Options.MaxArtifactBytes is TooLarge.
func (r *AliasRouter) UploadArtifact(ctx context.Context, scope Scope, sessionKey string, p ArtifactParams) (*artifact.Artifact, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	s, err := r.session(ctx, scope, sessionKey)
	if err != nil {
		return nil, err
	}
	a, err := r.saveArtifact(ctx, s.Key, p, "user_upload")
	if err != nil {
		return nil, err
	}
	ev := uploadEvent(a)
	ev.ID, ev.SessionKey, ev.CreatedAt = event.NewID(r.token()), s.Key, a.CreatedAt
	if err := r.store.AppendEvents(ctx, r.tenant, s.Key, []*event.Event{ev}); err != nil {
		return nil, classify(err, "event", ev.ID)
	}
	return a, nil
}

// saveArtifact validates and stores an artifact.
func (r *AliasRouter) saveArtifact(ctx context.Context, sessionKey string, p ArtifactParams, source string) (*artifact.Artifact, error) {
	if len(p.Data) > r.opts.MaxArtifactBytes {
		return nil, &Error{Code: TooLarge, Message: fmt.Sprintf("the artifact is %d bytes; the limit is %d", len(p.Data), r.opts.MaxArtifactBytes)}
	}
	now := r.now()
	md := jsonvalue.Clone(p.Metadata)
	if md == nil {
		md = map[string]any{"original_filename": p.Filename, "source": source}
	}
	a := &artifact.Artifact{
		ID: artifact.NewID(r.token()), SessionKey: sessionKey,
		Filename: p.Filename, MimeType: p.MimeType, Description: p.Description, Metadata: md,
		Data: append([]byte{}, p.Data...), SizeBytes: int64(len(p.Data)), ChecksumSHA256: artifact.Checksum(p.Data),
		TTLDays: p.TTLDays, CreatedAt: now, UpdatedAt: now,
	}
	if p.TTLDays > 0 {
		a.ExpiresAt = now.Add(time.Duration(p.TTLDays) * 24 * time.Hour)
	}
	if err := a.Validate(); err != nil {
		return nil, invalid(err, "invalid artifact")
	}
	if err := r.store.CreateArtifact(ctx, r.tenant, a); err != nil {
		return nil, classify(err, "artifact", a.ID)
	}
	return a, nil
}

// uploadEvent is the artifact_upload event that announces a.
func uploadEvent(a *artifact.Artifact) *event.Event {
	return &event.Event{Type: event.ArtifactUpload, Artifacts: []event.ArtifactRef{{
		ArtifactID: a.ID, Filename: a.Filename, MimeType: a.MimeType, SizeBytes: a.SizeBytes,
	}}}
}
