package web

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/internal/daemontest"
)

// The rest of issue 18: charts per device, safe configure defaults, the
// phone's Approve button.

// startCapdLight starts a capture daemon whose -pcap-dir holds the sample,
// the trace and the lighter trace.
func startCapdLight(t *testing.T, token string) *capd {
	t.Helper()
	sample := filepath.Join("..", "cmd", "gims-capd", "testdata", "pcaps", sampleName)
	c := daemontest.StartCapd(t, bins.capd, t.TempDir(), token, []string{sample, bins.trace, bins.light})
	return &capd{Proc: c.Proc, host: c.Host, port: c.Port, token: token}
}

// chartState is what a chart draws, read from Chart.js.
type chartState struct {
	Labels  []string  `json:"labels"`
	Sums    []float64 `json:"sums"`
	Points  []int     `json:"points"`
	Stacked bool      `json:"stacked"`
	Legend  []string  `json:"legend"`
	Caption string    `json:"caption"`
	// Colours counts, per dataset, the canvas pixels of its colour: the
	// line is drawn, not only listed.
	Colours []int `json:"colours"`
}

// readChart reads the chart on canvas id and its caption.
func (b *browserT) readChart(id string) chartState {
	b.t.Helper()
	var c chartState
	b.eval("the chart "+id, `(() => {
		const canvas = document.getElementById('`+id+`'), ch = Chart.getChart(canvas);
		const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
		const rgb = h => [1, 3, 5].map(i => parseInt(h.slice(i, i + 2), 16));
		const colours = ch.data.datasets.map(d => {
			const [r, g, b] = rgb(d.borderColor); let n = 0;
			for (let i = 0; i < px.length; i += 4) {
				if (px[i + 3] > 200 && Math.abs(px[i] - r) < 16 && Math.abs(px[i + 1] - g) < 16 && Math.abs(px[i + 2] - b) < 16) n++;
			}
			return n;
		});
		return {
			labels: ch.data.datasets.map(d => d.label),
			sums: ch.data.datasets.map(d => d.data.reduce((a, v) => a + (v || 0), 0)),
			points: ch.data.datasets.map(d => d.data.filter(v => v !== null).length),
			stacked: !!ch.options.scales.y.stacked,
			legend: ch.legend.legendItems.map(i => i.text),
			caption: document.getElementById(canvas.getAttribute('aria-labelledby')).textContent,
			colours: colours,
		};
	})()`, &c)
	return c
}

// TestRound3ChartsPerDevice: an experiment on two devices draws one line
// per device interface on each chart, with the legend, and its table
// lists each device's counters; "by protocol" sums them again. One
// device keeps the charts by protocol.
func TestRound3ChartsPerDevice(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.addDevice(t, "tap1", startCapdLight(t, "charts-token-1"))
	e.addDevice(t, "tap2", startCapdLight(t, "charts-token-2"))
	alicePr := am.Principal{Name: alice, Role: am.RoleExperimenter}
	one, two := "tap1:file:"+traceName, "tap2:file:"+lightName
	id, err := e.m.CreateExperiment(ctx, alicePr, amapi.CreateRequest{Name: "pair", Devices: []string{one, two}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.ConfigureExperiment(ctx, alicePr, id, amapi.ExperimentConfig{Pcap: true,
		Counters: &amapi.CountersConfig{IntervalMS: 500}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.StartExperiment(ctx, alicePr, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the experiment done", 60*time.Second, func() bool {
		st, err := e.m.GetExperimentStatus(ctx, alicePr, id)
		return err == nil && st.State == am.StateDone
	})

	b := newBrowser(t, e.srv.URL)
	b.loginAs(alice, alicePass)
	b.navigate(fmt.Sprintf("/experiments/%d", id), "#charts")
	b.wait("chart points", `Number(document.getElementById('charts').dataset.points || 0) >= 10`)
	b.wait("the charts by device", `document.getElementById('charts').dataset.view === 'device'`)
	for _, c := range []struct{ id, caption string }{{"chart-pps", "Packets/s by device"}, {"chart-bps", "Bits/s by device"}} {
		got := b.readChart(c.id)
		if strings.Join(got.Labels, ",") != one+","+two || strings.Join(got.Legend, ",") != one+","+two {
			t.Errorf("%s: datasets %q, legend %q; want one per device, %s and %s", c.id, got.Labels, got.Legend, one, two)
			continue
		}
		if got.Stacked || got.Caption != c.caption {
			t.Errorf("%s: stacked %t, caption %q; want lines, %q", c.id, got.Stacked, got.Caption, c.caption)
		}
		// The lighter trace has fewer packets over the same ten seconds.
		if got.Sums[0] <= got.Sums[1] || got.Sums[1] <= 0 || got.Points[0] < 10 || got.Points[1] < 10 {
			t.Errorf("%s: sums %v over %v points; want both lines, the trace's above the light one's", c.id, got.Sums, got.Points)
		}
		for i, n := range got.Colours {
			if n < 100 {
				t.Errorf("%s: the line of %s has %d pixels: not drawn", c.id, got.Labels[i], n)
			}
		}
	}
	// The averages of the run stay.
	if avg := b.text("#averages"); !strings.Contains(avg, "pkt/s") || !strings.Contains(avg, "bit/s") {
		t.Errorf("averages once done: %q", avg)
	}
	// The table alternative: a row per device and interval.
	var rows [][]string
	b.eval("the counters table", `[...document.querySelectorAll('#counters-table tbody tr')].map(tr => [...tr.children].map(td => td.textContent))`, &rows)
	devices := map[string]int{}
	for _, r := range rows {
		if len(r) != 7 || !dateTimeRE.MatchString(r[0]) || !strings.HasSuffix(r[2], "pkt/s") || !strings.HasSuffix(r[6], "bit/s") {
			t.Errorf("counters table row %q: want time, device, four pkt/s and a bit/s", r)
			break
		}
		devices[r[1]]++
	}
	if devices[one] < 5 || devices[two] < 5 || len(devices) != 2 {
		t.Errorf("counters table rows per device: %v; want both devices", devices)
	}
	var heads []string
	b.eval("the table's heads", `[...document.querySelectorAll('#counters-table thead th')].map(th => th.textContent)`, &heads)
	if len(heads) < 2 || heads[1] != "Device" {
		t.Errorf("counters table heads %q: no Device column", heads)
	}
	b.shot("50-charts-two-devices", true)

	// By protocol: the devices summed, stacked, as with one device.
	b.run("by protocol", chromedp.Click(`input[name=chart-view][value=protocol]`, chromedp.ByQuery))
	b.wait("the charts by protocol", `document.getElementById('charts').dataset.view === 'protocol'`)
	if got := b.readChart("chart-pps"); strings.Join(got.Labels, ",") != "TCP,UDP,ICMP,other" || !got.Stacked ||
		got.Caption != "Packets/s by protocol" {
		t.Errorf("by protocol: %+v", got)
	}
	b.run("by device", chromedp.Click(`input[name=chart-view][value=device]`, chromedp.ByQuery))
	b.wait("the charts by device again", `document.getElementById('charts').dataset.view === 'device'`)
	if got := b.readChart("chart-bps"); len(got.Labels) != 2 || got.Stacked {
		t.Errorf("by device again: %+v", got)
	}

	// One device: by protocol, no choice of lines.
	solo, err := e.m.CreateExperiment(ctx, alicePr, amapi.CreateRequest{Name: "solo", Devices: []string{two}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.ConfigureExperiment(ctx, alicePr, solo, amapi.ExperimentConfig{Counters: &amapi.CountersConfig{IntervalMS: 500}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.StartExperiment(ctx, alicePr, solo); err != nil {
		t.Fatal(err)
	}
	b.navigate(fmt.Sprintf("/experiments/%d", solo), "#charts")
	b.wait("chart points", `Number(document.getElementById('charts').dataset.points || 0) >= 2`)
	b.absent("#chart-view")
	if got := b.readChart("chart-pps"); strings.Join(got.Labels, ",") != "TCP,UDP,ICMP,other" || !got.Stacked {
		t.Errorf("one device: %+v", got)
	}
	var device string
	b.eval("the table's device", `(document.querySelector('#counters-table tbody tr td:nth-child(2)') || {textContent: ''}).textContent`, &device)
	if device != two {
		t.Errorf("one device's table names %q, want %q", device, two)
	}
}
