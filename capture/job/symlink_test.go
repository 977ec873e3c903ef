package job

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPcapDirSymlinksRefused is issue 20 finding 8: the listing hides
// symbolic links in the pcap directory, and StartJob refuses them too
// (it used to follow them), with anything else than a regular file.
func TestPcapDirSymlinksRefused(t *testing.T) {
	data, err := os.ReadFile("testdata/pcaps/tcpreplay__test.pcap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pcaps := filepath.Join(dir, "pcaps")
	outside := filepath.Join(dir, "elsewhere")
	for _, d := range []string{pcaps, outside, filepath.Join(pcaps, "folder.pcap")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Join(pcaps, "real.pcap"), filepath.Join(outside, "private.pcap")} {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"outside.pcap":  filepath.Join(outside, "private.pcap"),
		"relative.pcap": "../elsewhere/private.pcap",
		"inside.pcap":   "real.pcap",
	} {
		if err := os.Symlink(target, filepath.Join(pcaps, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(pcaps, "fifo.pcap"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, "", func(c *Configuration) { c.PcapDir = pcaps })
	ifs, err := m.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, i := range ifs {
		if strings.HasPrefix(i.Name, "file:") {
			files = append(files, i.Name)
		}
	}
	if strings.Join(files, " ") != "file:real.pcap" {
		t.Errorf("file interfaces listed: %v, want only file:real.pcap", files)
	}
	for _, name := range []string{"outside.pcap", "relative.pcap", "inside.pcap", "fifo.pcap", "folder.pcap"} {
		for _, filter := range []string{"", "tcp"} { // the fast reader and libpcap
			_, err := m.StartJob(Spec{Interface: "file:" + name, Filter: filter, Counters: &CountersSpec{}})
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("StartJob(file:%s, filter %q) = %v, want ErrInvalid: not a regular file", name, filter, err)
			}
		}
	}
	for _, name := range []string{"missing.pcap", "../elsewhere/private.pcap", "."} {
		if _, err := m.StartJob(Spec{Interface: "file:" + name}); !errors.Is(err, ErrInvalid) {
			t.Errorf("StartJob(file:%s) = %v, want ErrInvalid", name, err)
		}
	}
	// A regular file still works, through both readers.
	for _, filter := range []string{"", "tcp"} {
		id, err := m.StartJob(Spec{Interface: "file:real.pcap", Filter: filter, Counters: &CountersSpec{}})
		if err != nil {
			t.Fatalf("StartJob(file:real.pcap, filter %q): %v", filter, err)
		}
		if st := waitDone(t, m, id, 10*time.Second); st.Packets == 0 || len(st.Errors) != 0 {
			t.Errorf("file:real.pcap with filter %q: %d packets, errors %q", filter, st.Packets, st.Errors)
		}
	}
}
