// watchload checks and measures watch fan-out and lease keep-alives through the Go client
// (clientv3), as Kubernetes uses them.
//
//	watchload -mode fanout -watchers 1000 -streams 1 -puts 10000
//	    every watcher watches one key; one writer puts it -puts times. Each watcher must get
//	    every event exactly once and in revision order. Prints delivery latency (put start to
//	    event arrival) percentiles and whether the check passed.
//	watchload -mode keepalive -leases 100 -clients 10 -duration 5s
//	    keep-alive round trips per second over -clients connections.
//	watchload -mode shared -big-mb 50
//	    one connection: a range of -big-mb MiB on one stream while small gets run one after
//	    another beside it; prints the small gets' latency while the range is in flight.
//	watchload -mode expiry -leases 100 -clients 20
//	    -clients writers put as fast as they can while -leases leases of the minimum TTL (2 s)
//	    are granted, each with a key, and left to expire; a watcher on the leased keys times
//	    each DELETE's arrival against its lease's earliest expiry (grant sent + TTL). Every key
//	    must be deleted; prints how late the deletes came.
//	watchload -mode registration
//	    service discovery as clients do it: a service puts its key under a 2 s lease and keeps
//	    the lease alive with the client's KeepAlive stream; after 5 s the key must still be
//	    there; then the service's client closes, and two watchers on other connections must
//	    each see the key's DELETE within the TTL plus a second.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func connect(endpoint string) *clientv3.Client {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second,
		MaxCallRecvMsgSize: 1 << 30})
	if err != nil {
		fail(err)
	}
	return c
}

// percentiles sorts durations and returns a function from a fraction (0.5, 0.99, 1.0) to that
// percentile in milliseconds (0 when there are none).
func percentiles(durations []time.Duration) func(float64) float64 {
	sort.Slice(durations, func(a, b int) bool { return durations[a] < durations[b] })
	return func(p float64) float64 {
		if len(durations) == 0 {
			return 0
		}
		return float64(durations[int(p*float64(len(durations)-1))].Microseconds()) / 1000
	}
}

func main() {
	endpoint := flag.String("endpoint", "127.0.0.1:2379", "endpoint")
	writerEndpoint := flag.String("writer-endpoint", "", "where fanout's puts go (default: -endpoint)")
	mode := flag.String("mode", "fanout", "fanout, keepalive, shared, defrag, expiry or registration")
	watchers := flag.Int("watchers", 100, "watchers (fanout)")
	streams := flag.Int("streams", 1, "gRPC watch streams the watchers share (fanout)")
	puts := flag.Int("puts", 1000, "puts (fanout)")
	leases := flag.Int("leases", 100, "leases (keepalive, expiry)")
	clients := flag.Int("clients", 10, "connections (keepalive); writers (expiry)")
	duration := flag.Duration("duration", 5*time.Second, "run time (keepalive)")
	bigMB := flag.Int("big-mb", 50, "size of the large range in MiB (shared); of compacted history (defrag)")
	flag.Parse()
	switch *mode {
	case "fanout":
		writer := *writerEndpoint
		if writer == "" {
			writer = *endpoint
		}
		fanout(*endpoint, writer, *watchers, *streams, *puts)
	case "keepalive":
		keepalive(*endpoint, *leases, *clients, *duration)
	case "defrag":
		defrag(*endpoint, *bigMB, *clients)
	case "shared":
		shared(*endpoint, *bigMB)
	case "expiry":
		expiry(*endpoint, *leases, *clients)
	case "registration":
		registration(*endpoint)
	default:
		fail(fmt.Errorf("unknown mode %q", *mode))
	}
}

func fanout(endpoint, writerEndpoint string, watchers, streams, puts int) {
	writer := connect(writerEndpoint)
	key := fmt.Sprintf("watchload/%d", time.Now().UnixNano())
	start, err := writer.Get(context.Background(), key)
	if err != nil {
		fail(err)
	}
	firstRev := start.Header.Revision + 1
	sent := make([]int64, puts) // unix nanos when put i started (revision firstRev+i)
	latencies := make([][]time.Duration, watchers)
	errors := make([]string, watchers)
	var ready, done sync.WaitGroup
	for s := 0; s < streams; s++ {
		c := connect(endpoint)
		defer c.Close()
		for w := s; w < watchers; w += streams {
			ready.Add(1)
			done.Add(1)
			go func(w int, c *clientv3.Client) {
				defer done.Done()
				ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(context.Background()))
				defer cancel()
				ch := c.Watch(ctx, key, clientv3.WithRev(firstRev), clientv3.WithCreatedNotify())
				<-ch // created
				ready.Done()
				next := firstRev
				lat := make([]time.Duration, 0, puts)
				for resp := range ch {
					if err := resp.Err(); err != nil {
						errors[w] = err.Error()
						return
					}
					now := time.Now().UnixNano()
					for _, ev := range resp.Events {
						if ev.Kv.ModRevision != next {
							errors[w] = fmt.Sprintf("watcher %d: got revision %d, want %d", w, ev.Kv.ModRevision, next)
							return
						}
						lat = append(lat, time.Duration(now-atomic.LoadInt64(&sent[next-firstRev])))
						next++
					}
					if next == firstRev+int64(puts) {
						latencies[w] = lat
						return
					}
				}
				errors[w] = fmt.Sprintf("watcher %d: stream ended at revision %d", w, next)
			}(w, c)
		}
	}
	ready.Wait()
	begin := time.Now()
	for i := 0; i < puts; i++ {
		atomic.StoreInt64(&sent[i], time.Now().UnixNano())
		resp, err := writer.Put(context.Background(), key, fmt.Sprintf("v%d", i))
		if err != nil {
			fail(err)
		}
		if resp.Header.Revision != firstRev+int64(i) {
			fail(fmt.Errorf("another writer interfered: put %d got revision %d", i, resp.Header.Revision))
		}
	}
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	timedOut := false
	select {
	case <-finished:
	case <-time.After(10 * time.Minute):
		timedOut = true
	}
	elapsed := time.Since(begin)
	var all []time.Duration
	failures := 0
	for w := range errors {
		if errors[w] != "" || latencies[w] == nil {
			failures++
		}
		all = append(all, latencies[w]...)
	}
	pct := percentiles(all)
	var firstError string
	for _, e := range errors {
		if e != "" {
			firstError = e
			break
		}
	}
	out := map[string]interface{}{
		"watchers": watchers, "streams": streams, "puts": puts, "deliveries": len(all),
		"failed_watchers": failures, "timed_out": timedOut, "first_error": firstError, "seconds": elapsed.Seconds(),
		"p50_ms": pct(0.5), "p99_ms": pct(0.99), "ok": failures == 0 && !timedOut,
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	if failures != 0 || timedOut {
		os.Exit(1)
	}
}

func keepalive(endpoint string, leases, clients int, duration time.Duration) {
	cs := make([]*clientv3.Client, clients)
	for i := range cs {
		cs[i] = connect(endpoint)
		defer cs[i].Close()
	}
	ids := make([]clientv3.LeaseID, leases)
	for i := range ids {
		resp, err := cs[i%clients].Grant(context.Background(), 60)
		if err != nil {
			fail(err)
		}
		ids[i] = resp.ID
	}
	var count, failures int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(duration)
	var lat []time.Duration
	var latMu sync.Mutex
	for i := range ids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			for time.Now().Before(deadline) {
				t := time.Now()
				if _, err := cs[i%clients].KeepAliveOnce(context.Background(), ids[i]); err != nil {
					atomic.AddInt64(&failures, 1)
					continue
				}
				local = append(local, time.Since(t))
				atomic.AddInt64(&count, 1)
			}
			latMu.Lock()
			lat = append(lat, local...)
			latMu.Unlock()
		}(i)
	}
	wg.Wait()
	pct := percentiles(lat)
	out := map[string]interface{}{
		"leases": leases, "clients": clients, "keepalives": count, "failures": failures,
		"per_second": float64(count) / duration.Seconds(), "p50_ms": pct(0.5), "p99_ms": pct(0.99),
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

// defrag writes bigMB MiB of history over 1000 keys and compacts it away, then runs `writers`
// clients putting small values while one Defragment runs; it reports the latency of the puts
// that overlapped the defragmentation (etcd blocks writes for all of it).
func defrag(endpoint string, bigMB int, writers int) {
	c := connect(endpoint)
	defer c.Close()
	value := string(make([]byte, 4096))
	var rev int64
	for i := 0; i < bigMB*256; i++ {
		resp, err := c.Put(context.Background(), fmt.Sprintf("history/%04d", i%1000), value)
		if err != nil {
			fail(err)
		}
		rev = resp.Header.Revision
	}
	if _, err := c.Compact(context.Background(), rev, clientv3.WithCompactPhysical()); err != nil {
		fail(err)
	}
	type sample struct {
		start, end time.Time
	}
	var mu sync.Mutex
	var samples []sample
	var stop int32
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := 0; atomic.LoadInt32(&stop) == 0; n++ {
				t := time.Now()
				if _, err := c.Put(context.Background(), fmt.Sprintf("live/%d/%d", w, n), "x"); err != nil {
					fail(err)
				}
				mu.Lock()
				samples = append(samples, sample{t, time.Now()})
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(500 * time.Millisecond)
	defragStart := time.Now()
	if _, err := c.Defragment(context.Background(), endpoint); err != nil {
		fail(err)
	}
	defragEnd := time.Now()
	time.Sleep(200 * time.Millisecond)
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	var lat []time.Duration
	for _, s := range samples {
		if s.end.After(defragStart) && s.start.Before(defragEnd) {
			lat = append(lat, s.end.Sub(s.start))
		}
	}
	pct := percentiles(lat)
	out := map[string]interface{}{
		"history_mb": bigMB, "defrag_seconds": defragEnd.Sub(defragStart).Seconds(), "puts_during_defrag": len(lat),
		"p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": pct(1.0),
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func shared(endpoint string, bigMB int) {
	c := connect(endpoint)
	defer c.Close()
	prefix := fmt.Sprintf("shared/%d/", time.Now().UnixNano())
	value := string(make([]byte, 1<<20))
	for i := 0; i < bigMB; i++ {
		if _, err := c.Put(context.Background(), fmt.Sprintf("%sbig/%04d", prefix, i), value); err != nil {
			fail(err)
		}
	}
	if _, err := c.Put(context.Background(), prefix+"small", "s"); err != nil {
		fail(err)
	}
	var bigDone int32
	bigErr := make(chan error, 1)
	start := time.Now()
	var bigSeconds float64
	go func() {
		resp, err := c.Get(context.Background(), prefix+"big/", clientv3.WithPrefix())
		bigSeconds = time.Since(start).Seconds()
		if err == nil && len(resp.Kvs) != bigMB {
			err = fmt.Errorf("range returned %d keys", len(resp.Kvs))
		}
		atomic.StoreInt32(&bigDone, 1)
		bigErr <- err
	}()
	var lat []time.Duration
	for atomic.LoadInt32(&bigDone) == 0 {
		t := time.Now()
		if _, err := c.Get(context.Background(), prefix+"small"); err != nil {
			fail(err)
		}
		if atomic.LoadInt32(&bigDone) == 0 {
			lat = append(lat, time.Since(t))
		}
	}
	if err := <-bigErr; err != nil {
		fail(err)
	}
	pct := percentiles(lat)
	out := map[string]interface{}{
		"big_mb": bigMB, "big_seconds": bigSeconds, "small_gets": len(lat),
		"p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": pct(1.0),
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func expiry(endpoint string, leases, writers int) {
	const ttl = 2 // etcd's minimum with the default election timeout
	c := connect(endpoint)
	defer c.Close()
	prefix := fmt.Sprintf("expiry/%d/", time.Now().UnixNano())
	start, err := c.Get(context.Background(), prefix)
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Only the leased keys are watched (not the writers' keys), and each DELETE is timed as it
	// arrives, whatever the grant loop is doing.
	type deletion struct {
		key string
		at  time.Time
	}
	deleted := make(chan deletion, leases)
	events := c.Watch(ctx, prefix+"lease/", clientv3.WithPrefix(), clientv3.WithRev(start.Header.Revision+1))
	go func() {
		for response := range events {
			if err := response.Err(); err != nil {
				fail(err)
			}
			now := time.Now()
			for _, event := range response.Events {
				if event.Type == clientv3.EventTypeDelete {
					deleted <- deletion{string(event.Kv.Key), now}
				}
			}
		}
	}()

	stop := make(chan struct{})
	var writes int64
	var load sync.WaitGroup
	for w := 0; w < writers; w++ {
		load.Add(1)
		go func(w int) {
			defer load.Done()
			key := fmt.Sprintf("%sload/%d", prefix, w)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.Put(context.Background(), key, "x"); err != nil {
					fail(err)
				}
				atomic.AddInt64(&writes, 1)
			}
		}(w)
	}
	began := time.Now()

	// key -> the earliest its lease can expire (grant sent + TTL), so lateness measured from it
	// is an upper bound on how late the server revoked.
	due := make(map[string]time.Time, leases)
	for i := 0; i < leases; i++ {
		sent := time.Now()
		lease, err := c.Grant(context.Background(), ttl)
		if err != nil {
			fail(err)
		}
		key := fmt.Sprintf("%slease/%04d", prefix, i)
		if _, err := c.Put(context.Background(), key, "v", clientv3.WithLease(lease.ID)); err != nil {
			fail(err)
		}
		due[key] = sent.Add(ttl * time.Second)
	}

	var late []time.Duration
	timeout := time.After(ttl*time.Second + 30*time.Second)
	for len(late) < leases {
		select {
		case d := <-deleted:
			if deadline, ok := due[d.key]; ok {
				late = append(late, d.at.Sub(deadline))
				delete(due, d.key)
			}
		case <-timeout:
			fail(fmt.Errorf("%d of %d leased keys were not deleted", len(due), leases))
		}
	}
	close(stop)
	load.Wait()
	pct := percentiles(late)
	out := map[string]interface{}{
		"leases": leases, "deleted": len(late), "writers": writers, "p50_ms": pct(0.5), "p99_ms": pct(0.99),
		"max_ms": pct(1.0), "writes_per_second": float64(atomic.LoadInt64(&writes)) / time.Since(began).Seconds(),
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func registration(endpoint string) {
	const ttl = 2
	prefix := fmt.Sprintf("services/%d/", time.Now().UnixNano())
	key := prefix + "web-1"
	service := connect(endpoint)
	lease, err := service.Grant(context.Background(), ttl)
	if err != nil {
		fail(err)
	}
	registered, err := service.Put(context.Background(), key, "10.0.0.1:8080", clientv3.WithLease(lease.ID))
	if err != nil {
		fail(err)
	}
	alive, err := service.KeepAlive(context.Background(), lease.ID)
	if err != nil {
		fail(err)
	}
	go func() {
		for range alive { // the client renews at a third of the TTL; drain its acknowledgements
		}
	}()

	deleted := make(chan time.Time, 2)
	for w := 0; w < 2; w++ {
		watcher := connect(endpoint)
		defer watcher.Close()
		events := watcher.Watch(context.Background(), prefix, clientv3.WithPrefix(),
			clientv3.WithRev(registered.Header.Revision+1))
		go func() {
			for response := range events {
				for _, event := range response.Events {
					if event.Type == clientv3.EventTypeDelete && string(event.Kv.Key) == key {
						deleted <- time.Now()
						return
					}
				}
			}
		}()
	}

	time.Sleep(5 * time.Second)
	check := connect(endpoint)
	defer check.Close()
	present, err := check.Get(context.Background(), key)
	if err != nil {
		fail(err)
	}
	stopped := time.Now()
	service.Close() // the service dies: no more keep-alives
	var after []float64
	timeout := time.After(ttl*time.Second + 5*time.Second)
	for len(after) < 2 {
		select {
		case at := <-deleted:
			after = append(after, float64(at.Sub(stopped).Milliseconds()))
		case <-timeout:
			fail(fmt.Errorf("%d of 2 watchers saw the key's DELETE", len(after)))
		}
	}
	gone, err := check.Get(context.Background(), key)
	if err != nil {
		fail(err)
	}
	ok := len(present.Kvs) == 1 && len(gone.Kvs) == 0 && after[0] <= (ttl+1)*1000 && after[1] <= (ttl+1)*1000
	out := map[string]interface{}{
		"kept_alive": len(present.Kvs) == 1, "deleted_after_stop_ms": after, "gone": len(gone.Kvs) == 0, "ok": ok,
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	if !ok {
		os.Exit(1)
	}
}
