package amapi

// Fault codes of the AM's API (SPEC §3), besides the codec's own
// (xmlrpc.CodeParseError and the like).
const (
	FaultNotFound = 1 // experiment, device, user or file not found
	FaultState    = 2 // invalid state transition
	FaultInvalid  = 3 // invalid argument
	FaultAuth     = 4 // not authenticated or not allowed
	FaultDevice   = 5 // capture device unreachable or refused
	FaultConflict = 6 // duplicate name, device in use, schedules that overlap on a device interface (SPEC §13)
)

// Paging of GetExperimentResults.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// Result kinds, the kind member of ResultsQuery.
const (
	KindCounters = "counters"
	KindFlows    = "flows"
	KindFiles    = "files"
)
