package packet

import (
	"bytes"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// fastLinkTypes are the link types with a fast path, and one without.
func fastLinkTypes() []layers.LinkType {
	return []layers.LinkType{
		layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, LinkTypeLinuxSLL2, layers.LinkTypeRaw,
		layers.LinkTypeIPv4, layers.LinkTypeIPv6, layers.LinkTypeNull,
	}
}

// compareFastPath decodes data with Decode (fast path first) and with the
// DecodingLayerParser alone, and fails unless both give the same Summary,
// rewrite sites included, and the same anonymized bytes; and with
// DecodeSummary, which must give the same Summary but for the rewrite
// sites. It reports whether the fast path took the frame.
func compareFastPath(t *testing.T, fast, slow *Decoder, data []byte, ci gopacket.CaptureInfo) bool {
	t.Helper()
	var got, want, probe Summary
	fast.reset(&ci, &probe)
	took := fast.decodeFast(data, &probe)
	fast.Decode(data, ci, &got)
	slow.decodeLayers(data, ci, &want)
	got.l3, got.sanKeep, got.sanAt = 0, 0, 0 // only the fast path records them (the sanitizer's tests check them)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fast path (took it: %v) and parser differ on %x (caplen %d, len %d):\n%s\n fast %+v\nparser %+v",
			took, data, ci.CaptureLength, ci.Length, diffSummary(got, want), got.rw, want.rw)
	}
	var only Summary
	fast.DecodeSummary(data, &ci, &only)
	if !only.rw.noSites {
		t.Fatalf("DecodeSummary did not mark its Summary")
	}
	noSites := got
	only.rw, noSites.rw, only.l3, only.sanKeep, only.sanAt = rewriteInfo{}, rewriteInfo{}, 0, 0, 0
	if !reflect.DeepEqual(only, noSites) {
		t.Fatalf("DecodeSummary and Decode differ on %x (caplen %d, len %d):\n%s",
			data, ci.CaptureLength, ci.Length, diffSummary(only, noSites))
	}
	a, b := bytes.Clone(data), bytes.Clone(data)
	fast.Anonymize(a, &got, xorAnon{})
	slow.Anonymize(b, &want, xorAnon{})
	if !bytes.Equal(a, b) || got.Src != want.Src || got.Dst != want.Dst {
		t.Fatalf("anonymized frames differ on %x:\n fast %x\nparser %x", data, a, b)
	}
	return took
}

func decoders(t testing.TB, lt layers.LinkType) (fast, slow *Decoder) {
	t.Helper()
	fast, err := NewDecoder(lt)
	if err != nil {
		t.Fatal(err)
	}
	slow, err = NewDecoder(lt)
	if err != nil {
		t.Fatal(err)
	}
	return fast, slow
}

// TestFastPathMatchesParser runs every packet of the sample captures and
// every decode case, whole and cut short at every length (as a snaplen
// would), through the fast path and through the DecodingLayerParser: the
// Summaries must be identical. It also checks that the fast path takes
// the plain TCP/UDP/ICMP packets it is meant for.
func TestFastPathMatchesParser(t *testing.T) {
	type frame struct {
		lt   layers.LinkType
		data []byte
		wire int
	}
	var frames []frame
	for _, c := range samplePcaps(t) {
		for _, p := range c.packets {
			frames = append(frames, frame{c.linkType, p.data, p.ci.Length})
		}
	}
	for _, c := range decodeCases() {
		frames = append(frames, frame{c.link, c.data, max(c.wireLen, len(c.data))})
	}
	took, total := 0, 0
	for _, f := range frames {
		fast, slow := decoders(t, f.lt)
		for n := len(f.data); n >= 0; n-- {
			ci := gopacket.CaptureInfo{CaptureLength: n, Length: max(f.wire, n)}
			ok := compareFastPath(t, fast, slow, f.data[:n], ci)
			if n == len(f.data) {
				total++
				if ok {
					took++
				}
			}
		}
	}
	t.Logf("fast path took %d of %d whole frames", took, total)
	if took < total/2 {
		t.Errorf("fast path took only %d of %d whole sample frames", took, total)
	}

	// Frames the fast path must take.
	for _, c := range decodeCases() {
		switch c.name {
		case "Ethernet/IPv4/TCP":
		default:
			continue
		}
		fast, slow := decoders(t, c.link)
		ci := gopacket.CaptureInfo{CaptureLength: len(c.data), Length: len(c.data)}
		if !compareFastPath(t, fast, slow, c.data, ci) {
			t.Errorf("%s: the fast path declined it", c.name)
		}
	}
}

// TestFastPathVariants edits a TCP/IPv4 frame field by field (VLAN tags,
// IP header length and total length, fragment fields, TCP data offset and
// options, protocols) so that both paths meet the corner cases.
func TestFastPathVariants(t *testing.T) {
	var base []byte
	for _, c := range decodeCases() {
		if c.name == "Ethernet/IPv4/TCP" {
			base = c.data
		}
	}
	if base == nil {
		t.Fatal("no Ethernet/IPv4/TCP case")
	}
	fast, slow := decoders(t, layers.LinkTypeEthernet)
	set := func(f []byte, at int, v ...byte) []byte {
		g := bytes.Clone(f)
		copy(g[at:], v)
		return g
	}
	vlan := func(f []byte, tpid uint16) []byte {
		return append(append(bytes.Clone(f[:12]), byte(tpid>>8), byte(tpid), 0x20, 0x07), f[12:]...)
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"base", base},
		{"802.1Q", vlan(base, 0x8100)},
		{"QinQ", vlan(vlan(base, 0x8100), 0x88a8)},
		{"0x9100", vlan(base, 0x9100)},
		{"LLC length", set(base, 12, 0x00, 0x2e)},
		{"ARP", set(base, 12, 0x08, 0x06)},
		{"MPLS", set(base, 12, 0x88, 0x47)},
		{"IPv6 EtherType with IPv4", set(base, 12, 0x86, 0xdd)},
		{"IHL 4", set(base, 14, 0x44)},
		{"IHL 6", set(base, 14, 0x46)},
		{"version 6", set(base, 14, 0x65)},
		{"total length 0", set(base, 16, 0, 0)},
		{"total length 19", set(base, 16, 0, 19)},
		{"total length 20", set(base, 16, 0, 20)},
		{"total length 30", set(base, 16, 0, 30)},
		{"total length beyond frame", set(base, 16, 0x05, 0xdc)},
		{"first fragment", set(base, 20, 0x20, 0x00)},
		{"later fragment", set(base, 20, 0x00, 0x10)},
		{"UDP", set(base, 23, 17)},
		{"UDP length 5", set(set(base, 23, 17), 38, 0, 5)},
		{"ICMP echo", set(set(base, 23, 1), 34, 8, 0)},
		{"ICMP unreachable", set(set(base, 23, 1), 34, 3, 1)},
		{"ICMPv6 over IPv4", set(base, 23, 58)},
		{"IPv6 in IPv4", set(base, 23, 41)},
		{"SCTP", set(base, 23, 132)},
		{"GRE", set(base, 23, 47)},
		{"TCP data offset 4", set(base, 46, 0x40)},
		{"TCP data offset 15", set(base, 46, 0xf0)},
		{"TCP option length 1", set(base, 54, 0x02, 0x01)},
		{"TCP option length beyond header", set(base, 54, 0x02, 0x09)},
		{"TCP end of options", set(base, 54, 0x00, 0x09)},
		{"TCP no-ops", set(base, 54, 0x01, 0x01, 0x01, 0x01)},
		{"TCP all flags", set(base, 47, 0xff)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for n := len(tc.data); n >= 0; n-- {
				compareFastPath(t, fast, slow, tc.data[:n], gopacket.CaptureInfo{CaptureLength: n, Length: len(tc.data)})
			}
		})
	}
}

// FuzzFastPath holds the fast path to the parser on arbitrary frames of
// every link type, whole and as a snaplen would cut them.
func FuzzFastPath(f *testing.F) {
	for _, c := range samplePcaps(f) {
		for _, p := range c.packets {
			f.Add(p.data)
		}
	}
	for _, c := range decodeCases() {
		f.Add(c.data)
	}
	lts := fastLinkTypes()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, lt := range lts {
			fast, slow := decoders(t, lt)
			compareFastPath(t, fast, slow, data, gopacket.CaptureInfo{CaptureLength: len(data), Length: len(data)})
			compareFastPath(t, fast, slow, data, gopacket.CaptureInfo{CaptureLength: len(data), Length: len(data) + 100})
		}
	})
}

// TestResetClearsEveryField fills every field of a Summary, resets it and
// checks it equals a fresh one (the rewrite site arrays aside, which reset
// leaves for speed), so a field added to Summary cannot survive a reset.
func TestResetClearsEveryField(t *testing.T) {
	var s Summary
	v := reflect.ValueOf(&s).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int64:
			f.SetInt(7)
		case reflect.Uint8, reflect.Uint16, reflect.Uint32:
			f.SetUint(7)
		case reflect.Array:
			for j := range f.Len() {
				f.Index(j).SetUint(7)
			}
		case reflect.Struct: // Timestamp
			f.Set(reflect.ValueOf(time.Unix(7, 7)))
		default:
			t.Fatalf("field %s of kind %v: teach this test to fill it", v.Type().Field(i).Name, f.Kind())
		}
	}
	s.rw.nAddr, s.rw.nSum, s.rw.full = 3, 3, true
	s.rw.addrs[0].off = 99
	d, err := NewDecoder(layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(1, 2), CaptureLength: 10, Length: 20}
	d.reset(&ci, &s)
	s.rw.addrs, s.rw.sums = [maxAddrs]addrSite{}, [maxSums]sumSite{}
	want := Summary{Timestamp: ci.Timestamp, WireLen: 20, CapLen: 10, Truncated: true}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("reset left %+v, want %+v", s, want)
	}
}

// TestAnonymizeRefusesDecodeSummary: a Summary of DecodeSummary has no
// address sites, and Anonymize must not quietly leave the addresses as
// captured.
func TestAnonymizeRefusesDecodeSummary(t *testing.T) {
	for _, c := range decodeCases() {
		if c.name != "Ethernet/IPv4/TCP" {
			continue
		}
		d, _ := decoders(t, c.link)
		var s Summary
		d.DecodeSummary(c.data, &gopacket.CaptureInfo{CaptureLength: len(c.data), Length: len(c.data)}, &s)
		if s.IPVersion != 4 {
			t.Fatalf("DecodeSummary: IP version %d, want 4", s.IPVersion)
		}
		defer func() {
			if recover() == nil {
				t.Error("Anonymize of a DecodeSummary Summary did not panic")
			}
		}()
		d.Anonymize(bytes.Clone(c.data), &s, xorAnon{})
		return
	}
	t.Fatal("no Ethernet/IPv4/TCP case")
}

// TestResetRangeHasNoPointers: reset clears the Summary's bytes from VLAN
// to the rewrite site arrays as plain bytes, which is only sound while no
// field there holds a pointer (the garbage collector must see every
// pointer store). A field with a pointer added there fails this test: put
// it before VLAN or after the rewrite sites, or clear it by name.
func TestResetRangeHasNoPointers(t *testing.T) {
	from := unsafe.Offsetof(Summary{}.VLAN)
	to := from + resetBytes
	var check func(typ reflect.Type, base uintptr, path string)
	check = func(typ reflect.Type, base uintptr, path string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			start, end := base+f.Offset, base+f.Offset+f.Type.Size()
			if end <= from || start >= to {
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				check(f.Type, start, path+f.Name+".")
				continue
			}
			if hasPointers(f.Type) {
				t.Errorf("field %s%s (%v) holds pointers in the bytes reset clears", path, f.Name, f.Type)
			}
		}
	}
	check(reflect.TypeOf(Summary{}), 0, "")
	if want := unsafe.Offsetof(Summary{}.rw) + unsafe.Offsetof(rewriteInfo{}.addrs); to != want {
		t.Errorf("reset clears up to byte %d, the rewrite site arrays start at %d", to, want)
	}
}

// hasPointers says whether a value of typ holds a pointer.
func hasPointers(typ reflect.Type) bool {
	switch typ.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return typ.Len() > 0 && hasPointers(typ.Elem())
	case reflect.Struct:
		for i := range typ.NumField() {
			if hasPointers(typ.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true
}
