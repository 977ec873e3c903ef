package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOfflineReadAheadSameOutputs runs every trace of the offline suite
// (bench/suite.sh: each gims-tracegen shape, at a fortieth of its size, and
// the sample captures concatenated) through gims-capd -r with the file
// read ahead on another goroutine (-read-ahead) and without (the
// default), read with read(2) (the default) and through a mapping
// (-mmap), with a key, counters, IPFIX and the sanitized packets written,
// and without a key: the pcap and counters files are the same bytes in
// all four ways, and the IPFIX files too but for the messages' export
// times.
func TestOfflineReadAheadSameOutputs(t *testing.T) {
	dir := t.TempDir()
	tracegen := filepath.Join(dir, "gims-tracegen")
	build := exec.Command("go", "build", "-o", tracegen, "../gims-tracegen")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building gims-tracegen: %v\n%s", err, out)
	}
	shapes := map[string][2]int{ // packets and flows of each shape, divided by 40
		"mix": {1_000_000, 120_000}, "clustered": {400_000, 20_000}, "ports": {400_000, 40_000},
		"ipv6": {400_000, 48_000}, "icmp": {400_000, 60_000}, "tiny": {1_000_000, 120_000},
	}
	traces := map[string][]string{}
	for name, size := range shapes {
		traces[name] = []string{"-shape", name, "-packets", strconv.Itoa(size[0] / 40), "-flows", strconv.Itoa(size[1] / 40), "-duration", "20s"}
	}
	traces["samples"] = append([]string{"-concat", "-repeat", "20"}, samples(t)...)
	for name, args := range traces {
		t.Run(name, func(t *testing.T) {
			in := filepath.Join(dir, name+".pcap")
			if out, err := exec.Command(tracegen, append([]string{"-o", in}, args...)...).CombinedOutput(); err != nil {
				t.Fatalf("gims-tracegen %q: %v\n%s", args, err, out)
			}
			for _, key := range []bool{true, false} {
				outputs := map[[2]bool][3][]byte{}
				for _, way := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
					readAhead, mmap := way[0], way[1]
					out := filepath.Join(dir, name+strconv.FormatBool(key)+strconv.FormatBool(readAhead)+strconv.FormatBool(mmap))
					args := []string{"-r", in, "-read-ahead=" + strconv.FormatBool(readAhead), "-mmap=" + strconv.FormatBool(mmap),
						"-w", out + ".pcap", "-ipfix", out + ".ipfix", "-counters", out + ".csv"}
					if key {
						args = append(args, "-anonymize-key", strings.Repeat("5a", 32))
					}
					if code, stderr := runCapd(t, nil, args...); code != 0 {
						t.Fatalf("gims-capd %q: exit %d\n%s", args, code, stderr)
					}
					var files [3][]byte
					for i, ext := range []string{".pcap", ".ipfix", ".csv"} {
						b, err := os.ReadFile(out + ext)
						if err != nil {
							t.Fatal(err)
						}
						files[i] = b
					}
					files[1] = withoutExportTimes(t, files[1])
					outputs[way] = files
				}
				plain := outputs[[2]bool{}]
				for i, what := range []string{"pcap", "IPFIX", "counters"} {
					if len(plain[i]) < 100 {
						t.Errorf("key %v: the %s output is nearly empty (%d bytes)", key, what, len(plain[i]))
					}
					for way, files := range outputs {
						if !bytes.Equal(files[i], plain[i]) {
							t.Errorf("key %v: the %s output differs with read-ahead %v, mmap %v (%d bytes) and without either (%d bytes)",
								key, what, way[0], way[1], len(files[i]), len(plain[i]))
						}
					}
				}
			}
		})
	}
}

// withoutExportTimes returns an IPFIX file's bytes with each message's
// export time (bytes 4–7 of its header) zeroed.
func withoutExportTimes(t *testing.T, b []byte) []byte {
	t.Helper()
	b = bytes.Clone(b)
	for off := 0; off < len(b); {
		if len(b)-off < 16 || binary.BigEndian.Uint16(b[off:]) != 10 {
			t.Fatalf("IPFIX message at %d: bad header", off)
		}
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n < 16 || off+n > len(b) {
			t.Fatalf("IPFIX message at %d: length %d", off, n)
		}
		clear(b[off+4 : off+8])
		off += n
	}
	return b
}
