// Package alias defines an agent alias: a stable public key that routes new
// sessions to one of several agents under a routing policy.
//
// # JSON
//
// Alias encodes to, and decodes from, the REST contract's AgentAlias object:
//
//	{"key":"support","name":"Customer Support","description":"...",
//	 "policy":{"type":"routed","rules":[...]},"enabled":true,
//	 "metadata":{},"created_at":"2026-06-02T10:35:00Z"}
//
// Timestamps are RFC 3339 in UTC. "metadata" is always an object ({} when
// empty). "updated_at" is left out until the alias is first changed.
// "stickiness" (our extension) is left out when the alias has none.
//
// # Validation
//
// Validate reports every problem at once, each tied to the JSON path of the
// field it concerns ("key", "name", "policy.rules[1].targets.agent_key", ...).
// The error has a method FieldErrors() map[string]string that returns them
// in the shape of the contract's field_errors.
//
// # Patches
//
// Patch is the contract's UpdateAgentAliasRequest: it may change name,
// description, enabled and metadata, nothing else. A field left out is left
// unchanged. An explicit JSON null clears description (to "") and metadata
// (to {}); null for name or enabled is invalid, because neither can be empty.
// A metadata object in a patch replaces the stored one whole; it is not
// merged. The policy changes only through a whole replacement (the contract's
// PUT /policy), never through a patch.
package alias

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/agentalias/agentalias/internal/jsonvalue"
	"github.com/agentalias/agentalias/internal/keys"
	"github.com/agentalias/agentalias/internal/validate"
	"github.com/agentalias/agentalias/policy"
)

// Limits on the fields of an alias.
const (
	MaxKeyLen         = keys.MaxLen // longest alias key, in bytes
	MaxNameLen        = 100         // longest name, in characters
	MaxDescriptionLen = 10000       // longest description, in characters
	MaxMetadataBytes  = 64 << 10    // largest metadata object, JSON-encoded
)

// Alias is a stable public name for one or more agents, with the policy that
// picks the agent of each new session created through it.
//
// Alias is a plain value: stores copy it on the way in and out, and Clone
// makes a deep copy.
type Alias struct {
	// Key identifies the alias within its tenant. It is chosen by the caller,
	// matches ^[0-9a-zA-Z_-]+$, is 1-50 characters long and never changes.
	Key string `json:"key"`

	// Name is a human-readable name, at most 100 characters.
	Name string `json:"name"`

	// Description is an optional longer description.
	Description string `json:"description,omitempty"`

	// Policy routes each new session created through the alias.
	Policy policy.Document `json:"policy"`

	// Stickiness, if not nil, pins sessions with the same sticky key to the
	// agent first chosen for that key. It is our extension of the contract.
	Stickiness *policy.Stickiness `json:"stickiness,omitempty"`

	// Enabled reports whether sessions can be created through the alias.
	// Decoding JSON without "enabled" sets it to true, the contract's default.
	Enabled bool `json:"enabled"`

	// Metadata is arbitrary JSON readable by policies as $.agent.metadata.
	// It encodes as {} when nil.
	Metadata map[string]any `json:"metadata"`

	// CreatedAt is when the alias was created.
	CreatedAt time.Time `json:"created_at"`

	// UpdatedAt is when the alias last changed; zero until then.
	UpdatedAt time.Time `json:"updated_at,omitzero"`

	// Revision counts changes to the stored alias. Stores set it: 1 on
	// creation, incremented by every update. It is not part of the JSON.
	Revision uint64 `json:"-"`
}

// aliasJSON has Alias's fields and encoding without its methods.
type aliasJSON Alias

// MarshalJSON encodes a in the contract's shape: metadata is never null and
// timestamps are in UTC.
func (a Alias) MarshalJSON() ([]byte, error) {
	j := aliasJSON(a)
	if j.Metadata == nil {
		j.Metadata = map[string]any{}
	}
	j.CreatedAt = j.CreatedAt.UTC()
	j.UpdatedAt = j.UpdatedAt.UTC()
	return jsonvalue.Marshal(j)
}

// UnmarshalJSON decodes a, setting Enabled to true when "enabled" is absent.
func (a *Alias) UnmarshalJSON(b []byte) error {
	j := aliasJSON{Enabled: true}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*a = Alias(j)
	return nil
}

// Clone returns a deep copy of a.
func (a *Alias) Clone() *Alias {
	if a == nil {
		return nil
	}
	c := *a
	c.Policy = *a.Policy.Clone()
	c.Stickiness = a.Stickiness.Clone()
	c.Metadata = jsonvalue.Clone(a.Metadata)
	return &c
}

// Validate checks every field a caller supplies (key, name, description,
// policy, stickiness, metadata) and returns all problems at once. It does not
// check that the policy's agents exist; only the router knows them. It may
// normalise Metadata (numbers become float64, as JSON would make them).
func (a *Alias) Validate() error {
	var errs validate.Errors
	if !keys.Valid(a.Key) {
		errs.Add("key", keys.Message)
	}
	checkName(&errs, "name", a.Name, true)
	checkDescription(&errs, "description", a.Description)
	if err := a.Policy.Validate(); err != nil {
		errs.MergeErr("policy", err)
	}
	if a.Stickiness != nil {
		if err := a.Stickiness.Validate(); err != nil {
			errs.MergeErr("stickiness", err)
		}
	}
	if m, err := CheckMetadata(a.Metadata); err != nil {
		errs.Add("metadata", err.Error())
	} else {
		a.Metadata = m
	}
	return errs.Err()
}

// ValidKey reports whether key is a valid alias key: 1-50 characters from
// [0-9a-zA-Z_-].
func ValidKey(key string) bool { return keys.Valid(key) }

// Patch is a partial update of an alias (the contract's
// UpdateAgentAliasRequest). A nil field is left unchanged.
type Patch struct {
	// Name, if not nil, replaces the name.
	Name *string
	// Description, if not nil, replaces the description; "" clears it.
	Description *string
	// Enabled, if not nil, enables or disables the alias.
	Enabled *bool
	// Metadata, if not nil, replaces the metadata whole; an empty map clears it.
	Metadata map[string]any
}

// IsZero reports whether p changes nothing.
func (p Patch) IsZero() bool {
	return p.Name == nil && p.Description == nil && p.Enabled == nil && p.Metadata == nil
}

// UnmarshalJSON decodes the contract's UpdateAgentAliasRequest strictly:
// unknown fields, wrong types and null name or enabled are errors naming the
// field. Null description or metadata clears the field.
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
			if null {
				errs.Add(name, "must not be null")
				continue
			}
			out.Name = new(string)
			jsonvalue.Decode(&errs, name, raw, out.Name, "must be a string")
		case "description":
			out.Description = new(string)
			if !null {
				jsonvalue.Decode(&errs, name, raw, out.Description, "must be a string")
			}
		case "enabled":
			if null {
				errs.Add(name, "must not be null")
				continue
			}
			out.Enabled = new(bool)
			jsonvalue.Decode(&errs, name, raw, out.Enabled, "must be a boolean")
		case "metadata":
			out.Metadata = map[string]any{}
			if !null {
				jsonvalue.Decode(&errs, name, raw, &out.Metadata, "must be a JSON object")
			}
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

// MarshalJSON encodes p with only the fields it changes.
func (p Patch) MarshalJSON() ([]byte, error) {
	var md *map[string]any
	if p.Metadata != nil {
		md = &p.Metadata
	}
	return jsonvalue.Marshal(struct {
		Name        *string         `json:"name,omitempty"`
		Description *string         `json:"description,omitempty"`
		Enabled     *bool           `json:"enabled,omitempty"`
		Metadata    *map[string]any `json:"metadata,omitempty"`
	}{p.Name, p.Description, p.Enabled, md})
}

// Validate checks the fields p sets. It may normalise Metadata.
func (p *Patch) Validate() error {
	var errs validate.Errors
	if p.Name != nil {
		checkName(&errs, "name", *p.Name, true)
	}
	if p.Description != nil {
		checkDescription(&errs, "description", *p.Description)
	}
	if p.Metadata != nil {
		if m, err := CheckMetadata(p.Metadata); err != nil {
			errs.Add("metadata", err.Error())
		} else {
			p.Metadata = m
		}
	}
	return errs.Err()
}

// Apply returns a copy of a with p applied and UpdatedAt set to now. It does
// not validate p and does not change Revision.
func (p Patch) Apply(a *Alias, now time.Time) *Alias {
	c := a.Clone()
	if p.Name != nil {
		c.Name = *p.Name
	}
	if p.Description != nil {
		c.Description = *p.Description
	}
	if p.Enabled != nil {
		c.Enabled = *p.Enabled
	}
	if p.Metadata != nil {
		c.Metadata = jsonvalue.Clone(p.Metadata)
	}
	c.UpdatedAt = now
	return c
}

// CheckMetadata returns a normalised deep copy of m, or an error if m holds
// something that is not JSON or encodes to more than MaxMetadataBytes. A nil
// m is valid and yields nil.
func CheckMetadata(m map[string]any) (map[string]any, error) {
	return jsonvalue.Metadata(m, MaxMetadataBytes)
}

func checkName(errs *validate.Errors, path, name string, required bool) {
	switch {
	case name == "" && required:
		errs.Add(path, "is required")
	case !utf8.ValidString(name):
		errs.Add(path, "must be valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameLen:
		errs.Addf(path, "must be at most %d characters", MaxNameLen)
	}
}

func checkDescription(errs *validate.Errors, path, s string) {
	switch {
	case !utf8.ValidString(s):
		errs.Add(path, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > MaxDescriptionLen:
		errs.Addf(path, "must be at most %d characters", MaxDescriptionLen)
	}
}
