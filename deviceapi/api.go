// Package deviceapi is the contract of the capture daemon's device API
// (SPEC §4): the XML-RPC structs of its methods, its fault codes and
// paths, the checks of a job specification that need no device (the same
// on both sides: the aggregate manager refuses a configuration with the
// device's own words before any device sees it), and the client the
// aggregate manager calls a device with.
//
// It imports neither the capture runner nor libpcap, so that the
// aggregate manager links only this of the capture daemon. The server is
// capture/device.
package deviceapi

import "time"

// Fault codes of the device API (SPEC §3).
const (
	FaultNotFound = 1 // unknown job or file
	FaultState    = 2 // invalid state transition
	FaultInvalid  = 3 // invalid argument
	FaultAuth     = 4 // not authenticated
	FaultRefused  = 5 // the device refuses (too many jobs)
)

// Paths of the device API on the daemon.
const (
	// RPCPath is where the XML-RPC methods are served (POST).
	RPCPath = "/RPC2"
	// FilesPath is the prefix of the result files (GET FilesPath<job>/<name>).
	FilesPath = "/files/"
)

// FileURL is the path under which a job's result file is served.
func FileURL(id, name string) string { return FilesPath + id + "/" + name }

// JobSpec is the struct parameter of StartJob (SPEC §4). Pointers mark the
// optional members whose SPEC default is not Go's zero value; Check fills
// the others.
type JobSpec struct {
	// Interface is a capture interface the device lists, or
	// FilePrefix+name for a file of its pcap directory.
	Interface   string        `xmlrpc:"interface"`
	Filter      string        `xmlrpc:"filter"`
	Snaplen     int           `xmlrpc:"snaplen"`
	Promiscuous *bool         `xmlrpc:"promiscuous"` // default true
	Counters    *CountersSpec `xmlrpc:"counters"`
	Flows       *FlowsSpec    `xmlrpc:"flows"`
	Pcap        bool          `xmlrpc:"pcap"`
	// Key is the 32-byte Crypto-PAn key (base64 on the wire). With a key
	// the job's outputs are sanitized (SPEC §8).
	Key []byte `xmlrpc:"key"`
	// Payload is what sanitization does with payloads: PayloadStrip (the
	// default with a key), PayloadZero or PayloadKeep. Only with a key.
	Payload string `xmlrpc:"payload,omitempty"`
	// MAC is what sanitization does with MAC addresses: MACKeyed (the
	// default with a key), MACZero or MACKeep. Only with a key.
	MAC         string  `xmlrpc:"mac,omitempty"`
	ReplaySpeed float64 `xmlrpc:"replay_speed"`
	Experiment  int     `xmlrpc:"experiment"`
	// MaxStorageBytes bounds the size of the job's result files: the job
	// stops itself, done with the reason in its status errors, when they
	// reach it (SPEC §9). 0 (or absent) means no bound; never negative.
	MaxStorageBytes int64 `xmlrpc:"max_storage_bytes,omitempty"`
	// RotateMB and RotateS split the pcap file and the IPFIX file into
	// parts (SPEC §13): a part is closed, a complete file of its own, and
	// the next one begun when it holds RotateMB megabytes (10^6 bytes) or
	// RotateS seconds of capture. 0 (or absent) leaves that bound out;
	// both 0, the files are not split. See CheckSettings for the bounds.
	RotateMB int `xmlrpc:"rotate_mb,omitempty"`
	RotateS  int `xmlrpc:"rotate_s,omitempty"`
	// RequestID, when set, makes StartJob idempotent: a StartJob with the
	// request id of a job the device has returns that job's id instead of
	// starting another, and StopJob takes the request id in place of the
	// job id (see ValidRequestID). The aggregate manager sets it, so that
	// a start whose answer it did not get (a timeout) can be found and
	// undone.
	RequestID string `xmlrpc:"request_id,omitempty"`
}

// IsPromiscuous is Promiscuous with its SPEC default (true when absent).
func (s *JobSpec) IsPromiscuous() bool { return s.Promiscuous == nil || *s.Promiscuous }

// CountersSpec is the counters member of JobSpec.
type CountersSpec struct {
	IntervalMS int `xmlrpc:"interval_ms"`
}

// FlowsSpec is the flows member of JobSpec.
type FlowsSpec struct {
	ActiveTimeoutS int    `xmlrpc:"active_timeout_s"`
	IdleTimeoutS   int    `xmlrpc:"idle_timeout_s"`
	Biflow         *bool  `xmlrpc:"biflow"` // default true
	Collector      string `xmlrpc:"collector"`
}

// IsBiflow is Biflow with its SPEC default (true when absent).
func (f *FlowsSpec) IsBiflow() bool { return f.Biflow == nil || *f.Biflow }

// ResultsQuery is the struct parameter of JobResults.
type ResultsQuery struct {
	// Kind is "counters", "flows" or "files".
	Kind string `xmlrpc:"kind"`
	// Offset and Limit page counters and flows (limit 0 means 100, at
	// most 10000).
	Offset int `xmlrpc:"offset"`
	Limit  int `xmlrpc:"limit"`
}

// InterfaceInfo is one capture source in Capabilities.
type InterfaceInfo struct {
	Name        string `xmlrpc:"name"`
	LinkType    string `xmlrpc:"link_type"`
	Description string `xmlrpc:"description"`
}

// Capabilities is the reply of Capabilities (SPEC §3 GetDeviceCapabilities).
type Capabilities struct {
	Interfaces       []InterfaceInfo `xmlrpc:"interfaces"`
	MaxSnaplen       int             `xmlrpc:"max_snaplen"`
	Transforms       []string        `xmlrpc:"transforms"`
	StorageFreeBytes uint64          `xmlrpc:"storage_free_bytes"`
	Version          string          `xmlrpc:"version"`
	// Policy is the device owner's own limit on jobs (gims-capd
	// -policy), with its absent members filled (Policy.Normalize).
	Policy Policy `xmlrpc:"policy"`
}

// JobStatus is the reply of JobStatus: the per-device fields of
// GetExperimentStatus plus the job's own.
type JobStatus struct {
	ID            string    `xmlrpc:"id"`
	State         string    `xmlrpc:"state"`
	Interface     string    `xmlrpc:"interface"`
	Experiment    int       `xmlrpc:"experiment"`
	Created       time.Time `xmlrpc:"created"`
	Ended         time.Time `xmlrpc:"ended,omitempty"`
	Packets       uint64    `xmlrpc:"packets"`
	Bytes         uint64    `xmlrpc:"bytes"`
	Dropped       uint64    `xmlrpc:"dropped"`
	IfDropped     uint64    `xmlrpc:"if_dropped"`
	FlowsExported uint64    `xmlrpc:"flows_exported"`
	CollectorLost uint64    `xmlrpc:"collector_lost"`
	NonIP         uint64    `xmlrpc:"non_ip"`
	Malformed     uint64    `xmlrpc:"malformed"`
	Truncated     uint64    `xmlrpc:"truncated"`
	Fragments     uint64    `xmlrpc:"fragments"`
	// SanitizedDrops counts the packets left out of packets.pcap because
	// sanitization left nothing safe of them (SPEC §8).
	SanitizedDrops   uint64   `xmlrpc:"sanitized_drops"`
	ElapsedS         float64  `xmlrpc:"elapsed_s"`
	Progress         float64  `xmlrpc:"progress"`
	InterruptedS     float64  `xmlrpc:"interrupted_s"`
	CPUPercent       float64  `xmlrpc:"cpu_percent"`
	StorageUsedBytes uint64   `xmlrpc:"storage_used_bytes"`
	StorageFreeBytes uint64   `xmlrpc:"storage_free_bytes"`
	Errors           []string `xmlrpc:"errors"`
}

// JobSummary is one job in ListJobs.
type JobSummary struct {
	ID         string    `xmlrpc:"id"`
	State      string    `xmlrpc:"state"`
	Interface  string    `xmlrpc:"interface"`
	Experiment int       `xmlrpc:"experiment"`
	Created    time.Time `xmlrpc:"created"`
	// RequestID is the StartJob request id that made the job, if any.
	RequestID string `xmlrpc:"request_id,omitempty"`
}

// CounterEntry is one interval in JobResults kind "counters". The bytes
// per protocol class (tcp_bytes...) add up to bytes; they are an addition
// to the members of SPEC §3, zero for jobs whose counters were written
// before they existed and absent from older devices' answers.
type CounterEntry struct {
	Time         time.Time `xmlrpc:"time"`
	Packets      uint64    `xmlrpc:"packets"`
	Bytes        uint64    `xmlrpc:"bytes"`
	TCPPackets   uint64    `xmlrpc:"tcp_packets"`
	UDPPackets   uint64    `xmlrpc:"udp_packets"`
	ICMPPackets  uint64    `xmlrpc:"icmp_packets"`
	OtherPackets uint64    `xmlrpc:"other_packets"`
	TCPBytes     uint64    `xmlrpc:"tcp_bytes"`
	UDPBytes     uint64    `xmlrpc:"udp_bytes"`
	ICMPBytes    uint64    `xmlrpc:"icmp_bytes"`
	OtherBytes   uint64    `xmlrpc:"other_bytes"`
}

// FlowEntry is one flow in JobResults kind "flows". Start and End are
// dateTime.iso8601 (whole seconds); StartMS and EndMS keep the
// milliseconds since the Unix epoch of the IPFIX record.
type FlowEntry struct {
	Src        string    `xmlrpc:"src"`
	Dst        string    `xmlrpc:"dst"`
	SrcPort    int       `xmlrpc:"sport"`
	DstPort    int       `xmlrpc:"dport"`
	Proto      int       `xmlrpc:"proto"`
	VLAN       int       `xmlrpc:"vlan"`
	Packets    uint64    `xmlrpc:"packets"`
	Bytes      uint64    `xmlrpc:"bytes"`
	RevPackets uint64    `xmlrpc:"rev_packets"`
	RevBytes   uint64    `xmlrpc:"rev_bytes"`
	Start      time.Time `xmlrpc:"start"`
	End        time.Time `xmlrpc:"end"`
	StartMS    int64     `xmlrpc:"start_ms"`
	EndMS      int64     `xmlrpc:"end_ms"`
	EndReason  string    `xmlrpc:"end_reason"`
}

// FileEntry is one result file in JobResults kind "files"; URL is fetched
// with HTTP GET and the bearer token. The parts of a rotated file are
// listed in order (RotateMB, RotateS).
type FileEntry struct {
	Name string `xmlrpc:"name"`
	Size int64  `xmlrpc:"size"`
	URL  string `xmlrpc:"url"`
	// Complete tells that the file will not change any more: a part
	// closed by rotation, or any file of a done job. The file being
	// written is not complete. Absent from older devices (false).
	Complete bool `xmlrpc:"complete"`
}
