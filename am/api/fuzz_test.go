package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/xmlrpc"
)

// maxFuzzResponse bounds what any request may make the AM answer.
const maxFuzzResponse = 8 << 20

// Credentials of the fuzzed AM's admin.
const (
	fuzzUser = "admin"
	fuzzPass = "fuzz-password"
)

// loopbackOnly is an HTTP client that connects to loopback IP addresses
// only and resolves no names: fuzzed AddDevice calls must not reach out.
func loopbackOnly() *http.Client {
	d := &net.Dialer{Timeout: 200 * time.Millisecond}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("test dialer: %q is not a loopback address", addr)
			}
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// newFuzzHandler is the API over a real manager and database.
func newFuzzHandler(tb testing.TB) *Handler {
	return newHandlerWith(tb, DefaultConfiguration())
}

// newHandlerWith is the API with cfg over a real manager and database,
// with the admin fuzzUser.
func newHandlerWith(tb testing.TB, cfg Configuration) *Handler {
	dir := tb.TempDir()
	dcfg := db.DefaultConfiguration()
	dcfg.Path = filepath.Join(dir, "am.db")
	store, err := db.Open(context.Background(), dcfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	reg := prometheus.NewRegistry()
	mcfg := am.DefaultConfiguration()
	mcfg.DataDir, mcfg.BcryptCost, mcfg.DeviceTimeout = filepath.Join(dir, "data"), 4, 300*time.Millisecond
	m, err := am.New(mcfg, am.Dependencies{DB: store, HTTP: loopbackOnly(), Registry: reg})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := m.InitAdmin(context.Background(), fuzzUser, fuzzPass); err != nil {
		tb.Fatal(err)
	}
	h, err := New(cfg, Dependencies{Manager: m, Registry: reg})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// call is a request document for method with raw <value> params.
func call(method string, params ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><methodCall><methodName>` + method + `</methodName><params>`)
	for _, p := range params {
		b.WriteString("<param>" + p + "</param>")
	}
	b.WriteString("</params></methodCall>")
	return b.String()
}

func str(s string) string { return "<value><string>" + s + "</string></value>" }
func num(n int) string    { return fmt.Sprintf("<value><int>%d</int></value>", n) }

// strct builds a struct from name, value pairs.
func strct(kv ...string) string {
	var b strings.Builder
	b.WriteString("<value><struct>")
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString("<member><name>" + kv[i] + "</name>" + kv[i+1] + "</member>")
	}
	b.WriteString("</struct></value>")
	return b.String()
}

// amFuzzSeeds are valid calls of every method and hostile documents.
func amFuzzSeeds() []string {
	cfg := strct("filter", str("tcp"), "counters", strct("interval_ms", num(500)), "flows", strct(),
		"anonymize", strct("secret", str("s")), "storage", str("remote"), "duration_s", num(3))
	return []string{
		call("CreateExperiment", strct("name", str("e1"), "devices", "<value><array><data>"+str("tap1:lo")+"</data></array></value>")),
		call("ConfigureExperiment", num(1), cfg),
		call("ConfigureExperiment", num(1), strct("filter", str("tcp port"))),
		call("StartExperiment", num(1)), call("PauseExperiment", num(1)), call("StopExperiment", num(1)),
		call("GetExperimentSettings", num(1)), call("GetExperimentStatus", num(-1)),
		call("GetExperimentResults", num(1), strct("kind", str("flows"), "offset", num(-5), "limit", num(1<<30))),
		call("ListExperiments"),
		call("GetDeviceCapabilities", str("tap1")),
		call("AddDevice", strct("name", str("tap1"), "hostname", str("127.0.0.1"), "port", num(1), "token", str("t"))),
		call("AddDevice", strct("name", str("far"), "hostname", str("192.0.2.1"), "port", num(8081), "token", str("t"))),
		call("EditDevice", str("tap1"), strct("approved", "<value><boolean>1</boolean></value>")),
		call("DeleteDevice", str("tap1")), call("ListDevices"),
		call("AddUser", strct("name", str("bob"), "password", str("bob-password"), "role", str("experimenter"))),
		call("DeleteUser", str("admin")), call("ListUsers"),
		call("RegisterDevice", strct("name", str("reg"), "hostname", str("127.0.0.1"), "port", num(9), "token", str("x"),
			"activation", str("gims-act-x"))),
		call("CreateActivation", strct("expires_s", num(60), "uses", num(2))),
		call("ListActivations"), call("DeleteActivation", num(1)),
		call("CreateKey", strct("name", str("lab"), "users", "<value><array><data>"+str("*")+"</data></array></value>")),
		call("ListKeys"), call("DeleteKey", str("lab")),
		call("ConfigureExperiment", num(1), strct("anonymize", strct("key", str("lab")))),
		call("system.listMethods"), call("system.methodHelp", str("ConfigureExperiment")),
		call("system.multicall", "<value><array><data>"+
			strct("methodName", str("ListUsers"), "params", "<value><array><data></data></array></value>")+
			strct("methodName", str("system.multicall"), "params", "<value><array><data></data></array></value>")+
			"</data></array></value>"),
		call("ConfigureExperiment", num(1), strct("snaplen", str("big"), "unknown", num(1))),
		call("StartExperiment", "<value><i8>9223372036854775807</i8></value>"),
		call("CreateExperiment", "<value>"+strings.Repeat("<array><data><value>", 100)+strings.Repeat("</value></data></array>", 100)+"</value>"),
		call("ListUsers", "<value><array><data>"+strings.Repeat(num(1), 20000)+"</data></array></value>"),
		`<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><methodCall><methodName>DeleteUser</methodName><params><param><value>&x;</value></param></params></methodCall>`,
		"<methodCall><methodName>ListUsers",
		"",
	}
}

// FuzzAMRequest POSTs arbitrary bodies to the AM's real API handler, with
// the admin's credentials or none: every answer is HTTP 200 (413 beyond
// the body limit) with one well-formed XML-RPC response of bounded size;
// without credentials it is always a fault; nothing panics.
func FuzzAMRequest(f *testing.F) {
	for _, s := range amFuzzSeeds() {
		f.Add(true, []byte(s))
	}
	f.Add(false, []byte(call("ListUsers")))
	f.Add(false, []byte(call("AddUser", strct("name", str("eve"), "password", str("eve-password"), "role", str("admin")))))
	h := newFuzzHandler(f)
	f.Fuzz(func(t *testing.T, auth bool, body []byte) {
		req := httptest.NewRequest(http.MethodPost, RPCPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/xml")
		if auth {
			req.SetBasicAuth(fuzzUser, fuzzPass)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		data, _ := io.ReadAll(res.Body)
		if len(body) > 1<<20 {
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("body of %d bytes: HTTP %d, want 413", len(body), res.StatusCode)
			}
			return
		}
		if res.StatusCode != http.StatusOK || len(data) > maxFuzzResponse {
			t.Fatalf("HTTP %d with %d bytes:\n%.300s", res.StatusCode, len(data), data)
		}
		var reply any
		err := xmlrpc.DecodeResponse(data, &reply)
		var fault *xmlrpc.Fault
		if err != nil && !errors.As(err, &fault) {
			t.Fatalf("not an XML-RPC response: %v\n%.500s", err, data)
		}
		if !auth && fault == nil {
			t.Fatalf("a call without credentials succeeded:\n%.500s", data)
		}
		if !auth && fault.Code != amapi.FaultAuth && fault.Code != xmlrpc.CodeParseError {
			t.Fatalf("a call without credentials: fault %d %q, want %d", fault.Code, fault.String, amapi.FaultAuth)
		}
		if strings.Contains(string(data), fuzzPass) {
			t.Fatalf("the answer repeats the password:\n%.500s", data)
		}
	})
}
