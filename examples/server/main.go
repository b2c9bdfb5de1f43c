// Command server serves the agentalias REST API (Vectara's
// /v2/agent_aliases contract) on 127.0.0.1:8080, with a bbolt file and demo
// agents that answer each input with their own name.
//
//	go run ./examples/server                      # agentalias.db, agents support-v1,support-v2
//	go run ./examples/server -db :memory:         # in-memory store
//	go run ./examples/server -addr 127.0.0.1:9090 -agents a,b,c
//	go run ./examples/server -db postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//
// With a postgres:// (or postgresql://) DSN the state lives in PostgreSQL
// (storage/pgstore, in the schema -schema names), so several servers, on
// other ports or machines, can serve one state:
//
//	go run ./examples/server -db postgres://... -addr 127.0.0.1:8080 &
//	go run ./examples/server -db postgres://... -addr 127.0.0.1:8081 &
//
// The command is its own Go module, so that the core module does not
// require pgx; the repository's go.work lets it run from the repository
// root.
//
// A demo agent answers a text input "/artifact NAME" by also saving a small
// text artifact named NAME. SIGINT or SIGTERM shuts the server down
// gracefully and closes the store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/httpapi"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/boltstore"
	"github.com/agentalias/agentalias/storage/memstore"
	"github.com/agentalias/agentalias/storage/pgstore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	db := flag.String("db", "agentalias.db", `bbolt file, ":memory:" for the in-memory store, or a postgres:// DSN`)
	schema := flag.String("schema", pgstore.DefaultSchema, "PostgreSQL schema holding the tables, with a postgres:// -db")
	agents := flag.String("agents", "support-v1,support-v2", "comma-separated keys of the demo agents to register")
	flag.Parse()
	if err := run(*addr, *db, *schema, strings.Split(*agents, ",")); err != nil {
		log.Fatal(err)
	}
}

func run(addr, db, schema string, agentKeys []string) error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	store, desc, err := openStore(db, schema)
	if err != nil {
		return err
	}
	defer store.Close()

	agents := map[string]agentalias.Agent{}
	for _, k := range agentKeys {
		if k = strings.TrimSpace(k); k != "" {
			agents[k] = demoAgent{key: k}
		}
	}
	router, err := agentalias.New(store, &agentalias.Options{Agents: agents, Logger: logger})
	if err != nil {
		return err
	}
	defer router.Close()
	handler, err := httpapi.NewHandler(router, &httpapi.Options{Logger: logger})
	if err != nil {
		return err
	}

	srv := &http.Server{Addr: addr, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()

	fmt.Printf("agentalias: serving the REST API on http://%s (store %s, agents %s)\n", addr, desc, strings.Join(router.Agents(), ", "))
	fmt.Printf("try:\n  curl -s http://%s/v2/agent_aliases\n", addr)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Println("agentalias: shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// openStore opens the store db names, and describes it for the log without
// the password a DSN may hold.
func openStore(db, schema string) (storage.Storage, string, error) {
	switch {
	case db == ":memory:":
		return memstore.New(), "in memory", nil
	case strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://"):
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := pgstore.Open(ctx, db, &pgstore.Options{Schema: schema})
		if err != nil {
			return nil, "", err
		}
		desc := "PostgreSQL"
		if u, err := url.Parse(db); err == nil {
			desc = fmt.Sprintf("PostgreSQL %s, schema %s", u.Redacted(), schema)
		}
		return s, desc, nil
	default:
		s, err := boltstore.Open(db, nil)
		if err != nil {
			return nil, "", err
		}
		return s, db, nil
	}
}

// demoAgent answers each text input with a reply naming itself, so a client
// can see which agent an alias routed to.
type demoAgent struct{ key string }

func (a demoAgent) Run(ctx context.Context, t *agentalias.Turn) error {
	for _, m := range t.Input.Messages {
		if m.Type != event.InputText {
			continue
		}
		if name, ok := strings.CutPrefix(strings.TrimSpace(m.Content), "/artifact "); ok {
			name = strings.TrimSpace(name)
			_, err := t.SaveArtifact(agentalias.ArtifactParams{
				Filename: name, MimeType: "text/plain",
				Data: []byte(fmt.Sprintf("Artifact %s, made by %s.\n", name, a.key)),
			})
			if err != nil {
				return t.Reply(fmt.Sprintf("%s could not save %q: %v", a.key, name, agentalias.ErrorMessage(err)))
			}
		}
		if err := t.Reply(fmt.Sprintf("%s here. You said: %s", a.key, m.Content)); err != nil {
			return err
		}
	}
	return nil
}
