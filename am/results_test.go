package am

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/ipfix"
)

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
