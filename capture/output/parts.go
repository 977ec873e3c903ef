package output

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Rotation (SPEC §13) splits the pcap file and the IPFIX file into parts,
// each a complete file of its own: a pcap file header at the start of
// every pcap part, the IPFIX templates at the start of every IPFIX part.
// A file's parts are named after it with a part number of at least five
// digits before the extension: packets.pcap is written as
// packets-00001.pcap, packets-00002.pcap… (names that sort in order up to
// part 99999; PartNumber orders any). Without rotation the file keeps its
// own name.

// partDigits is the least number of digits of a part number.
const partDigits = 5

// PartPath returns the path of part n (from 1) of the file at path:
// PartPath("d/packets.pcap", 2) is "d/packets-00002.pcap".
func PartPath(path string, n int) string {
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s-%0*d%s", strings.TrimSuffix(path, ext), partDigits, n, ext)
}

// PartNumber tells whether name (a file name, without a folder) is a part
// of the file named base, and which: PartNumber("packets.pcap",
// "packets-00002.pcap") is 2, true. Only the canonical spelling of a
// number (PartPath's) is a part, so that no two names are the same part.
func PartNumber(base, name string) (int, bool) {
	ext := filepath.Ext(base)
	digits, ok := strings.CutPrefix(name, strings.TrimSuffix(base, ext)+"-")
	if !ok {
		return 0, false
	}
	if digits, ok = strings.CutSuffix(digits, ext); !ok || len(digits) < partDigits {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || fmt.Sprintf("%0*d", partDigits, n) != digits {
		return 0, false
	}
	return n, true
}

// Part is one part of a rotated file.
type Part struct {
	// N is the part number, from 1.
	N int
	// Name is the part's file name, Path its path.
	Name, Path string
}

// Parts lists the parts of the file at path that exist (regular files
// only), in part order. A missing folder has none.
func Parts(path string) ([]Part, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to list the parts of %s: %w", base, err)
	}
	var out []Part
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if n, ok := PartNumber(base, e.Name()); ok {
			out = append(out, Part{N: n, Name: e.Name(), Path: filepath.Join(dir, e.Name())})
		}
	}
	slices.SortFunc(out, func(a, b Part) int { return a.N - b.N })
	return out, nil
}
