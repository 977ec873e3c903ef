// Package api is the HTTP surface of the aggregate manager: the XML-RPC
// API at /RPC2 (SPEC §3), result file downloads at /files/ and Prometheus
// metrics at /metrics, all behind HTTP Basic authentication. It is a thin
// layer over the am service layer: it authenticates, decodes, calls the
// manager and maps errors to faults with am.FaultOf.
package api

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/internal/check"
	"github.com/gimsproject/gims/internal/httpserver"
	"github.com/gimsproject/gims/internal/rpcmetrics"
	"github.com/gimsproject/gims/internal/servertiming"
	"github.com/gimsproject/gims/xmlrpc"
)

// Configuration configures the handler. Start from DefaultConfiguration:
// New refuses invalid values (see Validate).
type Configuration struct {
	// MaxBodyBytes bounds an XML-RPC request (default 1 MiB).
	MaxBodyBytes int64
	// Logger receives refused calls and failures (default: discard).
	// Required.
	Logger *slog.Logger
	// UserRate bounds each experimenter's calls (default 20 per second,
	// a burst of 200, 4 requests in progress at once): beyond it a call
	// is fault 4 saying to slow down, a download HTTP 429.
	UserRate RateLimit
	// AdminRate bounds each admin's calls the same way (default 100 per
	// second, a burst of 1000, 8 requests in progress).
	AdminRate RateLimit
	// Now is the clock of the rate limits (default time.Now; required).
	Now func() time.Time
}

// DefaultConfiguration returns the documented defaults.
func DefaultConfiguration() Configuration {
	return Configuration{
		MaxBodyBytes: 1 << 20,
		Logger:       slog.New(slog.DiscardHandler),
		UserRate:     RateLimit{Rate: 20, Burst: 200, Concurrent: 4},
		AdminRate:    RateLimit{Rate: 100, Burst: 1000, Concurrent: 8},
		Now:          time.Now,
	}
}

// Validate names the field that is wrong, the rule and the value given.
func (c Configuration) Validate() error {
	return check.First(
		check.Positive("MaxBodyBytes", c.MaxBodyBytes),
		check.Set("Logger", c.Logger != nil, "set"),
		check.Positive("UserRate.Rate", c.UserRate.Rate),
		check.Positive("UserRate.Burst", c.UserRate.Burst),
		check.Positive("UserRate.Concurrent", c.UserRate.Concurrent),
		check.Positive("AdminRate.Rate", c.AdminRate.Rate),
		check.Positive("AdminRate.Burst", c.AdminRate.Burst),
		check.Positive("AdminRate.Concurrent", c.AdminRate.Concurrent),
		check.Set("Now", c.Now != nil, "set"),
	)
}

// Flags are the command-line names of the fields a daemon exposes, for
// check.Flags.
func Flags() map[string]string {
	return map[string]string{
		"UserRate.Rate": "rate-limit", "UserRate.Burst": "rate-burst", "UserRate.Concurrent": "rate-concurrent",
		"AdminRate.Rate": "admin-rate-limit", "AdminRate.Burst": "admin-rate-burst", "AdminRate.Concurrent": "admin-rate-concurrent",
	}
}

// RegisterFlags adds the daemon flags of c's rate limits to fs, with c's
// values as defaults.
func (c *Configuration) RegisterFlags(fs *flag.FlagSet) {
	fs.Float64Var(&c.UserRate.Rate, "rate-limit", c.UserRate.Rate, "API calls per second each experimenter may make")
	fs.IntVar(&c.UserRate.Burst, "rate-burst", c.UserRate.Burst, "API calls an experimenter may make at once")
	fs.Float64Var(&c.AdminRate.Rate, "admin-rate-limit", c.AdminRate.Rate, "API calls per second each admin may make")
	fs.IntVar(&c.AdminRate.Burst, "admin-rate-burst", c.AdminRate.Burst, "API calls an admin may make at once")
	fs.IntVar(&c.UserRate.Concurrent, "rate-concurrent", c.UserRate.Concurrent, "API requests an experimenter may have in progress")
	fs.IntVar(&c.AdminRate.Concurrent, "admin-rate-concurrent", c.AdminRate.Concurrent, "API requests an admin may have in progress")
}

// Paths served by Handler.
const (
	RPCPath     = "/RPC2"
	MetricsPath = "/metrics"
)

// Dependencies are what the handler serves.
type Dependencies struct {
	// Manager is the service layer the API calls (required).
	Manager *am.Manager
	// Registry receives the API's call counters and is what /metrics
	// serves: the daemon hands the same registry to the manager, so that
	// /metrics shows both. Nil: a registry of the handler's own.
	Registry *prometheus.Registry
}

// Handler serves /RPC2, /files/ and /metrics.
type Handler struct {
	cfg     Configuration
	limits  *limiter
	m       *am.Manager
	mux     *http.ServeMux
	calls   *rpcmetrics.Calls
	times   *rpcmetrics.Durations
	metrics http.Handler
}

// principalKey is the context key of the authenticated am.Principal.
type principalKey struct{}

// New returns the handler over deps.Manager.
func New(cfg Configuration, deps Dependencies) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid AM API configuration: %w", err)
	}
	if deps.Manager == nil {
		return nil, errors.New("the AM API needs the aggregate manager")
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	m := deps.Manager
	h := &Handler{cfg: cfg, m: m, mux: http.NewServeMux(), limits: newLimiter(cfg.Now)}
	xcfg := xmlrpc.DefaultConfiguration()
	xcfg.DefaultService = "AM"
	xcfg.MaxBodyBytes = cfg.MaxBodyBytes
	xcfg.FaultMapper = am.FaultOf
	xcfg.Middleware = h.rpcAuth
	srv, err := xmlrpc.NewServer(xcfg)
	if err != nil {
		return nil, err
	}
	if err := srv.RegisterService(&Service{m: m, statuses: newStatusEncodings(srv), summaries: newSummaryEncodings(srv)}, "AM", serviceHelp()); err != nil {
		return nil, fmt.Errorf("unable to register the AM API: %w", err)
	}
	calls, err := rpcmetrics.New(deps.Registry, "gims", srv, amapi.FaultNotFound, amapi.FaultState, amapi.FaultInvalid,
		amapi.FaultAuth, amapi.FaultDevice, amapi.FaultConflict)
	if err != nil {
		return nil, err
	}
	h.calls = calls
	if h.times, err = rpcmetrics.NewDurations(deps.Registry, "gims", srv); err != nil {
		return nil, err
	}
	h.metrics = promhttp.HandlerFor(deps.Registry, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	})
	h.mux.Handle(RPCPath, timed(h.authFirst(srv)))
	h.mux.HandleFunc(am.FilesPath, h.serveFile)
	h.mux.HandleFunc(MetricsPath, h.serveMetrics)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// authenticate checks the request's client certificate (SPEC §10: one
// that names a user needs no password), else its Basic credentials.
func (h *Handler) authenticate(r *http.Request) (am.Principal, error) {
	p, certOK, certErr := h.m.AuthenticateCertificate(r.Context(), r.TLS)
	if certOK && certErr == nil {
		return p, nil
	}
	user, pass, ok := r.BasicAuth()
	if !ok && certErr != nil {
		return am.Principal{}, certErr
	}
	if !ok {
		return am.Principal{}, fmt.Errorf("%w: HTTP Basic authentication required (http://user:password@host/RPC2)", am.ErrAuth)
	}
	return h.m.AuthenticateFrom(r.Context(), user, pass, remoteIP(r))
}

// remoteIP is the client's address without its port, the key of the
// login throttle.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authFirst authenticates a POST to /RPC2 before its body is read: a
// caller without valid credentials gets fault 4 at once and the connection
// is closed, so nobody unknown makes the daemon read (or wait for) a body.
// The principal travels in the context to every call of the request.
func (h *Handler) authFirst(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r) // 405 from the XML-RPC server
			return
		}
		p, err := h.authenticate(r)
		if err != nil {
			h.cfg.Logger.Warn("API call refused", "remote", r.RemoteAddr, "error", err)
			f := am.FaultOf(err)
			h.calls.Count("", f.Code)
			w.Header().Set("Connection", "close")
			xmlrpc.WriteFault(w, f)
			httpserver.DropBody(w)
			return
		}
		release, msg := h.limits.enter(p.Name, h.rateOf(p).Concurrent)
		if release == nil {
			h.cfg.Logger.Warn("API call over the concurrency limit", "user", p.Name)
			h.calls.Count("", amapi.FaultAuth)
			w.Header().Set("Connection", "close")
			xmlrpc.WriteFault(w, xmlrpc.Fault{Code: amapi.FaultAuth, String: msg})
			httpserver.DropBody(w)
			return
		}
		defer release()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// rateOf is the rate limit of p's role.
func (h *Handler) rateOf(p am.Principal) RateLimit {
	if p.IsAdmin() {
		return h.cfg.AdminRate
	}
	return h.cfg.UserRate
}

// rpcAuth runs for every XML-RPC call of an authenticated request
// (multicall sub-calls and introspection included): it counts the call and
// its fault for /metrics.
func (h *Handler) rpcAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := xmlrpc.MethodName(r.Context())
		if _, ok := r.Context().Value(principalKey{}).(am.Principal); !ok {
			// Served without authFirst: refuse rather than run anonymously.
			f := am.FaultOf(fmt.Errorf("%w: HTTP Basic authentication required", am.ErrAuth))
			h.calls.Count(method, f.Code)
			xmlrpc.WriteFault(w, f)
			return
		}
		if ok, msg := h.allow(principal(r)); !ok {
			h.calls.Count(method, amapi.FaultAuth)
			xmlrpc.WriteFault(w, xmlrpc.Fault{Code: amapi.FaultAuth, String: msg})
			return
		}
		t := servertiming.From(r.Context())
		var device time.Duration
		if t != nil {
			device = t.Device()
		}
		start := time.Now()
		next.ServeHTTP(w, r)
		h.calls.Count(method, xmlrpc.CallFault(r.Context()))
		if t != nil {
			h.times.Observe(method, time.Since(start), t.Device()-device)
		}
	})
}

// timed measures each request to /RPC2 (servertiming): its Timer travels
// in the request's context, the device client adds the time of its calls
// to it, and the answer carries the device time, the AM's own and their
// total in its Server-Timing header.
func timed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := servertiming.New(time.Now)
		next.ServeHTTP(&timingWriter{ResponseWriter: w, t: t}, r.WithContext(servertiming.With(r.Context(), t)))
	})
}

// timingWriter sets the Server-Timing header of its Timer when the
// answer starts.
type timingWriter struct {
	http.ResponseWriter
	t       *servertiming.Timer
	started bool
}

// stamp sets the header, once, before the answer starts.
func (w *timingWriter) stamp() {
	if !w.started {
		w.started = true
		w.Header().Set(servertiming.Header, w.t.Value())
	}
}

// WriteHeader implements http.ResponseWriter.
func (w *timingWriter) WriteHeader(code int) {
	w.stamp()
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *timingWriter) Write(b []byte) (int, error) {
	w.stamp()
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the connection's writer.
func (w *timingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// allow spends one of p's tokens; when none is left it says why.
func (h *Handler) allow(p am.Principal) (bool, string) {
	rl := h.rateOf(p)
	ok, wait := h.limits.take(p.Name, rl)
	if ok {
		return true, ""
	}
	h.cfg.Logger.Warn("API call over the rate limit", "user", p.Name)
	return false, rateMessage(p.Name, rl, wait)
}

// principal returns the caller authenticated by rpcAuth.
func principal(r *http.Request) am.Principal {
	p, _ := r.Context().Value(principalKey{}).(am.Principal)
	p.Remote = remoteIP(r)
	return p
}

// serveFile answers GET /files/<id>/<position>/<name> for the owner of
// the experiment or an admin: 401 without credentials, 404 otherwise.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "GET required", http.StatusMethodNotAllowed)
		return
	}
	p, err := h.authenticate(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="gims-am"`)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if ok, msg := h.allow(p); !ok {
		w.Header().Set("Retry-After", "1")
		http.Error(w, msg, http.StatusTooManyRequests)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, am.FilesPath), "/")
	if len(parts) == 2 {
		id, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		ServeFlowExport(w, r, h.m, p, id, parts[1])
		return
	}
	if len(parts) != 3 {
		http.NotFound(w, r)
		return
	}
	id, err1 := strconv.ParseInt(parts[0], 10, 64)
	pos, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		http.NotFound(w, r)
		return
	}
	f, err := h.m.OpenResultFile(r.Context(), p, id, pos, parts[2])
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, am.ErrNotFound) {
			status = http.StatusNotFound
		}
		http.Error(w, err.Error(), status)
		return
	}
	defer f.Close()
	ServeResultFile(w, r, f)
}

// ServeFlowExport answers GET /files/<id>/flows.csv, flows.parquet and
// query.pcap (SPEC §12) with the query parameters filter, from and to
// (RFC 3339): 400 naming the problem for a bad query, 404 for an
// experiment or export that does not exist, else the export streamed.
// The web GUI serves them with it too.
func ServeFlowExport(w http.ResponseWriter, r *http.Request, m *am.Manager, p am.Principal, id int64, name string) {
	var q amapi.FlowQuery
	q.Filter = r.URL.Query().Get("filter")
	for _, b := range []struct {
		key string
		t   *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if v := r.URL.Query().Get(b.key); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				http.Error(w, fmt.Sprintf("%s must be a time like 2006-01-02T15:04:05Z, got %q", b.key, v), http.StatusBadRequest)
				return
			}
			*b.t = t
		}
	}
	x, err := m.OpenFlowExport(r.Context(), p, id, name, q)
	if err != nil {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, am.ErrNotFound):
			status = http.StatusNotFound
		case errors.Is(err, am.ErrInvalid):
			status = http.StatusBadRequest
		}
		http.Error(w, err.Error(), status)
		return
	}
	defer x.Close()
	w = httpserver.Download(w, r)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", x.Name))
	w.Header().Set("Content-Type", x.ContentType)
	if r.Method == http.MethodHead {
		return
	}
	if err := x.WriteTo(r.Context(), w); err != nil && r.Context().Err() == nil {
		// The status is sent: cut the response so the client sees an
		// incomplete download rather than a short file.
		panic(http.ErrAbortHandler)
	}
}

// ServeResultFile sends an open result file as a download (with ranges
// for the AM's own copies); the web GUI serves files with it too.
func ServeResultFile(w http.ResponseWriter, r *http.Request, f *am.ResultFile) {
	w = httpserver.Download(w, r)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", f.Name))
	w.Header().Set("Content-Type", "application/octet-stream")
	if f.File != nil {
		http.ServeContent(w, r, f.Name, f.ModTime, f.File)
		return
	}
	if f.Size >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(f.Size, 10))
	}
	if r.Method == http.MethodHead {
		return
	}
	io.Copy(w, f.Body)
}

// serveMetrics answers GET /metrics for admins: the registry's metrics
// in the format the scraper asks for. A family that cannot be read (the
// database fails) is logged and left out.
func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="gims-am"`)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if !p.IsAdmin() {
		http.Error(w, "metrics are for admins", http.StatusForbidden)
		return
	}
	h.metrics.ServeHTTP(w, r)
}
