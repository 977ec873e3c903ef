package job

import (
	"time"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/capture/output"
)

// outputs returns the result files (and collector) of one run of the job
// on src: those its spec asks for, in the job's directory, appended to
// when appendTo (a resumed live job). The largest flows also go to j.top,
// for Results.
func (j *job) outputs(src *capture.Source, appendTo bool) (*output.Writer, error) {
	s := &j.p.Spec
	cfg := output.DefaultConfiguration()
	cfg.LinkType, cfg.Snaplen, cfg.Append = src.LinkType(), src.Snaplen(), appendTo
	w := s.wire()
	cfg.RotateBytes, cfg.RotateEvery = w.RotateBytes(), time.Duration(s.RotateS)*time.Second
	deps := output.Dependencies{Logger: j.m.cfg.Logger, Report: j.addError}
	if s.Counters != nil {
		cfg.Counters = j.path(countersFile)
	}
	if s.Pcap {
		cfg.Pcap = j.path(pcapFile)
	}
	if s.Flows != nil {
		cfg.Flows = j.path(flowsFile)
		cfg.Collector = s.Flows.Collector
		cfg.IPFIX.Biflow = s.Flows.Biflow
		cfg.IPFIX.ObservationDomainID = domainOf(j.id)
		deps.Top = j.top
	}
	return output.New(cfg, deps)
}
