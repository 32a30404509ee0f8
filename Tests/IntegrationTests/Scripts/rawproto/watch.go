package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gogo/protobuf/proto"
	"go.etcd.io/etcd/clientv3"
	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
	"go.etcd.io/etcd/mvcc/mvccpb"
)

// shorten replaces a long value by its length, to keep transcripts readable.
func shorten(kv *mvccpb.KeyValue) {
	if kv != nil && len(kv.Value) > 64 {
		kv.Value = []byte(fmt.Sprintf("<%d bytes>", len(kv.Value)))
	}
}

// render prints a response on one line.
func render(response *pb.WatchResponse) string {
	copied := proto.Clone(response).(*pb.WatchResponse)
	for _, event := range copied.Events {
		shorten(event.Kv)
		shorten(event.PrevKv)
	}
	return strings.TrimSpace(proto.CompactTextString(copied))
}

// watchScenario drives one Watch stream with raw requests and prints every response.
func watchScenario(client *clientv3.Client) {
	ctx := context.Background()
	kv := pb.NewKVClient(client.ActiveConnection())
	put := func(key, value string) {
		if _, err := kv.Put(ctx, &pb.PutRequest{Key: []byte(key), Value: []byte(value)}); err != nil {
			fail(err)
		}
	}
	put("a", "1")
	put("b", "2")
	put("a", "3")
	put("c", "4")
	if _, err := kv.DeleteRange(ctx, &pb.DeleteRangeRequest{Key: []byte("b")}); err != nil {
		fail(err)
	}
	// Three 800 KiB values: replayed together they exceed the 1.5 MiB request limit plus the
	// 512 KiB gRPC allowance, the size above which etcd fragments.
	big := strings.Repeat("v", 800*1024)
	put("big/1", big)
	put("big/2", big)
	put("big/3", big)

	stream, err := pb.NewWatchClient(client.ActiveConnection()).Watch(ctx)
	if err != nil {
		fail(err)
	}
	responses := make(chan *pb.WatchResponse, 1024)
	go func() {
		for {
			response, err := stream.Recv()
			if err != nil {
				close(responses)
				return
			}
			responses <- response
		}
	}()
	// send sends a request (if any), prints the `expect` responses it should bring (waiting up
	// to 15 s for them, however slow the server), then anything more that arrives in a short
	// quiet window.
	send := func(label string, request *pb.WatchRequest, expect int) {
		fmt.Println("# " + label)
		if request != nil {
			if err := stream.Send(request); err != nil {
				fail(err)
			}
		}
		deadline := time.After(15 * time.Second)
		for received := 0; ; received++ {
			wait := deadline
			if received >= expect {
				wait = time.After(300 * time.Millisecond)
			}
			select {
			case response, ok := <-responses:
				if !ok {
					fmt.Println("stream ended")
					return
				}
				fmt.Println(render(response))
			case <-wait:
				if received < expect {
					fmt.Printf("timed out after %d of %d responses\n", received, expect)
				}
				return
			}
		}
	}
	create := func(request pb.WatchCreateRequest) *pb.WatchRequest {
		return &pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &request}}
	}
	cancel := func(id int64) *pb.WatchRequest {
		return &pb.WatchRequest{RequestUnion: &pb.WatchRequest_CancelRequest{CancelRequest: &pb.WatchCancelRequest{WatchId: id}}}
	}
	progress := &pb.WatchRequest{RequestUnion: &pb.WatchRequest_ProgressRequest{ProgressRequest: &pb.WatchProgressRequest{}}}

	send("client-chosen id, history from revision 2", create(pb.WatchCreateRequest{
		Key: []byte("a"), StartRevision: 2, WatchId: 7, PrevKv: true}), 2)
	send("duplicate id", create(pb.WatchCreateRequest{Key: []byte("b"), WatchId: 7}), 1)
	send("empty range", create(pb.WatchCreateRequest{Key: []byte("c"), RangeEnd: []byte("a")}), 1)
	send("empty range under a duplicate id", create(pb.WatchCreateRequest{Key: []byte("c"), RangeEnd: []byte("a"), WatchId: 7}), 1)
	send("server-assigned id", create(pb.WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("z")}), 1)
	send("no-put filter over every key, from revision 1", create(pb.WatchCreateRequest{
		Key: []byte{0}, RangeEnd: []byte{0}, StartRevision: 1, Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NOPUT}}), 2)
	send("no-delete filter", create(pb.WatchCreateRequest{
		Key: []byte("b"), StartRevision: 1, Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NODELETE}}), 2)
	send("fragmented replay of 2.4 MB", create(pb.WatchCreateRequest{
		Key: []byte("big/"), RangeEnd: []byte("big0"), StartRevision: 1, Fragment: true}), 3)
	send("unfragmented replay of 2.4 MB", create(pb.WatchCreateRequest{
		Key: []byte("big/"), RangeEnd: []byte("big0"), StartRevision: 1}), 2)
	send("future revision waits", create(pb.WatchCreateRequest{Key: []byte("f"), StartRevision: 100}), 1)
	send("progress request while synced", progress, 1)
	send("cancel a known id", cancel(7), 1)
	send("cancel an unknown id", cancel(99), 0)
	put("a", "5")
	send("a put reaches the live watchers", nil, 1)
	if err := stream.CloseSend(); err != nil {
		fail(err)
	}
}

// progressScenario, against a server started with a short
// --experimental-watch-progress-notify-interval: of two quiet watchers on one stream, only the
// one that asked for progress notifications gets them, periodically.
func progressScenario(client *clientv3.Client) {
	ctx := context.Background()
	if _, err := pb.NewKVClient(client.ActiveConnection()).Put(ctx, &pb.PutRequest{Key: []byte("a"), Value: []byte("1")}); err != nil {
		fail(err)
	}
	// Listen for 1.8 s: three or so intervals of 500 ms. The stream is cancelled by a timer, not
	// given a deadline: a deadline travels to the server as grpc-timeout, and the server may end
	// the stream with DEADLINE_EXCEEDED a moment before the client's own context expires.
	listen, stop := context.WithCancel(ctx)
	defer stop()
	time.AfterFunc(1800*time.Millisecond, stop)
	stream, err := pb.NewWatchClient(client.ActiveConnection()).Watch(listen)
	if err != nil {
		fail(err)
	}
	for _, request := range []pb.WatchCreateRequest{
		{Key: []byte("a"), WatchId: 3, ProgressNotify: true},
		{Key: []byte("b"), WatchId: 4},
	} {
		request := request
		if err := stream.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &request}}); err != nil {
			fail(err)
		}
	}
	notifications := map[int64]int{}
	var first *pb.WatchResponse
	for {
		response, err := stream.Recv()
		if listen.Err() != nil {
			break
		}
		if err != nil {
			fail(err)
		}
		if response.Created || response.Canceled || len(response.Events) > 0 {
			fmt.Println(render(response))
			continue
		}
		notifications[response.WatchId]++
		if first == nil {
			first = response
		}
	}
	fmt.Println("# first progress notification")
	if first != nil {
		fmt.Println(render(first))
	}
	fmt.Printf("# watch 3 got at least two: %v; watch 4 got none: %v\n", notifications[3] >= 2, notifications[4] == 0)
}
