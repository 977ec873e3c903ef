package device

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gimsproject/gims/capture/job"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// maxFuzzResponse bounds what any request may make the device answer:
// the largest legitimate answer is a page of MaxLimit flow rows.
const maxFuzzResponse = 4 << 20

// callXML is an XML-RPC request document for method with raw params.
func callXML(method string, params ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><methodCall><methodName>` + method + `</methodName><params>`)
	for _, p := range params {
		b.WriteString("<param>" + p + "</param>")
	}
	b.WriteString("</params></methodCall>")
	return b.String()
}

func str(s string) string { return "<value><string>" + s + "</string></value>" }

func member(name, value string) string {
	return "<member><name>" + name + "</name>" + value + "</member>"
}

func structOf(members ...string) string {
	return "<value><struct>" + strings.Join(members, "") + "</struct></value>"
}

// deviceFuzzSeeds are valid calls of every method, calls with wrong
// types and counts, and hostile documents: malformed XML, entities,
// DOCTYPE, deep nesting, huge arrays and strings.
func deviceFuzzSeeds() []string {
	job := str("0123456789abcdef")
	spec := structOf(
		member("interface", str(testPcap)), member("filter", str("tcp")), member("snaplen", "<value><int>128</int></value>"),
		member("counters", structOf(member("interval_ms", "<value><i4>500</i4></value>"))),
		member("flows", structOf(member("biflow", "<value><boolean>1</boolean></value>"), member("idle_timeout_s", "<value><int>5</int></value>"))),
		member("pcap", "<value><boolean>1</boolean></value>"),
		member("key", "<value><base64>AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=</base64></value>"),
		member("experiment", "<value><int>7</int></value>"),
	)
	billion := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">` +
		`<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>` +
		`<methodCall><methodName>JobStatus</methodName><params><param><value>&lol3;</value></param></params></methodCall>`
	return []string{
		callXML("Capabilities"),
		callXML("ListJobs"),
		callXML("StartJob", spec),
		callXML("StartJob", structOf(member("interface", str("lo")), member("filter", str("tcp and")))),
		callXML("StartJob", structOf(member("interface", str("file:../../etc/passwd")))),
		callXML("StartJob", structOf(member("interface", str(testPcap)), member("key", "<value><base64>AAEC</base64></value>"))),
		callXML("StartJob", structOf(member("interface", "<value><int>3</int></value>"))),
		callXML("StartJob", str("not a struct")),
		callXML("StartJob", spec, spec),
		callXML("JobStatus", job),
		callXML("JobStatus", "<value><int>1</int></value>"),
		callXML("JobStatus"),
		callXML("PauseJob", job), callXML("ResumeJob", job), callXML("StopJob", job),
		callXML("JobResults", job, structOf(member("kind", str("flows")), member("offset", "<value><int>-1</int></value>"),
			member("limit", "<value><int>2147483647</int></value>"))),
		callXML("JobResults", str("../../jobs"), structOf(member("kind", str("files")))),
		callXML("system.listMethods"),
		callXML("system.methodHelp", str("StartJob")),
		callXML("system.multicall", "<value><array><data>"+
			structOf(member("methodName", str("JobStatus")), member("params", "<value><array><data>"+job+"</data></array></value>"))+
			structOf(member("methodName", str("system.multicall")), member("params", "<value><array><data></data></array></value>"))+
			"</data></array></value>"),
		callXML("NoSuchMethod"),
		callXML("Device.Capabilities"),
		billion,
		`<!DOCTYPE m SYSTEM "file:///etc/passwd"><methodCall><methodName>ListJobs</methodName></methodCall>`,
		`<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><methodCall><methodName>JobStatus</methodName><params><param><value>&x;</value></param></params></methodCall>`,
		callXML("JobStatus", "<value>"+strings.Repeat("<array><data><value>", 200)+strings.Repeat("</value></data></array>", 200)+"</value>"),
		callXML("JobStatus", "<value><array><data>"+strings.Repeat("<value><int>1</int></value>", 30000)+"</data></array></value>"),
		callXML("JobStatus", str(strings.Repeat("A", 900_000))),
		callXML("StartJob", structOf(strings.Repeat(member("filter", str("tcp")), 5000))),
		callXML("JobStatus", "<value><string>\xff\xfe</string></value>"),
		callXML("JobStatus", "<value><double>1e400</double></value>"),
		callXML("JobStatus", "<value><dateTime.iso8601>99999999T99:99:99</dateTime.iso8601></value>"),
		"<methodCall><methodName>JobStatus",
		"<methodCall><methodName>JobStatus</methodName><params><param><value><string>a</value></string></param></params></methodCall>",
		"",
		"<?xml version=\"1.0\" encoding=\"UTF-16\"?><methodCall/>",
		"<methodCall><methodName>JobStatus</methodName><params><param><value><string>a<![CDATA[b]]></string></value></param></params></methodCall><extra/>",
	}
}

// FuzzDeviceRequest POSTs arbitrary bodies to the real device handler,
// over a job manager with a file interface, with the right bearer token
// or none (the first argument): every answer must be HTTP 200 with a
// well-formed XML-RPC response of bounded size, a fault or a single
// result; without the token it must be a fault, the authentication fault
// unless the document did not even parse; nothing panics.
func FuzzDeviceRequest(f *testing.F) {
	for _, s := range deviceFuzzSeeds() {
		f.Add(true, []byte(s))
	}
	f.Add(false, []byte(callXML("ListJobs")))
	f.Add(false, []byte(callXML("system.multicall", "<value><array><data>"+
		structOf(member("methodName", str("ListJobs")), member("params", "<value><array><data></data></array></value>"))+
		"</data></array></value>")))

	pcapDir, err := filepath.Abs("testdata/pcaps")
	if err != nil {
		f.Fatal(err)
	}
	// Few jobs, so that fuzzed StartJob calls cannot pile up captures.
	jcfg := job.DefaultConfiguration()
	jcfg.DataDir, jcfg.PcapDir, jcfg.MaxJobs = f.TempDir(), pcapDir, 4
	m, err := job.New(jcfg, job.Dependencies{})
	if err != nil {
		f.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := m.Stop(); err != nil {
			f.Error(err)
		}
	})
	cfg := DefaultConfiguration()
	cfg.Token, cfg.Version = testToken, "fuzz"
	h, err := New(cfg, Dependencies{Jobs: m})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, auth bool, body []byte) {
		req := httptest.NewRequest(http.MethodPost, deviceapi.RPCPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/xml")
		if auth {
			req.Header.Set("Authorization", "Bearer "+testToken)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		data, _ := io.ReadAll(res.Body)
		if len(body) > int(DefaultConfiguration().MaxBodyBytes) {
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("body of %d bytes: HTTP %d, want 413", len(body), res.StatusCode)
			}
			return
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("HTTP %d, want 200:\n%.300s", res.StatusCode, data)
		}
		if len(data) > maxFuzzResponse {
			t.Fatalf("response of %d bytes", len(data))
		}
		fault, err := checkResponse(data)
		if err != nil {
			t.Fatalf("invalid response: %v\n%.500s", err, data)
		}
		if !auth {
			if fault == nil {
				t.Fatalf("call without a token succeeded:\n%.500s", data)
			}
			if fault.Code != deviceapi.FaultAuth && fault.Code != xmlrpc.CodeParseError {
				t.Fatalf("call without a token: fault %d %q, want %d", fault.Code, fault.String, deviceapi.FaultAuth)
			}
		}
	})
}

// checkResponse checks that data is one well-formed XML-RPC
// methodResponse, holding either params with exactly one param and
// value, or a fault struct with an int faultCode and a string
// faultString, which it returns.
func checkResponse(data []byte) (*xmlrpc.Fault, error) {
	var path []string
	var fault *xmlrpc.Fault
	params, values, member := 0, 0, ""
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var text strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not well-formed XML: %w", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			name := tk.Name.Local
			switch {
			case len(path) == 0 && name != "methodResponse":
				return nil, fmt.Errorf("root element %q", name)
			case len(path) == 1 && name != "params" && name != "fault":
				return nil, fmt.Errorf("methodResponse holds %q", name)
			case len(path) == 2 && path[1] == "params" && name == "param":
				params++
			case len(path) == 3 && path[2] == "param" && name == "value":
				values++
			case len(path) == 1 && name == "fault":
				fault = &xmlrpc.Fault{Code: 0}
			}
			path = append(path, name)
			text.Reset()
		case xml.CharData:
			text.Write(tk)
		case xml.EndElement:
			// Fault members: methodResponse fault value struct member {name, value {int|string}}.
			if fault != nil && len(path) >= 6 && path[4] == "member" {
				switch {
				case tk.Name.Local == "name" && len(path) == 6:
					member = text.String()
				case member == "faultCode" && (tk.Name.Local == "int" || tk.Name.Local == "i4"):
					code, err := strconv.Atoi(strings.TrimSpace(text.String()))
					if err != nil {
						return nil, fmt.Errorf("faultCode %q", text.String())
					}
					fault.Code = code
				case member == "faultString" && (tk.Name.Local == "string" || (tk.Name.Local == "value" && len(path) == 6 && fault.String == "")):
					fault.String = text.String()
				}
			}
			path = path[:len(path)-1]
			text.Reset()
		case xml.Directive, xml.ProcInst:
			if _, ok := tok.(xml.Directive); ok {
				return nil, errors.New("response holds a directive")
			}
		}
	}
	switch {
	case fault != nil && fault.Code == 0:
		return nil, errors.New("fault without an int faultCode")
	case fault != nil && fault.String == "":
		return nil, errors.New("fault without a faultString")
	case fault == nil && (params != 1 || values != 1):
		return nil, fmt.Errorf("%d params with %d values, want one", params, values)
	}
	return fault, nil
}
