package web

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
)

// Issue 18's bugs, one subtest each: every one failed before its fix.
// They share one manager, two capture daemons and one chromium to keep
// the run short.

// dateTimeRE is the GUI's one time format: date and 24-hour clock (UTC).
var dateTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{3})?( UTC)?$`)

// loginAs logs the browser in.
func (b *browserT) loginAs(user, pass string) {
	b.t.Helper()
	b.navigate("/login", "#login")
	b.setValue("#login input[name=name]", user)
	b.setValue("#login input[name=password]", pass)
	b.click("#login button", "#new-experiment")
}

// postFromPage posts a form from the current page as a person's browser
// would (with the page's CSRF token), for a button the page does not
// offer.
func (b *browserT) postFromPage(action string) {
	b.t.Helper()
	b.run("post "+action, chromedp.Evaluate(fmt.Sprintf(`(() => {
		window.gimsMark = 1;
		const f = document.createElement('form'); f.method = 'post'; f.action = %q;
		const c = document.createElement('input'); c.type = 'hidden'; c.name = 'csrf';
		c.value = document.querySelector('meta[name="csrf-token"]').content; f.appendChild(c);
		document.body.appendChild(f); f.submit();
	})()`, action), nil))
	b.waitNav("the answer to "+action, `window.gimsMark === undefined && document.readyState === 'complete'`)
}

// clickNav clicks sel, which loads a new page, and waits for that page to
// be complete with sel2 on it.
func (b *browserT) clickNav(sel, sel2 string) {
	b.t.Helper()
	b.run("click "+sel, chromedp.Evaluate(fmt.Sprintf(`window.gimsMark = 1; document.querySelector(%q).click()`, sel), nil))
	b.waitNav("the page after "+sel, fmt.Sprintf(`window.gimsMark === undefined && document.readyState === 'complete' && !!document.querySelector(%q)`, sel2))
}

// isErrorAlert checks sel is an error in the one error style: role=alert,
// red, readable text (no API method name, no Go error chain at the top).
func (b *browserT) isErrorAlert(sel string) string {
	b.t.Helper()
	var res struct {
		Found bool   `json:"found"`
		Role  string `json:"role"`
		Color string `json:"color"`
		Text  string `json:"text"`
	}
	b.eval("error "+sel, fmt.Sprintf(`(() => { const el = document.querySelector(%q);
		if (!el) return {found: false};
		const p = el.querySelector('p') || el;
		return {found: true, role: el.getAttribute('role'), color: getComputedStyle(el).borderLeftColor,
			text: p.textContent.trim()}; })()`, sel), &res)
	if !res.Found {
		var main string
		b.eval("page", `document.documentElement.outerHTML.slice(0, 1500)`, &main)
		b.t.Fatalf("no error %s on %s:\n%s", sel, b.url(), main)
	}
	if res.Role != "alert" || res.Color != "rgb(198, 40, 40)" {
		b.t.Errorf("%s: role %q, border %s; want alert and red", sel, res.Role, res.Color)
	}
	return res.Text
}

func TestRound2Bugs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cd1 := startCapd(t, "round2-token-1")
	cd2 := startCapd(t, "round2-token-2")
	e.addDevice(t, "tap1", cd1)
	e.addDevice(t, "tap2", cd2)
	alicePr := am.Principal{Name: alice, Role: am.RoleExperimenter}

	// Experiments: on the trace (counters, flows) and on the sample with
	// neither, run to their end; one on both devices for the failures.
	run := func(name, source string, cfg amapi.ExperimentConfig) int64 {
		id, err := e.m.CreateExperiment(ctx, alicePr, amapi.CreateRequest{Name: name, Devices: []string{source}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.ConfigureExperiment(ctx, alicePr, id, cfg); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.StartExperiment(ctx, alicePr, id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	done := func(id int64) {
		waitFor(t, fmt.Sprintf("experiment %d done", id), 60*time.Second, func() bool {
			st, err := e.m.GetExperimentStatus(ctx, alicePr, id)
			return err == nil && st.State == am.StateDone
		})
	}
	traceID := run("trace", "tap1:file:"+traceName, amapi.ExperimentConfig{Pcap: true,
		Counters: &amapi.CountersConfig{IntervalMS: 500}, Flows: &amapi.FlowsConfig{ActiveTimeoutS: 60, IdleTimeoutS: 30}})
	quietID := run("quiet", "tap1:file:"+sampleName, amapi.ExperimentConfig{Pcap: true})
	done(traceID)
	done(quietID)
	// A paused one holds tap1 (in use).
	pausedID := run("held", "tap1:file:"+traceName, amapi.ExperimentConfig{Pcap: true, ReplaySpeed: 0.05})
	if _, err := e.m.PauseExperiment(ctx, alicePr, pausedID); err != nil {
		t.Fatal(err)
	}
	// One on both devices, configured, for when tap2 is down.
	bothID, err := e.m.CreateExperiment(ctx, alicePr, amapi.CreateRequest{Name: "both",
		Devices: []string{"tap1:file:" + sampleName, "tap2:file:" + sampleName}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.ConfigureExperiment(ctx, alicePr, bothID, amapi.ExperimentConfig{Pcap: true}); err != nil {
		t.Fatal(err)
	}
	// One running on both devices, for a stop while tap2 is down.
	twoID, err := e.m.CreateExperiment(ctx, alicePr, amapi.CreateRequest{Name: "two",
		Devices: []string{"tap1:file:" + traceName, "tap2:file:" + traceName}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.ConfigureExperiment(ctx, alicePr, twoID, amapi.ExperimentConfig{Pcap: true, ReplaySpeed: 0.05}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.StartExperiment(ctx, alicePr, twoID); err != nil {
		t.Fatal(err)
	}
	// tap2 goes down; the manager notices at its next call.
	cd2.Kill(syscall.SIGKILL)
	e.m.GetDeviceCapabilities(ctx, e.admin, "tap2")

	b := newBrowser(t, e.srv.URL)
	b.loginAs(alice, alicePass)
	successFlash := func() string {
		var s string
		b.eval("success flash", `(document.querySelector('.flash[role=status]') || {textContent: ''}).textContent`, &s)
		return s
	}

	t.Run("01 a failed transition is an error, not a neutral flash", func(t *testing.T) {
		b.t = t
		b.navigate(fmt.Sprintf("/experiments/%d", bothID), "#btn-start")
		b.clickNav("#btn-start", ".flash")
		msg := b.isErrorAlert("#flash-error")
		if !strings.HasPrefix(msg, "The experiment was not started.") || strings.Contains(msg, "StartExperiment") {
			t.Errorf("error %q", msg)
		}
		var detail string
		b.eval("detail", `(document.querySelector('#flash-error details code') || {textContent: ''}).textContent`, &detail)
		if !strings.Contains(detail, "tap2") {
			t.Errorf("the technical detail %q does not name tap2", detail)
		}
		if s := successFlash(); s != "" {
			t.Errorf("a neutral message after the failure: %q", s)
		}
		b.shot("30-transition-failed", true)
	})

	t.Run("01 a stop a device did not answer is not a success", func(t *testing.T) {
		b.t = t
		b.navigate(fmt.Sprintf("/experiments/%d", twoID), "#btn-stop")
		b.click("#btn-stop", "#confirm-stop-btn")
		b.clickNav("#confirm-stop-btn", ".flash")
		msg := b.isErrorAlert("#flash-error")
		if !strings.Contains(msg, "tap2 did not answer") {
			t.Errorf("error %q", msg)
		}
		if s := successFlash(); s != "" {
			t.Errorf("a neutral message after the failure: %q", s)
		}
		b.shot("30-stop-device-down", false)
	})

	t.Run("stop asks for confirmation", func(t *testing.T) {
		b.t = t
		b.navigate(fmt.Sprintf("/experiments/%d", pausedID), "#btn-stop")
		b.click("#btn-stop", "#confirm-stop-btn")
		if st, _ := e.m.GetExperimentStatus(ctx, alicePr, pausedID); st.State != am.StatePaused {
			t.Errorf("the Stop button stopped at once: %s", st.State)
		}
		b.shot("31-stop-confirm", false)
		b.click("#cancel", "#btn-stop")
	})

	t.Run("11 messages in words, not API methods", func(t *testing.T) {
		b.t = t
		b.navigate("/devices", "#error-message")
		if msg := b.isErrorAlert("#error-message"); msg != "Only admins can list devices." {
			t.Errorf("alice on /devices: %q", msg)
		}
		b.navigate(fmt.Sprintf("/experiments/%d", quietID), "#status")
		b.postFromPage(fmt.Sprintf("/experiments/%d/pause", quietID))
		if msg := b.isErrorAlert("#flash-error"); msg != "The experiment was not paused. An experiment that is done cannot be paused." {
			t.Errorf("pause a done experiment: %q", msg)
		}
		b.shot("32-words", false)
	})

	t.Run("12 plurals", func(t *testing.T) {
		b.t = t
		b.navigate(fmt.Sprintf("/experiments/%d", bothID), "#history")
		if s := b.text("#history summary"); s != "History (2 transitions)" {
			t.Errorf("history summary %q", s)
		}
		b.navigate(fmt.Sprintf("/experiments/%d", quietID), "#results")
		if s := b.text("#results"); strings.Contains(s, "The 0 largest") {
			t.Errorf("results without flows say: %q", s)
		}
		id, err := e.m.CreateExperiment(ctx, alicePr, amapi.CreateRequest{Name: "fresh", Devices: []string{"tap1:file:" + sampleName}})
		if err != nil {
			t.Fatal(err)
		}
		b.navigate(fmt.Sprintf("/experiments/%d", id), "#history")
		if s := b.text("#history summary"); s != "History (1 transition)" {
			t.Errorf("history summary %q", s)
		}
	})

	t.Run("06 one time format, units, trace time", func(t *testing.T) {
		b.t = t
		b.navigate(fmt.Sprintf("/experiments/%d?sort=start&dir=asc", traceID), "#flows")
		b.wait("chart points", `Number(document.getElementById('charts').dataset.points || 0) >= 2`)
		var c struct {
			Label   string `json:"label"`
			Tooltip string `json:"tooltip"`
			BTip    string `json:"btip"`
			Axis    string `json:"axis"`
		}
		b.eval("chart", `(() => { const p = Chart.getChart(document.getElementById('chart-pps')), q = Chart.getChart(document.getElementById('chart-bps'));
			return {label: p.data.labels[0],
				tooltip: p.options.plugins.tooltip.callbacks.label({dataset: {label: 'TCP'}, parsed: {y: 1500}}),
				btip: q.options.plugins.tooltip.callbacks.label({dataset: {label: 'UDP'}, parsed: {y: 2000000}}),
				axis: p.options.scales.x.title.text}; })()`, &c)
		if !dateTimeRE.MatchString(c.Label) {
			t.Errorf("chart x label %q is not date and 24-hour time", c.Label)
		}
		if c.Tooltip != "TCP: 1.5 kpkt/s" || c.BTip != "UDP: 2 Mbit/s" {
			t.Errorf("tooltips %q, %q: want units", c.Tooltip, c.BTip)
		}
		if !strings.Contains(c.Axis, "trace time") {
			t.Errorf("x axis title %q does not say trace time", c.Axis)
		}
		b.text("#trace-time")
		if avg := b.text("#averages"); !strings.Contains(avg, "pkt/s") || !strings.Contains(avg, "bit/s") {
			t.Errorf("averages once done: %q", avg)
		}
		var table []string
		b.eval("the chart's table", `[...document.querySelectorAll('#counters-table tbody tr')].map(tr => tr.children[0].textContent + ' | ' + tr.children[2].textContent)`, &table)
		if len(table) < 2 || !dateTimeRE.MatchString(strings.Split(table[0], " | ")[0]) || !strings.HasSuffix(table[0], "pkt/s") {
			t.Errorf("the counters as a table: %q", table)
		}
		var times []string
		b.eval("times", `[...document.querySelectorAll('#flows td.time'), ...document.querySelectorAll('#history li > small:first-child')].map(x => x.textContent.trim())`, &times)
		if len(times) < 2 {
			t.Fatalf("times shown: %q", times)
		}
		for _, s := range times {
			if !dateTimeRE.MatchString(s) {
				t.Errorf("time %q is not in the one format", s)
			}
		}
		b.shot("33-times", true)
	})

	t.Run("07 counters off: no empty charts", func(t *testing.T) {
		b.t = t
		b.navigate(fmt.Sprintf("/experiments/%d", quietID), "#charts")
		b.absent("#chart-pps", "#chart-bps")
		if s := b.text("#counters-off"); !strings.Contains(s, "counters transform is off") {
			t.Errorf("counters off: %q", s)
		}
	})

	t.Run("08 ICMP flows show type and code", func(t *testing.T) {
		b.t = t
		b.navigate(fmt.Sprintf("/experiments/%d?sort=proto&dir=asc", traceID), "#flows")
		var rows [][]string
		b.eval("icmp rows", `[...document.querySelectorAll('#flows tbody tr')].map(tr => [...tr.children].map(td => td.textContent.trim())).filter(r => r[0] === 'ICMP')`, &rows)
		if len(rows) == 0 {
			t.Fatal("no ICMP flow in the table")
		}
		for _, r := range rows {
			if r[2] != "—" || !strings.HasPrefix(r[4], "type ") {
				t.Errorf("ICMP row %q: want no source port and the type/code", r)
			}
		}
		b.shot("34-icmp", false)
		// On a phone the flows table scrolls, and says so.
		b.run("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
		b.wait("the scroll hint", `!!document.querySelector('#flows').closest('.overflow-auto[data-scrolls]')`)
		var hint string
		b.eval("hint", `getComputedStyle(document.querySelector('#flows').closest('.overflow-auto'), '::after').content`, &hint)
		if !strings.Contains(hint, "scroll sideways") {
			t.Errorf("scroll hint %q", hint)
		}
		b.run("desktop width", chromedp.EmulateViewport(1280, 900))
		var sorts []string
		b.eval("aria-sort", `[...document.querySelectorAll('#flows th[aria-sort]')].map(th => th.getAttribute('aria-sort'))`, &sorts)
		if len(sorts) != 9 || sorts[0] != "ascending" || sorts[5] != "none" {
			t.Errorf("aria-sort of the flow columns: %q; want proto ascending, the others none", sorts)
		}
	})

	t.Run("accessibility: skip link, focus ring, text size", func(t *testing.T) {
		b.t = t
		b.navigate("/experiments", "#experiments")
		var a struct {
			Skip    string  `json:"skip"`
			Outline string  `json:"outline"`
			Small   float64 `json:"small"`
		}
		b.run("tab", chromedp.KeyEvent("\t"))
		b.eval("focus", `(() => { const el = document.activeElement; const st = getComputedStyle(el);
			const small = Math.min(...[...document.querySelectorAll('small, td, th, a, p')].map(x => parseFloat(getComputedStyle(x).fontSize)));
			return {skip: el.className + ' ' + el.getAttribute('href'), outline: st.outlineStyle + ' ' + st.outlineWidth, small: small}; })()`, &a)
		if a.Skip != "skip-link #main" || a.Outline != "solid 3px" {
			t.Errorf("the first Tab focuses %q with outline %q; want the skip link with a 3px ring", a.Skip, a.Outline)
		}
		if a.Small < 14 {
			t.Errorf("text of %.1f px on the experiments page; want 14 px or more", a.Small)
		}
	})

	t.Run("14 the experiments list refreshes and filters", func(t *testing.T) {
		b.t = t
		b.navigate("/experiments", "#experiments")
		b.run("mark", chromedp.Evaluate(`window.gimsNoReload = 7`, nil))
		row := fmt.Sprintf("#experiment-%d .exp-state", pausedID)
		if s := b.text(row); s != "paused" {
			t.Fatalf("the held experiment shows %q", s)
		}
		if _, err := e.m.StopExperiment(ctx, alicePr, pausedID); err != nil {
			t.Fatal(err)
		}
		b.wait("the list shows done", fmt.Sprintf(`document.querySelector(%q).textContent.trim() === 'done'`, row))
		var mark int
		b.eval("no reload", `window.gimsNoReload || 0`, &mark)
		if mark != 7 {
			t.Errorf("the page reloaded")
		}
		if p, d := b.text(fmt.Sprintf("#experiment-%d .exp-packets", traceID)), b.text(fmt.Sprintf("#experiment-%d .exp-duration", traceID)); p == "0" || d == "—" {
			t.Errorf("the finished trace experiment shows %s packets and duration %s", p, d)
		}
		b.setValue("#filter-state", "configured")
		b.waitNav("filtered", `location.search.includes('state=configured') && document.readyState === 'complete' && !!document.querySelector('#experiments-list')`)
		var states []string
		b.eval("states", `[...document.querySelectorAll('#experiments .exp-state')].map(x => x.textContent.trim())`, &states)
		if len(states) == 0 {
			t.Errorf("no configured experiment listed")
		}
		for _, s := range states {
			if s != "configured" {
				t.Errorf("filter configured lists a %s one", s)
			}
		}
		b.shot("35-experiments-filtered", true)
	})

	t.Run("new experiment: interfaces by device, search, pseudo-interfaces hidden, cancel", func(t *testing.T) {
		b.t = t
		b.navigate("/experiments/new", "#experiment-form")
		var groups []string
		b.eval("groups", `[...document.querySelectorAll('.source-group')].map(g => g.dataset.device)`, &groups)
		if strings.Join(groups, ",") != "tap1,tap2" {
			t.Errorf("groups %q, want tap1 and tap2", groups)
		}
		visible := func() []string {
			var v []string
			b.eval("visible sources", `[...document.querySelectorAll('#sources label.source')].filter(l => l.getClientRects().length > 0).map(l => l.querySelector('input').value)`, &v)
			return v
		}
		for _, v := range visible() {
			if pseudoInterface(v[strings.Index(v, ":")+1:]) {
				t.Errorf("pseudo-interface %s shown by default", v)
			}
		}
		b.setValue("#source-search", "tcpreplay")
		got := visible()
		if len(got) != 2 || !strings.HasSuffix(got[0], sampleName) || !strings.HasSuffix(got[1], sampleName) {
			t.Errorf("search tcpreplay shows %q", got)
		}
		b.shot("38-new-experiment", true)
		b.click("#cancel", "#experiments-list")
	})

	t.Run("10 unknown URLs get the 404 page in the layout", func(t *testing.T) {
		b.t = t
		b.navigate("/no/such/page", "#error-page")
		b.text("header nav") // inside the layout
		if msg := b.isErrorAlert("#error-message"); !strings.Contains(msg, "/no/such/page") {
			t.Errorf("404 message %q", msg)
		}
		b.text("#error-home")
		b.shot("36-404", true)
		// A refused form (a stale CSRF token) too.
		b.navigate("/experiments", "#experiments-list")
		b.run("post a stale form", chromedp.Evaluate(`(() => { window.gimsMark = 1;
			const f = document.createElement('form'); f.method = 'post'; f.action = '/experiments/new';
			const c = document.createElement('input'); c.type = 'hidden'; c.name = 'csrf'; c.value = 'stale'; f.appendChild(c);
			document.body.appendChild(f); f.submit(); })()`, nil))
		b.waitNav("the refusal", `window.gimsMark === undefined && document.readyState === 'complete' && !!document.querySelector('#error-page')`)
		b.text("header nav")
		if msg := b.isErrorAlert("#error-message"); !strings.Contains(msg, "reload the page") {
			t.Errorf("403 message %q", msg)
		}
	})

	t.Run("13 the filter check says a device is down", func(t *testing.T) {
		b.t = t
		b.navigate(fmt.Sprintf("/experiments/%d", bothID), "#config-form")
		b.setValue("input[name=filter]", "tcp")
		b.wait("the check", `!!document.querySelector('#filter-unchecked, #filter-ok')`)
		b.absent("#filter-ok")
		if s := b.text("#filter-unchecked"); !strings.Contains(s, "tap2") {
			t.Errorf("filter check %q does not name tap2", s)
		}
	})

	t.Run("09 polling that fails shows a stale banner", func(t *testing.T) {
		b.t = t
		// Network error: the browser goes offline.
		id, err := e.m.CreateExperiment(ctx, alicePr, amapi.CreateRequest{Name: "poll", Devices: []string{"tap1:file:" + traceName}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.ConfigureExperiment(ctx, alicePr, id, amapi.ExperimentConfig{Pcap: true, ReplaySpeed: 0.05}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.StartExperiment(ctx, alicePr, id); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.m.StopExperiment(ctx, alicePr, id) })
		page := fmt.Sprintf("/experiments/%d", id)
		b.navigate(page, `#status[data-state="running"]`)
		b.run("offline", network.Enable(), network.EmulateNetworkConditions(true, 0, -1, -1))
		b.wait("the stale banner", `!document.getElementById('stale').hidden`)
		if s := b.text("#stale"); !strings.Contains(s, "stale") || !strings.Contains(s, "cannot be reached") {
			t.Errorf("banner %q", s)
		}
		b.shot("37-stale-offline", false)
		b.run("online", network.EmulateNetworkConditions(false, 0, -1, -1))
		b.wait("the banner goes", `document.getElementById('stale').hidden`)
		// 401: logged out in another tab (the same cookie).
		b.run("log out elsewhere", chromedp.Evaluate(`fetch('/logout', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
			body: 'csrf=' + encodeURIComponent(document.querySelector('meta[name="csrf-token"]').content), redirect: 'manual'}).then(() => 1)`, nil,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		b.wait("the logged-out banner", `!document.getElementById('stale').hidden && !document.querySelector('#stale .stale-login').hidden`)
		var href string
		b.eval("login link", `document.getElementById('stale-login').getAttribute('href')`, &href)
		if href != "/login?next="+strings.ReplaceAll(page, "/", "%2F") {
			t.Errorf("log-in link %q", href)
		}
		b.shot("37-stale-logged-out", true)
	})
}

// TestRound2DeviceForms covers issue 18's device-form bugs as the admin:
// 2 (fetch from a device that is down), 3 (delete a device in use), 4
// (every field error at once, host names, the token marked) and 5 (a
// daemon that never answers).
func TestRound2DeviceForms(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cd1 := startCapd(t, "round2-dev-token-1")
	cd2 := startCapd(t, "round2-dev-token-2")
	e.addDevice(t, "tap1", cd1)
	e.addDevice(t, "tap2", cd2)
	cd2.Kill(syscall.SIGKILL)
	id, err := e.m.CreateExperiment(ctx, e.admin, amapi.CreateRequest{Name: "held", Devices: []string{"tap1:file:" + traceName}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.ConfigureExperiment(ctx, e.admin, id, amapi.ExperimentConfig{Pcap: true, ReplaySpeed: 0.05}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.StartExperiment(ctx, e.admin, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.PauseExperiment(ctx, e.admin, id); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.m.StopExperiment(ctx, e.admin, id) })
	// A daemon that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	b := newBrowser(t, e.srv.URL)
	b.loginAs(adminName, adminPass)

	t.Run("02 no success message when the fetch failed", func(t *testing.T) {
		b.t = t
		b.navigate("/devices/tap2/edit", "#fetch-caps")
		b.clickNav("#fetch-caps", ".flash")
		msg := b.isErrorAlert("#flash-error")
		if !strings.Contains(msg, "not fetched") || !strings.Contains(msg, "did not answer") {
			t.Errorf("error %q", msg)
		}
		var s string
		b.eval("neutral", `(document.querySelector('.flash[role=status]') || {textContent: ''}).textContent`, &s)
		if strings.Contains(s, "fetched.") {
			t.Errorf("success message after the failure: %q", s)
		}
		b.shot("40-fetch-failed", false)
	})

	t.Run("03 delete a device in use: the error page in the layout", func(t *testing.T) {
		b.t = t
		b.navigate("/devices/tap1/delete", "#confirm")
		b.clickNav("#confirm", "#error-page")
		msg := b.isErrorAlert("#error-message")
		if !strings.Contains(msg, "tap1 is used by a running or paused experiment") || strings.Contains(msg, "already exists") {
			t.Errorf("409 message %q", msg)
		}
		b.text("header nav")
		var back string
		b.eval("back", `document.getElementById('error-back').getAttribute('href')`, &back)
		if back != "/devices/tap1/delete" {
			t.Errorf("back link %q", back)
		}
		b.shot("41-device-in-use", true)
	})

	t.Run("04 every field error at once, host names, token marked", func(t *testing.T) {
		b.t = t
		b.navigate("/devices/new", "#device-form")
		var browserMsg string
		b.eval("browser check", `window.gimsDeviceErrors({name: 'cap3', hostname: 'bad!host', port: '8081', token: 't'}, false).hostname || ''`, &browserMsg)
		if browserMsg != `device cap3: hostname "bad!host" is not a host name or address` {
			t.Errorf("the browser accepts bad!host: %q", browserMsg)
		}
		b.setValue("input[name=name]", "cap 3")
		b.setValue("input[name=hostname]", "bad!host")
		b.setValue("input[name=port]", "0")
		b.setValue("input[name=token]", "some-token")
		b.run("submit past the checks", chromedp.Evaluate(`window.gimsMark = 1; document.getElementById('device-form').submit()`, nil))
		b.waitNav("the server's answer", `window.gimsMark === undefined && document.readyState === 'complete' && !!document.querySelector('#device-form')`)
		for field, want := range map[string]string{
			"name":     `device name "cap 3": use only letters, digits, '.', '_' and '-'`,
			"hostname": `device cap 3: hostname "bad!host" is not a host name or address`,
			"port":     "device cap 3: port must be between 1 and 65535, got 0",
		} {
			if got := b.text(".field-error[data-for=" + field + "]"); got != want {
				t.Errorf("%s: %q, want %q", field, got, want)
			}
		}
		if s := b.text("#token-again"); !strings.Contains(s, "Type the token again") {
			t.Errorf("token note %q", s)
		}
		var cls string
		b.eval("token field", `document.querySelector('input[name=token]').className`, &cls)
		if cls != "retype" {
			t.Errorf("token field class %q", cls)
		}
		if _, err := e.m.AddDevice(ctx, e.admin, amapi.DeviceInput{Name: "cap3", Hostname: "bad!host", Port: 1, Token: "t"}); am.FaultOf(err).Code != amapi.FaultInvalid {
			t.Errorf("the manager takes bad!host: %v", err)
		}
		b.shot("42-device-errors", true)
	})

	t.Run("users page: list, add, delete", func(t *testing.T) {
		b.t = t
		b.navigate("/experiments", "#nav-users")
		b.click("#nav-users", "#new-user-form")
		b.setValue("#new-user-form input[name=name]", "carol")
		b.setValue("#new-user-form input[name=password]", "carol-password-1")
		b.setValue("#new-user-form select[name=role]", am.RoleAdmin)
		b.clickNav("#add-user", "#user-carol")
		if s := b.text("#user-carol .user-role"); s != am.RoleAdmin {
			t.Errorf("carol's role %q", s)
		}
		b.setValue("#new-user-form input[name=name]", "carol")
		b.setValue("#new-user-form input[name=password]", "x")
		b.clickNav("#add-user", "#user-error")
		b.isErrorAlert("#user-error")
		b.absent("#delete-user-" + adminName)
		b.setValue("#role-carol", am.RoleExperimenter)
		b.clickNav("#set-role-carol", ".flash")
		if s := b.text("#user-carol .user-role"); s != am.RoleExperimenter {
			t.Errorf("carol's role after the change %q", s)
		}
		if p, err := e.m.LookupPrincipal(ctx, "carol"); err != nil || p.Role != am.RoleExperimenter {
			t.Errorf("carol = %+v, %v", p, err)
		}
		b.shot("45-users", true)
		b.clickNav("#delete-user-carol", "#user-list")
		b.absent("#user-carol")
		if _, err := e.m.LookupPrincipal(ctx, "carol"); err == nil {
			t.Errorf("carol still exists")
		}
	})

	t.Run("05 a daemon that never answers: busy, then a readable timeout", func(t *testing.T) {
		b.t = t
		b.navigate("/devices/new", "#device-form")
		port := ln.Addr().(*net.TCPAddr).Port
		b.setValue("input[name=name]", "mute")
		b.setValue("input[name=hostname]", "127.0.0.1")
		b.setValue("input[name=port]", fmt.Sprint(port))
		b.setValue("input[name=token]", "mute-token")
		var busy struct {
			Disabled bool   `json:"disabled"`
			Busy     string `json:"busy"`
			Note     bool   `json:"note"`
		}
		// The state is read in the script that clicks: the submit handler
		// has run, and the answer (after the device timeout) cannot have
		// replaced the page yet, however loaded the machine.
		b.eval("save", `(() => { window.gimsMark = 1; const btn = document.getElementById('device-save'); btn.click();
			return {disabled: btn.disabled, busy: btn.getAttribute('aria-busy') || '', note: !document.getElementById('device-busy').hidden}; })()`, &busy)
		if !busy.Disabled || busy.Busy != "true" || !busy.Note {
			t.Errorf("while waiting: %+v; want the button disabled and busy, the spinner shown", busy)
		}
		b.shot("43-device-busy", false)
		b.waitNav("the timeout", `window.gimsMark === undefined && document.readyState === 'complete' && !!document.querySelector('#form-error')`)
		msg := b.isErrorAlert("#form-error")
		if !strings.Contains(msg, "did not answer in time") || strings.Contains(msg, "context deadline") {
			t.Errorf("timeout message %q", msg)
		}
		b.shot("44-device-timeout", false)
	})
}
