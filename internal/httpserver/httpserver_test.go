package httpserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		pos  string
		mod  func(*Configuration)
		want string
	}{
		{"#0", func(*Configuration) {}, ""},
		{"#1", func(c *Configuration) { c.ReadTimeout = 0 }, "ReadTimeout must be positive, got 0s"},
		{"#2", func(c *Configuration) { c.MaxHeaderBytes = 100 }, "MaxHeaderBytes must be between 4096 and 1048576, got 100"},
		{"#3", func(c *Configuration) { c.MaxClientConnections = 300 }, "MaxClientConnections must be between 1 and 256, got 300"},
	} {
		c := DefaultConfiguration()
		tc.mod(&c)
		err := c.Validate()
		if (tc.want == "" && err != nil) || (tc.want != "" && (err == nil || err.Error() != tc.want)) {
			t.Errorf("%s Validate() = %v, want %q", tc.pos, err, tc.want)
		}
	}
}

// TestClientLimit: one address cannot hold more than MaxClientConnections;
// another address is served meanwhile.
func TestClientLimit(t *testing.T) {
	cfg := DefaultConfiguration()
	cfg.MaxConnections, cfg.MaxClientConnections = 8, 3
	srv, err := New(cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	// Idle connections from 127.0.0.2: three held, the others closed.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 2 * time.Second}
	closed := 0
	for range 6 {
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF || (err != nil && strings.Contains(err.Error(), "reset")) {
			closed++
		}
	}
	if closed != 3 {
		t.Errorf("%d of 6 connections from one address closed, want 3", closed)
	}
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatalf("another address meanwhile: %v", err)
	}
	resp.Body.Close()
}

// TestDownload: a download longer than WriteTimeout goes on while the
// client reads, since each write moves the deadline; a plain answer is
// cut at WriteTimeout.
func TestDownload(t *testing.T) {
	const chunk = 64 << 10
	for _, tc := range []struct {
		pos      string
		download bool
		wantFull bool
	}{
		{"#0 download", true, true},
		{"#1 plain", false, false},
	} {
		t.Run(tc.pos, func(t *testing.T) {
			cfg := DefaultConfiguration()
			cfg.WriteTimeout = 300 * time.Millisecond
			srv, err := New(cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.download {
					w = Download(w, r)
				}
				buf := make([]byte, chunk)
				for range 10 { // 10 writes 100 ms apart: 1 s in all
					if _, err := w.Write(buf); err != nil {
						return
					}
					http.NewResponseController(w).Flush()
					time.Sleep(100 * time.Millisecond)
				}
			}), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(ctx)
			}()
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + ln.Addr().String() + "/")
			if err != nil {
				t.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if full := n == 10*chunk; full != tc.wantFull {
				t.Errorf("read %d bytes of %d, want all: %v", n, 10*chunk, tc.wantFull)
			}
		})
	}
}
