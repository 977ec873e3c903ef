package device

import (
	"time"

	"github.com/gimsproject/gims/capture/job"
)

// JobSpec is the struct parameter of StartJob (SPEC §4). Pointers mark the
// optional members whose SPEC default is not Go's zero value.
type JobSpec struct {
	Interface   string        `xmlrpc:"interface"`
	Filter      string        `xmlrpc:"filter"`
	Snaplen     int           `xmlrpc:"snaplen"`
	Promiscuous *bool         `xmlrpc:"promiscuous"` // default true
	Counters    *CountersSpec `xmlrpc:"counters"`
	Flows       *FlowsSpec    `xmlrpc:"flows"`
	Pcap        bool          `xmlrpc:"pcap"`
	// Key is the 32-byte Crypto-PAn key (base64 on the wire).
	Key         []byte  `xmlrpc:"key"`
	ReplaySpeed float64 `xmlrpc:"replay_speed"`
	Experiment  int     `xmlrpc:"experiment"`
}

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

// StartJobArgs are the parameters of StartJob.
type StartJobArgs struct {
	Job JobSpec
}

// JobArgs are the parameters of the methods that take a job id.
type JobArgs struct {
	Job string
}

// ResultsQuery is the struct parameter of JobResults.
type ResultsQuery struct {
	// Kind is "counters", "flows" or "files".
	Kind string `xmlrpc:"kind"`
	// Offset and Limit page counters and flows (limit 0 means 100, at
	// most 10000).
	Offset int `xmlrpc:"offset"`
	Limit  int `xmlrpc:"limit"`
}

// JobResultsArgs are the parameters of JobResults.
type JobResultsArgs struct {
	Job   string
	Query ResultsQuery
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
}

// JobStatus is the reply of JobStatus: the per-device fields of
// GetExperimentStatus plus the job's own.
type JobStatus struct {
	ID               string    `xmlrpc:"id"`
	State            string    `xmlrpc:"state"`
	Interface        string    `xmlrpc:"interface"`
	Experiment       int       `xmlrpc:"experiment"`
	Created          time.Time `xmlrpc:"created"`
	Ended            time.Time `xmlrpc:"ended,omitempty"`
	Packets          uint64    `xmlrpc:"packets"`
	Bytes            uint64    `xmlrpc:"bytes"`
	Dropped          uint64    `xmlrpc:"dropped"`
	IfDropped        uint64    `xmlrpc:"if_dropped"`
	FlowsExported    uint64    `xmlrpc:"flows_exported"`
	CollectorLost    uint64    `xmlrpc:"collector_lost"`
	NonIP            uint64    `xmlrpc:"non_ip"`
	Malformed        uint64    `xmlrpc:"malformed"`
	Truncated        uint64    `xmlrpc:"truncated"`
	Fragments        uint64    `xmlrpc:"fragments"`
	ElapsedS         float64   `xmlrpc:"elapsed_s"`
	Progress         float64   `xmlrpc:"progress"`
	InterruptedS     float64   `xmlrpc:"interrupted_s"`
	CPUPercent       float64   `xmlrpc:"cpu_percent"`
	StorageUsedBytes uint64    `xmlrpc:"storage_used_bytes"`
	StorageFreeBytes uint64    `xmlrpc:"storage_free_bytes"`
	Errors           []string  `xmlrpc:"errors"`
}

// JobSummary is one job in ListJobs.
type JobSummary struct {
	ID         string    `xmlrpc:"id"`
	State      string    `xmlrpc:"state"`
	Interface  string    `xmlrpc:"interface"`
	Experiment int       `xmlrpc:"experiment"`
	Created    time.Time `xmlrpc:"created"`
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

// CounterEntryOf is the wire form of a job's counter row.
func CounterEntryOf(c job.CounterRow) CounterEntry {
	return CounterEntry{Time: c.Time, Packets: c.Packets, Bytes: c.Bytes, TCPPackets: c.TCPPackets,
		UDPPackets: c.UDPPackets, ICMPPackets: c.ICMPPackets, OtherPackets: c.OtherPackets,
		TCPBytes: c.TCPBytes, UDPBytes: c.UDPBytes, ICMPBytes: c.ICMPBytes, OtherBytes: c.OtherBytes}
}

// FlowEntryOf is the wire form of a job's flow row.
func FlowEntryOf(f job.FlowRow) FlowEntry {
	return FlowEntry{
		Src: f.Src.String(), Dst: f.Dst.String(), SrcPort: int(f.SrcPort), DstPort: int(f.DstPort),
		Proto: int(f.Proto), VLAN: int(f.VLAN), Packets: f.Packets, Bytes: f.Bytes,
		RevPackets: f.RevPackets, RevBytes: f.RevBytes, Start: f.Start, End: f.End,
		StartMS: f.Start.UnixMilli(), EndMS: f.End.UnixMilli(), EndReason: f.EndReason,
	}
}

// FileEntry is one result file in JobResults kind "files"; URL is fetched
// with HTTP GET and the bearer token.
type FileEntry struct {
	Name string `xmlrpc:"name"`
	Size int64  `xmlrpc:"size"`
	URL  string `xmlrpc:"url"`
}
