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

// TestRound3ConfigureDefaults: a new experiment's configure form starts
// safe (anonymization on, payloads stripped, MACs keyed), and saving it
// as it is keeps that (a random key nobody holds when no secret is
// typed).
func TestRound3ConfigureDefaults(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.addDevice(t, "tap1", startCapd(t, "defaults-token"))
	b := newBrowser(t, e.srv.URL)
	b.loginAs(alice, alicePass)
	b.navigate("/experiments/new", "#experiment-form")
	b.setValue("input[name=name]", "defaults")
	b.run("choose the trace", chromedp.Click(fmt.Sprintf(`input[value="tap1:file:%s"]`, traceName), chromedp.ByQuery))
	b.click("#create", "#config-form")
	var form struct {
		Anonymize bool   `json:"anonymize"`
		Payload   string `json:"payload"`
		MAC       string `json:"mac"`
		Sanitize  bool   `json:"sanitize"`
		Warning   bool   `json:"warning"`
		Secret    string `json:"secret"`
	}
	read := func() {
		b.eval("the form's defaults", `(() => {
			const q = s => document.querySelector(s), shown = s => !!q(s) && q(s).getClientRects().length > 0;
			return {anonymize: q('input[name=anonymize]').checked, payload: q('select[name=payload]').value,
				mac: q('select[name=mac]').value, sanitize: shown('#sanitize'), warning: shown('#keep-warning'),
				secret: q('input[name=secret]').value};
		})()`, &form)
	}
	read()
	if !form.Anonymize || form.Payload != "strip" || form.MAC != "keyed" || !form.Sanitize || form.Warning {
		t.Errorf("a new experiment's form: %+v; want anonymization on, payload strip, mac keyed, no keep warning", form)
	}
	if s := b.text("#secret-hint"); !strings.Contains(s, "random key") {
		t.Errorf("the secret's hint does not say what empty does: %q", s)
	}
	b.shot("51-configure-defaults", true)
	b.click("#configure-save", "#btn-start")
	list, err := e.m.ListExperiments(ctx, am.Principal{Name: alice, Role: am.RoleExperimenter})
	if err != nil || len(list) != 1 {
		t.Fatalf("experiments: %v, %v", list, err)
	}
	set, err := e.m.GetExperimentSettings(ctx, e.admin, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if a := set.Config.Anonymize; a == nil || a.Payload != "strip" || a.MAC != "keyed" || a.Key != "" || len(a.SecretFingerprint) < 8 {
		t.Fatalf("saved as it was: anonymize %+v; want on, strip, keyed, with a key's fingerprint", a)
	}
	// Re-configuring shows what is stored: still safe.
	read()
	if !form.Anonymize || form.Payload != "strip" || form.MAC != "keyed" || form.Secret != "" {
		t.Errorf("the stored configuration's form: %+v", form)
	}
	if s := b.text("#secret-hint"); !strings.Contains(s, set.Config.Anonymize.SecretFingerprint) {
		t.Errorf("the secret's hint does not show the fingerprint %s: %q", set.Config.Anonymize.SecretFingerprint, s)
	}
	// Switched off on purpose, it stays off.
	b.run("anonymize off", chromedp.Click("input[name=anonymize]", chromedp.ByQuery),
		chromedp.Evaluate(`window.gimsMark = 1`, nil), chromedp.Click("#configure-save", chromedp.ByQuery))
	b.waitNav("the page after saving", `!window.gimsMark && !!document.querySelector('#btn-start')`)
	if set, err = e.m.GetExperimentSettings(ctx, e.admin, list[0].ID); err != nil || set.Config.Anonymize != nil {
		t.Errorf("anonymization switched off: %+v, %v", set.Config.Anonymize, err)
	}
}

// TestRound3PhoneApprove: at 390×844 a pending device's Approve button is
// in the viewport once its row is, uncovered, big enough to tap, and a
// tap approves the device; tables too wide for the phone scroll with a
// visible hint.
func TestRound3PhoneApprove(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.addDevice(t, "tap1", startCapd(t, "phone-token-1"))
	cd := startCapd(t, "phone-token-2")
	act, err := e.m.CreateActivation(ctx, e.admin, amapi.ActivationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.RegisterDevice(ctx, e.admin, amapi.Registration{Name: "self-registered-on-the-roof", Hostname: cd.host, Port: cd.port,
		Token: cd.token, Activation: act.Code}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e.srv.URL)
	b.loginAs(adminName, adminPass)
	b.navigate("/devices", "#approve-self-registered-on-the-roof")
	b.shot("52-devices-pending", true)
	b.run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	b.wait("the scrolling tables marked", `[...document.querySelectorAll('.overflow-auto')].every(el => (el.scrollWidth > el.clientWidth + 1) === el.hasAttribute('data-scrolls'))`)
	var hints []struct {
		Table string  `json:"table"`
		Hint  string  `json:"hint"`
		Left  float64 `json:"left"`
		Right float64 `json:"right"`
	}
	b.eval("the scroll hints", `[...document.querySelectorAll('.overflow-auto[data-scrolls]')].map(el => {
		const r = el.getBoundingClientRect();
		return {table: (el.querySelector('table') || {}).id || '', hint: getComputedStyle(el, '::after').content, left: r.left, right: r.right};
	})`, &hints)
	if len(hints) == 0 {
		t.Errorf("no table scrolls sideways at 390 px: the test shows nothing")
	}
	for _, h := range hints {
		if !strings.Contains(h.Hint, "scroll sideways") || h.Left < 0 || h.Right > 390 {
			t.Errorf("table %q scrolls at 390 px: hint %s, box %.0f–%.0f px; want the hint, on screen", h.Table, h.Hint, h.Left, h.Right)
		}
	}
	var btn struct {
		Left, Top, Right, Bottom float64
		Width, Height            float64
		Hit                      bool
		InnerW, InnerH           float64
	}
	b.eval("the Approve button", `(() => {
		const el = document.getElementById('approve-self-registered-on-the-roof');
		el.closest('tr').scrollIntoView({block: 'center'});
		const r = el.getBoundingClientRect(), hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		return {Left: r.left, Top: r.top, Right: r.right, Bottom: r.bottom, Width: r.width, Height: r.height,
			Hit: !!hit && (hit === el || el.contains(hit)), InnerW: window.innerWidth, InnerH: window.innerHeight};
	})()`, &btn)
	if btn.Left < 0 || btn.Right > btn.InnerW || btn.Top < 0 || btn.Bottom > btn.InnerH || !btn.Hit || btn.Width < 24 || btn.Height < 24 {
		t.Errorf("the Approve button at 390 px: %+v; want in the viewport, uncovered, at least 24×24 px", btn)
	}
	b.run("tap Approve", chromedp.Click("#approve-self-registered-on-the-roof", chromedp.ByQuery))
	b.waitNav("the approval", `!!document.querySelector('.flash') && document.querySelector('.flash').textContent.includes('approved')`)
	b.absent("#approve-self-registered-on-the-roof")
	devs, err := e.m.ListDevices(ctx, e.admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.Name == "self-registered-on-the-roof" && d.Pending {
			t.Errorf("after the tap the device is still pending")
		}
	}
}
