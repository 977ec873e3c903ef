package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gimsproject/gims/am"
)

// Sessions are kept on the server: the cookie holds only a random
// identifier (HttpOnly, SameSite=Strict, Secure over TLS), the store keys
// them by its SHA-256. A visitor gets an anonymous session at the login
// form, so that the login itself carries a CSRF token; logging in replaces
// it with a new one (no session fixation). Every request other than GET and
// HEAD needs the session's CSRF token, in the form field "csrf" or in the
// X-CSRF-Token header (htmx), and a same-origin Origin header when the
// browser sends one.

// Names of the session cookie, the CSRF form field and header.
const (
	cookieName = "gims_session"
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
)

// session is one visitor's state; the store hands out copies.
type session struct {
	// key is the SHA-256 of the cookie's identifier ("" for no session).
	key [32]byte
	// CSRF is the token every write must carry.
	CSRF string
	// User is the logged-in principal (zero before login).
	User    am.Principal
	created time.Time
	seen    time.Time
	// flash is a one-time message for the next page.
	flash string
}

// loggedIn tells whether the session belongs to a user.
func (s *session) loggedIn() bool { return s != nil && s.User.Name != "" }

// sessionStore holds the sessions in memory.
type sessionStore struct {
	cfg Configuration
	mu  sync.Mutex
	all map[[32]byte]*session
}

// newSessionStore returns an empty store.
func newSessionStore(cfg Configuration) *sessionStore {
	return &sessionStore{cfg: cfg, all: make(map[[32]byte]*session)}
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// get returns a copy of the request's live session, or nil.
func (st *sessionStore) get(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	key := sha256.Sum256([]byte(c.Value))
	now := st.cfg.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.all[key]
	if !ok {
		return nil
	}
	if st.expired(s, now) {
		delete(st.all, key)
		return nil
	}
	s.seen = now
	cp := *s
	return &cp
}

// expired tells whether s is over (its lock held).
func (st *sessionStore) expired(s *session, now time.Time) bool {
	idle := st.cfg.SessionIdle
	if !s.loggedIn() {
		idle = min(idle, 30*time.Minute)
	}
	return now.Sub(s.seen) > idle || now.Sub(s.created) > st.cfg.SessionMax
}

// create starts a session for user (zero for an anonymous one), sets its
// cookie and returns it.
func (st *sessionStore) create(w http.ResponseWriter, r *http.Request, user am.Principal) *session {
	id := randomToken()
	now := st.cfg.Now()
	s := &session{key: sha256.Sum256([]byte(id)), CSRF: randomToken(), User: user, created: now, seen: now}
	st.mu.Lock()
	if len(st.all) >= st.cfg.MaxSessions {
		st.prune(now)
	}
	st.all[s.key] = s
	st.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	cp := *s
	return &cp
}

// prune drops expired sessions and, if still full, the anonymous ones,
// then the least recently seen (its lock held).
func (st *sessionStore) prune(now time.Time) {
	for k, s := range st.all {
		if st.expired(s, now) || !s.loggedIn() {
			delete(st.all, k)
		}
	}
	for len(st.all) >= st.cfg.MaxSessions {
		var oldest *session
		for _, s := range st.all {
			if oldest == nil || s.seen.Before(oldest.seen) {
				oldest = s
			}
		}
		delete(st.all, oldest.key)
	}
}

// destroy ends s and clears its cookie.
func (st *sessionStore) destroy(w http.ResponseWriter, s *session) {
	if s != nil {
		st.mu.Lock()
		delete(st.all, s.key)
		st.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
}

// setFlash keeps a message for s's next page.
func (st *sessionStore) setFlash(s *session, msg string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if cur, ok := st.all[s.key]; ok {
		cur.flash = msg
	}
}

// takeFlash returns and forgets s's message.
func (st *sessionStore) takeFlash(s *session) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	cur, ok := st.all[s.key]
	if !ok {
		return ""
	}
	msg := cur.flash
	cur.flash = ""
	return msg
}

// Errors of refused writes (answered 403).
var (
	errNoSession = errors.New("no session: reload the page and log in")
	errCSRF      = errors.New("missing or wrong CSRF token: reload the page")
	errOrigin    = errors.New("cross-origin request refused")
)

// checkWrite refuses a write without a session, with a wrong CSRF token
// or from another origin.
func (st *sessionStore) checkWrite(r *http.Request, s *session) error {
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return errOrigin
		}
	}
	if s == nil {
		return errNoSession
	}
	token := r.Header.Get(csrfHeader)
	if token == "" {
		// Bounded: the form is read again by the handler from the cache.
		r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
		token = r.PostFormValue(csrfField)
	}
	if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) != 1 {
		return errCSRF
	}
	return nil
}

// sessionKey is the context key of the request's session.
type sessionKey struct{}

// withSession stores s (possibly nil) in ctx.
func withSession(ctx context.Context, s *session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// sessionOf returns the request's session, or nil.
func sessionOf(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}
