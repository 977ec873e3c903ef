package ipfix

import (
	"fmt"
	"time"

	"github.com/gimsproject/gims/internal/check"
)

// Configuration configures an Exporter. Start from DefaultConfiguration and
// change what you need: New takes every field as given and refuses invalid
// values (see Validate), so a partly filled Configuration fails loudly
// instead of running with zero values.
type Configuration struct {
	// ObservationDomainID is written in every message header (RFC 7011
	// §3.1). Default 0. Collectors keep templates and sequence numbers per
	// exporter address and observation domain, so two exporters sending
	// from the same host to the same collector should use distinct IDs.
	ObservationDomainID uint32
	// Biflow chooses the biflow templates (with the RFC 5103 reverse
	// elements reverseOctetDeltaCount, reversePacketDeltaCount and
	// reverseTcpControlBits) instead of the forward-only ones. Default
	// true (set by DefaultConfiguration). Records without reverse traffic
	// are exported with zero reverse counters.
	Biflow bool
	// TemplateRefresh is how often templates are re-sent on datagram (UDP)
	// transports, where a collector that starts late or lost a packet
	// would otherwise never learn them (RFC 7011 §8.4). Default 60s; it
	// must be positive. Stream transports (TCP, files) send templates once
	// per session.
	TemplateRefresh time.Duration
	// TemplateRefreshMessages also re-sends templates on datagram
	// transports every that many messages, whichever comes first.
	// Default 100; it must be positive.
	TemplateRefreshMessages int
	// MaxMessageSize bounds every message, in octets, headers included:
	// between 256 and 65535, or AutoMessageSize (the default) for the
	// transport's own size: 1400 on datagram transports, which fits an
	// Ethernet MTU with IP and UDP headers, and 65535 (the IPFIX maximum)
	// on stream transports and files. Messages actually stay within the
	// largest multiple of 4 not above it, since every set is padded to 4
	// octets.
	MaxMessageSize int
	// Now is the clock for message export times and template refresh.
	// Default time.Now; tests inject a fixed clock. Required.
	Now func() time.Time
}

// Defaults used by DefaultConfiguration and, for AutoMessageSize, by New.
const (
	DefaultTemplateRefresh         = 60 * time.Second
	DefaultTemplateRefreshMessages = 100
	DefaultDatagramMessageSize     = 1400
	DefaultStreamMessageSize       = maxMessageLength
	minMessageSize                 = 256
)

// AutoMessageSize is the MaxMessageSize that lets New choose by transport:
// DefaultDatagramMessageSize on datagram transports, else
// DefaultStreamMessageSize.
const AutoMessageSize = 0

// DefaultConfiguration returns the default configuration: observation
// domain 0, biflow templates, templates refreshed every 60s or 100
// messages on UDP, message size chosen by the transport, wall clock.
func DefaultConfiguration() Configuration {
	return Configuration{
		Biflow:                  true,
		TemplateRefresh:         DefaultTemplateRefresh,
		TemplateRefreshMessages: DefaultTemplateRefreshMessages,
		MaxMessageSize:          AutoMessageSize,
		Now:                     time.Now,
	}
}

// Validate checks c and names the field that is wrong, the rule and the
// value given.
func (c Configuration) Validate() error {
	var size error
	if c.MaxMessageSize != AutoMessageSize && (c.MaxMessageSize < minMessageSize || c.MaxMessageSize > maxMessageLength) {
		size = &check.FieldError{Field: "MaxMessageSize",
			Rule:  fmt.Sprintf("0 (chosen by the transport) or between %d and %d octets", minMessageSize, maxMessageLength),
			Value: c.MaxMessageSize}
	}
	return check.First(
		check.Positive("TemplateRefresh", c.TemplateRefresh),
		check.Positive("TemplateRefreshMessages", c.TemplateRefreshMessages),
		size,
		check.Set("Now", c.Now != nil, "set"),
	)
}

// messageSize is the message size bound on a transport.
func (c Configuration) messageSize(datagram bool) int {
	switch {
	case c.MaxMessageSize != AutoMessageSize:
		return c.MaxMessageSize
	case datagram:
		return DefaultDatagramMessageSize
	default:
		return DefaultStreamMessageSize
	}
}
