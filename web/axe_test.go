package web

import (
	"context"
	"fmt"
	"os"
	"regexp"
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
	// check runs axe on a page at both widths and saves its screenshots,
	// test-artifacts/screenshots/axe-NAME.png and axe-NAME-phone.png.
	check := func(name, path, sel string) {
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
		b.shot("axe-"+name, true)
	}
	check("login", "/login", "#login")
	b.loginAs(adminName, adminPass)
	// Every page of the GUI, by the route that serves it (root.go).
	pages := []struct{ route, name, path, sel string }{
		{"/experiments", "experiments", "/experiments", "#experiments"},
		{"/experiments/new", "experiment-new", "/experiments/new", "#experiment-form"},
		{"/experiments/{id}", "experiment-done", fmt.Sprintf("/experiments/%d", id), "#flows"},
		{"/experiments/{id}", "experiment-configure", fmt.Sprintf("/experiments/%d", conf), "#config-form"},
		{"/experiments/{id}/stop", "experiment-stop", fmt.Sprintf("/experiments/%d/stop", id), "main"},
		{"/experiments/{id}/delete", "experiment-delete", fmt.Sprintf("/experiments/%d/delete", id), "#confirm-delete"},
		{"/experiments/{id}/query", "query", fmt.Sprintf("/experiments/%d/query", id), "#query-form"},
		{"/devices", "devices", "/devices", "#devices"},
		{"/devices/new", "device-new", "/devices/new", "#device-form"},
		{"/devices/{name}/edit", "device-edit", "/devices/tap1/edit", "#capabilities"},
		{"/devices/{name}/delete", "device-delete", "/devices/tap1/delete", "#confirm"},
		{"/keys", "keys", "/keys", "#new-key-form"},
		{"/audit", "audit", "/audit", "main"},
		{"/users", "users", "/users", "#user-list"},
		{"/schedule", "schedule", "/schedule", "main"},
		{"", "not-found", "/no/such/page", "#error-page"},
	}
	covered := map[string]bool{"/login": true}
	for _, p := range pages {
		check(p.name, p.path, p.sel)
		covered[p.route] = true
	}
	// A page added to the GUI is added here: its screenshots and axe.
	for _, route := range pageRoutes(t) {
		if !covered[route] {
			t.Errorf("GET %s is not checked by axe nor in the screenshots: add it to the pages above", route)
		}
	}
}

// notPages are the GET routes of root.go that answer no page: assets,
// fragments, data and downloads, and the start page's redirect.
var notPages = map[string]bool{
	"/static/": true, "/{$}": true, "/experiments/{id}/status": true, "/experiments/{id}/results": true,
	"/experiments/{id}/counters.json": true, "/experiments/{id}/files/{pos}/{name}": true,
	"/experiments/{id}/export/{name}": true,
}

// pageRoutes lists the GET routes of the GUI's pages, read from root.go.
func pageRoutes(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("root.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`Handle(?:Func)?\("GET (/[^"]*)"`).FindAllStringSubmatch(string(src), -1) {
		if !notPages[m[1]] {
			out = append(out, m[1])
		}
	}
	if len(out) < 10 {
		t.Fatalf("root.go: only %d page routes found (%q): has its form changed?", len(out), out)
	}
	return out
}
