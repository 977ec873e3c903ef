package am

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/internal/tlsconfig"
	"github.com/gimsproject/gims/xmlrpc"
)

// client returns a device API client of d: plain HTTP, or HTTPS verified
// by the device CA or by d's pin. Clients are kept (keptClient).
func (m *Manager) client(d *db.Device) (*deviceapi.Client, error) {
	return m.keptClient(d)
}

// newClient makes a device API client of d.
func (m *Manager) newClient(d *db.Device) (*deviceapi.Client, error) {
	scheme, hc := "http://", m.http
	if d.TLS {
		scheme, hc = "https://", m.tlsClient(d.CertSHA256)
	}
	token, err := m.openToken(d.Token)
	if err != nil {
		return nil, fmt.Errorf("%w: device %s: %v", ErrDevice, d.Name, err)
	}
	c, err := deviceapi.NewClient(deviceapi.ClientConfig{
		BaseURL: scheme + net.JoinHostPort(d.Hostname, strconv.Itoa(d.Port)),
		Token:   token,
		Timeout: m.cfg.DeviceTimeout,
		HTTP:    hc,
	})
	if err != nil {
		return nil, &deviceFailure{detail: fmt.Sprintf("device %s: %v", d.Name, err),
			brief: fmt.Sprintf("device %s unreachable", d.Name)}
	}
	return c, nil
}

// tlsClient is the HTTP client of the devices served over HTTPS with pin
// (or verified by the device CA when pin is empty); clients are kept, so
// connections are reused. It follows redirects as m.http does.
func (m *Manager) tlsClient(pin string) *http.Client {
	m.tlsMu.Lock()
	defer m.tlsMu.Unlock()
	if c, ok := m.tlsClients[pin]; ok {
		return c
	}
	cfg := m.deviceTLS.Clone()
	if pin != "" {
		cfg = tlsconfig.Pinned(cfg, pin)
	}
	c := &http.Client{
		Transport:     deviceTransport(cfg),
		CheckRedirect: m.http.CheckRedirect,
		Timeout:       m.http.Timeout,
	}
	m.tlsClients[pin] = c
	return c
}

// deviceFailure is a failed call to capture devices (ErrDevice). Its text,
// for admins and the log, says what failed and how: addresses, transport
// errors, the devices' own messages. brief names only the devices and
// whether they were unreachable or refused: experimenters get that, so
// that they learn no address and cannot probe the network through a
// device (issue 20).
type deviceFailure struct{ detail, brief string }

// Error implements error.
func (e *deviceFailure) Error() string { return ErrDevice.Error() + ": " + e.detail }

// Unwrap makes errors.Is(err, ErrDevice) hold.
func (e *deviceFailure) Unwrap() error { return ErrDevice }

// deviceError wraps a failed call to a device as ErrDevice, naming it:
// "device tap1 unreachable: …" or "device tap1 refused: …".
func deviceError(name string, err error) error {
	return &deviceFailure{detail: deviceProblem(name, err), brief: deviceBrief(name, err)}
}

// deviceBrief is deviceProblem for experimenters: "device tap1
// unreachable", or the device's refusal without what it says about a
// flows collector.
func deviceBrief(name string, err error) string {
	var f *xmlrpc.Fault
	if errors.As(err, &f) {
		return fmt.Sprintf("device %s refused: %s", name, briefDeviceMessage(f.String))
	}
	if tlsconfig.IsCertificateError(err) {
		return fmt.Sprintf("device %s certificate mismatch", name)
	}
	return fmt.Sprintf("device %s unreachable", name)
}

// collectorBrief is what experimenters read instead of a device's message
// about a flows collector: whether its port answered, how, or whether its
// name resolves is for admins (until device policy limits collectors).
const collectorBrief = "the flows collector could not be used or did not get every flow record (details for admins)"

// briefDeviceMessage is a device's message as experimenters see it.
func briefDeviceMessage(s string) string {
	if strings.Contains(strings.ToLower(s), "collector") {
		return collectorBrief
	}
	return s
}

// forPrincipal returns err as p may read it: unchanged for an admin; a
// device failure reduced to its brief text for others.
func forPrincipal(p Principal, err error) error {
	var df *deviceFailure
	if err == nil || p.IsAdmin() || !errors.As(err, &df) {
		return err
	}
	return &deviceFailure{detail: df.brief, brief: df.brief}
}

// deviceProblem says what went wrong with a call to a device.
func deviceProblem(name string, err error) string {
	var f *xmlrpc.Fault
	if errors.As(err, &f) {
		return fmt.Sprintf("device %s refused: %s", name, f.String)
	}
	if tlsconfig.IsCertificateError(err) {
		// The handshake failed: nothing was sent to the device.
		return fmt.Sprintf("device %s certificate mismatch: %v", name, err)
	}
	return fmt.Sprintf("device %s unreachable: %v", name, err)
}

// fetchCapabilities asks the device for its capabilities and stores them
// in d (as the XML-RPC value they came as), with reachability.
func (m *Manager) fetchCapabilities(ctx context.Context, d *db.Device) error {
	c, err := m.client(d)
	if err != nil {
		return err
	}
	caps, err := c.Capabilities(ctx)
	if err != nil {
		d.Reachable, d.LastError = false, deviceError(d.Name, err).Error()
		return deviceError(d.Name, err)
	}
	raw, err := xmlrpc.Marshal(caps)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.Name, err)
	}
	d.Capabilities, d.Reachable, d.LastSeen, d.LastError = raw, true, m.cfg.Now(), ""
	return nil
}

// hostLabelRE is one label of a host name (underscores allowed: some
// internal names have them).
var hostLabelRE = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$`)

// ValidHost tells whether s is an IP address or a host name (labels of
// letters, digits, '-' and '_' between dots), so that "bad!host" is
// refused with a readable message rather than a resolver's error.
func ValidHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	if net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")) != nil {
		return true
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if !hostLabelRE.MatchString(label) {
			return false
		}
	}
	return true
}

// checkDevice validates the fields of a device record.
func checkDevice(d *db.Device) error {
	if err := checkName("device name", d.Name); err != nil {
		return err
	}
	if !ValidHost(d.Hostname) {
		return invalidf("device %s: hostname %q is not a host name or address", d.Name, d.Hostname)
	}
	if d.Port < 1 || d.Port > 65535 {
		return invalidf("device %s: port must be between 1 and 65535, got %d", d.Name, d.Port)
	}
	if d.Token == "" {
		return invalidf("device %s: token is required (the daemon's bearer token)", d.Name)
	}
	if strings.HasPrefix(d.Token, sealedTokenPrefix) {
		return invalidf("device %s: token must not start with %q", d.Name, sealedTokenPrefix)
	}
	if d.CertSHA256 != "" {
		pin, err := tlsconfig.NormalizePin(d.CertSHA256)
		if err != nil {
			return invalidf("device %s: %v", d.Name, err)
		}
		if !d.TLS {
			return invalidf("device %s: cert_sha256 needs tls", d.Name)
		}
		d.CertSHA256 = pin
	}
	for _, i := range d.Interfaces {
		if i == "" || strings.Contains(i, ",") {
			return invalidf("device %s: interface %q is not a name", d.Name, i)
		}
	}
	return nil
}

// AddDevice adds a capture device (admin only), fetching and storing its
// capabilities; a device that cannot be reached or refuses the token is
// not added (ErrDevice).
func (m *Manager) AddDevice(ctx context.Context, p Principal, in amapi.DeviceInput) (_ amapi.DeviceInfo, err error) {
	defer m.audit(ctx, p, "AddDevice", in.Name, &err)
	if err := requireAdmin(p, "AddDevice"); err != nil {
		return amapi.DeviceInfo{}, err
	}
	d := db.Device{Name: in.Name, Location: in.Location, Type: in.Type, Hostname: in.Hostname, Port: in.Port,
		Description: in.Description, Token: in.Token, Interfaces: in.Interfaces, Created: m.cfg.Now(),
		TLS: in.TLS, CertSHA256: in.CertSHA256}
	if err := checkDevice(&d); err != nil {
		return amapi.DeviceInfo{}, fmt.Errorf("add device: %w", err)
	}
	if err := setPolicy(&d, amapi.DefaultDevicePolicy(), in.Policy); err != nil {
		return amapi.DeviceInfo{}, fmt.Errorf("add device: %w", err)
	}
	if _, err := m.db.GetDevice(ctx, d.Name); err == nil {
		return amapi.DeviceInfo{}, fmt.Errorf("%w: device %q exists", ErrConflict, d.Name)
	}
	if err := m.fetchCapabilities(ctx, &d); err != nil {
		return amapi.DeviceInfo{}, fmt.Errorf("add device: %w", err)
	}
	if err := checkInterfaces(&d); err != nil {
		return amapi.DeviceInfo{}, fmt.Errorf("add device: %w", err)
	}
	sealed, err := m.sealToken(d.Token)
	if err != nil {
		return amapi.DeviceInfo{}, err
	}
	d.Token = sealed
	if err := m.db.CreateDevice(ctx, d); err != nil {
		return amapi.DeviceInfo{}, fmt.Errorf("add device: %w", err)
	}
	m.log.Info("device added", "device", d.Name, "address", net.JoinHostPort(d.Hostname, strconv.Itoa(d.Port)), "by", p.Name)
	return deviceInfo(&d), nil
}

// checkInterfaces checks that the interfaces configured for d are ones
// its capabilities list.
func checkInterfaces(d *db.Device) error {
	caps, ok := capabilities(d)
	if !ok {
		return nil
	}
	for _, want := range d.Interfaces {
		if _, found := caps.iface(want); !found {
			return invalidf("device %s has no interface %q (it has: %s)", d.Name, want, strings.Join(caps.names(), ", "))
		}
	}
	return nil
}

// EditDevice changes a device (admin only); approved: true approves a
// pending one. Changing the address or token of a device in use is a
// conflict; a new address, token or approval refetches the capabilities.
func (m *Manager) EditDevice(ctx context.Context, p Principal, name string, ch amapi.DeviceChanges) (_ amapi.DeviceInfo, err error) {
	defer m.audit(ctx, p, "EditDevice", name, &err)
	if err := requireAdmin(p, "EditDevice"); err != nil {
		return amapi.DeviceInfo{}, err
	}
	cur, err := m.db.GetDevice(ctx, name)
	if err != nil {
		return amapi.DeviceInfo{}, fmt.Errorf("edit device: %w", err)
	}
	curToken, err := m.openToken(cur.Token)
	if err != nil {
		return amapi.DeviceInfo{}, err
	}
	next := cur
	next.Token = curToken
	next.Interfaces = append([]string(nil), cur.Interfaces...)
	for _, c := range []struct {
		from *string
		to   *string
	}{{ch.Name, &next.Name}, {ch.Location, &next.Location}, {ch.Type, &next.Type}, {ch.Hostname, &next.Hostname},
		{ch.Description, &next.Description}, {ch.Token, &next.Token}} {
		if c.from != nil {
			*c.to = *c.from
		}
	}
	if ch.Port != nil {
		next.Port = *ch.Port
	}
	if ch.Interfaces != nil {
		next.Interfaces = *ch.Interfaces
	}
	if ch.TLS != nil {
		next.TLS = *ch.TLS
	}
	if ch.CertSHA256 != nil {
		next.CertSHA256 = *ch.CertSHA256
	}
	if ch.Approved != nil {
		if !*ch.Approved && !cur.Pending {
			return amapi.DeviceInfo{}, invalidf("device %s is approved already; delete it to withdraw it", name)
		}
		next.Pending = !*ch.Approved
	}
	if err := checkDevice(&next); err != nil {
		return amapi.DeviceInfo{}, fmt.Errorf("edit device: %w", err)
	}
	if ch.Policy != nil {
		if err := setPolicy(&next, devicePolicy(&cur), ch.Policy); err != nil {
			return amapi.DeviceInfo{}, fmt.Errorf("edit device: %w", err)
		}
	}
	moved := next.Hostname != cur.Hostname || next.Port != cur.Port || next.Token != curToken ||
		next.TLS != cur.TLS || next.CertSHA256 != cur.CertSHA256
	if moved || next.Name != cur.Name {
		busy, err := m.db.DeviceInUse(ctx, name)
		if err != nil {
			return amapi.DeviceInfo{}, err
		}
		if busy {
			return amapi.DeviceInfo{}, fmt.Errorf("%w: device %s is used by a running or paused experiment; "+
				"its name, address and token cannot change now", ErrConflict, name)
		}
	}
	if !next.Pending && (moved || cur.Pending) {
		if err := m.fetchCapabilities(ctx, &next); err != nil {
			return amapi.DeviceInfo{}, fmt.Errorf("edit device: %w", err)
		}
	}
	if err := checkInterfaces(&next); err != nil {
		return amapi.DeviceInfo{}, fmt.Errorf("edit device: %w", err)
	}
	stored := next
	if stored.Token, err = m.sealToken(next.Token); err != nil {
		return amapi.DeviceInfo{}, err
	}
	saved, err := m.db.UpdateDevice(ctx, name, func(d *db.Device) error { *d = stored; return nil })
	if err != nil {
		return amapi.DeviceInfo{}, err
	}
	m.log.Info("device edited", "device", name, "new_name", saved.Name, "approved", !saved.Pending, "by", p.Name)
	return deviceInfo(&saved), nil
}

// DeleteDevice removes a device (admin only) and returns the deleted
// record; a device a running or paused experiment uses is a conflict.
func (m *Manager) DeleteDevice(ctx context.Context, p Principal, name string) (_ amapi.DeviceInfo, err error) {
	defer m.audit(ctx, p, "DeleteDevice", name, &err)
	if err := requireAdmin(p, "DeleteDevice"); err != nil {
		return amapi.DeviceInfo{}, err
	}
	d, err := m.db.DeleteDevice(ctx, name)
	if errors.Is(err, db.ErrInUse) {
		return amapi.DeviceInfo{}, fmt.Errorf("%w: device %q is in use by a running or paused experiment", ErrConflict, name)
	}
	if err != nil {
		return amapi.DeviceInfo{}, err
	}
	m.forgetClient(name)
	m.log.Info("device deleted", "device", name, "by", p.Name)
	return deviceInfo(&d), nil
}

// ListDevices lists the devices (admin only), pending ones included.
func (m *Manager) ListDevices(ctx context.Context, p Principal) ([]amapi.DeviceInfo, error) {
	if err := requireAdmin(p, "ListDevices"); err != nil {
		return nil, err
	}
	devs, err := m.db.ListDevices(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]amapi.DeviceInfo, len(devs))
	for i := range devs {
		out[i] = deviceInfo(&devs[i])
	}
	return out, nil
}

// DeviceNames lists the approved devices p may put in an experiment
// (every one for an admin), with their capabilities and policies (for
// the GUI's forms).
func (m *Manager) DeviceNames(ctx context.Context, p Principal) ([]amapi.DeviceInfo, error) {
	devs, err := m.db.ListDevices(ctx)
	if err != nil {
		return nil, err
	}
	out := []amapi.DeviceInfo{}
	for i := range devs {
		if devs[i].Pending {
			continue
		}
		info := deviceInfo(&devs[i])
		if !p.IsAdmin() {
			// A device whose policy does not list p is not p's to
			// choose (SPEC §9).
			if !info.Policy.Allows(p.Name) {
				continue
			}
			// The address, also in connection errors, is for admins;
			// so are the other users of the device.
			info.Hostname, info.Port, info.LastError = "", 0, ""
			info.Policy = info.Policy.ForUser(p.Name)
		}
		out = append(out, info)
	}
	return out, nil
}

// GetDeviceCapabilities asks an approved device for its capabilities,
// storing them; when it cannot be reached, the stored ones are returned
// if there are any (else ErrDevice). They carry the device's policy as
// it applies to p; an experimenter the policy does not list gets
// ErrAuth.
func (m *Manager) GetDeviceCapabilities(ctx context.Context, p Principal, name string) (amapi.Capabilities, error) {
	d, err := m.db.GetDevice(ctx, name)
	if err != nil || d.Pending {
		return amapi.Capabilities{}, fmt.Errorf("%w: device %q", ErrNotFound, name)
	}
	pol := devicePolicy(&d)
	if !p.IsAdmin() && !pol.Allows(p.Name) {
		return amapi.Capabilities{}, policyError(name, fmt.Sprintf("policy does not allow user %s", p.Name))
	}
	fetchErr := m.fetchCapabilities(ctx, &d)
	if _, err := m.db.UpdateDevice(ctx, name, func(x *db.Device) error {
		x.Capabilities, x.Reachable, x.LastSeen, x.LastError = d.Capabilities, d.Reachable, d.LastSeen, d.LastError
		return nil
	}); err != nil {
		return amapi.Capabilities{}, err
	}
	caps, ok := capabilities(&d)
	if !ok {
		return amapi.Capabilities{}, forPrincipal(p, fetchErr)
	}
	return callerCapabilities(p, caps.Capabilities, pol), nil
}

// refreshDevices refreshes the capabilities and reachability of every
// approved device, DeviceConcurrency at a time, and stores them in one
// transaction.
func (m *Manager) refreshDevices(ctx context.Context) {
	devs, err := m.db.ListDevices(ctx)
	if err != nil {
		m.log.Error("device refresh failed", "error", err)
		return
	}
	contacts := make([]*db.DeviceContact, len(devs))
	m.fanOut(len(devs), func(i int) {
		d := &devs[i]
		if d.Pending {
			return
		}
		err := m.fetchCapabilities(ctx, d)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			m.log.Warn("device unreachable", "device", d.Name, "error", err)
		}
		c := &db.DeviceContact{Name: d.Name, Reachable: d.Reachable, LastError: d.LastError}
		if err == nil {
			c.Capabilities, c.LastSeen = d.Capabilities, d.LastSeen
		}
		contacts[i] = c
	})
	var list []db.DeviceContact
	for _, c := range contacts {
		if c != nil {
			list = append(list, *c)
		}
	}
	if err := m.db.SetDeviceContacts(ctx, list); err != nil && ctx.Err() == nil {
		m.log.Error("device refresh failed", "error", err)
	}
}

// storedCaps are a device's stored capabilities with lookups.
type storedCaps struct{ amapi.Capabilities }

// capabilities decodes d's stored capabilities.
func capabilities(d *db.Device) (storedCaps, bool) {
	var c storedCaps
	if len(d.Capabilities) == 0 {
		return c, false
	}
	if err := xmlrpc.Unmarshal(d.Capabilities, &c.Capabilities); err != nil {
		return c, false
	}
	// The daemon's "policy" is its owner's own limit (gims-capd
	// -policy), shown as device_policy; policy is the AM's.
	if dp := c.Policy; dp != nil {
		own := dp.Policy
		c.DevicePolicy, c.Policy = &own, nil
	}
	return c, true
}

// iface finds an interface by name.
func (c *storedCaps) iface(name string) (amapi.InterfaceInfo, bool) {
	for _, i := range c.Interfaces {
		if i.Name == name {
			return i, true
		}
	}
	return amapi.InterfaceInfo{}, false
}

// names lists the interface names.
func (c *storedCaps) names() []string {
	out := make([]string, len(c.Interfaces))
	for i, x := range c.Interfaces {
		out[i] = x.Name
	}
	return out
}

// deviceInfo is the API view of a device, without its token.
func deviceInfo(d *db.Device) amapi.DeviceInfo {
	info := amapi.DeviceInfo{Name: d.Name, Location: d.Location, Type: d.Type, Hostname: d.Hostname, Port: d.Port,
		Description: d.Description, Interfaces: d.Interfaces, Pending: d.Pending, Reachable: d.Reachable,
		LastSeen: d.LastSeen, LastError: d.LastError, Created: d.Created, TLS: d.TLS, CertSHA256: d.CertSHA256,
		Policy: devicePolicy(d)}
	if info.Interfaces == nil {
		info.Interfaces = []string{}
	}
	if c, ok := capabilities(d); ok {
		info.Capabilities = &c.Capabilities
	}
	return info
}

// deviceConnsPerHost bounds the AM's connections to one capture device,
// below gims-capd's default -http-max-client-connections (64): under load
// the AM's calls wait for a connection instead of being refused by the
// device's per-client limit (and then reported as "unreachable").
const deviceConnsPerHost = 16

// deviceTransport is the transport of the AM's calls to capture devices:
// a bounded, reused set of connections per device (TLS with cfg when it
// is not nil).
func deviceTransport(cfg *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     cfg,
		ForceAttemptHTTP2:   cfg != nil,
		MaxConnsPerHost:     deviceConnsPerHost,
		MaxIdleConnsPerHost: deviceConnsPerHost,
		IdleConnTimeout:     90 * time.Second,
	}
}
