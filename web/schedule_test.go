package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
)

// TestBrowserSchedule: the schedule fields of the configure form (a
// schedule saved, a bad one and an overlapping one refused with the
// manager's messages), the next start on the experiment's page, and the
// Schedule page's timeline of the next 24 h per device interface.
func TestBrowserSchedule(t *testing.T) {
	e := newEnv(t)
	cd := startCapd(t, "browser-schedule-token")
	e.addDevice(t, "cap", cd)
	ctx := context.Background()
	alicePr := am.Principal{Name: alice, Role: am.RoleExperimenter}
	bobPr := am.Principal{Name: bob, Role: am.RoleExperimenter}
	iface := "cap:file:" + traceName
	id, err := e.m.CreateExperiment(ctx, alicePr, amapi.CreateRequest{Name: "hourly", Devices: []string{iface}})
	if err != nil {
		t.Fatal(err)
	}
	// bob's experiment on the other file, in three hours: alice sees it
	// only as busy.
	other, err := e.m.CreateExperiment(ctx, bobPr, amapi.CreateRequest{Name: "bobs-secret-study", Devices: []string{"cap:file:" + sampleName}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.ConfigureExperiment(ctx, bobPr, other, amapi.ExperimentConfig{Schedule: &amapi.ScheduleConfig{
		StartAt: time.Now().Add(3 * time.Hour).Truncate(time.Second), RunS: 1800}}); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, e.srv.URL)
	b.navigate("/experiments", "#login")
	b.setValue("#login input[name=name]", alice)
	b.setValue("#login input[name=password]", alicePass)
	b.click("#login button", "#new-experiment")

	page := fmt.Sprintf("/experiments/%d", id)
	b.navigate(page, "#schedule-fields")
	// On the minute, as people pick times: a datetime-local input's value
	// leaves out zero seconds (HTML's normalized local date and time), so
	// the form is read back, and submitted by the browser, as
	// "2006-01-02T15:04". (A start taken to the second failed here one
	// minute in sixty.) The clashing start below has seconds.
	start := time.Now().UTC().Add(time.Hour).Truncate(time.Minute)
	const inputMinute = "2006-01-02T15:04"
	// A run as long as the period: refused, the form keeps what was typed.
	b.setValue("#start_at", start.Format("2006-01-02T15:04:05"))
	b.setValue("#run_s", "600")
	b.setValue("#every_s", "600")
	b.setValue("#count", "3")
	b.click("#configure-save", "#form-error")
	if got := b.text("#form-error"); !strings.Contains(got, "schedule run_s (600) must be less than every_s (600)") {
		t.Errorf("error of a bad schedule %q", got)
	}
	var kept string
	b.eval("kept start", `document.querySelector('#start_at').value`, &kept)
	if kept != start.Format(inputMinute) {
		t.Errorf("start_at after the refusal %q, want %s", kept, start.Format(inputMinute))
	}
	b.shot("schedule-01-refused", false)
	// Three runs of a minute every ten minutes.
	b.setValue("#run_s", "60")
	b.click("#configure-save", "#next-start")
	if got, want := b.text("#next-start"), "Next scheduled start "+start.Format("2006-01-02 15:04:05")+" UTC"; got != want {
		t.Errorf("next start %q, want %q", got, want)
	}
	if got, want := b.text(".flash"), "Configuration saved: the schedule starts the experiment at "+start.Format("2006-01-02 15:04:05")+" UTC."; got != want {
		t.Errorf("flash %q, want %q", got, want)
	}
	var values []string
	b.eval("form values", `['start_at','stop_at','run_s','every_s','count'].map(n => document.querySelector('#'+n).value)`, &values)
	if want := []string{start.Format(inputMinute), "", "60", "600", "3"}; strings.Join(values, "|") != strings.Join(want, "|") {
		t.Errorf("re-configure form %q, want %q", values, want)
	}
	b.shot("schedule-02-configured", true)

	// An overlapping schedule on the same interface: refused, naming it.
	clash, err := e.m.CreateExperiment(ctx, alicePr, amapi.CreateRequest{Name: "clash", Devices: []string{iface}})
	if err != nil {
		t.Fatal(err)
	}
	b.navigate(fmt.Sprintf("/experiments/%d", clash), "#schedule-fields")
	b.setValue("#start_at", start.Add(10*time.Minute+30*time.Second).Format("2006-01-02T15:04:05"))
	b.setValue("#run_s", "120")
	b.click("#configure-save", "#form-error")
	if got, want := b.text("#form-error"), fmt.Sprintf(`would overlap experiment %d "hourly" (configured) on %s from %s to %s`,
		id, iface, start.Add(630*time.Second).Format(time.RFC3339), start.Add(660*time.Second).Format(time.RFC3339)); !strings.Contains(got, want) {
		t.Errorf("overlap error %q, want it to contain %q", got, want)
	}

	// The Schedule page, linked in the navigation.
	b.click(`nav a[href="/schedule"]`, "#timeline")
	var bars []struct {
		Interface  string  `json:"interface"`
		X          float64 `json:"x"`
		Experiment string  `json:"experiment"`
		Other      bool    `json:"other"`
		Title      string  `json:"title"`
	}
	b.eval("bars", `[...document.querySelectorAll('rect.tl-bar')].map(r => ({interface: r.closest('.tl-row').dataset.interface,
		x: r.x.baseVal.value, experiment: r.dataset.experiment, other: r.classList.contains('tl-other'),
		title: r.querySelector('title').textContent}))`, &bars)
	if len(bars) != 4 {
		t.Fatalf("timeline bars %+v, want alice's 3 runs and bob's one", bars)
	}
	// Rows are sorted by device interface: bob's file comes first.
	if o := bars[0]; o.Interface != "cap:file:"+sampleName || !o.Other || !strings.Contains(o.Title, "another user's experiment") ||
		strings.Contains(b.text("#timeline"), "bobs-secret-study") {
		t.Errorf("bob's bar %+v: want a busy window without its name", o)
	}
	bars = bars[1:]
	for i, bar := range bars {
		if bar.Interface != iface || bar.Experiment != fmt.Sprint(id) || bar.Other || (i > 0 && bar.X <= bars[i-1].X) ||
			!strings.Contains(bar.Title, `hourly (configured): from `+start.Add(time.Duration(i)*10*time.Minute).Format("2006-01-02 15:04:05")) {
			t.Errorf("bar %d = %+v, want run %d of hourly on %s", i, bar, i+1, iface)
		}
	}
	if x := bars[0].X; x < 1000.0/24*0.9 || x > 1000.0/24*1.1 {
		t.Errorf("the run in an hour is at x=%v, want about %v of 1000", x, 1000.0/24)
	}
	var current string
	b.eval("nav", `document.querySelector('nav a[aria-current=page]').getAttribute('href')`, &current)
	if current != "/schedule" {
		t.Errorf("current page in the navigation %q, want /schedule", current)
	}
	b.run("open the table", chromedp.Click("#timeline-table summary", chromedp.ByQuery))
	if rows := b.text("#timeline-table tbody"); strings.Count(rows, "hourly") != 3 || !strings.Contains(rows, "another user's") {
		t.Errorf("timeline table:\n%s", rows)
	}
	b.shot("schedule-03-timeline", true)

	// Started by hand ahead of its schedule: the configuration shows the
	// schedule read-only.
	if _, err := e.m.StartExperiment(ctx, alicePr, id); err != nil {
		t.Fatal(err)
	}
	b.navigate(page, "#config-view")
	var sched string
	b.eval("schedule", `document.querySelector('#cfg-schedule').textContent`, &sched)
	if want := "from " + start.Format("2006-01-02 15:04:05") + " UTC, 3 runs of 60 s every 600 s"; sched != want {
		t.Errorf("schedule shown %q, want %q", sched, want)
	}
}
