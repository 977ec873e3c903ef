package device

import (
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/ipfix"
)

// StartJobArgs are the parameters of StartJob.
type StartJobArgs struct {
	Job deviceapi.JobSpec
}

// JobArgs are the parameters of the methods that take a job id.
type JobArgs struct {
	Job string
}

// JobResultsArgs are the parameters of JobResults.
type JobResultsArgs struct {
	Job   string
	Query deviceapi.ResultsQuery
}

// counterEntry is the wire form of a counters.csv row. The aggregate
// manager converts the rows it reads from its own copies the same way
// (am/results.go).
func counterEntry(c *counters.Record) deviceapi.CounterEntry {
	return deviceapi.CounterEntry{Time: c.Start, Packets: c.Packets, Bytes: c.Bytes, TCPPackets: c.TCP,
		UDPPackets: c.UDP, ICMPPackets: c.ICMP, OtherPackets: c.Other,
		TCPBytes: c.TCPBytes, UDPBytes: c.UDPBytes, ICMPBytes: c.ICMPBytes, OtherBytes: c.OtherBytes}
}

// flowEntry is the wire form of a flow row. The aggregate manager
// converts the rows it reads from its own copies the same way
// (am/results.go).
func flowEntry(f *ipfix.FlowRow) deviceapi.FlowEntry {
	return deviceapi.FlowEntry{
		Src: f.Src.String(), Dst: f.Dst.String(), SrcPort: int(f.SrcPort), DstPort: int(f.DstPort),
		Proto: int(f.Proto), VLAN: int(f.VLAN), Packets: f.Packets, Bytes: f.Bytes,
		RevPackets: f.RevPackets, RevBytes: f.RevBytes, Start: f.Start, End: f.End,
		StartMS: f.Start.UnixMilli(), EndMS: f.End.UnixMilli(), EndReason: f.EndReason,
	}
}
