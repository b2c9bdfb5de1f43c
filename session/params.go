package session

import (
	"time"

	"github.com/agentalias/agentalias/internal/jsonvalue"
	"github.com/agentalias/agentalias/internal/validate"
)

// Params are what a caller supplies to create a session: the contract's
// CreateAgentSessionRequest. Every field is optional.
type Params struct {
	// Key is the session's key; "" means generate one from the name.
	Key string
	// Name is a human-readable name; "" means use the key.
	Name string
	// Description is an optional description.
	Description string
	// Metadata is arbitrary JSON; an alias's policy reads it as
	// $.session.metadata.
	Metadata map[string]any
	// Enabled, if not nil, says whether the session accepts input; nil
	// means true.
	Enabled *bool
	// TTIMinutes is the idle time-to-live; 0 means never expire.
	TTIMinutes int64
	// Secrets are write-only values handed to the agent.
	Secrets map[string]string
	// FromSession, if not nil, forks an existing session: its visible events
	// and artifacts are copied into the new one.
	FromSession *Fork
}

// Fork names the session to copy and how much of it (the contract's
// from_session).
type Fork struct {
	// SessionKey is the session to copy.
	SessionKey string
	// AgentKey is the agent of that session; "" means the new session's.
	AgentKey string
	// IncludeUpToEventID, if not "", copies only events up to and including
	// this one.
	IncludeUpToEventID string
	// CompactUpToEventID asks for compaction, which belongs to an agent
	// runtime; the router rejects it as unsupported.
	CompactUpToEventID string
}

// New returns the session p describes, owned by agentKey and created through
// aliasKey ("" for none) at now, with the given key. It does not validate.
// The session shares p's Metadata and Secrets maps; stores copy values in,
// so handing it to a store is safe.
func (p *Params) New(key, agentKey, aliasKey string, now time.Time) *Session {
	s := &Session{
		Key:         key,
		AgentKey:    agentKey,
		AliasKey:    aliasKey,
		Name:        p.Name,
		Description: p.Description,
		Metadata:    p.Metadata,
		Enabled:     p.Enabled == nil || *p.Enabled,
		Status:      Unstarted,
		TTIMinutes:  p.TTIMinutes,
		CreatedAt:   now,
		Secrets:     Secrets(p.Secrets),
	}
	if s.Name == "" {
		s.Name = key
	}
	s.Touch(now)
	return s
}

// UnmarshalJSON decodes a CreateAgentSessionRequest strictly: unknown fields
// and wrong types are errors naming the field.
func (p *Params) UnmarshalJSON(b []byte) error {
	fields, names, err := jsonvalue.Fields(b)
	if err != nil {
		return err
	}
	var errs validate.Errors
	var out Params
	for _, name := range names {
		raw := fields[name]
		if jsonvalue.IsNull(raw) {
			continue // null is the same as absent
		}
		switch name {
		case "key":
			jsonvalue.Decode(&errs, name, raw, &out.Key, "must be a string")
		case "name":
			jsonvalue.Decode(&errs, name, raw, &out.Name, "must be a string")
		case "description":
			jsonvalue.Decode(&errs, name, raw, &out.Description, "must be a string")
		case "metadata":
			jsonvalue.Decode(&errs, name, raw, &out.Metadata, "must be a JSON object")
		case "enabled":
			out.Enabled = new(bool)
			jsonvalue.Decode(&errs, name, raw, out.Enabled, "must be a boolean")
		case "tti_minutes":
			jsonvalue.Decode(&errs, name, raw, &out.TTIMinutes, "must be an integer")
		case "secrets":
			jsonvalue.Decode(&errs, name, raw, &out.Secrets, "must be an object mapping names to strings")
		case "from_session":
			out.FromSession = decodeFork(&errs, raw)
		default:
			errs.Add(name, "unknown field")
		}
	}
	if err := errs.Err(); err != nil {
		return err
	}
	*p = out
	return nil
}

func decodeFork(errs *validate.Errors, b []byte) *Fork {
	fields, names, err := jsonvalue.Fields(b)
	if err != nil {
		errs.Add("from_session", "must be a JSON object")
		return nil
	}
	var f Fork
	for _, name := range names {
		raw, path := fields[name], "from_session."+name
		if jsonvalue.IsNull(raw) {
			continue
		}
		switch name {
		case "session_key":
			jsonvalue.Decode(errs, path, raw, &f.SessionKey, "must be a string")
		case "agent_key":
			jsonvalue.Decode(errs, path, raw, &f.AgentKey, "must be a string")
		case "include_up_to_event_id":
			jsonvalue.Decode(errs, path, raw, &f.IncludeUpToEventID, "must be a string")
		case "compact_up_to_event_id":
			jsonvalue.Decode(errs, path, raw, &f.CompactUpToEventID, "must be a string")
		default:
			errs.Add(path, "unknown field")
		}
	}
	if _, ok := fields["session_key"]; !ok {
		errs.Add("from_session.session_key", "is required")
	}
	return &f
}

// Validate checks what p can say about itself (a key given must be valid;
// limits on name, description, metadata, tti_minutes and secrets). It may
// normalise Metadata.
func (p *Params) Validate() error {
	var errs validate.Errors
	if p.Key != "" && !ValidKey(p.Key) {
		errs.Add("key", "must match ^[0-9a-zA-Z_-]+$ and be 1-50 characters")
	}
	checkText(&errs, "name", p.Name, MaxNameLen)
	checkText(&errs, "description", p.Description, MaxDescriptionLen)
	if m, err := CheckMetadata(p.Metadata); err != nil {
		errs.Add("metadata", err.Error())
	} else {
		p.Metadata = m
	}
	checkTTI(&errs, p.TTIMinutes)
	if len(p.Secrets) > MaxSecrets {
		errs.Addf("secrets", "must have at most %d entries", MaxSecrets)
	}
	for _, name := range sortedNames(p.Secrets) {
		checkSecret(&errs, name, p.Secrets[name])
	}
	if f := p.FromSession; f != nil {
		if !ValidKey(f.SessionKey) {
			errs.Add("from_session.session_key", "must match ^[0-9a-zA-Z_-]+$ and be 1-50 characters")
		}
		if f.AgentKey != "" && !ValidKey(f.AgentKey) {
			errs.Add("from_session.agent_key", "must match ^[0-9a-zA-Z_-]+$ and be 1-50 characters")
		}
		if f.IncludeUpToEventID != "" && f.CompactUpToEventID != "" {
			errs.Add("from_session", "include_up_to_event_id and compact_up_to_event_id are mutually exclusive")
		} else if f.CompactUpToEventID != "" {
			errs.Add("from_session.compact_up_to_event_id", "compaction is not supported: it belongs to an agent runtime")
		}
	}
	return errs.Err()
}
