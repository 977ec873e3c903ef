package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gimsproject/gims/xmlrpc"
)

// bins holds the binaries TestMain builds: gims-am and gims-capd.
var bins = map[string]string{}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gims-load-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// One go build for both: their links run in parallel.
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "../gims-am", "../gims-capd")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build gims-am and gims-capd: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	for _, name := range []string{"gims-am", "gims-capd"} {
		bins[name] = filepath.Join(dir, name)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a daemon started by a test; its stderr is kept for the log.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	addr string
	done chan struct{}
}

// logText returns what the process wrote so far.
func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// start runs bin with args and env and waits until it logs the address
// it listens on (addrRE's first group).
func start(t *testing.T, bin string, env []string, addrRE string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(addrRE)
	found := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			if m := re.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		p.cmd.Wait()
	}()
	t.Cleanup(p.stop)
	select {
	case p.addr = <-found:
	case <-p.done:
		t.Fatalf("%s exited before listening:\n%s", filepath.Base(bin), p.logText())
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not listen within 20 s:\n%s", filepath.Base(bin), p.logText())
	}
	return p
}

// stop ends the process with SIGTERM (SIGKILL after 15 s) and waits.
func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Credentials of the test AM's admin and the capture daemon's token.
const (
	adminName   = "admin"
	adminPass   = "admin-password-1"
	deviceToken = "load-test-token"
)

// daemons starts a capture daemon and an AM that knows it as device
// "local", and returns the AM with its admin URL.
func daemons(t *testing.T) (am *proc, url string) {
	t.Helper()
	dir := t.TempDir()
	pcaps := filepath.Join(dir, "pcaps")
	if err := os.MkdirAll(pcaps, 0o755); err != nil {
		t.Fatal(err)
	}
	capd := start(t, bins["gims-capd"], []string{"GIMS_DEVICE_TOKEN=" + deviceToken},
		`msg="capture daemon listening" addr=(\S+)`,
		"-listen", "127.0.0.1:0", "-data", filepath.Join(dir, "capd"), "-pcap-dir", pcaps)
	am = start(t, bins["gims-am"], []string{"GIMS_ADMIN_PASSWORD=" + adminPass},
		`msg="gims-am serving".* address=(\S+)`,
		"-listen", "127.0.0.1:0", "-db", filepath.Join(dir, "am.db"), "-data", filepath.Join(dir, "am"),
		"-init-admin", adminName, "-poll-interval", "1s", "-pull-interval", "2s")
	url = "http://" + adminName + ":" + adminPass + "@" + am.addr + "/RPC2"
	host, port, _ := strings.Cut(capd.addr, ":")
	var p int
	fmt.Sscan(port, &p)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := xmlrpc.Call(ctx, nil, url, nil, "AddDevice", []any{map[string]any{"name": "local",
		"location": "test", "type": "gims-capd", "hostname": host, "port": p, "description": "gims-load test",
		"token": deviceToken}}, nil); err != nil {
		t.Fatalf("AddDevice: %v\n%s", err, am.logText())
	}
	return am, url
}
