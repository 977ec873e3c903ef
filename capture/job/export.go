package job

// This file exports what the aggregate manager reuses of the job rules
// and result formats, so that both sides agree by construction.

// ReadCounters returns rows [offset, offset+limit) of a counters CSV file
// written by a job (a partial last line is left out); a missing file has
// no rows.
func ReadCounters(path string, offset, limit int) ([]CounterRow, error) {
	return readCounters(path, offset, limit)
}

// ReadTopFlows returns the n largest flows of an IPFIX file written by a
// job, largest first, as JobResults orders them; a missing file has none.
func ReadTopFlows(path string, n int) ([]FlowRow, error) {
	t := newTopFlows(n)
	if _, err := loadFlows(path, t); err != nil {
		return nil, err
	}
	return t.sorted(), nil
}
