package am

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want int // bytes of the result, "…" excluded; -1: unchanged
	}{
		{"short", "tap1", -1},
		{"at the bound", strings.Repeat("a", auditMessageMax), -1},
		{"long", strings.Repeat("a", 5000), auditMessageMax},
		{"multibyte at the cut", strings.Repeat("a", auditMessageMax-1) + "é" + "bbb", auditMessageMax - 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := clip(tc.in)
			if tc.want < 0 {
				if got != tc.in {
					t.Errorf("clip changed %q to %q", tc.in, got)
				}
				return
			}
			if !utf8.ValidString(got) || !strings.HasSuffix(got, "…") || len(got)-len("…") != tc.want {
				t.Errorf("clip = %q (%d bytes), want %d bytes and …", got, len(got), tc.want)
			}
		})
	}
}
