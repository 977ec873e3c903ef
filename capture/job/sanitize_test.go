package job

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestSanitizedDrops replays a raw-IP capture whose frames are not all IP
// in an anonymized job with a pcap: the frames of which nothing safe is
// left are not in packets.pcap, and are counted in the job's status and
// in gims_capd_drops_total{kind="sanitized"}; the job keeps the modes it
// was given.
func TestSanitizedDrops(t *testing.T) {
	pcaps := t.TempDir()
	f, err := os.Create(filepath.Join(pcaps, "raw.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		t.Fatal(err)
	}
	ip := make([]byte, 28)
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], 28)
	copy(ip[12:], []byte{10, 20, 30, 40, 192, 168, 1, 10})
	copy(ip[20:], []byte{0x30, 0x39, 0, 53, 0, 8, 0, 0})
	garbage := []byte("secret-host.example.com")
	for i, p := range [][]byte{garbage, ip, garbage, ip} {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1e9+int64(i), 0), CaptureLength: len(p), Length: len(p)}
		if err := w.WritePacket(ci, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := DefaultConfiguration()
	cfg.DataDir, cfg.PcapDir = t.TempDir(), pcaps
	m, err := New(cfg, Dependencies{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Error(err)
		}
	})
	id, err := m.StartJob(Spec{Interface: "file:raw.pcap", Pcap: true, Key: make([]byte, 32), Payload: "zero"})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	st := waitDone(t, m, id, 10*time.Second)
	if st.Packets != 4 || st.SanitizedDrops != 2 {
		t.Errorf("status: %d packets, %d sanitized drops; want 4 and 2", st.Packets, st.SanitizedDrops)
	}
	path, err := m.FilePath(id, pcapFile)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	r, err := pcapgo.NewReader(pf)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if _, _, err := r.ReadPacketData(); err != nil {
			break
		}
		n++
	}
	if n != 2 {
		t.Errorf("packets.pcap holds %d packets, want the 2 safe ones", n)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`# HELP gims_capd_drops_total Packets dropped by kind (kernel: libpcap's ps_drop, interface: ps_ifdrop, before the daemon's jobs saw them; sanitized: left out of packets.pcap, nothing safe was left of them).
# TYPE gims_capd_drops_total counter
gims_capd_drops_total{kind="interface"} 0
gims_capd_drops_total{kind="kernel"} 0
gims_capd_drops_total{kind="sanitized"} 2
`), "gims_capd_drops_total"); err != nil {
		t.Error(err)
	}
	raw, err := os.ReadFile(filepath.Join(cfg.DataDir, "jobs", id, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"payload": "zero"`) || !strings.Contains(string(raw), `"mac": "keyed"`) {
		t.Errorf("job.json does not keep the modes (zero, and keyed by default):\n%s", raw)
	}
}
