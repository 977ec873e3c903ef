package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gimsproject/gims/am"
)

// Sessions are kept on the server: the cookie holds only a random
// identifier (HttpOnly, SameSite=Strict, Secure over TLS), the store keys
// them by its SHA-256. A session exists only after a successful login, so
// anonymous visitors cannot fill the store and push real logins out. The
// login form itself is protected by a signed double-submit token
// (loginToken): the same random value, signed with the handler's key, in a
// cookie and in a hidden field, checked without any state on the server.
// Every other request than GET and HEAD needs the session's CSRF token, in
// the form field "csrf" or in the X-CSRF-Token header (htmx), and a
// same-origin Origin header when the browser sends one.

// Names of the session and login cookies, the CSRF form field and header.
const (
	cookieName      = "gims_session"
	loginCookieName = "gims_login"
	csrfField       = "csrf"
	csrfHeader      = "X-CSRF-Token"
)

// loginTokenTTL is how long a login form stays usable.
const loginTokenTTL = time.Hour

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
	flash flash
}

// flash is a one-time message: a success (neutral), or an error (red,
// role=alert) with its technical detail folded.
type flash struct {
	Text   string
	Error  bool
	Detail string
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
	return now.Sub(s.seen) > st.cfg.SessionIdle || now.Sub(s.created) > st.cfg.SessionMax
}

// size returns the number of sessions held.
func (st *sessionStore) size() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.all)
}

// create starts a session for a logged-in user, sets its cookie and
// returns it.
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

// prune drops expired sessions and, if still full, the least recently
// seen (its lock held).
func (st *sessionStore) prune(now time.Time) {
	for k, s := range st.all {
		if st.expired(s, now) {
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
		cur.flash = flash{Text: msg}
	}
}

// setErrorFlash keeps an error for s's next page: the sentence a person
// reads and the technical detail (may be empty).
func (st *sessionStore) setErrorFlash(s *session, msg, detail string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if cur, ok := st.all[s.key]; ok {
		cur.flash = flash{Text: msg, Error: true, Detail: detail}
	}
}

// takeFlash returns and forgets s's message.
func (st *sessionStore) takeFlash(s *session) flash {
	st.mu.Lock()
	defer st.mu.Unlock()
	cur, ok := st.all[s.key]
	if !ok {
		return flash{}
	}
	msg := cur.flash
	cur.flash = flash{}
	return msg
}

// Errors of refused writes (answered 403).
var (
	errNoSession  = errors.New("no session: reload the page and log in")
	errCSRF       = errors.New("missing or wrong CSRF token: reload the page")
	errOrigin     = errors.New("cross-origin request refused")
	errLoginToken = errors.New("missing, wrong or expired login form token: reload the login page")
)

// checkOrigin refuses a request whose Origin header names another site.
func checkOrigin(r *http.Request) error {
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return errOrigin
		}
	}
	return nil
}

// checkWrite refuses a write without a session, with a wrong CSRF token
// or from another origin.
func (st *sessionStore) checkWrite(r *http.Request, s *session) error {
	if err := checkOrigin(r); err != nil {
		return err
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

// loginTokens makes and checks the login form's signed double-submit
// tokens: base64url of a random nonce, the issue time and an HMAC-SHA256
// of both under key. The key is random per handler, so a restart of the
// AM only asks those at the login form to reload it.
type loginTokens struct {
	key [32]byte
	now func() time.Time
}

// newLoginTokens returns a token maker with a fresh random key.
func newLoginTokens(now func() time.Time) *loginTokens {
	t := &loginTokens{now: now}
	rand.Read(t.key[:]) // never fails (crypto/rand panics rather)
	return t
}

// Sizes of a login token's parts.
const (
	loginNonceLen = 16
	loginTimeLen  = 8
	loginMACLen   = sha256.Size
)

// sign returns the MAC of a token's nonce and time.
func (t *loginTokens) sign(msg []byte) []byte {
	mac := hmac.New(sha256.New, t.key[:])
	mac.Write([]byte("gims-login-v1\x00"))
	mac.Write(msg)
	return mac.Sum(nil)
}

// issue sets a new token's cookie (SameSite=Strict, HttpOnly, only for
// /login) and returns the token for the form's hidden field.
func (t *loginTokens) issue(w http.ResponseWriter, r *http.Request) string {
	b := make([]byte, loginNonceLen+loginTimeLen, loginNonceLen+loginTimeLen+loginMACLen)
	rand.Read(b[:loginNonceLen])
	binary.BigEndian.PutUint64(b[loginNonceLen:], uint64(t.now().Unix()))
	token := base64.RawURLEncoding.EncodeToString(append(b, t.sign(b)...))
	http.SetCookie(w, &http.Cookie{Name: loginCookieName, Value: token, Path: "/login",
		MaxAge: int(loginTokenTTL / time.Second), HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	return token
}

// check refuses a login post from another origin, or whose form token
// is missing, differs from the cookie's, is not signed by this handler or
// is too old.
func (t *loginTokens) check(r *http.Request) error {
	if err := checkOrigin(r); err != nil {
		return err
	}
	c, err := r.Cookie(loginCookieName)
	if err != nil || c.Value == "" {
		return errLoginToken
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	field := r.PostFormValue(csrfField)
	if subtle.ConstantTimeCompare([]byte(field), []byte(c.Value)) != 1 {
		return errLoginToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(raw) != loginNonceLen+loginTimeLen+loginMACLen {
		return errLoginToken
	}
	msg, mac := raw[:loginNonceLen+loginTimeLen], raw[loginNonceLen+loginTimeLen:]
	if !hmac.Equal(mac, t.sign(msg)) {
		return errLoginToken
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(msg[loginNonceLen:])), 0)
	if age := t.now().Sub(issued); age < -time.Minute || age > loginTokenTTL {
		return errLoginToken
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
