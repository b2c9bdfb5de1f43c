package session

import (
	"encoding/json"
	"time"

	"github.com/agentalias/agentalias/internal/jsonvalue"
	"github.com/agentalias/agentalias/internal/validate"
)

// Patch is a partial update of a session (the contract's
// UpdateAgentSessionRequest). A nil field is left unchanged. The agent, the
// alias and the key of a session never change.
type Patch struct {
	// Name, if not nil, replaces the name; "" clears it (the key is shown
	// as the name then).
	Name *string
	// Description, if not nil, replaces the description; "" clears it.
	Description *string
	// Metadata, if not nil, replaces the metadata whole; an empty map clears it.
	Metadata map[string]any
	// Enabled, if not nil, enables or disables the session.
	Enabled *bool
	// TTIMinutes, if not nil, replaces the idle time-to-live.
	TTIMinutes *int64
	// Secrets patches the secrets: a name mapped to a non-nil value is set,
	// a name mapped to nil is removed, names not present are kept.
	Secrets map[string]*string
}

// IsZero reports whether p changes nothing.
func (p Patch) IsZero() bool {
	return p.Name == nil && p.Description == nil && p.Metadata == nil &&
		p.Enabled == nil && p.TTIMinutes == nil && p.Secrets == nil
}

// UnmarshalJSON decodes the contract's UpdateAgentSessionRequest strictly:
// unknown fields and wrong types are errors naming the field.
func (p *Patch) UnmarshalJSON(b []byte) error {
	fields, names, err := jsonvalue.Fields(b)
	if err != nil {
		return err
	}
	var errs validate.Errors
	var out Patch
	for _, name := range names {
		raw := fields[name]
		null := jsonvalue.IsNull(raw)
		switch name {
		case "name":
			out.Name = new(string)
			if !null {
				jsonvalue.Decode(&errs, name, raw, out.Name, "must be a string")
			}
		case "description":
			out.Description = new(string)
			if !null {
				jsonvalue.Decode(&errs, name, raw, out.Description, "must be a string")
			}
		case "metadata":
			out.Metadata = map[string]any{}
			if !null {
				jsonvalue.Decode(&errs, name, raw, &out.Metadata, "must be a JSON object")
			}
		case "enabled":
			if null {
				errs.Add(name, "must not be null")
				continue
			}
			out.Enabled = new(bool)
			jsonvalue.Decode(&errs, name, raw, out.Enabled, "must be a boolean")
		case "tti_minutes":
			if null {
				errs.Add(name, "must not be null")
				continue
			}
			out.TTIMinutes = new(int64)
			jsonvalue.Decode(&errs, name, raw, out.TTIMinutes, "must be an integer")
		case "secrets":
			if null {
				errs.Add(name, "must be an object mapping names to strings or null")
				continue
			}
			out.Secrets = map[string]*string{}
			jsonvalue.Decode(&errs, name, raw, &out.Secrets, "must be an object mapping names to strings or null")
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

// MarshalJSON encodes p with only the fields it changes. Secret values are
// masked, as everywhere else.
func (p Patch) MarshalJSON() ([]byte, error) {
	var md *map[string]any
	if p.Metadata != nil {
		md = &p.Metadata
	}
	var secrets map[string]*string
	if p.Secrets != nil {
		secrets = make(map[string]*string, len(p.Secrets))
		mask := Mask
		for k, v := range p.Secrets {
			if v != nil {
				v = &mask
			}
			secrets[k] = v
		}
	}
	return jsonvalue.Marshal(struct {
		Name        *string            `json:"name,omitempty"`
		Description *string            `json:"description,omitempty"`
		Metadata    *map[string]any    `json:"metadata,omitempty"`
		Enabled     *bool              `json:"enabled,omitempty"`
		TTIMinutes  *int64             `json:"tti_minutes,omitempty"`
		Secrets     map[string]*string `json:"secrets,omitempty"`
	}{p.Name, p.Description, md, p.Enabled, p.TTIMinutes, secrets})
}

// Validate checks the fields p sets. It may normalise Metadata.
func (p *Patch) Validate() error {
	var errs validate.Errors
	if p.Name != nil {
		checkText(&errs, "name", *p.Name, MaxNameLen)
	}
	if p.Description != nil {
		checkText(&errs, "description", *p.Description, MaxDescriptionLen)
	}
	if p.Metadata != nil {
		if m, err := CheckMetadata(p.Metadata); err != nil {
			errs.Add("metadata", err.Error())
		} else {
			p.Metadata = m
		}
	}
	if p.TTIMinutes != nil {
		checkTTI(&errs, *p.TTIMinutes)
	}
	if len(p.Secrets) > MaxSecrets {
		errs.Addf("secrets", "must have at most %d entries", MaxSecrets)
	}
	for _, name := range sortedNames(p.Secrets) {
		if v := p.Secrets[name]; v != nil {
			checkSecret(&errs, name, *v)
		} else if !ValidSecretName(name) {
			errs.Add("secrets."+name, "secret names must match ^[A-Za-z0-9_-]+$ and be 1-128 characters")
		}
	}
	return errs.Err()
}

// Apply returns a copy of s with p applied. A change of TTIMinutes restarts
// the idle clock at now. Apply does not validate p, and it fails only if the
// patched session would hold more than MaxSecrets secrets.
func (p Patch) Apply(s *Session, now time.Time) (*Session, error) {
	c := s.Clone()
	if p.Name != nil {
		c.Name = *p.Name
		if c.Name == "" {
			c.Name = c.Key
		}
	}
	if p.Description != nil {
		c.Description = *p.Description
	}
	if p.Metadata != nil {
		c.Metadata = jsonvalue.Clone(p.Metadata)
	}
	if p.Enabled != nil {
		c.Enabled = *p.Enabled
	}
	if p.TTIMinutes != nil {
		c.TTIMinutes = *p.TTIMinutes
		// A running session does not expire; the end of its turn restarts
		// the idle clock with the new TTI.
		if c.Status != Running {
			c.Touch(now)
		}
	}
	if p.Secrets != nil {
		if c.Secrets == nil {
			c.Secrets = Secrets{}
		}
		for k, v := range p.Secrets {
			if v == nil {
				delete(c.Secrets, k)
			} else {
				c.Secrets[k] = *v
			}
		}
		if len(c.Secrets) == 0 {
			c.Secrets = nil
		}
		if len(c.Secrets) > MaxSecrets {
			var errs validate.Errors
			errs.Addf("secrets", "a session may hold at most %d secrets", MaxSecrets)
			return nil, &errs
		}
	}
	return c, nil
}

var _ json.Marshaler = Patch{}
