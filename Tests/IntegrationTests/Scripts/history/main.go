// history records a concurrent history of puts and linearizable gets for a linearizability
// check. Each client has its own clientv3.Client on one endpoint (client i uses endpoint
// i % len(endpoints)), so operations go through every member, also while members are killed
// and restarted; errors are recorded and the client carries on. Each operation is one JSON line
// in -out; a one-line JSON summary goes to stdout.
//
//	history -endpoints 127.0.0.1:2379,127.0.0.1:22379 -clients 8 -keys 4 -duration 20s -out h.jsonl
//
// A line: {"client":3,"op":"put","key":"key-1","value":"c3-17","call":1234,"return":5678,
// "status":"ok"}. Times are nanoseconds since the tool started, from one monotonic clock.
// "value" is the value written (put) or read (get; null if the key was absent). "status" is
// "ok"; "unknown" for a put that failed or timed out (it may or may not have taken effect;
// "return" is null); or "failed" for a get that failed (it did not happen; checkers ignore it).
// Values are unique across the run. Keys are assumed absent when the run starts. For
// diagnosis, not needed by a checker: "endpoint"; "error" (not ok); "revision" (the response
// header's revision, ok ops); "mod_revision" (a get that found the key).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/status"
)

// record is one line of the history.
type record struct {
	Client   int     `json:"client"`
	Op       string  `json:"op"`
	Key      string  `json:"key"`
	Value    *string `json:"value"`
	Call     int64   `json:"call"`
	Return   *int64  `json:"return"`
	Status   string  `json:"status"`
	Revision int64   `json:"revision,omitempty"`
	ModRev   int64   `json:"mod_revision,omitempty"`
	Endpoint string  `json:"endpoint"`
	Error    string  `json:"error,omitempty"`
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// describe is an error's gRPC code and message, or its text when it has no status.
func describe(err error) string {
	if s, ok := status.FromError(err); ok {
		return fmt.Sprintf("%s: %s", s.Code(), s.Message())
	}
	return err.Error()
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated client endpoints")
	clients := flag.Int("clients", 8, "concurrent clients, each with its own connection")
	keys := flag.Int("keys", 4, "number of keys (key-0 ... key-N-1)")
	duration := flag.Duration("duration", 20*time.Second, "how long to issue operations")
	opTimeout := flag.Duration("op-timeout", 2*time.Second, "timeout of one operation")
	out := flag.String("out", "history.jsonl", "history file (JSON lines)")
	getRatio := flag.Float64("get-ratio", 0.5, "probability that an operation is a get")
	seed := flag.Int64("seed", time.Now().UnixNano(), "random seed")
	flag.Parse()

	var eps []string
	for _, e := range strings.Split(*endpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			eps = append(eps, e)
		}
	}
	if len(eps) == 0 || *clients < 1 || *keys < 1 {
		fail(fmt.Errorf("need at least one endpoint, client and key"))
	}
	file, err := os.Create(*out)
	if err != nil {
		fail(err)
	}
	writer := bufio.NewWriter(file)

	// Clients dial without blocking, so a member that is down at the start is no obstacle; a
	// short reconnect backoff brings a restarted member back into use quickly.
	cs := make([]*clientv3.Client, *clients)
	for i := range cs {
		c, err := clientv3.New(clientv3.Config{
			Endpoints: []string{eps[i%len(eps)]},
			DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond},
				MinConnectTimeout: time.Second,
			})},
		})
		if err != nil {
			fail(err)
		}
		cs[i] = c
	}

	records := make(chan record, 1024)
	written := make(chan map[string]int)
	go func() {
		counts := map[string]int{}
		encoder := json.NewEncoder(writer)
		for r := range records {
			counts[r.Status]++
			if err := encoder.Encode(r); err != nil {
				fail(err)
			}
		}
		written <- counts
	}()

	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	var wg sync.WaitGroup
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			c := cs[id]
			r := rand.New(rand.NewSource(*seed + int64(id)))
			for seq := 0; time.Since(start) < *duration; seq++ {
				rec := record{Client: id, Key: fmt.Sprintf("key-%d", r.Intn(*keys)), Endpoint: eps[id%len(eps)]}
				ctx, cancel := context.WithTimeout(context.Background(), *opTimeout)
				if r.Float64() < *getRatio {
					rec.Op = "get"
					rec.Call = now()
					response, err := c.Get(ctx, rec.Key)
					returned := now()
					rec.Return = &returned
					if err != nil {
						rec.Status, rec.Error = "failed", describe(err)
					} else {
						rec.Status, rec.Revision = "ok", response.Header.Revision
						if len(response.Kvs) > 0 {
							v := string(response.Kvs[0].Value)
							rec.Value, rec.ModRev = &v, response.Kvs[0].ModRevision
						}
					}
				} else {
					rec.Op = "put"
					v := fmt.Sprintf("c%d-%d", id, seq)
					rec.Value = &v
					rec.Call = now()
					response, err := c.Put(ctx, rec.Key, v)
					returned := now()
					if err != nil {
						rec.Status, rec.Error = "unknown", describe(err)
					} else {
						rec.Status, rec.Return, rec.Revision = "ok", &returned, response.Header.Revision
					}
				}
				cancel()
				records <- rec
				if rec.Status != "ok" {
					// Do not spin on a member that is down.
					time.Sleep(10 * time.Millisecond)
				}
			}
		}(i)
	}
	wg.Wait()
	close(records)
	counts := <-written
	if err := writer.Flush(); err != nil {
		fail(err)
	}
	if err := file.Close(); err != nil {
		fail(err)
	}
	for _, c := range cs {
		c.Close()
	}
	summary := map[string]int{"ops": counts["ok"] + counts["unknown"] + counts["failed"], "ok": counts["ok"],
		"unknown": counts["unknown"], "failed": counts["failed"], "clients": *clients}
	b, _ := json.Marshal(summary)
	fmt.Println(string(b))
}
