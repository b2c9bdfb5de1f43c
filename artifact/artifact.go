// Package artifact defines the files of a session: made by its agent during a
// turn or uploaded by a user, with a checksum, metadata and an optional
// time-to-live.
//
// # JSON
//
// Artifact encodes to the REST contract's SessionArtifact. Data, the content,
// is encoded (base64) only when set; stores leave it out of every list and
// fill it only when one artifact is read by id.
//
// # Identifiers
//
// Artifact ids match ^art_[a-z0-9_-]+$ (lowercase only); NewID builds one.
package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentalias/agentalias/internal/jsonvalue"
	"github.com/agentalias/agentalias/internal/keys"
	"github.com/agentalias/agentalias/internal/validate"
)

// Limits on the fields of an artifact. The size of the content is limited by
// the router's configuration, not here.
const (
	MaxFilenameLen    = 255
	MaxMimeTypeLen    = 255
	MaxDescriptionLen = 10000
	MaxMetadataBytes  = 64 << 10
	// MaxTTLDays is the largest time-to-live: 100 years.
	MaxTTLDays = 36525
)

// Artifact is one file of a session.
//
// Artifact is a plain value: stores copy it on the way in and out, and Clone
// makes a deep copy.
type Artifact struct {
	// ID identifies the artifact within its session.
	ID string `json:"artifact_id"`

	// SessionKey is the session the artifact belongs to. It is not part of
	// the JSON; the URL names the session.
	SessionKey string `json:"-"`

	Filename       string         `json:"filename"`
	MimeType       string         `json:"mime_type"`
	SizeBytes      int64          `json:"size_bytes"`
	ChecksumSHA256 string         `json:"checksum_sha256"` // hex SHA-256 of Data
	Metadata       map[string]any `json:"metadata"`        // {} when nil
	Description    string         `json:"description,omitempty"`

	// TTLDays is the number of days after creation the artifact expires;
	// 0 means never.
	TTLDays int64 `json:"ttl_days,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// Data is the content. It is set on the artifact given to a store and on
	// the one a single read returns, and nil in lists.
	Data []byte `json:"data,omitzero"`

	// ExpiresAt is CreatedAt plus TTLDays, or zero for never. It is not part
	// of the JSON. An artifact whose ExpiresAt is not after the current time
	// is expired: invisible to readers, and removed by a sweep.
	ExpiresAt time.Time `json:"-"`
}

type artifactJSON Artifact

// MarshalJSON encodes a in the contract's shape.
func (a Artifact) MarshalJSON() ([]byte, error) {
	j := artifactJSON(a)
	if j.Metadata == nil {
		j.Metadata = map[string]any{}
	}
	j.CreatedAt = j.CreatedAt.UTC()
	j.UpdatedAt = j.UpdatedAt.UTC()
	return jsonvalue.Marshal(j)
}

// Clone returns a deep copy of a, content included.
func (a *Artifact) Clone() *Artifact {
	if a == nil {
		return nil
	}
	c := *a
	c.Metadata = jsonvalue.Clone(a.Metadata)
	if a.Data != nil {
		c.Data = append([]byte{}, a.Data...)
	}
	return &c
}

// WithoutData returns a deep copy of a without its content.
func (a *Artifact) WithoutData() *Artifact {
	if a == nil {
		return nil
	}
	c := *a
	c.Data = nil
	c.Metadata = jsonvalue.Clone(a.Metadata)
	return &c
}

// Expired reports whether a has expired at now.
func (a *Artifact) Expired(now time.Time) bool {
	return !a.ExpiresAt.IsZero() && !a.ExpiresAt.After(now)
}

// Checksum returns the hex SHA-256 of data, as ChecksumSHA256 holds it.
func Checksum(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Verify reports whether a's Data matches its SizeBytes and ChecksumSHA256.
func (a *Artifact) Verify() bool {
	return int64(len(a.Data)) == a.SizeBytes && Checksum(a.Data) == a.ChecksumSHA256
}

// NewID returns an artifact id made of "art_" and token lower-cased; token
// must consist of [0-9a-zA-Z_-].
func NewID(token string) string { return "art_" + strings.ToLower(token) }

// ValidID reports whether id is a valid artifact id: "art_" followed by at
// least one character from [a-z0-9_-], at most 200 bytes in all.
func ValidID(id string) bool { return keys.ValidID(id, "art_", true) }

// Validate checks a before it is stored: id, session key, filename, MIME
// type, description, metadata, TTL, and that SizeBytes and ChecksumSHA256
// match Data. It may normalise Metadata.
func (a *Artifact) Validate() error {
	var errs validate.Errors
	if !ValidID(a.ID) {
		errs.Add("artifact_id", "must match ^art_[a-z0-9_-]+$")
	}
	if !keys.Valid(a.SessionKey) {
		errs.Add("session_key", keys.Message)
	}
	switch {
	case a.Filename == "":
		errs.Add("filename", "is required")
	case len(a.Filename) > MaxFilenameLen || !utf8.ValidString(a.Filename):
		errs.Addf("filename", "must be valid UTF-8 of at most %d bytes", MaxFilenameLen)
	case strings.ContainsAny(a.Filename, "/\\\x00"):
		errs.Add("filename", "must not contain /, \\ or NUL")
	}
	switch {
	case a.MimeType == "":
		errs.Add("mime_type", "is required")
	case len(a.MimeType) > MaxMimeTypeLen || !strings.Contains(a.MimeType, "/"):
		errs.Add("mime_type", "must be a MIME type such as text/plain")
	}
	if utf8.RuneCountInString(a.Description) > MaxDescriptionLen || !utf8.ValidString(a.Description) {
		errs.Addf("description", "must be valid UTF-8 of at most %d characters", MaxDescriptionLen)
	}
	if a.TTLDays < 0 || a.TTLDays > MaxTTLDays {
		errs.Addf("ttl_days", "must be between 0 and %d", MaxTTLDays)
	}
	if m, err := jsonvalue.Metadata(a.Metadata, MaxMetadataBytes); err != nil {
		errs.Add("metadata", err.Error())
	} else {
		a.Metadata = m
	}
	if a.SizeBytes != int64(len(a.Data)) {
		errs.Add("size_bytes", "must equal the length of the content")
	}
	if a.ChecksumSHA256 != Checksum(a.Data) {
		errs.Add("checksum_sha256", "must be the hex SHA-256 of the content")
	}
	return errs.Err()
}
