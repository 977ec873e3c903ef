package job

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/gopacket/pcap"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/capture/output"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/ipfix"
)

// Status is a job's state and counters, the per-device fields of SPEC §3's
// GetExperimentStatus plus the job's own. Counters add up over every run
// of the job (a live job resumed after a restart keeps counting).
type Status struct {
	ID         string
	State      State
	Interface  string
	Experiment int
	Created    time.Time
	// Ended is when the job became done (zero before).
	Ended time.Time

	// Packets and Bytes count the packets that passed the filter (and
	// were not dropped while paused), bytes on the wire.
	Packets, Bytes uint64
	// Dropped and IfDropped are libpcap's kernel and interface drops.
	Dropped, IfDropped uint64
	// FlowsExported counts exported flow records.
	FlowsExported uint64
	// CollectorLost counts flow records the collector did not get (it was
	// unreachable); flows.ipfix has them all.
	CollectorLost uint64
	// NonIP, Malformed, Truncated and Fragments count packets without IP,
	// with a header that could not be decoded, cut short, and IP
	// fragments.
	NonIP, Malformed, Truncated, Fragments uint64
	// SanitizedDrops counts packets left out of packets.pcap because
	// sanitization left nothing safe of them (SPEC §8).
	SanitizedDrops uint64

	// ElapsedS is the running time in seconds, pauses excluded.
	ElapsedS float64
	// Progress is how far a file source was read, 0–100 (0 for live).
	Progress float64
	// InterruptedS is how long the daemon was down while the job ran, in
	// seconds, over all restarts.
	InterruptedS float64
	// CPUPercent is the daemon process's CPU use (all jobs), in percent of
	// one CPU, since the previous status.
	CPUPercent float64
	// StorageUsedBytes is the size of the job's files; StorageFreeBytes
	// the space left in the data directory.
	StorageUsedBytes, StorageFreeBytes uint64
	// Errors lists what went wrong (at most 20, each once).
	Errors []string
}

// Status returns a job's status.
func (m *Manager) Status(id string) (Status, error) {
	j, err := m.get(id)
	if err != nil {
		return Status{}, err
	}
	now := m.cfg.Now()
	j.mu.Lock()
	t := j.totalsLocked()
	st := Status{
		ID:             id,
		State:          j.p.State,
		Interface:      j.p.Spec.Interface,
		Experiment:     j.p.Spec.Experiment,
		Created:        j.p.Created,
		Ended:          j.p.Ended,
		Packets:        t.Packets,
		Bytes:          t.Bytes,
		Dropped:        t.Dropped,
		IfDropped:      t.IfDropped,
		FlowsExported:  t.FlowsExported,
		CollectorLost:  t.CollectorLost,
		NonIP:          t.NonIP,
		Malformed:      t.Malformed,
		Truncated:      t.Truncated,
		Fragments:      t.Fragments,
		SanitizedDrops: t.SanitizedDrops,
		ElapsedS:       j.runningLocked(now).Seconds(),
		InterruptedS:   j.p.Interrupted.Seconds(),
		Progress:       j.progressLocked(),
		Errors:         slices.Clone(j.p.Errors),
	}
	j.mu.Unlock()
	if st.Errors == nil {
		st.Errors = []string{}
	}
	st.CPUPercent = m.cpuSample()
	st.StorageUsedBytes = dirSize(j.dir)
	st.StorageFreeBytes = m.StorageFree()
	return st, nil
}

// StorageFree is the space left for results in the data directory, in
// bytes (what an unprivileged writer may use).
func (m *Manager) StorageFree() uint64 {
	free, _ := m.freeSpace()
	return free
}

func dirSize(dir string) uint64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n uint64
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += uint64(info.Size())
		}
	}
	return n
}

// Summary is a job in List.
type Summary struct {
	ID         string
	State      State
	Interface  string
	Experiment int
	Created    time.Time
	// RequestID is the StartJob request id that made the job, if any.
	RequestID string
}

// List returns every job, oldest first.
func (m *Manager) List() []Summary {
	m.mu.Lock()
	jobs := make([]*job, 0, len(m.jobs))
	for _, j := range m.jobs {
		jobs = append(jobs, j)
	}
	m.mu.Unlock()
	out := make([]Summary, 0, len(jobs))
	for _, j := range jobs {
		j.mu.Lock()
		out = append(out, Summary{ID: j.id, State: j.p.State, Interface: j.p.Spec.Interface,
			Experiment: j.p.Spec.Experiment, Created: j.p.Created, RequestID: j.p.Spec.RequestID})
		j.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Summary) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Results returns a page of a job's results: kind "counters" gives
// []counters.Record read back from counters.csv (oldest first), "flows"
// []ipfix.FlowRow, the largest flows first (bytes both ways; the TopFlows
// largest are kept), "files" []FileInfo (offset and limit do not apply).
// limit 0 means DefaultLimit; at most MaxLimit.
func (m *Manager) Results(id, kind string, offset, limit int) (any, error) {
	j, err := m.get(id)
	if err != nil {
		return nil, err
	}
	offset, limit, err = page(offset, limit)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindCounters:
		return counters.ReadCSV(j.path(countersFile), offset, limit)
	case KindFlows:
		if err := j.loadTop(); err != nil {
			return nil, err
		}
		rows := j.top.Sorted()
		if offset >= len(rows) {
			return []ipfix.FlowRow{}, nil
		}
		return rows[offset:min(len(rows), offset+limit)], nil
	case KindFiles:
		return j.files(), nil
	}
	return nil, invalidf("unknown result kind %q (want %s, %s or %s)", kind, KindCounters, KindFlows, KindFiles)
}

// loadFlows offers every flow of flows.ipfix, or of its parts, to the
// job's top flows.
func (j *job) loadFlows() error {
	if _, err := j.top.Load(j.path(flowsFile)); err != nil {
		return err
	}
	parts, err := output.Parts(j.path(flowsFile))
	if err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := j.top.Load(p.Path); err != nil {
			return err
		}
	}
	return nil
}

// loadTop reads the flows of a job loaded from disk on first use.
func (j *job) loadTop() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.topLoaded {
		return nil
	}
	if err := j.loadFlows(); err != nil {
		j.top.Reset()
		return err
	}
	j.topLoaded = true
	return nil
}

// files lists the job's result files: counters.csv, then flows.ipfix or
// its parts in order, then packets.pcap or its parts. A file is complete
// when it will not change any more: every file of a done job, and every
// part but the last of a running or paused one (the last one is being
// written, or is appended to after a restart).
func (j *job) files() []FileInfo {
	j.mu.Lock()
	done := j.p.State == StateDone
	j.mu.Unlock()
	out := []FileInfo{}
	for _, name := range resultFiles {
		if info, err := os.Stat(j.path(name)); err == nil && info.Mode().IsRegular() {
			out = append(out, FileInfo{Name: name, Size: info.Size(), Complete: done})
		}
		if name == countersFile {
			continue
		}
		parts, err := output.Parts(j.path(name))
		if err != nil {
			j.m.cfg.Logger.Warn("unable to list result parts", "job", j.id, "error", err)
			continue
		}
		for i, p := range parts {
			info, err := os.Stat(p.Path)
			if err != nil {
				continue // removed meanwhile (a file job replayed again)
			}
			out = append(out, FileInfo{Name: p.Name, Size: info.Size(), Complete: done || i < len(parts)-1})
		}
	}
	return out
}

// resultFile tells whether name is the name of a result file: one of
// resultFiles or a part of flows.ipfix or packets.pcap.
func resultFile(name string) bool {
	if slices.Contains(resultFiles[:], name) {
		return true
	}
	_, flows := output.PartNumber(flowsFile, name)
	_, pcap := output.PartNumber(pcapFile, name)
	return flows || pcap
}

// FilePath returns the path of a job's result file, for HTTP GET
// /files/<job>/<name>. Only the result file names (counters.csv,
// flows.ipfix, packets.pcap and the parts of the latter two, such as
// packets-00001.pcap) are served, never job.json, so no request reaches
// another path; anything else is ErrNotFound.
func (m *Manager) FilePath(id, name string) (string, error) {
	j, err := m.get(id)
	if err != nil {
		return "", err
	}
	if !resultFile(name) {
		return "", fmt.Errorf("%w: job %s has no file %q", ErrNotFound, id, name)
	}
	p := j.path(name)
	if info, err := os.Stat(p); err != nil || !info.Mode().IsRegular() {
		return "", fmt.Errorf("%w: job %s has no file %q", ErrNotFound, id, name)
	}
	return p, nil
}

// Interface is a capture source the device offers.
type Interface struct {
	// Name is the libpcap device name, or "file:<name>".
	Name string
	// LinkType is libpcap's name of the data link type ("EN10MB"), which
	// pcap_datalink_name_to_val turns back into the value filters are
	// compiled for; empty when the interface cannot be opened.
	LinkType string
	// Description is libpcap's description, or the file's size.
	Description string
}

// Interfaces lists the libpcap devices and the pcap/pcapng files of the
// pcap directory. Learning a device's link type opens it briefly.
func (m *Manager) Interfaces() ([]Interface, error) {
	var (
		devs []pcap.Interface
		err  error
		out  []Interface
	)
	for _, s := range m.synthetic {
		out = append(out, s.Interface)
	}
	if len(m.synthetic) == 0 {
		if devs, err = pcap.FindAllDevs(); err != nil {
			return nil, fmt.Errorf("unable to list interfaces: %w", err)
		}
	}
	for _, d := range devs {
		lt := ""
		lc := capture.DefaultLiveConfiguration()
		lc.Interface, lc.Snaplen, lc.BufferSize, lc.ReadTimeout = d.Name, 256, 1<<16, 10*time.Millisecond
		// libpcap's small buffer is enough to learn the link type, which
		// the afpacket engine reports the same (Ethernet) where it opens.
		lc.Engine.Engine = capture.EnginePcap
		if src, err := capture.OpenLive(lc); err == nil {
			lt = pcap.DatalinkValToName(int(src.LinkType()))
			src.Close()
		}
		out = append(out, Interface{Name: d.Name, LinkType: lt, Description: d.Description})
	}
	if m.cfg.PcapDir == "" {
		return out, nil
	}
	entries, err := os.ReadDir(m.cfg.PcapDir)
	if err != nil {
		return nil, fmt.Errorf("unable to list the pcap directory: %w", err)
	}
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if ext != ".pcap" && ext != ".pcapng" {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		src, err := capture.OpenFile(filepath.Join(m.cfg.PcapDir, e.Name()), "")
		if err != nil {
			m.cfg.Logger.Warn("unreadable file in the pcap directory", "file", e.Name(), "error", err)
			continue
		}
		out = append(out, Interface{
			Name:        deviceapi.FilePrefix + e.Name(),
			LinkType:    pcap.DatalinkValToName(int(src.LinkType())),
			Description: fmt.Sprintf("capture file, %d bytes", info.Size()),
		})
		src.Close()
	}
	return out, nil
}

// liveNames lists libpcap's device names.
func liveNames() ([]string, error) {
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return nil, fmt.Errorf("unable to list interfaces: %w", err)
	}
	names := make([]string, len(devs))
	for i, d := range devs {
		names[i] = d.Name
	}
	return names, nil
}
