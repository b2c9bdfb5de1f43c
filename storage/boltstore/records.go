package boltstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// Records are JSON. The domain types' JSON is the REST contract's, which
// leaves out internal fields (revisions, expiry) and masks secrets, so each
// record carries those beside the value.

type aliasRecord struct {
	Alias    *alias.Alias `json:"alias"`
	Revision uint64       `json:"rev"`
}

type sessionRecord struct {
	Session   *session.Session    `json:"session"`
	Secrets   map[string]string   `json:"secrets,omitempty"`
	Pending   []event.PendingCall `json:"pending,omitempty"`
	ExpiresAt time.Time           `json:"exp,omitzero"`
	Turn      time.Time           `json:"turn,omitzero"`
	Interrupt time.Time           `json:"intr,omitzero"`
	TurnID    string              `json:"tid,omitempty"`
	Revision  uint64              `json:"rev"`
	Seq       uint64              `json:"seq"`
}

type artifactRecord struct {
	Artifact  *artifact.Artifact `json:"artifact"`
	ExpiresAt time.Time          `json:"exp,omitzero"`
}

type pinRecord struct {
	AgentKey  string    `json:"agent"`
	CreatedAt time.Time `json:"created"`
	ExpiresAt time.Time `json:"exp,omitzero"`
}

func encodeAlias(a *alias.Alias) ([]byte, error) {
	return json.Marshal(aliasRecord{Alias: a, Revision: a.Revision})
}

func decodeAlias(b []byte) (*alias.Alias, error) {
	var r aliasRecord
	if err := json.Unmarshal(b, &r); err != nil || r.Alias == nil {
		return nil, fmt.Errorf("boltstore: corrupt alias record: %v", err)
	}
	r.Alias.Revision = r.Revision
	return r.Alias, nil
}

func encodeSession(s *session.Session, seq uint64) ([]byte, error) {
	return json.Marshal(sessionRecord{Session: s, Secrets: s.Secrets, Pending: s.PendingToolCalls, ExpiresAt: s.ExpiresAt, Turn: s.TurnDeadline, Interrupt: s.InterruptAt, TurnID: s.TurnID, Revision: s.Revision, Seq: seq})
}

func decodeSession(b []byte) (*session.Session, uint64, error) {
	var r sessionRecord
	if err := json.Unmarshal(b, &r); err != nil || r.Session == nil {
		return nil, 0, fmt.Errorf("boltstore: corrupt session record: %v", err)
	}
	s := r.Session
	s.Secrets = r.Secrets
	s.PendingToolCalls = r.Pending
	s.ExpiresAt = r.ExpiresAt
	s.TurnDeadline = r.Turn
	s.InterruptAt = r.Interrupt
	s.TurnID = r.TurnID
	s.Revision = r.Revision
	return s, r.Seq, nil
}

func decodeEvent(b []byte) (*event.Event, error) {
	var e event.Event
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("boltstore: corrupt event record: %v", err)
	}
	return &e, nil
}

func encodeArtifact(a *artifact.Artifact) ([]byte, error) {
	m := *a
	m.Data = nil
	return json.Marshal(artifactRecord{Artifact: &m, ExpiresAt: a.ExpiresAt})
}

func decodeArtifact(b []byte, sessionKey string) (*artifact.Artifact, error) {
	var r artifactRecord
	if err := json.Unmarshal(b, &r); err != nil || r.Artifact == nil {
		return nil, fmt.Errorf("boltstore: corrupt artifact record: %v", err)
	}
	r.Artifact.SessionKey = sessionKey
	r.Artifact.ExpiresAt = r.ExpiresAt
	return r.Artifact, nil
}

func encodePin(p *storage.Pin) ([]byte, error) {
	return json.Marshal(pinRecord{AgentKey: p.AgentKey, CreatedAt: p.CreatedAt, ExpiresAt: p.ExpiresAt})
}

func decodePin(b []byte, aliasKey, key string) (*storage.Pin, error) {
	var r pinRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("boltstore: corrupt pin record: %v", err)
	}
	return &storage.Pin{AliasKey: aliasKey, Key: key, AgentKey: r.AgentKey, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}, nil
}
