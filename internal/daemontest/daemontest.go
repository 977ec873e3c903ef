// Package daemontest runs the GIMS daemons as real processes for the
// end-to-end tests of other packages: it builds the binaries once and
// starts them on free loopback ports, keeping their logs.
package daemontest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Log lines that give the address a daemon listens on (first group).
const (
	AMListening   = `msg="gims-am serving".* address=(\S+)`
	CapdListening = `msg="capture daemon listening" addr=(\S+)`
)

// Build compiles the commands of cmd/ named in names (relative to
// cmdDir, the folder holding them) into a new temporary folder and
// returns their paths by name and the folder, to remove after the tests.
// The names in race are built with the race detector.
func Build(cmdDir string, names []string, race map[string]bool) (map[string]string, string, error) {
	dir, err := os.MkdirTemp("", "gims-daemons-")
	if err != nil {
		return nil, "", err
	}
	bins := map[string]string{}
	for _, name := range names {
		out := filepath.Join(dir, name)
		args := []string{"build", "-o", out}
		if race[name] {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, filepath.Join(cmdDir, name))...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			os.RemoveAll(dir)
			return nil, "", fmt.Errorf("build %s: %v\n%s", name, err, stderr.String())
		}
		bins[name] = out
	}
	return bins, dir, nil
}

// Proc is a daemon started by a test. Its stderr is kept (Log); at the
// end of the test it gets SIGTERM, and a data race it reported fails
// the test.
type Proc struct {
	// Addr is the address it listens on.
	Addr string

	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

// Start runs bin with args and extra environment and waits until it logs
// the address it listens on (addrRE's first group).
func Start(t testing.TB, bin string, env []string, addrRE string, args ...string) *Proc {
	t.Helper()
	p := &Proc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
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
	t.Cleanup(func() {
		p.Kill(syscall.SIGTERM)
		if strings.Contains(p.Log(), "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race:\n%s", filepath.Base(bin), p.Log())
		}
	})
	select {
	case p.Addr = <-found:
	case <-p.done:
		t.Fatalf("%s exited before listening:\n%s", filepath.Base(bin), p.Log())
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not listen within 20 s:\n%s", filepath.Base(bin), p.Log())
	}
	return p
}

// Log returns what the process wrote to stderr so far.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Pid is the process id (to read its /proc entries).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// PeakRSS is the process's peak resident set size so far (VmHWM of
// /proc/<pid>/status), in bytes.
func (p *Proc) PeakRSS() (int64, error) {
	return procStatus(p.Pid(), "VmHWM")
}

// RSS is the process's resident set size now (VmRSS), in bytes.
func (p *Proc) RSS() (int64, error) {
	return procStatus(p.Pid(), "VmRSS")
}

// procStatus reads a "Name: N kB" line of /proc/<pid>/status, in bytes.
func procStatus(pid int, name string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, name+":"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb); err != nil {
				return 0, fmt.Errorf("%s of process %d: %w", name, pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", name, pid)
}

// Signal sends sig without waiting (SIGSTOP makes a daemon hang).
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends sig and waits for the process to end (SIGKILL after 15 s).
// A process that already ended is left alone.
func (p *Proc) Kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Capd is a gims-capd process started by StartCapd.
type Capd struct {
	*Proc
	// Host and Port are where it listens.
	Host string
	Port int
	// PcapDir is its -pcap-dir, holding the test's captures.
	PcapDir string
}

// StartCapd starts the capture daemon bin with the bearer token, keeping
// its jobs in dir/data and offering the capture files pcaps (copied into
// dir/pcaps under their base names) as file: interfaces. It listens on a
// free loopback port unless args give -listen; args come after the
// daemon's own.
func StartCapd(t testing.TB, bin, dir, token string, pcaps []string, args ...string) *Capd {
	t.Helper()
	pcapDir := filepath.Join(dir, "pcaps")
	if err := os.MkdirAll(pcapDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, src := range pcaps {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pcapDir, filepath.Base(src)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	all := []string{"-listen", "127.0.0.1:0", "-data", filepath.Join(dir, "data"), "-pcap-dir", pcapDir}
	p := Start(t, bin, []string{"GIMS_DEVICE_TOKEN=" + token}, CapdListening, append(all, args...)...)
	host, port, err := net.SplitHostPort(p.Addr)
	if err != nil {
		t.Fatalf("gims-capd listens on %q: %v", p.Addr, err)
	}
	c := &Capd{Proc: p, Host: host, PcapDir: pcapDir}
	if c.Port, err = strconv.Atoi(port); err != nil {
		t.Fatalf("gims-capd listens on %q: %v", p.Addr, err)
	}
	return c
}
