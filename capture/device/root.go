// Package device is the capture daemon's XML-RPC device API (SPEC §4): the
// methods the aggregate manager calls on gims-capd (Capabilities, StartJob,
// PauseJob, ResumeJob, StopJob, JobStatus, JobResults, ListJobs) at /RPC2,
// and the result files at GET /files/<job>/<name>, all behind a bearer
// token. It is a thin layer over capture/job: it turns XML-RPC structs into
// job specifications with the SPEC defaults, the manager's results into
// snake_case structs, and the manager's sentinel errors into fault codes,
// in one place (faultOf).
package device

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/gimsproject/gims/capture/job"
	"github.com/gimsproject/gims/internal/check"
	"github.com/gimsproject/gims/xmlrpc"
)

// Fault codes of the device API (SPEC §3).
const (
	FaultNotFound = 1 // unknown job or file
	FaultState    = 2 // invalid state transition
	FaultInvalid  = 3 // invalid argument
	FaultAuth     = 4 // not authenticated
	FaultRefused  = 5 // the device refuses (too many jobs)
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

// Handler serves the device API: POST /RPC2 and GET /files/<job>/<name>.
type Handler struct {
	cfg Configuration
	m   *job.Manager
	mux *http.ServeMux
}

// Paths served by Handler.
const (
	RPCPath   = "/RPC2"
	FilesPath = "/files/"
)

// New returns the handler of the device API over the job manager m.
func New(cfg Configuration, m *job.Manager) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid device API configuration: %w", err)
	}
	if m == nil {
		return nil, errors.New("device API needs a job manager")
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
	h.mux.Handle(RPCPath, srv)
	h.mux.HandleFunc(FilesPath, h.serveFile)
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
		code = FaultNotFound
	case errors.Is(err, job.ErrState):
		code = FaultState
	case errors.Is(err, job.ErrInvalid):
		code = FaultInvalid
	case errors.Is(err, job.ErrBusy):
		code = FaultRefused
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

// rpcAuth is the XML-RPC middleware: every call, introspection and
// multicall sub-calls included, needs the token, else fault 4.
func (h *Handler) rpcAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, present := h.authorized(r)
		if !ok {
			why := "not authenticated: an Authorization: Bearer token is required"
			if present {
				why = "not authenticated: wrong bearer token"
			}
			h.cfg.Logger.Warn("device API call refused", "remote", r.RemoteAddr,
				"method", xmlrpc.MethodName(r.Context()), "reason", why)
			xmlrpc.WriteFault(w, xmlrpc.Fault{Code: FaultAuth, String: why})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveFile answers GET /files/<job>/<name>: 401 without a token, 403 with
// a wrong one, 404 for an unknown job or file.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "GET required", http.StatusMethodNotAllowed)
		return
	}
	if ok, present := h.authorized(r); !ok {
		h.cfg.Logger.Warn("file request refused", "remote", r.RemoteAddr, "path", r.URL.Path)
		if !present {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gims-capd"`)
			http.Error(w, "bearer token required", http.StatusUnauthorized)
			return
		}
		http.Error(w, "wrong bearer token", http.StatusForbidden)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, FilesPath)
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
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", id+"-"+name))
	http.ServeContent(w, r, name, info.ModTime(), f)
}

// FileURL is the path under which a job's result file is served.
func FileURL(id, name string) string { return FilesPath + id + "/" + name }
