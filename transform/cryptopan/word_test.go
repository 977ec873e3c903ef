package cryptopan

import (
	"math/rand/v2"
	"testing"
)

// TestOtpWordMatchesLoop: otpBits through otpWord (the blocks of a word
// encrypted before any is read) gives the bits of the loop that reads
// each block as it goes, on random addresses and random ranges within
// each word, with random bits already in the pad's other places (a
// prefix computed earlier), and addresses equal to the pad in places
// (no block for long runs).
func TestOtpWordMatchesLoop(t *testing.T) {
	c, err := New(sampleKey(t))
	if err != nil {
		t.Fatal(err)
	}
	s := new(scratch)
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 20000 {
		hi, lo := rng.Uint64(), rng.Uint64()
		switch n % 4 {
		case 1: // the address agrees with the pad but for a few bits
			hi, lo = c.padHi^1<<rng.UintN(64), c.padLo^1<<rng.UintN(64)
		case 2:
			hi, lo = c.padHi, c.padLo
		}
		ohi, olo := rng.Uint64(), rng.Uint64()
		base := 64 * rng.IntN(2)
		from := base + rng.IntN(65)
		to := base + rng.IntN(65)
		if from > to {
			from, to = to, from
		}
		// The bits at from and after are the ones computed: clear them.
		if from < 64 {
			ohi &^= ^uint64(0) >> uint(from)
			olo = 0
		} else {
			olo &^= ^uint64(0) >> uint(from-64)
		}
		gh, gl := c.otpBits(s, hi, lo, ohi, olo, from, to)
		wh, wl := c.otpBitsLoop(s, hi, lo, ohi, olo, from, to)
		if gh != wh || gl != wl {
			t.Fatalf("otpBits(%016x:%016x, bits %d to %d) = %016x:%016x, the loop %016x:%016x", hi, lo, from, to, gh, gl, wh, wl)
		}
	}
}
