package packet

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// v4 and v6 return an address as Summary holds it.
func v4(s string) (b [16]byte) {
	a := netip.MustParseAddr(s).As4()
	copy(b[:], a[:])
	return b
}

func v6(s string) [16]byte { return netip.MustParseAddr(s).As16() }

// diffSummary lists the fields that differ, as "field: got X, want Y".
func diffSummary(got, want Summary) string {
	var b strings.Builder
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range g.NumField() {
		f := g.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if gv, wv := g.Field(i).Interface(), w.Field(i).Interface(); !reflect.DeepEqual(gv, wv) {
			fmt.Fprintf(&b, "  %s: got %v, want %v\n", f.Name, gv, wv)
		}
	}
	return b.String()
}

func captureInfo(data []byte, wireLen int) gopacket.CaptureInfo {
	if wireLen == 0 {
		wireLen = len(data)
	}
	return gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 123000), CaptureLength: len(data), Length: wireLen}
}

func TestDecode(t *testing.T) {
	for i, c := range decodeCases() {
		t.Run(c.name, func(t *testing.T) {
			d, err := NewDecoder(c.link)
			if err != nil {
				t.Fatalf("NewDecoder(%d) error:\n%+v", c.link, err)
			}
			ci := captureInfo(c.data, c.wireLen)
			var got Summary
			d.Decode(c.data, ci, &got)
			want := c.want
			want.Timestamp, want.CapLen, want.WireLen = ci.Timestamp, ci.CaptureLength, ci.Length
			if diff := diffSummary(got, want); diff != "" {
				t.Errorf("case %d %q: Decode() (-got, +want):\n%s(last error: %v)", i, c.name, diff, d.lastErr)
			}
			// A Summary reused for another packet starts afresh.
			d.Decode(c.data, ci, &got)
			if diff := diffSummary(got, want); diff != "" {
				t.Errorf("case %d %q: second Decode() (-got, +want):\n%s", i, c.name, diff)
			}
		})
	}
}

func TestDecodeAccessors(t *testing.T) {
	cases := []struct {
		name     string
		s        Summary
		src, dst netip.Addr
	}{
		{"not IP", Summary{}, netip.Addr{}, netip.Addr{}},
		{"IPv4", Summary{IPVersion: 4, Src: v4("192.0.2.1"), Dst: v4("10.1.2.3")},
			netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("10.1.2.3")},
		{"IPv6", Summary{IPVersion: 6, Src: v6("2001:db8::1"), Dst: v6("::ffff:10.1.2.3")},
			netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::ffff:10.1.2.3")},
	}
	for _, c := range cases {
		if got := c.s.SrcAddr(); got != c.src {
			t.Errorf("%s: SrcAddr() = %v, want %v", c.name, got, c.src)
		}
		if got := c.s.DstAddr(); got != c.dst {
			t.Errorf("%s: DstAddr() = %v, want %v", c.name, got, c.dst)
		}
	}
}

func TestNewDecoderLinkTypes(t *testing.T) {
	cases := []struct {
		link layers.LinkType
		ok   bool
	}{
		{layers.LinkTypeNull, true},
		{layers.LinkTypeEthernet, true},
		{LinkTypeRawDLT12, true},
		{LinkTypeRawDLT14, true},
		{LinkTypeLinuxSLL2, true},
		{layers.LinkTypeRaw, true},
		{layers.LinkTypeLoop, true},
		{layers.LinkTypeLinuxSLL, true},
		{layers.LinkTypeIPv4, true},
		{layers.LinkTypeIPv6, true},
		{layers.LinkTypePPP, false},
		{layers.LinkTypeIEEE80211Radio, false},
	}
	for _, c := range cases {
		d, err := NewDecoder(c.link)
		if (err == nil) != c.ok || (d != nil) != c.ok {
			t.Errorf("NewDecoder(%d) = %v, %v; want ok=%v", c.link, d, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "unsupported link type") {
			t.Errorf("NewDecoder(%d) error %q does not say why", c.link, err)
		}
	}
}

// TestDecodeLoopbackFamilies checks every AF_INET6 value and both byte
// orders of the loopback header.
func TestDecodeLoopbackFamilies(t *testing.T) {
	c := decodeCases()[10] // loop/IPv6/TCP
	if !strings.HasPrefix(c.name, "loop ") {
		t.Fatalf("case 10 is %q, want the loopback IPv6 case", c.name)
	}
	ip := c.data[4:]
	for _, fam := range []byte{10, 24, 28, 30} {
		for _, order := range []string{"host", "network"} {
			hdr := []byte{fam, 0, 0, 0}
			if order == "network" {
				hdr = []byte{0, 0, 0, fam}
			}
			frame := append(hdr, ip...)
			for _, lt := range []layers.LinkType{layers.LinkTypeNull, layers.LinkTypeLoop} {
				d, _ := NewDecoder(lt)
				var s Summary
				d.Decode(frame, captureInfo(frame, 0), &s)
				if s.IPVersion != 6 || s.SrcPort != 8080 || s.Malformed {
					t.Errorf("link %d, AF %d (%s order): IPVersion %d, SrcPort %d, Malformed %v; want 6, 8080, false",
						lt, fam, order, s.IPVersion, s.SrcPort, s.Malformed)
				}
			}
		}
	}
	// An unknown family is not IP, and not an error either.
	frame := append([]byte{0, 0, 0, 7}, ip...)
	d, _ := NewDecoder(layers.LinkTypeNull)
	var s Summary
	d.Decode(frame, captureInfo(frame, 0), &s)
	if s.IPVersion != 0 || s.Malformed {
		t.Errorf("AF 7: IPVersion %d, Malformed %v; want 0, false", s.IPVersion, s.Malformed)
	}
}

// TestDecodeRawVersionNibble checks that raw link types trust the version
// nibble, as tcpdump does (tcpdump's LINKTYPE_IPV4_invalid sample).
func TestDecodeRawVersionNibble(t *testing.T) {
	cases := decodeCases()
	v4udp, v6icmp := cases[6].data, cases[7].data
	for _, lt := range []layers.LinkType{LinkTypeRawDLT12, LinkTypeRawDLT14, layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6} {
		for _, tc := range []struct {
			data []byte
			want uint8
		}{{v4udp, 4}, {v6icmp, 6}, {[]byte{0x50, 1, 2, 3}, 0}} {
			d, _ := NewDecoder(lt)
			var s Summary
			d.Decode(tc.data, captureInfo(tc.data, 0), &s)
			if s.IPVersion != tc.want || s.Malformed {
				t.Errorf("link %d, first byte %#x: IPVersion %d, Malformed %v; want %d, false", lt, tc.data[0], s.IPVersion, s.Malformed, tc.want)
			}
		}
	}
}
