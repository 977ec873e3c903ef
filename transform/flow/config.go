package flow

import (
	"math"
	"time"

	"github.com/gimsproject/gims/internal/check"
)

// Configuration configures a Table. The zero value is not valid; start from
// DefaultConfiguration.
type Configuration struct {
	// ActiveTimeout ends a long-lived flow's record this long after the
	// record's first packet (EndActiveTimeout); the flow goes on in a new
	// record. Default 1800s, as SPEC §3 and the offline meter say.
	ActiveTimeout time.Duration
	// IdleTimeout ends a flow that has seen no packet for this long
	// (EndIdleTimeout). Default 300s.
	IdleTimeout time.Duration
	// Biflow makes one record per conversation (RFC 5103): packets in both
	// directions update the same flow, and the first packet's source is
	// Key.Src. When false, each direction is its own flow and the Rev*
	// counters stay zero. Default true.
	Biflow bool
	// MaxFlows bounds the number of live flows, and so the memory: when the
	// table is full, the least recently active flow is exported early with
	// EndLackOfResources and counted in Stats.Evicted. Default 1<<20
	// (about 130 MB of table when full: 96 bytes per flow in the slab, 16
	// of list links, plus 16 to 32 of index, which is kept at most half
	// full and grows by doubling up to the size MaxFlows needs). Past a
	// few thousand flows the slab, the links and the larger index arrays
	// live outside the Go heap, in address space reserved for MaxFlows
	// flows on huge pages (internal/tablemem.Reserve): only the part the
	// flows touch becomes memory, and the collector neither scans nor
	// counts it.
	MaxFlows int
}

// DefaultConfiguration returns the default configuration.
func DefaultConfiguration() Configuration {
	return Configuration{
		ActiveTimeout: 1800 * time.Second,
		IdleTimeout:   300 * time.Second,
		Biflow:        true,
		MaxFlows:      1 << 20,
	}
}

// Validate checks cfg and says which field is wrong, the rule and the
// value given.
func (cfg Configuration) Validate() error {
	return check.First(
		check.Positive("ActiveTimeout", cfg.ActiveTimeout),
		check.Positive("IdleTimeout", cfg.IdleTimeout),
		check.Between("MaxFlows", cfg.MaxFlows, 1, math.MaxInt32),
	)
}
