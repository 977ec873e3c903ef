package main

import (
	"testing"
	"time"
)

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 12, 1, 17, 0, 0, 300_000_000, time.UTC)
	cases := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"2026-12-01T18:00:00Z", time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC), false},
		{"2026-12-01T19:00:00+01:00", time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC), false},
		// Relative times are rounded up to the second: "+0s" is not past.
		{"+0s", time.Date(2026, 12, 1, 17, 0, 1, 0, time.UTC), false},
		{"+10m", time.Date(2026, 12, 1, 17, 10, 1, 0, time.UTC), false},
		{"+1h30m", time.Date(2026, 12, 1, 18, 30, 1, 0, time.UTC), false},
		{"+-1s", time.Time{}, true},
		{"18:00", time.Time{}, true},
		{"", time.Time{}, true},
	}
	for i, tc := range cases {
		got, err := parseWhen("start-at", tc.in, now)
		if (err != nil) != tc.err || !got.Equal(tc.want) {
			t.Errorf("row %d: parseWhen(%q) = %v, %v; want %v (error %t)", i, tc.in, got, err, tc.want, tc.err)
		}
	}
}
