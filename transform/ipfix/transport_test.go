package ipfix

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calmh/ipfix"

	"github.com/gimsproject/gims/internal/testnet"
)

func TestDialBadURL(t *testing.T) {
	const want = " (want udp://host:port or tcp://host:port)"
	cases := []struct {
		url  string
		want string
	}{
		{"", `invalid ipfix collector URL "": no scheme`},
		{"127.0.0.1:4739", `invalid ipfix collector URL "127.0.0.1:4739": parse "127.0.0.1:4739": first path segment in URL cannot contain colon`},
		{"sctp://127.0.0.1:4739", `invalid ipfix collector URL "sctp://127.0.0.1:4739": unsupported scheme "sctp"`},
		{"udp://127.0.0.1", `invalid ipfix collector URL "udp://127.0.0.1": address 127.0.0.1: missing port in address`},
		{"udp://:4739", `invalid ipfix collector URL "udp://:4739": no host`},
		{"udp://127.0.0.1:0", `invalid ipfix collector URL "udp://127.0.0.1:0": bad port "0"`},
		{"tcp://127.0.0.1:99999", `invalid ipfix collector URL "tcp://127.0.0.1:99999": bad port "99999"`},
		{"tcp://127.0.0.1:ipfix", `invalid ipfix collector URL "tcp://127.0.0.1:ipfix": parse "tcp://127.0.0.1:ipfix": invalid port ":ipfix" after host`},
		{"tcp://127.0.0.1:4739/path", `invalid ipfix collector URL "tcp://127.0.0.1:4739/path": only host and port are allowed`},
		{"udp://127.0.0.1:4739?x=1", `invalid ipfix collector URL "udp://127.0.0.1:4739?x=1": only host and port are allowed`},
		{"udp:127.0.0.1:4739", `invalid ipfix collector URL "udp:127.0.0.1:4739": only host and port are allowed`},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			tr, err := Dial(context.Background(), tc.url, nil)
			if err == nil {
				tr.Close()
				t.Fatalf("Dial(%q): no error", tc.url)
			}
			if got := err.Error(); got != tc.want+want {
				t.Errorf("Dial(%q) error:\n got %s\nwant %s", tc.url, got, tc.want+want)
			}
		})
	}
}

func TestDialGoodURL(t *testing.T) {
	for _, url := range []string{"udp://127.0.0.1:4739", "udp://127.0.0.1:4739/", "udp://[::1]:4739", "udp://localhost:4739"} {
		tr, err := Dial(context.Background(), url, nil)
		if err != nil {
			t.Errorf("Dial(%q) error:\n%+v", url, err)
			continue
		}
		if !tr.Datagram() {
			t.Errorf("Dial(%q).Datagram() = false", url)
		}
		tr.Close()
	}
}

// udpCollector receives datagrams on 127.0.0.1.
type udpCollector struct {
	conn *net.UDPConn
}

func newUDPCollector(t *testing.T) *udpCollector {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("ListenUDP() error:\n%+v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &udpCollector{conn: conn}
}

func (c *udpCollector) url() string { return "udp://" + c.conn.LocalAddr().String() }

// receive returns the n next datagrams.
func (c *udpCollector) receive(t *testing.T, n int) [][]byte {
	t.Helper()
	var out [][]byte
	buf := make([]byte, 65536)
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(out) < n {
		l, err := c.conn.Read(buf)
		if err != nil {
			t.Fatalf("received %d datagrams of %d: %v", len(out), n, err)
		}
		out = append(out, append([]byte(nil), buf[:l]...))
	}
	return out
}

func TestUDPTransport(t *testing.T) {
	col := newUDPCollector(t)
	tr, err := Dial(context.Background(), col.url(), nil)
	if err != nil {
		t.Fatalf("Dial() error:\n%+v", err)
	}
	clock := &fixedClock{t: time.Unix(1709290000, 0)}
	cfg := DefaultConfiguration()
	cfg.Now = clock.Now
	recs := sampleRecords(120)
	e := exportAll(t, cfg, tr, recs)
	s := e.Stats()
	if s.RecordsSent != 120 || s.RecordsLost != 0 {
		t.Fatalf("Stats() = %+v, want 120 records sent, none lost", s)
	}
	msgs := col.receive(t, int(s.MessagesSent))
	cfg.MaxMessageSize = DefaultDatagramMessageSize
	checkStream(t, msgs, cfg, clock.Now(), recs)
}

func TestUDPRefused(t *testing.T) {
	// A port that takes no datagram from us: the kernel answers with ICMP
	// port unreachable and later writes fail with ECONNREFUSED.
	tr, err := Dial(context.Background(), "udp://"+testnet.RefusingUDP(t), nil)
	if err != nil {
		t.Fatalf("Dial() error:\n%+v", err)
	}
	e, err := New(DefaultConfiguration(), tr)
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	recs := sampleRecords(10)
	var errs int
	for i := range recs {
		if err := e.Add(&recs[i]); err != nil {
			t.Fatalf("Add() error:\n%+v", err)
		}
		if err := e.Flush(); err != nil {
			errs++
		}
		time.Sleep(5 * time.Millisecond)
	}
	s := e.Stats()
	if errs == 0 || s.RecordsLost != uint64(errs) || s.MessagesLost != uint64(errs) || s.RecordsSent+s.RecordsLost != 10 {
		t.Errorf("%d Flush errors, Stats() = %+v; want errors counted as lost", errs, s)
	}
	if err := e.Close(); err != nil && !errors.Is(err, ErrClosed) {
		t.Logf("Close(): %v", err)
	}
}

func TestFileTransport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.ipfix")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fixedClock{t: time.Unix(1709290000, 0)}
	cfg := DefaultConfiguration()
	cfg.Now = clock.Now
	cfg.MaxMessageSize = 4096
	recs := sampleRecords(500)
	exportAll(t, cfg, NewFileTransport(bufio.NewWriter(f)), recs)

	// The file is closed by Close: reading it back gives all messages.
	f, err = os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msgs [][]byte
	for {
		msg, _, err := ipfix.Read(f, nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("ipfix.Read() error after %d messages:\n%+v", len(msgs), err)
		}
		msgs = append(msgs, msg)
	}
	tpls := checkStream(t, msgs, cfg, clock.Now(), recs)
	for i, tp := range tpls {
		if (i == 0) != (len(tp) > 0) {
			t.Errorf("message %d has templates %v; want templates in the first message only", i, tp)
		}
	}
}

// tcpCollector accepts IPFIX-over-TCP connections and delivers the
// messages of each connection on a channel.
type tcpCollector struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	msgs  chan tcpMessage
}

type tcpMessage struct {
	conn int // connection number, from 0
	msg  []byte
}

func newTCPCollector(t *testing.T, addr string) *tcpCollector {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger a moment after a restart
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Listen() error:\n%+v", err)
	}
	return newTCPCollectorOn(t, ln)
}

// newTCPCollectorOn is newTCPCollector on a listener.
func newTCPCollectorOn(t *testing.T, ln net.Listener) *tcpCollector {
	c := &tcpCollector{ln: ln, msgs: make(chan tcpMessage, 100)}
	go func() {
		for n := 0; ; n++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.mu.Unlock()
			go func() {
				for {
					msg, _, err := ipfix.Read(conn, nil)
					if err != nil {
						return
					}
					c.msgs <- tcpMessage{n, append([]byte(nil), msg...)}
				}
			}()
		}
	}()
	t.Cleanup(c.kill)
	return c
}

// kill closes the listener and every connection, like a dying collector.
func (c *tcpCollector) kill() {
	c.ln.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
}

func (c *tcpCollector) receive(t *testing.T, n int) []tcpMessage {
	t.Helper()
	var out []tcpMessage
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case m := <-c.msgs:
			out = append(out, m)
		case <-timeout:
			t.Fatalf("received %d messages of %d", len(out), n)
		}
	}
	return out
}

// waitConnected waits until the TCP transport is (dis)connected.
func waitConnected(t *testing.T, tr Transport, want bool) {
	t.Helper()
	tt := tr.(*tcpTransport)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		tt.mu.Lock()
		got := tt.conn != nil
		tt.mu.Unlock()
		if got == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("TCP transport never reached connected=%v", want)
}

func TestTCPReconnect(t *testing.T) {
	col := newTCPCollector(t, "127.0.0.1:0")
	addr := col.ln.Addr().String()
	tr, err := Dial(context.Background(), "tcp://"+addr, nil)
	if err != nil {
		t.Fatalf("Dial() error:\n%+v", err)
	}
	if tr.Datagram() {
		t.Error("TCP transport says it is a datagram transport")
	}
	clock := &fixedClock{t: time.Unix(1709290000, 0)}
	cfg := DefaultConfiguration()
	cfg.Now = clock.Now
	cfg.ObservationDomainID = 7
	e, err := New(cfg, tr)
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	recs := sampleRecords(30)
	add := func(from, to int) error {
		for i := from; i < to; i++ {
			if err := e.Add(&recs[i]); err != nil {
				t.Fatalf("Add() error:\n%+v", err)
			}
		}
		return e.Flush()
	}
	// checkSession checks one connection's messages: the templates come
	// first, alone, with the sequence number of the data that follows.
	checkSession := func(msgs []tcpMessage, conn int, seq uint32, want int) {
		t.Helper()
		d := newDecoder()
		for i, m := range msgs {
			if m.conn != conn {
				t.Fatalf("message %d on connection %d, want %d", i, m.conn, conn)
			}
			info := d.checkMessage(t, m.msg, maxMessageLength)
			if info.hdr.SequenceNumber != seq || info.hdr.DomainID != 7 {
				t.Errorf("message %d: sequence %d domain %d, want %d and 7", i, info.hdr.SequenceNumber, info.hdr.DomainID, seq)
			}
			if i == 0 && (len(info.templates) != 2 || len(info.records) != 0) {
				t.Errorf("first message of connection %d: %d templates, %d records; want 2, 0", conn, len(info.templates), len(info.records))
			}
			if i > 0 && len(info.templates) != 0 {
				t.Errorf("message %d of connection %d repeats templates", i, conn)
			}
			seq += uint32(len(info.records))
			want -= len(info.records)
		}
		if want != 0 {
			t.Errorf("connection %d: %d records missing", conn, want)
		}
	}

	if err := add(0, 10); err != nil {
		t.Fatalf("Flush() error:\n%+v", err)
	}
	if err := add(10, 12); err != nil {
		t.Fatalf("Flush() error:\n%+v", err)
	}
	checkSession(col.receive(t, 3), 0, 0, 12)

	// The collector goes away: messages are dropped and counted.
	col.kill()
	waitConnected(t, tr, false)
	start := time.Now()
	if err := add(12, 20); !errors.Is(err, ErrDisconnected) {
		t.Errorf("Flush() while disconnected: %v, want ErrDisconnected", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Flush() while disconnected blocked for %v", d)
	}

	// It comes back on the same port: the transport reconnects and sends
	// the templates again before the next data.
	col = newTCPCollector(t, addr)
	waitConnected(t, tr, true)
	if err := add(20, 30); err != nil {
		t.Fatalf("Flush() after reconnect error:\n%+v", err)
	}
	checkSession(col.receive(t, 2), 0, 20, 10)

	want := Stats{MessagesSent: 3, RecordsSent: 22, MessagesLost: 1, RecordsLost: 8}
	got := e.Stats()
	got.BytesSent = 0
	if got != want {
		t.Errorf("Stats() (-got, +want):\n%+v\n%+v", got, want)
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close() error:\n%+v", err)
	}
}

func TestTCPCollectorDownAtStart(t *testing.T) {
	// A port that refuses connections: the first connection fails, the
	// transport keeps trying and connects once a collector listens there.
	port := testnet.RefusingTCP(t)
	tr, err := Dial(context.Background(), "tcp://"+port.Addr, nil)
	if err != nil {
		t.Fatalf("Dial() error:\n%+v", err)
	}
	defer tr.Close()
	if err := tr.WriteMessage(make([]byte, 16)); !errors.Is(err, ErrDisconnected) {
		t.Errorf("WriteMessage() while disconnected: %v, want ErrDisconnected", err)
	}
	ln, err := port.Listen()
	if err != nil {
		t.Fatal(err)
	}
	col := newTCPCollectorOn(t, ln)
	waitConnected(t, tr, true)
	msg := []byte{0, 10, 0, 16, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0}
	if err := tr.WriteMessage(msg); err != nil {
		t.Fatalf("WriteMessage() error:\n%+v", err)
	}
	if got := col.receive(t, 1)[0].msg; string(got) != string(msg) {
		t.Errorf("collector got % x, want % x", got, msg)
	}
}

func TestTCPUnresolvable(t *testing.T) {
	_, err := Dial(context.Background(), "tcp://no-such-host.invalid:4739", nil)
	if err == nil || !strings.Contains(err.Error(), "unable to dial ipfix collector tcp://no-such-host.invalid:4739") {
		t.Errorf("Dial(unresolvable) error: %v", err)
	}
}
