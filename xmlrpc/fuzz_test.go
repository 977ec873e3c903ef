package xmlrpc

import (
	"bytes"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds are malformed, mistyped, deep and hostile requests; the corpus
// in testdata/fuzz/FuzzDecodeRequest holds more.
func fuzzSeeds() []string {
	return []string{
		callDoc("Add", "<value><int>1</int></value>", "<value><int>2</int></value>"),
		callDoc("Configure", "<value><i4>1</i4></value>", "<value><struct><member><name>filter</name><value>tcp</value></member><member><name>counters</name><value><struct><member><name>interval_ms</name><value><int>5</int></value></member></struct></value></member></struct></value>"),
		callDoc("Any", "<value><array><data><value><double>nan</double></value><value><dateTime.iso8601>2026-11-23T08:12:00.5+02:00</dateTime.iso8601></value><value><base64>AA==</base64></value><value><nil/></value></data></array></value>"),
		callDoc("system.multicall", "<value><array><data><value><struct><member><name>methodName</name><value>Add</value></member><member><name>params</name><value><array><data><value><int>1</int></value><value><int>1</int></value></data></array></value></member></struct></value></data></array></value>"),
		callDoc("Add", "<value>x</value>"),
		`<!DOCTYPE a [<!ENTITY b "c">]><methodCall><methodName>Any</methodName><params><param><value>&b;</value></param></params></methodCall>`,
		callDoc("Any", "<value>"+strings.Repeat("<array><data><value>", 70)+strings.Repeat("</value></data></array>", 70)+"</value>"),
		callDoc("Any", "<value><string>\xff</string></value>"),
		"<methodCall><methodName>Add",
	}
}

// treeEqual compares parsed values; times to the second, NaN equal to NaN.
func treeEqual(a, b *value) bool {
	if a.kind != b.kind || len(a.elems) != len(b.elems) || !reflect.DeepEqual(a.names, b.names) {
		return false
	}
	switch a.kind {
	case kindInt, kindBool:
		return a.i == b.i
	case kindDouble:
		return a.f == b.f || (math.IsNaN(a.f) && math.IsNaN(b.f))
	case kindString, kindBase64:
		return a.s == b.s
	case kindTime:
		return a.t.Truncate(time.Second).Equal(b.t)
	}
	for i := range a.elems {
		if !treeEqual(&a.elems[i], &b.elems[i]) {
			return false
		}
	}
	return true
}

// FuzzDecodeRequest checks that any request body is answered with HTTP 200
// and a valid response (a fault when it does not parse), never a panic, and
// that whatever parses survives re-encoding unchanged.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	s, _, err := newTestServer(with(func(c *Configuration) { c.MaxValues = 10000 }))
	if err != nil {
		f.Fatal(err)
	}
	lim := limits{maxDepth: 64, maxValues: 10000}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, parseErr := parseCall(data, lim)
		if parseErr == nil {
			doc := []byte("<methodCall><methodName>" + c.method + "</methodName><params>")
			for i := range c.params {
				doc = append(doc, "<param>"...)
				doc = encodeTree(doc, &c.params[i])
				doc = append(doc, "</param>"...)
			}
			doc = append(doc, "</params></methodCall>"...)
			c2, err := parseCall(doc, lim)
			if err != nil {
				t.Fatalf("re-encoded request does not parse: %v\n%s", err, doc)
			}
			if len(c2.params) != len(c.params) {
				t.Fatalf("re-encoded request has %d params, want %d", len(c2.params), len(c.params))
			}
			for i := range c.params {
				if !treeEqual(&c.params[i], &c2.params[i]) {
					t.Fatalf("param %d changed by re-encoding:\n%#v\n%#v", i, c.params[i], c2.params[i])
				}
			}
			a := assigner{cache: &typeCache{}, strict: true}
			var cfg ConfigureArgs
			_ = a.decodeParams(c.params, reflect.ValueOf(&cfg))
			var v AnyArgs
			_ = a.decodeParams(c.params, reflect.ValueOf(&v))
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/RPC2", bytes.NewReader(data))
		req.Header.Set("Content-Type", "text/xml")
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
		}
		resp, err := parseResponse(rec.Body.Bytes(), limits{maxDepth: 200, maxValues: 1 << 20})
		if err != nil {
			t.Fatalf("invalid response: %v\n%s", err, rec.Body)
		}
		if parseErr != nil && (resp.fault == nil || resp.fault.Code != CodeParseError) {
			t.Fatalf("unparsable request (%v) answered with %s", parseErr, rec.Body)
		}
	})
}
