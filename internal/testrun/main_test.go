package main

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"
)

// TestRun runs go test over testdata/sample, a module whose tests pass,
// skip, fail or panic as the environment says, and compares the output
// with what plain go test prints (durations blanked).
func TestRun(t *testing.T) {
	t.Chdir("testdata/sample")
	skips := `--- SKIP: TestSkip (X)
    sample_test.go:13: no such tool
--- SKIP: TestSub/skipped (X)
    sample_test.go:23: sub skip
`
	summary := `skipped 2 tests:
	sample: TestSkip
	sample: TestSub/skipped
`
	cases := []struct {
		pos  string
		env  string // SAMPLE_FAIL or SAMPLE_PANIC, set to 1
		ci   bool
		args []string
		code int
		want string // the whole output, or with a panic its start and end
	}{
		{"pass", "", false, []string{"-run", "Pass"}, 0, "ok  \tsample\tX\n"},
		{"skips outside CI", "", false, nil, 0, skips + "ok  \tsample\tX\n" + summary},
		{"skips in CI", "", true, nil, 1, skips + "ok  \tsample\tX\n" + summary +
			"FAIL\t2 tests skipped in CI, where every test must run (make deps installs the tools they need)\n"},
		{"no skips in CI", "", true, []string{"-run", "Pass|Panic"}, 0, "ok  \tsample\tX\n"},
		{"subtest fails", "SAMPLE_FAIL", false, []string{"-run", "Sub"}, 1, `--- SKIP: TestSub/skipped (X)
    sample_test.go:23: sub skip
--- FAIL: TestSub (X)
    --- FAIL: TestSub/bad (X)
        sample_test.go:20: sub failure
FAIL
FAIL	sample	X
skipped 1 tests:
	sample: TestSub/skipped
FAIL
`},
		{"panic", "SAMPLE_PANIC", false, []string{"-run", "Panic"}, 1, `--- FAIL: TestPanic (X)
    sample_test.go:28: before the panic
panic: sample panic`},
	}
	durations := regexp.MustCompile(`\(\d+\.\d+s\)|\t\d+\.\d+s|\(cached\)`)
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			for _, v := range []string{"SAMPLE_FAIL", "SAMPLE_PANIC"} {
				t.Setenv(v, "")
			}
			if tc.env != "" {
				t.Setenv(tc.env, "1")
			}
			var out bytes.Buffer
			args := append([]string{"go", "test", "-count=1"}, tc.args...)
			code := run(append(args, "."), tc.ci, &out, io.Discard)
			got := durations.ReplaceAllStringFunc(out.String(), func(d string) string {
				if d[0] == '\t' {
					return "\tX"
				}
				return "(X)"
			})
			if code != tc.code {
				t.Errorf("%s: exit code %d, want %d; output:\n%s", tc.pos, code, tc.code, got)
			}
			if tc.env == "SAMPLE_PANIC" {
				if !strings.HasPrefix(got, tc.want) || !strings.HasSuffix(got, "FAIL\tsample\tX\nFAIL\n") {
					t.Errorf("%s: output:\n%s\nwant it to start with:\n%s\nand end with FAIL lines", tc.pos, got, tc.want)
				}
				return
			}
			if got != tc.want {
				t.Errorf("%s: output:\n%s\nwant:\n%s", tc.pos, got, tc.want)
			}
		})
	}
}

// TestUsage checks that anything but a go test command is refused.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"go"}, {"go", "vet", "./..."}, {"test", "./..."}} {
		if code := run(args, false, io.Discard, io.Discard); code != 2 {
			t.Errorf("run(%q): exit code %d, want 2", args, code)
		}
	}
}
