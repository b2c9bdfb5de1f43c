// Command server serves the agentalias REST API (Vectara's
// /v2/agent_aliases contract) on 127.0.0.1:8080, with a bbolt file and demo
// agents that answer each input with their own name.
//
//	go run ./examples/server                      # agentalias.db, agents support-v1,support-v2
//	go run ./examples/server -db :memory:         # in-memory store
//	go run ./examples/server -addr 127.0.0.1:9090 -agents a,b,c
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
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	db := flag.String("db", "agentalias.db", `bbolt file, or ":memory:" for the in-memory store`)
	agents := flag.String("agents", "support-v1,support-v2", "comma-separated keys of the demo agents to register")
	flag.Parse()
	if err := run(*addr, *db, strings.Split(*agents, ",")); err != nil {
		log.Fatal(err)
	}
}

func run(addr, db string, agentKeys []string) error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	var store storage.Storage
	if db == ":memory:" {
		store = memstore.New()
	} else {
		s, err := boltstore.Open(db, nil)
		if err != nil {
			return err
		}
		store = s
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

	fmt.Printf("agentalias: serving the REST API on http://%s (store %s, agents %s)\n", addr, db, strings.Join(router.Agents(), ", "))
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
