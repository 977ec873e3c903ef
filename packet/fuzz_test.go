package packet

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// fuzzLinkTypes are the link types every fuzz input is decoded as.
func fuzzLinkTypes() []layers.LinkType {
	return []layers.LinkType{
		layers.LinkTypeNull, layers.LinkTypeEthernet, LinkTypeRawDLT12, LinkTypeRawDLT14, LinkTypeLinuxSLL2,
		layers.LinkTypeRaw, layers.LinkTypeLoop, layers.LinkTypeLinuxSLL, layers.LinkTypeIPv4, layers.LinkTypeIPv6,
	}
}

const corpusDir = "testdata/fuzz/FuzzDecodeAnonymize"

// corpusName names a seed file after its content, so each packet has one.
func corpusName(data []byte) string {
	return fmt.Sprintf("%x", sha256.Sum256(data))[:16]
}

// FuzzDecodeAnonymize decodes arbitrary bytes as every link type: Decode
// and Anonymize must not panic, decoding the anonymized frame must find the
// same addresses and checksums, and anonymizing again with the involutive
// XOR mapping must restore the input byte for byte. The seed corpus holds
// every packet of the sample captures (testdata/fuzz) and, added here,
// their IP packets without link header, for the raw link types.
func FuzzDecodeAnonymize(f *testing.F) {
	for _, c := range samplePcaps(f) {
		for _, p := range c.packets {
			if ip := ipPacketOf(p.data, c.link); ip != nil {
				f.Add(ip)
			}
		}
	}
	for _, c := range decodeCases() {
		f.Add(c.data)
	}
	links := fuzzLinkTypes()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, lt := range links {
			d, err := NewDecoder(lt)
			if err != nil {
				t.Fatalf("NewDecoder(%d) error:\n%+v", lt, err)
			}
			frame := append([]byte(nil), data...)
			wire := len(frame)
			if len(frame)%3 == 0 {
				wire += 100 // exercise the truncation paths too
			}
			ci := gopacket.CaptureInfo{CaptureLength: len(frame), Length: wire}
			var s, again Summary
			d.Decode(frame, ci, &s)
			if err := d.lastErr; err != nil && strings.HasPrefix(err.Error(), "panic") {
				t.Fatalf("link %d: a layer decoder panicked: %v", lt, err)
			}
			if s.IPVersion != 0 && s.IPVersion != 4 && s.IPVersion != 6 {
				t.Fatalf("link %d: IPVersion %d", lt, s.IPVersion)
			}
			d.Anonymize(frame, &s, xorAnon{})
			d.Decode(frame, ci, &again)
			if again.rw != s.rw {
				t.Fatalf("link %d: the anonymized frame decodes to other rewrite sites:\n got %+v\nwant %+v", lt, again.rw, s.rw)
			}
			d.Anonymize(frame, &again, xorAnon{})
			if !bytes.Equal(frame, data) {
				t.Fatalf("link %d: anonymizing twice does not restore the frame:\n got %x\nwant %x", lt, frame, data)
			}
			// Anonymize must not panic on a frame shorter than decoded.
			d.Anonymize(frame[:len(frame)/2], &s, xorAnon{})
		}
	})
}

// ipPacketOf returns the IP packet in a frame as gopacket finds it, or nil.
func ipPacketOf(data []byte, link uint32) []byte {
	first := map[uint32]gopacket.LayerType{
		0: layers.LayerTypeLoopback, 1: layers.LayerTypeEthernet, 108: layers.LayerTypeLoopback, 113: layers.LayerTypeLinuxSLL,
	}[link]
	if first == gopacket.LayerTypeZero {
		return nil // raw link types: the frame already is the IP packet
	}
	p := gopacket.NewPacket(data, first, gopacket.DecodeOptions{NoCopy: true, Lazy: true})
	n := p.NetworkLayer()
	if n == nil || len(n.LayerContents()) == 0 {
		return nil
	}
	return data[cap(data)-cap(n.LayerContents()):]
}

// TestFuzzCorpus checks that the seed corpus holds every packet of the
// sample captures in Go's corpus file format. GIMS_UPDATE_CORPUS=1
// rewrites it.
func TestFuzzCorpus(t *testing.T) {
	update := os.Getenv("GIMS_UPDATE_CORPUS") == "1"
	if update {
		if err := os.MkdirAll(corpusDir, 0o755); err != nil {
			t.Fatalf("MkdirAll() error:\n%+v", err)
		}
	}
	n := 0
	for _, c := range samplePcaps(t) {
		for i, p := range c.packets {
			path := filepath.Join(corpusDir, corpusName(p.data))
			want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", p.data)
			if update {
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatalf("WriteFile() error:\n%+v", err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != want {
				t.Errorf("%s packet %d: no seed file %s (GIMS_UPDATE_CORPUS=1 go test -run TestFuzzCorpus writes it)", c.name, i+1, path)
				continue
			}
			n++
		}
	}
	if n == 0 {
		t.Error("no seed corpus checked")
	}
}
