package main

import "testing"

// TestParseSize checks the sizes -max-storage reads.
func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"4096", 4096, true}, {"1GiB", 1 << 30, true}, {"1.5 KiB", 1536, true},
		{"10GB", 10e9, true}, {"2g", 2 << 30, true}, {"512MiB", 512 << 20, true},
		{"", 0, false}, {"lots", 0, false}, {"-1", 0, false}, {"GiB", 0, false}, {"1e30TiB", 0, false}, {"NaN", 0, false},
	} {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok %t", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "1GiB", "1.5 KiB", "10GB", "-1", "1e30TiB", "NaN", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err == nil && n < 0 {
			t.Fatalf("parseSize(%q) = %d, a negative size", s, n)
		}
	})
}
