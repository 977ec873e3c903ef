// Package device is the server of the capture daemon's XML-RPC device API
// (SPEC §4; the contract and the client are in deviceapi): the methods the
// aggregate manager calls on gims-capd (Capabilities, StartJob, PauseJob,
// ResumeJob, StopJob, JobStatus, JobResults, ListJobs) at /RPC2, and the
// result files at GET /files/<job>/<name> and the daemon's Prometheus
// metrics at GET /metrics, all behind a bearer token. It
// is a thin layer over capture/job: it turns deviceapi's structs into job
// specifications with the SPEC defaults (job.SpecOf), the manager's
// results into deviceapi's structs, and the manager's sentinel errors into
// fault codes, in one place (faultOf).
package device

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gimsproject/gims/capture/job"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/internal/check"
	"github.com/gimsproject/gims/internal/httpserver"
	"github.com/gimsproject/gims/internal/rpcmetrics"
	"github.com/gimsproject/gims/xmlrpc"
)

// Configuration configures a Handler. Start from DefaultConfiguration and
// set Token: New refuses invalid values (see Validate).
type Configuration struct {
	// Token is the secret the aggregate manager presents as
	// "Authorization: Bearer <token>". Required; never logged.
	Token string
	// Version is reported by Capabilities. Default "dev"; required.
	Version string
	// Logger receives authentication failures and internal errors.
	// Default: discard; required.
	Logger *slog.Logger
	// MaxBodyBytes bounds an XML-RPC request body. Default 1 MiB.
	MaxBodyBytes int64
}

// DefaultConfiguration returns the defaults (Token still has to be set).
func DefaultConfiguration() Configuration {
	return Configuration{
		Version:      "dev",
		Logger:       slog.New(slog.DiscardHandler),
		MaxBodyBytes: 1 << 20,
	}
}

// Validate names the field that is wrong, the rule and the value given.
// The token itself is never part of the message.
func (c Configuration) Validate() error {
	return check.First(
		check.Set("Token", c.Token != "", "set"),
		check.Set("Version", c.Version != "", "set"),
		check.Set("Logger", c.Logger != nil, "set"),
		check.Positive("MaxBodyBytes", c.MaxBodyBytes),
	)
}

// Dependencies are what the handler serves.
type Dependencies struct {
	// Jobs is the job manager the API drives (required).
	Jobs *job.Manager
	// Registry receives the API's call counters and is what /metrics
	// serves: the daemon hands the same registry to the job manager, so
	// that /metrics shows the capture counters too. Nil: a registry of
	// the handler's own.
	Registry *prometheus.Registry
}

// Handler serves the device API: POST /RPC2, GET /files/<job>/<name> and
// GET /metrics.
type Handler struct {
	cfg     Configuration
	m       *job.Manager
	mux     *http.ServeMux
	calls   *rpcmetrics.Calls
	metrics http.Handler
}

// MetricsPath is where the handler serves the daemon's Prometheus metrics.
const MetricsPath = "/metrics"

// New returns the handler of the device API over deps.Jobs.
func New(cfg Configuration, deps Dependencies) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid device API configuration: %w", err)
	}
	m := deps.Jobs
	if m == nil {
		return nil, errors.New("device API needs a job manager")
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	h := &Handler{cfg: cfg, m: m, mux: http.NewServeMux()}
	xcfg := xmlrpc.DefaultConfiguration()
	xcfg.DefaultService = "Device"
	xcfg.MaxBodyBytes = cfg.MaxBodyBytes
	xcfg.FaultMapper = h.faultOf
	xcfg.Middleware = h.rpcAuth
	srv, err := xmlrpc.NewServer(xcfg)
	if err != nil {
		return nil, err
	}
	if err := srv.RegisterService(&Service{h: h}, "Device", serviceHelp()); err != nil {
		return nil, fmt.Errorf("unable to register the device API: %w", err)
	}
	calls, err := rpcmetrics.New(deps.Registry, "gims_capd", srv, deviceapi.FaultNotFound, deviceapi.FaultState, deviceapi.FaultInvalid,
		deviceapi.FaultAuth, deviceapi.FaultRefused)
	if err != nil {
		return nil, err
	}
	h.calls = calls
	h.metrics = promhttp.HandlerFor(deps.Registry, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	})
	h.mux.Handle(deviceapi.RPCPath, h.authFirst(srv))
	h.mux.HandleFunc(deviceapi.FilesPath, h.serveFile)
	h.mux.HandleFunc(MetricsPath, h.serveMetrics)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// faultOf maps the job manager's sentinel errors to SPEC fault codes; the
// only place where this happens.
func (h *Handler) faultOf(err error) xmlrpc.Fault {
	if f, ok := xmlrpc.AsFault(err); ok {
		return f
	}
	code := 0
	switch {
	case errors.Is(err, job.ErrNotFound):
		code = deviceapi.FaultNotFound
	case errors.Is(err, job.ErrState):
		code = deviceapi.FaultState
	case errors.Is(err, job.ErrInvalid):
		code = deviceapi.FaultInvalid
	case errors.Is(err, job.ErrBusy):
		code = deviceapi.FaultRefused
	case errors.Is(err, job.ErrNotAllowed):
		code = deviceapi.FaultAuth
	default:
		h.cfg.Logger.Error("device API call failed", "error", err)
		return xmlrpc.Fault{Code: xmlrpc.CodeApplication, String: "device error: " + err.Error()}
	}
	return xmlrpc.Fault{Code: code, String: err.Error()}
}

// authorized checks the bearer token in constant time. present tells
// whether a bearer credential was given at all.
func (h *Handler) authorized(r *http.Request) (ok, present bool) {
	auth := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(auth) < len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return false, false
	}
	given := strings.TrimSpace(auth[len(prefix):])
	return subtle.ConstantTimeCompare([]byte(given), []byte(h.cfg.Token)) == 1, true
}

// authFirst checks the token of a POST to /RPC2 before its body is read:
// without the right one, fault 4 at once and the connection is closed, so
// nobody unknown makes the daemon read (or wait for) a body.
func (h *Handler) authFirst(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r) // 405 from the XML-RPC server
			return
		}
		if ok, present := h.authorized(r); !ok {
			why := refusal(present)
			h.cfg.Logger.Warn("device API call refused", "remote", r.RemoteAddr, "reason", why)
			h.calls.Count("", deviceapi.FaultAuth)
			w.Header().Set("Connection", "close")
			xmlrpc.WriteFault(w, xmlrpc.Fault{Code: deviceapi.FaultAuth, String: why})
			httpserver.DropBody(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refusal says why a call without the right token is refused.
func refusal(present bool) string {
	if present {
		return "not authenticated: wrong bearer token"
	}
	return "not authenticated: an Authorization: Bearer token is required"
}

// rpcAuth is the XML-RPC middleware: every call, introspection and
// multicall sub-calls included, needs the token, else fault 4 (authFirst
// already refused requests without it). It counts every call and its
// fault for /metrics.
func (h *Handler) rpcAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := xmlrpc.MethodName(r.Context())
		ok, present := h.authorized(r)
		if !ok {
			why := refusal(present)
			h.cfg.Logger.Warn("device API call refused", "remote", r.RemoteAddr, "method", method, "reason", why)
			h.calls.Count(method, deviceapi.FaultAuth)
			xmlrpc.WriteFault(w, xmlrpc.Fault{Code: deviceapi.FaultAuth, String: why})
			return
		}
		next.ServeHTTP(w, r)
		h.calls.Count(method, xmlrpc.CallFault(r.Context()))
	})
}

// refused answers a request for a file or the metrics without the right
// token: 401 without one, 403 with a wrong one.
func (h *Handler) refused(w http.ResponseWriter, r *http.Request) bool {
	ok, present := h.authorized(r)
	if ok {
		return false
	}
	h.cfg.Logger.Warn("request refused", "remote", r.RemoteAddr, "path", r.URL.Path)
	if !present {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gims-capd"`)
		http.Error(w, "bearer token required", http.StatusUnauthorized)
		return true
	}
	http.Error(w, "wrong bearer token", http.StatusForbidden)
	return true
}

// serveMetrics answers GET /metrics with the daemon's registry, in the
// format the scraper asks for: 401 without a token, 403 with a wrong one.
func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "GET required", http.StatusMethodNotAllowed)
		return
	}
	if h.refused(w, r) {
		return
	}
	h.metrics.ServeHTTP(w, r)
}

// serveFile answers GET /files/<job>/<name>: 401 without a token, 403 with
// a wrong one, 404 for an unknown job or file.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "GET required", http.StatusMethodNotAllowed)
		return
	}
	if h.refused(w, r) {
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, deviceapi.FilesPath)
	id, name, found := strings.Cut(rest, "/")
	if !found || id == "" || name == "" || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	path, err := h.m.FilePath(id, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		http.Error(w, "unable to read the file", http.StatusInternalServerError)
		return
	}
	w = httpserver.Download(w, r)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", id+"-"+name))
	http.ServeContent(w, r, name, info.ModTime(), f)
}
