// Package api is the HTTP surface of the aggregate manager: the XML-RPC
// API at /RPC2 (SPEC §3), result file downloads at /files/ and Prometheus
// metrics at /metrics, all behind HTTP Basic authentication. It is a thin
// layer over the am service layer: it authenticates, decodes, calls the
// manager and maps errors to faults with am.FaultOf.
package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/internal/check"
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
}

// DefaultConfiguration returns the documented defaults.
func DefaultConfiguration() Configuration {
	return Configuration{
		MaxBodyBytes: 1 << 20,
		Logger:       slog.New(slog.DiscardHandler),
	}
}

// Validate names the field that is wrong, the rule and the value given.
func (c Configuration) Validate() error {
	return check.First(
		check.Positive("MaxBodyBytes", c.MaxBodyBytes),
		check.Set("Logger", c.Logger != nil, "set"),
	)
}

// Paths served by Handler.
const (
	RPCPath     = "/RPC2"
	MetricsPath = "/metrics"
)

// Handler serves /RPC2, /files/ and /metrics.
type Handler struct {
	cfg Configuration
	m   *am.Manager
	mux *http.ServeMux
}

// principalKey is the context key of the authenticated am.Principal.
type principalKey struct{}

// New returns the handler over manager m.
func New(cfg Configuration, m *am.Manager) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid AM API configuration: %w", err)
	}
	if m == nil {
		return nil, errors.New("the AM API needs the aggregate manager")
	}
	h := &Handler{cfg: cfg, m: m, mux: http.NewServeMux()}
	xcfg := xmlrpc.DefaultConfiguration()
	xcfg.DefaultService = "AM"
	xcfg.MaxBodyBytes = cfg.MaxBodyBytes
	xcfg.FaultMapper = am.FaultOf
	xcfg.Middleware = h.rpcAuth
	srv, err := xmlrpc.NewServer(xcfg)
	if err != nil {
		return nil, err
	}
	if err := srv.RegisterService(&Service{m: m}, "AM", serviceHelp()); err != nil {
		return nil, fmt.Errorf("unable to register the AM API: %w", err)
	}
	h.mux.Handle(RPCPath, srv)
	h.mux.HandleFunc(am.FilesPath, h.serveFile)
	h.mux.HandleFunc(MetricsPath, h.serveMetrics)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// authenticate checks the request's Basic credentials.
func (h *Handler) authenticate(r *http.Request) (am.Principal, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return am.Principal{}, fmt.Errorf("%w: HTTP Basic authentication required (http://user:password@host/RPC2)", am.ErrAuth)
	}
	return h.m.Authenticate(r.Context(), user, pass)
}

// rpcAuth authenticates every XML-RPC call (multicall sub-calls and
// introspection included), counts it and its fault for /metrics.
func (h *Handler) rpcAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := xmlrpc.MethodName(r.Context())
		p, err := h.authenticate(r)
		if err != nil {
			h.cfg.Logger.Warn("API call refused", "remote", r.RemoteAddr, "method", method, "error", err)
			f := am.FaultOf(err)
			h.m.Metrics().CountCall(method, f.Code)
			xmlrpc.WriteFault(w, f)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
		h.m.Metrics().CountCall(method, xmlrpc.CallFault(r.Context()))
	})
}

// principal returns the caller authenticated by rpcAuth.
func principal(r *http.Request) am.Principal {
	p, _ := r.Context().Value(principalKey{}).(am.Principal)
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
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, am.FilesPath), "/")
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

// ServeResultFile sends an open result file as a download (with ranges
// for the AM's own copies); the web GUI serves files with it too.
func ServeResultFile(w http.ResponseWriter, r *http.Request, f *am.ResultFile) {
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

// serveMetrics answers GET /metrics for admins.
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
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if err := h.m.WriteMetrics(r.Context(), w); err != nil {
		h.cfg.Logger.Error("metrics failed", "error", err)
	}
}
