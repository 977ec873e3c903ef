package am

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/ipfix"
	"github.com/gimsproject/gims/xmlrpc"
)

// wire is v's XML-RPC struct as natural Go values.
func wire(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := xmlrpc.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := xmlrpc.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestResultRows checks that the API's result rows carry every member of
// the device's entries, under the same names, plus the device and its
// interface.
func TestResultRows(t *testing.T) {
	pair := &db.Pairing{Device: "tap1", Interface: "eth0"}
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	c := deviceapi.CounterEntry{Time: at, Packets: 1, Bytes: 2, TCPPackets: 3, UDPPackets: 4, ICMPPackets: 5,
		OtherPackets: 6, TCPBytes: 7, UDPBytes: 8, ICMPBytes: 9, OtherBytes: 10}
	f := deviceapi.FlowEntry{Src: "10.0.0.1", Dst: "10.0.0.2", SrcPort: 1, DstPort: 2, Proto: 6, VLAN: 3, Packets: 4,
		Bytes: 5, RevPackets: 6, RevBytes: 7, Start: at, End: at.Add(time.Second), StartMS: at.UnixMilli(),
		EndMS: at.Add(time.Second).UnixMilli(), EndReason: "idle"}
	cases := []struct {
		name       string
		entry, row any
	}{
		{"counters", c, counterRow(c, pair)},
		{"flows", f, flowRow(f, pair)},
	}
	for _, tc := range cases {
		want := wire(t, tc.entry)
		want["device"], want["interface"] = "tap1", "eth0"
		if got := wire(t, tc.row); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: row %v, want %v", tc.name, got, want)
		}
	}
}

// TestEntries checks that the rows read from local copies fill every
// member of the device API's entries, as the device's answers do.
func TestEntries(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	c := counterEntry(counters.Record{Start: t0, Packets: 1, Bytes: 2, TCP: 3, UDP: 4, ICMP: 5, Other: 6,
		TCPBytes: 7, UDPBytes: 8, ICMPBytes: 9, OtherBytes: 10})
	wantC := deviceapi.CounterEntry{Time: t0, Packets: 1, Bytes: 2, TCPPackets: 3, UDPPackets: 4, ICMPPackets: 5,
		OtherPackets: 6, TCPBytes: 7, UDPBytes: 8, ICMPBytes: 9, OtherBytes: 10}
	if c != wantC {
		t.Errorf("counterEntry() (-got, +want):\n-%+v\n+%+v", c, wantC)
	}
	f := flowEntry(ipfix.FlowRow{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("2001:db8::1"),
		SrcPort: 1, DstPort: 2, Proto: 6, VLAN: 7, Packets: 8, Bytes: 9, RevPackets: 10, RevBytes: 11,
		Start: t0, End: t0.Add(1500 * time.Millisecond), EndReason: "idle"})
	wantF := deviceapi.FlowEntry{Src: "10.0.0.1", Dst: "2001:db8::1", SrcPort: 1, DstPort: 2, Proto: 6, VLAN: 7,
		Packets: 8, Bytes: 9, RevPackets: 10, RevBytes: 11, Start: t0, End: t0.Add(1500 * time.Millisecond),
		StartMS: t0.UnixMilli(), EndMS: t0.UnixMilli() + 1500, EndReason: "idle"}
	if f != wantF {
		t.Errorf("flowEntry() (-got, +want):\n-%+v\n+%+v", f, wantF)
	}
	for _, v := range []any{c, f} {
		rv := reflect.ValueOf(v)
		for i := range rv.NumField() {
			if rv.Field(i).IsZero() {
				t.Errorf("%T.%s is not filled", v, rv.Type().Field(i).Name)
			}
		}
	}
}
