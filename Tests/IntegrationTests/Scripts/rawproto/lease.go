package main

import (
	"context"
	"fmt"
	"io"
	"sort"

	"go.etcd.io/etcd/clientv3"
	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
)

// leaseScenario sends raw Lease and KV requests and prints every outcome. Values that depend on
// timing or on the server's ID generator are normalized: a remaining TTL within three seconds
// of the granted one prints as "live", a server-assigned lease ID as "assigned".
func leaseScenario(client *clientv3.Client) {
	ctx := context.Background()
	conn := client.ActiveConnection()
	lease := pb.NewLeaseClient(conn)
	kv := pb.NewKVClient(conn)
	var assigned int64
	normalize := func(id int64) string {
		if id != 0 && id == assigned {
			return "assigned"
		}
		return fmt.Sprint(id)
	}
	step := func(label string, outcome string) {
		fmt.Println("# " + label)
		fmt.Println(outcome)
	}
	grant := func(label string, id, ttl int64) {
		response, err := lease.LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: id, TTL: ttl})
		if err == nil && id == 0 {
			assigned = response.ID
			response.ID = 0
		}
		step(label, describe(response, err))
	}
	timeToLive := func(label string, id int64, keys bool) {
		response, err := lease.LeaseTimeToLive(ctx, &pb.LeaseTimeToLiveRequest{ID: id, Keys: keys})
		if err != nil {
			step(label, describe(response, err))
			return
		}
		// etcd lists a lease's keys in Go map order.
		sort.Slice(response.Keys, func(i, j int) bool { return string(response.Keys[i]) < string(response.Keys[j]) })
		remaining := fmt.Sprint(response.TTL)
		if response.TTL > 0 && response.TTL <= response.GrantedTTL && response.TTL > response.GrantedTTL-3 {
			remaining = "live"
		}
		response.TTL = 0
		step(label, fmt.Sprintf("%s remaining: %s", describe(response, nil), remaining))
	}
	revoke := func(label string, id int64) {
		response, err := lease.LeaseRevoke(ctx, &pb.LeaseRevokeRequest{ID: id})
		step(label, describe(response, err))
	}
	put := func(label, key string, id int64) {
		response, err := kv.Put(ctx, &pb.PutRequest{Key: []byte(key), Value: []byte("v"), Lease: id})
		step(label, describe(response, err))
	}

	grant("client-chosen id", 100, 60)
	grant("the same id again", 100, 60)
	grant("server-assigned id", 0, 30)
	grant("ttl below the minimum", 101, 1)
	timeToLive("granted ttl is the minimum", 101, false)
	revoke("revoke it", 101)
	grant("negative ttl", 102, -5)
	timeToLive("granted ttl of a negative request", 102, false)
	revoke("revoke it", 102)
	grant("ttl above the maximum", 103, 9000000001)
	grant("negative id", -7, 60)
	put("put under the lease", "k1", 100)
	put("another key under the lease", "k2", 100)
	put("put under an unknown lease", "k3", 999)
	timeToLive("time to live with keys", 100, true)
	timeToLive("time to live without keys", 100, false)
	timeToLive("time to live of an unknown lease", 999, true)

	leases, err := lease.LeaseLeases(ctx, &pb.LeaseLeasesRequest{})
	if err == nil {
		sort.Slice(leases.Leases, func(i, j int) bool { return leases.Leases[i].ID < leases.Leases[j].ID })
		fmt.Println("# leases")
		fmt.Print(leases.Header.String(), " leases:")
		for _, status := range leases.Leases {
			fmt.Print(" ", normalize(status.ID))
		}
		fmt.Println()
	} else {
		step("leases", describe(leases, err))
	}

	stream, err := lease.LeaseKeepAlive(ctx)
	if err != nil {
		fail(err)
	}
	fmt.Println("# keep-alives on one stream: known, unknown, known")
	for _, id := range []int64{100, 999, 100} {
		if err := stream.Send(&pb.LeaseKeepAliveRequest{ID: id}); err != nil {
			fail(err)
		}
		response, err := stream.Recv()
		if err == io.EOF {
			fmt.Println("stream ended")
			break
		}
		fmt.Println(describe(response, err))
	}
	if err := stream.CloseSend(); err != nil {
		fail(err)
	}

	revoke("revoke deletes the keys", 100)
	keys, err := kv.Range(ctx, &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l")})
	step("keys after the revoke", describe(keys, err))
	revoke("revoke again", 100)
	revoke("revoke an unknown lease", 999)
	timeToLive("time to live after the revoke", 100, true)
	revoke("revoke the server-assigned lease", assigned)
}
