package artifact_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias/artifact"
)

// contractArtifact is the contract's SessionArtifact example
// (vectara-api.md §2.6). Its size and checksum do not match its data.
const contractArtifact = `{
  "artifact_id": "art_report_pdf_a3f2",
  "filename": "report.pdf",
  "mime_type": "application/pdf",
  "size_bytes": 2048576,
  "checksum_sha256": "a3f2b1c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2",
  "metadata": { "original_filename": "report.pdf", "source": "user_upload" },
  "description": "Q4 financial report",
  "ttl_days": 30,
  "created_at": "2024-01-15T10:35:00Z",
  "updated_at": "2024-01-15T10:35:00Z",
  "data": "JVBERi0xLjQKJeLjz9MKMy4uLg=="
}`

var created = time.Date(2024, 1, 15, 10, 35, 0, 0, time.UTC)

func contractValue(t *testing.T) *artifact.Artifact {
	t.Helper()
	data, err := base64.StdEncoding.DecodeString("JVBERi0xLjQKJeLjz9MKMy4uLg==")
	if err != nil {
		t.Fatal(err)
	}
	return &artifact.Artifact{
		ID:             "art_report_pdf_a3f2",
		Filename:       "report.pdf",
		MimeType:       "application/pdf",
		SizeBytes:      2048576,
		ChecksumSHA256: "a3f2b1c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2",
		Metadata:       map[string]any{"original_filename": "report.pdf", "source": "user_upload"},
		Description:    "Q4 financial report",
		TTLDays:        30,
		CreatedAt:      created,
		UpdatedAt:      created,
		Data:           data,
	}
}

// valid returns a valid artifact holding "hello".
func valid() *artifact.Artifact {
	data := []byte("hello")
	return &artifact.Artifact{
		ID:             "art_greeting_txt",
		SessionKey:     "chat-42",
		Filename:       "greeting.txt",
		MimeType:       "text/plain",
		SizeBytes:      int64(len(data)),
		ChecksumSHA256: artifact.Checksum(data),
		CreatedAt:      created,
		UpdatedAt:      created,
		Data:           data,
	}
}

func decodeAny(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", s, err)
	}
	return v
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%T): %v", v, err)
	}
	return string(b)
}

func fieldErrors(t *testing.T, err error) map[string]string {
	t.Helper()
	var fe interface{ FieldErrors() map[string]string }
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) has no FieldErrors method", err, err)
	}
	return fe.FieldErrors()
}

func TestChecksum(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{name: "Hello", in: []byte("hello"), want: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"},
		{name: "Empty", in: []byte{}, want: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{name: "Nil", in: nil, want: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{name: "ABC", in: []byte("abc"), want: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, artifact.Checksum(tt.in)); diff != "" {
				t.Errorf("Checksum(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestArtifact_Verify(t *testing.T) {
	tests := []struct {
		name string
		in   func(a *artifact.Artifact)
		want bool
	}{
		{name: "OK", in: func(a *artifact.Artifact) {}, want: true},
		{name: "SizeMismatch", in: func(a *artifact.Artifact) { a.SizeBytes = 4 }, want: false},
		{name: "ChecksumMismatch", in: func(a *artifact.Artifact) { a.ChecksumSHA256 = artifact.Checksum([]byte("hellO")) }, want: false},
		{name: "DataChanged", in: func(a *artifact.Artifact) { a.Data[0] = 'j' }, want: false},
		{name: "ChecksumEmpty", in: func(a *artifact.Artifact) { a.ChecksumSHA256 = "" }, want: false},
		{
			name: "EmptyContent",
			in: func(a *artifact.Artifact) {
				a.Data, a.SizeBytes, a.ChecksumSHA256 = nil, 0, artifact.Checksum(nil)
			},
			want: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := valid()
			tt.in(a)
			if diff := cmp.Diff(tt.want, a.Verify()); diff != "" {
				t.Errorf("Verify() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestArtifact_Validate(t *testing.T) {
	const idMsg = "must match ^art_[a-z0-9_-]+$"
	const fnMsg = "must not contain /, \\ or NUL"
	tests := []struct {
		name string
		in   func(a *artifact.Artifact)
		want map[string]string
	}{
		{name: "OK", in: func(a *artifact.Artifact) {}},
		{name: "Metadata", in: func(a *artifact.Artifact) { a.Metadata = map[string]any{"source": "user_upload", "n": 1} }},
		{name: "TTLMax", in: func(a *artifact.Artifact) { a.TTLDays = artifact.MaxTTLDays }},
		{name: "Filename255", in: func(a *artifact.Artifact) { a.Filename = strings.Repeat("f", 255) }},
		{name: "FilenameUnicode", in: func(a *artifact.Artifact) { a.Filename = "r\u00e9sum\u00e9 (final).pdf" }},
		{name: "EmptyContent", in: func(a *artifact.Artifact) { a.Data, a.SizeBytes, a.ChecksumSHA256 = nil, 0, artifact.Checksum(nil) }},
		{name: "IDUppercase", in: func(a *artifact.Artifact) { a.ID = "art_Greeting" }, want: map[string]string{"artifact_id": idMsg}},
		{name: "IDWrongPrefix", in: func(a *artifact.Artifact) { a.ID = "aev_greeting" }, want: map[string]string{"artifact_id": idMsg}},
		{name: "IDPrefixOnly", in: func(a *artifact.Artifact) { a.ID = "art_" }, want: map[string]string{"artifact_id": idMsg}},
		{name: "IDEmpty", in: func(a *artifact.Artifact) { a.ID = "" }, want: map[string]string{"artifact_id": idMsg}},
		{name: "IDDot", in: func(a *artifact.Artifact) { a.ID = "art_a.txt" }, want: map[string]string{"artifact_id": idMsg}},
		{
			name: "SessionKeyEmpty", in: func(a *artifact.Artifact) { a.SessionKey = "" },
			want: map[string]string{"session_key": "must match ^[0-9a-zA-Z_-]+$ and be 1-50 characters"},
		},
		{name: "FilenameEmpty", in: func(a *artifact.Artifact) { a.Filename = "" }, want: map[string]string{"filename": "is required"}},
		{name: "FilenameSlash", in: func(a *artifact.Artifact) { a.Filename = "dir/report.pdf" }, want: map[string]string{"filename": fnMsg}},
		{name: "FilenameTraversal", in: func(a *artifact.Artifact) { a.Filename = "../etc/passwd" }, want: map[string]string{"filename": fnMsg}},
		{name: "FilenameBackslash", in: func(a *artifact.Artifact) { a.Filename = `dir\report.pdf` }, want: map[string]string{"filename": fnMsg}},
		{name: "FilenameNUL", in: func(a *artifact.Artifact) { a.Filename = "a\x00b" }, want: map[string]string{"filename": fnMsg}},
		{name: "Filename256", in: func(a *artifact.Artifact) { a.Filename = strings.Repeat("f", 256) }, want: map[string]string{"filename": "must be valid UTF-8 of at most 255 bytes"}},
		{name: "FilenameBadUTF8", in: func(a *artifact.Artifact) { a.Filename = "a\xffb" }, want: map[string]string{"filename": "must be valid UTF-8 of at most 255 bytes"}},
		{name: "MimeEmpty", in: func(a *artifact.Artifact) { a.MimeType = "" }, want: map[string]string{"mime_type": "is required"}},
		{name: "MimeNoSlash", in: func(a *artifact.Artifact) { a.MimeType = "text" }, want: map[string]string{"mime_type": "must be a MIME type such as text/plain"}},
		{name: "MimeTooLong", in: func(a *artifact.Artifact) { a.MimeType = "text/" + strings.Repeat("x", 251) }, want: map[string]string{"mime_type": "must be a MIME type such as text/plain"}},
		{
			name: "DescriptionTooLong", in: func(a *artifact.Artifact) { a.Description = strings.Repeat("d", 10001) },
			want: map[string]string{"description": "must be valid UTF-8 of at most 10000 characters"},
		},
		{name: "TTLNegative", in: func(a *artifact.Artifact) { a.TTLDays = -1 }, want: map[string]string{"ttl_days": "must be between 0 and 36525"}},
		{name: "TTLTooLarge", in: func(a *artifact.Artifact) { a.TTLDays = artifact.MaxTTLDays + 1 }, want: map[string]string{"ttl_days": "must be between 0 and 36525"}},
		{
			name: "MetadataChannel", in: func(a *artifact.Artifact) { a.Metadata = map[string]any{"c": make(chan int)} },
			want: map[string]string{"metadata": "must be a JSON object: chan int is not a JSON value"},
		},
		{
			name: "MetadataTooLarge", in: func(a *artifact.Artifact) {
				a.Metadata = map[string]any{"x": strings.Repeat("x", artifact.MaxMetadataBytes)}
			},
			want: map[string]string{"metadata": "must be at most 65536 bytes of JSON"},
		},
		{name: "SizeMismatch", in: func(a *artifact.Artifact) { a.SizeBytes = 6 }, want: map[string]string{"size_bytes": "must equal the length of the content"}},
		{
			name: "ChecksumMismatch", in: func(a *artifact.Artifact) { a.ChecksumSHA256 = artifact.Checksum([]byte("other")) },
			want: map[string]string{"checksum_sha256": "must be the hex SHA-256 of the content"},
		},
		{
			name: "ContentChanged", in: func(a *artifact.Artifact) { a.Data = []byte("jello!") },
			want: map[string]string{
				"size_bytes":      "must equal the length of the content",
				"checksum_sha256": "must be the hex SHA-256 of the content",
			},
		},
		{
			name: "Several",
			in: func(a *artifact.Artifact) {
				a.ID, a.Filename, a.MimeType = "ART_1", "a/b", ""
			},
			want: map[string]string{"artifact_id": idMsg, "filename": fnMsg, "mime_type": "is required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := valid()
			tt.in(a)
			err := a.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %v", tt.want)
			}
			if diff := cmp.Diff(tt.want, fieldErrors(t, err)); diff != "" {
				t.Errorf("FieldErrors() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestArtifact_ValidateNormalizesMetadata(t *testing.T) {
	a := valid()
	a.Metadata = map[string]any{"pages": 3}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"pages": 3.0}, a.Metadata); diff != "" {
		t.Errorf("Metadata (-want +got):\n%s", diff)
	}
}

func TestArtifact_MarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		in   func(t *testing.T) *artifact.Artifact
		want string
	}{
		{
			name: "ContractExample",
			in:   contractValue,
			want: contractArtifact,
		},
		{
			name: "WithoutDataForLists",
			in: func(t *testing.T) *artifact.Artifact {
				return contractValue(t).WithoutData()
			},
			want: `{"artifact_id":"art_report_pdf_a3f2","filename":"report.pdf","mime_type":"application/pdf","size_bytes":2048576,
			 "checksum_sha256":"a3f2b1c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2",
			 "metadata":{"original_filename":"report.pdf","source":"user_upload"},"description":"Q4 financial report","ttl_days":30,
			 "created_at":"2024-01-15T10:35:00Z","updated_at":"2024-01-15T10:35:00Z"}`,
		},
		{
			name: "MinimalMetadataEmptyObject",
			in: func(t *testing.T) *artifact.Artifact {
				a := valid()
				a.Data = nil
				a.ExpiresAt = created.Add(time.Hour)
				return a
			},
			want: `{"artifact_id":"art_greeting_txt","filename":"greeting.txt","mime_type":"text/plain","size_bytes":5,
			 "checksum_sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","metadata":{},
			 "created_at":"2024-01-15T10:35:00Z","updated_at":"2024-01-15T10:35:00Z"}`,
		},
		{
			name: "DataBase64",
			in: func(t *testing.T) *artifact.Artifact {
				a := valid()
				loc := time.FixedZone("PST", -8*3600)
				a.CreatedAt = created.In(loc)
				a.UpdatedAt = created.Add(time.Minute).In(loc)
				return a
			},
			want: `{"artifact_id":"art_greeting_txt","filename":"greeting.txt","mime_type":"text/plain","size_bytes":5,
			 "checksum_sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","metadata":{},
			 "created_at":"2024-01-15T10:35:00Z","updated_at":"2024-01-15T10:36:00Z","data":"aGVsbG8="}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustMarshal(t, tt.in(t))
			if diff := cmp.Diff(decodeAny(t, tt.want), decodeAny(t, got)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s\ngot: %s", diff, got)
			}
		})
	}
}

func TestArtifact_UnmarshalJSON(t *testing.T) {
	var got artifact.Artifact
	if err := json.Unmarshal([]byte(contractArtifact), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(contractValue(t), &got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	// And back.
	if diff := cmp.Diff(decodeAny(t, contractArtifact), decodeAny(t, mustMarshal(t, got))); diff != "" {
		t.Errorf("re-encoded (-want +got):\n%s", diff)
	}
}

func TestArtifact_Clone(t *testing.T) {
	if got := (*artifact.Artifact)(nil).Clone(); got != nil {
		t.Errorf("nil.Clone() = %v, want nil", got)
	}
	newArtifact := func() *artifact.Artifact {
		a := valid()
		a.Metadata = map[string]any{"m": map[string]any{"k": "v"}, "l": []any{"x"}}
		return a
	}
	orig := newArtifact()
	c := orig.Clone()
	if diff := cmp.Diff(orig, c); diff != "" {
		t.Fatalf("Clone() differs (-orig +clone):\n%s", diff)
	}
	c.Data[0] = 'J'
	c.Metadata["m"].(map[string]any)["k"] = "changed"
	c.Metadata["l"].([]any)[0] = "changed"
	c.Metadata["new"] = true
	if diff := cmp.Diff(newArtifact(), orig); diff != "" {
		t.Errorf("original changed through the clone (-want +got):\n%s", diff)
	}
	if !orig.Verify() {
		t.Error("original no longer verifies after changing the clone's data")
	}
}

func TestArtifact_WithoutData(t *testing.T) {
	newArtifact := func() *artifact.Artifact {
		a := valid()
		a.Metadata = map[string]any{"m": map[string]any{"k": "v"}}
		return a
	}
	orig := newArtifact()
	c := orig.WithoutData()
	want := newArtifact()
	want.Data = nil
	if diff := cmp.Diff(want, c); diff != "" {
		t.Fatalf("WithoutData() (-want +got):\n%s", diff)
	}
	c.Metadata["m"].(map[string]any)["k"] = "changed"
	c.Metadata["new"] = true
	if diff := cmp.Diff(newArtifact(), orig); diff != "" {
		t.Errorf("original changed through WithoutData's result (-want +got):\n%s", diff)
	}
}

func TestArtifact_Expired(t *testing.T) {
	now := time.Date(2026, 6, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   time.Time
		want bool
	}{
		{name: "Never", in: time.Time{}, want: false},
		{name: "Future", in: now.Add(time.Second), want: false},
		{name: "Now", in: now, want: true},
		{name: "Past", in: now.Add(-time.Second), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &artifact.Artifact{ExpiresAt: tt.in}
			if diff := cmp.Diff(tt.want, a.Expired(now)); diff != "" {
				t.Errorf("Expired() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewIDAndValidID(t *testing.T) {
	if diff := cmp.Diff("art_report_pdf_a3f2", artifact.NewID("Report_PDF_a3F2")); diff != "" {
		t.Errorf("NewID (-want +got):\n%s", diff)
	}
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "ContractExample", in: "art_report_pdf_a3f2", want: true},
		{name: "NewID", in: artifact.NewID("ABC-def_9"), want: true},
		{name: "Dash", in: "art_a-b", want: true},
		{name: "Uppercase", in: "art_Report", want: false},
		{name: "UppercasePrefix", in: "ART_report", want: false},
		{name: "PrefixOnly", in: "art_", want: false},
		{name: "Empty", in: "", want: false},
		{name: "Slash", in: "art_a/b", want: false},
		{name: "TooLong", in: "art_" + strings.Repeat("a", 197), want: false},
		{name: "Max", in: "art_" + strings.Repeat("a", 196), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, artifact.ValidID(tt.in)); diff != "" {
				t.Errorf("ValidID(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
