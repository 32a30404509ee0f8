// rawproto sends raw gRPC requests that etcdctl never sends and prints every response or error,
// one line each, so that two servers' transcripts can be compared line for line.
//
//	rawproto watch ENDPOINT
//	    one Watch stream: client-chosen and duplicate watch IDs, empty ranges, filters,
//	    fragmenting, cancels of unknown IDs, progress requests.
//	rawproto progress ENDPOINT
//	    periodic progress notifications, against a server with a short
//	    --experimental-watch-progress-notify-interval.
//	rawproto lease ENDPOINT
//	    client-chosen and duplicate lease IDs, the TTL floor and ceiling, keep-alives of known
//	    and unknown leases on one stream, time-to-live with keys, revokes, puts under leases.
package main

import (
	"fmt"
	"os"
	"time"

	"go.etcd.io/etcd/clientv3"
	"google.golang.org/grpc/status"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// describe prints a call's outcome: the response on success, the gRPC status otherwise.
func describe(response fmt.Stringer, err error) string {
	if err != nil {
		s := status.Convert(err)
		return fmt.Sprintf("error %s: %s", s.Code(), s.Message())
	}
	return response.String()
}

func main() {
	if len(os.Args) != 3 {
		fail(fmt.Errorf("usage: rawproto watch|progress|lease ENDPOINT"))
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{os.Args[2]}, DialTimeout: 5 * time.Second,
		MaxCallRecvMsgSize: 1 << 30})
	if err != nil {
		fail(err)
	}
	defer client.Close()
	switch os.Args[1] {
	case "watch":
		watchScenario(client)
	case "progress":
		progressScenario(client)
	case "lease":
		leaseScenario(client)
	default:
		fail(fmt.Errorf("unknown scenario %q", os.Args[1]))
	}
}
