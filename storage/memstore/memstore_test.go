package memstore_test

import (
	"testing"

	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/memstore"
	"github.com/agentalias/agentalias/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		s := memstore.New()
		t.Cleanup(func() { s.Close() })
		return s
	})
}
