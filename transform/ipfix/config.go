package ipfix

import (
	"fmt"
	"time"
)

// Configuration configures an Exporter. Build it with DefaultConfiguration and change
// what you need; New replaces zero numeric fields and a nil Now by their
// defaults, so a partly filled Configuration also works (but Biflow, a bool, is
// taken as given).
type Configuration struct {
	// ObservationDomainID is written in every message header (RFC 7011
	// §3.1). Default 0. Collectors keep templates and sequence numbers per
	// exporter address and observation domain, so two exporters sending
	// from the same host to the same collector should use distinct IDs.
	ObservationDomainID uint32
	// Biflow chooses the biflow templates (with the RFC 5103 reverse
	// elements reverseOctetDeltaCount, reversePacketDeltaCount and
	// reverseTcpControlBits) instead of the forward-only ones. Default true.
	// Records without reverse traffic are exported with zero reverse
	// counters.
	Biflow bool
	// TemplateRefresh is how often templates are re-sent on datagram (UDP)
	// transports, where a collector that starts late or lost a packet
	// would otherwise never learn them (RFC 7011 §8.4). Default 60s.
	// Stream transports (TCP, files) send templates once per session.
	TemplateRefresh time.Duration
	// TemplateRefreshMessages also re-sends templates on datagram
	// transports every that many messages, whichever comes first.
	// Default 100.
	TemplateRefreshMessages int
	// MaxMessageSize bounds every message, in octets, headers included.
	// Default (0) is 1400 on datagram transports, which fits an Ethernet
	// MTU with IP and UDP headers, and 65535 (the IPFIX maximum) on stream
	// transports and files. Between 256 and 65535; messages actually stay
	// within the largest multiple of 4 not above it, since every set is
	// padded to 4 octets.
	MaxMessageSize int
	// Now is the clock for message export times and template refresh.
	// Default time.Now; tests inject a fixed clock.
	Now func() time.Time
}

// Defaults used by DefaultConfiguration and New.
const (
	DefaultTemplateRefresh         = 60 * time.Second
	DefaultTemplateRefreshMessages = 100
	DefaultDatagramMessageSize     = 1400
	DefaultStreamMessageSize       = maxMessageLength
	minMessageSize                 = 256
)

// DefaultConfiguration returns the default configuration: observation domain 0,
// biflow templates, templates refreshed every 60s or 100 messages on UDP,
// message size chosen by the transport, wall clock.
func DefaultConfiguration() Configuration {
	return Configuration{
		Biflow:                  true,
		TemplateRefresh:         DefaultTemplateRefresh,
		TemplateRefreshMessages: DefaultTemplateRefreshMessages,
		Now:                     time.Now,
	}
}

// withDefaults fills zero fields and checks the result for a transport.
func (c Configuration) withDefaults(datagram bool) (Configuration, error) {
	if c.TemplateRefresh == 0 {
		c.TemplateRefresh = DefaultTemplateRefresh
	}
	if c.TemplateRefreshMessages == 0 {
		c.TemplateRefreshMessages = DefaultTemplateRefreshMessages
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultStreamMessageSize
		if datagram {
			c.MaxMessageSize = DefaultDatagramMessageSize
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.TemplateRefresh < 0:
		return c, fmt.Errorf("template refresh must not be negative, got %v", c.TemplateRefresh)
	case c.TemplateRefreshMessages < 0:
		return c, fmt.Errorf("template refresh messages must not be negative, got %d", c.TemplateRefreshMessages)
	case c.MaxMessageSize < minMessageSize || c.MaxMessageSize > maxMessageLength:
		return c, fmt.Errorf("max message size must be between %d and %d octets, got %d",
			minMessageSize, maxMessageLength, c.MaxMessageSize)
	}
	return c, nil
}
