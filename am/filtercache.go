package am

import (
	"context"
	"errors"
	"sync"

	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/capture"
)

// The verdicts of filter compilations (issue 15). Checking a
// configuration's filter compiles it in a child process (capture's
// FilterCompiler): tens of milliseconds of a CPU for every
// ConfigureExperiment and StartExperiment, although the verdict depends on
// the filter, the link type and the snaplen only, and a testbed's
// experiments reuse a few filters. The verdicts are kept: a filter that
// compiled, or that libpcap refused (capture.FilterError), is not
// compiled again; other failures (a timeout, a child that failed) are not
// kept.

// maxFilterVerdicts bounds the verdicts kept; beyond, they are forgotten
// all at once (they are cheap to make again).
const maxFilterVerdicts = 1024

// filterKey is what a verdict depends on.
type filterKey struct {
	lt      layers.LinkType
	snaplen int
	filter  string
}

// filterVerdicts keeps the verdicts of filter compilations.
type filterVerdicts struct {
	mu   sync.Mutex
	kept map[filterKey]error // nil: the filter compiles
}

// checkFilter is m.filters.Check, answered from the kept verdicts when
// it can be.
func (m *Manager) checkFilter(ctx context.Context, lt layers.LinkType, snaplen int, filter string) error {
	k := filterKey{lt: lt, snaplen: snaplen, filter: filter}
	v := &m.verdicts
	v.mu.Lock()
	err, ok := v.kept[k]
	v.mu.Unlock()
	if ok {
		return err
	}
	err = m.filters.Check(ctx, lt, snaplen, filter)
	var fe *capture.FilterError
	if err != nil && !errors.As(err, &fe) {
		return err
	}
	v.mu.Lock()
	if v.kept == nil || len(v.kept) >= maxFilterVerdicts {
		v.kept = map[filterKey]error{}
	}
	v.kept[k] = err
	v.mu.Unlock()
	return err
}
