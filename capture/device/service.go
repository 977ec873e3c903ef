package device

import (
	"fmt"
	"net/http"

	"github.com/gimsproject/gims/capture/job"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/ipfix"
	"github.com/gimsproject/gims/xmlrpc"
)

// Service holds the XML-RPC methods of the device API; it is registered
// as the default service, so they are called by their bare names.
type Service struct {
	h *Handler
}

// transforms are what every job may apply (Capabilities).
func transforms() []string { return []string{"counters", "flows", "anonymize", "pcap"} }

// serviceHelp is the system.methodHelp text of each method.
func serviceHelp() map[string]string {
	return map[string]string{
		"Capabilities": "Capabilities() returns {interfaces: [{name, link_type, description}], max_snaplen, transforms, storage_free_bytes, version, policy: {require_anonymization, payload, outputs, max_snaplen, max_duration_s, max_storage_bytes, key_holder}}.",
		"StartJob": "StartJob({interface, filter, snaplen?, promiscuous?, counters?: {interval_ms}, " +
			"flows?: {active_timeout_s, idle_timeout_s, biflow, collector}, pcap?, key? (base64, 32 bytes), " +
			"replay_speed?, experiment?, request_id?}) starts a capture job and returns its id; with a request_id (\"req:...\") it " +
			"returns the job that request already made, if any, instead of starting another.",
		"PauseJob":   "PauseJob(job) pauses a running job.",
		"ResumeJob":  "ResumeJob(job) resumes a paused job.",
		"StopJob":    "StopJob(job) ends a running or paused job; its results are flushed. Given a StartJob request_id instead, it ends that request's job if any (success if already done) and otherwise makes a later StartJob with it fail.",
		"JobStatus":  "JobStatus(job) returns the job's state, counters, progress and interrupted_s.",
		"JobResults": "JobResults(job, {kind: counters|flows|files, offset?, limit?}) returns a page of results.",
		"DeleteJob":  "DeleteJob(job) removes a done job with its files (fault 2 if it is not done).",
		"ListJobs":   "ListJobs() returns every job: [{id, state, interface, experiment, created, request_id?}].",
	}
}

// Capabilities describes the device.
func (s *Service) Capabilities(r *http.Request, _ *xmlrpc.NoArgs, reply *deviceapi.Capabilities) error {
	ifs, err := s.h.m.Interfaces()
	if err != nil {
		return err
	}
	out := make([]deviceapi.InterfaceInfo, len(ifs))
	for i, x := range ifs {
		out[i] = deviceapi.InterfaceInfo{Name: x.Name, LinkType: x.LinkType, Description: x.Description}
	}
	*reply = deviceapi.Capabilities{
		Interfaces:       out,
		MaxSnaplen:       deviceapi.MaxSnaplen,
		Transforms:       transforms(),
		StorageFreeBytes: s.h.m.StorageFree(),
		Version:          s.h.cfg.Version,
		Policy:           s.h.m.Policy(),
	}
	return nil
}

// StartJob validates and starts a job and returns its id.
func (s *Service) StartJob(r *http.Request, args *StartJobArgs, reply *string) error {
	id, err := s.h.m.StartJob(job.SpecOf(&args.Job))
	if err != nil {
		return err
	}
	*reply = id
	return nil
}

// PauseJob pauses a running job.
func (s *Service) PauseJob(r *http.Request, args *JobArgs, reply *bool) error {
	if err := s.h.m.PauseJob(args.Job); err != nil {
		return err
	}
	*reply = true
	return nil
}

// ResumeJob resumes a paused job.
func (s *Service) ResumeJob(r *http.Request, args *JobArgs, reply *bool) error {
	if err := s.h.m.ResumeJob(args.Job); err != nil {
		return err
	}
	*reply = true
	return nil
}

// StopJob ends a job once its results are on disk.
func (s *Service) StopJob(r *http.Request, args *JobArgs, reply *bool) error {
	if err := s.h.m.StopJob(args.Job); err != nil {
		return err
	}
	*reply = true
	return nil
}

// DeleteJob removes a done job and its files.
func (s *Service) DeleteJob(r *http.Request, args *JobArgs, reply *bool) error {
	if err := s.h.m.DeleteJob(args.Job); err != nil {
		return err
	}
	*reply = true
	return nil
}

// JobStatus returns a job's status.
func (s *Service) JobStatus(r *http.Request, args *JobArgs, reply *deviceapi.JobStatus) error {
	st, err := s.h.m.Status(args.Job)
	if err != nil {
		return err
	}
	*reply = deviceapi.JobStatus{
		ID: st.ID, State: string(st.State), Interface: st.Interface, Experiment: st.Experiment,
		Created: st.Created, Ended: st.Ended,
		Packets: st.Packets, Bytes: st.Bytes, Dropped: st.Dropped, IfDropped: st.IfDropped,
		FlowsExported: st.FlowsExported, CollectorLost: st.CollectorLost,
		NonIP: st.NonIP, Malformed: st.Malformed, Truncated: st.Truncated, Fragments: st.Fragments,
		SanitizedDrops: st.SanitizedDrops,
		ElapsedS:       st.ElapsedS, Progress: st.Progress, InterruptedS: st.InterruptedS,
		CPUPercent: st.CPUPercent, StorageUsedBytes: st.StorageUsedBytes, StorageFreeBytes: st.StorageFreeBytes,
		Errors: st.Errors,
	}
	if reply.Errors == nil {
		reply.Errors = []string{}
	}
	return nil
}

// JobResults returns a page of a job's counters, flows or files.
func (s *Service) JobResults(r *http.Request, args *JobResultsArgs, reply *any) error {
	res, err := s.h.m.Results(args.Job, args.Query.Kind, args.Query.Offset, args.Query.Limit)
	if err != nil {
		return err
	}
	switch rows := res.(type) {
	case []counters.Record:
		out := make([]deviceapi.CounterEntry, len(rows))
		for i := range rows {
			out[i] = counterEntry(&rows[i])
		}
		*reply = out
	case []ipfix.FlowRow:
		out := make([]deviceapi.FlowEntry, len(rows))
		for i := range rows {
			out[i] = flowEntry(&rows[i])
		}
		*reply = out
	case []job.FileInfo:
		out := make([]deviceapi.FileEntry, len(rows))
		for i, f := range rows {
			out[i] = deviceapi.FileEntry{Name: f.Name, Size: f.Size, URL: deviceapi.FileURL(args.Job, f.Name),
				Complete: f.Complete}
		}
		*reply = out
	default:
		return fmt.Errorf("unexpected result type %T", res)
	}
	return nil
}

// ListJobs lists every job, oldest first.
func (s *Service) ListJobs(r *http.Request, _ *xmlrpc.NoArgs, reply *[]deviceapi.JobSummary) error {
	list := s.h.m.List()
	out := make([]deviceapi.JobSummary, len(list))
	for i, j := range list {
		out[i] = deviceapi.JobSummary{ID: j.ID, State: string(j.State), Interface: j.Interface,
			Experiment: j.Experiment, Created: j.Created, RequestID: j.RequestID}
	}
	*reply = out
	return nil
}
