// putload drives etcd endpoints with requests through the Go client (clientv3), the way etcd's
// benchmark tool does: N clients share C connections, each client issues its next request as
// soon as the previous one returns. -op picks the request: put, txn (a put under a compare),
// get (linearizable) or get-serializable. -endpoint takes a comma-separated list; connection i
// goes to endpoint i mod n. It prints throughput and latency percentiles as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/pkg/transport"
)

func main() {
	endpoint := flag.String("endpoint", "127.0.0.1:2379", "endpoints, comma-separated")
	op := flag.String("op", "put", "put, txn, get or get-serializable")
	clients := flag.Int("clients", 1, "concurrent clients")
	conns := flag.Int("conns", 1, "gRPC connections shared by the clients")
	total := flag.Int("total", 10000, "total puts")
	keySize := flag.Int("key-size", 8, "key size in bytes")
	valSize := flag.Int("val-size", 256, "value size in bytes")
	keySpace := flag.Int("key-space-size", 1, "number of distinct keys")
	cacert := flag.String("cacert", "", "CA certificate: connect with TLS")
	cert := flag.String("cert", "", "client certificate (with -cacert)")
	key := flag.String("key", "", "client key (with -cacert)")
	user := flag.String("user", "", "name:password: authenticate as this user")
	flag.Parse()

	config := clientv3.Config{DialTimeout: 5 * time.Second}
	if *user != "" {
		parts := strings.SplitN(*user, ":", 2)
		if len(parts) != 2 {
			fmt.Fprintln(os.Stderr, "-user wants name:password")
			os.Exit(2)
		}
		config.Username, config.Password = parts[0], parts[1]
	}
	if *cacert != "" {
		info := transport.TLSInfo{CertFile: *cert, KeyFile: *key, TrustedCAFile: *cacert}
		tlsConfig, err := info.ClientConfig()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		config.TLS = tlsConfig
	}

	endpoints := strings.Split(*endpoint, ",")
	cs := make([]*clientv3.Client, *conns)
	for i := range cs {
		config.Endpoints = []string{endpoints[i%len(endpoints)]}
		c, err := clientv3.New(config)
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
				var err error
				switch *op {
				case "put":
					_, err = c.Put(context.Background(), string(key), value)
				case "txn":
					_, err = c.Txn(context.Background()).
						If(clientv3.Compare(clientv3.ModRevision(string(key)), ">", -1)).
						Then(clientv3.OpPut(string(key), value)).Commit()
				case "get":
					_, err = c.Get(context.Background(), string(key))
				case "get-serializable":
					_, err = c.Get(context.Background(), string(key), clientv3.WithSerializable())
				default:
					fmt.Fprintln(os.Stderr, "unknown -op", *op)
					os.Exit(2)
				}
				if err != nil {
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
