package pgstore_test

import (
	"context"
	"log"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/storage/pgstore"
)

// Open a store on a PostgreSQL database and route through it. Every replica
// of the host service does the same with the same DSN, and they share one
// state. (This example is compiled, not run: it needs a server.)
func ExampleOpen() {
	ctx := context.Background()
	st, err := pgstore.Open(ctx, "postgres://app@db.internal:5432/app?pool_max_conns=20", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	router, err := agentalias.New(st, &agentalias.Options{
		Agents: map[string]agentalias.Agent{ /* the host's agents */ },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer router.Close()
}
