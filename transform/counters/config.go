package counters

import (
	"fmt"
	"time"
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

// validate checks cfg and says what is wrong in terms a user can act on.
func (cfg Configuration) validate() error {
	if cfg.Interval <= 0 {
		return fmt.Errorf("counter interval must be positive, got %v", cfg.Interval)
	}
	return nil
}
