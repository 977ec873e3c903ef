// Package testnet gives tests loopback addresses where nothing answers,
// held for the whole test. Listening on port 0, closing, and using the
// address races every other program on the machine for the port; a socket
// that keeps the port without serving it does not.
package testnet

import (
	"fmt"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TCPPort is a port of 127.0.0.1 bound by a TCP socket that does not
// listen: connections to it are refused, and no other socket can take it
// (the socket has no SO_REUSEADDR) until the test ends.
type TCPPort struct {
	// Addr is "127.0.0.1:port".
	Addr string
	fd   int
}

// RefusingTCP reserves a TCPPort, released at the end of the test.
func RefusingTCP(t testing.TB) *TCPPort {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("unable to create a TCP socket: %v", err)
	}
	p := &TCPPort{fd: fd}
	t.Cleanup(func() {
		if p.fd >= 0 {
			unix.Close(p.fd)
		}
	})
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("unable to bind a TCP socket to 127.0.0.1: %v", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("unable to read a TCP socket's address: %v", err)
	}
	p.Addr = fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	return p
}

// Listen makes the port listen and returns its listener: a server that
// comes up on the address that refused connections so far, without
// letting go of the port in between. The caller closes the listener.
func (p *TCPPort) Listen() (net.Listener, error) {
	if p.fd < 0 {
		return nil, fmt.Errorf("%s listens already", p.Addr)
	}
	if err := unix.Listen(p.fd, unix.SOMAXCONN); err != nil {
		return nil, fmt.Errorf("unable to listen on %s: %w", p.Addr, err)
	}
	f := os.NewFile(uintptr(p.fd), p.Addr)
	p.fd = -1 // f owns it now
	defer f.Close()
	ln, err := net.FileListener(f) // a duplicate of f's descriptor
	if err != nil {
		return nil, fmt.Errorf("unable to listen on %s: %w", p.Addr, err)
	}
	return ln, nil
}

// RefusingUDP returns "127.0.0.1:port" where datagrams are refused (ICMP
// port unreachable, so a connected sender's next write fails with
// ECONNREFUSED) until the end of the test: the port is bound by a UDP
// socket connected elsewhere, which takes only that peer's datagrams.
func RefusingUDP(t testing.TB) string {
	t.Helper()
	// The discard port: nothing is ever sent there.
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9})
	if err != nil {
		t.Fatalf("unable to create a UDP socket: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String()
}
