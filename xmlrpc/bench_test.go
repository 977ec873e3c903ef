package xmlrpc

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

// benchStatus looks like a GetExperimentStatus reply.
type benchStatus struct {
	State    string         `xmlrpc:"state"`
	Packets  uint64         `xmlrpc:"packets"`
	Bytes    uint64         `xmlrpc:"bytes"`
	Dropped  uint64         `xmlrpc:"dropped"`
	Elapsed  float64        `xmlrpc:"elapsed_s"`
	Errors   []string       `xmlrpc:"errors"`
	Since    time.Time      `xmlrpc:"since"`
	Devices  []benchDevice  `xmlrpc:"devices"`
	Optional *benchDevice   `xmlrpc:"optional"`
	Extra    map[string]int `xmlrpc:"extra,omitempty"`
}

type benchDevice struct {
	Name      string `xmlrpc:"name"`
	Packets   uint64 `xmlrpc:"packets"`
	Reachable bool   `xmlrpc:"reachable"`
}

func BenchmarkEncodeReply(b *testing.B) {
	st := benchStatus{State: "running", Packets: 5_000_000_000, Bytes: 1 << 42, Dropped: 12, Elapsed: 3600.5,
		Errors: []string{}, Since: time.Date(2026, 11, 23, 8, 12, 0, 0, time.UTC),
		Devices: []benchDevice{{"tap1", 1 << 33, true}, {"tap2", 17, false}}}
	e := encoder{cache: &typeCache{}}
	v := reflect.ValueOf(&st).Elem()
	b.ReportAllocs()
	for b.Loop() {
		e.b = e.b[:0]
		if err := e.value(v); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(e.b)))
}

func BenchmarkDecodeRequest(b *testing.B) {
	doc := []byte(callDoc("Configure", "<value><int>1</int></value>",
		"<value><struct><member><name>filter</name><value><string>tcp port 80</string></value></member>"+
			"<member><name>snaplen</name><value><int>65535</int></value></member>"+
			"<member><name>counters</name><value><struct><member><name>interval_ms</name><value><int>1000</int></value></member></struct></value></member>"+
			"</struct></value>"))
	a := assigner{cache: &typeCache{}, strict: true}
	lim := limits{maxDepth: 64, maxValues: 1000}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := parseCall(doc, lim)
		if err != nil {
			b.Fatal(err)
		}
		var args ConfigureArgs
		if err := a.decodeParams(c.params, reflect.ValueOf(&args)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkServeHTTP(b *testing.B) {
	s, _, err := newTestServer(DefaultConfiguration())
	if err != nil {
		b.Fatal(err)
	}
	doc := []byte(callDoc("Add", "<value><int>1</int></value>", "<value><int>2</int></value>"))
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/RPC2", bytes.NewReader(doc))
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
