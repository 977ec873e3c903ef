package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/internal/tlsconfig"
	"github.com/gimsproject/gims/xmlrpc"
)

// pki is a folder of certificates made by gimsctl certs.
type pki struct {
	dir string
	// pins are the cert_sha256 gimsctl printed, by base name.
	pins map[string]string
}

// file is the path of a file of the folder.
func (p *pki) file(name string) string { return filepath.Join(p.dir, name) }

// newPKI makes, with the gimsctl binary, a CA, server certificates for
// a device and the AM (127.0.0.1 and localhost), the AM's client
// certificate, and user certificates: alice (CN) and carol (CN naming
// nobody, SAN URI naming alice).
func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir(), pins: map[string]string{}}
	for _, args := range [][]string{
		{"create-ca"},
		{"create-device", "-name", "device", "-hosts", "127.0.0.1,localhost"},
		{"create-device", "-name", "am", "-hosts", "127.0.0.1,localhost"},
		{"create-am-client"},
		{"create-user", "alice"},
		{"create-user", "carol", "-uri", "urn:publicid:IDN+gims.test+user+alice"},
	} {
		cmd := exec.Command(bins["gimsctl"], append(append([]string{"certs"}, args...), "-dir", p.dir)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gimsctl certs %v: %v\n%s", args, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if pin, ok := strings.CutPrefix(line, "cert_sha256 "); ok {
				base := "ca"
				if len(args) > 2 && args[1] == "-name" {
					base = args[2]
				}
				p.pins[base] = pin
			}
		}
	}
	return p
}

// clientTLS is a TLS client configuration trusting p's CA, presenting
// the certificate base (none when empty).
func (p *pki) clientTLS(t *testing.T, base string) *tls.Config {
	t.Helper()
	c := tlsconfig.Client{CAFile: p.file("ca.crt")}
	if base != "" {
		c.CertFile, c.KeyFile = p.file(base+".crt"), p.file(base+".key")
	}
	cfg, err := c.Config()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// httpsClient is an HTTP client with cfg.
func httpsClient(cfg *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 60 * time.Second}
}

// callTLS calls method on the AM over HTTPS with cfg, with Basic
// credentials when user is set.
func (a *amProc) callTLS(cfg *tls.Config, user, pass, method string, reply any, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := "https://" + a.addr + "/RPC2"
	if user != "" {
		url = "https://" + user + ":" + pass + "@" + a.addr + "/RPC2"
	}
	return xmlrpc.Call(ctx, httpsClient(cfg), url, nil, method, args, reply)
}

// startTLS starts, with p's certificates, a capture daemon requiring the
// AM's client certificate and an AM serving HTTPS that accepts user
// certificates and verifies the devices against the CA.
func startTLS(t *testing.T, p *pki) (*capd, *amProc) {
	t.Helper()
	c := startCapdIn(t, t.TempDir(), "", "tls-device-token", "-tls-cert", p.file("device.crt"), "-tls-key",
		p.file("device.key"), "-tls-client-ca", p.file("ca.crt"))
	a := startAM(t, "-tls-cert", p.file("am.crt"), "-tls-key", p.file("am.key"), "-tls-client-ca", p.file("ca.crt"),
		"-device-ca", p.file("ca.crt"), "-device-cert", p.file("am-client.crt"), "-device-key", p.file("am-client.key"))
	return c, a
}

// deviceArgs is the AddDevice struct of capture daemon c over TLS.
func deviceArgs(name string, c *capd, pin string) map[string]any {
	host, port, _ := strings.Cut(c.addr, ":")
	var n int
	fmt.Sscan(port, &n)
	d := map[string]any{"name": name, "hostname": host, "port": n, "token": c.token, "tls": true, "policy": openPolicy()}
	if pin != "" {
		d["cert_sha256"] = pin
	}
	return d
}

// TestTLSExperiment runs an anonymized file: experiment with both
// daemons on TLS (certificates from gimsctl certs): the AM verifies the
// device by the CA, then by its pin, and downloads the results over
// HTTPS.
func TestTLSExperiment(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	c, a := startTLS(t, p)
	admin := p.clientTLS(t, "")
	// Plain HTTP to the HTTPS port fails; HTTPS with the admin's password works.
	if err := a.call(adminName, adminPass, "ListDevices", nil); err == nil {
		t.Error("plain HTTP call to an HTTPS AM succeeded")
	}
	var info struct {
		TLS        bool   `xmlrpc:"tls"`
		CertSHA256 string `xmlrpc:"cert_sha256"`
		Reachable  bool   `xmlrpc:"reachable"`
	}
	if err := a.callTLS(admin, adminName, adminPass, "AddDevice", &info, deviceArgs("tap1", c, "")); err != nil {
		t.Fatalf("AddDevice over TLS: %v\nAM log:\n%s\ncapd log:\n%s", err, a.logText(), c.logText())
	}
	if !info.TLS || !info.Reachable || info.CertSHA256 != "" {
		t.Errorf("AddDevice = %+v, want tls, reachable, no pin", info)
	}
	// The same daemon pinned, in openssl's upper-case colon form.
	pin := p.pins["device"]
	var colons []string
	for i := 0; i < len(pin); i += 2 {
		colons = append(colons, strings.ToUpper(pin[i:i+2]))
	}
	if err := a.callTLS(admin, adminName, adminPass, "AddDevice", &info, deviceArgs("tap1pin", c, strings.Join(colons, ":"))); err != nil {
		t.Fatalf("AddDevice with a pin: %v", err)
	}
	if info.CertSHA256 != pin {
		t.Errorf("stored pin %q, want %q", info.CertSHA256, pin)
	}

	var id int64
	if err := a.callTLS(admin, adminName, adminPass, "CreateExperiment", &id, map[string]any{"name": "tls",
		"devices": []string{"tap1:" + traceIface, "tap1pin:" + traceIface}}); err != nil {
		t.Fatal(err)
	}
	if err := a.callTLS(admin, adminName, adminPass, "ConfigureExperiment", nil, id, map[string]any{"pcap": true,
		"flows": map[string]any{}, "counters": map[string]any{}, "anonymize": map[string]any{"secret": "tls experiment secret"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.callTLS(admin, adminName, adminPass, "StartExperiment", nil, id); err != nil {
		t.Fatalf("StartExperiment: %v\nAM log:\n%s", err, a.logText())
	}
	deadline := time.Now().Add(60 * time.Second)
	var st status
	for {
		if err := a.callTLS(admin, adminName, adminPass, "GetExperimentStatus", &st, id); err != nil {
			t.Fatal(err)
		}
		if st.State == "done" && st.ResultsPulled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("experiment not done and pulled within 60 s: %+v\nAM log:\n%s", st, a.logText())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st.Packets == 0 || len(st.Errors) > 0 {
		t.Errorf("status %+v, want packets and no errors", st)
	}
	var files []fileRow
	if err := a.callTLS(admin, adminName, adminPass, "GetExperimentResults", &files, id, map[string]any{"kind": "files"}); err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no result files")
	}
	for _, f := range files {
		if !strings.HasPrefix(f.URL, "https://") {
			t.Errorf("file URL %q is not https", f.URL)
		}
		req, _ := http.NewRequest(http.MethodGet, f.URL, nil)
		req.SetBasicAuth(adminName, adminPass)
		resp, err := httpsClient(admin).Do(req)
		if err != nil {
			t.Fatalf("download %s: %v", f.URL, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || int64(len(body)) != f.Size {
			t.Errorf("download %s: %s, %d bytes, want %d", f.Name, resp.Status, len(body), f.Size)
		}
	}
	noTokenInDB(t, a.dir, c.token)
}

// noTokenInDB checks that the AM's database files in dir (the WAL
// included) do not hold the device token in clear: it is sealed.
func noTokenInDB(t *testing.T, dir, token string) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, "am.db*"))
	if len(matches) == 0 {
		t.Fatalf("no database files in %s", dir)
	}
	for _, f := range matches {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), token) {
			t.Errorf("%s holds the device token in clear", f)
		}
	}
}

// TestTLSCertificateMismatch: a device with a certificate of another CA,
// or not matching its pin, is fault 5 "certificate mismatch", and the
// handshake ends before any request reaches it; a caller without a client
// certificate is refused by the device even with the right token.
func TestTLSCertificateMismatch(t *testing.T) {
	t.Parallel()
	p, other := newPKI(t), newPKI(t)
	c, a := startTLS(t, p)
	admin := p.clientTLS(t, "")
	// A daemon whose certificate comes from another CA.
	stranger := startCapdIn(t, t.TempDir(), "", "stranger-token", "-tls-cert", other.file("device.crt"), "-tls-key",
		other.file("device.key"), "-tls-client-ca", p.file("ca.crt"))
	cases := []struct {
		name string
		args map[string]any
		capd *capd
	}{
		{"other CA", deviceArgs("stranger", stranger, ""), stranger},
		{"wrong pin", deviceArgs("wrongpin", c, other.pins["device"]), c},
	}
	for _, tc := range cases {
		err := a.callTLS(admin, adminName, adminPass, "AddDevice", nil, tc.args)
		var f *xmlrpc.Fault
		if !errors.As(err, &f) || f.Code != 5 || !strings.Contains(f.String, "certificate mismatch") {
			t.Errorf("%s: AddDevice = %v, want fault 5 certificate mismatch", tc.name, err)
		}
	}
	// Nothing reached the daemons' API: the AM ended the handshakes.
	for _, x := range []*capd{stranger, c} {
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(x.logText(), "TLS handshake error") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(x.logText(), "TLS handshake error") {
			t.Errorf("the daemon logged no failed handshake:\n%s", x.logText())
		}
	}

	// The device API itself: without a client certificate, the right
	// token is refused at the handshake; with the AM's certificate and a
	// wrong token, the token is refused; with both, it answers.
	call := func(cert, token string) error {
		cl, err := deviceapi.NewClient(deviceapi.ClientConfig{BaseURL: "https://" + c.addr, Token: token,
			HTTP: httpsClient(p.clientTLS(t, cert))})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.Capabilities(context.Background())
		return err
	}
	if err := call("", c.token); err == nil {
		t.Error("the device answered a caller without a client certificate")
	}
	if err := call("am-client", "wrong-token"); faultCode(err) <= 0 {
		t.Errorf("wrong token with the AM's certificate: %v, want a fault", err)
	}
	if err := call("am-client", c.token); err != nil {
		t.Errorf("the AM's certificate and token: %v", err)
	}
	// A client certificate of another CA is refused too.
	cl, _ := deviceapi.NewClient(deviceapi.ClientConfig{BaseURL: "https://" + c.addr, Token: c.token,
		HTTP: httpsClient(func() *tls.Config { x := other.clientTLS(t, "am-client"); x.RootCAs = admin.RootCAs; return x }())})
	if _, err := cl.Capabilities(context.Background()); err == nil {
		t.Error("the device accepted a client certificate of another CA")
	}
}

// TestTLSUserCertificate: a user's client certificate logs in without a
// password, by CN or by a SAN URI mapped in the user record, in the API
// (Go, gimsctl and Python's xmlrpc.client) and in the GUI; a certificate
// naming nobody is refused, and passwords still work.
func TestTLSUserCertificate(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	_, a := startTLS(t, p)
	admin := p.clientTLS(t, "")
	if err := a.callTLS(admin, adminName, adminPass, "AddUser", nil, map[string]any{"name": "alice",
		"password": "alice-password", "role": "experimenter", "cert_uri": "urn:publicid:IDN+gims.test+user+alice"}); err != nil {
		t.Fatal(err)
	}
	// ListUsers is for admins: its refusal names the caller.
	for _, base := range []string{"user-alice", "user-carol"} {
		err := a.callTLS(p.clientTLS(t, base), "", "", "ListUsers", nil)
		var f *xmlrpc.Fault
		if !errors.As(err, &f) || !strings.Contains(f.String, "alice is an experimenter") {
			t.Errorf("%s: ListUsers = %v, want refused as alice", base, err)
		}
		if err := a.callTLS(p.clientTLS(t, base), "", "", "ListExperiments", nil); err != nil {
			t.Errorf("%s: ListExperiments without a password: %v", base, err)
		}
	}
	// The AM's own client certificate names no user.
	if err := a.callTLS(p.clientTLS(t, "am-client"), "", "", "ListExperiments", nil); faultCode(err) != 4 {
		t.Errorf("a certificate naming nobody: %v, want fault 4", err)
	}
	// Passwords stay for the rest.
	if err := a.callTLS(admin, "alice", "alice-password", "ListExperiments", nil); err != nil {
		t.Errorf("alice's password: %v", err)
	}

	// gimsctl with the certificate, no password.
	url := "https://" + a.addr + "/RPC2"
	cmd := exec.Command(bins["gimsctl"], "-url", url, "-ca", p.file("ca.crt"), "-cert", p.file("user-alice.crt"),
		"-key", p.file("user-alice.key"), "list-experiments")
	cmd.Env = append(os.Environ(), "GIMS_PASSWORD=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("gimsctl with a user certificate: %v\n%s", err, out)
	}

	// Python's xmlrpc.client with an SSL context.
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 is required in CI (make deps installs it): %v", err)
		}
		t.Skipf("python3 not installed: %v", err)
	}
	script := `import ssl, sys, xmlrpc.client
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.load_cert_chain(sys.argv[3], sys.argv[4])
s = xmlrpc.client.ServerProxy(sys.argv[1], context=ctx)
s.ListExperiments()
try:
    s.ListUsers()
except xmlrpc.client.Fault as f:
    print(f.faultCode, f.faultString)
`
	out, err := exec.Command(python, "-c", script, url, p.file("ca.crt"), p.file("user-alice.crt"),
		p.file("user-alice.key")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "alice is an experimenter") {
		t.Errorf("python xmlrpc.client with a user certificate: %v\n%s", err, out)
	}

	// The GUI: /login with the certificate starts alice's session.
	jar, _ := cookiejar.New(nil)
	gui := httpsClient(p.clientTLS(t, "user-alice"))
	gui.Jar = jar
	resp, err := gui.Get("https://" + a.addr + "/experiments")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path == "/login" || !strings.Contains(string(body), ">alice<") {
		t.Errorf("GUI with alice's certificate: %s at %s\n%.400s", resp.Status, resp.Request.URL.Path, body)
	}
	// Without a certificate, the login form.
	resp, err = httpsClient(admin).Get("https://" + a.addr + "/experiments")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/login" {
		t.Errorf("GUI without a certificate ended at %s, want /login", resp.Request.URL.Path)
	}
}

// TestTLSRegistration: gims-capd -register with an https URL and
// -register-ca announces its fingerprint; approving it pins it, and the
// AM reaches the device over TLS.
func TestTLSRegistration(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	a := startAM(t, "-tls-cert", p.file("am.crt"), "-tls-key", p.file("am.key"),
		"-device-cert", p.file("am-client.crt"), "-device-key", p.file("am-client.key"))
	admin := p.clientTLS(t, "")
	if err := a.callTLS(admin, adminName, adminPass, "AddUser", nil, map[string]any{"name": "registrar",
		"password": "registrar-pw", "role": "experimenter"}); err != nil {
		t.Fatal(err)
	}
	var activation struct {
		Code string `xmlrpc:"code"`
	}
	if err := a.callTLS(admin, adminName, adminPass, "CreateActivation", &activation, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	startCapdIn(t, t.TempDir(), "", "reg-token", "-tls-cert", p.file("device.crt"), "-tls-key", p.file("device.key"),
		"-tls-client-ca", p.file("ca.crt"), "-register-ca", p.file("ca.crt"), "-activation", activation.Code,
		"-register", "https://registrar:registrar-pw@"+a.addr+"/RPC2")
	host, _ := os.Hostname()
	var devs []struct {
		Name       string `xmlrpc:"name"`
		Pending    bool   `xmlrpc:"pending"`
		TLS        bool   `xmlrpc:"tls"`
		CertSHA256 string `xmlrpc:"cert_sha256"`
		Reachable  bool   `xmlrpc:"reachable"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(devs) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not register within 30 s\nAM log:\n%s", a.logText())
		}
		time.Sleep(100 * time.Millisecond)
		if err := a.callTLS(admin, adminName, adminPass, "ListDevices", &devs); err != nil {
			t.Fatal(err)
		}
	}
	if d := devs[0]; d.Name != host || !d.Pending || !d.TLS || d.CertSHA256 != p.pins["device"] {
		t.Fatalf("registered device %+v, want %s pending with tls and pin %s", d, host, p.pins["device"])
	}
	if err := a.callTLS(admin, adminName, adminPass, "EditDevice", &devs[0], host, map[string]any{"approved": true}); err != nil {
		t.Fatalf("approve: %v\nAM log:\n%s", err, a.logText())
	}
	if !devs[0].Reachable {
		t.Errorf("approved device not reachable: %+v", devs[0])
	}
}
