package am

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/ipfix"
)

// FilesPath is where the AM serves result files: FilesPath + "<id>/<position>/<name>".
const FilesPath = "/files/"

// GetExperimentResults returns a page of an experiment's counters
// ([]amapi.CounterRow, by time), flows ([]amapi.FlowRow, largest first) or files
// ([]amapi.FileRow). Results come from the devices, or from the AM's copies
// when a device cannot be reached or the final copies are pulled.
//
// An answer is kept for a second at most, until the experiment changes
// (resultscache.go).
func (m *Manager) GetExperimentResults(ctx context.Context, p Principal, id int64, q amapi.ResultsQuery) (any, error) {
	version := m.db.ExperimentVersion(id)
	e, err := m.experiment(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if q.Offset < 0 {
		return nil, invalidf("offset must not be negative, got %d", q.Offset)
	}
	if q.Limit < 0 || q.Limit > amapi.MaxLimit {
		return nil, invalidf("limit must be between 1 and %d, got %d", amapi.MaxLimit, q.Limit)
	}
	if q.Limit == 0 {
		q.Limit = amapi.DefaultLimit
	}
	if q.Offset > 1<<20 {
		return nil, invalidf("offset must be at most %d", 1<<20)
	}
	switch q.Kind {
	case amapi.KindCounters, amapi.KindFlows, amapi.KindFiles:
	default:
		return nil, invalidf("kind must be %q, %q or %q, not %q", amapi.KindCounters, amapi.KindFlows, amapi.KindFiles, q.Kind)
	}
	if q.Kind == amapi.KindFiles {
		q.Offset, q.Limit = 0, 0 // not paged
	}
	// The callers that ask at once share one fetch, which a caller that
	// goes away does not cut short (the device calls have their timeout).
	fetchCtx := context.WithoutCancel(ctx)
	return m.keptResults(ctx, resultsKey{id: id, version: version, query: q}, func() (any, error) {
		switch q.Kind {
		case amapi.KindCounters:
			return m.counters(fetchCtx, &e, q.Offset, q.Limit)
		case amapi.KindFlows:
			return m.flows(fetchCtx, &e, q.Offset, q.Limit)
		}
		return m.files(fetchCtx, &e)
	})
}

// source says where one pairing's results are read: from the device
// (client set) or from the AM's local copies.
type source struct {
	pair   *db.Pairing
	client *deviceapi.Client
	dir    string // local copies
}

// sources picks, per pairing with a job, the device or the local copies.
func (m *Manager) sources(ctx context.Context, e *db.Experiment) []source {
	var out []source
	for i := range e.Devices {
		pair := &e.Devices[i]
		if pair.Job == "" {
			continue
		}
		s := source{pair: pair, dir: m.pairDir(e.ID, pair.Position)}
		if !e.ResultsPulled {
			if d, err := m.db.GetDevice(ctx, pair.Device); err == nil {
				s.client, _ = m.client(&d)
			}
		}
		out = append(out, s)
	}
	return out
}

// pairDir is the folder of a pairing's local copies.
func (m *Manager) pairDir(id int64, position int) string {
	return filepath.Join(m.cfg.DataDir, "experiments", strconv.FormatInt(id, 10), strconv.Itoa(position))
}

// counters merges the devices' counter rows by time.
func (m *Manager) counters(ctx context.Context, e *db.Experiment, offset, limit int) ([]amapi.CounterRow, error) {
	rows := []amapi.CounterRow{}
	for _, s := range m.sources(ctx, e) {
		var got []deviceapi.CounterEntry
		err := errNoDevice
		if s.client != nil {
			got, err = s.client.Counters(ctx, s.pair.Job, 0, offset+limit)
		}
		if err != nil {
			local, lerr := counters.ReadCSV(filepath.Join(s.dir, "counters.csv"), 0, offset+limit)
			if lerr != nil {
				return nil, fmt.Errorf("counters of %s: %w", pairName(s.pair), lerr)
			}
			got = convert(local, counterEntry)
		}
		for _, c := range got {
			rows = append(rows, counterRow(c, s.pair))
		}
	}
	slices.SortStableFunc(rows, func(a, b amapi.CounterRow) int { return a.Time.Compare(b.Time) })
	return page(rows, offset, limit), nil
}

// flows merges the devices' largest flows.
func (m *Manager) flows(ctx context.Context, e *db.Experiment, offset, limit int) ([]amapi.FlowRow, error) {
	rows := []amapi.FlowRow{}
	n := min(offset+limit, amapi.MaxLimit)
	for _, s := range m.sources(ctx, e) {
		var got []deviceapi.FlowEntry
		err := errNoDevice
		if s.client != nil {
			got, err = s.client.Flows(ctx, s.pair.Job, 0, n)
		}
		if err != nil {
			local, lerr := readLocalFlows(s.dir, n)
			if lerr != nil {
				return nil, fmt.Errorf("flows of %s: %w", pairName(s.pair), lerr)
			}
			got = convert(local, flowEntry)
		}
		for _, f := range got {
			rows = append(rows, flowRow(f, s.pair))
		}
	}
	slices.SortStableFunc(rows, func(a, b amapi.FlowRow) int { return cmp.Compare(b.Bytes+b.RevBytes, a.Bytes+a.RevBytes) })
	return page(rows, offset, limit), nil
}

// readLocalFlows returns the n largest flows of a pairing's local copies:
// flows.ipfix, or its parts (flows-00001.ipfix…) when the files rotated.
func readLocalFlows(dir string, n int) ([]ipfix.FlowRow, error) {
	parts, err := filepath.Glob(filepath.Join(dir, "flows-*.ipfix"))
	if err != nil {
		return nil, err
	}
	top := ipfix.NewTopFlows(n)
	for _, path := range append([]string{filepath.Join(dir, "flows.ipfix")}, parts...) {
		if _, err := top.Load(path); err != nil {
			return nil, err
		}
	}
	return top.Sorted(), nil
}

// counterRow is a device's counter entry as the AM's API shows it.
func counterRow(c deviceapi.CounterEntry, pair *db.Pairing) amapi.CounterRow {
	return amapi.CounterRow{CounterEntry: c, Device: pair.Device, Interface: pair.Interface}
}

// flowRow is a device's flow entry as the AM's API shows it.
func flowRow(f deviceapi.FlowEntry, pair *db.Pairing) amapi.FlowRow {
	return amapi.FlowRow{FlowEntry: f, Device: pair.Device, Interface: pair.Interface}
}

// errNoDevice marks a pairing whose results are read from the AM's copies.
var errNoDevice = errors.New("no device to ask")

// counterEntry is the device API's form of a counters.csv row, as the
// device answers it (capture/device converts its rows the same way).
func counterEntry(c counters.Record) deviceapi.CounterEntry {
	return deviceapi.CounterEntry{Time: c.Start, Packets: c.Packets, Bytes: c.Bytes, TCPPackets: c.TCP,
		UDPPackets: c.UDP, ICMPPackets: c.ICMP, OtherPackets: c.Other,
		TCPBytes: c.TCPBytes, UDPBytes: c.UDPBytes, ICMPBytes: c.ICMPBytes, OtherBytes: c.OtherBytes}
}

// flowEntry is the device API's form of a flow row, as the device
// answers it (capture/device converts its rows the same way).
func flowEntry(f ipfix.FlowRow) deviceapi.FlowEntry {
	return deviceapi.FlowEntry{
		Src: f.Src.String(), Dst: f.Dst.String(), SrcPort: int(f.SrcPort), DstPort: int(f.DstPort),
		Proto: int(f.Proto), VLAN: int(f.VLAN), Packets: f.Packets, Bytes: f.Bytes,
		RevPackets: f.RevPackets, RevBytes: f.RevBytes, Start: f.Start, End: f.End,
		StartMS: f.Start.UnixMilli(), EndMS: f.End.UnixMilli(), EndReason: f.EndReason,
	}
}

// convert maps a slice.
func convert[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, x := range in {
		out[i] = f(x)
	}
	return out
}

// page returns rows [offset, offset+limit).
func page[T any](rows []T, offset, limit int) []T {
	if offset >= len(rows) {
		return rows[:0]
	}
	return rows[offset:min(len(rows), offset+limit)]
}

// files lists the result files of every pairing: the device's (marked
// Local when the AM's copy is up to date), or the AM's copies when the
// device cannot be reached or the final copies are pulled.
func (m *Manager) files(ctx context.Context, e *db.Experiment) ([]amapi.FileRow, error) {
	local, err := m.db.ResultFiles(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	out := []amapi.FileRow{}
	for _, s := range m.sources(ctx, e) {
		var remote []deviceapi.FileEntry
		err := errNoDevice
		if s.client != nil {
			remote, err = s.client.Files(ctx, s.pair.Job)
		}
		if err == nil {
			for _, f := range remote {
				row := amapi.FileRow{Name: f.Name, Size: f.Size, URL: fileURL(e.ID, s.pair.Position, f.Name),
					Device: s.pair.Device, Interface: s.pair.Interface, Complete: f.Complete}
				if lf, ok := findLocal(local, s.pair.Position, f.Name); ok && lf.Size == f.Size {
					row.Local = true
				}
				out = append(out, row)
			}
			continue
		}
		for _, lf := range local {
			if lf.Position == s.pair.Position {
				// The copies are final once the results are pulled;
				// otherwise the device may still add to them.
				out = append(out, amapi.FileRow{Name: lf.Name, Size: lf.Size, URL: fileURL(e.ID, lf.Position, lf.Name),
					Device: s.pair.Device, Interface: s.pair.Interface, Local: true, Complete: e.ResultsPulled})
			}
		}
	}
	return out, nil
}

// fileURL is the AM path of a result file.
func fileURL(id int64, position int, name string) string {
	return fmt.Sprintf("%s%d/%d/%s", FilesPath, id, position, name)
}

// findLocal finds the local copy of a pairing's file.
func findLocal(files []db.ResultFile, position int, name string) (db.ResultFile, bool) {
	for _, f := range files {
		if f.Position == position && f.Name == name {
			return f, true
		}
	}
	return db.ResultFile{}, false
}

// ResultFile is an open result file to serve: a local copy (File set, so
// it can be served with ranges) or a stream from the device (Body).
type ResultFile struct {
	// Name is the download name: "exp<id>-<device>-<name>".
	Name    string
	Size    int64 // -1 when unknown
	ModTime time.Time
	File    *os.File
	Body    io.ReadCloser
}

// Close closes whichever is open.
func (f *ResultFile) Close() error {
	if f.File != nil {
		return f.File.Close()
	}
	return f.Body.Close()
}

// OpenResultFile opens a result file of experiment id for p: the AM's
// copy when the final copies are pulled or the device cannot serve it,
// else the device's own, streamed.
func (m *Manager) OpenResultFile(ctx context.Context, p Principal, id int64, position int, name string) (*ResultFile, error) {
	e, err := m.experiment(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if position < 0 || position >= len(e.Devices) || e.Devices[position].Job == "" || !validFileName(name) {
		return nil, fmt.Errorf("%w: file %d/%s of experiment %d", ErrNotFound, position, name, id)
	}
	pair := &e.Devices[position]
	out := &ResultFile{Name: fmt.Sprintf("exp%d-%s-%s", id, pair.Device, name), Size: -1}
	if !e.ResultsPulled {
		if d, err := m.db.GetDevice(ctx, pair.Device); err == nil {
			if c, err := m.client(&d); err == nil {
				if body, size, err := c.OpenFile(ctx, pair.Job, name); err == nil {
					out.Body, out.Size, out.ModTime = body, size, m.cfg.Now()
					return out, nil
				}
			}
		}
	}
	f, err := os.Open(filepath.Join(m.pairDir(id, position), name))
	if err != nil {
		return nil, fmt.Errorf("%w: file %d/%s of experiment %d (no local copy, device unavailable)", ErrNotFound, position, name, id)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	out.File, out.Size, out.ModTime = f, info.Size(), info.ModTime()
	return out, nil
}

// validFileName accepts a plain file name (no path).
func validFileName(name string) bool {
	return name != "" && name != "." && name != ".." && filepath.Base(name) == name && len(name) <= 128
}

// pull brings the AM's copies of e's result files up to date, the
// devices DeviceConcurrency at a time: a file that grew is completed with
// what it grew by (an HTTP Range request, appended to the copy), any
// other change downloads it again (to a temporary file, renamed into
// place). The copies' records are written in one transaction. It returns
// the first error; the other files are still pulled. A part of a rotated
// file that the device lists as complete never changes again: once its
// copy has its size, it is not fetched again.
func (m *Manager) pull(ctx context.Context, e *db.Experiment) error {
	defer m.pullLock(e.ID)()
	local, err := m.db.ResultFiles(ctx, e.ID)
	if err != nil {
		return err
	}
	clients, missing, err := m.deviceClients(ctx, e)
	if err != nil {
		return err
	}
	errs := make([]error, len(e.Devices))
	pulled := make([][]db.ResultFile, len(e.Devices))
	m.fanOut(len(e.Devices), func(i int) {
		pair := &e.Devices[i]
		if pair.Job == "" {
			return
		}
		if err, ok := missing[pair.Device]; ok {
			errs[i] = fmt.Errorf("pull %s: %w", pairName(pair), err)
			return
		}
		pulled[i], errs[i] = m.pullPair(ctx, e.ID, clients[pair.Device], pair, local)
	})
	var files []db.ResultFile
	for _, p := range pulled {
		files = append(files, p...)
	}
	if err := m.db.PutResultFiles(ctx, e.ID, files); err != nil {
		return err
	}
	// The flow store takes the IPFIX files one at a time: one writer.
	for _, f := range files {
		if !strings.HasSuffix(f.Name, ".ipfix") {
			continue
		}
		for i := range e.Devices {
			if e.Devices[i].Position == f.Position {
				m.ingestPulled(ctx, e.ID, &e.Devices[i], f.Path)
			}
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// pullPair pulls one pairing's files and returns the copies it updated.
func (m *Manager) pullPair(ctx context.Context, id int64, c *deviceapi.Client, pair *db.Pairing,
	local []db.ResultFile) ([]db.ResultFile, error) {
	remote, err := c.Files(ctx, pair.Job)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", pairName(pair), deviceError(pair.Device, err))
	}
	dir := m.pairDir(id, pair.Position)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("pull %s: %w", pairName(pair), err)
	}
	var out []db.ResultFile
	for _, f := range remote {
		if !validFileName(f.Name) {
			continue
		}
		path := filepath.Join(dir, f.Name)
		lf, known := findLocal(local, pair.Position, f.Name)
		if known && lf.Size == f.Size {
			continue
		}
		size, err := m.fetch(ctx, c, pair.Job, f.Name, path, f.Size)
		if err != nil {
			return out, fmt.Errorf("pull %s %s: %w", pairName(pair), f.Name, err)
		}
		out = append(out, db.ResultFile{Position: pair.Position, Name: f.Name, Size: size, Path: path, Pulled: m.cfg.Now()})
	}
	return out, nil
}

// pullLock takes experiment id's pull lock and returns its release: the
// pulls of one experiment (the monitor's, the final one, a caller's) run
// one after the other, each reading the copies the one before recorded.
func (m *Manager) pullLock(id int64) (unlock func()) {
	m.pullMu.Lock()
	l, ok := m.pullLocks[id]
	if !ok {
		l = new(sync.Mutex)
		m.pullLocks[id] = l
	}
	m.pullMu.Unlock()
	l.Lock()
	return l.Unlock
}

// overlap is how many bytes of a copy's end an incremental pull asks for
// again and compares, so that a file the device rewrote (a file job
// replayed after a restart) is not taken for one that grew.
const overlap = 64

// fetch brings the copy at path up to the device's file of size bytes:
// when the copy is a shorter beginning of it, only the rest is fetched
// and appended; otherwise the whole file is downloaded again.
func (m *Manager) fetch(ctx context.Context, c *deviceapi.Client, jobID, name, path string, size int64) (int64, error) {
	if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() && info.Size() > 0 && info.Size() < size {
		n, err := appendFrom(ctx, c, jobID, name, path, info.Size())
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, errRewritten) {
			return 0, err
		}
	}
	return m.download(ctx, c, jobID, name, path)
}

// errRewritten says that a device's file does not begin as the copy does.
var errRewritten = errors.New("the file changed, not only grew")

// appendFrom appends to the copy at path (have bytes) what the device's
// file holds past them, after checking that the copy's last bytes are
// the file's; it returns the copy's new size. errRewritten: they are not
// (or the device sent the whole file), download it again.
func appendFrom(ctx context.Context, c *deviceapi.Client, jobID, name, path string, have int64) (int64, error) {
	back := min(have, overlap)
	body, partial, err := c.OpenFileFrom(ctx, jobID, name, have-back)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	if !partial {
		return 0, errRewritten
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	mine, theirs := make([]byte, back), make([]byte, back)
	if _, err := f.ReadAt(mine, have-back); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(body, theirs); err != nil || !bytes.Equal(mine, theirs) {
		return 0, errRewritten
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.Copy(f, body)
	if err != nil {
		// The copy keeps what it had: the next pull goes on from there.
		_ = f.Truncate(have)
		return 0, err
	}
	return have + n, f.Close()
}

// download copies a device's file to path through a temporary file.
func (m *Manager) download(ctx context.Context, c *deviceapi.Client, jobID, name, path string) (int64, error) {
	body, _, err := c.OpenFile(ctx, jobID, name)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+name+".*")
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(tmp, body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return 0, err
	}
	return n, nil
}
