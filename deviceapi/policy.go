package deviceapi

import (
	"fmt"
	"slices"
)

// Values of Policy.KeyHolder (SPEC §9).
const (
	KeyHolderOperator     = "operator"
	KeyHolderExperimenter = "experimenter"
)

// Outputs a job may enable, the values of Policy.Outputs.
const (
	OutputCounters = "counters"
	OutputFlows    = "flows"
	OutputPcap     = "pcap"
)

// Policy is the device owner's own limit on the jobs of a device
// (gims-capd -policy FILE, SPEC §9): the fields of the aggregate manager's
// device policy but users. The daemon refuses a job that breaks it
// whatever the aggregate manager says, and reports it in Capabilities.
// The zero value imposes nothing; Normalize fills the absent members with
// their "no limit" values, so that the reported policy says them.
type Policy struct {
	// RequireAnonymization refuses a job without a key.
	RequireAnonymization bool `xmlrpc:"require_anonymization" json:"require_anonymization"`
	// Payload is the most a job's packets.pcap may keep of payloads:
	// PayloadStrip < PayloadZero < PayloadKeep. A job without a key
	// keeps payloads. Counters and flows keep no payload.
	Payload string `xmlrpc:"payload" json:"payload"`
	// Outputs are the outputs a job may enable, of OutputCounters,
	// OutputFlows and OutputPcap.
	Outputs []string `xmlrpc:"outputs" json:"outputs"`
	// MaxSnaplen bounds a job's snaplen (0: no bound).
	MaxSnaplen int `xmlrpc:"max_snaplen" json:"max_snaplen"`
	// MaxDurationS is the running time after which a job stops itself
	// (0: no bound).
	MaxDurationS int64 `xmlrpc:"max_duration_s" json:"max_duration_s"`
	// MaxStorageBytes bounds a job's result files: a job asking for no
	// bound or a larger one gets this one (0: no bound).
	MaxStorageBytes int64 `xmlrpc:"max_storage_bytes" json:"max_storage_bytes"`
	// KeyHolder is who holds the keys of the device's jobs, KeyHolderOperator
	// or KeyHolderExperimenter. Informational on the device, which cannot
	// tell who chose a job's key: the aggregate manager enforces it.
	KeyHolder string `xmlrpc:"key_holder" json:"key_holder"`
}

// payloadRank orders the payload modes, strip < zero < keep.
func payloadRank(p string) int {
	switch p {
	case PayloadStrip:
		return 0
	case PayloadZero:
		return 1
	default:
		return 2
	}
}

// Normalize checks p and fills its absent members with the values that
// impose nothing: payload keep, every output. Errors name the member.
func (p *Policy) Normalize() error {
	switch p.Payload {
	case "":
		p.Payload = PayloadKeep
	case PayloadStrip, PayloadZero, PayloadKeep:
	default:
		return fmt.Errorf("payload must be %s, %s or %s, got %q", PayloadStrip, PayloadZero, PayloadKeep, p.Payload)
	}
	if p.Outputs == nil {
		p.Outputs = []string{OutputCounters, OutputFlows, OutputPcap}
	}
	for _, o := range p.Outputs {
		if o != OutputCounters && o != OutputFlows && o != OutputPcap {
			return fmt.Errorf("outputs: want %s, %s or %s, got %q", OutputCounters, OutputFlows, OutputPcap, o)
		}
	}
	if p.MaxSnaplen < 0 || p.MaxSnaplen > MaxSnaplen {
		return fmt.Errorf("max_snaplen must be between 0 (no bound) and %d, got %d", MaxSnaplen, p.MaxSnaplen)
	}
	if p.MaxDurationS < 0 {
		return fmt.Errorf("max_duration_s must be 0 (no bound) or a positive number of seconds, got %d", p.MaxDurationS)
	}
	if p.MaxStorageBytes < 0 {
		return fmt.Errorf("max_storage_bytes must be 0 (no bound) or a positive number of bytes, got %d", p.MaxStorageBytes)
	}
	switch p.KeyHolder {
	case "", KeyHolderOperator, KeyHolderExperimenter:
	default:
		return fmt.Errorf("key_holder must be %s or %s, got %q", KeyHolderOperator, KeyHolderExperimenter, p.KeyHolder)
	}
	return nil
}

// Violation names the first rule of p that a checked job specification
// (after Check) breaks, as "payload keep exceeds this device's limit
// strip", or returns "". MaxDurationS and MaxStorageBytes are bounds a
// job gets, not rules it can break; KeyHolder is not checked.
func (p *Policy) Violation(s *JobSpec) string {
	if p.RequireAnonymization && len(s.Key) == 0 {
		return "anonymization is required on this device (the job has no key)"
	}
	if s.Pcap && p.Payload != "" {
		payload := PayloadKeep
		if len(s.Key) != 0 {
			payload = s.Payload
		}
		if payloadRank(payload) > payloadRank(p.Payload) {
			return fmt.Sprintf("payload %s exceeds this device's limit %s", payload, p.Payload)
		}
	}
	if p.Outputs != nil {
		for _, o := range []struct {
			name string
			on   bool
		}{{OutputCounters, s.Counters != nil}, {OutputFlows, s.Flows != nil}, {OutputPcap, s.Pcap}} {
			if o.on && !slices.Contains(p.Outputs, o.name) {
				return fmt.Sprintf("output %s is not allowed on this device (allowed: %v)", o.name, p.Outputs)
			}
		}
	}
	if p.MaxSnaplen > 0 && s.Snaplen > p.MaxSnaplen {
		return fmt.Sprintf("snaplen %d exceeds this device's limit %d", s.Snaplen, p.MaxSnaplen)
	}
	return ""
}
