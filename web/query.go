package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/am/api"
	"github.com/gimsproject/gims/amapi"
)

// queryPageSize is how many flows the query page shows at once.
const queryPageSize = 50

// topN is how many groups each top-N chart shows.
const topN = 10

// bar is one group of a top-N chart: its label, its bytes, the bar's
// length (percent of the largest) and the filter that selects it.
type bar struct {
	Label   string
	Flows   int64
	Packets int64
	Bytes   int64
	Pct     float64
	Filter  string
}

// chart is a top-N chart.
type chart struct {
	ID, Title string
	Bars      []bar
}

// queryFlowRow is a flow of the query page with its "packets of this
// flow" link.
type queryFlowRow struct {
	amapi.FlowQueryRow
	PcapURL template.URL
}

// queryView is the data of query.html.
type queryView struct {
	ID       int64
	Name     string
	Filter   string
	From, To string
	Order    string
	Page     int
	Error    string
	Total    int64
	Charts   []chart
	Flows    []queryFlowRow
	Prev     template.URL
	Next     template.URL
	First    int64
	Last     int64
	Exports  map[string]template.URL
	PcapAll  string
}

// queryParams is the page's query string with changes; empty values are
// left out.
func (v *queryView) queryParams(changes map[string]string) string {
	q := url.Values{}
	set := func(k, val string) {
		if val != "" {
			q.Set(k, val)
		}
	}
	set("filter", v.Filter)
	set("from", v.From)
	set("to", v.To)
	set("order", v.Order)
	if v.Page > 1 {
		q.Set("page", strconv.Itoa(v.Page))
	}
	for k, val := range changes {
		q.Del(k)
		set(k, val)
	}
	return q.Encode()
}

// SortQuery is the query string of the page sorted by field: descending
// first, ascending when it already sorts descending by it.
func (v *queryView) SortQuery(field string) template.URL {
	o := "-" + field
	if v.Order == o || (v.Order == "" && field == "bytes") {
		o = field
	}
	return template.URL(v.queryParams(map[string]string{"order": o, "page": ""}))
}

// Sort is the aria-sort value of a column.
func (v *queryView) Sort(field string) string {
	o := v.Order
	if o == "" {
		o = "-bytes"
	}
	switch o {
	case field:
		return "ascending"
	case "-" + field:
		return "descending"
	}
	return "none"
}

// FilterQuery is the query string of the page with filter replaced.
func (v *queryView) FilterQuery(filter string) template.URL {
	return template.URL(v.queryParams(map[string]string{"filter": filter, "page": ""}))
}

// showQuery renders the query page of an experiment: the filter and time
// bounds (kept in the URL), top-N charts of hosts, ports and protocols,
// and the flows, paged and sortable.
func (h *Handler) showQuery(w http.ResponseWriter, r *http.Request, s *session) {
	set, ok := h.experimentSettings(w, r, s)
	if !ok {
		return
	}
	id := set.ID
	in := r.URL.Query()
	v := queryView{ID: id, Name: set.Name, Filter: strings.TrimSpace(in.Get("filter")), From: in.Get("from"),
		To: in.Get("to"), Order: in.Get("order"), Page: 1}
	if p, err := strconv.Atoi(in.Get("page")); err == nil && p > 1 && p <= 1<<16 {
		v.Page = p
	}
	q := amapi.FlowQuery{Filter: v.Filter, OrderBy: v.Order, Limit: queryPageSize, Offset: (v.Page - 1) * queryPageSize}
	for _, b := range []struct {
		name, val string
		t         *time.Time
	}{{"from", v.From, &q.From}, {"to", v.To, &q.To}} {
		if b.val == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, b.val)
		if err != nil {
			v.Error = fmt.Sprintf("%s must be a time like 2006-01-02T15:04:05Z, got %q", b.name, b.val)
			h.render(w, r, http.StatusBadRequest, "query.html", "Query · "+set.Name, "experiments", &v)
			return
		}
		*b.t = t
	}
	v.Exports = map[string]template.URL{}
	for _, name := range []string{am.ExportCSV, am.ExportParquet, am.ExportPcap} {
		v.Exports[name] = template.URL(fmt.Sprintf("/experiments/%d/export/%s?%s", id, name, v.queryParams(map[string]string{"order": "", "page": ""})))
	}
	res, err := h.m.QueryFlows(r.Context(), s.User, id, q)
	if err != nil {
		status := httpStatus(err)
		if status != http.StatusBadRequest {
			h.fail(w, r, err)
			return
		}
		v.Error = message(err)
		h.render(w, r, status, "query.html", "Query · "+set.Name, "experiments", &v)
		return
	}
	v.Total = res.Total
	for _, f := range res.Rows {
		v.Flows = append(v.Flows, queryFlowRow{FlowQueryRow: f, PcapURL: flowPcapURL(id, &f)})
	}
	if len(res.Rows) > 0 {
		v.First, v.Last = int64(q.Offset+1), int64(q.Offset+len(res.Rows))
	}
	if v.Page > 1 {
		v.Prev = template.URL(v.queryParams(map[string]string{"page": strconv.Itoa(v.Page - 1)}))
	}
	if int64(q.Offset+len(res.Rows)) < res.Total {
		v.Next = template.URL(v.queryParams(map[string]string{"page": strconv.Itoa(v.Page + 1)}))
	}
	for _, c := range []struct {
		id, title, key string
		label          func(*amapi.FlowQueryRow) (string, string)
	}{
		{"top-src", "Top sources", "src", func(r *amapi.FlowQueryRow) (string, string) { return r.Src, "src host " + r.Src }},
		{"top-dst", "Top destinations", "dst", func(r *amapi.FlowQueryRow) (string, string) { return r.Dst, "dst host " + r.Dst }},
		{"top-dport", "Top destination ports", "dport", func(r *amapi.FlowQueryRow) (string, string) {
			p := strconv.Itoa(*r.DstPort)
			return p, "dst port " + p
		}},
		{"top-proto", "Protocols", "proto", func(r *amapi.FlowQueryRow) (string, string) {
			return protoName(*r.Proto), "proto " + strconv.Itoa(*r.Proto)
		}},
	} {
		gq := q
		gq.GroupBy, gq.OrderBy, gq.Limit, gq.Offset = []string{c.key}, "-bytes", topN, 0
		g, err := h.m.QueryFlows(r.Context(), s.User, id, gq)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		ch := chart{ID: c.id, Title: c.title}
		for i, row := range g.Rows {
			label, filter := c.label(&g.Rows[i])
			if v.Filter != "" {
				filter = "(" + v.Filter + ") and " + filter
			}
			pct := 0.0
			if g.Rows[0].Bytes > 0 {
				pct = 100 * float64(row.Bytes) / float64(g.Rows[0].Bytes)
			}
			ch.Bars = append(ch.Bars, bar{Label: label, Flows: row.Flows, Packets: row.Packets, Bytes: row.Bytes, Pct: pct, Filter: filter})
		}
		v.Charts = append(v.Charts, ch)
	}
	h.render(w, r, http.StatusOK, "query.html", "Query · "+set.Name, "experiments", &v)
}

// flowPcapURL is the GUI's link to the packets of one flow: its key in
// both directions and its time bounds.
func flowPcapURL(id int64, f *amapi.FlowQueryRow) template.URL {
	filter := fmt.Sprintf("proto %d and src host %s and dst host %s and src port %d and dst port %d",
		*f.Proto, f.Src, f.Dst, *f.SrcPort, *f.DstPort)
	q := url.Values{}
	q.Set("filter", filter)
	q.Set("from", time.UnixMilli(f.StartMS).UTC().Format(time.RFC3339Nano))
	q.Set("to", time.UnixMilli(f.EndMS).UTC().Format(time.RFC3339Nano))
	return template.URL(fmt.Sprintf("/experiments/%d/export/%s?%s", id, am.ExportPcap, q.Encode()))
}

// export serves an experiment's flow exports (flows.csv, flows.parquet,
// query.pcap) to the GUI's user.
func (h *Handler) export(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := experimentID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	api.ServeFlowExport(w, r, h.m, s.User, id, r.PathValue("name"))
}
