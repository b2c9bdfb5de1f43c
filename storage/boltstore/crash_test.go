//go:build unix

package boltstore_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/boltstore"
)

// The crash test: a child process writes as fast as it can from several
// goroutines, printing a line for every acknowledged write; the parent kills
// it with SIGKILL at a random moment, reopens the file and checks that every
// acknowledged write is there, intact, and that bbolt finds the file
// consistent. Each round continues on the file the previous rounds left.
//
// Everything the child writes is derived from its key (crashSession,
// crashEvent, crashArtifact), so the parent can rebuild the expected values
// from the acknowledgements alone.

const (
	crashRounds  = 12
	crashWorkers = 8
	crashSeedEnv = "BOLTSTORE_CRASH_SEED"
)

// crashTenants are the tenants the child writes to; worker g uses
// crashTenants[g%len(crashTenants)].
var crashTenants = []string{"", "crash-tenant"}

func crashAliasKey(round int) string { return fmt.Sprintf("crash-r%d", round) }

func crashKey(round, g, n int) string { return fmt.Sprintf("r%d-g%d-s%d", round, g, n) }

// parseCrashKey splits a session key made by crashKey.
func parseCrashKey(key string) (round, g, n int, ok bool) {
	_, err := fmt.Sscanf(key, "r%d-g%d-s%d", &round, &g, &n)
	return round, g, n, err == nil && crashKey(round, g, n) == key
}

func crashSession(round, g, n int) *session.Session {
	key := crashKey(round, g, n)
	return &session.Session{
		Key:       key,
		AgentKey:  fmt.Sprintf("agent-%d", g),
		AliasKey:  crashAliasKey(round),
		Name:      "Crash " + key,
		Metadata:  map[string]any{"g": float64(g), "n": float64(n), "pad": strings.Repeat("p", n%300)},
		Enabled:   true,
		Status:    session.Unstarted,
		CreatedAt: ms(n),
		Secrets:   session.Secrets{"TOKEN": "secret-" + key},
	}
}

// crashEvents is how many events the child appends to session n.
func crashEvents(n int) int { return 1 + n%4 }

func crashEvent(key string, i int) *event.Event {
	e := &event.Event{ID: fmt.Sprintf("aev_%s-e%d", key, i), SessionKey: key, CreatedAt: ms(i)}
	if i%2 == 0 {
		e.Type, e.Content = event.AgentOutput, fmt.Sprintf("output %d of %s", i, key)
	} else {
		e.Type, e.Messages = event.InputMessage, []event.Input{event.Text(fmt.Sprintf("input %d of %s", i, key))}
	}
	return e
}

// crashHasArtifact reports whether the child uploads an artifact to session
// n, after its events.
func crashHasArtifact(n int) bool { return n%4 == 3 }

// crashArtifact is an artifact of a few KiB of pseudo-random bytes, some of
// them larger than a page.
func crashArtifact(key string, n int) *artifact.Artifact {
	h := fnv.New64a()
	h.Write([]byte(key))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0))
	data := make([]byte, 500+(n*977)%7000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	return &artifact.Artifact{
		ID: "art_" + strings.ToLower(key), SessionKey: key, Filename: key + ".bin", MimeType: "application/octet-stream",
		SizeBytes: int64(len(data)), ChecksumSHA256: artifact.Checksum(data), Data: data,
		CreatedAt: ms(n), UpdatedAt: ms(n),
	}
}

// helperCrash is the child of TestCrash: it writes to the store at path until
// it is killed (or, as a safety net, for 30s).
func helperCrash(path, arg string) int {
	round, err := strconv.Atoi(arg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ERR round:", err)
		return 1
	}
	st, err := boltstore.Open(path, &boltstore.Options{Timeout: 10 * time.Second}) // durable
	if err != nil {
		fmt.Fprintln(os.Stderr, "ERR open:", err)
		return 1
	}
	ctx := context.Background()
	out := &lineWriter{w: os.Stdout}
	ak := crashAliasKey(round)
	for _, tenant := range crashTenants {
		_, err := st.CreateAlias(ctx, tenant, &alias.Alias{Key: ak, Name: ak, Enabled: true, CreatedAt: ms(round),
			Policy: policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "agent-0"}}}}})
		if err != nil {
			fmt.Fprintln(os.Stderr, "ERR create alias:", err)
			return 1
		}
	}
	out.printf("A %s", ak)
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	for g := range crashWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tenant := crashTenants[g%len(crashTenants)]
			fail := func(what string, err error) {
				fmt.Fprintf(os.Stderr, "ERR worker %d: %s: %v\n", g, what, err)
			}
			for n := 0; time.Now().Before(deadline); n++ {
				key := crashKey(round, g, n)
				if _, err := st.CreateSession(ctx, tenant, crashSession(round, g, n)); err != nil {
					fail(key, err)
					return
				}
				out.printf("S %s", key)
				for i := range crashEvents(n) {
					e := crashEvent(key, i)
					if err := st.AppendEvents(ctx, tenant, key, []*event.Event{e}); err != nil {
						fail(e.ID, err)
						return
					}
					out.printf("E %s %s", key, e.ID)
				}
				if crashHasArtifact(n) {
					a := crashArtifact(key, n)
					if err := st.CreateArtifact(ctx, tenant, a); err != nil {
						fail(a.ID, err)
						return
					}
					out.printf("R %s %s", key, a.ID)
				}
			}
		}()
	}
	wg.Wait()
	st.Close()
	return 0
}

// crashSess is what the parent knows of one session the child wrote.
type crashSess struct {
	round, g, n int
	tenant      string
	events      int  // acknowledged (or found) events: the first ones of crashEvent
	artifact    bool // the artifact was acknowledged (or found)
}

// crashModel is every write acknowledged in the rounds so far, plus the
// unacknowledged writes a later reopen found (they must stay).
type crashModel struct {
	aliases  []string // one per round, in every tenant
	sessions map[string]*crashSess
	next     map[[2]int]int // (round, g) -> number of sessions known
	acks     [4]int         // acknowledged aliases, sessions, events, artifacts
}

// ack records one line of the child's output, checking that it follows the
// child's order: sessions of a worker in sequence, events of a session in
// sequence, the artifact last.
func (m *crashModel) ack(line string) error {
	f := strings.Fields(line)
	if len(f) == 0 {
		return nil
	}
	switch {
	case f[0] == "A" && len(f) == 2:
		m.aliases = append(m.aliases, f[1])
		m.acks[0]++
		return nil
	case f[0] == "S" && len(f) == 2:
		round, g, n, ok := parseCrashKey(f[1])
		if !ok {
			return fmt.Errorf("bad session key in %q", line)
		}
		if m.sessions[f[1]] != nil || m.next[[2]int{round, g}] != n {
			return fmt.Errorf("session acknowledged out of order: %q", line)
		}
		m.sessions[f[1]] = &crashSess{round: round, g: g, n: n, tenant: crashTenants[g%len(crashTenants)]}
		m.next[[2]int{round, g}] = n + 1
		m.acks[1]++
		return nil
	case f[0] == "E" && len(f) == 3:
		s := m.sessions[f[1]]
		if s == nil || s.artifact || s.events >= crashEvents(s.n) || crashEvent(f[1], s.events).ID != f[2] {
			return fmt.Errorf("event acknowledged out of order: %q", line)
		}
		s.events++
		m.acks[2]++
		return nil
	case f[0] == "R" && len(f) == 3:
		s := m.sessions[f[1]]
		if s == nil || s.artifact || !crashHasArtifact(s.n) || s.events != crashEvents(s.n) || crashArtifact(f[1], s.n).ID != f[2] {
			return fmt.Errorf("artifact acknowledged out of order: %q", line)
		}
		s.artifact = true
		m.acks[3]++
		return nil
	}
	// Anything else (the testing package's own output) is not an ack.
	return nil
}

// crashChild runs one round's child on path, kills it with SIGKILL delay
// after its first acknowledged session, and returns its output lines.
func crashChild(t *testing.T, path string, round int, delay time.Duration) []string {
	t.Helper()
	cmd := helperCommand("crash", path, strconv.Itoa(round))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	first := make(chan struct{})
	eof := make(chan struct{})
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if !signalled && strings.HasPrefix(sc.Text(), "S ") {
				signalled = true
				close(first)
			}
		}
	}()
	select {
	case <-first:
		time.Sleep(delay)
	case <-eof:
		// The child ended before writing anything: report why below.
	case <-time.After(60 * time.Second):
		t.Errorf("round %d: no acknowledged write in 60s", round)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Errorf("round %d: kill: %v", round, err)
	}
	<-eof // everything the child wrote before it died
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("round %d: the child was not killed by SIGKILL: %v\nstderr:\n%s", round, err, stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "ERR") || strings.Contains(s, "DATA RACE") {
		t.Fatalf("round %d: the child failed:\n%s", round, s)
	}
	return lines
}

func TestCrash(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s: %v", crashSeedEnv, err)
		}
	}
	t.Logf("seed %d (%s=%d repeats the kill delays)", seed, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	path := filepath.Join(t.TempDir(), "crash.db")
	m := &crashModel{sessions: map[string]*crashSess{}, next: map[[2]int]int{}}
	start := time.Now()
	for round := 1; round <= crashRounds; round++ {
		delay := time.Duration(20+rng.IntN(281)) * time.Millisecond
		before := m.acks
		for _, line := range crashChild(t, path, round, delay) {
			if err := m.ack(line); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if len(m.aliases) != round {
			t.Fatalf("round %d: the child did not acknowledge its alias", round)
		}
		found := verifyCrash(t, path, round, m, round == crashRounds)
		t.Logf("round %d: killed %v after the first ack; acknowledged %d sessions, %d events, %d artifacts; %d unacknowledged writes found committed",
			round, delay, m.acks[1]-before[1], m.acks[2]-before[2], m.acks[3]-before[3], found)
		if t.Failed() {
			t.Fatalf("round %d failed (seed %d)", round, seed)
		}
	}
	fi, _ := os.Stat(path)
	t.Logf("%d rounds in %v: %d sessions, %d events, %d artifacts acknowledged in all; file %d KiB",
		crashRounds, time.Since(start).Round(time.Millisecond), m.acks[1], m.acks[2], m.acks[3], fi.Size()>>10)
}

// verifyCrash opens the store after round's crash and checks it against m:
// every write of m is present and intact, in every index; writes found that
// were not acknowledged are each the one write a worker had in flight when
// it died, and are added to m. With all, it checks every session's events
// and artifact; otherwise only those of this round. It returns how many
// unacknowledged writes it found, and runs bbolt's check on the file.
func verifyCrash(t *testing.T, path string, round int, m *crashModel, all bool) int {
	t.Helper()
	ctx := context.Background()
	st, err := boltstore.Open(path, &boltstore.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("round %d: reopen after the crash: %v", round, err)
	}
	inFlight := map[int]string{} // worker -> the unacknowledged write found
	extra := func(g int, what string) {
		t.Helper()
		if prev, ok := inFlight[g]; ok {
			t.Errorf("round %d: worker %d has two unacknowledged writes committed: %s and %s", round, g, prev, what)
		}
		inFlight[g] = what
	}

	for _, ak := range m.aliases {
		for _, tenant := range crashTenants {
			if _, err := st.Alias(ctx, tenant, ak); err != nil {
				t.Errorf("round %d: alias %s in tenant %q: %v", round, ak, tenant, err)
			}
		}
	}

	for _, tenant := range crashTenants {
		// Every session, in creation order: the acknowledged ones, and at
		// most the one in flight per worker of this round.
		listed := listAll(t, func(pk string) (storage.Page[*session.Session], error) {
			return st.ListSessions(ctx, tenant, storage.SessionQuery{Limit: 100, PageKey: pk})
		})
		seen := map[string]bool{}
		for _, got := range listed {
			seen[got.Key] = true
			s := m.sessions[got.Key]
			if s == nil {
				r, g, n, ok := parseCrashKey(got.Key)
				switch {
				case !ok || r != round || crashTenants[g%len(crashTenants)] != tenant:
					t.Errorf("round %d: tenant %q holds session %q, which no child of this round could have written", round, tenant, got.Key)
					continue
				case n != m.next[[2]int{r, g}]:
					t.Errorf("round %d: unacknowledged session %s is not the one worker %d had in flight (s%d)", round, got.Key, g, m.next[[2]int{r, g}])
					continue
				}
				extra(g, "session "+got.Key)
				s = &crashSess{round: r, g: g, n: n, tenant: tenant}
				m.sessions[got.Key] = s
				m.next[[2]int{r, g}] = n + 1
			}
			want := crashSession(s.round, s.g, s.n)
			want.Revision = 1
			if diff := cmp.Diff(want, got, equate); diff != "" {
				t.Errorf("round %d: session %s (-want +got):\n%s", round, got.Key, diff)
			}
		}
		// The per-alias and per-agent indexes hold the same sessions.
		wantAlias, wantAgent := 0, map[int]int{}
		for key, s := range m.sessions {
			if s.tenant != tenant {
				continue
			}
			if !seen[key] {
				t.Errorf("round %d: acknowledged session %s (round %d) is missing", round, key, s.round)
			}
			if s.round == round {
				wantAlias++
			}
			wantAgent[s.g]++
		}
		n := len(listAll(t, func(pk string) (storage.Page[*session.Session], error) {
			return st.ListSessions(ctx, tenant, storage.SessionQuery{Limit: 100, PageKey: pk, AliasKey: crashAliasKey(round)})
		}))
		if n != wantAlias {
			t.Errorf("round %d: tenant %q lists %d sessions through alias %s, want %d", round, tenant, n, crashAliasKey(round), wantAlias)
		}
		for g, want := range wantAgent {
			n := len(listAll(t, func(pk string) (storage.Page[*session.Session], error) {
				return st.ListSessions(ctx, tenant, storage.SessionQuery{Limit: 100, PageKey: pk, AgentKey: fmt.Sprintf("agent-%d", g)})
			}))
			if n != want {
				t.Errorf("round %d: tenant %q lists %d sessions of agent-%d, want %d", round, tenant, n, g, want)
			}
		}
	}

	// Events and artifacts.
	for key, s := range m.sessions {
		if !all && s.round != round {
			continue
		}
		page, err := st.ListEvents(ctx, s.tenant, key, storage.EventQuery{Limit: storage.MaxLimit, IncludeHidden: true})
		if err != nil {
			t.Errorf("round %d: events of %s: %v", round, key, err)
			continue
		}
		got := page.Items
		// The acknowledged events, in the order acknowledged; then at most
		// the one that was in flight.
		if len(got) > s.events {
			if s.round != round || len(got) > s.events+1 || s.events >= crashEvents(s.n) || s.artifact {
				t.Errorf("round %d: session %s holds %d events, %d acknowledged", round, key, len(got), s.events)
			} else {
				extra(s.g, "event "+got[s.events].ID)
				s.events++
			}
		}
		var want []*event.Event
		for i := range s.events {
			want = append(want, crashEvent(key, i))
		}
		if diff := cmp.Diff(want, got, equate); diff != "" {
			t.Errorf("round %d: events of %s (-want +got):\n%s", round, key, diff)
		}
		if !crashHasArtifact(s.n) {
			continue
		}
		wantArt := crashArtifact(key, s.n)
		gotArt, err := st.Artifact(ctx, s.tenant, key, wantArt.ID)
		switch {
		case errors.Is(err, storage.ErrNotFound) && !s.artifact:
			continue
		case err != nil:
			t.Errorf("round %d: artifact %s: %v", round, wantArt.ID, err)
			continue
		case !s.artifact:
			if s.round != round || s.events != crashEvents(s.n) {
				t.Errorf("round %d: unacknowledged artifact %s is stored out of order", round, wantArt.ID)
			}
			extra(s.g, "artifact "+wantArt.ID)
			s.artifact = true
		}
		if diff := diffArtifact(wantArt, gotArt); diff != "" {
			t.Errorf("round %d: artifact %s (-want +got):\n%s", round, wantArt.ID, diff)
		}
	}
	if err := st.Close(); err != nil {
		t.Errorf("round %d: Close: %v", round, err)
	}
	checkFile(t, path)
	return len(inFlight)
}
