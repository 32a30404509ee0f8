// putload drives an etcd endpoint with Put requests through the Go client (clientv3), the way
// etcd's benchmark tool does: N clients share C connections, each client issues its next put
// as soon as the previous one returns. It prints throughput and latency percentiles as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func main() {
	endpoint := flag.String("endpoint", "127.0.0.1:2379", "endpoint")
	clients := flag.Int("clients", 1, "concurrent clients")
	conns := flag.Int("conns", 1, "gRPC connections shared by the clients")
	total := flag.Int("total", 10000, "total puts")
	keySize := flag.Int("key-size", 8, "key size in bytes")
	valSize := flag.Int("val-size", 256, "value size in bytes")
	keySpace := flag.Int("key-space-size", 1, "number of distinct keys")
	flag.Parse()

	cs := make([]*clientv3.Client, *conns)
	for i := range cs {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{*endpoint}, DialTimeout: 5 * time.Second})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cs[i] = c
	}
	value := string(make([]byte, *valSize))
	var next int64 = -1
	latencies := make([]time.Duration, *total)
	var failures int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := cs[w%len(cs)]
			r := rand.New(rand.NewSource(int64(w)))
			key := make([]byte, *keySize)
			for {
				i := atomic.AddInt64(&next, 1)
				if i >= int64(*total) {
					return
				}
				k := r.Intn(*keySpace)
				for j := range key {
					key[j] = byte('a' + (k>>(uint(j)*4))&0xf)
				}
				t := time.Now()
				if _, err := c.Put(context.Background(), string(key), value); err != nil {
					atomic.AddInt64(&failures, 1)
				}
				latencies[i] = time.Since(t)
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	pct := func(p float64) float64 { return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000 }
	out := map[string]interface{}{
		"clients": *clients, "conns": *conns, "total": *total, "failures": failures,
		"seconds": elapsed.Seconds(), "requests_per_second": float64(*total) / elapsed.Seconds(),
		"p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	for _, c := range cs {
		c.Close()
	}
}
