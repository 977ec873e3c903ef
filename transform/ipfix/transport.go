package ipfix

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Transport carries complete IPFIX messages to a collector or a file.
type Transport interface {
	// WriteMessage sends one complete message. The transport must not
	// keep msg after it returns. An error means the message is lost; the
	// transport stays usable.
	WriteMessage(msg []byte) error
	// Datagram reports whether the transport may lose messages silently
	// (UDP): the exporter then re-sends templates periodically and
	// defaults to messages that fit an Ethernet MTU.
	Datagram() bool
	// Close releases the transport.
	Close() error
}

// SessionTransport is a Transport that opens new transport sessions by
// itself, like the TCP transport reconnecting to its collector. A collector
// forgets the templates with the session (RFC 7011 §8), so the Exporter
// hands the transport its Template Set once, in New, and the transport
// sends it in a message of its own at the start of every session, before
// the first message and with that message's export time, sequence number
// and observation domain. The Exporter then never puts templates into its
// messages.
type SessionTransport interface {
	Transport
	// SetTemplateSet gives the encoded Template Set (set header
	// included). The transport keeps its own copy.
	SetTemplateSet(set []byte)
}

// ErrDisconnected is returned by the TCP transport's WriteMessage while it
// has no connection to the collector: the message is dropped (and counted
// as lost by the Exporter) rather than blocking the capture path.
var ErrDisconnected = errors.New("not connected to the ipfix collector")

// NewFileTransport returns a Transport writing messages back to back to w,
// the RFC 5655 file format (the file starts with the templates, sent once).
// Close flushes w if it has a Flush() error method (like *bufio.Writer) and
// then closes it if it is an io.Closer.
func NewFileTransport(w io.Writer) Transport {
	return &fileTransport{w: w}
}

type fileTransport struct {
	w io.Writer
}

func (f *fileTransport) WriteMessage(msg []byte) error {
	if _, err := f.w.Write(msg); err != nil {
		return fmt.Errorf("unable to write ipfix message: %w", err)
	}
	return nil
}

func (f *fileTransport) Datagram() bool { return false }

func (f *fileTransport) Close() error {
	var err error
	if fl, ok := f.w.(interface{ Flush() error }); ok {
		if ferr := fl.Flush(); ferr != nil {
			err = fmt.Errorf("unable to flush ipfix file: %w", ferr)
		}
	}
	if c, ok := f.w.(io.Closer); ok {
		if cerr := c.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("unable to close ipfix file: %w", cerr))
		}
	}
	return err
}

// Bounds of the TCP transport's reconnection backoff, and how long a write
// to the collector may block before the connection is given up.
const (
	tcpMinBackoff   = 100 * time.Millisecond
	tcpMaxBackoff   = 10 * time.Second
	tcpDialTimeout  = 5 * time.Second
	tcpWriteTimeout = 2 * time.Second
)

// Dial returns a Transport to the collector at rawURL, "udp://host:port" or
// "tcp://host:port". ctx bounds name resolution and the first connection
// attempt only; the transport lives until Close.
//
// UDP: write errors (like ECONNREFUSED when nothing listens) are returned
// by WriteMessage, hence counted as lost by the Exporter, and logged when
// they start and stop; they are never fatal.
//
// TCP: the connection is kept by a background goroutine. If the first
// attempt fails, or when the collector closes the connection or a write
// fails, it reconnects with exponential backoff from 100ms to 10s. Templates
// are sent at the start of every connection. While disconnected,
// WriteMessage returns ErrDisconnected at once: messages are dropped and
// counted as lost. A write blocked for 2s gives up the connection.
func Dial(ctx context.Context, rawURL string, logger *slog.Logger) (Transport, error) {
	scheme, addr, err := parseCollectorURL(rawURL)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("collector", rawURL)
	switch scheme {
	case "udp":
		var d net.Dialer
		conn, err := d.DialContext(ctx, "udp", addr)
		if err != nil {
			return nil, fmt.Errorf("unable to dial ipfix collector %s: %w", rawURL, err)
		}
		return &udpTransport{conn: conn, logger: logger}, nil
	default: // tcp
		return dialTCP(ctx, addr, logger)
	}
}

// parseCollectorURL checks a collector URL and returns its scheme and
// host:port.
func parseCollectorURL(rawURL string) (scheme, addr string, err error) {
	fail := func(format string, args ...any) (string, string, error) {
		return "", "", fmt.Errorf("invalid ipfix collector URL %q: %s (want udp://host:port or tcp://host:port)",
			rawURL, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fail("%v", err)
	}
	switch u.Scheme {
	case "udp", "tcp":
	case "":
		return fail("no scheme")
	default:
		return fail("unsupported scheme %q", u.Scheme)
	}
	if u.Opaque != "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fail("only host and port are allowed")
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return fail("%v", err)
	}
	if host == "" {
		return fail("no host")
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fail("bad port %q", port)
	}
	return u.Scheme, u.Host, nil
}

// udpTransport sends each message in one datagram on a connected socket.
type udpTransport struct {
	conn    net.Conn
	logger  *slog.Logger
	failing bool // last write failed; logs only the transitions
}

func (u *udpTransport) WriteMessage(msg []byte) error {
	_, err := u.conn.Write(msg)
	if err != nil {
		if !u.failing {
			u.failing = true
			u.logger.Warn("unable to send ipfix messages, dropping them", "error", err)
		}
		return fmt.Errorf("unable to send ipfix datagram: %w", err)
	}
	if u.failing {
		u.failing = false
		u.logger.Info("sending ipfix messages again")
	}
	return nil
}

func (u *udpTransport) Datagram() bool { return true }

func (u *udpTransport) Close() error {
	if err := u.conn.Close(); err != nil {
		return fmt.Errorf("unable to close ipfix udp socket: %w", err)
	}
	return nil
}

// tcpTransport keeps a TCP connection to the collector, reconnecting in
// the background.
type tcpTransport struct {
	addr   string
	logger *slog.Logger
	dialer net.Dialer
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	conn   net.Conn // nil while disconnected
	fresh  bool     // conn has not carried the templates yet
	closed bool
	tpl    []byte // Template Set
	tplMsg []byte // reused buffer for the template message
}

func dialTCP(ctx context.Context, addr string, logger *slog.Logger) (*tcpTransport, error) {
	t := &tcpTransport{
		addr:   addr,
		logger: logger,
		dialer: net.Dialer{Timeout: tcpDialTimeout},
		done:   make(chan struct{}),
	}
	conn, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) || ctx.Err() != nil {
			return nil, fmt.Errorf("unable to dial ipfix collector tcp://%s: %w", addr, err)
		}
		logger.Warn("ipfix collector unreachable, will retry", "error", err)
		conn = nil
	} else {
		logger.Info("connected to ipfix collector")
		t.conn, t.fresh = conn, true
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	go t.run(conn)
	return t, nil
}

// run owns the connection's life, starting with conn (installed already)
// or, if nil, with a connection attempt: it waits for the collector to close it
// (collectors send nothing, so a read returns only then) or for a failed
// write to close it, and reconnects with exponential backoff.
func (t *tcpTransport) run(conn net.Conn) {
	defer close(t.done)
	backoff := tcpMinBackoff
	wait := func() bool {
		timer := time.NewTimer(backoff)
		defer timer.Stop()
		backoff = min(2*backoff, tcpMaxBackoff)
		select {
		case <-t.ctx.Done():
			return false
		case <-timer.C:
			return true
		}
	}
	logged := false
	for {
		if conn == nil {
			c, err := t.dialer.DialContext(t.ctx, "tcp", t.addr)
			if err != nil {
				if t.ctx.Err() != nil {
					return
				}
				if !logged {
					t.logger.Warn("unable to connect to ipfix collector, retrying", "error", err)
					logged = true
				}
				if !wait() {
					return
				}
				continue
			}
			t.mu.Lock()
			if t.closed {
				t.mu.Unlock()
				c.Close()
				return
			}
			t.conn, t.fresh = c, true
			t.mu.Unlock()
			conn = c
			t.logger.Info("connected to ipfix collector")
			logged = false
		}

		start := time.Now()
		_, err := io.Copy(io.Discard, conn)
		t.mu.Lock()
		if t.conn == conn {
			t.conn = nil
		}
		t.mu.Unlock()
		conn.Close()
		conn = nil
		if t.ctx.Err() != nil {
			return
		}
		t.logger.Warn("lost connection to ipfix collector, reconnecting", "error", err)
		if time.Since(start) > tcpMaxBackoff {
			backoff = tcpMinBackoff
		}
		if !wait() {
			return
		}
	}
}

func (t *tcpTransport) SetTemplateSet(set []byte) {
	t.mu.Lock()
	t.tpl = append([]byte(nil), set...)
	t.mu.Unlock()
}

func (t *tcpTransport) WriteMessage(msg []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return ErrClosed
	case t.conn == nil:
		return ErrDisconnected
	}
	if err := t.conn.SetWriteDeadline(time.Now().Add(tcpWriteTimeout)); err != nil {
		return t.fail(err)
	}
	if t.fresh && len(t.tpl) > 0 && len(msg) >= msgHeaderLength {
		t.tplMsg = append(append(t.tplMsg[:0], msg[:msgHeaderLength]...), t.tpl...)
		binary.BigEndian.PutUint16(t.tplMsg[2:], uint16(len(t.tplMsg)))
		if _, err := t.conn.Write(t.tplMsg); err != nil {
			return t.fail(err)
		}
	}
	if _, err := t.conn.Write(msg); err != nil {
		return t.fail(err)
	}
	t.fresh = false
	return nil
}

// fail gives up the current connection after a write error; run notices
// and reconnects. t.mu is held.
func (t *tcpTransport) fail(err error) error {
	t.conn.Close()
	t.conn = nil
	return fmt.Errorf("unable to send to ipfix collector tcp://%s: %w", t.addr, err)
}

func (t *tcpTransport) Datagram() bool { return false }

func (t *tcpTransport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	t.closed = true
	var err error
	if t.conn != nil {
		err = t.conn.Close()
		t.conn = nil
	}
	t.mu.Unlock()
	t.cancel()
	<-t.done
	if err != nil {
		return fmt.Errorf("unable to close ipfix collector connection: %w", err)
	}
	return nil
}
