package flowfilter

import (
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"", ""},
		{"   ", ""},
		{"proto tcp", "proto tcp"},
		{"TCP", "proto tcp"},
		{"proto 47", "proto 47"},
		{"proto icmp6", "proto icmp6"},
		{"host 10.0.0.1", "host 10.0.0.1"},
		{"src ip ::ffff:10.0.0.1", "src host 10.0.0.1"},
		{"dst host 2001:db8::1", "dst host 2001:db8::1"},
		{"src net 10.1.2.3/8", "src net 10.0.0.0/8"},
		{"net 192.0.2.7", "net 192.0.2.7/32"},
		{"net ::ffff:10.0.0.0/104", "net 10.0.0.0/8"},
		{"port 80", "port = 80"},
		{"dst port >= 1024", "dst port >= 1024"},
		{"src port ne 53", "src port != 53"},
		{"bytes > 1k", "bytes > 1000"},
		{"packets <= 3", "packets <= 3"},
		{"packets 3", "packets = 3"},
		{"bytes == 2M", "bytes = 2000000"},
		{"tcp or udp and port 53", "(proto tcp or (proto udp and port = 53))"},
		{"(tcp or udp) and port 53", "((proto tcp or proto udp) and port = 53)"},
		{"not tcp and !udp", "(not proto tcp and not proto udp)"},
		{"!(src host 2001:db8::1) && port >= 1024 || packets <= 3", "((not src host 2001:db8::1 and port >= 1024) or packets <= 3)"},
		{"proto tcp and dst port 443 and src net 10.0.0.0/8 and bytes > 1000",
			"(((proto tcp and dst port = 443) and src net 10.0.0.0/8) and bytes > 1000)"},
	}
	for i, c := range cases {
		f, err := Parse(c.in)
		if err != nil {
			t.Errorf("#%d Parse(%q): %v", i, c.in, err)
			continue
		}
		if got := f.String(); got != c.want {
			t.Errorf("#%d Parse(%q) = %q, want %q", i, c.in, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"proto tcp and port x", `position 20: expected a port number (0 to 65535), got "x"`},
		{"port 65536", `position 6: expected a port number (0 to 65535), got "65536"`},
		{"port", `position 5: expected a port number, got the end of the filter`},
		{"proto", `position 6: expected a protocol (tcp, udp, icmp, icmp6 or a number), got the end of the filter`},
		{"proto bogus", `position 7: expected a protocol (tcp, udp, icmp, icmp6 or a number up to 255), got "bogus"`},
		{"host 10.0.0", `position 6: expected an IP address, got "10.0.0"`},
		{"net 10.0.0.0/33", `position 5: expected a prefix (address/length), got "10.0.0.0/33"`},
		{"(tcp", `position 5: missing ')' for the '(' at position 1`},
		{"tcp)", `position 4: unbalanced ')'`},
		{"tcp udp", `position 5: expected 'and', 'or' or the end, got "udp"`},
		{"tcp and", `position 8: expected a term, got the end of the filter`},
		{"src 10.0.0.1", `position 5: expected host, net or port after src, got "10.0.0.1"`},
		{"src proto tcp", `position 5: expected host, net or port after src, got "proto"`},
		{"bytes > lots", `position 9: expected a number of bytes (digits, optionally ending in k, m or g), got "lots"`},
		{"tcp; drop table", `position 4: unexpected character ';'`},
		{"frobnicate", `position 1: expected a term (proto, host, net, port, bytes, packets, src, dst, not or '('), got "frobnicate"`},
		{"and", `position 1: expected a term, got "and"`},
	}
	for i, c := range cases {
		_, err := Parse(c.in)
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("#%d Parse(%q) error = %v, want an *Error", i, c.in, err)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("#%d Parse(%q) error\n got %s\nwant %s", i, c.in, err, c.want)
		}
	}
	deep := ""
	for range 100 {
		deep += "("
	}
	if _, err := Parse(deep + "tcp"); err == nil {
		t.Error("100 nested parentheses parsed")
	}
	long := make([]byte, MaxLength+1)
	for i := range long {
		long[i] = ' '
	}
	if _, err := Parse(string(long)); err == nil {
		t.Error("a filter over MaxLength parsed")
	}
}

// flows is a small set every compiler is checked against.
var flows = []Flow{
	{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("192.0.2.7"), SrcPort: 40000, DstPort: 443, Proto: 6, Packets: 10, Bytes: 5000},
	{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("8.8.8.8"), SrcPort: 5353, DstPort: 53, Proto: 17, Packets: 2, Bytes: 180},
	{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), SrcPort: 0, DstPort: 0x8000, Proto: 58, Packets: 1, Bytes: 64},
	{Src: netip.MustParseAddr("192.0.2.7"), Dst: netip.MustParseAddr("10.0.0.1"), SrcPort: 80, DstPort: 1024, Proto: 6, Packets: 3, Bytes: 1000},
	{Src: netip.MustParseAddr("::"), Dst: netip.MustParseAddr("ff02::1"), Proto: 47, Packets: 1 << 40, Bytes: 1 << 50},
}

func TestMatch(t *testing.T) {
	cases := []struct {
		filter string
		want   []int // indexes of flows that match
	}{
		{"", []int{0, 1, 2, 3, 4}},
		{"tcp", []int{0, 3}},
		{"proto 47", []int{4}},
		{"host 10.0.0.1", []int{0, 3}},
		{"src host 10.0.0.1", []int{0}},
		{"dst host 10.0.0.1", []int{3}},
		{"net 10.0.0.0/8", []int{0, 1, 3}},
		{"dst net 10.0.0.0/8", []int{3}},
		{"net 2001:db8::/32", []int{2}},
		{"net ::/0", []int{2, 4}},
		{"net 0.0.0.0/0", []int{0, 1, 3}},
		{"port 53", []int{1}},
		{"dst port > 1024", []int{2}},
		{"port < 80", []int{1, 2, 4}},
		{"src port 80", []int{3}},
		{"bytes > 1000", []int{0, 4}},
		{"bytes >= 1000", []int{0, 3, 4}},
		{"packets < 3", []int{1, 2}},
		{"not tcp and not udp", []int{2, 4}},
		{"tcp and (dst port 443 or src port 80)", []int{0, 3}},
		{"udp or icmp6", []int{1, 2}},
		{"bytes > 9223372036854775808", nil},
		{"bytes < 9223372036854775808", []int{0, 1, 2, 3, 4}},
		{"bytes > 9223372036854775807", nil},
	}
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	loadFlows(t, db)
	for i, c := range cases {
		f, err := Parse(c.filter)
		if err != nil {
			t.Errorf("#%d Parse(%q): %v", i, c.filter, err)
			continue
		}
		var got []int
		for j := range flows {
			if f.Match(&flows[j]) {
				got = append(got, j)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("#%d %q: Go matches %v, want %v", i, c.filter, got, c.want)
		}
		if sqlGot := sqlMatches(t, db, f); fmt.Sprint(sqlGot) != fmt.Sprint(c.want) {
			t.Errorf("#%d %q: SQL matches %v, want %v", i, c.filter, sqlGot, c.want)
		}
	}
}

var testColumns = Columns{Src: "src", Dst: "dst", SrcPort: "sport", DstPort: "dport", Proto: "proto",
	Bytes: "bytes", Packets: "packets"}

func loadFlows(t testing.TB, db *sql.DB) {
	if _, err := db.Exec(`CREATE TABLE f (i INTEGER, src BLOB, dst BLOB, sport INTEGER, dport INTEGER,
		proto INTEGER, bytes INTEGER, packets INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for i, f := range flows {
		if _, err := db.Exec(`INSERT INTO f VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, i, AddrParam(f.Src), AddrParam(f.Dst),
			f.SrcPort, f.DstPort, f.Proto, int64(f.Bytes), int64(f.Packets)); err != nil {
			t.Fatal(err)
		}
	}
}

func sqlMatches(t testing.TB, db *sql.DB, f *Filter) []int {
	where, args := f.SQL(testColumns)
	rows, err := db.Query("SELECT i FROM f WHERE "+where+" ORDER BY i", args...)
	if err != nil {
		t.Fatalf("%q → %s: %v", f, where, err)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var i int
		if err := rows.Scan(&i); err != nil {
			t.Fatal(err)
		}
		got = append(got, i)
	}
	return got
}

func TestBPF(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"tcp and host 10.0.0.1", "(tcp and host 10.0.0.1)"},
		{"proto 47 or src net 10.0.0.0/8", "((ip proto 47 or ip6 proto 47) or src net 10.0.0.0/8)"},
		{"not dst port 53", "(not dst port 53)"},
		{"port > 1024", "portrange 1025-65535"},
		{"src port <= 80", "src portrange 0-80"},
		{"port != 22", "(not port 22)"},
		{"port < 0", "(tcp and not tcp)"},
	}
	for i, c := range cases {
		f, err := Parse(c.in)
		if err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		got, err := f.BPF()
		if err != nil || got != c.want {
			t.Errorf("#%d BPF(%q) = %q, %v; want %q", i, c.in, got, err, c.want)
		}
	}
	f, _ := Parse("tcp and bytes > 10")
	if _, err := f.BPF(); !errors.Is(err, ErrNoBPF) {
		t.Errorf("BPF of a bytes comparison: %v, want ErrNoBPF", err)
	}
}

// FuzzParse checks that no input panics the parser, that a parsed
// filter's canonical form parses to itself, and that the SQL and Go
// compilations agree on every test flow.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"proto tcp and dst port 443 and src net 10.0.0.0/8 and bytes > 1000",
		"!(host ::1) || port < 5", "net ::/0", "(((udp)))", "packets 1g", "src port ne 53"} {
		f.Add(s)
	}
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	loadFlows(f, db)
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := Parse(s)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) || fe.Pos < 1 || fe.Pos > len(s)+1 {
				t.Fatalf("Parse(%q): error %v has no position within the filter", s, err)
			}
			return
		}
		again, err := Parse(flt.String())
		if err != nil || again.String() != flt.String() {
			t.Fatalf("canonical %q of %q reparses to %v, %v", flt, s, again, err)
		}
		var want []int
		for j := range flows {
			if flt.Match(&flows[j]) {
				want = append(want, j)
			}
		}
		if got := sqlMatches(t, db, flt); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%q: SQL matches %v, Go %v", s, got, want)
		}
		_, _ = flt.BPF()
	})
}
