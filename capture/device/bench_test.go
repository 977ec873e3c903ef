package device

import (
	"bytes"
	"github.com/gimsproject/gims/deviceapi"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkJobStatus measures one authenticated JobStatus call through the
// handler (parse, auth, manager, encode), without the network.
func BenchmarkJobStatus(b *testing.B) {
	d := newBenchDevice(b)
	body := []byte(`<?xml version="1.0"?><methodCall><methodName>JobStatus</methodName>` +
		`<params><param><value><string>` + d.id + `</string></value></param></params></methodCall>`)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, deviceapi.RPCPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/xml")
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		d.h.ServeHTTP(w, req)
		if !strings.Contains(w.Body.String(), "<name>packets</name>") {
			b.Fatalf("response %s", w.Body)
		}
	}
}

// BenchmarkJobResultsFlows measures a page of 100 flows.
func BenchmarkJobResultsFlows(b *testing.B) {
	d := newBenchDevice(b)
	body := []byte(`<?xml version="1.0"?><methodCall><methodName>JobResults</methodName><params>` +
		`<param><value><string>` + d.id + `</string></value></param>` +
		`<param><value><struct><member><name>kind</name><value>flows</value></member></struct></value></param>` +
		`</params></methodCall>`)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, deviceapi.RPCPath, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		d.h.ServeHTTP(w, req)
		if !strings.Contains(w.Body.String(), "<name>src</name>") {
			b.Fatalf("response %s", w.Body)
		}
	}
}

type benchDevice struct {
	h  *Handler
	id string
}

// newBenchDevice runs a file job to done on a test device.
func newBenchDevice(b *testing.B) benchDevice {
	b.Helper()
	d := newTestDevice(b)
	var id string
	d.mustCall(b, "StartJob", &id, map[string]any{"interface": testPcap, "filter": "", "flows": map[string]any{}})
	d.waitDone(b, id)
	return benchDevice{h: d.h, id: id}
}
