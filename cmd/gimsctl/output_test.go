package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/deviceapi"
)

// diffValues describes how got differs from want, or returns "".
func diffValues(got, want any) string {
	if reflect.DeepEqual(got, want) {
		return ""
	}
	return fmt.Sprintf("-%#v\n+%#v", got, want)
}

// t0 is a time of the renderer tests.
var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// golden compares got with testdata/golden/name, or rewrites it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s\n-got:\n%s\n+want:\n%s", path, got, want)
	}
}

// TestOutputOlderManager checks the counters table of a manager from
// before the bytes per protocol: the columns it does not send are left out.
func TestOutputOlderManager(t *testing.T) {
	var b strings.Builder
	err := renderCounters(&b, []amapi.CounterRow{{Device: "tap1", CounterEntry: deviceapi.CounterEntry{
		Time: t0, Packets: 10, Bytes: 1500, TCPPackets: 6, UDPPackets: 3, ICMPPackets: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "results-counters-old.txt", b.String())
}

// TestStatusErrors checks that each error of a status shows once: the
// status gathers the devices' errors already.
func TestStatusErrors(t *testing.T) {
	var b strings.Builder
	err := renderStatus(&b, amapi.Status{State: "running",
		Errors: []string{"tap1:eth0: collector unreachable", "results of tap2 not pulled"},
		Devices: []amapi.DeviceStatus{{Device: "tap1", Interface: "eth0", State: "running", Reachable: true,
			Errors: []string{"collector unreachable"}}}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if n := strings.Count(out, "collector unreachable"); n != 1 {
		t.Errorf("the device's error shows %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "errors:\n  tap1:eth0: collector unreachable\n  results of tap2 not pulled\n") {
		t.Errorf("errors block missing:\n%s", out)
	}
	if !strings.Contains(out, "tap1:eth0  running  yes") || !strings.HasSuffix(out, "  1\n") {
		t.Errorf("device table without its error count:\n%s", out)
	}
}

// TestStatusStopPending checks that a device whose stop is pending says
// so in the device table.
func TestStatusStopPending(t *testing.T) {
	var b strings.Builder
	err := renderStatus(&b, amapi.Status{State: "done",
		Errors: []string{"tap2:eth0: stop pending: device tap2 did not answer StopExperiment"},
		Devices: []amapi.DeviceStatus{{Device: "tap1", Interface: "eth0", State: "done", Reachable: true},
			{Device: "tap2", Interface: "eth0", State: "running", StopPending: true,
				Errors: []string{"stop pending: device tap2 did not answer StopExperiment"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "tap2:eth0  running (stop pending)  no") {
		t.Errorf("device table without the pending stop:\n%s", out)
	}
}

func TestJSONSafe(t *testing.T) {
	got := jsonSafe(map[string]any{"a": []any{math.NaN(), math.Inf(1), 1.5}})
	want := map[string]any{"a": []any{"NaN", "+Inf", 1.5}}
	if diff := diffValues(got, want); diff != "" {
		t.Errorf("(-got, +want):\n%s", diff)
	}
}

func TestFormatters(t *testing.T) {
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"bytes small", humanBytes(512), "512 B"},
		{"bytes zero", humanBytes(0), "0 B"},
		{"bytes KiB", humanBytes(1536), "1.5 KiB"},
		{"bytes MiB", humanBytes(3 << 20), "3.0 MiB"},
		{"bytes int64 GiB", humanBytes(int64(50 << 30)), "50.0 GiB"},
		{"bytes float", humanBytes(2048.0), "2.0 KiB"},
		{"bytes EiB", humanBytes(int64(math.MaxInt64)), "8.0 EiB"},
		{"seconds", humanSeconds(90.5), "1m30.5s"},
		{"percent", percent(12.25), "12.2%"},
		{"proto", protoName(17), "udp"},
		{"proto unknown", protoName(99), "99"},
		{"nil", fmtValue(nil), "-"},
		{"bool", fmtValue(false), "no"},
		{"time", fmtValue(t0), "2026-05-04T10:00:00Z"},
		{"time ms", fmtValue(t0.Add(1500 * time.Millisecond)), "2026-05-04T10:00:01.500Z"},
		{"list", fmtValue([]any{"a", 1}), "a,1"},
		{"struct hides secrets", fmtValue(map[string]any{"b": 1, "token": "x"}), "{b=1 token=(hidden)}"},
		{"device ref", deviceRef("b", "eth0"), "b:eth0"},
		{"device ref without interface", deviceRef("b", ""), "b"},
		{"list", fmtList([]string{"a", "", "b"}), "a,-,b"},
		{"empty list", fmtList(nil), "-"},
		{"uint64", fmtInt(uint64(math.MaxUint64)), "18446744073709551615"},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestParseJSONArg(t *testing.T) {
	cases := []struct {
		in      string
		want    any
		wantErr bool
	}{
		{in: "7", want: 7},
		{in: "-7", want: -7},
		{in: "9007199254740993", want: 9007199254740993},
		{in: "1.5", want: 1.5},
		{in: "1e3", want: 1000.0},
		{in: `"s"`, want: "s"},
		{in: "true", want: true},
		{in: "null", want: nil},
		{in: `{"a": [1, {"b": 2}]}`, want: map[string]any{"a": []any{1, map[string]any{"b": 2}}}},
		{in: "tap1", wantErr: true},
		{in: "1 2", wantErr: true},
		{in: "", wantErr: true},
		{in: "{", wantErr: true},
	}
	for _, tc := range cases {
		got, err := parseJSONArg(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseJSONArg(%q) error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if diff := diffValues(got, tc.want); !tc.wantErr && diff != "" {
			t.Errorf("parseJSONArg(%q) (-got, +want):\n%s", tc.in, diff)
		}
	}
}

func FuzzParseJSONArg(f *testing.F) {
	for _, s := range []string{"7", `{"a":[1,2.5,"x",null,true]}`, "-1e400", `"\u00e9"`, "[[[]]]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseJSONArg(s)
		if err != nil {
			return
		}
		// What is accepted is valid JSON, and survives the round trip.
		b, err := json.Marshal(jsonSafe(v))
		if err != nil {
			t.Fatalf("parseJSONArg(%q) = %#v, not marshalable: %v", s, v, err)
		}
		if _, err := parseJSONArg(string(b)); err != nil {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
	})
}
