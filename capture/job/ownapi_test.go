package job

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
)

// TestOwnAPIRefused: a live job on the interface that carries the
// daemon's own API is refused (ErrInvalid naming the port) unless its
// filter leaves the API's traffic out; an interface that does not carry
// it is unaffected.
func TestOwnAPIRefused(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name, api, iface, filter string
		refused                  string // "" when accepted
	}{
		{"lo without filter", "127.0.0.1:8081", "lo", "", `interface "lo" carries this device's own API (port 8081) and the job has no filter`},
		{"lo not port", "127.0.0.1:8081", "lo", "not port 8081", ""},
		{"lo udp", "127.0.0.1:8081", "lo", "udp and dst port 9", ""},
		{"lo other host", "127.0.0.1:8081", "lo", "not host 127.0.0.1", ""},
		{"lo tcp", "127.0.0.1:8081", "lo", "tcp", "its filter takes the API's traffic (127.0.0.1:40000 to 127.0.0.1:8081)"},
		{"lo the port's replies", "127.0.0.1:8081", "lo", "src port 8081", "its filter takes the API's traffic (127.0.0.1:8081 to 127.0.0.1:40000)"},
		{"lo another loopback address", "127.0.0.2:8081", "lo", "", "(port 8081) and the job has no filter"},
		{"lo, all addresses", "0.0.0.0:8081", "lo", "", "(port 8081) and the job has no filter"},
		{"lo, all addresses, not port", "[::]:8081", "lo", "not port 8081", ""},
		{"API elsewhere", "192.0.2.1:8081", "lo", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t, "", func(c *Configuration) { c.APIAddr = tc.api })
			id, err := m.StartJob(Spec{Interface: tc.iface, Filter: tc.filter, Counters: &CountersSpec{}})
			if tc.refused == "" {
				if err != nil {
					t.Fatalf("StartJob: %v, want accepted", err)
				}
				if err := m.StopJob(id); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.refused) {
				t.Fatalf("StartJob: %v, want ErrInvalid with %q", err, tc.refused)
			}
		})
	}
}

// TestOwnAPIFrames: the synthetic segments are framed for every link
// type the check knows, and refused for the others.
func TestOwnAPIFrames(t *testing.T) {
	src, dst := netip.MustParseAddrPort("192.0.2.1:40000"), netip.MustParseAddrPort("[2001:db8::2]:8081")
	for _, lt := range []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw, 12, layers.LinkTypeLinuxSLL, layers.LinkTypeNull} {
		if _, err := tcpFrame(lt, src, netip.MustParseAddrPort("192.0.2.2:8081"), true, false, false); err != nil {
			t.Errorf("%s IPv4: %v", lt, err)
		}
		if _, err := tcpFrame(lt, netip.MustParseAddrPort("[2001:db8::1]:40000"), dst, true, false, false); err != nil {
			t.Errorf("%s IPv6: %v", lt, err)
		}
	}
	if _, err := tcpFrame(layers.LinkTypeIEEE802_11, src, dst, true, false, false); err == nil {
		t.Error("802.11: framed, want an error")
	}
	if got := config(t, "nonsense"); got == nil {
		t.Error("APIAddr nonsense: valid, want an error")
	}
}

// config validates a configuration with the given APIAddr.
func config(t *testing.T, api string) error {
	t.Helper()
	c := DefaultConfiguration()
	c.DataDir, c.APIAddr = t.TempDir(), api
	return c.Validate()
}
