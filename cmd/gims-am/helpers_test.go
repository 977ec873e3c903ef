package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/internal/daemontest"
	"github.com/gimsproject/gims/xmlrpc"
)

// bins holds the binaries TestMain builds: gims-am, gims-capd, gimsctl,
// gims-tracegen.
var bins map[string]string

func TestMain(m *testing.M) {
	// gims-am is race-built under -race; the others have race-built tests
	// of their own.
	b, dir, err := daemontest.Build("..", []string{"gims-am", "gims-capd", "gimsctl", "gims-tracegen"}, map[string]bool{"gims-am": daemontest.Race})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins = b
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a daemon started by a test.
type proc struct {
	*daemontest.Proc
	addr string
}

// logText returns what the process wrote so far.
func (p *proc) logText() string { return p.Log() }

// kill signals the process and waits for it.
func (p *proc) kill(sig syscall.Signal) { p.Kill(sig) }

// start runs bin and waits until it logs the address it listens on.
func start(t *testing.T, bin string, env []string, addrRE string, args ...string) *proc {
	t.Helper()
	p := daemontest.Start(t, bin, env, addrRE, args...)
	return &proc{Proc: p, addr: p.Addr}
}

// capd is a running capture daemon.
type capd struct {
	*proc
	token, pcapDir string
}

// startCapd starts a capture daemon with the sample trace in its pcap
// directory.
func startCapd(t *testing.T, token string) *capd {
	t.Helper()
	return startCapdIn(t, t.TempDir(), "", token)
}

// startCapdIn starts a capture daemon keeping its jobs in dir/data, on
// listen (a free port when empty).
func startCapdIn(t *testing.T, dir, listen, token string, extra ...string) *capd {
	t.Helper()
	if listen != "" {
		extra = append([]string{"-listen", listen}, extra...)
	}
	c := daemontest.StartCapd(t, bins["gims-capd"], dir, token, []string{trace}, extra...)
	return &capd{proc: &proc{Proc: c.Proc, addr: c.Addr}, token: token, pcapDir: c.PcapDir}
}

// trace is the sample capture the file: devices replay.
const trace = "../gims-capd/testdata/pcaps/tcpreplay__test.pcap"

// traceIface is its interface name on a capture daemon.
const traceIface = "file:tcpreplay__test.pcap"

// amProc is a running aggregate manager with its admin.
type amProc struct {
	*proc
	dir string
}

// Credentials of the admin every test AM starts with.
const (
	adminName = "admin"
	adminPass = "admin-password-1"
)

// startAM starts gims-am on a fresh database.
func startAM(t *testing.T, extra ...string) *amProc {
	t.Helper()
	dir := t.TempDir()
	return startAMIn(t, dir, extra...)
}

// startAMIn starts gims-am on the database and data folder in dir.
func startAMIn(t *testing.T, dir string, extra ...string) *amProc {
	t.Helper()
	args := append([]string{"-listen", "127.0.0.1:0", "-db", filepath.Join(dir, "am.db"), "-data",
		filepath.Join(dir, "data"), "-init-admin", adminName, "-poll-interval", "200ms", "-pull-interval", "1s",
		"-bcrypt-cost", "4"}, extra...)
	p := start(t, bins["gims-am"], []string{"GIMS_ADMIN_PASSWORD=" + adminPass}, daemontest.AMListening, args...)
	return &amProc{proc: p, dir: dir}
}

// url is the XML-RPC URL with credentials.
func (a *amProc) url(user, pass string) string {
	if user == "" {
		return "http://" + a.addr + "/RPC2"
	}
	return "http://" + user + ":" + pass + "@" + a.addr + "/RPC2"
}

// call calls method as user and decodes the reply.
func (a *amProc) call(user, pass, method string, reply any, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return xmlrpc.Call(ctx, nil, a.url(user, pass), nil, method, args, reply)
}

// admin calls method as the admin and fails the test on error.
func (a *amProc) admin(t *testing.T, method string, reply any, args ...any) {
	t.Helper()
	if err := a.call(adminName, adminPass, method, reply, args...); err != nil {
		t.Fatalf("%s: %v\nAM log:\n%s", method, err, a.logText())
	}
}

// faultCode returns the fault code of err, 0 for none, -1 for another
// error.
func faultCode(err error) int {
	if err == nil {
		return 0
	}
	var f *xmlrpc.Fault
	if errors.As(err, &f) {
		return f.Code
	}
	return -1
}

// addDevice adds capture daemon c as device name, with openPolicy: the
// tests that are not about device policy configure what they like.
func (a *amProc) addDevice(t *testing.T, name string, c *capd) {
	t.Helper()
	host, port, _ := strings.Cut(c.addr, ":")
	var p int
	fmt.Sscan(port, &p)
	a.admin(t, "AddDevice", nil, map[string]any{"name": name, "location": "lab", "type": "gims-capd",
		"hostname": host, "port": p, "description": "test daemon", "token": c.token, "policy": openPolicy()})
}

// openPolicy is the device policy (SPEC §9) that allows every
// experiment: every user, no anonymization required, payloads kept,
// experimenters' secrets.
func openPolicy() map[string]any {
	return map[string]any{"users": []string{"*"}, "require_anonymization": false, "payload": "keep",
		"outputs": []string{"counters", "flows", "pcap"}, "max_snaplen": 0, "max_duration_s": 0,
		"max_storage_bytes": 0, "key_holder": "experimenter"}
}

// status is the part of GetExperimentStatus the tests read.
type status struct {
	State         string   `xmlrpc:"state"`
	Packets       int64    `xmlrpc:"packets"`
	Bytes         int64    `xmlrpc:"bytes"`
	FlowsExported int64    `xmlrpc:"flows_exported"`
	ElapsedS      float64  `xmlrpc:"elapsed_s"`
	ResultsPulled bool     `xmlrpc:"results_pulled"`
	Errors        []string `xmlrpc:"errors"`
	Devices       []struct {
		Device      string   `xmlrpc:"device"`
		State       string   `xmlrpc:"state"`
		Reachable   bool     `xmlrpc:"reachable"`
		StopPending bool     `xmlrpc:"stop_pending"`
		Packets     int64    `xmlrpc:"packets"`
		Errors      []string `xmlrpc:"errors"`
	} `xmlrpc:"devices"`
}

// waitStatus polls the experiment's status until cond holds.
func (a *amProc) waitStatus(t *testing.T, user, pass string, id int64, what string, cond func(status) bool) status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var st status
	for {
		if err := a.call(user, pass, "GetExperimentStatus", &st, id); err != nil {
			t.Fatalf("GetExperimentStatus: %v", err)
		}
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("experiment %d: %s not reached within 30 s; last status %+v\nAM log:\n%s", id, what, st, a.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// download GETs an AM result file URL with Basic auth.
func download(t *testing.T, url, user, pass string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// tcpdumpCount counts the packets of a pcap file matching filter, as
// tcpdump selects them (it writes them out; pcapgo counts).
func tcpdumpCount(t *testing.T, path, filter string) int {
	t.Helper()
	out := filepath.Join(t.TempDir(), "filtered.pcap")
	args := []string{"-n", "-r", path, "-w", out}
	if filter != "" {
		args = append(args, filter)
	}
	if msg, err := exec.Command("tcpdump", args...).CombinedOutput(); err != nil {
		t.Fatalf("tcpdump -r %s %s: %v\n%s", path, filter, err, msg)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	n := 0
	for {
		_, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		n++
	}
}

// udpSink is a UDP port on 127.0.0.1 and one connection sending to it
// (one source port: one flow).
type udpSink struct {
	port int
	conn net.Conn
}

// newUDPSink opens the port and the connection, closed at the test's end.
func newUDPSink(t *testing.T) *udpSink {
	t.Helper()
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conn, err := net.Dial("udp", ln.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &udpSink{port: ln.LocalAddr().(*net.UDPAddr).Port, conn: conn}
}

// filter is the BPF expression matching what send sends.
func (u *udpSink) filter() string { return fmt.Sprintf("udp and dst port %d", u.port) }

// send sends n small datagrams, a millisecond apart.
func (u *udpSink) send(n int) {
	for i := range n {
		fmt.Fprintf(u.conn, "datagram %d", i)
		time.Sleep(time.Millisecond)
	}
}
