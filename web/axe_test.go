package web

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
)

// axeScript is axe-core (vendored by vendor.sh into testdata: the tests
// need it, the GUI does not).
const axeScript = "testdata/axe/axe.min.js"

// axe runs axe-core on the current page and returns its serious and
// critical violations, one line each.
func (b *browserT) axe(src string) []string {
	b.t.Helper()
	b.run("inject axe", chromedp.Evaluate(src+";1", nil))
	var found []string
	b.run("run axe", chromedp.Evaluate(`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
		.filter(v => v.impact === 'serious' || v.impact === 'critical')
		.map(v => v.impact + ' ' + v.id + ' (' + v.nodes.length + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))`,
		&found, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	return found
}

// TestAccessibilityAxe runs axe-core over every page of the GUI at
// desktop and phone widths: no serious or critical violation.
func TestAccessibilityAxe(t *testing.T) {
	src, err := os.ReadFile(axeScript)
	if err != nil {
		t.Fatalf("axe-core (sh web/vendor.sh vendors it): %v", err)
	}
	e := newEnv(t)
	ctx := context.Background()
	cd := startCapd(t, "axe-device-token")
	e.addDevice(t, "tap1", cd)
	id, err := e.m.CreateExperiment(ctx, e.admin, amapi.CreateRequest{Name: "axe", Devices: []string{"tap1:file:" + traceName}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.ConfigureExperiment(ctx, e.admin, id, amapi.ExperimentConfig{Pcap: true,
		Counters: &amapi.CountersConfig{IntervalMS: 500}, Flows: &amapi.FlowsConfig{ActiveTimeoutS: 60, IdleTimeoutS: 30}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.StartExperiment(ctx, e.admin, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the experiment done", 60*time.Second, func() bool {
		st, err := e.m.GetExperimentStatus(ctx, e.admin, id)
		return err == nil && st.State == am.StateDone
	})
	conf, err := e.m.CreateExperiment(ctx, e.admin, amapi.CreateRequest{Name: "conf", Devices: []string{"tap1:file:" + sampleName}})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e.srv.URL)
	check := func(path, sel string) {
		t.Helper()
		b.navigate(path, sel)
		for _, width := range []int64{1280, 390} {
			b.run("width", chromedp.EmulateViewport(width, 900))
			b.wait("the scrolling tables marked", `[...document.querySelectorAll('.overflow-auto')].every(el => (el.scrollWidth > el.clientWidth + 1) === el.hasAttribute('data-scrolls'))`)
			for _, v := range b.axe(string(src)) {
				t.Errorf("%s at %d px: %s", path, width, v)
			}
		}
		b.run("width", chromedp.EmulateViewport(1280, 900))
		name := strings.Trim(strings.NewReplacer("/", "-", "?", "-").Replace(path), "-")
		if name == "" {
			name = "root"
		}
		b.shot("axe-"+name, true)
	}
	check("/login", "#login")
	b.loginAs(adminName, adminPass)
	for _, p := range []struct{ path, sel string }{
		{"/experiments", "#experiments"},
		{"/experiments/new", "#experiment-form"},
		{fmt.Sprintf("/experiments/%d", id), "#flows"},
		{fmt.Sprintf("/experiments/%d", conf), "#config-form"},
		{fmt.Sprintf("/experiments/%d/stop", id), "main"},
		{"/devices", "#devices"},
		{"/devices/new", "#device-form"},
		{"/devices/tap1/edit", "#capabilities"},
		{"/devices/tap1/delete", "#confirm"},
		{"/keys", "#new-key-form"},
		{"/audit", "main"},
		{"/users", "#user-list"},
		{"/schedule", "main"},
		{"/no/such/page", "#error-page"},
	} {
		check(p.path, p.sel)
	}
}
