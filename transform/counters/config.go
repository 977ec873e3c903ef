package counters

import (
	"time"

	"github.com/gimsproject/gims/internal/check"
)

// Configuration configures an Aggregator.
type Configuration struct {
	// Interval is the length of one counting interval; intervals are
	// aligned to multiples of Interval since the Unix epoch, in packet
	// time. Default 1s; it must be positive.
	Interval time.Duration
}

// DefaultConfiguration returns the default configuration: one-second intervals,
// as SPEC §3 (interval_ms 1000) and the offline meter (-counter-interval 1s)
// default to.
func DefaultConfiguration() Configuration {
	return Configuration{Interval: time.Second}
}

// Validate checks cfg and says which field is wrong, the rule and the
// value given.
func (cfg Configuration) Validate() error {
	return check.Positive("Interval", cfg.Interval)
}
