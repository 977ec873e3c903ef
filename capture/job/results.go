package job

// Result kinds of Results.
const (
	KindCounters = "counters"
	KindFlows    = "flows"
	KindFiles    = "files"
)

// Paging of Results.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// TopFlows is how many flows, the largest, a job keeps for Results; all
// of them are in flows.ipfix.
const TopFlows = 10000

// FileInfo is one result file of a job.
type FileInfo struct {
	Name string
	Size int64
	// Complete tells that the file will not change any more (see
	// deviceapi.FileEntry.Complete).
	Complete bool
}

// page bounds offset and limit as Results documents.
func page(offset, limit int) (int, int, error) {
	if offset < 0 {
		return 0, 0, invalidf("offset must not be negative, got %d", offset)
	}
	if limit < 0 || limit > MaxLimit {
		return 0, 0, invalidf("limit must be between 1 and %d, got %d", MaxLimit, limit)
	}
	if limit == 0 {
		limit = DefaultLimit
	}
	return offset, limit, nil
}
