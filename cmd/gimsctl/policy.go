package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gimsproject/gims/amapi"
)

// policyFlags are the device policy flags of add-device and edit-device
// (SPEC §9); only the ones given are sent, the others keep their value
// (edit-device) or take the AM's safe defaults (add-device).
type policyFlags struct {
	users                *string
	requireAnonymization *bool
	payload              *string
	outputs              *string
	maxSnaplen           *int
	maxDuration          *time.Duration
	maxStorage           *string
	keyHolder            *string
	json                 *string
}

// addPolicyFlags registers the device policy flags.
func addPolicyFlags(fs *flag.FlagSet) policyFlags {
	return policyFlags{
		users:                fs.String("policy-users", "", "comma-separated users who may use the device, or * for every user (default *)"),
		requireAnonymization: fs.Bool("require-anonymization", true, "experiments must anonymize (-require-anonymization=false allows raw captures)"),
		payload:              fs.String("max-payload", "", "the most of payloads a pcap may keep: strip, zero or keep (default strip)"),
		outputs:              fs.String("outputs", "", "comma-separated outputs experiments may use, of counters, flows, pcap (default all three)"),
		maxSnaplen:           fs.Int("max-snaplen", 0, "largest snaplen experiments may ask (0: no bound)"),
		maxDuration:          fs.Duration("max-duration", 0, "longest running time experiments may ask, e.g. 1h; they must set duration_s (0: no bound)"),
		maxStorage:           fs.String("max-storage", "", "bound of each job's result files on the device, e.g. 10GiB (0: no bound)"),
		keyHolder:            fs.String("key-holder", "", "who holds the anonymization keys: operator (operator-held keys only, the default) or experimenter (secrets allowed)"),
		json:                 fs.String("policy-json", "", "the policy as a JSON object (members of SPEC §9); flags given as well override its members"),
	}
}

// input returns the policy members given, or nil when no policy flag was.
func (pf policyFlags) input(set map[string]bool) (*amapi.PolicyInput, error) {
	var in amapi.PolicyInput
	given := false
	if set["policy-json"] {
		dec := json.NewDecoder(bytes.NewReader([]byte(*pf.json)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return nil, usagef("-policy-json: %v", err)
		}
		given = true
	}
	if set["policy-users"] {
		l := splitList(*pf.users)
		if len(l) == 0 {
			return nil, usagef("-policy-users: give at least one user name, or * for every user")
		}
		in.Users = &l
	}
	if set["require-anonymization"] {
		in.RequireAnonymization = pf.requireAnonymization
	}
	if set["max-payload"] {
		switch *pf.payload {
		case "strip", "zero", "keep":
		default:
			return nil, usagef("-max-payload %q: want strip, zero or keep", *pf.payload)
		}
		in.Payload = pf.payload
	}
	if set["outputs"] {
		l := splitList(*pf.outputs)
		for _, o := range l {
			if o != "counters" && o != "flows" && o != "pcap" {
				return nil, usagef("-outputs: %q is not counters, flows or pcap", o)
			}
		}
		in.Outputs = &l
	}
	if set["max-snaplen"] {
		if *pf.maxSnaplen < 0 {
			return nil, usagef("-max-snaplen %d: want 0 (no bound) or more", *pf.maxSnaplen)
		}
		in.MaxSnaplen = pf.maxSnaplen
	}
	if set["max-duration"] {
		d := *pf.maxDuration
		if d < 0 || d%time.Second != 0 {
			return nil, usagef("-max-duration %v: want 0 (no bound) or a whole number of seconds", d)
		}
		s := int64(d / time.Second)
		in.MaxDurationS = &s
	}
	if set["max-storage"] {
		n, err := parseSize(*pf.maxStorage)
		if err != nil {
			return nil, usagef("-max-storage: %v", err)
		}
		in.MaxStorageBytes = &n
	}
	if set["key-holder"] {
		if *pf.keyHolder != "operator" && *pf.keyHolder != "experimenter" {
			return nil, usagef("-key-holder %q: want operator or experimenter", *pf.keyHolder)
		}
		in.KeyHolder = pf.keyHolder
	}
	if !given && in == (amapi.PolicyInput{}) {
		return nil, nil
	}
	return &in, nil
}

// sizeUnits are the units parseSize reads, longest first.
var sizeUnits = []struct {
	name string
	mult int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
	{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1},
}

// parseSize reads a size in bytes: a number, optionally with a unit
// ("512MiB", "1.5GiB", "10GB", "2G").
func parseSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	num, mult := v, int64(1)
	for _, u := range sizeUnits {
		if len(v) > len(u.name) && strings.EqualFold(v[len(v)-len(u.name):], u.name) {
			num, mult = strings.TrimSpace(v[:len(v)-len(u.name)]), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, fmt.Errorf("%q is not a size (bytes, or a number with a unit like 512MiB, 1GiB, 10GB)", v)
	}
	b := f * float64(mult)
	if b >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", v)
	}
	return int64(math.Round(b)), nil
}
