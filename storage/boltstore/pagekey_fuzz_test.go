package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/agentalias/agentalias/storage/boltstore"
	"github.com/agentalias/agentalias/storage/storagetest"
)

// FuzzPageKey lists a small populated bbolt store with fuzzed page keys and
// limits. A list must not panic; it either fails with ErrInvalid (always,
// for a limit above MaxLimit) or returns a valid page: at most limit items,
// a run of the full list in its order, exactly limit items when a next page
// key is given (and that key continues the run), and the rest of the list
// when none is.
func FuzzPageKey(f *testing.F) {
	st, err := boltstore.Open(filepath.Join(f.TempDir(), "agentalias.db"), &boltstore.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	storagetest.FuzzPageKeys(f, st)
}
