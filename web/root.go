// Package web is the aggregate manager's web GUI (SPEC §6), served by
// gims-am at "/". It is a thin layer over the am service layer, the same
// one the XML-RPC API calls: every page and every action calls an
// am.Manager method with the logged-in principal, so the rules (roles,
// lifecycle, validation, secrets never shown) live in one place.
//
// Pages are html/template documents (templates/*.html); partial updates
// (live status, the BPF filter check, the flows table) use htmx and the
// counter charts Chart.js, both vendored under static/vendor and embedded,
// so the GUI needs no network access at run time. Sessions are kept on the
// server (sessions.go) and made only at a successful login; every write
// needs the session's CSRF token, the login itself a signed double-submit
// token.
package web

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/internal/check"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Configuration configures the GUI. Start from DefaultConfiguration: New
// refuses invalid values (see Validate).
type Configuration struct {
	// SessionIdle ends a login unused for that long (default 8 h).
	SessionIdle time.Duration
	// SessionMax ends a login that old whatever its use (default 7 days).
	SessionMax time.Duration
	// MaxSessions bounds the logged-in sessions held in memory (default
	// 10000); expired ones go first, then the least recently used. The
	// login form holds no session (its CSRF token is a signed cookie).
	MaxSessions int
	// StatusInterval is how often an experiment page polls the live
	// status (default 1 s).
	StatusInterval time.Duration
	// ResultsInterval is how often it refreshes the charts, the flows
	// and the files of a running experiment (default 3 s).
	ResultsInterval time.Duration
	// FlowsShown is how many of the largest flows the table shows
	// (default 100; at most amapi.MaxLimit).
	FlowsShown int
	// Logger receives refused requests and failures (default: discard;
	// required).
	Logger *slog.Logger
	// Now is the clock (default time.Now; required), injectable for
	// tests.
	Now func() time.Time
}

// DefaultConfiguration returns the documented defaults.
func DefaultConfiguration() Configuration {
	return Configuration{
		SessionIdle:     8 * time.Hour,
		SessionMax:      7 * 24 * time.Hour,
		MaxSessions:     10000,
		StatusInterval:  time.Second,
		ResultsInterval: 3 * time.Second,
		FlowsShown:      100,
		Logger:          slog.New(slog.DiscardHandler),
		Now:             time.Now,
	}
}

// Validate names the field that is wrong, the rule and the value given.
func (c Configuration) Validate() error {
	return check.First(
		check.Positive("SessionIdle", c.SessionIdle),
		check.Positive("SessionMax", c.SessionMax),
		check.Positive("MaxSessions", c.MaxSessions),
		check.Positive("StatusInterval", c.StatusInterval),
		check.Positive("ResultsInterval", c.ResultsInterval),
		check.Between("FlowsShown", c.FlowsShown, 1, amapi.MaxLimit),
		check.Set("Logger", c.Logger != nil, "set"),
		check.Set("Now", c.Now != nil, "set"),
	)
}

// Handler serves the GUI: mount it at "/" beside the API handler.
type Handler struct {
	cfg      Configuration
	m        *am.Manager
	pages    map[string]*template.Template
	sessions *sessionStore
	logins   *loginTokens
	rates    *rateTracker
	mux      *http.ServeMux
}

// pageFiles are the full pages, each parsed with layout.html and
// partials.html.
var pageFiles = []string{
	"login.html", "devices.html", "device_form.html", "device_delete.html", "device_deleted.html", "experiment_delete.html",
	"experiments.html", "experiment_new.html", "experiment.html", "error.html", "keys.html", "audit.html",
	"schedule.html", "experiment_stop.html", "users.html", "query.html",
}

// New returns the GUI over manager m; it parses the embedded templates.
func New(cfg Configuration, m *am.Manager) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid web GUI configuration: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("the web GUI needs the aggregate manager")
	}
	h := &Handler{
		cfg:      cfg,
		m:        m,
		pages:    make(map[string]*template.Template, len(pageFiles)),
		sessions: newSessionStore(cfg),
		logins:   newLoginTokens(cfg.Now),
		rates:    newRateTracker(),
		mux:      http.NewServeMux(),
	}
	for _, name := range pageFiles {
		t, err := template.New(name).Funcs(funcs()).ParseFS(templateFS,
			"templates/layout.html", "templates/partials.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("unable to parse template %s: %w", name, err)
		}
		h.pages[name] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("unable to open the static files: %w", err)
	}
	h.routes(static)
	return h, nil
}

// routes registers every page and action.
func (h *Handler) routes(static fs.FS) {
	files := http.FileServerFS(static)
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(files)))
	h.mux.HandleFunc("GET /{$}", h.home)
	h.mux.HandleFunc("/", h.notFound)
	h.mux.HandleFunc("GET /login", h.loginForm)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.HandleFunc("POST /logout", h.logout)

	h.mux.HandleFunc("GET /devices", h.user(h.listDevices))
	h.mux.HandleFunc("GET /devices/new", h.user(h.newDeviceForm))
	h.mux.HandleFunc("POST /devices/new", h.user(h.addDevice))
	h.mux.HandleFunc("GET /devices/{name}/edit", h.user(h.editDeviceForm))
	h.mux.HandleFunc("POST /devices/{name}/edit", h.user(h.editDevice))
	h.mux.HandleFunc("POST /devices/{name}/capabilities", h.user(h.fetchCapabilities))
	h.mux.HandleFunc("POST /devices/{name}/approve", h.user(h.approveDevice))
	h.mux.HandleFunc("GET /devices/{name}/delete", h.user(h.deleteDeviceForm))
	h.mux.HandleFunc("POST /devices/{name}/delete", h.user(h.deleteDevice))
	h.mux.HandleFunc("POST /activations", h.user(h.createActivation))
	h.mux.HandleFunc("POST /activations/{id}/delete", h.user(h.deleteActivation))

	h.mux.HandleFunc("GET /keys", h.user(h.listKeys))
	h.mux.HandleFunc("POST /keys", h.user(h.createKey))
	h.mux.HandleFunc("POST /keys/{name}/delete", h.user(h.deleteKey))
	h.mux.HandleFunc("GET /audit", h.user(h.showAudit))
	h.mux.HandleFunc("GET /users", h.user(h.listUsers))
	h.mux.HandleFunc("POST /users", h.user(h.addUser))
	h.mux.HandleFunc("POST /users/{name}/delete", h.user(h.deleteUser))
	h.mux.HandleFunc("POST /users/{name}/role", h.user(h.setUserRole))
	h.mux.HandleFunc("GET /schedule", h.user(h.showSchedule))
	h.mux.HandleFunc("GET /experiments", h.user(h.listExperiments))
	h.mux.HandleFunc("GET /experiments/new", h.user(h.newExperimentForm))
	h.mux.HandleFunc("POST /experiments/new", h.user(h.createExperiment))
	h.mux.HandleFunc("GET /experiments/{id}", h.user(h.showExperiment))
	h.mux.HandleFunc("POST /experiments/{id}/configure", h.user(h.configureExperiment))
	h.mux.HandleFunc("POST /experiments/{id}/check-filter", h.user(h.checkFilter))
	h.mux.HandleFunc("POST /experiments/{id}/{action}", h.user(h.transition))
	h.mux.HandleFunc("GET /experiments/{id}/stop", h.user(h.stopForm))
	h.mux.HandleFunc("GET /experiments/{id}/delete", h.user(h.deleteExperimentForm))
	h.mux.HandleFunc("POST /experiments/{id}/delete", h.user(h.deleteExperiment))
	h.mux.HandleFunc("GET /experiments/{id}/status", h.user(h.statusFragment))
	h.mux.HandleFunc("GET /experiments/{id}/results", h.user(h.resultsFragment))
	h.mux.HandleFunc("GET /experiments/{id}/counters.json", h.user(h.countersJSON))
	h.mux.HandleFunc("GET /experiments/{id}/files/{pos}/{name}", h.user(h.download))
	h.mux.HandleFunc("GET /experiments/{id}/query", h.user(h.showQuery))
	h.mux.HandleFunc("GET /experiments/{id}/export/{name}", h.user(h.export))
}

// ServeHTTP implements http.Handler: security headers, the session, the
// CSRF check of every write (the login form's signed token for POST
// /login, the session's token otherwise), then the route.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; "+
		"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	if strings.HasPrefix(r.URL.Path, "/static/") {
		h.mux.ServeHTTP(w, r)
		return
	}
	hd.Set("Cache-Control", "no-store")
	s := h.sessions.get(r)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		check := func() error { return h.sessions.checkWrite(r, s) }
		if r.URL.Path == "/login" {
			check = func() error { return h.logins.check(r) }
		}
		if err := check(); err != nil {
			h.cfg.Logger.Warn("write refused", "remote", r.RemoteAddr, "path", r.URL.Path, "error", err)
			if r.Header.Get("HX-Request") != "" {
				http.Error(w, "403 forbidden: "+err.Error(), http.StatusForbidden)
				return
			}
			// Inside the layout, in words, with a way back.
			rs := r.WithContext(withSession(r.Context(), s))
			h.render(w, rs, http.StatusForbidden, "error.html", "Forbidden", "", errorData{Status: http.StatusForbidden,
				Message: "The form was refused: it has expired or did not come from this site's page. Go back, reload the page and try again.",
				Detail:  err.Error(), Back: backOf(r)})
			return
		}
	}
	h.mux.ServeHTTP(w, r.WithContext(withSession(r.Context(), s)))
}

// cacheStatic lets browsers keep the embedded assets for a day.
func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		next.ServeHTTP(w, r)
	})
}

// rateTracker remembers the last counters seen per experiment device, so
// that the live status shows packet and bit rates between two polls.
type rateTracker struct {
	mu   sync.Mutex
	last map[rateKey]rateSample
}

// rateKey names one (experiment, device position).
type rateKey struct {
	id  int64
	pos int
}

// rateSample is one poll's counters at a running time.
type rateSample struct {
	elapsedS      float64
	packets, byts uint64
	pps, bps      float64
	seen          time.Time
}

// newRateTracker returns an empty tracker.
func newRateTracker() *rateTracker { return &rateTracker{last: make(map[rateKey]rateSample)} }

// rate returns the packets/s and bits/s of a device since the previous
// sample at least half a second of running time older (the previous rate
// between closer polls, zero before the second sample).
func (t *rateTracker) rate(k rateKey, elapsedS float64, packets, byts uint64, now time.Time) (pps, bps float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev, ok := t.last[k]
	switch {
	case !ok || elapsedS < prev.elapsedS || packets < prev.packets:
		t.last[k] = rateSample{elapsedS: elapsedS, packets: packets, byts: byts, seen: now}
		return 0, 0
	case elapsedS-prev.elapsedS < 0.5:
		prev.seen = now
		t.last[k] = prev
		return prev.pps, prev.bps
	}
	dt := elapsedS - prev.elapsedS
	pps = float64(packets-prev.packets) / dt
	bps = 8 * float64(byts-prev.byts) / dt
	t.last[k] = rateSample{elapsedS: elapsedS, packets: packets, byts: byts, pps: pps, bps: bps, seen: now}
	// Forget experiments nobody watched for ten minutes.
	for key, s := range t.last {
		if now.Sub(s.seen) > 10*time.Minute {
			delete(t.last, key)
		}
	}
	return pps, bps
}
