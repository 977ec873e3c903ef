package job

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// resolveTimeout bounds the look-up of a collector's host name.
const resolveTimeout = 5 * time.Second

// allowCollector checks that spec's flows collector lies in the networks
// the device's owner allows (Configuration.Collectors), before anything
// is dialed, and pins it to the address it resolved to, so that the job
// dials what was checked (a name that later resolves elsewhere changes
// nothing). The URL's form was checked by deviceapi.
func (m *Manager) allowCollector(spec *Spec) error {
	if spec.Flows == nil || spec.Flows.Collector == "" {
		return nil
	}
	raw := spec.Flows.Collector
	u, err := url.Parse(raw)
	if err != nil {
		return invalidf("flows collector %q: not a URL", raw)
	}
	port, err := strconv.ParseUint(u.Port(), 10, 16)
	if err != nil {
		return invalidf("flows collector %q: bad port", raw)
	}
	addrs, err := resolve(u.Hostname())
	if err != nil {
		return invalidf("flows collector %q: %v", raw, err)
	}
	for _, a := range addrs {
		if !m.collectorAllowed(a) {
			return fmt.Errorf("%w: flows collector %s (%s) is outside the networks this device exports flows to (%s)",
				ErrNotAllowed, raw, a, prefixList(m.cfg.Collectors))
		}
	}
	spec.Flows.Collector = u.Scheme + "://" + netip.AddrPortFrom(addrs[0], uint16(port)).String()
	return nil
}

// collectorAllowed tells whether a is in one of the allowed networks.
func (m *Manager) collectorAllowed(a netip.Addr) bool {
	for _, p := range m.cfg.Collectors {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// resolve returns the addresses of host: itself when it is an address.
func resolve(host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("unable to resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s has no address", host)
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, nil
}

// prefixList is the allowed networks as a person reads them.
func prefixList(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "none: this device exports flows nowhere"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
