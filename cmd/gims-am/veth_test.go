package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gimsproject/gims/internal/daemontest"
	"github.com/gimsproject/gims/transform/cryptopan"
	"github.com/gimsproject/gims/xmlrpc"
)

// TestTLSVeth is issue 13's check: the AM in one network namespace, a
// capture daemon in another, joined by a veth pair, both on TLS with
// certificates from gimsctl certs; the experimenter calls the AM from the
// device's side, so that every exchange crosses the veth. tcpdump records
// the veth during a whole anonymized experiment (results pulled across
// it), and the recording holds no password, token, secret or key, raw,
// hex or base64.
func TestTLSVeth(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("TestTLSVeth needs root in CI (network namespaces)")
		}
		t.Skip("network namespaces need root")
	}
	for _, tool := range []string{"ip", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI (make deps installs it)", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	suffix := strconv.Itoa(os.Getpid() % 100000)
	nsAM, nsDev := "gimstls"+suffix+"a", "gimstls"+suffix+"d"
	addNetns(t, nsAM)
	addNetns(t, nsDev)
	const (
		amIP, devIP     = "10.79.0.1", "10.79.0.2"
		amLink, devLink = "gimstlsa", "gimstlsd"
	)
	mustRun(t, "ip", "-n", nsAM, "link", "add", amLink, "type", "veth", "peer", "name", devLink, "netns", nsDev)
	mustRun(t, "ip", "-n", nsAM, "addr", "add", amIP+"/24", "dev", amLink)
	mustRun(t, "ip", "-n", nsDev, "addr", "add", devIP+"/24", "dev", devLink)
	mustRun(t, "ip", "-n", nsAM, "link", "set", amLink, "up")
	mustRun(t, "ip", "-n", nsDev, "link", "set", devLink, "up")

	p := &pki{dir: t.TempDir(), pins: map[string]string{}}
	for _, args := range [][]string{{"create-ca"}, {"create-device", "-name", "device", "-hosts", devIP},
		{"create-device", "-name", "am", "-hosts", amIP}, {"create-am-client"}} {
		mustRun(t, bins["gimsctl"], append(append([]string{"certs"}, args...), "-dir", p.dir)...)
	}

	recording := filepath.Join(t.TempDir(), "veth.pcap")
	dump := daemontest.Start(t, "ip", nil, `listening on (\S+)`, "netns", "exec", nsAM, "tcpdump", "-n", "-U", "--immediate-mode",
		"-i", amLink, "-w", recording)

	const (
		token  = "veth-device-token-0123456789"
		secret = "veth experiment secret phrase"
	)
	dir := t.TempDir()
	pcaps := filepath.Join(dir, "pcaps")
	if err := os.MkdirAll(pcaps, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pcaps, filepath.Base(trace)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	dev := daemontest.Start(t, "ip", []string{"GIMS_DEVICE_TOKEN=" + token}, daemontest.CapdListening,
		"netns", "exec", nsDev, bins["gims-capd"], "-listen", devIP+":0", "-data", filepath.Join(dir, "data"),
		"-pcap-dir", pcaps, "-tls-cert", p.file("device.crt"), "-tls-key", p.file("device.key"),
		"-tls-client-ca", p.file("ca.crt"))
	amDir := t.TempDir()
	am := daemontest.Start(t, "ip", []string{"GIMS_ADMIN_PASSWORD=" + adminPass}, daemontest.AMListening,
		"netns", "exec", nsAM, bins["gims-am"], "-listen", amIP+":0", "-db", filepath.Join(amDir, "am.db"),
		"-data", filepath.Join(amDir, "data"), "-init-admin", adminName, "-poll-interval", "200ms",
		"-pull-interval", "1s", "-bcrypt-cost", "4", "-tls-cert", p.file("am.crt"), "-tls-key", p.file("am.key"),
		"-device-ca", p.file("ca.crt"), "-device-cert", p.file("am-client.crt"), "-device-key", p.file("am-client.key"))

	// The experimenter's client runs in the device's namespace.
	tr := &http.Transport{TLSClientConfig: p.clientTLS(t, ""), DialContext: dialIn(nsDev)}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	call := func(method string, reply any, args ...any) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		url := "https://" + adminName + ":" + adminPass + "@" + am.Addr + "/RPC2"
		if err := xmlrpc.Call(ctx, client, url, nil, method, args, reply); err != nil {
			t.Fatalf("%s: %v\nAM log:\n%s\ncapd log:\n%s", method, err, am.Log(), dev.Log())
		}
	}
	_, devPort, _ := net.SplitHostPort(dev.Addr)
	port, _ := strconv.Atoi(devPort)
	call("AddDevice", nil, map[string]any{"name": "far", "hostname": devIP, "port": port, "token": token, "tls": true,
		"policy": openPolicy()})
	var id int64
	call("CreateExperiment", &id, map[string]any{"name": "veth", "devices": []string{"far:" + traceIface}})
	call("ConfigureExperiment", nil, id, map[string]any{"pcap": true, "flows": map[string]any{},
		"counters": map[string]any{}, "anonymize": map[string]any{"secret": secret}})
	call("StartExperiment", nil, id)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st status
		call("GetExperimentStatus", &st, id)
		if st.State == "done" && st.ResultsPulled {
			if st.Packets == 0 {
				t.Fatalf("no packets: %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("experiment not done within 60 s: %+v\nAM log:\n%s", st, am.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	var files []fileRow
	call("GetExperimentResults", &files, id, map[string]any{"kind": "files"})
	for _, f := range files {
		req, _ := http.NewRequest(http.MethodGet, f.URL, nil)
		req.SetBasicAuth(adminName, adminPass)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	tr.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond) // the last segments reach tcpdump
	dump.Kill(syscall.SIGINT)

	rec, err := os.ReadFile(recording)
	if err != nil {
		t.Fatal(err)
	}
	// The recording is not empty: both conversations crossed the veth.
	_, amPort, _ := net.SplitHostPort(am.Addr)
	for _, filter := range []string{"tcp port " + amPort, "tcp port " + devPort} {
		n := tcpdumpCount(t, recording, filter)
		t.Logf("%s: %d packets recorded on the veth", filter, n)
		if n < 10 {
			t.Fatalf("the recording has %d packets of %s; want the experiment's exchanges (%d bytes)\ntcpdump:\n%s", n, filter, len(rec), dump.Log())
		}
	}
	key, err := cryptopan.KeyFromSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{"admin password": []byte(adminPass), "device token": []byte(token),
		"anonymization secret": []byte(secret), "key": key[:], "Basic credentials": []byte(adminName + ":" + adminPass)}
	for name, s := range secrets {
		for form, b := range map[string][]byte{"raw": s, "hex": []byte(hex.EncodeToString(s)),
			"HEX": []byte(strings.ToUpper(hex.EncodeToString(s))), "base64": []byte(base64.StdEncoding.EncodeToString(s)),
			"base64url": []byte(base64.RawURLEncoding.EncodeToString(s))} {
			if bytes.Contains(rec, b) {
				t.Errorf("the veth recording holds the %s (%s)", name, form)
			}
		}
	}
	noTokenInDB(t, amDir, token)
	// After the run, the device's data folder and the AM's files hold no
	// key or token in clear: the device forgot the done job's key, the AM
	// sealed both.
	for _, root := range []string{filepath.Join(dir, "data"), amDir} {
		filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for name, s := range map[string][]byte{"key": key[:], "device token": []byte(token), "secret": []byte(secret)} {
				for _, form := range [][]byte{s, []byte(hex.EncodeToString(s)), []byte(base64.StdEncoding.EncodeToString(s))} {
					if bytes.Contains(b, form) {
						t.Errorf("%s holds the %s", path, name)
					}
				}
			}
			return nil
		})
	}
	for _, plain := range []string{"RPC2", "StartJob", "Authorization"} {
		if bytes.Contains(rec, []byte(plain)) {
			t.Errorf("the veth recording holds %q in clear", plain)
		}
	}
}

// addNetns creates a network namespace with its loopback up, removed at
// the end of the test.
func addNetns(t *testing.T, name string) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("unable to create network namespace %s: %v\n%s", name, err, out)
		}
		t.Skipf("network namespaces unavailable (ip netns add: %v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", name, err, out)
		}
	})
	mustRun(t, "ip", "-n", name, "link", "set", "lo", "up")
}

// mustRun runs a command and fails the test on error.
func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// dialIn dials from the named network namespace: the socket is made on
// an OS thread switched into it (the thread is never switched back; it
// ends with its goroutine).
func dialIn(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			conn net.Conn
			err  error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			f, err := os.Open(filepath.Join("/var/run/netns", ns))
			if err != nil {
				ch <- result{nil, err}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- result{nil, err}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.conn, r.err
	}
}
