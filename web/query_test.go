package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
)

// TestQueryPage drives the flow query page in chromium: the top-N
// charts, a filter kept in the URL, a bad filter's positioned error,
// sorting, and the packets of one flow.
func TestQueryPage(t *testing.T) {
	e := newEnv(t)
	cd := startCapd(t, "query-device-token")
	e.addDevice(t, "tap1", cd)
	ctx := context.Background()
	owner := am.Principal{Name: alice, Role: am.RoleExperimenter}
	id, err := e.m.CreateExperiment(ctx, owner, amapi.CreateRequest{Name: "flows", Devices: []string{"tap1:file:" + sampleName}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.ConfigureExperiment(ctx, owner, id, amapi.ExperimentConfig{Filter: "tcp or udp", Pcap: true,
		Flows: &amapi.FlowsConfig{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.StartExperiment(ctx, owner, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the experiment done and pulled", time.Minute, func() bool {
		st, err := e.m.GetExperimentStatus(ctx, owner, id)
		return err == nil && st.State == am.StateDone && st.ResultsPulled
	})
	all, err := e.m.QueryFlows(ctx, owner, id, amapi.FlowQuery{})
	if err != nil || all.Total == 0 {
		t.Fatalf("QueryFlows: %+v, %v", all, err)
	}

	b := newBrowser(t, e.srv.URL)
	b.navigate("/login", "#login")
	b.setValue("#login input[name=name]", alice)
	b.setValue("#login input[name=password]", alicePass)
	b.click("#login button", "#new-experiment")
	b.navigate(fmt.Sprintf("/experiments/%d", id), "#query-link")
	b.click("#query-link", "#query-form")
	if got, want := b.text("#query-summary"), fmt.Sprintf("%d flows match", all.Total); !strings.Contains(got, want) {
		t.Errorf("summary %q, want %q", got, want)
	}
	var n int
	b.eval("protocol bars", `document.querySelectorAll('#top-proto tbody tr').length`, &n)
	if n != 2 {
		t.Errorf("%d protocol bars, want tcp and udp", n)
	}
	b.eval("flow rows", `document.querySelectorAll('#query-flows tbody tr').length`, &n)
	if int64(n) != min(all.Total, queryPageSize) {
		t.Errorf("%d flow rows, want %d", n, min(all.Total, queryPageSize))
	}
	b.shot("20-query", false)

	// A filter: kept in the URL, applied to the table and the charts.
	udp, err := e.m.QueryFlows(ctx, owner, id, amapi.FlowQuery{Filter: "udp"})
	if err != nil {
		t.Fatal(err)
	}
	b.setValue("#filter", "udp")
	b.click("#run-query", "#query-summary")
	b.waitNav("the filtered page", `location.search.includes('filter=udp')`)
	if got, want := b.text("#query-summary"), fmt.Sprintf("%d flows match", udp.Total); !strings.Contains(got, want) {
		t.Errorf("summary with udp %q, want %q", got, want)
	}
	b.eval("protocol bars", `document.querySelectorAll('#top-proto tbody tr').length`, &n)
	if n != 1 {
		t.Errorf("%d protocol bars with the filter udp, want 1", n)
	}
	// Sorting by packets: aria-sort says so, the rows follow.
	b.click("#sort-packets", "#query-flows")
	b.waitNav("sorted by packets", `location.search.includes('order=-packets')`)
	var sortAttr string
	b.eval("aria-sort", `document.querySelector('#sort-packets').closest('th').getAttribute('aria-sort')`, &sortAttr)
	if sortAttr != "descending" {
		t.Errorf("aria-sort of packets = %q, want descending", sortAttr)
	}
	if !strings.Contains(b.url(), "filter=udp") {
		t.Errorf("sorting lost the filter: %s", b.url())
	}

	// The packets of one flow: the link's pcap holds exactly them.
	var href string
	b.eval("pcap link", `document.querySelector('#query-flows .flow-pcap').href`, &href)
	var first amapi.FlowQueryResult
	if first, err = e.m.QueryFlows(ctx, owner, id, amapi.FlowQuery{Filter: "udp", OrderBy: "-packets", Limit: 1}); err != nil {
		t.Fatal(err)
	}
	c := e.login(t, alice, alicePass)
	u, _ := url.Parse(href)
	status, body := c.get(u.RequestURI())
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", href, status, body)
	}
	if got := pcapPacketCount(t, []byte(body)); int64(got) != first.Rows[0].Packets {
		t.Errorf("packets of the flow: %d in the pcap, the flow has %d", got, first.Rows[0].Packets)
	}

	// A bad filter: the position, marked, and the filter kept.
	b.setValue("#filter", "proto tcp and port x")
	b.click("#run-query", "#query-error")
	if got, want := b.text("#query-error"), "filter: position 20: expected a port number (0 to 65535), got \"x\""; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	var val string
	b.eval("kept filter", `document.querySelector('#filter').value`, &val)
	if val != "proto tcp and port x" {
		t.Errorf("filter box holds %q after the error", val)
	}
	b.shot("21-query-error", true)

	// Another experimenter sees nothing of it.
	bobC := e.login(t, bob, bobPass)
	if status, _ := bobC.get(fmt.Sprintf("/experiments/%d/query", id)); status != http.StatusNotFound {
		t.Errorf("another experimenter's query page: HTTP %d, want 404", status)
	}
	if status, _ := bobC.get(fmt.Sprintf("/experiments/%d/export/flows.csv", id)); status != http.StatusNotFound {
		t.Errorf("another experimenter's export: HTTP %d, want 404", status)
	}
}

// pcapPacketCount counts the packets of a pcap file.
func pcapPacketCount(t *testing.T, data []byte) int {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a pcap: %v", err)
	}
	n := 0
	for {
		_, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
}
