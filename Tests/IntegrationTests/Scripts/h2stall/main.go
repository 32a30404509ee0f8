// h2stall checks that one HTTP/2 stream whose reader stops reading starves no other stream on
// the same connection. It speaks HTTP/2 frames itself, so that it controls flow control:
//
//	h2stall ENDPOINT KEYS [CA CERT KEY]
//
// It puts KEYS values of 1 MiB under big/, then on one connection asks for the whole big/ range
// on stream 1 and never grants that stream more than the initial 64 KiB window (the connection
// window is wide open). While stream 1 is stalled, small gets run one after another on further
// streams: each must complete. Then stream 1's window opens and its response must arrive whole.
// A server that writes one response at a time blocks the first small get behind stream 1
// forever, and h2stall fails after a timeout. Prints a JSON summary on success.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/clientv3"
	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const smallGets = 50

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

type stream struct {
	data     bytes.Buffer
	status   string
	message  string
	finished bool
}

type conn struct {
	net.Conn
	framer  *http2.Framer
	encoder *hpack.Encoder
	block   bytes.Buffer
	scheme  string
	streams map[uint32]*stream
	next    uint32
}

func (c *conn) open(path string, message []byte) uint32 {
	id := c.next
	c.next += 2
	c.block.Reset()
	for _, field := range [][2]string{{":method", "POST"}, {":scheme", c.scheme}, {":path", path},
		{":authority", "localhost"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		if err := c.encoder.WriteField(hpack.HeaderField{Name: field[0], Value: field[1]}); err != nil {
			fail("hpack: %v", err)
		}
	}
	if err := c.framer.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.block.Bytes(),
		EndHeaders: true}); err != nil {
		fail("write headers: %v", err)
	}
	body := make([]byte, 5+len(message))
	binary.BigEndian.PutUint32(body[1:5], uint32(len(message)))
	copy(body[5:], message)
	if err := c.framer.WriteData(id, true, body); err != nil {
		fail("write data: %v", err)
	}
	c.streams[id] = &stream{}
	return id
}

// readUntil reads frames until stream id has finished, or the deadline passes.
func (c *conn) readUntil(id uint32, deadline time.Time) {
	c.readWhile(func() bool { return !c.streams[id].finished }, deadline)
}

// readWhile reads frames while more is true, or until the deadline passes.
func (c *conn) readWhile(more func() bool, deadline time.Time) {
	c.SetReadDeadline(deadline)
	for more() {
		frame, err := c.framer.ReadFrame()
		if err != nil {
			fail("reading: %v (stream 1 has %d bytes)", err, c.streams[1].data.Len())
		}
		switch f := frame.(type) {
		case *http2.DataFrame:
			s := c.streams[f.StreamID]
			if s == nil {
				fail("data on unknown stream %d", f.StreamID)
			}
			s.data.Write(f.Data())
			// Only the connection's window, and the windows of streams other than 1, reopen.
			if len(f.Data()) > 0 {
				c.framer.WriteWindowUpdate(0, uint32(len(f.Data())))
				if f.StreamID != 1 && !f.StreamEnded() {
					c.framer.WriteWindowUpdate(f.StreamID, uint32(len(f.Data())))
				}
			}
			if f.StreamEnded() {
				s.finished = true
			}
		case *http2.MetaHeadersFrame:
			s := c.streams[f.StreamID]
			if s == nil {
				fail("headers on unknown stream %d", f.StreamID)
			}
			if v := f.PseudoValue("status"); v != "" && v != "200" {
				fail("stream %d: HTTP status %s", f.StreamID, v)
			}
			for _, field := range f.RegularFields() {
				switch field.Name {
				case "grpc-status":
					s.status = field.Value
				case "grpc-message":
					s.message = field.Value
				}
			}
			if f.StreamEnded() {
				s.finished = true
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.framer.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				c.framer.WritePing(true, f.Data)
			}
		case *http2.RSTStreamFrame:
			fail("stream %d reset: %v", f.StreamID, f.ErrCode)
		case *http2.GoAwayFrame:
			fail("goaway: %v", f.ErrCode)
		}
	}
}

// message returns the single gRPC message a finished stream carried.
func (c *conn) message(id uint32) []byte {
	s := c.streams[id]
	if s.status != "0" {
		fail("stream %d: grpc-status %q %q", id, s.status, s.message)
	}
	raw := s.data.Bytes()
	if len(raw) < 5 || int(binary.BigEndian.Uint32(raw[1:5])) != len(raw)-5 {
		fail("stream %d: %d bytes are not one gRPC message", id, len(raw))
	}
	return raw[5:]
}

func main() {
	if len(os.Args) != 3 && len(os.Args) != 6 {
		fail("usage: h2stall ENDPOINT KEYS [CA CERT KEY]")
	}
	endpoint := os.Args[1]
	keys, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fail("keys: %v", err)
	}
	var tlsConfig *tls.Config
	if len(os.Args) == 6 {
		pem, err := ioutil.ReadFile(os.Args[3])
		if err != nil {
			fail("ca: %v", err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		pair, err := tls.LoadX509KeyPair(os.Args[4], os.Args[5])
		if err != nil {
			fail("key pair: %v", err)
		}
		tlsConfig = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, ServerName: "localhost",
			NextProtos: []string{"h2"}}
	}

	// The data, through the ordinary client.
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{scheme + "://" + endpoint},
		DialTimeout: 5 * time.Second, TLS: tlsConfig})
	if err != nil {
		fail("client: %v", err)
	}
	value := strings.Repeat("x", 1<<20)
	for i := 0; i < keys; i++ {
		if _, err := client.Put(context.Background(), fmt.Sprintf("big/%03d", i), value); err != nil {
			fail("put: %v", err)
		}
	}
	if _, err := client.Put(context.Background(), "small", "s"); err != nil {
		fail("put: %v", err)
	}
	client.Close()

	var raw net.Conn
	if tlsConfig != nil {
		raw, err = tls.Dial("tcp", endpoint, tlsConfig)
	} else {
		raw, err = net.Dial("tcp", endpoint)
	}
	if err != nil {
		fail("dial: %v", err)
	}
	if _, err := raw.Write([]byte(http2.ClientPreface)); err != nil {
		fail("preface: %v", err)
	}
	c := &conn{Conn: raw, framer: http2.NewFramer(raw, raw), scheme: scheme, streams: map[uint32]*stream{}, next: 1}
	c.encoder = hpack.NewEncoder(&c.block)
	c.framer.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.framer.MaxHeaderListSize = 1 << 20
	c.framer.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16384})
	c.framer.WriteWindowUpdate(0, 1<<30)

	bigRequest, _ := (&pb.RangeRequest{Key: []byte("big/"), RangeEnd: []byte("big0")}).Marshal()
	smallRequest, _ := (&pb.RangeRequest{Key: []byte("small")}).Marshal()
	big := c.open("/etcdserverpb.KV/Range", bigRequest)
	// The big response is on its way once its first bytes arrive; the rest wait for window.
	c.readWhile(func() bool { return c.streams[big].data.Len() == 0 }, time.Now().Add(20*time.Second))

	start := time.Now()
	var slowest time.Duration
	for i := 0; i < smallGets; i++ {
		began := time.Now()
		id := c.open("/etcdserverpb.KV/Range", smallRequest)
		c.readUntil(id, time.Now().Add(20*time.Second))
		var response pb.RangeResponse
		if err := response.Unmarshal(c.message(id)); err != nil || len(response.Kvs) != 1 ||
			string(response.Kvs[0].Value) != "s" {
			fail("small get %d: %v %v", i, err, response.Kvs)
		}
		if d := time.Since(began); d > slowest {
			slowest = d
		}
		delete(c.streams, id)
	}
	stalled := c.streams[big]
	if stalled.finished {
		fail("stream 1 finished inside a 64 KiB window")
	}
	stalledBytes := stalled.data.Len()
	if stalledBytes == 0 || stalledBytes > 65535 {
		fail("stream 1 received %d bytes, beyond its window", stalledBytes)
	}

	// Open stream 1's window: the whole response follows.
	c.framer.WriteWindowUpdate(big, 1<<30)
	c.readUntil(big, time.Now().Add(60*time.Second))
	var response pb.RangeResponse
	if err := response.Unmarshal(c.message(big)); err != nil {
		fail("big range: %v", err)
	}
	for i, kv := range response.Kvs {
		if string(kv.Key) != fmt.Sprintf("big/%03d", i) || len(kv.Value) != 1<<20 {
			fail("big range: key %d is %q with %d bytes", i, kv.Key, len(kv.Value))
		}
	}
	summary, _ := json.Marshal(map[string]interface{}{
		"small_gets": smallGets, "small_seconds": time.Since(start).Seconds(), "slowest_small": slowest.Seconds(),
		"stalled_bytes": stalledBytes, "big_count": len(response.Kvs), "big_bytes": stalled.data.Len(),
	})
	fmt.Println(string(summary))
}
