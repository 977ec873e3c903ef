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

// benchSummary looks like an entry of a ListExperiments reply.
type benchSummary struct {
	ID       int64     `xmlrpc:"id"`
	Name     string    `xmlrpc:"name"`
	Owner    string    `xmlrpc:"owner"`
	State    string    `xmlrpc:"state"`
	Devices  []string  `xmlrpc:"devices"`
	Created  time.Time `xmlrpc:"created"`
	Packets  uint64    `xmlrpc:"packets"`
	ElapsedS float64   `xmlrpc:"elapsed_s"`
}

// BenchmarkDecodeListResponse reads a ListExperiments answer of 500
// experiments into a slice of structs, as gims-load and gimsctl do.
func BenchmarkDecodeListResponse(b *testing.B) {
	list := make([]benchSummary, 500)
	for i := range list {
		list[i] = benchSummary{ID: int64(i + 1), Name: "load-1a2b3c-user1-" + time.Duration(i).String(), Owner: "load-1a2b3c-user1",
			State: "done", Devices: []string{"local:lo"}, Created: time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC), Packets: 123, ElapsedS: 1.5}
	}
	e := encoder{cache: &typeCache{}}
	e.b = append(e.b, "<?xml version=\"1.0\"?>\n<methodResponse><params><param>"...)
	if err := e.value(reflect.ValueOf(list)); err != nil {
		b.Fatal(err)
	}
	doc := append(e.b, "</param></params></methodResponse>"...)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		var out []benchSummary
		if err := DecodeResponse(doc, &out); err != nil {
			b.Fatal(err)
		}
		if len(out) != len(list) {
			b.Fatal(len(out))
		}
	}
}
