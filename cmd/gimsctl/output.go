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
)

// writeJSON prints v (a decoded reply) as indented JSON: struct members
// sorted, times in RFC 3339, base64 values as base64 strings, and
// non-finite doubles (which JSON lacks) as strings.
func writeJSON(w io.Writer, v any) error {
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
		if x == "" {
			return "-"
		}
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
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

// fmtTime formats t in RFC 3339, with milliseconds when it has some.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if t.Nanosecond() == 0 {
		return t.Format(time.RFC3339)
	}
	return t.Format("2006-01-02T15:04:05.000Z07:00")
}

// number returns v as a float64 when it is a number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// humanBytes formats a byte count with binary units ("1.5 MiB"); other
// values are formatted as they are.
func humanBytes(v any) string {
	n, ok := number(v)
	if !ok {
		return fmtValue(v)
	}
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
func humanSeconds(v any) string {
	n, ok := number(v)
	if !ok {
		return fmtValue(v)
	}
	return time.Duration(n * float64(time.Second)).Round(time.Millisecond).String()
}

// percent formats a percentage.
func percent(v any) string {
	n, ok := number(v)
	if !ok {
		return fmtValue(v)
	}
	return strconv.FormatFloat(n, 'f', 1, 64) + "%"
}

// protoName names the common IP protocols.
func protoName(v any) string {
	n, ok := v.(int)
	if !ok {
		return fmtValue(v)
	}
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

// endReason names the IPFIX flowEndReason values (RFC 5102).
func endReason(v any) string {
	n, ok := v.(int)
	if !ok {
		return fmtValue(v)
	}
	switch n {
	case 1:
		return "idle-timeout"
	case 2:
		return "active-timeout"
	case 3:
		return "end-detected"
	case 4:
		return "forced-end"
	case 5:
		return "lack-of-resources"
	}
	return strconv.Itoa(n)
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// field is one line of a key/value block.
type field struct {
	key    string                     // member name in the reply
	label  string                     // what the block shows
	format func(v any) string         // nil means fmtValue
	from   func(m map[string]any) any // nil means m[key]
}

// writeBlock prints the known fields of m that are present as
// "label: value" lines, then any other member with a scalar value (so
// fields a newer server adds still show), except those in skip.
func writeBlock(w io.Writer, m map[string]any, fields []field, skip ...string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	known := make(map[string]bool, len(fields)+len(skip))
	for _, k := range skip {
		known[k] = true
	}
	for _, f := range fields {
		known[f.key] = true
		var v any
		if f.from != nil {
			v = f.from(m)
			if l, ok := v.([]any); v == nil || ok && len(l) == 0 {
				continue
			}
		} else {
			var ok bool
			if v, ok = m[f.key]; !ok {
				continue
			}
		}
		format := f.format
		if format == nil {
			format = fmtValue
		}
		fmt.Fprintf(tw, "%s:\t%s\n", f.label, format(v))
	}
	for _, k := range sortedKeys(m) {
		if known[k] {
			continue
		}
		switch m[k].(type) {
		case map[string]any, []any:
			continue // structures are for the specific renderers or -json
		}
		v := fmtValue(m[k])
		if isSecret(k) {
			v = hidden
		}
		fmt.Fprintf(tw, "%s:\t%s\n", strings.ReplaceAll(k, "_", " "), v)
	}
	return tw.Flush()
}

// column is one column of a table.
type column struct {
	header string
	key    string
	format func(v any) string // nil means fmtValue
	// optional drops the column when no row has the member.
	optional bool
}

// writeTable prints rows (structs; anything else is shown in the first
// column) under the headers. Members without a column are ignored.
func writeTable(w io.Writer, rows []any, cols []column) error {
	cols = slices.DeleteFunc(slices.Clone(cols), func(c column) bool {
		if !c.optional {
			return false
		}
		for _, r := range rows {
			if m, ok := r.(map[string]any); ok && m[c.key] != nil {
				return false
			}
		}
		return true
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, c := range cols {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, c.header)
	}
	fmt.Fprintln(tw)
	for _, r := range rows {
		m, ok := r.(map[string]any)
		if !ok {
			m = map[string]any{cols[0].key: r}
		}
		for i, c := range cols {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			format := c.format
			if format == nil {
				format = fmtValue
			}
			v := format(m[c.key])
			if isSecret(c.key) {
				v = hidden
			}
			fmt.Fprint(tw, cell(v))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// cell keeps a table cell on one line.
func cell(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

// renderScalar prints a single value (an experiment id).
func renderScalar(w io.Writer, v any) error {
	_, err := fmt.Fprintln(w, fmtValue(v))
	return err
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

// renderGeneric prints any reply: a struct as a block (nested structures
// inline), a list of structs as a table with a column per member, other
// lists one item per line, scalars as they are.
func renderGeneric(w io.Writer, v any) error {
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
	var cols []column
	for _, k := range preferred {
		if seen[k] {
			cols = append(cols, column{header: strings.ToUpper(k), key: k})
			delete(seen, k)
		}
	}
	for _, k := range sortedKeys(toAny(seen)) {
		cols = append(cols, column{header: strings.ToUpper(k), key: k})
	}
	return writeTable(w, rows, cols)
}

// toAny widens a set for sortedKeys.
func toAny(m map[string]bool) map[string]any {
	out := make(map[string]any, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// list returns v as a list (nil is an empty one); false when v is
// something else, for the generic renderer.
func list(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case nil:
		return nil, true
	}
	return nil, false
}

// deviceRef formats an experiment's device: "name" or "name:interface".
func deviceRef(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return fmtValue(v)
	}
	name := fmtValue(m["name"])
	if m["name"] == nil {
		name = fmtValue(m["device"])
	}
	if i, ok := m["interface"].(string); ok && i != "" {
		return name + ":" + i
	}
	return name
}

// deviceRefs formats a list of devices.
func deviceRefs(v any) string {
	l, ok := v.([]any)
	if !ok {
		return fmtValue(v)
	}
	if len(l) == 0 {
		return "-"
	}
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = deviceRef(e)
	}
	return strings.Join(parts, ",")
}

// renderExperiments prints ListExperiments.
func renderExperiments(w io.Writer, v any) error {
	rows, ok := list(v)
	if !ok {
		return renderGeneric(w, v)
	}
	return writeTable(w, rows, []column{
		{header: "ID", key: "id"},
		{header: "NAME", key: "name"},
		{header: "OWNER", key: "owner"},
		{header: "STATE", key: "state"},
		{header: "DEVICES", key: "devices", format: deviceRefs},
	})
}

// statusFields are the counters of GetExperimentStatus, overall and per
// device.
func statusFields() []field {
	return []field{
		{key: "name", label: "device"},
		{key: "device", label: "device"},
		{key: "state", label: "state"},
		{key: "reachable", label: "reachable"},
		{key: "packets", label: "packets"},
		{key: "bytes", label: "bytes", format: humanBytes},
		{key: "dropped", label: "dropped"},
		{key: "elapsed_s", label: "elapsed", format: humanSeconds},
		{key: "flows_exported", label: "flows exported"},
		{key: "cpu_percent", label: "cpu", format: percent},
		{key: "running_experiments", label: "running experiments"},
		{key: "storage_used_bytes", label: "storage used", format: humanBytes},
		{key: "storage_free_bytes", label: "storage free", format: humanBytes},
	}
}

// errorsOf returns the errors member as strings.
func errorsOf(m map[string]any) []string {
	l, _ := m["errors"].([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		out = append(out, fmtValue(e))
	}
	return out
}

// renderStatus prints GetExperimentStatus (and the replies of start,
// pause and stop): a summary block, the errors, then a table per device.
func renderStatus(w io.Writer, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return renderGeneric(w, v)
	}
	if err := writeBlock(w, m, statusFields(), "errors", "devices"); err != nil {
		return err
	}
	errs := errorsOf(m)
	devices, _ := m["devices"].([]any)
	for _, d := range devices {
		if dm, ok := d.(map[string]any); ok {
			for _, e := range errorsOf(dm) {
				errs = append(errs, deviceRef(dm)+": "+e)
			}
		}
	}
	if len(errs) > 0 {
		fmt.Fprintln(w, "errors:")
		for _, e := range errs {
			fmt.Fprintf(w, "  %s\n", cell(e))
		}
	}
	if len(devices) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	rows := make([]any, len(devices))
	for i, d := range devices {
		dm, ok := d.(map[string]any)
		if !ok {
			rows[i] = d
			continue
		}
		row := make(map[string]any, len(dm)+2)
		for k, e := range dm {
			row[k] = e
		}
		row["_device"] = deviceRef(dm)
		row["_errors"] = len(errorsOf(dm))
		rows[i] = row
	}
	return writeTable(w, rows, []column{
		{header: "DEVICE", key: "_device"},
		{header: "STATE", key: "state", optional: true},
		{header: "REACHABLE", key: "reachable"},
		{header: "PACKETS", key: "packets"},
		{header: "BYTES", key: "bytes", format: humanBytes},
		{header: "DROPPED", key: "dropped"},
		{header: "FLOWS", key: "flows_exported"},
		{header: "ELAPSED", key: "elapsed_s", format: humanSeconds},
		{header: "CPU", key: "cpu_percent", format: percent},
		{header: "ERRORS", key: "_errors"},
	})
}

// flatten appends the members of a configuration struct as dotted keys
// ("flows.idle_timeout_s"), in configOrder then alphabetical order.
func flatten(prefix string, m map[string]any, out *[][2]string) {
	keys := sortedKeys(m)
	if prefix == "" {
		// The order of SPEC §3.
		configOrder := []string{"filter", "snaplen", "promiscuous", "counters", "flows", "anonymize", "pcap", "storage", "duration_s"}
		slices.SortStableFunc(keys, func(a, b string) int {
			ia, ib := slices.Index(configOrder, a), slices.Index(configOrder, b)
			if ia < 0 {
				ia = len(configOrder)
			}
			if ib < 0 {
				ib = len(configOrder)
			}
			return ia - ib
		})
	}
	for _, k := range keys {
		name := prefix + k
		switch x := m[k].(type) {
		case map[string]any:
			if len(x) == 0 {
				*out = append(*out, [2]string{name, "on"})
			}
			flatten(name+".", x, out)
			continue
		}
		v := fmtValue(m[k])
		if isSecret(k) {
			v = hidden
		}
		*out = append(*out, [2]string{name, v})
	}
}

// renderSettings prints GetExperimentSettings (and the reply of
// ConfigureExperiment): the experiment, its configuration with one line
// per member, then its transitions.
func renderSettings(w io.Writer, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return renderGeneric(w, v)
	}
	err := writeBlock(w, m, []field{
		{key: "id", label: "id"},
		{key: "name", label: "name"},
		{key: "description", label: "description"},
		{key: "owner", label: "owner"},
		{key: "state", label: "state"},
		{key: "devices", label: "devices", format: deviceRefs},
		{key: "created", label: "created"},
	}, "config", "transitions")
	if err != nil {
		return err
	}
	if cfg, ok := m["config"].(map[string]any); ok {
		fmt.Fprintln(w, "config:")
		var lines [][2]string
		flatten("", cfg, &lines)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, l := range lines {
			fmt.Fprintf(tw, "  %s:\t%s\n", l[0], cell(l[1]))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if tr, ok := m["transitions"].([]any); ok && len(tr) > 0 {
		fmt.Fprintln(w, "\ntransitions:")
		return writeTable(w, tr, []column{
			{header: "FROM", key: "from"},
			{header: "TO", key: "to"},
			{header: "BY", key: "by"},
			{header: "AT", key: "at"},
		})
	}
	return nil
}

// renderCapabilities prints GetDeviceCapabilities.
func renderCapabilities(w io.Writer, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return renderGeneric(w, v)
	}
	err := writeBlock(w, m, []field{
		{key: "version", label: "version"},
		{key: "max_snaplen", label: "max snaplen"},
		{key: "transforms", label: "transforms"},
		{key: "storage_free_bytes", label: "storage free", format: humanBytes},
	}, "interfaces")
	if err != nil {
		return err
	}
	if ifs, ok := m["interfaces"].([]any); ok {
		fmt.Fprintln(w)
		return writeTable(w, ifs, []column{
			{header: "INTERFACE", key: "name"},
			{header: "LINK_TYPE", key: "link_type"},
			{header: "DESCRIPTION", key: "description"},
		})
	}
	return nil
}

// rowDevice is the device of a results row: "device" or
// "device:interface".
func rowDevice(m map[string]any) any {
	d, ok := m["device"]
	if !ok {
		return nil
	}
	if i, ok := m["interface"].(string); ok && i != "" {
		return fmtValue(d) + ":" + i
	}
	return d
}

// msTime returns the millisecond time member ("start_ms") when there is
// one, for dateTime.iso8601 has only seconds, else the time member.
func msTime(m map[string]any, key string) any {
	switch ms := m[key+"_ms"].(type) {
	case int:
		return time.UnixMilli(int64(ms)).UTC()
	case int64:
		return time.UnixMilli(ms).UTC()
	}
	return m[key]
}

// resultsRenderer returns the renderer of GetExperimentResults for kind.
func resultsRenderer(kind string) func(io.Writer, any) error {
	var cols []column
	switch kind {
	case "counters":
		cols = []column{
			{header: "TIME", key: "time"},
			{header: "DEVICE", key: "_device"},
			{header: "PACKETS", key: "packets"},
			{header: "BYTES", key: "bytes", format: humanBytes},
			{header: "TCP", key: "tcp_packets"},
			{header: "UDP", key: "udp_packets"},
			{header: "ICMP", key: "icmp_packets"},
			{header: "OTHER", key: "other_packets"},
			// Bytes per protocol class; older managers do not send them.
			{header: "TCP_BYTES", key: "tcp_bytes", format: humanBytes, optional: true},
			{header: "UDP_BYTES", key: "udp_bytes", format: humanBytes, optional: true},
			{header: "ICMP_BYTES", key: "icmp_bytes", format: humanBytes, optional: true},
			{header: "OTHER_BYTES", key: "other_bytes", format: humanBytes, optional: true},
		}
	case "flows":
		cols = []column{
			{header: "SRC", key: "src"},
			{header: "DST", key: "dst"},
			{header: "SPORT", key: "sport"},
			{header: "DPORT", key: "dport"},
			{header: "PROTO", key: "proto", format: protoName},
			{header: "PACKETS", key: "packets"},
			{header: "BYTES", key: "bytes", format: humanBytes},
			{header: "REV_PACKETS", key: "rev_packets"},
			{header: "REV_BYTES", key: "rev_bytes", format: humanBytes},
			{header: "START", key: "_start"},
			{header: "END", key: "_end"},
			{header: "END_REASON", key: "end_reason", format: endReason},
			{header: "DEVICE", key: "_device"},
		}
	case "files":
		cols = []column{
			{header: "NAME", key: "name"},
			{header: "SIZE", key: "size", format: humanBytes},
			{header: "URL", key: "url"},
			{header: "DEVICE", key: "_device", optional: true},
		}
	default:
		return renderGeneric
	}
	return func(w io.Writer, v any) error {
		out, ok := derivedRows(v, func(m, row map[string]any) {
			row["_device"] = rowDevice(m)
			row["_start"] = msTime(m, "start")
			row["_end"] = msTime(m, "end")
		})
		if !ok {
			return renderGeneric(w, v)
		}
		return writeTable(w, out, cols)
	}
}

// derivedRows copies the struct rows of the array v, adding the columns
// derive computes from each; other rows stay as they are. It returns
// false when v is not an array.
func derivedRows(v any, derive func(m, row map[string]any)) ([]any, bool) {
	rows, ok := list(v)
	if !ok {
		return nil, false
	}
	out := make([]any, len(rows))
	for i, r := range rows {
		m, ok := r.(map[string]any)
		if !ok {
			out[i] = r
			continue
		}
		row := make(map[string]any, len(m)+3)
		for k, e := range m {
			row[k] = e
		}
		derive(m, row)
		out[i] = row
	}
	return out, true
}

// deviceStatus is "approved" or "pending" from whichever member the
// server uses.
func deviceStatus(m map[string]any) any {
	if s, ok := m["status"].(string); ok && s != "" {
		return s
	}
	if p, ok := m["pending"].(bool); ok {
		if p {
			return "pending"
		}
		return "approved"
	}
	if a, ok := m["approved"].(bool); ok {
		if a {
			return "approved"
		}
		return "pending"
	}
	return nil
}

// deviceInterfaces lists the interface names of a device record: its own
// interfaces member, else those of its capabilities.
func deviceInterfaces(m map[string]any) any {
	ifs, ok := m["interfaces"].([]any)
	if !ok {
		if caps, ok := m["capabilities"].(map[string]any); ok {
			ifs, _ = caps["interfaces"].([]any)
		}
	}
	names := make([]any, 0, len(ifs))
	for _, i := range ifs {
		if im, ok := i.(map[string]any); ok {
			names = append(names, im["name"])
		} else {
			names = append(names, i)
		}
	}
	return names
}

// renderDevice prints a device record (AddDevice, EditDevice,
// DeleteDevice).
func renderDevice(w io.Writer, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return renderGeneric(w, v)
	}
	capsOf := func(k string) func(map[string]any) any {
		return func(m map[string]any) any {
			caps, _ := m["capabilities"].(map[string]any)
			return caps[k]
		}
	}
	fields := []field{
		{key: "name", label: "name"},
		{key: "status", label: "status", from: deviceStatus},
		{key: "type", label: "type"},
		{key: "location", label: "location"},
		{key: "hostname", label: "hostname"},
		{key: "port", label: "port"},
		{key: "description", label: "description"},
		{key: "interfaces", label: "interfaces", from: deviceInterfaces},
		{key: "reachable", label: "reachable"},
		{key: "last_seen", label: "last seen"},
	}
	if _, ok := m["capabilities"].(map[string]any); ok {
		fields = append(fields,
			field{key: "capabilities.version", label: "version", from: capsOf("version")},
			field{key: "capabilities.transforms", label: "transforms", from: capsOf("transforms")},
			field{key: "capabilities.max_snaplen", label: "max snaplen", from: capsOf("max_snaplen")},
			field{key: "capabilities.storage_free_bytes", label: "storage free", from: capsOf("storage_free_bytes"), format: humanBytes},
		)
	}
	return writeBlock(w, m, fields, "pending", "approved", "capabilities", "token")
}

// renderDevices prints ListDevices.
func renderDevices(w io.Writer, v any) error {
	out, ok := derivedRows(v, func(m, row map[string]any) {
		row["_status"] = deviceStatus(m)
		row["_interfaces"] = deviceInterfaces(m)
	})
	if !ok {
		return renderGeneric(w, v)
	}
	return writeTable(w, out, []column{
		{header: "NAME", key: "name"},
		{header: "STATUS", key: "_status"},
		{header: "TYPE", key: "type"},
		{header: "HOSTNAME", key: "hostname"},
		{header: "PORT", key: "port"},
		{header: "LOCATION", key: "location"},
		{header: "REACHABLE", key: "reachable"},
		{header: "LAST_SEEN", key: "last_seen"},
		{header: "INTERFACES", key: "_interfaces"},
	})
}

// renderUsers prints ListUsers: name and role first, then whatever else
// the server tells about users.
func renderUsers(w io.Writer, v any) error {
	rows, ok := list(v)
	if !ok {
		return renderGeneric(w, v)
	}
	if len(rows) == 0 {
		return writeTable(w, nil, []column{{header: "NAME"}, {header: "ROLE"}})
	}
	return genericTable(w, rows, "name", "role")
}
