package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
	"unicode"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
	"golang.org/x/sys/unix"

	"github.com/gimsproject/gims/internal/check"
)

// libpcap's BPF compiler takes time and memory that grow much faster than
// the filter (500 "host" terms: 12 s, 1,000: 79 s, 10,000: more than
// 20 minutes and 10 GB), and gopacket runs it under one process-wide lock,
// so one large filter used to stall every other compilation of the daemon.
// A FilterCompiler bounds both: it refuses filters beyond a size and a
// number of terms, and it compiles in a child process (the running
// executable, re-executed in its hidden filter mode, see ServeFilterChild)
// that is killed after a timeout and cannot take more than a memory limit.
// Compilations in children share no lock: a slow one delays nobody else.

// FilterConfiguration bounds the compilation of BPF filters. Start from
// DefaultFilterConfiguration: NewFilterCompiler refuses invalid values
// (see Validate).
type FilterConfiguration struct {
	// MaxBytes bounds the length of a filter expression (default 4096).
	MaxBytes int
	// MaxTerms bounds the number of terms, the primitives joined by
	// and/or (&&, ||) (default 100: 100 "host" terms compile in about
	// 0.1 s, 200 in 0.8 s, and the time grows as the cube).
	MaxTerms int
	// Timeout bounds one compilation (default 5 s, below the AM's device
	// timeout, so that StartJob answers in time).
	Timeout time.Duration
	// MaxMemoryBytes bounds the memory a child compilation may take
	// beyond what the re-executed program holds when it starts (default
	// 1 GiB).
	MaxMemoryBytes int64
	// Isolate compiles in a child process. The daemons turn it on: their
	// main calls ServeFilterChild first. Off (the default for library
	// users and tests), compilation runs in this process with the size
	// limits and the timeout, but a compilation that times out runs on
	// in the background and holds gopacket's lock until it ends.
	Isolate bool
}

// DefaultFilterConfiguration returns the documented defaults.
func DefaultFilterConfiguration() FilterConfiguration {
	return FilterConfiguration{
		MaxBytes:       4096,
		MaxTerms:       100,
		Timeout:        5 * time.Second,
		MaxMemoryBytes: 1 << 30,
	}
}

// Validate names the field that is wrong, the rule and the value given.
func (c FilterConfiguration) Validate() error {
	return check.First(
		check.Positive("MaxBytes", c.MaxBytes),
		check.Positive("MaxTerms", c.MaxTerms),
		check.Positive("Timeout", c.Timeout),
		check.Between("MaxMemoryBytes", c.MaxMemoryBytes, 64<<20, 1<<40),
	)
}

// RegisterFlags adds the daemon flags of c's fields to fs, with c's
// values as defaults.
func (c *FilterConfiguration) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.MaxBytes, "filter-max-bytes", c.MaxBytes, "longest BPF filter accepted, in bytes")
	fs.IntVar(&c.MaxTerms, "filter-max-terms", c.MaxTerms, "most terms (joined by and/or) in a BPF filter")
	fs.DurationVar(&c.Timeout, "filter-timeout", c.Timeout, "longest compilation of a BPF filter")
	fs.Int64Var(&c.MaxMemoryBytes, "filter-max-memory", c.MaxMemoryBytes, "most memory one BPF filter compilation may take, in bytes")
}

// FilterCompiler compiles BPF filters within the limits of its
// configuration. It is safe for concurrent use.
type FilterCompiler struct {
	cfg FilterConfiguration
	exe string // the executable re-executed when isolated
}

// NewFilterCompiler returns a compiler with cfg.
func NewFilterCompiler(cfg FilterConfiguration) (*FilterCompiler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid filter configuration: %w", err)
	}
	c := &FilterCompiler{cfg: cfg}
	if cfg.Isolate {
		// /proc/self/exe runs this very program even after its file
		// was replaced (an upgrade while it runs).
		c.exe = "/proc/self/exe"
		if _, err := os.Stat(c.exe); err != nil {
			exe, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("unable to find this program to compile filters in a child: %w", err)
			}
			c.exe = exe
		}
	}
	return c, nil
}

// Check compiles expr for a link type and snapshot length and returns the
// compilation's error, a *FilterError for anything the user can fix (libpcap's
// refusal, a filter too long or too complex).
func (c *FilterCompiler) Check(ctx context.Context, linkType layers.LinkType, snaplen int, expr string) error {
	_, err := c.Compile(ctx, linkType, snaplen, expr)
	return err
}

// Compile compiles expr for a link type and snapshot length (default
// DefaultSnaplen) into BPF instructions; nil for an empty expression.
func (c *FilterCompiler) Compile(ctx context.Context, linkType layers.LinkType, snaplen int, expr string) ([]pcap.BPFInstruction, error) {
	if expr == "" {
		return nil, nil
	}
	if snaplen <= 0 {
		snaplen = DefaultSnaplen
	}
	if err := c.checkSize(expr); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	if c.cfg.Isolate {
		return c.compileChild(ctx, linkType, snaplen, expr)
	}
	return c.compileHere(ctx, linkType, snaplen, expr)
}

// checkSize refuses an expression beyond MaxBytes or MaxTerms.
func (c *FilterCompiler) checkSize(expr string) error {
	if n := FilterTerms(expr); n > c.cfg.MaxTerms {
		return &FilterError{Expr: truncateExpr(expr), Msg: fmt.Sprintf("filter too complex: %d terms joined by and/or, at most %d "+
			"(libpcap's compile time grows as the cube of the terms; use a net or a portrange instead of many hosts or ports)",
			n, c.cfg.MaxTerms)}
	}
	if len(expr) > c.cfg.MaxBytes {
		return &FilterError{Expr: truncateExpr(expr), Msg: fmt.Sprintf("filter too long: %d bytes, at most %d", len(expr), c.cfg.MaxBytes)}
	}
	return nil
}

// truncateExpr shortens an expression quoted in an error.
func truncateExpr(expr string) string {
	if len(expr) <= 80 {
		return expr
	}
	return expr[:80] + "…"
}

// FilterTerms counts the terms of a BPF expression: one more than its
// "and", "or", "&&" and "||" operators. (libpcap's own grammar also joins
// "host a or b", which counts the same.)
func FilterTerms(expr string) int {
	n := 1 + strings.Count(expr, "&&") + strings.Count(expr, "||")
	for _, w := range strings.FieldsFunc(expr, func(r rune) bool { return !unicode.IsLetter(r) }) {
		if strings.EqualFold(w, "and") || strings.EqualFold(w, "or") {
			n++
		}
	}
	return n
}

// compileHere compiles in this process, under gopacket's lock, waiting at
// most until ctx ends.
func (c *FilterCompiler) compileHere(ctx context.Context, linkType layers.LinkType, snaplen int, expr string) ([]pcap.BPFInstruction, error) {
	type result struct {
		insns []pcap.BPFInstruction
		err   error
	}
	done := make(chan result, 1)
	go func() {
		insns, err := pcap.CompileBPFFilter(linkType, snaplen, expr)
		done <- result{insns, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, &FilterError{Expr: truncateExpr(expr), Msg: r.err.Error()}
		}
		return r.insns, nil
	case <-ctx.Done():
		return nil, c.timeoutError(ctx, expr)
	}
}

// timeoutError is the error of a compilation cut short by ctx.
func (c *FilterCompiler) timeoutError(ctx context.Context, expr string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &FilterError{Expr: truncateExpr(expr), Msg: fmt.Sprintf("filter too complex: compiling it takes more than %s", c.cfg.Timeout)}
	}
	return fmt.Errorf("filter %q not compiled: %w", truncateExpr(expr), ctx.Err())
}

// filterChildEnv, set in a child's environment, makes ServeFilterChild
// compile the filter the child reads on its standard input.
const filterChildEnv = "GIMS_BPF_COMPILE_CHILD"

// filterRequest is what a child reads on its standard input.
type filterRequest struct {
	LinkType  int    `json:"link_type"`
	Snaplen   int    `json:"snaplen"`
	Expr      string `json:"expr"`
	MaxMemory int64  `json:"max_memory"`
}

// filterReply is what a child writes on its standard output.
type filterReply struct {
	Insns [][4]uint32 `json:"insns,omitempty"`
	Error string      `json:"error,omitempty"`
}

// compileChild compiles in a child process killed when ctx ends.
func (c *FilterCompiler) compileChild(ctx context.Context, linkType layers.LinkType, snaplen int, expr string) ([]pcap.BPFInstruction, error) {
	if os.Getenv(filterChildEnv) != "" {
		return nil, errors.New("a filter child does not start children")
	}
	req, err := json.Marshal(filterRequest{LinkType: int(linkType), Snaplen: snaplen, Expr: expr, MaxMemory: c.cfg.MaxMemoryBytes})
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, c.exe)
	cmd.Env = append(os.Environ(), filterChildEnv+"=1")
	cmd.Stdin = bytes.NewReader(req)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &limitedBuffer{max: 4096, b: &stderr}
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return nil, c.timeoutError(ctx, expr)
	}
	var reply filterReply
	if jerr := json.Unmarshal(stdout.Bytes(), &reply); jerr != nil || runErr != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "out of memory") || strings.Contains(msg, "cannot allocate memory") {
			return nil, c.memoryError(expr)
		}
		if runErr == nil {
			runErr = jerr
		}
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("filter compiler child failed: %v: %s", runErr, msg)
	}
	if reply.Error != "" {
		if strings.Contains(reply.Error, "malloc") || strings.Contains(reply.Error, "out of memory") {
			return nil, c.memoryError(expr)
		}
		return nil, &FilterError{Expr: truncateExpr(expr), Msg: reply.Error}
	}
	insns := make([]pcap.BPFInstruction, len(reply.Insns))
	for i, in := range reply.Insns {
		insns[i] = pcap.BPFInstruction{Code: uint16(in[0]), Jt: uint8(in[1]), Jf: uint8(in[2]), K: in[3]}
	}
	return insns, nil
}

// memoryError is the error of a compilation beyond MaxMemoryBytes.
func (c *FilterCompiler) memoryError(expr string) error {
	return &FilterError{Expr: truncateExpr(expr), Msg: fmt.Sprintf("filter too complex: compiling it takes more than %d MiB",
		c.cfg.MaxMemoryBytes>>20)}
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	max int
	b   *bytes.Buffer
}

// Write implements io.Writer.
func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// ServeFilterChild returns at once, unless this process is a filter child
// started by an isolated FilterCompiler: then it compiles the filter read
// on standard input, writes the instructions or libpcap's error on
// standard output and exits. A program whose FilterCompiler isolates
// (the daemons) calls it first thing in main, before anything else runs.
func ServeFilterChild() {
	if os.Getenv(filterChildEnv) == "" {
		return
	}
	if err := serveFilterChild(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "filter child: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveFilterChild limits the process's memory, compiles one request and
// writes the reply.
func serveFilterChild(in io.Reader, out io.Writer) error {
	var req filterRequest
	if err := json.NewDecoder(io.LimitReader(in, 1<<20)).Decode(&req); err != nil {
		return fmt.Errorf("unable to read the request: %w", err)
	}
	if req.MaxMemory > 0 {
		// The limit counts from what the runtime already reserved.
		base, err := vmSize()
		if err != nil {
			return err
		}
		lim := uint64(base + req.MaxMemory)
		if err := unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: lim, Max: lim}); err != nil {
			return fmt.Errorf("unable to limit memory: %w", err)
		}
	}
	var reply filterReply
	insns, err := pcap.CompileBPFFilter(layers.LinkType(req.LinkType), req.Snaplen, req.Expr)
	if err != nil {
		reply.Error = err.Error()
	}
	for _, in := range insns {
		reply.Insns = append(reply.Insns, [4]uint32{uint32(in.Code), uint32(in.Jt), uint32(in.Jf), in.K})
	}
	return json.NewEncoder(out).Encode(reply)
}

// vmSize is this process's virtual memory size in bytes.
func vmSize() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmSize:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb); err != nil {
				return 0, fmt.Errorf("VmSize: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmSize in /proc/self/status")
}

// bpfReturn returns a filter that takes every packet cut to k bytes
// (BPF_RET | BPF_K): 0 takes none.
func bpfReturn(k uint32) []pcap.BPFInstruction {
	return []pcap.BPFInstruction{{Code: 0x06, K: k}}
}

// dropAll returns a filter that takes no packet: a live source has it
// while it reads the counters a new filter starts from.
func dropAll() []pcap.BPFInstruction { return bpfReturn(0) }

// filterSettle is how long a live source waits with dropAll attached
// before it reads those counters. The kernel counts a packet a moment
// after its filter took it (under the socket queue's lock, which the
// read takes too): a packet the old filter took as dropAll was attached
// is counted within microseconds, and read too early it would count as
// the new filter's. (make test saw it once on libpcap, lo flooded: one
// packet received that was never read, a flood packet the old filter took
// and libpcap then filtered out in user space.)
const filterSettle = time.Millisecond

// SetFilter applies compiled instructions to a live source (OpenLive) or
// a file opened through libpcap (OpenFileLibpcap); expr is only for
// errors. Packets that reached the source before are filtered too. The
// received and dropped counts of Stats start again at the filter (as they
// start at OpenLive's): a live source is opened without one, and what the
// kernel took or dropped before, on a busy link, was mostly traffic the
// filter refuses. The interface's own drops (IfDropped) still count from
// the opening. After an error on a live source, the kernel takes no new
// packet for it, but what it took before the call may still be read
// unfiltered: the caller closes the source (capture/job does).
func (s *Source) SetFilter(expr string, insns []pcap.BPFInstruction) error {
	if len(insns) == 0 {
		return nil
	}
	if s.gen != nil {
		return s.setGeneratedFilter(expr, insns)
	}
	if s.ring != nil {
		if err := s.ring.setFilter(insns); err != nil {
			return &FilterError{Expr: truncateExpr(expr), Msg: err.Error()}
		}
		return nil
	}
	if s.handle == nil {
		return errors.New("a filter needs a source read through libpcap")
	}
	if err := s.applyPcapFilter(func() error { return s.handle.SetBPFInstructionFilter(insns) }); err != nil {
		return &FilterError{Expr: truncateExpr(expr), Msg: err.Error()}
	}
	return nil
}

// OpenFileLibpcap opens a pcap or pcapng file through libpcap (never the
// fast reader), so that SetFilter can apply a compiled filter to it.
func OpenFileLibpcap(path string) (*Source, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("unable to open %s: %w", path, err)
	}
	handle, err := pcap.OpenOffline(path)
	if err != nil {
		return nil, fmt.Errorf("unable to read %s as pcap or pcapng: %w", path, err)
	}
	return &Source{handle: handle, linkType: handle.LinkType(), snaplen: handle.SnapLen(), size: info.Size()}, nil
}
