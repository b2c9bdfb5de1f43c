package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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

// TestMain refuses to run without a PostgreSQL server to test against,
// saying how to name one, rather than skip every test and pass; and it drops
// the schemas the listing benchmarks filled.
func TestMain(m *testing.M) {
	if os.Getenv(dsnEnv) == "" {
		fmt.Fprintf(os.Stderr, "pgstore: %s is not set. These tests need a PostgreSQL server: set it to a DSN such as\n"+
			"    %s='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'\n"+
			"The user needs to create schemas (and, for TestCollation, databases).\n", dsnEnv, dsnEnv)
		os.Exit(2)
	}
	code := m.Run()
	for _, s := range filledSchemas {
		if _, err := filledPool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+s+" CASCADE"); err != nil {
			fmt.Fprintf(os.Stderr, "drop schema %s: %v\n", s, err)
			code = 1
		}
	}
	os.Exit(code)
}

// testDSN returns the DSN of the test database (TestMain made sure there is
// one).
func testDSN(t testing.TB) string {
	t.Helper()
	return os.Getenv(dsnEnv)
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
