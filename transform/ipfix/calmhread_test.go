package ipfix

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gimsproject/gims/transform/flow"

	calmh "github.com/calmh/ipfix"
)

// readFlowsCalmh is ReadFlows through calmh/ipfix, the reference the
// streaming decoder is tested against: it calls fn with every flow record of an IPFIX file written by
// the exporter (through NewFileTransport), in file order, and returns how
// many it read. A missing file has none; a partial last message (being
// written) is left out.
func readFlowsCalmh(path string, fn func(FlowRow)) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("unable to read flows: %w", err)
	}
	defer f.Close()
	s := calmh.NewSession()
	in := calmh.NewInterpreter(s)
	var fields []calmh.InterpretedField
	n := 0
	_, err = WalkMessages(f, func(buf []byte) error {
		msg, err := s.ParseBuffer(buf)
		if err != nil {
			return fmt.Errorf("unable to parse %s: %w", path, err)
		}
		for _, dr := range msg.DataRecords {
			fields = in.InterpretInto(dr, fields[:0])
			fn(decodeFlow(fields))
			n++
		}
		return nil
	})
	return n, err
}

// decodeFlow turns the fields of one data record into a FlowRow, by the
// IANA and RFC 5103 names of calmh/ipfix's dictionary.
func decodeFlow(fields []calmh.InterpretedField) FlowRow {
	var r FlowRow
	for _, f := range fields {
		switch f.Name {
		case "sourceIPv4Address", "sourceIPv6Address":
			r.Src = ipValue(f.Value)
		case "destinationIPv4Address", "destinationIPv6Address":
			r.Dst = ipValue(f.Value)
		case "sourceTransportPort":
			r.SrcPort = uint16(uintValue(f.Value))
		case "destinationTransportPort":
			r.DstPort = uint16(uintValue(f.Value))
		case "protocolIdentifier":
			r.Proto = uint8(uintValue(f.Value))
		case "vlanId":
			r.VLAN = uint16(uintValue(f.Value))
		case "octetDeltaCount":
			r.Bytes = uintValue(f.Value)
		case "packetDeltaCount":
			r.Packets = uintValue(f.Value)
		case "reverseOctetDeltaCount":
			r.RevBytes = uintValue(f.Value)
		case "reversePacketDeltaCount":
			r.RevPackets = uintValue(f.Value)
		case "flowEndReason":
			r.EndReason = flow.EndReason(uintValue(f.Value)).String()
		case "flowStartMilliseconds", "flowEndMilliseconds":
			if t, ok := f.Value.(time.Time); ok {
				t = wholeMillis(t)
				if f.Name == "flowStartMilliseconds" {
					r.Start = t
				} else {
					r.End = t
				}
			}
		}
	}
	return r
}

func ipValue(v any) netip.Addr {
	var ip net.IP
	switch v := v.(type) {
	case *net.IP:
		ip = *v
	case net.IP:
		ip = v
	}
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

func uintValue(v any) uint64 {
	switch v := v.(type) {
	case uint8:
		return uint64(v)
	case uint16:
		return uint64(v)
	case uint32:
		return uint64(v)
	case uint64:
		return v
	}
	return 0
}

// readBoth reads an IPFIX file with ReadFlows and with calmh/ipfix.
func readBoth(t testing.TB, path string) (fast, ref []FlowRow, ferr, rerr error) {
	t.Helper()
	_, ferr = ReadFlows(path, func(r FlowRow) { fast = append(fast, r) })
	_, rerr = readFlowsCalmh(path, func(r FlowRow) { ref = append(ref, r) })
	return fast, ref, ferr, rerr
}

// TestReadFlowsMatchesCalmh reads the exporter's files, IPv4 and IPv6,
// uniflow and biflow, with the streaming decoder and with calmh/ipfix.
func TestReadFlowsMatchesCalmh(t *testing.T) {
	for _, biflow := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "flows.ipfix")
		writeTestFile(t, path, biflow, 3000)
		fast, ref, ferr, rerr := readBoth(t, path)
		if ferr != nil || rerr != nil || len(ref) != 3000 || !reflect.DeepEqual(fast, ref) {
			t.Fatalf("biflow %v: ReadFlows %d rows, %v; calmh %d rows, %v; equal %v", biflow, len(fast), ferr,
				len(ref), rerr, reflect.DeepEqual(fast, ref))
		}
	}
}

// FuzzReadFlows feeds any bytes to both decoders: the streaming one must
// not panic, and must read what calmh/ipfix reads whenever calmh reads
// the whole input without an error.
func FuzzReadFlows(f *testing.F) {
	dir := f.TempDir()
	for i, biflow := range []bool{false, true} {
		path := filepath.Join(dir, fmt.Sprint(i))
		writeTestFile(f, path, biflow, 20)
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "in.ipfix")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		fast, ref, ferr, rerr := readBoth(t, path)
		if rerr == nil && ferr == nil && !reflect.DeepEqual(fast, ref) {
			t.Fatalf("ReadFlows %+v\ncalmh     %+v", fast, ref)
		}
	})
}

// writeTestFile writes n sample records to path with the exporter
// (several messages of IPv4 and IPv6 data sets).
func writeTestFile(t testing.TB, path string, biflow bool, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfiguration()
	cfg.Biflow = biflow
	cfg.MaxMessageSize = 2000
	exportAll(t, cfg, NewFileTransport(f), sampleRecords(n))
}
