package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// These tests build the server and run it as a child process, the way the
// README runs it.

// buildServer builds the command into a temporary directory.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// server is a running server process.
type server struct {
	addr string
	cmd  *exec.Cmd
	out  *bytes.Buffer
}

// start runs the server with args on a free address and waits until it
// answers.
func start(t *testing.T, bin string, args ...string) *server {
	t.Helper()
	s := &server{addr: freeAddr(t), out: &bytes.Buffer{}}
	s.cmd = exec.Command(bin, append([]string{"-addr", s.addr}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + s.addr + "/v2/agent_aliases")
		if err == nil {
			resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("server on %s did not answer: %v\n%s", s.addr, err, s.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop stops the server with SIGTERM and waits for it to exit cleanly.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("server on %s exited with %v\n%s", s.addr, err, s.out)
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-done
		t.Errorf("server on %s did not stop on SIGTERM\n%s", s.addr, s.out)
	}
}

// call sends a request with a JSON body (nil: none) and decodes the JSON
// answer, failing the test unless the status is want.
func (s *server) call(t *testing.T, method, path string, body any, want int) map[string]any {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+s.addr+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s on %s: %d %s; want %d", method, path, s.addr, resp.StatusCode, raw, want)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return out
}

func single(agent string) map[string]any {
	return map[string]any{"type": "routed", "rules": []any{
		map[string]any{"targets": map[string]any{"type": "single", "agent_key": agent}},
	}}
}

// TestBolt runs the default command (a bbolt file), stops it, and starts it
// again on the same file: the state is still there.
func TestBolt(t *testing.T) {
	bin := buildServer(t)
	db := filepath.Join(t.TempDir(), "agentalias.db")
	a := start(t, bin, "-db", db)
	a.call(t, "POST", "/v2/agent_aliases", map[string]any{"key": "support", "name": "Support", "policy": single("support-v1")}, 201)
	a.call(t, "POST", "/v2/agent_aliases/support/sessions", map[string]any{"key": "chat-1"}, 201)
	a.stop(t)

	b := start(t, bin, "-db", db)
	s := b.call(t, "GET", "/v2/agent_aliases/support/sessions/chat-1", nil, 200)
	if s["agent_key"] != "support-v1" {
		t.Errorf("session after a restart: %v", s)
	}
}

// TestPostgresTwoServers runs two servers on two ports with one PostgreSQL
// database, and checks that they serve one state.
func TestPostgresTwoServers(t *testing.T) {
	dsn := os.Getenv("AGENTALIAS_PG_DSN")
	if dsn == "" {
		t.Fatal("AGENTALIAS_PG_DSN is not set: this test needs a PostgreSQL server; set it to a DSN such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "agentalias_server_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	bin := buildServer(t)
	one := start(t, bin, "-db", dsn, "-schema", schema)
	two := start(t, bin, "-db", dsn, "-schema", schema)

	// An alias made through one server is served by the other.
	one.call(t, "POST", "/v2/agent_aliases", map[string]any{"key": "support", "name": "Support", "policy": single("support-v1")}, 201)
	if a := two.call(t, "GET", "/v2/agent_aliases/support", nil, 200); a["name"] != "Support" {
		t.Errorf("alias through the second server: %v", a)
	}
	// A session created through the second server, talked to through the
	// first, lists its events through the second.
	two.call(t, "POST", "/v2/agent_aliases/support/sessions", map[string]any{"key": "chat-1"}, 201)
	one.call(t, "POST", "/v2/agent_aliases/support/sessions/chat-1/events", map[string]any{
		"type": "input_message", "messages": []any{map[string]any{"type": "text", "content": "Hello"}}}, 201)
	events := two.call(t, "GET", "/v2/agent_aliases/support/sessions/chat-1/events", nil, 200)
	if got := fmt.Sprint(events["events"]); !strings.Contains(got, "support-v1 here. You said: Hello") {
		t.Errorf("events through the second server: %s", got)
	}
	// A policy replaced through the second server routes the next session
	// created through the first.
	two.call(t, "PUT", "/v2/agent_aliases/support/policy", map[string]any{"policy": single("support-v2")}, 200)
	if s := one.call(t, "POST", "/v2/agent_aliases/support/sessions", map[string]any{"key": "chat-2"}, 201); s["agent_key"] != "support-v2" {
		t.Errorf("session after the policy was replaced through the other server: %v", s)
	}
	// Deleting through one server is seen by the other.
	one.call(t, "DELETE", "/v2/agent_aliases/support/sessions/chat-1", nil, 204)
	two.call(t, "GET", "/v2/agent_aliases/support/sessions/chat-1", nil, 404)
}
