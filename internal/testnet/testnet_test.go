package testnet

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestRefusingTCP(t *testing.T) {
	p := RefusingTCP(t)
	if _, err := net.DialTimeout("tcp", p.Addr, 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s before Listen: %v, want connection refused", p.Addr, err)
	}
	if ln, err := net.Listen("tcp", p.Addr); err == nil {
		ln.Close()
		t.Fatalf("another listener took %s", p.Addr)
	}
	ln, err := p.Listen()
	if err != nil {
		t.Fatalf("Listen() error:\n%+v", err)
	}
	defer ln.Close()
	if ln.Addr().String() != p.Addr {
		t.Errorf("listening on %s, want %s", ln.Addr(), p.Addr)
	}
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.DialTimeout("tcp", p.Addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s after Listen: %v", p.Addr, err)
	}
	c.Close()
	if _, err := p.Listen(); err == nil {
		t.Error("a second Listen() succeeded")
	}
}

func TestRefusingUDP(t *testing.T) {
	addr := RefusingUDP(t)
	if c, err := net.ListenPacket("udp", addr); err == nil {
		c.Close()
		t.Fatalf("another socket took %s", addr)
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The first datagram brings the ICMP error back; a later write or
	// read reports it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Write([]byte("x"))
		if errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		if err != nil {
			t.Fatalf("write to %s: %v, want connection refused", addr, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("datagrams to %s were not refused", addr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
