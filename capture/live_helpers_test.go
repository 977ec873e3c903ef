package capture

import (
	"bytes"
	"net"
	"os"
	"testing"
)

// Helpers of the live capture tests, shared by ring_test.go and the
// allocation test (built without the race detector only).

// needRoot skips (fails in CI) a test that opens packet sockets or makes
// network namespaces.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("live capture tests need root in CI")
		}
		t.Skip("live capture needs root")
	}
}

// udpTarget is a UDP port on lo that receives what the test sends, so
// that the kernel answers no ICMP.
type udpTarget struct {
	conn *net.UDPConn
	port int
	out  *net.UDPConn
}

func newUDPTarget(t *testing.T) *udpTarget {
	t.Helper()
	in, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := net.DialUDP("udp4", nil, in.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); out.Close() })
	return &udpTarget{conn: in, port: in.LocalAddr().(*net.UDPAddr).Port, out: out}
}

// send sends n datagrams of size bytes of payload.
func (u *udpTarget) send(t *testing.T, n, size int) {
	t.Helper()
	payload := bytes.Repeat([]byte{0xab}, size)
	for range n {
		if _, err := u.out.Write(payload); err != nil {
			t.Fatal(err)
		}
	}
}

// flood sends datagrams of 1000 bytes as fast as it can until the
// returned function is called (which waits for the sender to stop).
func (u *udpTarget) flood() (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		payload := make([]byte, 1000)
		for {
			select {
			case <-done:
				return
			default:
				_, _ = u.out.Write(payload)
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// openEngine opens a live capture with an engine and fails the test if
// it got another one.
func openEngine(t *testing.T, cfg LiveConfiguration, want Engine) *Source {
	t.Helper()
	src, err := OpenLive(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	if src.Engine() != want {
		t.Fatalf("engine %q (fallback: %v), want %q", src.Engine(), src.Fallback(), want)
	}
	return src
}

func mustCompiler(t *testing.T) *FilterCompiler {
	t.Helper()
	c, err := NewFilterCompiler(DefaultFilterConfiguration())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
