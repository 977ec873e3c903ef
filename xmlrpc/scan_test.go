package xmlrpc

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sameTree compares parsed values exactly (NaN equal to NaN).
func sameTree(a, b *value) bool {
	if a.kind != b.kind || len(a.elems) != len(b.elems) || len(a.names) != len(b.names) {
		return false
	}
	for i := range a.names {
		if a.names[i] != b.names[i] {
			return false
		}
	}
	switch a.kind {
	case kindInt, kindBool:
		return a.i == b.i
	case kindDouble:
		return a.f == b.f || (math.IsNaN(a.f) && math.IsNaN(b.f))
	case kindString, kindBase64:
		return a.s == b.s
	case kindTime:
		return a.t.Equal(b.t)
	}
	for i := range a.elems {
		if !sameTree(&a.elems[i], &b.elems[i]) {
			return false
		}
	}
	return true
}

// scanSeeds are documents on the edges of the XML the scanner reads.
func scanSeeds() []string {
	return append(fuzzSeeds(),
		`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+callDoc("A", "<value>a&amp;b&lt;&gt;&apos;&quot;&#65;&#x42;\r\nc\rd</value>"),
		`<?xml version='1.0' encoding='utf-8'?>`+callDoc("A", "<value><string><![CDATA[<x>&amp;]]>tail</string></value>"),
		`<?xml version="1.1"?>`+callDoc("A"),
		`<?xml encoding="latin1"?>`+callDoc("A"),
		`<?php x ?>`+callDoc("A"),
		callDoc("A", "<value><!-- c --><int> 7 </int><!-- d --></value>"),
		callDoc("A", "<value>a<!-- c -->b</value>"),
		callDoc("A", "<value>a<!-- c -- d -->b</value>"),
		callDoc("A", `<value kind="x &amp; y"><i8>-9223372036854775808</i8></value>`),
		callDoc("A", `<value kind=x><int>1</int></value>`),
		callDoc("A", `<value kind="<"><int>1</int></value>`),
		callDoc("A", `<value kind><int>1</int></value>`),
		callDoc("A", `<ns:value xmlns:ns="u"><int>1</int></ns:value>`),
		callDoc("A", `<value><int>1</int></valu>`),
		callDoc("A", `<value><boolean>true</boolean></value>`, `<value><boolean/></value>`, `<value><nil/></value>`, `<value/>`),
		callDoc("A", "<value><string>\x01</string></value>"),
		callDoc("A", "<value>&#0;</value>"),
		callDoc("A", "<value>&#xD800;</value>"),
		callDoc("A", "<value>&amp</value>"),
		callDoc("A", "<value>\uFFFE</value>"),
		callDoc("A", "<value>é ü 中</value>"),
		callDoc("A", "<value><struct><member><value><int>1</int></value><name>a&amp;b</name></member></struct></value>"),
		"<methodCall><methodName>A</methodName></methodCall>trailing",
		"<methodCall><methodName>A</methodName></methodCall><!-- ok -->\n",
		"<methodCall><methodName>A</methodName></methodCall><x/>",
		"</methodCall>",
		"<methodCall ><methodName >A</methodName\n></methodCall>",
		"<1methodCall/>",
		`<methodResponse><params><param><value><array><data><value>x</value><value><double>1e400</double></value></data></array></value></param></params></methodResponse>`,
		`<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>4</int></value></member><member><name>faultString</name><value>no &lt;</value></member></struct></value></fault></methodResponse>`,
	)
}

// TestScanSameAsEncodingXML runs the seeds and the fuzz corpus through
// the scanner-based parser and the encoding/xml one it replaced.
func TestScanSameAsEncodingXML(t *testing.T) {
	docs := scanSeeds()
	files, _ := filepath.Glob("testdata/fuzz/*/*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The corpus files are in the go test fuzz v1 format: []byte("…").
		s := string(b)
		if i := strings.Index(s, "[]byte("); i >= 0 {
			if doc, err := unquoteCorpus(s[i+len("[]byte(") : strings.LastIndex(s, ")")]); err == nil {
				docs = append(docs, doc)
			}
		}
	}
	for _, d := range docs {
		compareParsers(t, []byte(d))
	}
}

// unquoteCorpus reads a Go string literal of a fuzz corpus file.
func unquoteCorpus(lit string) (string, error) {
	return strconv.Unquote(lit)
}

// FuzzParseSameAsEncodingXML checks that the scanner-based parser accepts
// and refuses the same requests and responses as the encoding/xml one it
// replaced (refparser_test.go), and reads the same values.
func FuzzParseSameAsEncodingXML(f *testing.F) {
	for _, s := range scanSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(compareParsers)
}

// compareParsers parses data as a request and as a response with both
// parsers and fails when they disagree.
func compareParsers(t *testing.T, data []byte) {
	t.Helper()
	lim := limits{maxDepth: 64, maxValues: 10000}
	c, err := parseCall(data, lim)
	rc, rerr := refParseCall(data, lim)
	if (err == nil) != (rerr == nil) {
		t.Fatalf("request %q: scanner error %v, encoding/xml error %v", data, err, rerr)
	}
	if err == nil {
		if c.method != rc.method || len(c.params) != len(rc.params) {
			t.Fatalf("request %q: method %q, %d params; encoding/xml: %q, %d", data, c.method, len(c.params), rc.method, len(rc.params))
		}
		for i := range c.params {
			if !sameTree(&c.params[i], &rc.params[i]) {
				t.Fatalf("request %q: param %d is %#v; encoding/xml: %#v", data, i, c.params[i], rc.params[i])
			}
		}
	}
	r, err := parseResponse(data, lim)
	rr, rerr := refParseResponse(data, lim)
	if (err == nil) != (rerr == nil) {
		t.Fatalf("response %q: scanner error %v, encoding/xml error %v", data, err, rerr)
	}
	if err == nil {
		if (r.fault == nil) != (rr.fault == nil) || r.fault != nil && *r.fault != *rr.fault || !sameTree(&r.param, &rr.param) {
			t.Fatalf("response %q: %#v; encoding/xml: %#v", data, r, rr)
		}
	}
}
