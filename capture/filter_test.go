package capture

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
)

// TestMain lets the test binary serve as the filter child of isolated
// compilers, as the daemons do.
func TestMain(m *testing.M) {
	ServeFilterChild()
	os.Exit(m.Run())
}

// hosts is a filter of n "host" terms joined by or.
func hosts(n int) string {
	terms := make([]string, n)
	for i := range terms {
		terms[i] = fmt.Sprintf("host 10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
	return strings.Join(terms, " or ")
}

func TestFilterTerms(t *testing.T) {
	for _, tc := range []struct {
		pos, expr string
		want      int
	}{
		{"#0", "udp", 1},
		{"#1", "udp and port 53", 2},
		{"#2", "tcp&&port 80||udp", 3},
		{"#3", "host 10.0.0.1 or 10.0.0.2 OR 10.0.0.3", 3},
		{"#4", "not (tcp and (port 80 or port 443))", 3},
		{"#5", "ether host aa:bb:cc:dd:ee:ff", 1},
		{"#6", hosts(500), 500},
	} {
		if got := FilterTerms(tc.expr); got != tc.want {
			t.Errorf("%s FilterTerms(%.40q) = %d, want %d", tc.pos, tc.expr, got, tc.want)
		}
	}
}

func TestFilterCompiler(t *testing.T) {
	for _, isolate := range []bool{false, true} {
		t.Run(fmt.Sprintf("isolate=%v", isolate), func(t *testing.T) {
			cfg := DefaultFilterConfiguration()
			cfg.Isolate = isolate
			c, err := NewFilterCompiler(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			insns, err := c.Compile(ctx, layers.LinkTypeEthernet, 0, "udp and port 53")
			if err != nil || len(insns) == 0 {
				t.Fatalf("udp and port 53: %d instructions, %v", len(insns), err)
			}
			for _, tc := range []struct {
				pos, expr, want string
			}{
				{"#0", "udp and port 99999", "99999"},
				{"#1", hosts(101), "filter too complex: 101 terms joined by and/or, at most 100"},
				{"#2", strings.Repeat("(", 4097), "filter too long: 4097 bytes, at most 4096"},
			} {
				err := c.Check(ctx, layers.LinkTypeEthernet, 0, tc.expr)
				var fe *FilterError
				if !errors.As(err, &fe) || !strings.Contains(fe.Msg, tc.want) {
					t.Errorf("%s: got %v, want a FilterError with %q", tc.pos, err, tc.want)
				}
			}
		})
	}
}

// TestFilterTimeout: a filter within the size limits that compiles too
// slowly is refused after Timeout, with the message of a filter too
// complex; in a child, the compilation is killed.
func TestFilterTimeout(t *testing.T) {
	for _, isolate := range []bool{false, true} {
		t.Run(fmt.Sprintf("isolate=%v", isolate), func(t *testing.T) {
			cfg := DefaultFilterConfiguration()
			cfg.Isolate, cfg.MaxTerms, cfg.MaxBytes, cfg.Timeout = isolate, 1000, 1<<20, 200*time.Millisecond
			c, err := NewFilterCompiler(cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = c.Check(context.Background(), layers.LinkTypeEthernet, 0, hosts(300))
			var fe *FilterError
			if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "takes more than 200ms") {
				t.Errorf("got %v, want a FilterError: takes more than 200ms", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refused after %s, want about 200ms", d)
			}
		})
	}
}

// TestFilterIsolation is issue 20: one experimenter's slow filter stalled
// every other compilation of the daemon (gopacket compiles under one
// lock: 15.5 s for "udp"). Compiled in children, a small filter is
// compiled at once while a slow one runs.
func TestFilterIsolation(t *testing.T) {
	cfg := DefaultFilterConfiguration()
	cfg.Isolate, cfg.MaxTerms, cfg.MaxBytes, cfg.Timeout = true, 1000, 1<<20, 5*time.Second
	c, err := NewFilterCompiler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	slowDone := make(chan time.Time, 1)
	go func() {
		_ = c.Check(ctx, layers.LinkTypeEthernet, 0, hosts(500)) // 12 s, killed after 5 s
		slowDone <- time.Now()
	}()
	time.Sleep(300 * time.Millisecond) // the slow compilation is under way
	start := time.Now()
	if err := c.Check(ctx, layers.LinkTypeEthernet, 0, "udp"); err != nil {
		t.Fatal(err)
	}
	quick := time.Now()
	// A child starts in milliseconds (a race-built one in about a
	// second on a loaded machine); under one lock "udp" would wait the
	// slow compilation's 5 s.
	if d := quick.Sub(start); d > 2500*time.Millisecond {
		t.Errorf("udp compiled in %s while a slow filter compiled, want well under the slow one's 5 s", d)
	}
	if slow := <-slowDone; !quick.Before(slow) {
		t.Errorf("udp compiled after the slow filter ended")
	}
}

// TestFilterMemoryLimit: a child compilation cannot take more than
// MaxMemoryBytes (10,000 terms took 10.7 GB).
func TestFilterMemoryLimit(t *testing.T) {
	cfg := DefaultFilterConfiguration()
	cfg.Isolate, cfg.MaxTerms, cfg.MaxBytes, cfg.Timeout, cfg.MaxMemoryBytes = true, 100000, 1<<22, 20*time.Second, 64<<20
	c, err := NewFilterCompiler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Check(context.Background(), layers.LinkTypeEthernet, 0, hosts(3000))
	var fe *FilterError
	if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "takes more than 64 MiB") {
		t.Errorf("got %v, want a FilterError: takes more than 64 MiB", err)
	}
}
