package am

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// Roles of users (SPEC §3).
const (
	RoleAdmin        = "admin"
	RoleExperimenter = "experimenter"
)

// Principal is an authenticated caller.
type Principal struct {
	// Name is the user's name.
	Name string
	// Role is RoleAdmin or RoleExperimenter.
	Role string
	// Remote is the address the call came from (for the audit log); the
	// API and the GUI set it, "" elsewhere.
	Remote string
}

// IsAdmin tells whether p may administer devices and users and see every
// experiment.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

// system is the principal of the AM's own transitions (duration_s
// reached, every file source read to its end).
func system() Principal { return Principal{Name: "system", Role: RoleAdmin} }

// authCacheTTL is how long a verified password is remembered, so that a
// client's every call does not pay for bcrypt.
const authCacheTTL = 5 * time.Minute

// cachedLogin remembers one verified password, as a keyed digest.
type cachedLogin struct {
	digest  [32]byte // HMAC-SHA256(cacheKey, password)
	hash    string   // the bcrypt hash it was checked against
	role    string
	expires time.Time
	// version is the users' version (db.UsersVersion) it was checked at:
	// while it holds, the login needs no database read.
	version uint64
}

// Authenticate checks a user's password and returns the principal.
// Wrong names and wrong passwords give the same ErrAuth error.
func (m *Manager) Authenticate(ctx context.Context, name, password string) (Principal, error) {
	return m.AuthenticateFrom(ctx, name, password, "")
}

// AuthenticateFrom is Authenticate for a client at addr (its IP address,
// "" when unknown): failed logins are throttled per user name and per
// address (see throttle).
func (m *Manager) AuthenticateFrom(ctx context.Context, name, password, addr string) (Principal, error) {
	if name == "" || password == "" {
		return Principal{}, fmt.Errorf("%w: user name and password required (HTTP Basic authentication)", ErrAuth)
	}
	now := m.cfg.Now()
	if err := m.throttle.check(name, addr, now); err != nil {
		return Principal{}, err
	}
	p, err := m.authenticate(ctx, name, password)
	switch {
	case err == nil:
		m.throttle.succeed(name)
	case errors.Is(err, ErrAuth):
		m.throttle.fail(name, addr, now)
	}
	return p, err
}

// authenticate checks a password against the database (and the cache of
// verified passwords).
func (m *Manager) authenticate(ctx context.Context, name, password string) (Principal, error) {
	fail := fmt.Errorf("%w: wrong user name or password", ErrAuth)
	mac := hmac.New(sha256.New, m.cacheKey[:])
	mac.Write([]byte(password))
	var digest [32]byte
	copy(digest[:], mac.Sum(nil))
	now := m.cfg.Now()
	version := m.db.UsersVersion()
	m.authMu.Lock()
	c, ok := m.authCache[name]
	m.authMu.Unlock()
	if ok && c.version == version && now.Before(c.expires) && hmac.Equal(c.digest[:], digest[:]) {
		// No user was written since this login was checked.
		return Principal{Name: name, Role: c.role}, nil
	}
	u, err := m.db.GetUser(ctx, name)
	if errors.Is(err, db.ErrNotFound) {
		// Spend the same time as a real check, so names cannot be probed.
		bcrypt.CompareHashAndPassword(m.dummyHash, []byte(password))
		return Principal{}, fail
	}
	if err != nil {
		return Principal{}, err
	}
	if ok && c.hash == u.PasswordHash && now.Before(c.expires) && hmac.Equal(c.digest[:], digest[:]) {
		m.authMu.Lock()
		c.version, c.role = version, u.Role
		m.authCache[name] = c
		m.authMu.Unlock()
		return Principal{Name: u.Name, Role: u.Role}, nil
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return Principal{}, fail
	}
	m.authMu.Lock()
	m.authCache[name] = cachedLogin{digest: digest, hash: u.PasswordHash, role: u.Role, expires: now.Add(authCacheTTL),
		version: version}
	m.authMu.Unlock()
	return Principal{Name: u.Name, Role: u.Role}, nil
}

// hashPassword makes the stored form of a password.
func (m *Manager) hashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), m.cfg.BcryptCost)
	if err != nil {
		return "", fmt.Errorf("unable to hash the password: %w", err)
	}
	return string(h), nil
}

// checkUserInput validates AddUser's struct.
func checkUserInput(u amapi.UserInput) error {
	if err := checkName("user name", u.Name); err != nil {
		return err
	}
	if u.Name == system().Name {
		return invalidf("user name %q is reserved for the manager's own transitions", u.Name)
	}
	if len(u.Password) < 8 {
		return invalidf("password must have at least 8 characters")
	}
	if len(u.Password) > 72 {
		return invalidf("password must have at most 72 bytes")
	}
	if u.Role != RoleAdmin && u.Role != RoleExperimenter {
		return invalidf("role must be %q or %q, not %q", RoleAdmin, RoleExperimenter, u.Role)
	}
	if u.CertURI != "" {
		if p, err := url.Parse(u.CertURI); err != nil || p.Scheme == "" || len(u.CertURI) > 1024 {
			return invalidf("cert_uri %q is not a URI", u.CertURI)
		}
	}
	return nil
}

// AuthenticateCertificate returns the user a verified client certificate
// names (SPEC §10): the user whose cert_uri is one of its SAN URIs, else
// the user called its CN. ok is false when state carries no client
// certificate verified by the server's -tls-client-ca (plain HTTP, or no
// certificate given); err is ErrAuth when the certificate names nobody.
func (m *Manager) AuthenticateCertificate(ctx context.Context, state *tls.ConnectionState) (p Principal, ok bool, err error) {
	if state == nil || len(state.VerifiedChains) == 0 || len(state.VerifiedChains[0]) == 0 {
		return Principal{}, false, nil
	}
	cert := state.VerifiedChains[0][0]
	for _, uri := range cert.URIs {
		u, err := m.db.UserByCertURI(ctx, uri.String())
		if err == nil {
			return Principal{Name: u.Name, Role: u.Role}, true, nil
		}
		if !errors.Is(err, db.ErrNotFound) {
			return Principal{}, true, err
		}
	}
	if cn := cert.Subject.CommonName; cn != "" && cn != system().Name {
		u, err := m.db.GetUser(ctx, cn)
		if err == nil {
			return Principal{Name: u.Name, Role: u.Role}, true, nil
		}
		if !errors.Is(err, db.ErrNotFound) {
			return Principal{}, true, err
		}
	}
	return Principal{}, true, fmt.Errorf("%w: the client certificate names no user", ErrAuth)
}

// checkName checks a user, device or experiment name: 1–64 characters,
// letters, digits and . _ - only (names appear in URLs and file names).
func checkName(what, s string) error {
	if s == "" || len(s) > 64 {
		return invalidf("%s must have 1 to 64 characters", what)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
			return invalidf("%s %q: use only letters, digits, '.', '_' and '-'", what, s)
		}
	}
	return nil
}

// requireAdmin refuses non-admins.
func requireAdmin(p Principal, what string) error {
	if !p.IsAdmin() {
		return fmt.Errorf("%w: %s is for admins; %s is an %s", ErrAuth, what, p.Name, p.Role)
	}
	return nil
}
