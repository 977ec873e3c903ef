package device

import (
	"github.com/gimsproject/gims/capture/job"
	"github.com/gimsproject/gims/deviceapi"
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

// CounterEntryOf is the wire form of a job's counter row.
func CounterEntryOf(c job.CounterRow) deviceapi.CounterEntry {
	return deviceapi.CounterEntry{Time: c.Time, Packets: c.Packets, Bytes: c.Bytes, TCPPackets: c.TCPPackets,
		UDPPackets: c.UDPPackets, ICMPPackets: c.ICMPPackets, OtherPackets: c.OtherPackets,
		TCPBytes: c.TCPBytes, UDPBytes: c.UDPBytes, ICMPBytes: c.ICMPBytes, OtherBytes: c.OtherBytes}
}

// FlowEntryOf is the wire form of a job's flow row.
func FlowEntryOf(f job.FlowRow) deviceapi.FlowEntry {
	return deviceapi.FlowEntry{
		Src: f.Src.String(), Dst: f.Dst.String(), SrcPort: int(f.SrcPort), DstPort: int(f.DstPort),
		Proto: int(f.Proto), VLAN: int(f.VLAN), Packets: f.Packets, Bytes: f.Bytes,
		RevPackets: f.RevPackets, RevBytes: f.RevBytes, Start: f.Start, End: f.End,
		StartMS: f.Start.UnixMilli(), EndMS: f.End.UnixMilli(), EndReason: f.EndReason,
	}
}
