package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
)

// view is what every page template gets: the layout's members and the
// page's own Data.
type view struct {
	Title string
	// Nav names the active menu entry.
	Nav  string
	User am.Principal
	CSRF string
	// Flash is a one-time message (after a redirect).
	Flash flash
	Data  any
}

// render executes a full page with status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page, title, nav string, data any) {
	v := view{Title: title, Nav: nav, Data: data}
	if s := sessionOf(r); s != nil {
		v.User, v.CSRF = s.User, s.CSRF
		v.Flash = h.sessions.takeFlash(s)
	}
	h.execute(w, status, h.pages[page], "layout", v)
}

// fragment executes one named template of partials.html (an htmx swap).
func (h *Handler) fragment(w http.ResponseWriter, r *http.Request, name string, data any) {
	v := view{Data: data}
	if s := sessionOf(r); s != nil {
		v.User, v.CSRF = s.User, s.CSRF
	}
	h.execute(w, http.StatusOK, h.pages["error.html"], name, v)
}

// execute renders into a buffer first, so that a template error gives a
// clean 500 rather than half a page.
func (h *Handler) execute(w http.ResponseWriter, status int, t *template.Template, name string, v view) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		h.cfg.Logger.Error("template failed", "template", name, "error", err)
		http.Error(w, "internal error: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// httpStatus maps a manager error to an HTTP status through its fault.
func httpStatus(err error) int {
	switch am.FaultOf(err).Code {
	case amapi.FaultNotFound:
		return http.StatusNotFound
	case amapi.FaultState, amapi.FaultConflict:
		return http.StatusConflict
	case amapi.FaultInvalid:
		return http.StatusBadRequest
	case amapi.FaultAuth:
		return http.StatusForbidden
	case amapi.FaultDevice:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// message is the text a person reads for a manager error: the fault
// string, without the "invalid argument: " of validation errors and the
// call's prefix before it (the browser's checks show the same text).
func message(err error) string {
	s := am.FaultOf(err).String
	if i := strings.Index(s, am.ErrInvalid.Error()+": "); i >= 0 {
		return s[i+len(am.ErrInvalid.Error())+2:]
	}
	return s
}

// errorData is the data of error.html.
type errorData struct {
	Status  int
	Message string
	// Detail is the manager's own text when Message says it in words.
	Detail string
	// Back is where "Back" goes: the page the request came from when it
	// is one of this site's, else the start page.
	Back string
}

// backOf is the same-site page a request came from (its Referer), or "/".
func backOf(r *http.Request) string {
	ref, err := url.Parse(r.Referer())
	if err != nil || ref.Host != r.Host || (r.Method == http.MethodGet && ref.Path == r.URL.Path) {
		return "/"
	}
	next := ref.Path
	if ref.RawQuery != "" {
		next += "?" + ref.RawQuery
	}
	if s := safeNext(next); s == next {
		return s
	}
	return "/"
}

// fail answers a manager error with the error page, inside the layout,
// in words with the manager's text folded (or a bare message to an htmx
// request).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := httpStatus(err)
	if status == http.StatusInternalServerError {
		h.cfg.Logger.Error("request failed", "path", r.URL.Path, "error", err)
	}
	msg, detail := humanize(err)
	if r.Header.Get("HX-Request") != "" {
		http.Error(w, msg, status)
		return
	}
	h.render(w, r, status, "error.html", http.StatusText(status), "", errorData{Status: status, Message: msg, Detail: detail, Back: backOf(r)})
}

// notFound answers an unknown URL with the 404 page inside the layout.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("HX-Request") != "" {
		http.Error(w, "no such page", http.StatusNotFound)
		return
	}
	h.render(w, r, http.StatusNotFound, "error.html", "Page not found", "", errorData{Status: http.StatusNotFound,
		Message: "There is no page at " + r.URL.Path + ": the link may be old, or the address mistyped.", Back: "/"})
}

// user wraps a handler that needs a logged-in user: others are sent to
// the login form (GET) or refused (401).
func (h *Handler) user(fn func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := sessionOf(r)
		if s.loggedIn() {
			// The user may have been deleted, or their role changed.
			p, err := h.m.LookupPrincipal(r.Context(), s.User.Name)
			switch {
			case errors.Is(err, am.ErrAuth):
				h.sessions.destroy(w, s)
				s = nil
			case err != nil:
				h.fail(w, r, err)
				return
			default:
				p.Remote = remoteHost(r)
				s.User = p
			}
		}
		if !s.loggedIn() {
			if r.Method == http.MethodGet && r.Header.Get("HX-Request") == "" {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "401 unauthorized: log in first", http.StatusUnauthorized)
			return
		}
		fn(w, r, s)
	}
}

// home sends users to their experiments, others to the login form.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	if sessionOf(r).loggedIn() {
		http.Redirect(w, r, "/experiments", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// loginData is the data of login.html.
type loginData struct {
	Name  string
	Next  string
	Error string
}

// defaultNext is where a login without a usable destination goes.
const defaultNext = "/experiments"

// safeNext keeps a post-login destination only when it is an absolute
// path of this site: printable ASCII without a backslash (browsers drop
// tabs and newlines and read "\" as "/", which makes "/\t/evil" or
// "/\\evil" another host), starting with a single "/" (not "//", which
// names another host), and parsed by net/url into a path with neither
// scheme nor host. Anything else gives defaultNext.
func safeNext(next string) string {
	if next == "" || len(next) > 2048 {
		return defaultNext
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return defaultNext
		}
	}
	if next[0] != '/' || strings.HasPrefix(next, "//") {
		return defaultNext
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return defaultNext
	}
	return next
}

// loginForm shows the login form with a new signed login token; it keeps
// nothing on the server.
func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if sessionOf(r).loggedIn() {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	// A client certificate that names a user logs in without a password
	// (SPEC §10), in a new session (a session the browser had ends).
	if p, ok, err := h.m.AuthenticateCertificate(r.Context(), r.TLS); ok && err == nil {
		h.sessions.destroy(w, sessionOf(r))
		h.sessions.create(w, r, p)
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	h.renderLogin(w, r, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

// renderLogin shows the login form with a fresh login token.
func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, data loginData) {
	v := view{Title: "Log in", CSRF: h.logins.issue(w, r), Data: data}
	h.execute(w, status, h.pages["login.html"], "layout", v)
}

// login checks the user's password with the manager and starts a new
// session (ServeHTTP checked the login token); a session the browser had
// is ended first (no session fixation).
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	old := sessionOf(r)
	name := strings.TrimSpace(r.PostFormValue("name"))
	next := safeNext(r.PostFormValue("next"))
	addr, _, splitErr := net.SplitHostPort(r.RemoteAddr)
	if splitErr != nil {
		addr = r.RemoteAddr
	}
	p, err := h.m.AuthenticateFrom(r.Context(), name, r.PostFormValue("password"), addr)
	if err != nil {
		h.cfg.Logger.Warn("login refused", "remote", r.RemoteAddr, "user", name)
		msg := "wrong user name or password"
		if !errors.Is(err, am.ErrAuth) {
			msg = "login failed: " + message(err)
		}
		h.renderLogin(w, r, http.StatusUnauthorized, loginData{Name: name, Next: next, Error: msg})
		return
	}
	h.sessions.destroy(w, old)
	h.sessions.create(w, r, p)
	http.SetCookie(w, &http.Cookie{Name: loginCookieName, Value: "", Path: "/login", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	h.sessions.destroy(w, sessionOf(r))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// funcs are the templates' helpers.
func funcs() template.FuncMap {
	return template.FuncMap{
		"bytes": humanBytes,
		"num":   humanCount,
		"pps":   func(v float64) string { return siRate(v, "pkt/s") },
		"bps":   func(v float64) string { return siRate(v, "bit/s") },
		"dur":   humanDuration,
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return t.UTC().Format(timeFormat) + " UTC"
		},
		// utc writes a schedule's times, which are typed in UTC.
		"utc": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format(timeFormat) + " UTC"
		},
		"ago": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return humanDuration(time.Since(t).Seconds()) + " ago"
		},
		"proto":    protoName,
		"isICMP":   func(p int) bool { return p == 1 || p == 58 },
		"icmp":     icmpText,
		"plural":   plural,
		"barTitle": barTitle,
		"join":     strings.Join,
		"fileKind": fileKind,
		"pct":      func(v float64) string { return fmt.Sprintf("%.0f", math.Max(0, math.Min(100, v))) },
		"isFile":   func(iface string) bool { return strings.HasPrefix(iface, "file:") },
		"ms": func(ms int64) string {
			if ms == 0 {
				return "—"
			}
			return time.UnixMilli(ms).UTC().Format(timeFormat+".000") + " UTC"
		},
		"msdur": func(start, end int64) string {
			return fmt.Sprintf("%.3f s", float64(end-start)/1000)
		},
		"add":       func(a, b int) int { return a + b },
		"total":     func(a, b uint64) uint64 { return a + b },
		"hasPrefix": strings.HasPrefix,
		"download":  downloadPath,
		"list":      func(s ...string) []string { return s },
		"deref": func(p *int) int {
			if p == nil {
				return 0
			}
			return *p
		},
		// sub passes a part of the page to a fragment, with the layout's
		// members (user, CSRF token).
		"sub": func(v view, data any) view { v.Data = data; return v },
	}
}

// timeFormat is the one way the GUI writes a time (issue 18): the date
// and a 24-hour clock, in UTC (the charts' axes and tooltips too).
const timeFormat = "2006-01-02 15:04:05"

// icmpText writes the ICMP type and code of a flow, which IPFIX carries in
// the destination port as type×256+code (so port 2048 is "echo request").
func icmpText(proto, port int) string {
	typ, code := port>>8, port&0xff
	names := map[int]string{0: "echo reply", 3: "unreachable", 5: "redirect", 8: "echo request", 11: "time exceeded"}
	if proto == 58 {
		names = map[int]string{1: "unreachable", 2: "packet too big", 3: "time exceeded", 128: "echo request",
			129: "echo reply", 133: "router solicitation", 134: "router advertisement",
			135: "neighbor solicitation", 136: "neighbor advertisement"}
	}
	s := fmt.Sprintf("type %d code %d", typ, code)
	if n, ok := names[typ]; ok {
		s += " (" + n + ")"
	}
	return s
}

// humanBytes is a byte count with a binary unit.
func humanBytes(v any) string {
	n := toFloat(v)
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}

// humanCount is an integer with thin thousands separators.
func humanCount(v any) string {
	s := fmt.Sprintf("%.0f", toFloat(v))
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[0] != '-' {
			b.WriteString("\u202f")
		}
		b.WriteRune(c)
	}
	return b.String()
}

// siRate is a rate with an SI prefix.
func siRate(v float64, unit string) string {
	prefixes := []string{"", "k", "M", "G", "T"}
	i := 0
	for v >= 1000 && i < len(prefixes)-1 {
		v /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", v, unit)
	}
	return fmt.Sprintf("%.1f %s%s", v, prefixes[i], unit)
}

// humanDuration is seconds as "1h02m03s", "2m05s" or "4.2 s".
func humanDuration(s float64) string {
	if s < 60 {
		return fmt.Sprintf("%.1f s", s)
	}
	d := time.Duration(s) * time.Second
	h, m, sec := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, sec)
	}
	return fmt.Sprintf("%dm%02ds", m, sec)
}

// toFloat converts the templates' numbers.
func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// protoName names common IP protocols.
func protoName(p int) string {
	switch p {
	case 1:
		return "ICMP"
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 58:
		return "ICMPv6"
	case 132:
		return "SCTP"
	}
	return fmt.Sprint(p)
}

// fileKind tells what a result file holds, from its name.
func fileKind(name string) string {
	switch {
	case strings.HasSuffix(name, ".pcap"), strings.HasSuffix(name, ".pcapng"):
		return "pcap"
	case strings.HasSuffix(name, ".ipfix"):
		return "IPFIX"
	case strings.HasSuffix(name, ".csv"):
		return "CSV"
	}
	return "file"
}

// remoteHost is the client's address without its port, for the audit log
// of the actions taken through the GUI.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
