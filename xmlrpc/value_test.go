package xmlrpc

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMarshalUnmarshal(t *testing.T) {
	type iface struct {
		Name     string `xmlrpc:"name"`
		LinkType string `xmlrpc:"link_type"`
	}
	type caps struct {
		Interfaces []iface    `xmlrpc:"interfaces"`
		Free       uint64     `xmlrpc:"storage_free_bytes"`
		Version    string     `xmlrpc:"version"`
		When       time.Time  `xmlrpc:"when"`
		Blob       []byte     `xmlrpc:"blob"`
		Ratio      float64    `xmlrpc:"ratio"`
		Flag       bool       `xmlrpc:"flag"`
		Opt        *int       `xmlrpc:"opt"`
		Extra      []struct{} `xmlrpc:"-"`
	}
	in := caps{
		Interfaces: []iface{{"lo", "EN10MB"}, {"file:a <b>.pcap", "LINUX_SLL2"}},
		Free:       1 << 40, Version: "v1 & more", When: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		Blob: []byte{0, 1, 255}, Ratio: 0.25, Flag: true,
	}
	data, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "<value><struct>") {
		t.Fatalf("Marshal = %s, want a <value><struct>", data)
	}
	var out caps
	if err := Unmarshal(data, &out); err != nil {
		t.Fatalf("Unmarshal(%s): %v", data, err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
	var natural any
	if err := Unmarshal(data, &natural); err != nil {
		t.Fatal(err)
	}
	m, ok := natural.(map[string]any)
	if !ok || m["version"] != "v1 & more" || m["storage_free_bytes"] != 1<<40 {
		t.Errorf("natural = %#v", natural)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"not a value", "<struct></struct>"},
		{"trailing", "<value><int>1</int></value><value/>"},
		{"doctype", `<!DOCTYPE x [<!ENTITY a "b">]><value>&a;</value>`},
		{"wrong type", "<value><string>x</string></value>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n int
			if err := Unmarshal([]byte(tc.in), &n); err == nil {
				t.Errorf("Unmarshal(%q) = nil error, got %d", tc.in, n)
			}
		})
	}
	if err := Unmarshal([]byte("<value><int>1</int></value>"), nil); err == nil {
		t.Error("Unmarshal into nil: no error")
	}
}
