package packet

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/gopacket/layers"
)

const sanitizeCorpusDir = "testdata/fuzz/FuzzSanitize"

// sanitizeFuzzers returns a Sanitizer for every link type and payload mode.
func sanitizeFuzzers(tb testing.TB) []*Sanitizer {
	var out []*Sanitizer
	for _, lt := range []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, LinkTypeLinuxSLL2,
		layers.LinkTypeNull, layers.LinkTypeRaw} {
		for _, p := range []PayloadMode{PayloadStrip, PayloadZero, PayloadKeep} {
			out = append(out, newTestSanitizer(tb, lt, p, MACKeyed))
		}
		out = append(out, newTestSanitizer(tb, lt, PayloadZero, MACZero))
	}
	return out
}

// sanitizeSeeds are the frames of the sample captures and the adversarial
// frames.
func sanitizeSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	for _, c := range samplePcaps(tb) {
		for _, p := range c.packets {
			seeds = append(seeds, p.data)
		}
	}
	for _, f := range adversarialFrames() {
		seeds = append(seeds, f.data)
	}
	return seeds
}

// FuzzSanitize sanitizes arbitrary bytes as every link type in every
// payload mode: Sanitize never panics, never reads or writes past the
// frame (it gets a slice with no spare capacity), keeps at most the frame,
// and every byte it keeps is vouched for: a header field it parsed and
// allows, or a byte it rewrote or zeroed, or a transport payload with
// PayloadKeep. The seed corpus (testdata/fuzz/FuzzSanitize) holds every
// frame of the sample captures and every adversarial frame.
func FuzzSanitize(f *testing.F) {
	sans := sanitizeFuzzers(f)
	ip, macs := testMappers(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for i, s := range sans {
			out, _ := sanitizeChecked(t, s, fmt.Sprintf("sanitizer %d", i), data)
			if i%4 != 0 {
				continue
			}
			// A fresh Sanitizer (empty memos) gives the same bytes.
			fresh, err := NewSanitizer(linkTypeOfSanitizer(s), SanitizerConfig{Payload: s.payload, MAC: s.mac, IP: ip, MACs: macs})
			if err != nil {
				t.Fatalf("NewSanitizer() error:\n%+v", err)
			}
			if again, _ := sanitizeChecked(t, fresh, "fresh", data); !bytes.Equal(out, again) {
				t.Fatalf("sanitizer %d: a fresh sanitizer gives other bytes:\n%x\n%x", i, out, again)
			}
		}
	})
}

// TestSanitizeFuzzCorpus checks that the seed corpus holds every seed.
// GIMS_UPDATE_CORPUS=1 writes it.
func TestSanitizeFuzzCorpus(t *testing.T) {
	update := os.Getenv("GIMS_UPDATE_CORPUS") == "1"
	if update {
		if err := os.MkdirAll(sanitizeCorpusDir, 0o755); err != nil {
			t.Fatalf("MkdirAll() error:\n%+v", err)
		}
	}
	for _, data := range sanitizeSeeds(t) {
		path := filepath.Join(sanitizeCorpusDir, corpusName(data))
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if update {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatalf("WriteFile() error:\n%+v", err)
			}
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != want {
			t.Errorf("no seed file %s (GIMS_UPDATE_CORPUS=1 go test -run TestSanitizeFuzzCorpus writes it)", path)
		}
	}
}

// linkTypeOfSanitizer is a link type s was made for.
func linkTypeOfSanitizer(s *Sanitizer) layers.LinkType {
	switch s.link {
	case fastEthernet:
		return layers.LinkTypeEthernet
	case fastSLL:
		return layers.LinkTypeLinuxSLL
	case fastSLL2:
		return LinkTypeLinuxSLL2
	case fastRawIP:
		return layers.LinkTypeRaw
	}
	return layers.LinkTypeNull
}
