package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// The renderers of this file print the typed replies of the amapi client
// as tables; the generic ones print what a method gimsctl does not type
// (call, list-methods, method-help, and the replies without a table of
// their own) by its XML-RPC members.

// wireValue is a reply as it travels: the XML-RPC value the server sent,
// decoded into natural Go values (map[string]any with the API's member
// names, []any, int, …). -json prints it, so its keys are the members of
// SPEC §3 whatever the Go names.
func wireValue(v any) (any, error) {
	b, err := xmlrpc.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := xmlrpc.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// writeJSON prints a reply as indented JSON of its wire value: struct
// members sorted, times in RFC 3339, base64 values as base64 strings, and
// non-finite doubles (which JSON lacks) as strings.
func writeJSON(w io.Writer, reply any) error {
	v, err := wireValue(reply)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(jsonSafe(v))
}

// jsonSafe replaces the values encoding/json refuses (NaN, ±Inf).
func jsonSafe(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = jsonSafe(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonSafe(e)
		}
		return out
	}
	return v
}

// typed adapts a renderer of one reply type to the commands' table.
func typed[T any](render func(io.Writer, T) error) func(io.Writer, any) error {
	return func(w io.Writer, v any) error {
		x, ok := v.(T)
		if !ok {
			return fmt.Errorf("unexpected reply of type %T", v)
		}
		return render(w, x)
	}
}

// Formatting of table cells and block values.

// fmtString is s, or "-" when empty.
func fmtString(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtBool is "yes" or "no".
func fmtBool(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// fmtInt formats an integer.
func fmtInt[N ~int | ~int64 | ~uint64](n N) string {
	return fmt.Sprint(n)
}

// fmtList joins a list with commas, each item as fmtString; "-" when
// empty.
func fmtList(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	parts := make([]string, len(l))
	for i, s := range l {
		parts[i] = fmtString(s)
	}
	return strings.Join(parts, ",")
}

// fmtTime formats t in RFC 3339, with milliseconds when it has some; "-"
// for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if t.Nanosecond() == 0 {
		return t.Format(time.RFC3339)
	}
	return t.Format("2006-01-02T15:04:05.000Z07:00")
}

// humanBytes formats a byte count with binary units ("1.5 MiB").
func humanBytes[N ~int | ~int64 | ~uint64 | ~float64](v N) string {
	n := float64(v)
	const unit = 1024
	if math.Abs(n) < unit {
		return strconv.FormatFloat(n, 'f', -1, 64) + " B"
	}
	units := "KMGTPE"
	i := -1
	for math.Abs(n) >= unit && i < len(units)-1 {
		n /= unit
		i++
	}
	return strconv.FormatFloat(n, 'f', 1, 64) + " " + units[i:i+1] + "iB"
}

// humanSeconds formats a number of seconds as a duration ("1h2m3s").
func humanSeconds(n float64) string {
	return time.Duration(n * float64(time.Second)).Round(time.Millisecond).String()
}

// percent formats a percentage.
func percent(n float64) string {
	return strconv.FormatFloat(n, 'f', 1, 64) + "%"
}

// protoName names the common IP protocols.
func protoName(n int) string {
	switch n {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmpv6"
	case 132:
		return "sctp"
	}
	return strconv.Itoa(n)
}

// cell keeps a table cell on one line.
func cell(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

// deviceRef is an experiment's device: "name" or "name:interface".
func deviceRef(name, iface string) string {
	if iface != "" {
		return fmtString(name) + ":" + iface
	}
	return fmtString(name)
}

// Blocks and tables.

// line is one "label: value" line of a block.
type line struct{ label, value string }

// writeBlock prints lines as "label: value", the values aligned.
func writeBlock(w io.Writer, lines []line) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(tw, "%s:\t%s\n", l.label, l.value)
	}
	return tw.Flush()
}

// writeTable prints rows of cells under headers, aligned; a cell is kept
// on one line.
func writeTable(w io.Writer, headers []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, r := range rows {
		for i, c := range r {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, cell(c))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// renderScalar prints a single value (an experiment id).
func renderScalar(w io.Writer, v any) error {
	_, err := fmt.Fprintln(w, fmtValue(v))
	return err
}

// renderExperiments prints ListExperiments.
func renderExperiments(w io.Writer, list []amapi.ExperimentSummary) error {
	rows := make([][]string, len(list))
	for i, e := range list {
		rows[i] = []string{fmtInt(e.ID), fmtString(e.Name), fmtString(e.Owner), fmtString(e.State), fmtList(e.Devices)}
	}
	return writeTable(w, []string{"ID", "NAME", "OWNER", "STATE", "DEVICES"}, rows)
}

// renderStatus prints GetExperimentStatus (and the replies of start,
// pause and stop): a summary block, the errors, then a table per device.
func renderStatus(w io.Writer, s amapi.Status) error {
	lines := []line{
		{"state", fmtString(s.State)},
		{"packets", fmtInt(s.Packets)},
		{"bytes", humanBytes(s.Bytes)},
		{"dropped", fmtInt(s.Dropped)},
		{"sanitized drops", fmtInt(s.SanitizedDrops)},
		{"elapsed", humanSeconds(s.ElapsedS)},
		{"flows exported", fmtInt(s.FlowsExported)},
		{"cpu", percent(s.CPUPercent)},
		{"running experiments", fmtInt(s.RunningExperiments)},
		{"storage used", humanBytes(s.StorageUsedBytes)},
		{"storage free", humanBytes(s.StorageFreeBytes)},
		{"id", fmtInt(s.ID)},
		{"results pulled", fmtBool(s.ResultsPulled)},
	}
	if !s.NextStart.IsZero() || !s.RunEnd.IsZero() {
		lines = append(lines, line{"next start", fmtTime(s.NextStart)}, line{"run ends", fmtTime(s.RunEnd)})
	}
	err := writeBlock(w, lines)
	if err != nil {
		return err
	}
	// The errors gather the devices' (prefixed with the device) and the
	// AM's own; the device table counts each device's.
	if len(s.Errors) > 0 {
		fmt.Fprintln(w, "errors:")
		for _, e := range s.Errors {
			fmt.Fprintf(w, "  %s\n", cell(fmtString(e)))
		}
	}
	if len(s.Devices) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	rows := make([][]string, len(s.Devices))
	for i, d := range s.Devices {
		state := fmtString(d.State)
		if d.StopPending {
			// The experiment is done but this device has not stopped its
			// job yet: the AM retries (SPEC §9).
			state += " (stop pending)"
		}
		rows[i] = []string{deviceRef(d.Device, d.Interface), state, fmtBool(d.Reachable),
			fmtInt(d.Packets), humanBytes(d.Bytes), fmtInt(d.Dropped), fmtInt(d.FlowsExported),
			humanSeconds(d.ElapsedS), percent(d.CPUPercent), strconv.Itoa(len(d.Errors))}
	}
	return writeTable(w, []string{"DEVICE", "STATE", "REACHABLE", "PACKETS", "BYTES", "DROPPED", "FLOWS",
		"ELAPSED", "CPU", "ERRORS"}, rows)
}

// sanitizeMode shows a sanitization mode, "keep" with a warning: what is
// kept leaves the devices as captured (SPEC §8).
func sanitizeMode(mode string) string {
	if mode == "keep" {
		return "keep (WARNING: not sanitized, kept as captured)"
	}
	return fmtString(mode)
}

// fmtFloat formats a double as the generic renderer does.
func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// configLines are the members of a configuration, one per line with dotted
// names ("flows.idle_timeout_s"), in the order of SPEC §3 and each
// sub-structure's members in alphabetical order.
func configLines(c *amapi.ConfigView) []line {
	lines := []line{
		{"filter", fmtString(c.Filter)},
		{"snaplen", fmtInt(c.Snaplen)},
		{"promiscuous", fmtBool(c.Promiscuous)},
	}
	if x := c.Counters; x != nil {
		lines = append(lines, line{"counters.interval_ms", fmtInt(x.IntervalMS)})
	}
	if x := c.Flows; x != nil {
		lines = append(lines,
			line{"flows.active_timeout_s", fmtInt(x.ActiveTimeoutS)},
			line{"flows.biflow", fmtBool(x.Biflow)},
			line{"flows.collector", fmtString(x.Collector)},
			line{"flows.idle_timeout_s", fmtInt(x.IdleTimeoutS)})
	}
	if x := c.Anonymize; x != nil {
		if x.Key != "" {
			lines = append(lines, line{"anonymize.key", fmtString(x.Key)})
		}
		lines = append(lines,
			line{"anonymize.mac", sanitizeMode(x.MAC)},
			line{"anonymize.payload", sanitizeMode(x.Payload)},
			line{"anonymize.secret_fingerprint", fmtString(x.SecretFingerprint)})
	}
	if x := c.Schedule; x != nil {
		lines = append(lines, line{"schedule.start_at", fmtTime(x.StartAt)}, line{"schedule.stop_at", fmtTime(x.StopAt)},
			line{"schedule.every_s", fmtInt(x.EveryS)}, line{"schedule.run_s", fmtInt(x.RunS)},
			line{"schedule.count", fmtInt(x.Count)}, line{"schedule.runs", fmtInt(x.Runs)})
	}
	return append(lines,
		line{"pcap", fmtBool(c.Pcap)},
		line{"storage", fmtString(c.Storage)},
		line{"duration_s", fmtInt(c.DurationS)},
		line{"replay_speed", fmtFloat(c.ReplaySpeed)})
}

// renderSettings prints GetExperimentSettings (and the reply of
// ConfigureExperiment): the experiment, its configuration with one line
// per member, then its transitions.
func renderSettings(w io.Writer, s amapi.Settings) error {
	err := writeBlock(w, []line{
		{"id", fmtInt(s.ID)},
		{"name", fmtString(s.Name)},
		{"description", fmtString(s.Description)},
		{"owner", fmtString(s.Owner)},
		{"state", fmtString(s.State)},
		{"devices", fmtList(s.Devices)},
		{"created", fmtTime(s.Created)},
	})
	if err != nil {
		return err
	}
	if s.Config != nil {
		fmt.Fprintln(w, "config:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, l := range configLines(s.Config) {
			fmt.Fprintf(tw, "  %s:\t%s\n", l.label, cell(l.value))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(s.Transitions) > 0 {
		fmt.Fprintln(w, "\ntransitions:")
		rows := make([][]string, len(s.Transitions))
		for i, t := range s.Transitions {
			rows[i] = []string{fmtString(t.From), fmtString(t.To), fmtString(t.By), fmtTime(t.At)}
		}
		if err := writeTable(w, []string{"FROM", "TO", "BY", "AT"}, rows); err != nil {
			return err
		}
	}
	if len(s.Runs) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nruns:")
	rows := make([][]string, len(s.Runs))
	for i, r := range s.Runs {
		rows[i] = []string{fmtInt(r.Run), fmtTime(r.PlannedStart), fmtTime(r.PlannedEnd), fmtTime(r.Started),
			fmtTime(r.Ended), fmtString(r.Outcome), fmtString(r.Note)}
	}
	return writeTable(w, []string{"RUN", "PLANNED_START", "PLANNED_END", "STARTED", "ENDED", "OUTCOME", "NOTE"}, rows)
}

// renderTimeline prints GetScheduleTimeline, one row per window.
func renderTimeline(w io.Writer, runs []amapi.TimelineRun) error {
	rows := make([][]string, len(runs))
	for i, r := range runs {
		name := r.Name
		if name == "" {
			name = "(another user's)"
		}
		end := fmtTime(r.End)
		if r.End.IsZero() {
			end = "until stopped"
		}
		rows[i] = []string{deviceRef(r.Device, r.Interface), fmtTime(r.Start), end, fmtInt(r.Experiment),
			fmtString(name), fmtString(r.State)}
	}
	return writeTable(w, []string{"DEVICE", "START", "END", "EXPERIMENT", "NAME", "STATE"}, rows)
}

// renderCapabilities prints GetDeviceCapabilities.
func renderCapabilities(w io.Writer, c amapi.Capabilities) error {
	lines := []line{
		{"version", fmtString(c.Version)},
		{"max snaplen", fmtInt(c.MaxSnaplen)},
		{"transforms", fmtList(c.Transforms)},
		{"storage free", humanBytes(c.StorageFreeBytes)},
	}
	if c.Policy != nil {
		lines = append(lines, policyLines("policy", c.Policy)...)
	}
	if c.DevicePolicy != nil {
		lines = append(lines, line{"device's own policy", devicePolicyText(c.DevicePolicy)})
	}
	if err := writeBlock(w, lines); err != nil {
		return err
	}
	fmt.Fprintln(w)
	rows := make([][]string, len(c.Interfaces))
	for i, f := range c.Interfaces {
		rows[i] = []string{fmtString(f.Name), fmtString(f.LinkType), fmtString(f.Description)}
	}
	return writeTable(w, []string{"INTERFACE", "LINK_TYPE", "DESCRIPTION"}, rows)
}

// renderCounters prints GetExperimentResults kind "counters". The bytes
// per protocol class are left out for counters recorded before they
// existed (older managers and devices send none: every row has bytes but
// no class has any).
func renderCounters(w io.Writer, list []amapi.CounterRow) error {
	perClass := len(list) > 0
	if slices.ContainsFunc(list, func(c amapi.CounterRow) bool { return c.Bytes > 0 }) {
		perClass = slices.ContainsFunc(list, func(c amapi.CounterRow) bool {
			return c.TCPBytes+c.UDPBytes+c.ICMPBytes+c.OtherBytes > 0
		})
	}
	headers := []string{"TIME", "DEVICE", "PACKETS", "BYTES", "TCP", "UDP", "ICMP", "OTHER"}
	if perClass {
		headers = append(headers, "TCP_BYTES", "UDP_BYTES", "ICMP_BYTES", "OTHER_BYTES")
	}
	rows := make([][]string, len(list))
	for i, c := range list {
		rows[i] = []string{fmtTime(c.Time), deviceRef(c.Device, c.Interface), fmtInt(c.Packets), humanBytes(c.Bytes),
			fmtInt(c.TCPPackets), fmtInt(c.UDPPackets), fmtInt(c.ICMPPackets), fmtInt(c.OtherPackets)}
		if perClass {
			rows[i] = append(rows[i], humanBytes(c.TCPBytes), humanBytes(c.UDPBytes), humanBytes(c.ICMPBytes),
				humanBytes(c.OtherBytes))
		}
	}
	return writeTable(w, headers, rows)
}

// renderFlows prints GetExperimentResults kind "flows", with the
// millisecond times (dateTime.iso8601 has only seconds).
func renderFlows(w io.Writer, list []amapi.FlowRow) error {
	rows := make([][]string, len(list))
	for i, f := range list {
		rows[i] = []string{fmtString(f.Src), fmtString(f.Dst), fmtInt(f.SrcPort), fmtInt(f.DstPort), protoName(f.Proto),
			fmtInt(f.Packets), humanBytes(f.Bytes), fmtInt(f.RevPackets), humanBytes(f.RevBytes),
			fmtTime(time.UnixMilli(f.StartMS).UTC()), fmtTime(time.UnixMilli(f.EndMS).UTC()), fmtString(f.EndReason),
			deviceRef(f.Device, f.Interface)}
	}
	return writeTable(w, []string{"SRC", "DST", "SPORT", "DPORT", "PROTO", "PACKETS", "BYTES", "REV_PACKETS",
		"REV_BYTES", "START", "END", "END_REASON", "DEVICE"}, rows)
}

// renderQuery prints QueryFlows: the group keys present and the counts
// of groups, or the flows, then the total.
func renderQuery(w io.Writer, res amapi.FlowQueryResult) error {
	grouped := len(res.Rows) > 0 && res.Rows[0].Start.IsZero()
	var headers []string
	rows := make([][]string, len(res.Rows))
	if !grouped {
		headers = []string{"SRC", "DST", "SPORT", "DPORT", "PROTO", "PACKETS", "BYTES", "REV_PACKETS", "REV_BYTES",
			"START", "END", "DEVICE"}
		for i, f := range res.Rows {
			rows[i] = []string{f.Src, f.Dst, optInt(f.SrcPort), optInt(f.DstPort), optProto(f.Proto),
				fmtInt(f.FwdPackets), humanBytes(f.FwdBytes), fmtInt(f.RevPackets), humanBytes(f.RevBytes),
				fmtTime(f.Start), fmtTime(f.End), deviceRef(f.Device, f.Interface)}
		}
	} else {
		r0 := res.Rows[0]
		keys := []struct {
			name string
			on   bool
			get  func(*amapi.FlowQueryRow) string
		}{
			{"DEVICE", r0.Device != "", func(r *amapi.FlowQueryRow) string { return r.Device }},
			{"SRC", r0.Src != "", func(r *amapi.FlowQueryRow) string { return r.Src }},
			{"DST", r0.Dst != "", func(r *amapi.FlowQueryRow) string { return r.Dst }},
			{"SPORT", r0.SrcPort != nil, func(r *amapi.FlowQueryRow) string { return optInt(r.SrcPort) }},
			{"DPORT", r0.DstPort != nil, func(r *amapi.FlowQueryRow) string { return optInt(r.DstPort) }},
			{"PROTO", r0.Proto != nil, func(r *amapi.FlowQueryRow) string { return optProto(r.Proto) }},
		}
		for _, k := range keys {
			if k.on {
				headers = append(headers, k.name)
			}
		}
		headers = append(headers, "FLOWS", "PACKETS", "BYTES")
		for i := range res.Rows {
			r := &res.Rows[i]
			for _, k := range keys {
				if k.on {
					rows[i] = append(rows[i], k.get(r))
				}
			}
			rows[i] = append(rows[i], fmtInt(r.Flows), fmtInt(r.Packets), humanBytes(r.Bytes))
		}
	}
	if err := writeTable(w, headers, rows); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d of %d rows\n", len(res.Rows), res.Total)
	return err
}

// optInt is an optional number, "-" when absent.
func optInt(v *int) string {
	if v == nil {
		return "-"
	}
	return strconv.Itoa(*v)
}

// optProto is an optional protocol by name.
func optProto(v *int) string {
	if v == nil {
		return "-"
	}
	return protoName(*v)
}

// renderFiles prints GetExperimentResults kind "files" (the parts of a
// rotated file each on its row, in order; COMPLETE says whether a file
// still changes); the device column only when the rows name their device.
func renderFiles(w io.Writer, list []amapi.FileRow) error {
	withDevice := slices.ContainsFunc(list, func(f amapi.FileRow) bool { return f.Device != "" })
	headers := []string{"NAME", "SIZE", "COMPLETE", "URL"}
	if withDevice {
		headers = append(headers, "DEVICE")
	}
	rows := make([][]string, len(list))
	for i, f := range list {
		complete := "no"
		if f.Complete {
			complete = "yes"
		}
		rows[i] = []string{fmtString(f.Name), humanBytes(f.Size), complete, fmtString(f.URL)}
		if withDevice {
			rows[i] = append(rows[i], deviceRef(f.Device, f.Interface))
		}
	}
	return writeTable(w, headers, rows)
}

// deviceStatus is "approved" or "pending".
func deviceStatus(d amapi.DeviceInfo) string {
	if d.Pending {
		return "pending"
	}
	return "approved"
}

// renderDevice prints a device record (AddDevice, EditDevice,
// DeleteDevice); never a token, which the API does not send anyway.
func renderDevice(w io.Writer, d amapi.DeviceInfo) error {
	lines := []line{
		{"name", fmtString(d.Name)},
		{"status", deviceStatus(d)},
		{"type", fmtString(d.Type)},
		{"location", fmtString(d.Location)},
		{"hostname", fmtString(d.Hostname)},
		{"port", fmtInt(d.Port)},
		{"description", fmtString(d.Description)},
	}
	if d.TLS {
		lines = append(lines, line{"tls", "yes"}, line{"cert sha256", orDefault(d.CertSHA256, "(verified by the AM's -device-ca)")})
	}
	if len(d.Interfaces) > 0 {
		lines = append(lines, line{"interfaces", fmtList(d.Interfaces)})
	}
	lines = append(lines, line{"reachable", fmtBool(d.Reachable)})
	if !d.LastSeen.IsZero() {
		lines = append(lines, line{"last seen", fmtTime(d.LastSeen)})
	}
	if c := d.Capabilities; c != nil {
		lines = append(lines, line{"version", fmtString(c.Version)})
		if len(c.Transforms) > 0 {
			lines = append(lines, line{"transforms", fmtList(c.Transforms)})
		}
		lines = append(lines,
			line{"max snaplen", fmtInt(c.MaxSnaplen)},
			line{"storage free", humanBytes(c.StorageFreeBytes)})
	}
	lines = append(lines, policyLines("policy", &d.Policy)...)
	if c := d.Capabilities; c != nil && c.DevicePolicy != nil {
		lines = append(lines, line{"device's own policy", devicePolicyText(c.DevicePolicy)})
	}
	lines = append(lines,
		line{"created", fmtTime(d.Created)},
		line{"last error", fmtString(d.LastError)})
	return writeBlock(w, lines)
}

// policyLines are the lines of a device policy (SPEC §9), each named
// prefix + " " + member.
func policyLines(prefix string, p *amapi.DevicePolicy) []line {
	if len(p.Users) == 0 && p.Payload == "" {
		return nil // not sent: an older AM
	}
	return []line{
		{prefix + " users", fmtList(p.Users)},
		{prefix + " require anonymization", fmtBool(p.RequireAnonymization)},
		{prefix + " max payload", fmtString(p.Payload)},
		{prefix + " outputs", orDefault(strings.Join(p.Outputs, ", "), "none")},
		{prefix + " max snaplen", bound(int64(p.MaxSnaplen), strconv.FormatInt(int64(p.MaxSnaplen), 10))},
		{prefix + " max duration", bound(p.MaxDurationS, (time.Duration(p.MaxDurationS) * time.Second).String())},
		{prefix + " max storage", bound(p.MaxStorageBytes, humanBytes(p.MaxStorageBytes))},
		{prefix + " key holder", fmtString(p.KeyHolder)},
	}
}

// bound is text, or "none" for a bound of 0.
func bound(n int64, text string) string {
	if n <= 0 {
		return "none"
	}
	return text
}

// policyText is a device policy on one line (for tables).
func policyText(p *amapi.DevicePolicy) string {
	if len(p.Users) == 0 && p.Payload == "" {
		return "-"
	}
	return "users " + strings.Join(p.Users, ",") + "; " + devicePolicyText(&p.Policy)
}

// devicePolicyText is a device owner's policy (gims-capd -policy) on one
// line.
func devicePolicyText(p *deviceapi.Policy) string {
	parts := []string{}
	if p.RequireAnonymization {
		parts = append(parts, "anonymization required")
	} else {
		parts = append(parts, "anonymization optional")
	}
	parts = append(parts, "payload ≤ "+p.Payload, "outputs "+orDefault(strings.Join(p.Outputs, ","), "none"))
	if p.MaxSnaplen > 0 {
		parts = append(parts, "snaplen ≤ "+strconv.Itoa(p.MaxSnaplen))
	}
	if p.MaxDurationS > 0 {
		parts = append(parts, "duration ≤ "+(time.Duration(p.MaxDurationS)*time.Second).String())
	}
	if p.MaxStorageBytes > 0 {
		parts = append(parts, "storage ≤ "+humanBytes(p.MaxStorageBytes))
	}
	if p.KeyHolder != "" {
		parts = append(parts, "keys: "+p.KeyHolder)
	}
	return strings.Join(parts, "; ")
}

// renderActivation prints CreateActivation's reply, the code first.
func renderActivation(w io.Writer, a amapi.Activation) error {
	return writeBlock(w, []line{
		{"code", fmtString(a.Code) + "  (shown only now: give it to gims-capd -activation or " + envActivation + ")"},
		{"id", strconv.FormatInt(a.ID, 10)},
		{"expires", fmtTime(a.Expires)},
		{"uses left", fmtInt(a.UsesLeft)},
	})
}

// renderActivations prints ListActivations.
func renderActivations(w io.Writer, list []amapi.Activation) error {
	rows := make([][]string, len(list))
	for i, a := range list {
		rows[i] = []string{strconv.FormatInt(a.ID, 10), fmtString(a.CreatedBy), fmtTime(a.Created),
			fmtTime(a.Expires), fmtInt(a.UsesLeft)}
	}
	return writeTable(w, []string{"ID", "CREATED_BY", "CREATED", "EXPIRES", "USES_LEFT"}, rows)
}

// renderKey prints CreateKey's and DeleteKey's reply: never the key, only
// its fingerprint.
func renderKey(w io.Writer, k amapi.KeyInfo) error {
	return writeBlock(w, []line{
		{"name", fmtString(k.Name)},
		{"fingerprint", fmtString(k.Fingerprint) + "  (the key itself stays at the AM)"},
		{"users", fmtList(k.Users)},
		{"created_by", fmtString(k.CreatedBy)},
		{"created", fmtTime(k.Created)},
	})
}

// renderKeys prints ListKeys (USERS only when the reply has them: an
// admin's).
func renderKeys(w io.Writer, list []amapi.KeyInfo) error {
	users := slices.ContainsFunc(list, func(k amapi.KeyInfo) bool { return len(k.Users) > 0 })
	headers := []string{"NAME", "FINGERPRINT", "CREATED"}
	if users {
		headers = append(headers, "USERS", "CREATED_BY")
	}
	rows := make([][]string, len(list))
	for i, k := range list {
		rows[i] = []string{fmtString(k.Name), fmtString(k.Fingerprint), fmtTime(k.Created)}
		if users {
			rows[i] = append(rows[i], fmtList(k.Users), fmtString(k.CreatedBy))
		}
	}
	return writeTable(w, headers, rows)
}

// renderAudit prints GetAuditLog.
func renderAudit(w io.Writer, list []amapi.AuditEntry) error {
	rows := make([][]string, len(list))
	for i, e := range list {
		rows[i] = []string{fmtTime(e.At), fmtString(e.User), fmtString(e.Remote), fmtString(e.Method),
			fmtString(e.Target), fmtString(e.Result)}
	}
	return writeTable(w, []string{"AT", "USER", "REMOTE", "METHOD", "TARGET", "RESULT"}, rows)
}

// renderDevices prints ListDevices.
func renderDevices(w io.Writer, list []amapi.DeviceInfo) error {
	rows := make([][]string, len(list))
	for i, d := range list {
		rows[i] = []string{fmtString(d.Name), deviceStatus(d), fmtString(d.Type), fmtString(d.Hostname),
			fmtInt(d.Port), fmtString(d.Location), fmtBool(d.Reachable), fmtTime(d.LastSeen), fmtList(d.Interfaces),
			policyText(&d.Policy)}
	}
	return writeTable(w, []string{"NAME", "STATUS", "TYPE", "HOSTNAME", "PORT", "LOCATION", "REACHABLE",
		"LAST_SEEN", "INTERFACES", "POLICY"}, rows)
}

// renderUsers prints ListUsers.
func renderUsers(w io.Writer, list []amapi.UserInfo) error {
	headers := []string{"NAME", "ROLE"}
	if len(list) > 0 {
		headers = append(headers, "CREATED")
	}
	// CERT_URI only when a user has one (SPEC §10).
	uris := slices.ContainsFunc(list, func(u amapi.UserInfo) bool { return u.CertURI != "" })
	if uris {
		headers = append(headers, "CERT_URI")
	}
	rows := make([][]string, len(list))
	for i, u := range list {
		rows[i] = []string{fmtString(u.Name), fmtString(u.Role), fmtTime(u.Created)}
		if uris {
			rows[i] = append(rows[i], fmtString(u.CertURI))
		}
	}
	return writeTable(w, headers, rows)
}

// The generic renderers, for what has no table of its own.

// isSecret reports whether a member is never shown in tables, should a
// server echo one.
func isSecret(key string) bool {
	switch key {
	case "token", "password", "secret":
		return true
	}
	return false
}

// hidden is what tables show in place of a secret.
const hidden = "(hidden)"

// fmtValue formats any decoded value for a table cell: "-" for nil,
// times in RFC 3339 (milliseconds when there are some), lists joined by
// commas, structs as {k=v …} with sorted members.
func fmtValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		return fmtString(x)
	case bool:
		return fmtBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return fmtFloat(x)
	case time.Time:
		return fmtTime(x)
	case []byte:
		return fmt.Sprintf("(%d bytes)", len(x))
	case []any:
		if len(x) == 0 {
			return "-"
		}
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmtValue(e)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		keys := sortedKeys(x)
		parts := make([]string, len(keys))
		for i, k := range keys {
			if isSecret(k) {
				parts[i] = k + "=" + hidden
			} else {
				parts[i] = k + "=" + fmtValue(x[k])
			}
		}
		return "{" + strings.Join(parts, " ") + "}"
	}
	return fmt.Sprint(v)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// renderLines prints a list one item per line, or a string as it is.
func renderLines(w io.Writer, v any) error {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if _, err := fmt.Fprintln(w, fmtValue(e)); err != nil {
				return err
			}
		}
		return nil
	case string:
		_, err := fmt.Fprintln(w, strings.TrimRight(x, "\n"))
		return err
	}
	return renderGeneric(w, v)
}

// renderGeneric prints any reply by its wire value: a struct as a block
// of its members (nested structures inline), a list of structs as a table
// with a column per member, other lists one item per line, scalars as
// they are.
func renderGeneric(w io.Writer, reply any) error {
	v, err := wireValue(reply)
	if err != nil {
		return err
	}
	switch x := v.(type) {
	case map[string]any:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, k := range sortedKeys(x) {
			val := fmtValue(x[k])
			if isSecret(k) {
				val = hidden
			}
			fmt.Fprintf(tw, "%s:\t%s\n", k, cell(val))
		}
		return tw.Flush()
	case []any:
		return genericTable(w, x, "id", "name")
	}
	return renderScalar(w, v)
}

// genericTable prints a list of structs with the preferred members first,
// then the others in order; a list of anything else one per line.
func genericTable(w io.Writer, rows []any, preferred ...string) error {
	seen := map[string]bool{}
	for _, r := range rows {
		m, ok := r.(map[string]any)
		if !ok {
			return renderLines(w, rows)
		}
		for k := range m {
			seen[k] = true
		}
	}
	if len(rows) == 0 {
		return nil
	}
	var keys []string
	for _, k := range preferred {
		if seen[k] {
			keys = append(keys, k)
			delete(seen, k)
		}
	}
	keys = append(keys, sortedKeys(seen)...)
	headers := make([]string, len(keys))
	for i, k := range keys {
		headers[i] = strings.ToUpper(k)
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		m := r.(map[string]any)
		cells[i] = make([]string, len(keys))
		for j, k := range keys {
			cells[i][j] = fmtValue(m[k])
			if isSecret(k) {
				cells[i][j] = hidden
			}
		}
	}
	return writeTable(w, headers, cells)
}
