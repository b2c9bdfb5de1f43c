package alias

import (
	"time"

	"github.com/agentalias/agentalias/internal/jsonvalue"
	"github.com/agentalias/agentalias/internal/validate"
	"github.com/agentalias/agentalias/policy"
)

// Params are what a caller supplies to create an alias: the contract's
// CreateAgentAliasRequest, plus our stickiness extension. Enabled is a
// pointer so that leaving it out means the contract's default, true.
type Params struct {
	Key         string
	Name        string
	Description string
	Policy      policy.Document
	Stickiness  *policy.Stickiness
	Enabled     *bool // nil means true
	Metadata    map[string]any
}

// New returns the alias p describes, created at now, without validating it.
func (p *Params) New(now time.Time) *Alias {
	enabled := p.Enabled == nil || *p.Enabled
	return &Alias{
		Key:         p.Key,
		Name:        p.Name,
		Description: p.Description,
		Policy:      *p.Policy.Clone(),
		Stickiness:  p.Stickiness.Clone(),
		Enabled:     enabled,
		Metadata:    jsonvalue.Clone(p.Metadata),
		CreatedAt:   now,
	}
}

// UnmarshalJSON decodes a CreateAgentAliasRequest strictly: unknown fields,
// wrong types and a missing key, name or policy are errors naming the field
// (policy errors are prefixed "policy.", stickiness errors "stickiness.").
func (p *Params) UnmarshalJSON(b []byte) error {
	fields, names, err := jsonvalue.Fields(b)
	if err != nil {
		return err
	}
	var errs validate.Errors
	var out Params
	for _, name := range names {
		raw := fields[name]
		null := jsonvalue.IsNull(raw)
		switch name {
		case "key":
			jsonvalue.Decode(&errs, name, raw, &out.Key, "must be a string")
		case "name":
			jsonvalue.Decode(&errs, name, raw, &out.Name, "must be a string")
		case "description":
			if !null {
				jsonvalue.Decode(&errs, name, raw, &out.Description, "must be a string")
			}
		case "policy":
			errs.MergeErr(name, out.Policy.UnmarshalJSON(raw))
		case "stickiness":
			if !null {
				out.Stickiness = new(policy.Stickiness)
				errs.MergeErr(name, out.Stickiness.UnmarshalJSON(raw))
			}
		case "enabled":
			if !null {
				out.Enabled = new(bool)
				jsonvalue.Decode(&errs, name, raw, out.Enabled, "must be a boolean")
			}
		case "metadata":
			if !null {
				jsonvalue.Decode(&errs, name, raw, &out.Metadata, "must be a JSON object")
			}
		default:
			errs.Add(name, "unknown field")
		}
	}
	for _, req := range []string{"key", "name", "policy"} {
		if _, ok := fields[req]; !ok {
			errs.Add(req, "is required")
		}
	}
	if err := errs.Err(); err != nil {
		return err
	}
	*p = out
	return nil
}
