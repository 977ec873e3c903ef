//go:build linux

package capture

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"
)

// readLive reads packets until a read times out: every packet the test
// sent before has been handed over by then (the kernel hands a block over
// at most ReadTimeout after its first packet, and the poll waits that
// long).
func readLive(t *testing.T, src *Source) (pkts [][]byte, lens []int) {
	t.Helper()
	for {
		data, ci, err := src.ZeroCopyReadPacketData()
		if errors.Is(err, ErrTimeout) {
			return pkts, lens
		}
		if err != nil {
			t.Fatal(err)
		}
		if ci.CaptureLength != len(data) {
			t.Fatalf("CaptureLength %d for %d bytes", ci.CaptureLength, len(data))
		}
		pkts = append(pkts, bytes.Clone(data))
		lens = append(lens, ci.Length)
	}
}

// TestRingLoopback: on lo, the afpacket engine hands over exactly the
// packets sent that the filter keeps (each once, though lo shows every
// packet twice to packet sockets), cut to the snapshot length, with the
// kernel's counters.
func TestRingLoopback(t *testing.T) {
	needRoot(t)
	a, b := newUDPTarget(t), newUDPTarget(t)
	for _, snap := range []int{DefaultSnaplen, 60} {
		t.Run(fmt.Sprintf("snaplen=%d", snap), func(t *testing.T) {
			cfg := DefaultLiveConfiguration()
			cfg.Interface, cfg.Snaplen, cfg.Filter = "lo", snap, fmt.Sprintf("udp and dst port %d", a.port)
			src := openEngine(t, cfg, EngineAFPacket)
			if src.LinkType() != layers.LinkTypeEthernet || src.Snaplen() != snap {
				t.Errorf("link type %v, snaplen %d; want Ethernet, %d", src.LinkType(), src.Snaplen(), snap)
			}
			a.send(t, 500, 100)
			b.send(t, 300, 100) // refused by the filter in the kernel
			pkts, lens := readLive(t, src)
			if len(pkts) != 500 {
				t.Fatalf("read %d packets, want the 500 sent to port %d", len(pkts), a.port)
			}
			wire := 14 + 20 + 8 + 100
			for i, p := range pkts {
				if len(p) != min(snap, wire) || lens[i] != wire {
					t.Fatalf("packet %d: %d bytes of %d, want %d of %d", i, len(p), lens[i], min(snap, wire), wire)
				}
				if p[12] != 0x08 || p[13] != 0x00 || p[14+9] != 17 || int(p[36])<<8|int(p[37]) != a.port {
					t.Fatalf("packet %d is not UDP to port %d: % x", i, a.port, p[:38])
				}
			}
			st, err := src.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if st.Received != 500 || st.Dropped != 0 {
				t.Errorf("Stats() = %+v, want 500 received (the filter's), 0 dropped", st)
			}
		})
	}
}

// TestRingSetFilter: a filter set on an open capture applies to the
// packets that reached the ring before it, too (filtered in user space),
// and the source's snapshot length holds whatever the filter's.
func TestRingSetFilter(t *testing.T) {
	needRoot(t)
	a, b := newUDPTarget(t), newUDPTarget(t)
	cfg := DefaultLiveConfiguration()
	cfg.Interface, cfg.Snaplen = "lo", 40
	src := openEngine(t, cfg, EngineAFPacket)
	a.send(t, 40, 10) // in the ring before the filter
	b.send(t, 40, 10)
	insns, err := mustCompiler(t).Compile(t.Context(), src.LinkType(), 64, fmt.Sprintf("udp and dst port %d", b.port))
	if err != nil {
		t.Fatal(err)
	}
	if err := src.SetFilter("udp port b", insns); err != nil {
		t.Fatal(err)
	}
	b.send(t, 10, 10)
	a.send(t, 10, 10)
	pkts, _ := readLive(t, src)
	if len(pkts) != 50 {
		t.Fatalf("read %d packets, want the 50 sent to port %d", len(pkts), b.port)
	}
	for i, p := range pkts {
		// The source's snapshot length, below the filter's.
		if int(p[36])<<8|int(p[37]) != b.port || len(p) != 40 {
			t.Fatalf("packet %d (%d bytes) is not to port %d: % x", i, len(p), b.port, p)
		}
	}
}

// TestSetFilterRestartsCounts: a live source's received and dropped
// counts start at the filter. The traffic that filled the buffer before
// it (a job's filter is compiled after the capture is open) and that
// still comes while it is set is not the filtered capture's drops, while
// the packets of the filter are all read and counted; with both engines.
func TestSetFilterRestartsCounts(t *testing.T) {
	needRoot(t)
	for _, engine := range []Engine{EngineAFPacket, EnginePcap} {
		t.Run(string(engine), func(t *testing.T) {
			a, b := newUDPTarget(t), newUDPTarget(t)
			cfg := DefaultLiveConfiguration()
			cfg.Interface, cfg.Engine.Engine = "lo", engine
			cfg.Engine.RingBlockSize, cfg.Engine.RingBlocks, cfg.BufferSize = 64<<10, 2, 128<<10
			src := openEngine(t, cfg, engine)
			a.send(t, 3000, 1000) // 25 times the buffer, nothing read
			insns, err := mustCompiler(t).Compile(t.Context(), src.LinkType(), src.Snaplen(), fmt.Sprintf("udp and dst port %d", b.port))
			if err != nil {
				t.Fatal(err)
			}
			// a's traffic goes on while the filter is set: the buffer is
			// still full, and what the kernel drops of it before the
			// filter is in place must not count.
			defer a.flood()()
			time.Sleep(10 * time.Millisecond)
			if err := src.SetFilter("udp port b", insns); err != nil {
				t.Fatal(err)
			}
			checkCountsFromFilter(t, src, engine, b)
		})
	}
}

// TestOpenLiveCountsFromFilter: opened with a filter on a busy link, a
// live source counts only what its filter takes (libpcap sets the filter
// after activating the capture; the ring before binding it).
func TestOpenLiveCountsFromFilter(t *testing.T) {
	needRoot(t)
	for _, engine := range []Engine{EngineAFPacket, EnginePcap} {
		t.Run(string(engine), func(t *testing.T) {
			a, b := newUDPTarget(t), newUDPTarget(t)
			defer a.flood()()
			time.Sleep(10 * time.Millisecond)
			cfg := DefaultLiveConfiguration()
			cfg.Interface, cfg.Engine.Engine, cfg.Filter = "lo", engine, fmt.Sprintf("udp and dst port %d", b.port)
			cfg.Engine.RingBlockSize, cfg.Engine.RingBlocks, cfg.BufferSize = 64<<10, 2, 128<<10
			checkCountsFromFilter(t, openEngine(t, cfg, engine), engine, b)
		})
	}
}

// checkCountsFromFilter checks a live source on lo whose filter takes only
// what is sent to b, while other traffic floods lo: nothing is read until
// b gets 100 datagrams, then those, and Stats counts them and no drop.
func checkCountsFromFilter(t *testing.T, src *Source, engine Engine, b *udpTarget) {
	t.Helper()
	if pkts, _ := readLive(t, src); len(pkts) != 0 {
		t.Fatalf("read %d packets before b's, want none (the filter refuses the others)", len(pkts))
	}
	b.send(t, 100, 100)
	if pkts, _ := readLive(t, src); len(pkts) != 100 {
		t.Fatalf("read %d packets, want the 100 sent to port %d", len(pkts), b.port)
	}
	st, err := src.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// libpcap counts both copies lo shows of each packet (and drops the
	// outgoing one itself).
	want := uint64(100)
	if engine == EnginePcap {
		want = 200
	}
	if st.Dropped != 0 || st.Received != want {
		t.Errorf("Stats() = %+v, want %d received and 0 dropped since the filter", st, want)
	}
}

// TestRingDrops: a ring too small for a burst drops, and the kernel's
// counters say exactly how many: what was read plus what was dropped is
// what was sent.
func TestRingDrops(t *testing.T) {
	needRoot(t)
	a := newUDPTarget(t)
	cfg := DefaultLiveConfiguration()
	cfg.Interface, cfg.Filter = "lo", fmt.Sprintf("udp and dst port %d", a.port)
	cfg.Engine.RingBlockSize, cfg.Engine.RingBlocks = 64<<10, 2
	src := openEngine(t, cfg, EngineAFPacket)
	const sent = 3000 // 3000 × ~1100 bytes: 25 times the ring
	a.send(t, sent, 1000)
	pkts, _ := readLive(t, src)
	st, err := src.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Dropped == 0 || uint64(len(pkts))+st.Dropped != sent || st.Received != sent {
		t.Errorf("read %d, Stats() = %+v; want drops, read + dropped = received = %d", len(pkts), st, sent)
	}
}

// TestRingFallback: what afpacket cannot open is opened with libpcap,
// and the source says why; with EnginePcap libpcap is used at once.
func TestRingFallback(t *testing.T) {
	needRoot(t)
	cfg := DefaultLiveConfiguration()
	cfg.Interface = "any"
	src := openEngine(t, cfg, EnginePcap)
	if src.Fallback() == nil || !strings.Contains(src.Fallback().Error(), `"any"`) {
		t.Errorf("Fallback() = %v, want the reason (the any device)", src.Fallback())
	}
	if src.LinkType() != layers.LinkTypeLinuxSLL {
		t.Errorf("link type %v, want libpcap's Linux SLL", src.LinkType())
	}
	cfg.Interface, cfg.Engine.Engine = "lo", EnginePcap
	src = openEngine(t, cfg, EnginePcap)
	if src.Fallback() != nil {
		t.Errorf("Fallback() = %v with EnginePcap, want nil", src.Fallback())
	}
	cfg.Interface, cfg.Engine.Engine = "nosuchif0", EngineAFPacket
	if _, err := OpenLive(cfg); err == nil {
		t.Error("OpenLive(nosuchif0) opened")
	}
}

// TestRingClose: Close from another goroutine ends a read that waits,
// which returns io.EOF, and so do the reads after; Stats says closed.
func TestRingClose(t *testing.T) {
	needRoot(t)
	cfg := DefaultLiveConfiguration()
	cfg.Interface, cfg.Filter = "lo", "udp and dst port 9" // nothing sends there
	src, err := OpenLive(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for {
			_, _, err := src.ZeroCopyReadPacketData()
			if !errors.Is(err, ErrTimeout) {
				done <- err
				return
			}
		}
	}()
	// The daemon's metrics may read the counters from another
	// goroutine, while the capture closes.
	statsDone := make(chan error, 1)
	go func() {
		for {
			if _, err := src.Stats(); err != nil {
				statsDone <- err
				return
			}
		}
	}()
	src.Close()
	if err := <-done; err == nil || err.Error() != "EOF" {
		t.Errorf("read after Close: %v, want io.EOF", err)
	}
	if err := <-statsDone; !strings.Contains(err.Error(), "capture closed") {
		t.Errorf("Stats after Close: %v, want capture closed", err)
	}
	src.Close() // twice is harmless
}

// inNetns runs f on an OS thread switched into network namespace ns (the
// thread is never switched back: it ends with its goroutine).
func inNetns(t *testing.T, ns string, f func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			done <- err
			return
		}
		defer fd.Close()
		if err := unix.Setns(int(fd.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		f()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// addNetns creates a network namespace, removed at the end of the test.
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
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestRingVeth: on a veth pair between two namespaces the test makes,
// with VLAN-tagged and untagged traffic, the afpacket engine and libpcap
// capture the same frames byte for byte (the tag the kernel takes out is
// put back), a non-Ethernet interface (tun) falls back to libpcap, and a
// capture whose interface goes down ends with an error saying so.
func TestRingVeth(t *testing.T) {
	needRoot(t)
	suffix := strconv.Itoa(os.Getpid() % 100000)
	nsA, nsB := "gimsring"+suffix+"a", "gimsring"+suffix+"b"
	addNetns(t, nsA)
	addNetns(t, nsB)
	mustRun(t, "ip", "-n", nsA, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", nsB)
	for _, c := range [][]string{
		{"-n", nsB, "link", "set", "vb", "address", "02:00:00:00:00:02"},
		{"-n", nsA, "addr", "add", "10.81.0.1/24", "dev", "va"},
		{"-n", nsB, "addr", "add", "10.81.0.2/24", "dev", "vb"},
		{"-n", nsA, "link", "set", "va", "up"}, {"-n", nsB, "link", "set", "vb", "up"},
		{"-n", nsA, "neigh", "add", "10.81.0.2", "lladdr", "02:00:00:00:00:02", "dev", "va"},
		{"-n", nsB, "tuntap", "add", "dev", "tun0", "mode", "tun"},
		{"-n", nsB, "link", "set", "tun0", "up"},
	} {
		mustRun(t, "ip", c...)
	}
	var ring, lib, tun *Source
	inNetns(t, nsB, func() {
		cfg := DefaultLiveConfiguration()
		cfg.Interface, cfg.Filter = "vb", "udp"
		var err error
		if ring, err = OpenLive(cfg); err != nil {
			t.Error(err)
			return
		}
		cfg.Engine.Engine = EnginePcap
		if lib, err = OpenLive(cfg); err != nil {
			t.Error(err)
			return
		}
		cfg.Interface, cfg.Filter, cfg.Engine.Engine = "tun0", "", EngineAFPacket
		if tun, err = OpenLive(cfg); err != nil {
			t.Error(err)
		}
	})
	for _, s := range []*Source{ring, lib, tun} {
		if s == nil {
			t.FailNow()
		}
		t.Cleanup(s.Close)
	}
	if ring.Engine() != EngineAFPacket || lib.Engine() != EnginePcap {
		t.Fatalf("engines %q and %q (fallback %v), want afpacket and pcap", ring.Engine(), lib.Engine(), ring.Fallback())
	}
	if tun.Engine() != EnginePcap || tun.Fallback() == nil || !strings.Contains(tun.Fallback().Error(), "not Ethernet") {
		t.Errorf("tun0: engine %q, fallback %v; want pcap because it is not Ethernet", tun.Engine(), tun.Fallback())
	}
	inNetns(t, nsA, func() {
		// Unconnected: the port unreachable answers do not fail writes.
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 81, 0, 1)})
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		for i := range 200 {
			if _, err := c.WriteToUDP(bytes.Repeat([]byte{byte(i)}, 20+i), &net.UDPAddr{IP: net.IPv4(10, 81, 0, 2), Port: 5000}); err != nil {
				t.Error(err)
			}
		}
		// VLAN-tagged frames (802.1Q and 802.1ad): the receiving
		// kernel takes the outer tag out of the frame into metadata
		// before packet sockets see it.
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(fd)
		ifi, err := net.InterfaceByName("va")
		if err != nil {
			t.Error(err)
			return
		}
		to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6, Addr: [8]byte{2, 0, 0, 0, 0, 2}}
		for i := range 200 {
			tpid := layers.EthernetTypeDot1Q
			if i%2 == 1 {
				tpid = layers.EthernetTypeQinQ
			}
			if err := unix.Sendto(fd, vlanFrame(tpid, uint16(i%8)<<13|7, 20+i), 0, to); err != nil {
				t.Error(err)
				return
			}
		}
	})
	got, gotLens := readLive(t, ring)
	want, wantLens := readLive(t, lib)
	if len(got) != 400 || len(want) != 400 {
		t.Fatalf("afpacket read %d packets, libpcap %d; want the 400 sent", len(got), len(want))
	}
	tagged := 0
	for i := range got {
		if !bytes.Equal(got[i], want[i]) || gotLens[i] != wantLens[i] {
			t.Fatalf("packet %d differs:\nafpacket % x (%d)\nlibpcap  % x (%d)", i, got[i], gotLens[i], want[i], wantLens[i])
		}
		if (got[i][12] == 0x81 || got[i][12] == 0x88) && got[i][15] == 7 {
			tagged++
		}
	}
	if tagged != 200 {
		t.Errorf("%d packets carry VLAN 7, want 200", tagged)
	}
	for _, s := range []*Source{ring, lib} {
		if st, err := s.Stats(); err != nil || st.Received != 400 || st.Dropped != 0 {
			t.Errorf("%s: Stats() = %+v, %v; want 400 received, none dropped", s.Engine(), st, err)
		}
	}
	// The interface goes down: the capture ends with an error saying so.
	mustRun(t, "ip", "-n", nsB, "link", "set", "vb", "down")
	for timeouts := 0; ; timeouts++ {
		_, _, err := ring.ZeroCopyReadPacketData()
		if errors.Is(err, ErrTimeout) && timeouts < 50 {
			continue
		}
		if err == nil || !strings.Contains(err.Error(), `interface "vb": network is down`) {
			t.Errorf("read after the interface went down: %v, want network is down", err)
		}
		break
	}
}

// vlanFrame is a UDP datagram of size bytes of payload to 10.81.0.2 in a
// frame with one VLAN tag.
func vlanFrame(tpid layers.EthernetType, tci uint16, size int) []byte {
	f := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, byte(tpid >> 8), byte(tpid), byte(tci >> 8), byte(tci), 0x08, 0x00}
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 81, 0, 1, 10, 81, 0, 2}
	total := 20 + 8 + size
	ip[2], ip[3] = byte(total>>8), byte(total)
	udp := []byte{0x13, 0x88, 0x13, 0x8f, byte((8 + size) >> 8), byte(8 + size), 0, 0}
	f = append(append(append(f, ip...), udp...), bytes.Repeat([]byte{0x5a}, size)...)
	return f
}

// Pause, resume and stop are the meter's and the job's (capture/job's
// live tests run on the default engine, afpacket).

// BenchmarkLiveRead measures a read from a live source on lo, with each
// engine: packets are sent ahead in bursts that fit the buffers, and the
// clock stops until the kernel has handed them over (a partly filled
// block is handed over ReadTimeout after its first packet), so what is
// measured is the read itself.
func BenchmarkLiveRead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("live capture needs root")
	}
	for _, engine := range []Engine{EngineAFPacket, EnginePcap} {
		b.Run(string(engine), func(b *testing.B) {
			in, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer in.Close()
			out, err := net.DialUDP("udp4", nil, in.LocalAddr().(*net.UDPAddr))
			if err != nil {
				b.Fatal(err)
			}
			defer out.Close()
			cfg := DefaultLiveConfiguration()
			cfg.Interface, cfg.Filter = "lo", fmt.Sprintf("udp and dst port %d", in.LocalAddr().(*net.UDPAddr).Port)
			cfg.ReadTimeout, cfg.Engine.Engine = 2*time.Millisecond, engine
			src, err := OpenLive(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			payload := make([]byte, 100)
			const burst = 10000
			fill := func() {
				b.StopTimer()
				for range burst {
					out.Write(payload)
				}
				time.Sleep(10 * cfg.ReadTimeout)
				b.StartTimer()
			}
			// A burst read whole, the next is sent. A read that times
			// out (packets the kernel dropped before the capture, on a
			// loaded machine) also sends the next, and its wait is
			// counted: "timeouts" says how often.
			avail, timeouts := 0, 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; {
				if avail == 0 {
					fill()
					avail = burst
				}
				_, _, err := src.ZeroCopyReadPacketData()
				switch {
				case err == nil:
					i++
					avail--
				case errors.Is(err, ErrTimeout):
					timeouts++
					avail = 0
				default:
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(timeouts), "timeouts")
		})
	}
}
