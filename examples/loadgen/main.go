// Command loadgen measures the REST handler on loopback: N keep-alive
// clients create sessions through an alias (and optionally send an input to
// each), for a fixed number of requests, and it prints throughput and
// latency percentiles beside a ceiling measured in the same run: a bare
// net/http handler that decodes and encodes the same JSON strictly.
//
//	go run ./examples/loadgen                       # memstore, 64 clients, 20000 requests
//	go run ./examples/loadgen -store bolt            # durable boltstore in a temp file
//	go run ./examples/loadgen -input                 # each session also gets one input turn
//	go run ./examples/loadgen -target http://127.0.0.1:8080   # a running server (loopback only)
//
// With -target, loadgen creates its alias "loadgen" on the server, routing
// to agents v1 and v2, so start the server with them:
//
//	go run ./examples/server -agents v1,v2 -db 'postgres://...&pool_max_conns=16'
//
// It only ever targets loopback addresses, and stops by itself.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/httpapi"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/boltstore"
	"github.com/agentalias/agentalias/storage/memstore"
)

func main() {
	clients := flag.Int("clients", 64, "concurrent keep-alive clients")
	requests := flag.Int("n", 20000, "requests per measurement")
	storeKind := flag.String("store", "mem", "store behind the handler: mem or bolt")
	input := flag.Bool("input", false, "after creating each session, send it one input (a second request)")
	target := flag.String("target", "", "base URL of a running server on loopback (default: start the handler in-process)")
	skipCeiling := flag.Bool("no-ceiling", false, "skip the bare net/http ceiling")
	flag.Parse()

	base := *target
	if base == "" {
		var stop func()
		var err error
		base, stop, err = startHandler(*storeKind)
		if err != nil {
			log.Fatal(err)
		}
		defer stop()
	} else if err := checkLoopback(base); err != nil {
		log.Fatal(err)
	}
	if err := createAlias(base); err != nil {
		log.Fatal(err)
	}

	what := "create session through an alias"
	if *input {
		what += " + one input turn"
	}
	res := run(*clients, *requests, func(c *http.Client, i int) error {
		key := fmt.Sprintf("lg-%d-%d", time.Now().UnixNano(), i)
		body := fmt.Sprintf(`{"key":%q,"name":"load","metadata":{"user_id":"u-%d"}}`, key, i)
		if err := post(c, base+"/v2/agent_aliases/loadgen/sessions", body, http.StatusCreated); err != nil {
			return err
		}
		if *input {
			return post(c, base+"/v2/agent_aliases/loadgen/sessions/"+key+"/events",
				`{"type":"input_message","messages":[{"type":"text","content":"hi"}]}`, http.StatusCreated)
		}
		return nil
	})
	if *target != "" {
		fmt.Printf("agentalias (the server at %s): %s\n", *target, what)
	} else {
		fmt.Printf("agentalias (%s store): %s\n", *storeKind, what)
	}
	res.print()

	if !*skipCeiling {
		ceil, stop := startCeiling()
		defer stop()
		c := run(*clients, *requests, func(cl *http.Client, i int) error {
			body := fmt.Sprintf(`{"key":"lg-%d","name":"load","metadata":{"user_id":"u-%d"}}`, i, i)
			return post(cl, ceil+"/v2/agent_aliases/loadgen/sessions", body, http.StatusCreated)
		})
		fmt.Printf("ceiling: bare net/http handler decoding and encoding the same JSON strictly\n")
		c.print()
		fmt.Printf("ratio: %.0f%% of the ceiling's throughput\n", 100*res.rps/c.rps)
	}
}

// startHandler serves the library's handler on a loopback port.
func startHandler(kind string) (string, func(), error) {
	var store storage.Storage
	var cleanup func()
	switch kind {
	case "mem":
		store, cleanup = memstore.New(), func() {}
	case "bolt":
		dir, err := os.MkdirTemp("", "agentalias-loadgen-")
		if err != nil {
			return "", nil, err
		}
		s, err := boltstore.Open(filepath.Join(dir, "load.db"), nil)
		if err != nil {
			return "", nil, err
		}
		store, cleanup = s, func() { os.RemoveAll(dir) }
	default:
		return "", nil, fmt.Errorf("unknown -store %q: want mem or bolt", kind)
	}
	echo := agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error { return t.Reply("ok") })
	r, err := agentalias.New(store, &agentalias.Options{Agents: map[string]agentalias.Agent{"v1": echo, "v2": echo}})
	if err != nil {
		return "", nil, err
	}
	h, err := httpapi.NewHandler(r, nil)
	if err != nil {
		return "", nil, err
	}
	base, stopServer := serve(h)
	return base, func() { stopServer(); r.Close(); store.Close(); cleanup() }, nil
}

// startCeiling serves a bare handler that does what any JSON API must:
// decode the body strictly, and encode a response of the same size.
func startCeiling() (string, func()) {
	type req struct {
		Key      string         `json:"key"`
		Name     string         `json:"name"`
		Metadata map[string]any `json:"metadata"`
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		var in req
		if err := dec.Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		seen[in.Key] = true
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{
			"key": in.Key, "agent_key": "v1", "alias_key": "loadgen", "name": in.Name, "metadata": in.Metadata,
			"enabled": true, "status": "unstarted", "tti_minutes": 0, "created_at": time.Now().UTC(),
		})
	})
	return serve(h)
}

func serve(h http.Handler) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }
}

func createAlias(base string) error {
	c := &http.Client{}
	body := `{"key":"loadgen","name":"Load","policy":{"type":"routed","rules":[{"targets":{"type":"weighted",
	  "partition_by":"get('$.session.metadata.user_id', '')","options":[{"agent_key":"v1","weight":90},{"agent_key":"v2","weight":10}]}}]}}`
	err := post(c, base+"/v2/agent_aliases", body, http.StatusCreated)
	if err != nil && bytes.Contains([]byte(err.Error()), []byte("409")) {
		return nil // already there, from an earlier run against the same server
	}
	return err
}

func post(c *http.Client, url, body string, want int) error {
	resp, err := c.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	return nil
}

type result struct {
	n             int
	elapsed       time.Duration
	rps           float64
	p50, p99, max time.Duration
	errors        int64
}

func (r result) print() {
	fmt.Printf("  %d requests in %v: %.0f req/s; latency p50 %v, p99 %v, max %v; %d errors\n",
		r.n, r.elapsed.Round(time.Millisecond), r.rps, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.max.Round(10*time.Microsecond), r.errors)
}

// run sends n operations from clients goroutines, each with its own
// keep-alive client, and measures them.
func run(clients, n int, op func(c *http.Client, i int) error) result {
	var next atomic.Int64
	var errs atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			defer tr.CloseIdleConnections()
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				t0 := time.Now()
				if err := op(c, i); err != nil {
					if errs.Add(1) <= 3 {
						log.Print(err)
					}
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	r := result{n: n, elapsed: elapsed, rps: float64(len(all)) / elapsed.Seconds(), errors: errs.Load()}
	if len(all) > 0 {
		r.p50, r.p99, r.max = all[len(all)/2], all[len(all)*99/100], all[len(all)-1]
	}
	return r
}

// checkLoopback refuses targets that are not on this machine.
func checkLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	ips, err := net.LookupIP(u.Hostname())
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("loadgen only targets loopback addresses; %s is %v", u.Hostname(), ip)
		}
	}
	return nil
}
