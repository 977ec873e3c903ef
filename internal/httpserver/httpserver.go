// Package httpserver is the HTTP server setup both daemons share: every
// http.Server they run has read-header, read, write and idle timeouts and
// a header size limit, and its listener takes at most a bounded number of
// connections at once, so that slow or idle clients, logged in or not,
// cannot hold the daemon's file descriptors or goroutines.
//
// Long downloads are the exception to WriteTimeout: a handler that sends a
// file wraps its ResponseWriter with Download, which moves the write
// deadline forward on every write, so a download lasts as long as it
// takes while each write is accepted within WriteTimeout.
package httpserver

import (
	"context"
	"crypto/tls"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"github.com/gimsproject/gims/internal/check"
)

// Configuration bounds what clients may hold of a daemon. Start from
// DefaultConfiguration: New refuses invalid values (see Validate).
type Configuration struct {
	// ReadHeaderTimeout bounds the time to read a request's headers
	// (default 10 s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the time to read a whole request, body included
	// (default 30 s: a 1 MiB XML-RPC body at 35 KiB/s).
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the answer (default 2 min: the slowest call drives every
	// device of an experiment, each within the AM's device timeout). File
	// downloads move it forward on every write (see Download).
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a kept-alive connection waits for its
	// next request (default 2 min).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers (default 64 KiB).
	MaxHeaderBytes int
	// MaxConnections bounds the connections served at once (default 256);
	// the next ones wait in the kernel's accept queue until one closes.
	MaxConnections int
	// MaxClientConnections bounds the connections of one client IP
	// address at once (default 64); the next ones from that address are
	// closed as soon as accepted, so one client cannot fill
	// MaxConnections and make everybody else wait. Behind a reverse
	// proxy every client has the proxy's address: raise it to
	// MaxConnections there.
	MaxClientConnections int
}

// DefaultConfiguration returns the documented defaults.
func DefaultConfiguration() Configuration {
	return Configuration{
		ReadHeaderTimeout:    10 * time.Second,
		ReadTimeout:          30 * time.Second,
		WriteTimeout:         2 * time.Minute,
		IdleTimeout:          2 * time.Minute,
		MaxHeaderBytes:       64 << 10,
		MaxConnections:       256,
		MaxClientConnections: 64,
	}
}

// Validate names the field that is wrong, the rule and the value given.
func (c Configuration) Validate() error {
	return check.First(
		check.Positive("ReadHeaderTimeout", c.ReadHeaderTimeout),
		check.Positive("ReadTimeout", c.ReadTimeout),
		check.Positive("WriteTimeout", c.WriteTimeout),
		check.Positive("IdleTimeout", c.IdleTimeout),
		check.Between("MaxHeaderBytes", c.MaxHeaderBytes, 4<<10, 1<<20),
		check.Positive("MaxConnections", c.MaxConnections),
		check.Between("MaxClientConnections", c.MaxClientConnections, 1, max(1, c.MaxConnections)),
	)
}

// Flags are the command-line names of the fields, for check.Flags.
func Flags() map[string]string {
	return map[string]string{
		"ReadHeaderTimeout":    "http-read-header-timeout",
		"ReadTimeout":          "http-read-timeout",
		"WriteTimeout":         "http-write-timeout",
		"IdleTimeout":          "http-idle-timeout",
		"MaxHeaderBytes":       "http-max-header-bytes",
		"MaxConnections":       "http-max-connections",
		"MaxClientConnections": "http-max-client-connections",
	}
}

// RegisterFlags adds the daemon flags of c's fields to fs, with c's
// values as defaults.
func (c *Configuration) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.ReadHeaderTimeout, "http-read-header-timeout", c.ReadHeaderTimeout, "time a client has to send a request's headers")
	fs.DurationVar(&c.ReadTimeout, "http-read-timeout", c.ReadTimeout, "time a client has to send a whole request")
	fs.DurationVar(&c.WriteTimeout, "http-write-timeout", c.WriteTimeout,
		"time to answer a request (downloads: time to accept each write)")
	fs.DurationVar(&c.IdleTimeout, "http-idle-timeout", c.IdleTimeout, "how long an idle kept-alive connection stays open")
	fs.IntVar(&c.MaxHeaderBytes, "http-max-header-bytes", c.MaxHeaderBytes, "largest request headers accepted")
	fs.IntVar(&c.MaxConnections, "http-max-connections", c.MaxConnections, "connections served at once (more wait)")
	fs.IntVar(&c.MaxClientConnections, "http-max-client-connections", c.MaxClientConnections,
		"connections of one client address at once (more are closed)")
}

// Server is an http.Server with its limits.
type Server struct {
	cfg Configuration
	srv *http.Server
	log *slog.Logger
}

// New returns a server of h with cfg's limits; errors go to logger.
func New(cfg Configuration, h http.Handler, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, log: logger, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}}, nil
}

// UseTLS makes Serve speak TLS with cfg (nil: plain HTTP; SPEC §10). TLS
// is the outermost layer, above the connection limits: http.Server sees
// *tls.Conn (client certificates in r.TLS, HTTP/2), and the handshake is
// bounded by the read and write timeouts.
func (s *Server) UseTLS(cfg *tls.Config) { s.srv.TLSConfig = cfg }

// Serve serves ln, at most MaxConnections connections at once and
// MaxClientConnections of one address, until Shutdown; it returns
// http.ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	limited := netutil.LimitListener(newClientLimit(ln, s.cfg.MaxClientConnections, s.log), s.cfg.MaxConnections)
	if s.srv.TLSConfig != nil {
		return s.srv.ServeTLS(limited, "", "")
	}
	return s.srv.Serve(limited)
}

// Shutdown stops the server gracefully (see http.Server.Shutdown).
func (s *Server) Shutdown(ctx context.Context) error {
	return s.srv.Shutdown(ctx)
}

// clientLimit is a listener that closes the connections of an address
// beyond its limit as soon as they are accepted.
type clientLimit struct {
	net.Listener
	max int
	log *slog.Logger

	mu      sync.Mutex
	open    map[string]int // connections by client address
	refused int            // closed since the last log line
	logged  time.Time
}

// newClientLimit returns ln limited to max connections per address.
func newClientLimit(ln net.Listener, max int, log *slog.Logger) *clientLimit {
	return &clientLimit{Listener: ln, max: max, log: log, open: make(map[string]int)}
}

// Accept implements net.Listener.
func (l *clientLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host, _, err := net.SplitHostPort(c.RemoteAddr().String())
		if err != nil {
			host = c.RemoteAddr().String()
		}
		l.mu.Lock()
		if l.open[host] >= l.max {
			l.refused++
			if now := time.Now(); now.Sub(l.logged) > 10*time.Second {
				l.log.Warn("connections refused: too many from one client", "client", host, "limit", l.max, "refused", l.refused)
				l.logged, l.refused = now, 0
			}
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.open[host]++
		l.mu.Unlock()
		return &clientConn{Conn: c, l: l, host: host}, nil
	}
}

// release counts a connection of host as closed.
func (l *clientLimit) release(host string) {
	l.mu.Lock()
	if l.open[host]--; l.open[host] <= 0 {
		delete(l.open, host)
	}
	l.mu.Unlock()
}

// clientConn releases its slot once when closed.
type clientConn struct {
	net.Conn
	l    *clientLimit
	host string
	once sync.Once
}

// Close implements net.Conn.
func (c *clientConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.host) })
	return err
}

// DropBody is called by a handler that answered a request without reading
// its body (and set "Connection: close"): the server would otherwise read
// up to 256 KiB of the body after the answer, waiting for a slow client
// until ReadTimeout. The read deadline is moved to now, so the connection
// closes as soon as the answer is sent.
func DropBody(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}

// Download returns w for sending a file of any size: each write first
// moves the connection's write deadline to WriteTimeout from now (the
// server's, found in r's context), so a client that keeps reading is
// never cut off and one that stops is dropped after WriteTimeout. Outside
// such a server, w is returned as is.
func Download(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok || srv.WriteTimeout <= 0 {
		return w
	}
	return &downloadWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: srv.WriteTimeout}
}

// downloadWriter moves the write deadline forward before each write.
type downloadWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

// Write implements io.Writer.
func (d *downloadWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.ResponseWriter.Write(p)
}

// Unwrap gives http.ResponseController the writer underneath.
func (d *downloadWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }
