package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
)

func TestOpenFile(t *testing.T) {
	cases := []struct {
		name, file, filter string
		packets            int
		linkType           layers.LinkType
	}{
		{"pcap", "zeek__http-get.pcap", "", 14, layers.LinkTypeEthernet},
		{"pcap filtered", "zeek__http-get.pcap", "tcp[tcpflags] & tcp-syn != 0", 2, layers.LinkTypeEthernet},
		{"pcapng", "tcpdump__of13_ericsson.pcapng", "", 174, layers.LinkTypeEthernet},
		{"sll2", "zeek__linux_dlt_sll2.pcap", "", 6, layers.LinkType(20)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenFile(filepath.Join("testdata", tc.file), tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.LinkType() != tc.linkType {
				t.Errorf("link type %v, want %v", s.LinkType(), tc.linkType)
			}
			n := 0
			for {
				_, _, err := s.ZeroCopyReadPacketData()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if n != tc.packets {
				t.Errorf("read %d packets, want %d", n, tc.packets)
			}
			if p := s.Progress(); p != 100 {
				t.Errorf("progress at end %.1f, want 100", p)
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	_, err := OpenFile(filepath.Join("testdata", "zeek__http-get.pcap"), "tcp port")
	var ferr *FilterError
	if !errors.As(err, &ferr) || !strings.Contains(err.Error(), `bad filter "tcp port"`) || ferr.Msg == "" {
		t.Errorf("OpenFile with a bad filter: %v", err)
	}
	if err := CompileFilter(layers.LinkTypeEthernet, 0, "udp and port 53"); err != nil {
		t.Errorf("good filter refused: %v", err)
	}
	if err := CompileFilter(layers.LinkTypeEthernet, 0, "udp and port 99999"); !errors.As(err, &ferr) || !strings.Contains(ferr.Msg, "99999") {
		t.Errorf("bad port accepted or message lost: %v", err)
	}
	if _, err := OpenFile(filepath.Join("testdata", "absent.pcap"), ""); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestPcapWriterLinkType checks that files we write keep SLL2's link type
// (276), which gopacket cannot hold, and that tcpdump reads them.
func TestPcapWriterLinkType(t *testing.T) {
	src, err := OpenFile(filepath.Join("testdata", "zeek__linux_dlt_sll2.pcap"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var buf bytes.Buffer
	w, err := NewPcapWriter(&buf, src.Snaplen(), src.LinkType())
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := src.ZeroCopyReadPacketData()
		if err != nil {
			break
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "out.pcap")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("tcpdump"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tcpdump is required in CI (make test installs it)")
		}
		t.Skip("tcpdump not installed; make test installs it")
	}
	got, err := exec.Command("tcpdump", "-n", "-r", out).CombinedOutput()
	if err != nil || !strings.Contains(string(got), "LINUX_SLL2") {
		t.Errorf("tcpdump: %v\n%s", err, got)
	}
	if lines := strings.Count(string(got), "\n"); lines < 6 {
		t.Errorf("tcpdump printed %d lines, want the 6 packets:\n%s", lines, got)
	}
}

func TestOpenLiveInvalidConfiguration(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*LiveConfiguration)
		want string
	}{
		{"no interface", func(c *LiveConfiguration) { c.Interface = "" },
			"invalid live capture configuration: Interface must be set"},
		{"zero snaplen", func(c *LiveConfiguration) { c.Snaplen = 0 },
			"invalid live capture configuration: Snaplen must be between 1 and 262144, got 0"},
		{"huge snaplen", func(c *LiveConfiguration) { c.Snaplen = 1 << 20 },
			"invalid live capture configuration: Snaplen must be between 1 and 262144, got 1048576"},
		{"zero read timeout", func(c *LiveConfiguration) { c.ReadTimeout = 0 },
			"invalid live capture configuration: ReadTimeout must be positive, got 0s"},
		{"negative buffer", func(c *LiveConfiguration) { c.BufferSize = -1 },
			"invalid live capture configuration: BufferSize must be positive, got -1"},
		{"unknown engine", func(c *LiveConfiguration) { c.Engine.Engine = "pfring" },
			`invalid live capture configuration: Engine.Engine must be "afpacket" or "pcap", got "pfring"`},
		{"small ring blocks", func(c *LiveConfiguration) { c.Engine.RingBlockSize = 4096 },
			"invalid live capture configuration: Engine.RingBlockSize must be between 65536 and 67108864, got 4096"},
		{"ring blocks not in pages", func(c *LiveConfiguration) { c.Engine.RingBlockSize = 100000 },
			"invalid live capture configuration: Engine.RingBlockSize must be a multiple of 4096, got 100000"},
		{"one ring block", func(c *LiveConfiguration) { c.Engine.RingBlocks = 1 },
			"invalid live capture configuration: Engine.RingBlocks must be between 2 and 65536, got 1"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			cfg := DefaultLiveConfiguration()
			cfg.Interface = "lo"
			tc.mod(&cfg)
			src, err := OpenLive(cfg)
			if err == nil {
				src.Close()
			}
			if err == nil || err.Error() != tc.want {
				t.Errorf("OpenLive() error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}
