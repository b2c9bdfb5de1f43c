package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/pgstore"
	"github.com/agentalias/agentalias/storage/storagetest"
)

// dsnEnv names the environment variable holding the test database's DSN.
const dsnEnv = "AGENTALIAS_PG_DSN"

var (
	poolOnce sync.Once
	pool     *pgxpool.Pool
	poolErr  error
)

// testDSN returns the DSN of the test database, or skips t saying how to
// provide one.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		t.Skipf("%s is not set: these tests need a PostgreSQL server; set it to a DSN such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable", dsnEnv)
	}
	return dsn
}

// testPool returns the pool every test shares.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := testDSN(t)
	poolOnce.Do(func() {
		pool, poolErr = pgxpool.New(context.Background(), dsn)
		if poolErr == nil {
			poolErr = pool.Ping(context.Background())
		}
	})
	if poolErr != nil {
		t.Fatalf("connect to %s=%q: %v", dsnEnv, dsn, poolErr)
	}
	return pool
}

// newSchema returns the name of a fresh schema that t's cleanup drops.
func newSchema(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	name := "agentalias_test_" + hex.EncodeToString(b)
	p := testPool(t)
	t.Cleanup(func() {
		if _, err := p.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// newStore returns a store on the shared pool in a fresh schema.
func newStore(t testing.TB) *pgstore.Store {
	t.Helper()
	st, err := pgstore.New(context.Background(), testPool(t), &pgstore.Options{Schema: newSchema(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestConformance runs the suite on stores that own their pools (Open), as
// a host's would; TestConformanceSharedPool on stores sharing one (New).
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		st, err := pgstore.Open(context.Background(), testDSN(t), &pgstore.Options{Schema: newSchema(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func TestConformanceSharedPool(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return newStore(t) })
}
