package boltstore_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/session"

	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/boltstore"
	"github.com/agentalias/agentalias/storage/storagetest"
)

// mustOpen opens a store in a new file in t's temporary directory and closes
// it when the test ends.
func mustOpen(tb testing.TB, opts *boltstore.Options) *boltstore.Store {
	tb.Helper()
	s, err := boltstore.Open(filepath.Join(tb.TempDir(), "agentalias.db"), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		return mustOpen(t, &boltstore.Options{NoSync: true})
	})
}

// TestCreateArtifact_SizeLimit checks that content over
// Options.MaxArtifactBytes is refused with storage.ErrInvalid and nothing is
// stored, while content at the limit is accepted.
func TestCreateArtifact_SizeLimit(t *testing.T) {
	st := mustOpen(t, &boltstore.Options{NoSync: true, MaxArtifactBytes: 1024})
	ctx := t.Context()
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	if _, err := st.CreateSession(ctx, "", &session.Session{Key: "s1", AgentKey: "a1", Name: "s1", Enabled: true, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	art := func(id string, n int) *artifact.Artifact {
		data := make([]byte, n)
		return &artifact.Artifact{ID: id, SessionKey: "s1", Filename: "f.bin", MimeType: "application/octet-stream",
			Data: data, SizeBytes: int64(n), ChecksumSHA256: artifact.Checksum(data), CreatedAt: now, UpdatedAt: now}
	}
	if err := st.CreateArtifact(ctx, "", art("art_big", 1025)); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("CreateArtifact(1025 bytes) = %v, want ErrInvalid", err)
	}
	if _, err := st.Artifact(ctx, "", "s1", "art_big"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("refused artifact was stored: Artifact = %v", err)
	}
	if err := st.CreateArtifact(ctx, "", art("art_max", 1024)); err != nil {
		t.Fatalf("CreateArtifact(1024 bytes) = %v", err)
	}
	got, err := st.Artifact(ctx, "", "s1", "art_max")
	if err != nil || len(got.Data) != 1024 || !got.Verify() {
		t.Fatalf("Artifact(art_max) = %v, %v", got, err)
	}
}
