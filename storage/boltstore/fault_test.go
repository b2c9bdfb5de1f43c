//go:build unix

package boltstore_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bolt "go.etcd.io/bbolt"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/boltstore"
)

// --- Helper processes -----------------------------------------------------
//
// Tests that need a second process re-execute the test binary, running only
// TestHelperProcess, with helperEnv naming what the child does and
// helperPathEnv the store file. The child reports on stdout, one line per
// fact, and on stderr for diagnostics.

const (
	helperEnv     = "BOLTSTORE_TEST_HELPER"
	helperPathEnv = "BOLTSTORE_TEST_PATH"
	helperArgEnv  = "BOLTSTORE_TEST_ARG"
)

// TestHelperProcess is not a test: it is the entry point of the child
// processes the other tests start. Run normally, it does nothing.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	path, arg := os.Getenv(helperPathEnv), os.Getenv(helperArgEnv)
	var code int
	switch mode {
	case "hold":
		code = helperHold(path)
	case "fulldisk":
		code = helperFullDisk(path, arg)
	case "crash":
		code = helperCrash(path, arg)
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", mode)
		code = 2
	}
	os.Exit(code)
}

// helperCommand returns the command that runs the helper mode on path.
func helperCommand(mode, path, arg string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperPathEnv+"="+path, helperArgEnv+"="+arg)
	return cmd
}

// lineWriter writes whole lines to w, one write each, from any goroutine.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

// txID returns the id of the last committed transaction in the file at path,
// which no store may hold open.
func txID(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id int
	if err := db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

// plainSession returns an enabled session that never expires.
func plainSession(key string) *session.Session {
	return &session.Session{Key: key, AgentKey: "agent-1", Name: "Session " + key, Enabled: true, CreatedAt: ms(0)}
}

// --- A second process holds the file ----------------------------------------

// helperHold opens the store at path, writes a session, prints READY, and
// keeps the store open until its stdin closes.
func helperHold(path string) int {
	st, err := boltstore.Open(path, &boltstore.Options{Timeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	if _, err := st.CreateSession(context.Background(), "", plainSession("held")); err != nil {
		fmt.Fprintln(os.Stderr, "create:", err)
		return 1
	}
	fmt.Println("READY")
	io.Copy(io.Discard, os.Stdin)
	if err := st.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		return 1
	}
	return 0
}

// lockedMessage is what the error of an Open that timed out on the lock says.
const lockedMessage = "locked by another process"

// openLocked opens path, which someone else holds, with timeout, and checks
// that it fails within a bounded time with an error saying so.
func openLocked(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	st, err := boltstore.Open(path, &boltstore.Options{Timeout: timeout})
	elapsed := time.Since(start)
	if err == nil {
		st.Close()
		t.Fatalf("Open(Timeout %v) of a locked file succeeded", timeout)
	}
	t.Logf("Open(Timeout %v) failed after %v: %v", timeout, elapsed.Round(time.Millisecond), err)
	if !strings.Contains(err.Error(), lockedMessage) {
		t.Errorf("Open error %q does not say %q", err, lockedMessage)
	}
	// Bounded: bbolt retries the lock every 50ms until the timeout; allow
	// a slow, loaded machine plenty of slack.
	if limit := max(timeout, 0) + 5*time.Second; elapsed > limit {
		t.Errorf("Open took %v to give up; want less than %v", elapsed, limit)
	}
}

func TestOpen_Locked(t *testing.T) {
	t.Run("other process", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "locked.db")
		cmd := helperCommand("hold", path, "")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := false
		t.Cleanup(func() {
			if !exited {
				cmd.Process.Kill()
				cmd.Wait()
			}
		})
		ready := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			ready <- line
			io.Copy(io.Discard, stdout)
		}()
		select {
		case line := <-ready:
			if strings.TrimSpace(line) != "READY" {
				t.Fatalf("child said %q, not READY; stderr:\n%s", line, stderr.String())
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("the child did not open the store in 60s; stderr:\n%s", stderr.String())
		}

		openLocked(t, path, 200*time.Millisecond)
		openLocked(t, path, -1) // fails at once

		// The child lets go; now the parent can open the file, and sees
		// what the child wrote.
		stdin.Close()
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case err := <-waited:
			exited = true
			if err != nil {
				t.Fatalf("child: %v; stderr:\n%s", err, stderr.String())
			}
		case <-time.After(60 * time.Second):
			t.Fatal("the child did not exit in 60s")
		}
		st, err := boltstore.Open(path, &boltstore.Options{Timeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatalf("Open after the child exited: %v", err)
		}
		defer st.Close()
		if _, err := st.Session(context.Background(), "", "held"); err != nil {
			t.Errorf("the child's session: %v", err)
		}
	})

	t.Run("same process", func(t *testing.T) {
		// bbolt locks with flock, which also excludes a second open file
		// description in the same process.
		path := filepath.Join(t.TempDir(), "locked.db")
		st, err := boltstore.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		openLocked(t, path, 200*time.Millisecond)
		// The first store is unharmed.
		ctx := context.Background()
		if _, err := st.CreateSession(ctx, "", plainSession("s1")); err != nil {
			t.Errorf("the first store after a refused second Open: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		st, err = boltstore.Open(path, &boltstore.Options{Timeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatalf("Open after Close: %v", err)
		}
		defer st.Close()
		if _, err := st.Session(ctx, "", "s1"); err != nil {
			t.Errorf("Session after reopening: %v", err)
		}
	})
}

// --- Full disk ----------------------------------------------------------------

// fullDiskSession is the session key with metadata of about size bytes,
// derived from the key so that the parent can rebuild it.
func fullDiskSession(key string, size int) *session.Session {
	s := plainSession(key)
	s.Metadata = map[string]any{"blob": strings.Repeat(key+"|", size/(len(key)+1)+1)[:size], "size": float64(size)}
	return s
}

const (
	fullDiskLimit  = 600 << 10 // RLIMIT_FSIZE of the child, in bytes
	fullDiskWriter = 4         // concurrent writers in the child
	fullDiskAfter  = 6         // writes each writer tries after its first failure
)

// helperFullDisk writes sessions into the store at path with the file size
// limited, from several goroutines, until each has seen a failure and tried
// a few more writes. It prints "S <key> <size>" for every acknowledged write
// and "F <key> <size>" for every failed one, the errors on stderr, and DONE
// at the end. It prints VIOLATION on stderr if a failed write is visible in
// the live store or fails with a storage error.
func helperFullDisk(path, _ string) int {
	signal.Ignore(syscall.SIGXFSZ) // fail with EFBIG instead of dying
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "getrlimit:", err)
		return 1
	}
	lim.Cur = fullDiskLimit
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit:", err)
		return 1
	}
	st, err := boltstore.Open(path, &boltstore.Options{Timeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	ctx := context.Background()
	out := &lineWriter{w: os.Stdout}
	errs := &lineWriter{w: os.Stderr}
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := 0
	for g := range fullDiskWriter {
		wg.Add(1)
		go func() {
			defer wg.Done()
			failures, after := 0, 0
			for i := 0; after < fullDiskAfter && time.Now().Before(deadline); i++ {
				key := fmt.Sprintf("fd-g%d-%04d", g, i)
				size := 6000
				if failures > 0 && i%2 == 0 {
					size = 100 // small writes may still fit in freed pages
				}
				if failures > 0 {
					after++
				}
				_, err := st.CreateSession(ctx, "", fullDiskSession(key, size))
				if err == nil {
					out.printf("S %s %d", key, size)
					mu.Lock()
					acked++
					mu.Unlock()
					continue
				}
				failures++
				out.printf("F %s %d", key, size)
				errs.printf("write %s: %v", key, err)
				if errors.Is(err, storage.ErrExists) || errors.Is(err, storage.ErrInvalid) {
					errs.printf("VIOLATION: %s failed with a domain error: %v", key, err)
				}
				// A failed write is not visible, not even in this process.
				if _, err := st.Session(ctx, "", key); !errors.Is(err, storage.ErrNotFound) {
					errs.printf("VIOLATION: failed write %s: Session = %v, want ErrNotFound", key, err)
				}
			}
		}()
	}
	wg.Wait()
	// The live store lists exactly the acknowledged sessions.
	n := 0
	pk := ""
	for {
		page, err := st.ListSessions(ctx, "", storage.SessionQuery{Limit: 100, PageKey: pk})
		if err != nil {
			errs.printf("VIOLATION: list: %v", err)
			break
		}
		n += len(page.Items)
		if pk = page.Next; pk == "" {
			break
		}
	}
	if n != acked {
		errs.printf("VIOLATION: the live store lists %d sessions; %d were acknowledged", n, acked)
	}
	if err := st.Close(); err != nil {
		errs.printf("close: %v", err)
	}
	out.printf("DONE")
	return 0
}

func TestFullDisk(t *testing.T) {
	t.Run("file size limit", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "full.db")
		cmd := helperCommand("fulldisk", path, "")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("child: %v\nstderr:\n%s", err, stderr.String())
			}
		case <-time.After(90 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("the child did not finish in 90s\nstderr:\n%s", stderr.String())
		}
		if strings.Contains(stderr.String(), "VIOLATION") || strings.Contains(stderr.String(), "DATA RACE") {
			t.Errorf("the child saw a violation:\n%s", stderr.String())
		}
		acked := map[string]int{}
		var failed []string
		sawDone := false
		for _, line := range strings.Split(stdout.String(), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) == 3 && f[0] == "S":
				acked[f[1]], _ = strconv.Atoi(f[2])
			case len(f) == 3 && f[0] == "F":
				failed = append(failed, f[1])
			case len(f) == 1 && f[0] == "DONE":
				sawDone = true
			}
		}
		if !sawDone {
			t.Fatalf("the child did not finish its run\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		t.Logf("child: %d writes acknowledged, %d failed", len(acked), len(failed))
		if len(failed) == 0 {
			t.Fatalf("no write failed: the file size limit was never reached\nstderr:\n%s", stderr.String())
		}
		if !strings.Contains(stderr.String(), "file too large") {
			t.Errorf("no write failed with EFBIG (file too large); the failures were:\n%s", stderr.String())
		}
		if first, _, _ := strings.Cut(stderr.String(), "\n"); first != "" {
			t.Logf("first failure: %s", first)
		}
		if len(acked) == 0 {
			t.Fatalf("no write was acknowledged before the disk filled")
		}
		if fi, err := os.Stat(path); err == nil {
			t.Logf("file size %d bytes, limit %d", fi.Size(), fullDiskLimit)
		}

		// Without the limit, the file opens cleanly and holds exactly the
		// acknowledged writes, intact.
		st, err := boltstore.Open(path, nil)
		if err != nil {
			t.Fatalf("Open after the full disk: %v", err)
		}
		ctx := context.Background()
		for key, size := range acked {
			got, err := st.Session(ctx, "", key)
			if err != nil {
				t.Errorf("acknowledged session %s: %v", key, err)
				continue
			}
			want := fullDiskSession(key, size)
			want.Revision = 1
			if diff := cmp.Diff(want, got, equate); diff != "" {
				t.Errorf("acknowledged session %s (-want +got):\n%s", key, diff)
			}
		}
		for _, key := range failed {
			if _, err := st.Session(ctx, "", key); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("failed write %s: Session = %v, want ErrNotFound", key, err)
			}
		}
		listed := listAll(t, func(pk string) (storage.Page[*session.Session], error) {
			return st.ListSessions(ctx, "", storage.SessionQuery{Limit: 100, PageKey: pk})
		})
		seen := map[string]bool{}
		for _, s := range listed {
			seen[s.Key] = true
			if _, ok := acked[s.Key]; !ok {
				t.Errorf("session %s is stored but was never acknowledged", s.Key)
			}
		}
		for key := range acked {
			if !seen[key] {
				t.Errorf("acknowledged session %s is missing from the list", key)
			}
		}
		// With room again, the store takes writes.
		for i := range 20 {
			if _, err := st.CreateSession(ctx, "", fullDiskSession(fmt.Sprintf("after-%d", i), 6000)); err != nil {
				t.Fatalf("write after the disk has room again: %v", err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		checkFile(t, path)
	})

	t.Run("read-only file", func(t *testing.T) {
		// Root ignores file permissions, so this case cannot run as root;
		// the file size limit above covers failing writes then. A skip
		// here is not coverage.
		if os.Geteuid() == 0 {
			t.Skip("running as root, which bypasses file permissions; the RLIMIT_FSIZE case covers failed writes")
		}
		path := filepath.Join(t.TempDir(), "ro.db")
		st, err := boltstore.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateSession(context.Background(), "", plainSession("s1")); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o400); err != nil {
			t.Fatal(err)
		}
		mustFail(t, path, path)
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
		checkFile(t, path)
	})
}

// --- Batches ------------------------------------------------------------------

// batchWrite is one write of a batch test.
type batchWrite struct {
	name string
	want error // nil, or the storage error it must wrap
	do   func() error
}

// outcome is the result of one batchWrite.
type outcome struct {
	name string
	want error
	err  error
}

func TestCommitFailure_IsolatesBatch(t *testing.T) {
	// Writes that fail with a storage error, queued together with writes that
	// succeed, while a large write keeps the committer busy so that they share
	// one commit. The outcomes are checked on every attempt; the attempt is
	// repeated until the file's transaction ids show that the burst really
	// shared a commit.
	ctx := context.Background()
	const goods = 40
	for attempt := 1; ; attempt++ {
		path := filepath.Join(t.TempDir(), "batch.db")
		st, err := boltstore.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, err := st.CreateAlias(ctx, "", &alias.Alias{Key: "al", Name: "al", Enabled: true, CreatedAt: ms(0),
			Policy: policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "agent-1"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		dup, err := st.CreateSession(ctx, "", plainSession("dup"))
		if err != nil {
			t.Fatal(err)
		}
		upd, err := st.CreateSession(ctx, "", plainSession("upd"))
		if err != nil {
			t.Fatal(err)
		}
		ev0 := &event.Event{ID: "aev_0", SessionKey: "dup", CreatedAt: ms(1), Type: event.AgentOutput, Content: "first"}
		if err := st.AppendEvents(ctx, "", "dup", []*event.Event{ev0}); err != nil {
			t.Fatal(err)
		}
		pin := &storage.Pin{AliasKey: "al", Key: "u1", AgentKey: "agent-1", CreatedAt: ms(2)}
		if err := st.SetPin(ctx, "", pin, nil); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		before := txID(t, path)

		st, err = boltstore.Open(path, nil) // one commit: the schema check
		if err != nil {
			t.Fatal(err)
		}
		blob := make([]byte, 8<<20)
		for i := range blob {
			blob[i] = byte(i * 7)
		}
		bigArt := &artifact.Artifact{ID: "art_big", SessionKey: "dup", Filename: "big", MimeType: "application/octet-stream",
			Data: blob, SizeBytes: int64(len(blob)), ChecksumSHA256: artifact.Checksum(blob), CreatedAt: ms(3), UpdatedAt: ms(3)}
		stale := upd.Clone()
		stale.Revision = 7
		stale.Name = "stale"

		writes := []batchWrite{
			{"CreateSession(dup)", storage.ErrExists, func() error {
				s := plainSession("dup")
				s.Name = "impostor"
				_, err := st.CreateSession(ctx, "", s)
				return err
			}},
			{"CreateSession(missing alias)", storage.ErrNotFound, func() error {
				s := plainSession("orphan")
				s.AliasKey = "no-such-alias"
				_, err := st.CreateSession(ctx, "", s)
				return err
			}},
			{"AppendEvents(missing session)", storage.ErrNotFound, func() error {
				return st.AppendEvents(ctx, "", "nope", []*event.Event{{ID: "aev_x", SessionKey: "nope", CreatedAt: ms(4), Type: event.AgentOutput}})
			}},
			{"AppendEvents(used id)", storage.ErrExists, func() error {
				return st.AppendEvents(ctx, "", "dup", []*event.Event{
					{ID: "aev_new", SessionKey: "dup", CreatedAt: ms(4), Type: event.AgentOutput, Content: "new"},
					{ID: "aev_0", SessionKey: "dup", CreatedAt: ms(4), Type: event.AgentOutput, Content: "again"},
				})
			}},
			{"UpdateSession(stale)", storage.ErrConflict, func() error {
				_, err := st.UpdateSession(ctx, "", stale)
				return err
			}},
			{"SetPin(stale prev)", storage.ErrConflict, func() error {
				return st.SetPin(ctx, "", &storage.Pin{AliasKey: "al", Key: "u1", AgentKey: "agent-2", CreatedAt: ms(5)}, nil)
			}},
			{"CreateArtifact(missing session)", storage.ErrNotFound, func() error {
				return st.CreateArtifact(ctx, "", &artifact.Artifact{ID: "art_x", SessionKey: "nope", Filename: "x", MimeType: "text/plain", Data: []byte("x"), CreatedAt: ms(5), UpdatedAt: ms(5)})
			}},
		}
		for i := range goods {
			key := fmt.Sprintf("ok-%02d", i)
			switch i % 4 {
			case 0, 1:
				writes = append(writes, batchWrite{"CreateSession(" + key + ")", nil, func() error {
					s := plainSession(key)
					s.AliasKey = "al"
					_, err := st.CreateSession(ctx, "", s)
					return err
				}})
			case 2:
				writes = append(writes, batchWrite{"AppendEvents(upd, " + key + ")", nil, func() error {
					return st.AppendEvents(ctx, "", "upd", []*event.Event{{ID: "aev_" + key, SessionKey: "upd", CreatedAt: ms(6), Type: event.AgentOutput, Content: key}})
				}})
			case 3:
				writes = append(writes, batchWrite{"SetPin(" + key + ")", nil, func() error {
					return st.SetPin(ctx, "", &storage.Pin{AliasKey: "al", Key: key, AgentKey: "agent-1", CreatedAt: ms(7)}, nil)
				}})
			}
		}

		bigDone := make(chan error, 1)
		go func() { bigDone <- st.CreateArtifact(ctx, "", bigArt) }()
		time.Sleep(2 * time.Millisecond) // let the committer take the large write
		results := make([]outcome, len(writes))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, w := range writes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i] = outcome{w.name, w.want, w.do()}
			}()
		}
		close(start)
		wg.Wait()
		if err := <-bigDone; err != nil {
			t.Fatalf("large artifact: %v", err)
		}
		for _, r := range results {
			switch {
			case r.want == nil && r.err != nil:
				t.Errorf("%s: %v, want success", r.name, r.err)
			case r.want != nil && !errors.Is(r.err, r.want):
				t.Errorf("%s: %v, want %v", r.name, r.err, r.want)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		commits := txID(t, path) - before - 1

		// Reopened: the successes are there, the failures changed nothing.
		st, err = boltstore.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string, want, got any, err error) {
			t.Helper()
			if err != nil {
				t.Errorf("%s: %v", what, err)
				return
			}
			if diff := cmp.Diff(want, got, equate); diff != "" {
				t.Errorf("%s (-want +got):\n%s", what, diff)
			}
		}
		gotAlias, err := st.Alias(ctx, "", "al")
		check("alias", a, gotAlias, err)
		gotDup, err := st.Session(ctx, "", "dup")
		check("session dup", dup, gotDup, err)
		gotUpd, err := st.Session(ctx, "", "upd")
		check("session upd", upd, gotUpd, err)
		gotPin, err := st.Pin(ctx, "", "al", "u1")
		check("pin u1", pin, gotPin, err)
		dupEvents, err := st.ListEvents(ctx, "", "dup", storage.EventQuery{Limit: 100, IncludeHidden: true})
		check("events of dup", []*event.Event{ev0}, dupEvents.Items, err)
		gotBig, err := st.Artifact(ctx, "", "dup", "art_big")
		if err != nil {
			t.Errorf("large artifact: %v", err)
		} else if diff := diffArtifact(bigArt, gotBig); diff != "" {
			t.Errorf("large artifact (-want +got):\n%s", diff)
		}
		for _, key := range []string{"orphan", "nope"} {
			if _, err := st.Session(ctx, "", key); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("session %s of a failed write: %v, want ErrNotFound", key, err)
			}
		}
		var wantKeys, wantEvents []string
		for i := range goods {
			key := fmt.Sprintf("ok-%02d", i)
			switch i % 4 {
			case 0, 1:
				wantKeys = append(wantKeys, key)
			case 2:
				wantEvents = append(wantEvents, "aev_"+key)
			case 3:
				if _, err := st.Pin(ctx, "", "al", key); err != nil {
					t.Errorf("pin %s: %v", key, err)
				}
			}
		}
		var gotKeys, gotEvents []string
		for _, s := range listAll(t, func(pk string) (storage.Page[*session.Session], error) {
			return st.ListSessions(ctx, "", storage.SessionQuery{AliasKey: "al", PageKey: pk, Limit: 100})
		}) {
			gotKeys = append(gotKeys, s.Key)
		}
		for _, e := range listAll(t, func(pk string) (storage.Page[*event.Event], error) {
			return st.ListEvents(ctx, "", "upd", storage.EventQuery{PageKey: pk, Limit: 100})
		}) {
			gotEvents = append(gotEvents, e.ID)
		}
		sortedDiff := func(what string, want, got []string) {
			t.Helper()
			if diff := cmp.Diff(want, got, cmpSorted); diff != "" {
				t.Errorf("%s (-want +got):\n%s", what, diff)
			}
		}
		sortedDiff("sessions through al", wantKeys, gotKeys)
		sortedDiff("events of upd", wantEvents, gotEvents)
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		checkFile(t, path)
		if t.Failed() {
			return
		}
		// 1 commit: the large write and the burst together; 2: the large
		// write alone, then the burst. Either way the failing writes shared
		// a commit with successful ones.
		t.Logf("attempt %d: %d writes (%d failing) + 1 large write in %d commits", attempt, len(writes), len(writes)-goods, commits)
		if commits <= 2 {
			break
		}
		if attempt == 10 {
			t.Fatalf("in 10 attempts the burst never shared one commit (last: %d commits for %d writes)", commits, len(writes)+1)
		}
	}
}

// cmpSorted compares string slices regardless of order.
var cmpSorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func TestCommitFailure_InternalErrorIsolated(t *testing.T) {
	// A write that fails inside the transaction with an error that is not a
	// storage error (here: metadata JSON cannot encode) aborts its batch;
	// the store retries the batch one write at a time, so only that write
	// fails and nothing of it is stored.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "internal.db")
	st, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 32
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s := plainSession(fmt.Sprintf("s-%02d", i))
			if i%8 == 3 {
				s.Metadata = map[string]any{"bad": math.NaN()}
			}
			_, errs[i] = st.CreateSession(ctx, "", s)
		}()
	}
	close(start)
	wg.Wait()
	var want []string
	for i, err := range errs {
		key := fmt.Sprintf("s-%02d", i)
		if i%8 == 3 {
			if err == nil {
				t.Errorf("%s with NaN metadata: stored, want an error", key)
			} else if errors.Is(err, storage.ErrClosed) || errors.Is(err, storage.ErrExists) {
				t.Errorf("%s with NaN metadata: %v, want an encoding error", key, err)
			}
			if _, err := st.Session(ctx, "", key); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%s of a failed write: Session = %v, want ErrNotFound", key, err)
			}
			continue
		}
		want = append(want, key)
		if err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
	t.Logf("the failing write's error: %v", errs[3])
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var got []string
	for _, s := range listAll(t, func(pk string) (storage.Page[*session.Session], error) {
		return st.ListSessions(ctx, "", storage.SessionQuery{PageKey: pk, Limit: 100})
	}) {
		got = append(got, s.Key)
	}
	if diff := cmp.Diff(want, got, cmpSorted); diff != "" {
		t.Errorf("stored sessions (-want +got):\n%s", diff)
	}
}

// --- Close ----------------------------------------------------------------------

// closedCalls returns one call of every storage.Storage method but Close,
// each with arguments that would succeed on an open store that holds what
// TestClose_StopsCommitter stores.
func closedCalls() map[string]func(ctx context.Context, st storage.Storage) error {
	sess := plainSession("s1")
	sess.Revision = 1
	al := &alias.Alias{Key: "al", Name: "al", Enabled: true, CreatedAt: ms(0),
		Policy: policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "agent-1"}}}}}
	pin := &storage.Pin{AliasKey: "al", Key: "u1", AgentKey: "agent-1", CreatedAt: ms(0)}
	return map[string]func(ctx context.Context, st storage.Storage) error{
		"CreateAlias": func(ctx context.Context, st storage.Storage) error {
			a := al.Clone()
			a.Key = "al2"
			_, err := st.CreateAlias(ctx, "", a)
			return err
		},
		"Alias": func(ctx context.Context, st storage.Storage) error { _, err := st.Alias(ctx, "", "al"); return err },
		"ListAliases": func(ctx context.Context, st storage.Storage) error {
			_, err := st.ListAliases(ctx, "", storage.AliasQuery{})
			return err
		},
		"UpdateAlias": func(ctx context.Context, st storage.Storage) error {
			a := al.Clone()
			a.Revision = 1
			_, err := st.UpdateAlias(ctx, "", a)
			return err
		},
		"DeleteAlias": func(ctx context.Context, st storage.Storage) error { return st.DeleteAlias(ctx, "", "al", ms(0)) },
		"CreateSession": func(ctx context.Context, st storage.Storage) error {
			_, err := st.CreateSession(ctx, "", plainSession("s2"))
			return err
		},
		"Session": func(ctx context.Context, st storage.Storage) error { _, err := st.Session(ctx, "", "s1"); return err },
		"ListSessions": func(ctx context.Context, st storage.Storage) error {
			_, err := st.ListSessions(ctx, "", storage.SessionQuery{})
			return err
		},
		"UpdateSession": func(ctx context.Context, st storage.Storage) error {
			_, err := st.UpdateSession(ctx, "", sess.Clone())
			return err
		},
		"DeleteSession": func(ctx context.Context, st storage.Storage) error { return st.DeleteSession(ctx, "", "s1") },
		"AppendEvents": func(ctx context.Context, st storage.Storage) error {
			return st.AppendEvents(ctx, "", "s1", []*event.Event{{ID: "aev_2", SessionKey: "s1", CreatedAt: ms(0), Type: event.AgentOutput}})
		},
		"Event": func(ctx context.Context, st storage.Storage) error {
			_, err := st.Event(ctx, "", "s1", "aev_1")
			return err
		},
		"ListEvents": func(ctx context.Context, st storage.Storage) error {
			_, err := st.ListEvents(ctx, "", "s1", storage.EventQuery{})
			return err
		},
		"DeleteEvent": func(ctx context.Context, st storage.Storage) error { return st.DeleteEvent(ctx, "", "s1", "aev_1") },
		"SetEventHidden": func(ctx context.Context, st storage.Storage) error {
			_, err := st.SetEventHidden(ctx, "", "s1", "aev_1", event.HiddenManual)
			return err
		},
		"CreateArtifact": func(ctx context.Context, st storage.Storage) error {
			return st.CreateArtifact(ctx, "", &artifact.Artifact{ID: "art_2", SessionKey: "s1", Filename: "f", MimeType: "text/plain", CreatedAt: ms(0), UpdatedAt: ms(0)})
		},
		"Artifact": func(ctx context.Context, st storage.Storage) error {
			_, err := st.Artifact(ctx, "", "s1", "art_1")
			return err
		},
		"ListArtifacts": func(ctx context.Context, st storage.Storage) error {
			_, err := st.ListArtifacts(ctx, "", "s1", storage.ArtifactQuery{})
			return err
		},
		"Pin": func(ctx context.Context, st storage.Storage) error { _, err := st.Pin(ctx, "", "al", "u1"); return err },
		"SetPin": func(ctx context.Context, st storage.Storage) error {
			p := *pin
			p.AgentKey = "agent-2"
			return st.SetPin(ctx, "", &p, pin)
		},
		"Sweep": func(ctx context.Context, st storage.Storage) error { _, err := st.Sweep(ctx, ms(0), 10); return err },
	}
}

func TestClose_StopsCommitter(t *testing.T) {
	ctx := context.Background()
	baseline := runtime.NumGoroutine()
	path := filepath.Join(t.TempDir(), "close.db")
	st, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	calls := closedCalls()
	// The table covers every method of the interface.
	it := reflect.TypeFor[storage.Storage]()
	for i := range it.NumMethod() {
		if name := it.Method(i).Name; name != "Close" && calls[name] == nil {
			t.Errorf("closedCalls has no call of %s", name)
		}
	}

	// Store what the calls need; after the test reopens the file, every call
	// succeeds, so ErrClosed is about Close, not the arguments.
	al := &alias.Alias{Key: "al", Name: "al", Enabled: true, CreatedAt: ms(0),
		Policy: policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "agent-1"}}}}}
	if _, err := st.CreateAlias(ctx, "", al); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateSession(ctx, "", plainSession("s1")); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendEvents(ctx, "", "s1", []*event.Event{{ID: "aev_1", SessionKey: "s1", CreatedAt: ms(0), Type: event.AgentOutput}}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateArtifact(ctx, "", &artifact.Artifact{ID: "art_1", SessionKey: "s1", Filename: "f", MimeType: "text/plain", CreatedAt: ms(0), UpdatedAt: ms(0)}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetPin(ctx, "", &storage.Pin{AliasKey: "al", Key: "u1", AgentKey: "agent-1", CreatedAt: ms(0)}, nil); err != nil {
		t.Fatal(err)
	}

	// Writers keep writing while Close runs: each write either is
	// acknowledged (and then stored) or fails with ErrClosed.
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked []string
		bad   []error
	)
	started := make(chan struct{}, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			defer once.Do(func() { started <- struct{}{} })
			for i := 0; ; i++ {
				key := fmt.Sprintf("w%02d-%d", g, i)
				_, err := st.CreateSession(ctx, "", plainSession(key))
				mu.Lock()
				switch {
				case err == nil:
					acked = append(acked, key)
				case !errors.Is(err, storage.ErrClosed):
					bad = append(bad, err)
				}
				mu.Unlock()
				if i == 2 {
					once.Do(func() { started <- struct{}{} })
				}
				if err != nil {
					return
				}
			}
		}()
	}
	for range 16 {
		<-started
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	for _, err := range bad {
		t.Errorf("a write racing Close failed with %v, want nil or ErrClosed", err)
	}

	// Every method answers ErrClosed.
	for name, call := range calls {
		if err := call(ctx, st); !errors.Is(err, storage.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}

	// The committer is gone: the goroutine count returns to where it was.
	deadline := time.Now().Add(2 * time.Second)
	n := runtime.NumGoroutine()
	for n > baseline && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	if n > baseline {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("%d goroutines after Close, %d before Open:\n%s", n, baseline, buf)
	}

	// Every acknowledged write is in the file; the calls all work on the
	// reopened store.
	st2, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	for _, key := range acked {
		if _, err := st2.Session(ctx, "", key); err != nil {
			t.Errorf("write %s acknowledged before Close: %v", key, err)
		}
	}
	t.Logf("%d writes acknowledged while Close ran", len(acked))
	names := make([]string, 0, len(calls))
	for name := range calls {
		if !strings.HasPrefix(name, "Delete") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	// The deletions go last, since they remove what the others use.
	names = append(names, "DeleteEvent", "DeleteSession", "DeleteAlias")
	for _, name := range names {
		if err := calls[name](ctx, st2); err != nil {
			t.Errorf("%s on the reopened store: %v", name, err)
		}
	}
}
