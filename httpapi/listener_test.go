package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/httpapi"
	"github.com/agentalias/agentalias/storage/boltstore"
)

// liveServer is the handler over a boltstore, served by an http.Server on a
// real listener on 127.0.0.1.
type liveServer struct {
	base   string
	client *http.Client
}

func startLiveServer(t *testing.T) *liveServer {
	t.Helper()
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "agentalias.db"), &boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	agents := map[string]agentalias.Agent{}
	for _, k := range fixtureAgents {
		agents[k] = agentalias.AgentFunc(scriptedAgent)
	}
	router, err := agentalias.New(store, &agentalias.Options{Agents: agents, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { router.Close() })
	h, err := httpapi.NewHandler(router, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	client := &http.Client{Timeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		// Close the client's idle connections first: one dialled for a
		// request that another connection served never sent a request,
		// and Shutdown waits 5s for such a new connection.
		client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return &liveServer{base: "http://" + ln.Addr().String(), client: client}
}

// send sends one request and returns the status and the decoded body (nil
// when empty). It is safe for concurrent use; failures are returned, not
// reported, so that goroutines can use it.
func (s *liveServer) send(method, path string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return resp.StatusCode, nil, fmt.Errorf("%s %s: body is not a JSON object: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, m, nil
}

// must sends a request and fails the test unless it answers want.
func (s *liveServer) must(t *testing.T, want int, method, path string, body any) map[string]any {
	t.Helper()
	status, m, err := s.send(method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %v", method, path, status, want, m)
	}
	return m
}

// TestListenerEndToEnd drives the whole flow over a real socket and a bbolt
// file: alias, session, input, events, policy replacement, a new session.
func TestListenerEndToEnd(t *testing.T) {
	s := startLiveServer(t)

	a := s.must(t, http.StatusCreated, http.MethodPost, "/v2/agent_aliases", map[string]any{
		"key": "support", "name": "Customer Support", "policy": singlePolicy("support-v1"),
	})
	if a["enabled"] != true {
		t.Errorf("alias %v", a)
	}
	sess := s.must(t, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", map[string]any{"key": "chat-1", "metadata": map[string]any{"user_id": "u-1"}})
	if sess["agent_key"] != "support-v1" || sess["alias_key"] != "support" {
		t.Fatalf("session %v", sess)
	}
	resp := s.must(t, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions/chat-1/events", textInput("hello"))
	evs := resp["events"].([]any)
	if len(evs) != 2 || evs[1].(map[string]any)["content"] != "echo from support-v1: hello" {
		t.Fatalf("input response %v", resp)
	}
	list := s.must(t, http.StatusOK, http.MethodGet, "/v2/agent_aliases/support/sessions/chat-1/events", nil)
	if n := len(list["events"].([]any)); n != 2 {
		t.Fatalf("listed %d events, want 2: %v", n, list)
	}
	s.must(t, http.StatusOK, http.MethodGet, "/v2/agents/support-v1/sessions/chat-1/events", nil)

	s.must(t, http.StatusOK, http.MethodPut, "/v2/agent_aliases/support/policy", map[string]any{"policy": singlePolicy("support-v2")})
	sess2 := s.must(t, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", map[string]any{"key": "chat-2"})
	if sess2["agent_key"] != "support-v2" {
		t.Errorf("session after the policy replacement routed to %v, want support-v2", sess2["agent_key"])
	}
	resp = s.must(t, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions/chat-2/events", textInput("again"))
	if c := resp["events"].([]any)[1].(map[string]any)["content"]; c != "echo from support-v2: again" {
		t.Errorf("reply %v", c)
	}
	old := s.must(t, http.StatusOK, http.MethodGet, "/v2/agent_aliases/support/sessions/chat-1", nil)
	if old["agent_key"] != "support-v1" {
		t.Errorf("the first session moved to %v", old["agent_key"])
	}
	sessions := s.must(t, http.StatusOK, http.MethodGet, "/v2/agent_aliases/support/sessions", nil)
	if n := len(sessions["sessions"].([]any)); n != 2 {
		t.Errorf("alias lists %d sessions, want 2", n)
	}
	// Errors have the contract's shape over the wire too.
	status, body, err := s.send(http.MethodGet, "/v2/agent_aliases/nope", nil)
	if err != nil || status != http.StatusNotFound || body["id"] != "nope" || body["request_id"] == nil {
		t.Errorf("404: %d %v %v", status, body, err)
	}
}

// TestListenerConcurrent has 20 goroutines create sessions and post inputs
// at once, then checks every session and event is there exactly once.
func TestListenerConcurrent(t *testing.T) {
	s := startLiveServer(t)
	s.must(t, http.StatusCreated, http.MethodPost, "/v2/agent_aliases", map[string]any{
		"key": "support", "name": "Support",
		"policy": jsonMap(t, `{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"get('$.session.key')",
		  "options":[{"agent_key":"support-v1","weight":1},{"agent_key":"support-v2","weight":1}]}}]}`),
	})
	const workers, inputs = 20, 3
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	agents := make([]string, workers)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			key := fmt.Sprintf("chat-%02d", i)
			status, sess, err := s.send(http.MethodPost, "/v2/agent_aliases/support/sessions", map[string]any{"key": key})
			if err != nil || status != http.StatusCreated {
				errs <- fmt.Errorf("create %s: %d %v %v", key, status, sess, err)
				return
			}
			agents[i], _ = sess["agent_key"].(string)
			for j := 0; j < inputs; j++ {
				path := "/v2/agent_aliases/support/sessions/" + key + "/events"
				if j%2 == 1 {
					path = "/v2/agents/" + agents[i] + "/sessions/" + key + "/events"
				}
				status, resp, err := s.send(http.MethodPost, path, textInput(fmt.Sprintf("message %d", j)))
				if err != nil || status != http.StatusCreated {
					errs <- fmt.Errorf("input %d to %s: %d %v %v", j, key, status, resp, err)
					return
				}
			}
			// Reads race the other writers.
			if status, _, err := s.send(http.MethodGet, "/v2/agent_aliases/support/sessions?limit=5", nil); err != nil || status != http.StatusOK {
				errs <- fmt.Errorf("list: %d %v", status, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	var keys []string
	pageKey := ""
	for {
		path := "/v2/agent_aliases/support/sessions?limit=7"
		if pageKey != "" {
			path += "&page_key=" + pageKey
		}
		page := s.must(t, http.StatusOK, http.MethodGet, path, nil)
		for _, it := range page["sessions"].([]any) {
			m := it.(map[string]any)
			keys = append(keys, m["key"].(string))
			if m["status"] != "stopped" {
				t.Errorf("session %v status %v, want stopped", m["key"], m["status"])
			}
		}
		pageKey, _ = page["metadata"].(map[string]any)["page_key"].(string)
		if pageKey == "" {
			break
		}
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("session %s listed twice", k)
		}
		seen[k] = true
	}
	if len(seen) != workers {
		t.Errorf("%d sessions listed, want %d", len(seen), workers)
	}
	count := map[string]int{}
	for i := 0; i < workers; i++ {
		key := fmt.Sprintf("chat-%02d", i)
		count[agents[i]]++
		evs := s.must(t, http.StatusOK, http.MethodGet, "/v2/agents/"+agents[i]+"/sessions/"+key+"/events?limit=100", nil)["events"].([]any)
		if len(evs) != 2*inputs {
			t.Errorf("%s has %d events, want %d", key, len(evs), 2*inputs)
			continue
		}
		for j := 0; j < inputs; j++ {
			want := fmt.Sprintf("echo from %s: message %d", agents[i], j)
			if got := evs[2*j+1].(map[string]any)["content"]; got != want {
				t.Errorf("%s event %d: %v, want %q", key, 2*j+1, got, want)
			}
		}
	}
	if count["support-v1"]+count["support-v2"] != workers {
		t.Errorf("sessions routed to %v", count)
	}
}
