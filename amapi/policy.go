package amapi

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gimsproject/gims/deviceapi"
)

// AllUsers is the Users entry that lets every user use a device.
const AllUsers = "*"

// DevicePolicy is the aggregate manager's policy of a device (SPEC §9):
// who may use it and the limits of its experiments. The members but
// Users are those of the device owner's own limit (deviceapi.Policy, as
// gims-capd -policy takes them); here KeyHolder is enforced, by the AM.
type DevicePolicy struct {
	// Users may use the device: user names, or AllUsers.
	Users []string `xmlrpc:"users" json:"users"`
	deviceapi.Policy
}

// DefaultDevicePolicy is the policy of a device whose policy says
// nothing (SPEC §9, safe by default): every user, anonymization
// required, payloads stripped, every output, no bounds, operator-held
// keys.
func DefaultDevicePolicy() DevicePolicy {
	return DevicePolicy{
		Users: []string{AllUsers},
		Policy: deviceapi.Policy{
			RequireAnonymization: true,
			Payload:              deviceapi.PayloadStrip,
			Outputs:              []string{deviceapi.OutputCounters, deviceapi.OutputFlows, deviceapi.OutputPcap},
			KeyHolder:            deviceapi.KeyHolderOperator,
		},
	}
}

// PolicyInput is the policy member of AddDevice and EditDevice: only the
// members given are set, the others keep their value (EditDevice) or
// take DefaultDevicePolicy's (AddDevice).
type PolicyInput struct {
	Users                *[]string `xmlrpc:"users,omitempty" json:"users,omitempty"`
	RequireAnonymization *bool     `xmlrpc:"require_anonymization,omitempty" json:"require_anonymization,omitempty"`
	Payload              *string   `xmlrpc:"payload,omitempty" json:"payload,omitempty"`
	Outputs              *[]string `xmlrpc:"outputs,omitempty" json:"outputs,omitempty"`
	MaxSnaplen           *int      `xmlrpc:"max_snaplen,omitempty" json:"max_snaplen,omitempty"`
	MaxDurationS         *int64    `xmlrpc:"max_duration_s,omitempty" json:"max_duration_s,omitempty"`
	MaxStorageBytes      *int64    `xmlrpc:"max_storage_bytes,omitempty" json:"max_storage_bytes,omitempty"`
	KeyHolder            *string   `xmlrpc:"key_holder,omitempty" json:"key_holder,omitempty"`
}

// PolicyInputOf is the PolicyInput that sets every member of p.
func PolicyInputOf(p DevicePolicy) *PolicyInput {
	users := slices.Clone(p.Users)
	outputs := slices.Clone(p.Outputs)
	return &PolicyInput{Users: &users, RequireAnonymization: &p.RequireAnonymization, Payload: &p.Payload,
		Outputs: &outputs, MaxSnaplen: &p.MaxSnaplen, MaxDurationS: &p.MaxDurationS,
		MaxStorageBytes: &p.MaxStorageBytes, KeyHolder: &p.KeyHolder}
}

// Apply returns p with the members in gives set, checked (Check).
func (in *PolicyInput) Apply(p DevicePolicy) (DevicePolicy, error) {
	p.Users, p.Outputs = slices.Clone(p.Users), slices.Clone(p.Outputs)
	if in != nil {
		if in.Users != nil {
			p.Users = slices.Clone(*in.Users)
		}
		if in.RequireAnonymization != nil {
			p.RequireAnonymization = *in.RequireAnonymization
		}
		if in.Payload != nil {
			p.Payload = *in.Payload
		}
		if in.Outputs != nil {
			p.Outputs = slices.Clone(*in.Outputs)
		}
		if in.MaxSnaplen != nil {
			p.MaxSnaplen = *in.MaxSnaplen
		}
		if in.MaxDurationS != nil {
			p.MaxDurationS = *in.MaxDurationS
		}
		if in.MaxStorageBytes != nil {
			p.MaxStorageBytes = *in.MaxStorageBytes
		}
		if in.KeyHolder != nil {
			p.KeyHolder = *in.KeyHolder
		}
	}
	return p, p.Check()
}

// Check checks every member of p; errors name the member ("policy
// payload must be …").
func (p *DevicePolicy) Check() error {
	if len(p.Users) == 0 {
		return fmt.Errorf("policy users must list at least one user name, or %q for every user", AllUsers)
	}
	for _, u := range p.Users {
		if u == "" || strings.ContainsAny(u, ", \t\n") {
			return fmt.Errorf("policy users: %q is not a user name", u)
		}
	}
	if p.Payload == "" {
		return fmt.Errorf("policy payload must be %s, %s or %s", deviceapi.PayloadStrip, deviceapi.PayloadZero, deviceapi.PayloadKeep)
	}
	if p.Outputs == nil {
		p.Outputs = []string{}
	}
	if p.KeyHolder == "" {
		return fmt.Errorf("policy key_holder must be %s or %s", deviceapi.KeyHolderOperator, deviceapi.KeyHolderExperimenter)
	}
	if err := p.Policy.Normalize(); err != nil {
		return fmt.Errorf("policy %w", err)
	}
	return nil
}

// Allows tells whether user may use a device of policy p.
func (p *DevicePolicy) Allows(user string) bool {
	return slices.Contains(p.Users, AllUsers) || slices.Contains(p.Users, user)
}

// AllowsOutput tells whether p allows output (OutputCounters, …).
func (p *DevicePolicy) AllowsOutput(output string) bool {
	return slices.Contains(p.Outputs, output)
}

// PayloadAllowed tells whether payload mode (strip, zero or keep) is at
// most p's ceiling.
func (p *DevicePolicy) PayloadAllowed(payload string) bool {
	return payloadRank(payload) <= payloadRank(p.Payload)
}

// payloadRank orders the payload modes, strip < zero < keep.
func payloadRank(p string) int {
	switch p {
	case deviceapi.PayloadStrip:
		return 0
	case deviceapi.PayloadZero:
		return 1
	default:
		return 2
	}
}

// ForUser is p as a user who is not an admin sees it: users is
// [AllUsers] or just that user, so that it learns no other user name.
func (p DevicePolicy) ForUser(user string) DevicePolicy {
	p.Outputs = slices.Clone(p.Outputs)
	switch {
	case slices.Contains(p.Users, AllUsers):
		p.Users = []string{AllUsers}
	case slices.Contains(p.Users, user):
		p.Users = []string{user}
	default:
		p.Users = []string{}
	}
	return p
}

// Violation names the first rule of p that an experiment of owner with
// configuration v breaks, as "policy requires anonymization", or
// returns "". secret tells that the experiment brings its own secret
// rather than an operator-held key.
func (p *DevicePolicy) Violation(owner string, v *ConfigView, secret bool) string {
	if !p.Allows(owner) {
		return fmt.Sprintf("policy does not allow user %s", owner)
	}
	if p.RequireAnonymization && v.Anonymize == nil {
		return "policy requires anonymization"
	}
	if v.Anonymize != nil && secret && p.KeyHolder == deviceapi.KeyHolderOperator {
		return "policy key_holder operator: use an operator-held key (anonymize.key), not a secret"
	}
	if v.Pcap {
		payload := deviceapi.PayloadKeep
		if v.Anonymize != nil {
			payload = v.Anonymize.Payload
		}
		if !p.PayloadAllowed(payload) {
			if v.Anonymize == nil {
				return fmt.Sprintf("a pcap without anonymization keeps payloads, which exceeds the policy's %s", p.Payload)
			}
			return fmt.Sprintf("payload %s exceeds the policy's %s", payload, p.Payload)
		}
	}
	for _, o := range []struct {
		name string
		on   bool
	}{{deviceapi.OutputCounters, v.Counters != nil}, {deviceapi.OutputFlows, v.Flows != nil}, {deviceapi.OutputPcap, v.Pcap}} {
		if o.on && !p.AllowsOutput(o.name) {
			allowed := "none"
			if len(p.Outputs) > 0 {
				allowed = strings.Join(p.Outputs, ", ")
			}
			return fmt.Sprintf("output %s not allowed: policy allows outputs %s", o.name, allowed)
		}
	}
	if p.MaxSnaplen > 0 && v.Snaplen > p.MaxSnaplen {
		return fmt.Sprintf("snaplen %d exceeds max_snaplen %d", v.Snaplen, p.MaxSnaplen)
	}
	if p.MaxDurationS > 0 && (v.DurationS <= 0 || int64(v.DurationS) > p.MaxDurationS) {
		return fmt.Sprintf("duration_s must be set and ≤ %d (max_duration_s)", p.MaxDurationS)
	}
	return ""
}
