package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDemo runs scripts/demo.sh (make demo) as a newcomer would, on free
// loopback ports and in a temporary folder, with the binaries TestMain
// built: the experiment must end, its results must be pulled, and the
// pulled pcap must hold every packet the status counted, readable by
// tcpdump. The demo is the README's first command: when defaults tighten,
// this test says whether it still works.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("bash", "../../scripts/demo.sh")
	cmd.Env = append(os.Environ(),
		"DEMO_AM=127.0.0.1:0", "DEMO_CAPD=127.0.0.1:0", "DEMO_DIR="+dir,
		"DEMO_BIN="+filepath.Dir(bins["gims-am"]), "DEMO_EXIT=1", "DEMO_TIMEOUT=120")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s\n--- am.log\n%s\n--- capd.log\n%s", err, out,
			readFile(t, filepath.Join(dir, "am.log")), readFile(t, filepath.Join(dir, "capd.log")))
	}
	text := string(out)
	for _, want := range []string{"== key", "demo-key", "fingerprint", "== status", "done", "== top flows", "== result files",
		"Web GUI:  http://127.0.0.1:", "Keys:     http://127.0.0.1:", "Audit:    http://127.0.0.1:"} {
		if !strings.Contains(text, want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, text)
		}
	}
	if !regexp.MustCompile(`(?m)^ *anonymize\.key: +demo-key$`).MatchString(text) {
		t.Errorf("the demo's experiment does not use the operator-held key demo-key:\n%s", text)
	}
	m := regexp.MustCompile(`The AM pulled the results into (\S+)/:`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("the demo does not say where the results are:\n%s", text)
	}
	pcap := filepath.Join(m[1], "packets.pcap")
	if !filepath.IsAbs(pcap) {
		pcap = filepath.Join("../..", pcap)
	}
	got := tcpdumpCount(t, pcap, "")
	if got == 0 {
		t.Fatalf("%s holds no packet", pcap)
	}
	if want := statusPackets(t, text); got != want {
		t.Errorf("%s holds %d packets, the status counted %d", pcap, got, want)
	}
}

// statusPackets is the packets figure of the first status table in the
// demo's output (gimsctl get-experiment-status: "packets:  N").
func statusPackets(t *testing.T, text string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^packets:\s+(\d+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no packets line in the demo's status:\n%s", text)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// readFile returns a file's text, or why it could not be read.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
