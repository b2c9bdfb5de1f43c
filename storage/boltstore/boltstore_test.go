package boltstore_test

import (
	"path/filepath"
	"testing"

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
