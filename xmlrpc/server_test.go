package xmlrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/rpc"
)

// with returns DefaultConfiguration changed by mod.
func with(mod func(*Configuration)) Configuration {
	c := DefaultConfiguration()
	mod(&c)
	return c
}

// startServer runs a test server on 127.0.0.1 with the sample services.
func startServer(t *testing.T, cfg Configuration) (*httptest.Server, *TestService, *Server) {
	t.Helper()
	s, svc, err := newTestServer(cfg)
	if err != nil {
		t.Fatalf("newTestServer: %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, svc, s
}

// post sends body and returns the status and response body.
func post(t *testing.T, url, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// callDoc builds a methodCall document from encoded params.
func callDoc(method string, params ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><methodCall><methodName>` + method + `</methodName><params>`)
	for _, p := range params {
		b.WriteString("<param>" + p + "</param>")
	}
	b.WriteString("</params></methodCall>")
	return b.String()
}

// faultOf parses a response that must be a fault with HTTP 200.
func faultOf(t *testing.T, status int, body string) Fault {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("HTTP %d, want 200: %s", status, body)
	}
	r, err := parseResponse([]byte(body), limits{64, 1000})
	if err != nil {
		t.Fatalf("invalid response %q: %v", body, err)
	}
	if r.fault == nil {
		t.Fatalf("no fault in %s", body)
	}
	return *r.fault
}

func TestServerCalls(t *testing.T) {
	ts, _, _ := startServer(t, DefaultConfiguration())
	ctx := context.Background()
	when := time.Date(2026, 11, 23, 8, 12, 0, 0, time.UTC)

	t.Run("add", func(t *testing.T) {
		var got int
		if err := Call(ctx, nil, ts.URL, nil, "Add", []any{2, 3}, &got); err != nil {
			t.Fatal(err)
		}
		if got != 5 {
			t.Errorf("Add = %d, want 5", got)
		}
	})
	t.Run("qualified name of the default service", func(t *testing.T) {
		var got int
		if err := Call(ctx, nil, ts.URL, nil, "Test.Add", []any{2, 3}, &got); err != nil {
			t.Fatal(err)
		}
		if got != 5 {
			t.Errorf("Test.Add = %d, want 5", got)
		}
	})
	t.Run("other service", func(t *testing.T) {
		var got string
		if err := Call(ctx, nil, ts.URL, nil, "OtherService.Ping", nil, &got); err != nil {
			t.Fatal(err)
		}
		if got != "pong" {
			t.Errorf("Ping = %q, want pong", got)
		}
	})
	t.Run("echo every type", func(t *testing.T) {
		in := Sample{Int: -1, Big: 1 << 40, Unsigned: 1 << 35, Flag: true, Ratio: 0.125, Name: "<é>",
			When: when, Blob: []byte{0, 1, 2}, List: []int{3, 4}, Extra: map[string]any{"k": []any{"v", 1}}, Note: ptr("n")}
		var got Sample
		if err := Call(ctx, nil, ts.URL, nil, "Echo", []any{in}, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, in) {
			t.Errorf("(-got, +want):\n- %#v\n+ %#v", got, in)
		}
	})
	t.Run("counters beyond 32 bits", func(t *testing.T) {
		status, body := post(t, ts.URL, "text/xml", callDoc("Counters"))
		if status != 200 || !strings.Contains(body, "<i8>5000000000</i8>") || !strings.Contains(body, "<int>-7</int>") {
			t.Fatalf("HTTP %d, body %s", status, body)
		}
		var got BigCounters
		if err := Call(ctx, nil, ts.URL, nil, "Counters", nil, &got); err != nil {
			t.Fatal(err)
		}
		if want := (BigCounters{Packets: 5_000_000_000, Bytes: 1 << 40, Small: -7}); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("any", func(t *testing.T) {
		var got map[string]any
		if err := Call(ctx, nil, ts.URL, nil, "Any", []any{[]any{1, "a"}}, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"type": "[]interface {}", "value": []any{1, "a"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("(-got, +want):\n- %#v\n+ %#v", got, want)
		}
	})
	t.Run("client ignores unknown result members", func(t *testing.T) {
		var got struct {
			Packets int64 `xmlrpc:"packets"`
		}
		if err := Call(ctx, nil, ts.URL, nil, "Counters", nil, &got); err != nil {
			t.Fatal(err)
		}
		if got.Packets != 5_000_000_000 {
			t.Errorf("Packets = %d", got.Packets)
		}
	})
	t.Run("client nil reply", func(t *testing.T) {
		if err := Call(ctx, nil, ts.URL, nil, "Counters", nil, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("empty and application/xml content types", func(t *testing.T) {
		for _, ct := range []string{"", "application/xml", "text/xml; charset=utf-8", "TEXT/XML"} {
			status, body := post(t, ts.URL, ct, callDoc("Add", "<value><int>1</int></value>", "<value><int>1</int></value>"))
			if status != 200 || !strings.Contains(body, "<int>2</int>") {
				t.Errorf("Content-Type %q: HTTP %d, %s", ct, status, body)
			}
		}
	})
}

func TestServerFaults(t *testing.T) {
	mapper := func(err error) Fault {
		if f, ok := AsFault(err); ok {
			return f
		}
		if errors.Is(err, errSentinel) {
			return Fault{Code: 1, String: err.Error()}
		}
		return Fault{Code: 99, String: "internal: " + err.Error()}
	}
	cfgs := []struct {
		name string
		cfg  Configuration
	}{{"default mapper", DefaultConfiguration()}, {"custom mapper", with(func(c *Configuration) { c.FaultMapper = mapper })}}
	for _, c := range cfgs {
		t.Run(c.name, func(t *testing.T) {
			ts, svc, _ := startServer(t, c.cfg)
			custom := c.cfg.FaultMapper != nil
			cases := []struct {
				name     string
				method   string
				args     []any
				wantCode int
				wantStr  string // substring of faultString
				runs     bool   // the method runs
			}{
				{"method fault", "Fail", []any{7, "boom"}, 7, "boom", true},
				{"wrapped fault", "Fail", []any{8, "deep", true}, 8, "deep", true},
				{"plain error", "Fail", []any{0, "plain"}, map[bool]int{false: -32500, true: 99}[custom], "plain", true},
				{"sentinel", "Fail", []any{-1, "x", true}, map[bool]int{false: -32500, true: 1}[custom], "while failing: no such experiment", true},
				{"wrong count", "Add", []any{1}, 3, "Add: wrong number of parameters: got 1, want 2", false},
				{"wrong type", "Add", []any{1, "2"}, 3, "parameter 2 (B): expected int, got string", false},
				{"unknown member", "Configure", []any{1, map[string]any{"filter": "tcp", "counters": map[string]any{"interval": 5}}},
					3, `parameter 2 (Config): counters: unknown member "interval"`, false},
				{"nested wrong type", "Configure", []any{1, map[string]any{"snaplen": "big"}}, 3, "parameter 2 (Config): snaplen: expected int, got string", false},
				{"unknown method", "Nope", nil, -32601, `unknown method "Nope"`, false},
				{"unknown service", "Nope.Add", nil, -32601, `unknown method "Nope.Add"`, false},
				{"too many dots", "a.b.c", nil, -32601, "unknown method", false},
				{"unexported Go method", "Test.calls", nil, -32601, "unknown method", false},
				{"unencodable reply", "Bad", nil, -32603, "unable to encode the reply: c: cannot encode chan int", true},
				{"middleware fault", "Admin", nil, 4, "admin only", false},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					before := svc.calls.Load()
					err := Call(context.Background(), nil, ts.URL, nil, tc.method, tc.args, nil)
					var f *Fault
					if !errors.As(err, &f) {
						t.Fatalf("error %v, want a *Fault", err)
					}
					if f.Code != tc.wantCode || !strings.Contains(f.String, tc.wantStr) {
						t.Errorf("fault %d %q, want %d containing %q", f.Code, f.String, tc.wantCode, tc.wantStr)
					}
					if ran := svc.calls.Load() != before; ran != tc.runs {
						t.Errorf("method ran: %v, want %v", ran, tc.runs)
					}
				})
			}
		})
	}
}

func TestServerMalformed(t *testing.T) {
	ts, svc, _ := startServer(t, with(func(c *Configuration) { c.MaxBodyBytes = 64 << 10; c.MaxValues = 1000 }))
	deep := func(n int) string {
		return callDoc("Any", "<value>"+strings.Repeat("<array><data><value>", n)+"x"+strings.Repeat("</value></data></array>", n)+"</value>")
	}
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>` +
		`<methodCall><methodName>Any</methodName><params><param><value>&lol2;</value></param></params></methodCall>`
	cases := []struct {
		name    string
		body    string
		wantStr string // substring of the parse-error faultString
	}{
		{"empty body", "", "missing <methodCall>"},
		{"garbage", "hello world", "unexpected text"},
		{"not XML-RPC", "<foo/>", "expected <methodCall>, found <foo>"},
		{"unclosed", "<methodCall><methodName>Add</methodName>", "malformed XML"},
		{"mismatched tags", "<methodCall><methodName>Add</methodName><params></param></methodCall>", "malformed XML"},
		{"billion laughs", laughs, "<!DOCTYPE> not allowed"},
		{"external entity", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><methodCall><methodName>Any</methodName><params><param><value>&xxe;</value></param></params></methodCall>`, "not allowed"},
		{"undefined entity", callDoc("Any", "<value>&xxe;</value>"), "malformed XML"},
		{"invalid UTF-8", callDoc("Any", "<value>\xff\xfe</value>"), "malformed XML"},
		{"latin-1 declaration", `<?xml version="1.0" encoding="ISO-8859-1"?><methodCall><methodName>Any</methodName></methodCall>`, "malformed XML"},
		{"processing instruction", `<methodCall><?php echo 1 ?><methodName>Any</methodName></methodCall>`, "processing instruction"},
		{"two roots", callDoc("Add") + "<methodCall/>", "after the document"},
		{"bad method name", callDoc("rm -rf"), "invalid character"},
		{"deep nesting", deep(65), "nesting deeper than 64"},
		{"huge array", callDoc("Any", "<value><array><data>"+strings.Repeat("<value/>", 2000)+"</data></array></value>"), "more than 1000 values"},
		{"param without value", callDoc("Any", ""), "expected <value>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := svc.calls.Load()
			status, body := post(t, ts.URL, "text/xml", tc.body)
			f := faultOf(t, status, body)
			if f.Code != CodeParseError || !strings.Contains(f.String, tc.wantStr) {
				t.Errorf("fault %d %q, want %d containing %q", f.Code, f.String, CodeParseError, tc.wantStr)
			}
			if svc.calls.Load() != before {
				t.Error("a method ran")
			}
		})
	}
	t.Run("nesting at the limit is accepted", func(t *testing.T) {
		status, body := post(t, ts.URL, "text/xml", deep(63))
		if status != 200 || strings.Contains(body, "<fault>") {
			t.Errorf("HTTP %d: %.200s", status, body)
		}
	})
}

func TestServerHTTPErrors(t *testing.T) {
	ts, _, _ := startServer(t, with(func(c *Configuration) { c.MaxBodyBytes = 1024 }))
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("HTTP %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
	t.Run("JSON content type", func(t *testing.T) {
		if status, _ := post(t, ts.URL, "application/json", callDoc("Add")); status != http.StatusUnsupportedMediaType {
			t.Errorf("HTTP %d, want 415", status)
		}
	})
	t.Run("oversized body with length", func(t *testing.T) {
		if status, _ := post(t, ts.URL, "text/xml", callDoc("Any", "<value>"+strings.Repeat("x", 2000)+"</value>")); status != http.StatusRequestEntityTooLarge {
			t.Errorf("HTTP %d, want 413", status)
		}
	})
	t.Run("oversized chunked body", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			_, _ = io.WriteString(pw, callDoc("Any", "<value>"+strings.Repeat("x", 4000)+"</value>"))
			pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPost, ts.URL, pr)
		req.Header.Set("Content-Type", "text/xml")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("HTTP %d, want 413", resp.StatusCode)
		}
	})
	t.Run("client sees HTTPError", func(t *testing.T) {
		err := Call(context.Background(), nil, ts.URL, nil, "Any", []any{strings.Repeat("x", 2000)}, nil)
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("error %v, want HTTPError 413", err)
		}
	})
}

func TestIntrospection(t *testing.T) {
	ts, _, _ := startServer(t, DefaultConfiguration())
	ctx := context.Background()
	var names []string
	if err := Call(ctx, nil, ts.URL, nil, "system.listMethods", nil, &names); err != nil {
		t.Fatal(err)
	}
	want := []string{"Add", "Admin", "Any", "Bad", "Configure", "Counters", "Echo", "Fail", "OtherService.Ping", "Rows", "Whoami",
		"system.listMethods", "system.methodHelp", "system.multicall"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("listMethods (-got, +want):\n- %q\n+ %q", names, want)
	}
	helps := []struct {
		name, want string
		code       int
	}{
		{"Add", "Add(a, b) returns a+b.", 0},
		{"Counters", "", 0},
		{"system.multicall", "system.multicall([{methodName, params}, ...])", 0},
		{"Nope", "", -32601},
	}
	for _, h := range helps {
		var got string
		err := Call(ctx, nil, ts.URL, nil, "system.methodHelp", []any{h.name}, &got)
		if h.code != 0 {
			var f *Fault
			if !errors.As(err, &f) || f.Code != h.code {
				t.Errorf("methodHelp(%s): error %v, want fault %d", h.name, err, h.code)
			}
			continue
		}
		if err != nil || !strings.HasPrefix(got, h.want) {
			t.Errorf("methodHelp(%s) = %q, %v; want %q", h.name, got, err, h.want)
		}
	}
	err := Call(ctx, nil, ts.URL, nil, "system.listMethods", []any{1}, nil)
	if f, ok := err.(*Fault); !ok || f.Code != 3 {
		t.Errorf("listMethods(1): %v, want fault 3", err)
	}
}

// TestKnownMethod checks the names metrics label calls with: only the
// registered and introspection methods, under their listed names.
func TestKnownMethod(t *testing.T) {
	_, _, s := startServer(t, DefaultConfiguration())
	for _, tc := range []struct {
		pos, name, want string
		ok              bool
	}{
		{"#0", "Add", "Add", true},
		{"#1", "Test.Add", "Add", true},
		{"#2", "OtherService.Ping", "OtherService.Ping", true},
		{"#3", "system.multicall", "system.multicall", true},
		{"#4", "Nope", "", false},
		{"#5", "Test.Nope", "", false},
		{"#6", "Ping", "", false},
		{"#7", "", "", false},
	} {
		if got, ok := s.KnownMethod(tc.name); got != tc.want || ok != tc.ok {
			t.Errorf("%s KnownMethod(%q) = %q, %v; want %q, %v", tc.pos, tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if got := s.Methods(); len(got) != 14 || got[0] != "Add" {
		t.Errorf("Methods() = %q, want the 14 names of system.listMethods", got)
	}
}

func TestRegisterService(t *testing.T) {
	s, err := NewServer(with(func(c *Configuration) { c.DefaultService = "Test" }))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		rcvr any
		svc  string
		help map[string]string
		want string
	}{
		{"nil", nil, "", nil, "nil receiver"},
		{"reserved", &TestService{}, "system", nil, "reserved"},
		{"dotted", &TestService{}, "a.b", nil, "contains a dot"},
		{"help for unknown method", &TestService{}, "T2", map[string]string{"Nope": "x"}, `help for "Nope"`},
		{"no methods", &struct{}{}, "Empty", nil, "no exported methods"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.RegisterService(tc.rcvr, tc.svc, tc.help)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if err := s.RegisterService(&TestService{}, "Test", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterService(&TestService{}, "Test", nil); err == nil || !strings.Contains(err.Error(), "already defined") {
		t.Errorf("second registration: %v", err)
	}
}

func TestMulticall(t *testing.T) {
	ts, svc, s := startServer(t, with(func(c *Configuration) { c.MaxMulticall = 10 }))
	var hooks atomic.Int64
	s.RPC().RegisterBeforeFunc(func(*rpc.RequestInfo) { hooks.Add(1) })

	calls := []any{
		map[string]any{"methodName": "Add", "params": []any{1, 2}},
		map[string]any{"methodName": "Fail", "params": []any{7, "boom"}},
		map[string]any{"methodName": "Nope", "params": []any{}},
		map[string]any{"methodName": "Add", "params": []any{"x", 2}},
		map[string]any{"methodName": "system.multicall", "params": []any{[]any{}}},
		map[string]any{"methodName": "Whoami", "params": []any{}},
		map[string]any{"methodName": "Admin", "params": []any{}},
		map[string]any{"methodName": "Forbidden", "params": []any{}},
		"not a struct",
		map[string]any{"methodName": "system.listMethods"},
	}
	header := http.Header{"Authorization": {"Bearer tok"}, "X-User": {"alice"}}
	before := svc.calls.Load()
	var got []any
	if err := Call(context.Background(), nil, ts.URL, header, "system.multicall", []any{calls}, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(calls) {
		t.Fatalf("%d results, want %d: %#v", len(got), len(calls), got)
	}
	fault := func(code int, s string) map[string]any { return map[string]any{"faultCode": code, "faultString": s} }
	wants := []any{
		[]any{3},
		fault(7, "boom"),
		fault(-32601, `unknown method "Nope"`),
		fault(3, "Add: parameter 1 (A): expected int, got string"),
		fault(3, "system.multicall cannot be nested"),
		[]any{map[string]any{"authorization": "Bearer tok", "user": "alice"}},
		fault(4, "admin only"),
		fault(-32603, "Forbidden: no XML-RPC response (HTTP 403: go away)"),
		fault(3, "system.multicall: call 9: got string, want a {methodName, params} struct"),
		nil, // checked below
	}
	for i, w := range wants[:len(wants)-1] {
		if !reflect.DeepEqual(got[i], w) {
			t.Errorf("result %d (-got, +want):\n- %#v\n+ %#v", i, got[i], w)
		}
	}
	if l, ok := got[9].([]any); !ok || len(l) != 1 {
		t.Errorf("result 9 = %#v, want [names]", got[9])
	}
	// Add, Fail and Whoami ran; the others did not.
	if n := svc.calls.Load() - before; n != 3 {
		t.Errorf("%d methods ran, want 3", n)
	}
	// gorilla's hooks run for each sub-call that reaches a method.
	if n := hooks.Load(); n != 3 {
		t.Errorf("before hook ran %d times, want 3", n)
	}

	t.Run("limit", func(t *testing.T) {
		many := make([]any, 11)
		for i := range many {
			many[i] = map[string]any{"methodName": "Add", "params": []any{1, 1}}
		}
		err := Call(context.Background(), nil, ts.URL, nil, "system.multicall", []any{many}, nil)
		if f, ok := err.(*Fault); !ok || f.Code != 3 || !strings.Contains(f.String, "at most 10") {
			t.Errorf("error %v, want fault 3", err)
		}
	})
	t.Run("not an array", func(t *testing.T) {
		err := Call(context.Background(), nil, ts.URL, nil, "system.multicall", []any{"x"}, nil)
		if f, ok := err.(*Fault); !ok || f.Code != 3 {
			t.Errorf("error %v, want fault 3", err)
		}
	})
	t.Run("admin header reaches sub-calls", func(t *testing.T) {
		var got []any
		err := Call(context.Background(), nil, ts.URL, http.Header{"X-Admin": {"1"}}, "system.multicall",
			[]any{[]any{map[string]any{"methodName": "Admin", "params": []any{}}}}, &got)
		if err != nil || !reflect.DeepEqual(got, []any{[]any{"granted"}}) {
			t.Errorf("got %#v, %v", got, err)
		}
	})
	t.Run("middleware result parsed back", func(t *testing.T) {
		// A middleware answering with a result of its own.
		mw := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if MethodName(r.Context()) == "Cached" {
					writeXML(w, appendResponse(nil, []byte("<value><struct><member><name>n</name><value><i8>5000000000</i8></value></member></struct></value>")))
					return
				}
				next.ServeHTTP(w, r)
			})
		}
		ts2, _, _ := startServer(t, with(func(c *Configuration) { c.Middleware = mw }))
		var got []any
		err := Call(context.Background(), nil, ts2.URL, nil, "system.multicall",
			[]any{[]any{map[string]any{"methodName": "Cached", "params": []any{}}}}, &got)
		if want := []any{[]any{map[string]any{"n": 5000000000}}}; err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("got %#v, %v; want %#v", got, err, want)
		}
	})
}

func TestStandaloneCodec(t *testing.T) {
	// The codec on a bare gorilla server works, but gorilla answers request
	// errors with HTTP 400 (documented); method errors are still faults.
	r := rpc.NewServer()
	codec, err := NewCodec(with(func(c *Configuration) { c.DefaultService = "Test" }))
	if err != nil {
		t.Fatal(err)
	}
	r.RegisterCodec(codec, "text/xml")
	svc := &TestService{}
	if err := r.RegisterService(svc, "Test"); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(r)
	defer ts.Close()
	var got int
	if err := Call(context.Background(), nil, ts.URL, nil, "Add", []any{40, 2}, &got); err != nil || got != 42 {
		t.Fatalf("Add = %d, %v", got, err)
	}
	err = Call(context.Background(), nil, ts.URL, nil, "Fail", []any{5, "x"}, nil)
	if f, ok := err.(*Fault); !ok || f.Code != 5 {
		t.Errorf("Fail: %v, want fault 5", err)
	}
	before := svc.calls.Load()
	err = Call(context.Background(), nil, ts.URL, nil, "Add", []any{"x"}, nil)
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 400 || !strings.Contains(he.Body, "wrong number of parameters") {
		t.Errorf("bad args: %v, want HTTP 400", err)
	}
	if svc.calls.Load() != before {
		t.Error("method ran with bad args")
	}
}

func TestCallErrors(t *testing.T) {
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/unavailable":
			http.Error(w, "down", http.StatusServiceUnavailable)
		case "/garbage":
			fmt.Fprint(w, "<html>")
		case "/two":
			fmt.Fprint(w, "<methodResponse><params><param><value>a</value></param><param><value>b</value></param></params></methodResponse>")
		case "/badfault":
			fmt.Fprint(w, "<methodResponse><fault><value>oops</value></fault></methodResponse>")
		}
	}))
	defer bad.Close()
	cases := []struct {
		name, path, want string
	}{
		{"HTTP status", "/unavailable", "HTTP 503: down"},
		{"garbage", "/garbage", "invalid response"},
		{"two params", "/two", "response has 2 params"},
		{"bad fault", "/badfault", "fault is a string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Call(context.Background(), nil, bad.URL+tc.path, nil, "M", nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	t.Run("bad method name", func(t *testing.T) {
		if err := Call(context.Background(), nil, bad.URL, nil, "a b", nil, nil); err == nil {
			t.Error("accepted")
		}
	})
	t.Run("unencodable argument", func(t *testing.T) {
		err := Call(context.Background(), nil, bad.URL, nil, "M", []any{1, make(chan int)}, nil)
		if err == nil || !strings.Contains(err.Error(), "argument 2") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("reply not a pointer", func(t *testing.T) {
		ts, _, _ := startServer(t, DefaultConfiguration())
		var n int
		if err := Call(context.Background(), nil, ts.URL, nil, "Add", []any{1, 2}, n); err == nil {
			t.Error("accepted")
		}
	})
	t.Run("canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := Call(ctx, nil, bad.URL, nil, "M", nil, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}
