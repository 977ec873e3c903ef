package web

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/am/api"
	"github.com/gimsproject/gims/amapi"
)

// deviceRow is one device interface of the live status, with its rates.
type deviceRow struct {
	amapi.DeviceStatus
	PPS, BPS float64
	IsFile   bool
}

// statusView is the data of the "status" fragment: the live counters
// and the lifecycle buttons legal in the current state.
type statusView struct {
	ID      int64
	S       amapi.Status
	Devices []deviceRow
	// PPS and BPS sum the devices' rates.
	PPS, BPS float64
	// Poll keeps the fragment polling (running or paused).
	Poll       bool
	IntervalMS int
	Start      bool
	Pause      bool
	Resume     bool
	Stop       bool
	// Delete shows the link to the deletion's confirmation step (not
	// while running or paused).
	Delete bool
}

// status reads an experiment's live status from the manager.
func (h *Handler) status(r *http.Request, s *session, id int64) (statusView, error) {
	st, err := h.m.GetExperimentStatus(r.Context(), s.User, id)
	if err != nil {
		return statusView{}, err
	}
	v := statusView{ID: id, S: st, IntervalMS: int(h.cfg.StatusInterval.Milliseconds()),
		Poll:  st.State == am.StateRunning || st.State == am.StatePaused || !st.NextStart.IsZero(),
		Start: st.State == am.StateConfigured, Pause: st.State == am.StateRunning,
		Resume: st.State == am.StatePaused, Stop: st.State == am.StateRunning || st.State == am.StatePaused,
		Delete: st.State != am.StateRunning && st.State != am.StatePaused}
	now := h.cfg.Now()
	for i, d := range st.Devices {
		row := deviceRow{DeviceStatus: d, IsFile: strings.HasPrefix(d.Interface, "file:")}
		pps, bps := h.rates.rate(rateKey{id, i}, d.ElapsedS, d.Packets, d.Bytes, now)
		if d.State == am.StateRunning && st.State == am.StateRunning {
			row.PPS, row.BPS = pps, bps
			v.PPS += pps
			v.BPS += bps
		}
		v.Devices = append(v.Devices, row)
	}
	return v, nil
}

// statusFragment answers the live status poll.
func (h *Handler) statusFragment(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := experimentID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.status(r, s, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if prev := r.URL.Query().Get("state"); prev != "" && prev != v.S.State {
		// The charts, flows and files refresh once more, and a state
		// that allows configuring again needs the whole page.
		w.Header().Set("HX-Trigger", "gims-state-changed")
	}
	h.fragment(w, r, "status", v)
}

// Flow table sort keys.
var flowSorts = []string{"bytes", "packets", "src", "dst", "sport", "dport", "proto", "start", "duration"}

// resultsView is the data of the "results" fragment: the files to
// download and the largest flows.
type resultsView struct {
	ID         int64
	State      string
	Poll       bool
	IntervalMS int
	// HasJobs tells whether the experiment ever started.
	HasJobs     bool
	Files       []amapi.FileRow
	Flows       []amapi.FlowRow
	Sort        string
	Dir         string
	Anonymized  bool
	Fingerprint string
	Error       string
}

// SortQuery is the query string of a column header: the other direction
// when the table is sorted by it already.
func (v resultsView) SortQuery(key string) string {
	dir := "desc"
	if v.Sort == key && v.Dir == "desc" {
		dir = "asc"
	}
	return "sort=" + key + "&dir=" + dir
}

// Arrow marks the sorted column.
func (v resultsView) Arrow(key string) string {
	if v.Sort != key {
		return ""
	}
	if v.Dir == "asc" {
		return " ▲"
	}
	return " ▼"
}

// AriaSort is a column header's aria-sort: the sorted column says its
// direction, the others "none".
func (v resultsView) AriaSort(key string) string {
	switch {
	case v.Sort != key:
		return "none"
	case v.Dir == "asc":
		return "ascending"
	}
	return "descending"
}

// Query is the current sort as a query string.
func (v resultsView) Query() string { return "sort=" + v.Sort + "&dir=" + v.Dir }

// results reads an experiment's files and largest flows.
func (h *Handler) results(r *http.Request, s *session, set *amapi.Settings, sort, dir string) resultsView {
	if !slices.Contains(flowSorts, sort) {
		sort = "bytes"
	}
	if dir != "asc" {
		dir = "desc"
	}
	v := resultsView{ID: set.ID, State: set.State, Sort: sort, Dir: dir,
		IntervalMS: int(h.cfg.ResultsInterval.Milliseconds()),
		Poll:       set.State == am.StateRunning || set.State == am.StatePaused,
		HasJobs:    set.State == am.StateRunning || set.State == am.StatePaused || set.State == am.StateDone}
	if c := set.Config; c != nil && c.Anonymize != nil {
		v.Anonymized, v.Fingerprint = true, c.Anonymize.SecretFingerprint
	}
	if !v.HasJobs {
		return v
	}
	files, err := h.m.GetExperimentResults(r.Context(), s.User, set.ID, amapi.ResultsQuery{Kind: amapi.KindFiles})
	if err != nil {
		v.Error = message(err)
		return v
	}
	v.Files, _ = files.([]amapi.FileRow)
	flows, err := h.m.GetExperimentResults(r.Context(), s.User, set.ID,
		amapi.ResultsQuery{Kind: amapi.KindFlows, Limit: h.cfg.FlowsShown})
	if err != nil {
		v.Error = message(err)
		return v
	}
	v.Flows, _ = flows.([]amapi.FlowRow)
	sortFlows(v.Flows, sort, dir)
	return v
}

// sortFlows orders flows by a column.
func sortFlows(flows []amapi.FlowRow, key, dir string) {
	addr := func(s string) netip.Addr { a, _ := netip.ParseAddr(s); return a }
	slices.SortStableFunc(flows, func(a, b amapi.FlowRow) int {
		var c int
		switch key {
		case "packets":
			c = cmp.Compare(a.Packets+a.RevPackets, b.Packets+b.RevPackets)
		case "src":
			c = addr(a.Src).Compare(addr(b.Src))
		case "dst":
			c = addr(a.Dst).Compare(addr(b.Dst))
		case "sport":
			c = cmp.Compare(a.SrcPort, b.SrcPort)
		case "dport":
			c = cmp.Compare(a.DstPort, b.DstPort)
		case "proto":
			c = cmp.Compare(a.Proto, b.Proto)
		case "start":
			c = cmp.Compare(a.StartMS, b.StartMS)
		case "duration":
			c = cmp.Compare(a.EndMS-a.StartMS, b.EndMS-b.StartMS)
		default:
			c = cmp.Compare(a.Bytes+a.RevBytes, b.Bytes+b.RevBytes)
		}
		if dir == "desc" {
			return -c
		}
		return c
	})
}

// resultsFragment answers the results poll and the flow table's sorting.
func (h *Handler) resultsFragment(w http.ResponseWriter, r *http.Request, s *session) {
	set, ok := h.experimentSettings(w, r, s)
	if !ok {
		return
	}
	v := h.results(r, s, &set, r.URL.Query().Get("sort"), r.URL.Query().Get("dir"))
	h.fragment(w, r, "results", &v)
}

// counterSeries is the JSON the charts plot: per interval, the packet
// rates and the bit rates by protocol, summed over the devices, and the
// same per device interface (issue 18: one series per device).
type counterSeries struct {
	State      string `json:"state"`
	IntervalMS int    `json:"interval_ms"`
	// Times are the intervals' starts, in Unix milliseconds.
	Times []int64 `json:"times"`
	// PPS are packets/s by protocol.
	PPS protocolRates `json:"pps"`
	// BPS are bits/s by protocol.
	BPS struct {
		protocolRates
		// Unclassified are the bits/s of counters recorded before the
		// bytes per protocol were (older devices and counters files), so
		// that the stack still adds up to the bit rate. It is left out
		// when every row has its bytes per protocol.
		Unclassified []float64 `json:"unclassified,omitempty"`
	} `json:"bps"`
	// Devices are the rates of each device interface of the experiment
	// (in the experiment's order), parallel to Times.
	Devices []deviceSeries `json:"devices"`
}

// deviceSeries are one device interface's rates per interval; an
// interval where it has no counters (it started later, or ended
// earlier) is null, a gap in its line rather than a fall to zero.
type deviceSeries struct {
	// Name is "device:interface".
	Name string `json:"name"`
	// PPS are its packets/s by protocol.
	PPS gapRates `json:"pps"`
	// BPS are its bits/s, every byte counted (classified by protocol or
	// not).
	BPS gaps `json:"bps"`
}

// gapRates are rates per interval by protocol class, with gaps.
type gapRates struct {
	TCP   gaps `json:"tcp"`
	UDP   gaps `json:"udp"`
	ICMP  gaps `json:"icmp"`
	Other gaps `json:"other"`
}

// gaps are rates per interval where NaN marks an interval without data;
// JSON has null there.
type gaps []float64

// MarshalJSON writes the rates, null for NaN.
func (g gaps) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+8*len(g))
	b = append(b, '[')
	for i, v := range g {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(v) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, ']'), nil
}

// grow appends an interval without data.
func (d *deviceSeries) grow() {
	gap := math.NaN()
	d.PPS.TCP, d.PPS.UDP = append(d.PPS.TCP, gap), append(d.PPS.UDP, gap)
	d.PPS.ICMP, d.PPS.Other = append(d.PPS.ICMP, gap), append(d.PPS.Other, gap)
	d.BPS = append(d.BPS, gap)
}

// add adds one counter row at interval i (a device's rows are one per
// interval; a second one adds up).
func (d *deviceSeries) add(i int, perS float64, row *amapi.CounterRow) {
	put := func(g gaps, n uint64) {
		if math.IsNaN(g[i]) {
			g[i] = 0
		}
		g[i] += float64(n) * perS
	}
	put(d.PPS.TCP, row.TCPPackets)
	put(d.PPS.UDP, row.UDPPackets)
	put(d.PPS.ICMP, row.ICMPPackets)
	put(d.PPS.Other, row.OtherPackets)
	put(d.BPS, 8*max(row.Bytes, row.TCPBytes+row.UDPBytes+row.ICMPBytes+row.OtherBytes))
}

// cut drops the first n intervals.
func (d *deviceSeries) cut(n int) {
	d.PPS.TCP, d.PPS.UDP, d.PPS.ICMP, d.PPS.Other = d.PPS.TCP[n:], d.PPS.UDP[n:], d.PPS.ICMP[n:], d.PPS.Other[n:]
	d.BPS = d.BPS[n:]
}

// protocolRates are rates per interval by protocol class, parallel to
// counterSeries.Times.
type protocolRates struct {
	TCP   []float64 `json:"tcp"`
	UDP   []float64 `json:"udp"`
	ICMP  []float64 `json:"icmp"`
	Other []float64 `json:"other"`
}

// init makes the nil slices empty, so that JSON has arrays, not nulls.
func (p *protocolRates) init() {
	for _, v := range []*[]float64{&p.TCP, &p.UDP, &p.ICMP, &p.Other} {
		if *v == nil {
			*v = []float64{}
		}
	}
}

// grow appends a zero rate to every class.
func (p *protocolRates) grow() {
	p.TCP, p.UDP = append(p.TCP, 0), append(p.UDP, 0)
	p.ICMP, p.Other = append(p.ICMP, 0), append(p.Other, 0)
}

// add adds the rates of one row at index i, each count times scale.
func (p *protocolRates) add(i int, scale float64, tcp, udp, icmp, other uint64) {
	p.TCP[i] += float64(tcp) * scale
	p.UDP[i] += float64(udp) * scale
	p.ICMP[i] += float64(icmp) * scale
	p.Other[i] += float64(other) * scale
}

// cut drops the first n intervals.
func (p *protocolRates) cut(n int) {
	p.TCP, p.UDP, p.ICMP, p.Other = p.TCP[n:], p.UDP[n:], p.ICMP[n:], p.Other[n:]
}

// maxChartPoints bounds the intervals a chart shows (the latest).
const maxChartPoints = 3600

// countersJSON answers the charts' data from the experiment's counters.
func (h *Handler) countersJSON(w http.ResponseWriter, r *http.Request, s *session) {
	set, ok := h.experimentSettings(w, r, s)
	if !ok {
		return
	}
	id := set.ID
	out := counterSeries{State: set.State, IntervalMS: 1000, Times: []int64{}}
	if c := set.Config; c != nil && c.Counters != nil && c.Counters.IntervalMS > 0 {
		out.IntervalMS = c.Counters.IntervalMS
	}
	var rows []amapi.CounterRow
	if set.State == am.StateRunning || set.State == am.StatePaused || set.State == am.StateDone {
		// Page through every row (bounded), keeping the latest.
		for offset := 0; offset < 10*amapi.MaxLimit; offset += amapi.MaxLimit {
			page, err := h.m.GetExperimentResults(r.Context(), s.User, id,
				amapi.ResultsQuery{Kind: amapi.KindCounters, Offset: offset, Limit: amapi.MaxLimit})
			if err != nil {
				h.fail(w, r, err)
				return
			}
			got, _ := page.([]amapi.CounterRow)
			rows = append(rows, got...)
			if len(got) < amapi.MaxLimit {
				break
			}
		}
	}
	fillSeries(&out, rows, set.Devices)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(&out)
}

// fillSeries turns counter rows (by time, of one or more devices) into
// rates per interval, summed over the devices and per device interface.
// order lists the experiment's "device:interface" names: the devices'
// series follow it (those not in it after, as they come).
func fillSeries(out *counterSeries, rows []amapi.CounterRow, order []string) {
	perS := 1000 / float64(out.IntervalMS)
	if out.Times == nil {
		out.Times = []int64{}
	}
	out.PPS.init()
	out.BPS.init()
	index := map[int64]int{}
	devices := map[string]int{}
	for _, row := range rows {
		t := row.Time.UnixMilli()
		i, ok := index[t]
		if !ok {
			i = len(out.Times)
			index[t] = i
			out.Times = append(out.Times, t)
			out.PPS.grow()
			out.BPS.grow()
			if out.BPS.Unclassified != nil {
				out.BPS.Unclassified = append(out.BPS.Unclassified, 0)
			}
			for d := range out.Devices {
				out.Devices[d].grow()
			}
		}
		name := row.Device + ":" + row.Interface
		d, ok := devices[name]
		if !ok {
			d = len(out.Devices)
			devices[name] = d
			out.Devices = append(out.Devices, deviceSeries{Name: name})
			for range out.Times {
				out.Devices[d].grow()
			}
		}
		out.Devices[d].add(i, perS, &row)
		out.PPS.add(i, perS, row.TCPPackets, row.UDPPackets, row.ICMPPackets, row.OtherPackets)
		out.BPS.add(i, 8*perS, row.TCPBytes, row.UDPBytes, row.ICMPBytes, row.OtherBytes)
		classified := row.TCPBytes + row.UDPBytes + row.ICMPBytes + row.OtherBytes
		if row.Bytes > classified {
			if out.BPS.Unclassified == nil {
				out.BPS.Unclassified = make([]float64, len(out.Times))
			}
			out.BPS.Unclassified[i] += float64(row.Bytes-classified) * 8 * perS
		}
	}
	if n := len(out.Times); n > maxChartPoints {
		cut := n - maxChartPoints
		out.Times = out.Times[cut:]
		out.PPS.cut(cut)
		out.BPS.cut(cut)
		if out.BPS.Unclassified != nil {
			out.BPS.Unclassified = out.BPS.Unclassified[cut:]
		}
		for d := range out.Devices {
			out.Devices[d].cut(cut)
		}
	}
	if out.Devices == nil {
		out.Devices = []deviceSeries{}
	}
	rank := func(name string) int {
		if i := slices.Index(order, name); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(out.Devices, func(a, b deviceSeries) int { return cmp.Compare(rank(a.Name), rank(b.Name)) })
}

// download serves a result file (pcap, IPFIX, counters CSV) through the
// manager, which checks that the user may see the experiment.
func (h *Handler) download(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := experimentID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pos, err := strconv.Atoi(r.PathValue("pos"))
	if err != nil {
		h.fail(w, r, fmt.Errorf("%w: file position %q", am.ErrNotFound, r.PathValue("pos")))
		return
	}
	f, err := h.m.OpenResultFile(r.Context(), s.User, id, pos, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer f.Close()
	api.ServeResultFile(w, r, f)
}

// downloadPath is the GUI's path of a result file.
func downloadPath(id int64, f amapi.FileRow) string {
	// f.URL is "/files/<id>/<position>/<name>".
	rest := strings.TrimPrefix(f.URL, am.FilesPath+strconv.FormatInt(id, 10)+"/")
	return fmt.Sprintf("/experiments/%d/files/%s", id, rest)
}
