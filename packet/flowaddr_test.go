package packet

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/gopacket/layers"
)

// TestAnonymizePair checks that AnonymizePair maps a flow key's two
// addresses in place as Anonymize4 and Anonymize16 map each (KeepReserved
// of the cipher, reserved addresses included), through a Sanitizer and
// through MemoAnonymizer, on first sightings and memo hits, and that an
// IPv4 pair leaves the arrays' other 12 bytes alone; and AnonymizePairs
// maps a batch as AnonymizePair maps each pair.
func TestAnonymizePair(t *testing.T) {
	c, _ := testMappers(t)
	want := KeepReserved(c)
	s, err := NewSanitizer(layers.LinkTypeEthernet, SanitizerConfig{IP: want, MAC: MACZero})
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]PairAnonymizer{"Sanitizer": s, "MemoAnonymizer": MemoAnonymizer(c)} {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			var addrs [][16]byte
			addrs = append(addrs, [16]byte{}, [16]byte{0xff, 0xff, 0xff, 0xff}, [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1})
			for range 30000 {
				var a [16]byte
				binary.BigEndian.PutUint64(a[:8], 0x0a01_0000_0000_0000|rng.Uint64()&0x00ff_ffff_0000_00ff)
				binary.BigEndian.PutUint64(a[8:], rng.Uint64()&0x1fff)
				addrs = append(addrs, a)
			}
			for pass := range 2 {
				for i := range addrs {
					src, dst := addrs[i], addrs[rng.IntN(len(addrs))]
					gs, gd := src, dst
					p.AnonymizePair(true, &gs, &gd)
					ws, wd := src, dst
					*(*[4]byte)(ws[:4]) = want.Anonymize4([4]byte(src[:4]))
					*(*[4]byte)(wd[:4]) = want.Anonymize4([4]byte(dst[:4]))
					if gs != ws || gd != wd {
						t.Fatalf("pass %d: AnonymizePair(IPv4 %x, %x) = %x, %x, want %x, %x", pass, src, dst, gs, gd, ws, wd)
					}
					gs, gd = src, dst
					p.AnonymizePair(false, &gs, &gd)
					if ws, wd := want.Anonymize16(src), want.Anonymize16(dst); gs != ws || gd != wd {
						t.Fatalf("pass %d: AnonymizePair(IPv6 %x, %x) = %x, %x, want %x, %x", pass, src, dst, gs, gd, ws, wd)
					}
				}
			}
			// Batches of both kinds of pair, of every length up to 40.
			for n := range 41 {
				keys := make([][2][16]byte, n)
				pairs := make([]AddrPair, n)
				for i := range keys {
					keys[i] = [2][16]byte{addrs[rng.IntN(len(addrs))], addrs[rng.IntN(len(addrs))]}
					pairs[i] = AddrPair{Src: &keys[i][0], Dst: &keys[i][1], V4: rng.IntN(2) == 0}
				}
				want := slices.Clone(keys)
				for i := range want {
					p.AnonymizePair(pairs[i].V4, &want[i][0], &want[i][1])
				}
				p.AnonymizePairs(pairs)
				if !slices.Equal(keys, want) {
					t.Fatalf("AnonymizePairs of %d pairs differs from AnonymizePair of each", n)
				}
			}
		})
	}
}
