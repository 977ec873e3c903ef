package web

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
)

// chromiumPath is Debian's chromium (make deps installs it).
const chromiumPath = "/usr/bin/chromium"

// screenshotDir is where the browser test saves its screenshots:
// $GIMS_ARTIFACTS, else <repo>/test-artifacts/screenshots.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GIMS_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "test-artifacts", "screenshots")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserT drives one headless chromium for a test.
type browserT struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
}

// newBrowser starts chromium with a fresh profile.
func newBrowser(t *testing.T, base string) *browserT {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need %s (make deps installs Debian's chromium): %v", chromiumPath, err)
	}
	// The profile is removed after chromium is stopped (cleanups run last
	// registered first), with retries: chromium's helper processes may
	// still write in it for a moment, which makes t.TempDir's own removal
	// fail the test.
	profile, err := os.MkdirTemp("", "gims-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeProfile(profile) })
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		// chromedp waits 20 s by default for chromium to print its
		// DevTools address; a machine busy with the race-detector test run
		// has taken longer to start it.
		chromedp.WSURLReadTimeout(90 * time.Second),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	b := &browserT{t: t, ctx: ctx, base: base, shots: screenshotDir(t)}
	b.run("start chromium", chromedp.EmulateViewport(1280, 900))
	t.Logf("screenshots in %s", b.shots)
	return b
}

// removeProfile removes a chromium profile folder, trying again for a
// while if chromium's last processes are still writing in it.
func removeProfile(dir string) {
	for i := 0; i < 50; i++ {
		if err := os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// run runs actions, failing the test with what they were for.
func (b *browserT) run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	if err := chromedp.Run(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression into res.
func (b *browserT) eval(what, expr string, res any) {
	b.t.Helper()
	b.run(what, chromedp.Evaluate(expr, res))
}

// wait polls a JavaScript expression until it is true.
func (b *browserT) wait(what, expr string) {
	b.t.Helper()
	var ok bool
	b.run("wait for "+what, chromedp.Poll(expr, &ok, chromedp.WithPollingTimeout(20*time.Second),
		chromedp.WithPollingInterval(100*time.Millisecond)))
}

// waitNav polls a JavaScript expression until it is true across a
// navigation (evaluation errors while the page changes are retried).
func (b *browserT) waitNav(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ok bool
		if err := chromedp.Run(b.ctx, chromedp.Evaluate(expr, &ok)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s at %s", what, b.url())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// absent checks that no element matches each selector.
func (b *browserT) absent(selectors ...string) {
	b.t.Helper()
	for _, sel := range selectors {
		var n int
		b.eval("count "+sel, fmt.Sprintf("document.querySelectorAll(%q).length", sel), &n)
		if n != 0 {
			b.t.Errorf("%s is shown on %s", sel, b.url())
		}
	}
}

// text returns an element's text.
func (b *browserT) text(sel string) string {
	b.t.Helper()
	var s string
	b.run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
	return strings.TrimSpace(s)
}

// url is the current location.
func (b *browserT) url() string {
	var u string
	chromedp.Run(b.ctx, chromedp.Location(&u))
	return u
}

// shot saves a full-page screenshot at desktop width, and with phone too
// at a phone's.
func (b *browserT) shot(name string, phone bool) {
	b.t.Helper()
	save := func(file string) {
		var buf []byte
		b.run("screenshot "+file, chromedp.FullScreenshot(&buf, 100))
		if err := os.WriteFile(filepath.Join(b.shots, file), buf, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	save(name + ".png")
	if phone {
		b.run("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Sleep(400*time.Millisecond))
		save(name + "-phone.png")
		var wide []string
		b.eval("page width", `[...document.querySelectorAll('body *')].filter(el => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest('.overflow-auto')).map(el => el.tagName + '.' + el.className + '#' + el.id).slice(0, 8)`, &wide)
		if len(wide) > 0 {
			b.t.Errorf("%s is wider than a phone: %v", name, wide)
		}
		b.run("desktop width", chromedp.EmulateViewport(1280, 900), chromedp.Sleep(300*time.Millisecond))
	}
}

// setValue sets an input's value as typing would: input and change
// events follow.
func (b *browserT) setValue(sel, value string) {
	b.t.Helper()
	var ok bool
	b.eval("set "+sel, fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		if (!el) return false;
		el.value = %q;
		el.dispatchEvent(new Event('input', {bubbles: true}));
		el.dispatchEvent(new Event('change', {bubbles: true}));
		return true;
	})()`, sel, value), &ok)
	if !ok {
		b.t.Fatalf("no %s on %s", sel, b.url())
	}
}

// navigate opens a path of the GUI and waits for sel.
func (b *browserT) navigate(path, sel string) {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(sel, chromedp.ByQuery))
}

// click clicks sel and waits for next to show.
func (b *browserT) click(sel, next string) {
	b.t.Helper()
	// The live status swaps parts of the page while the test runs: a
	// button found just before a swap is gone when the click lands
	// ("Could not find node"). Clicking the new one is what a person does.
	for try := 1; ; try++ {
		err := chromedp.Run(b.ctx, chromedp.Click(sel, chromedp.ByQuery))
		if err == nil {
			break
		}
		if try == 3 || !strings.Contains(err.Error(), "Could not find node") {
			b.t.Fatalf("click %s: %v", sel, err)
		}
	}
	b.run("after clicking "+sel, chromedp.WaitVisible(next, chromedp.ByQuery))
}

func TestBrowser(t *testing.T) {
	e := newEnv(t)
	cd := startCapd(t, "browser-device-token-5b1e")
	b := newBrowser(t, e.srv.URL)
	ctx := context.Background()

	// Log in: a page that needs a login sends to the form and back.
	b.navigate("/experiments", "#login")
	b.shot("01-login", true)
	b.setValue("#login input[name=name]", adminName)
	b.setValue("#login input[name=password]", adminPass)
	b.click("#login button", "#new-experiment")
	b.shot("02-experiments-empty", false)

	// Devices: the browser checks the form with the manager's messages.
	b.navigate("/devices", "#no-devices")
	b.click("#add-device", "#device-form")
	b.setValue("input[name=name]", "cap 1")
	b.setValue("input[name=hostname]", "")
	b.setValue("input[name=port]", "99999")
	b.run("submit bad device", chromedp.Click("#device-save", chromedp.ByQuery))
	b.wait("the browser's messages", `document.querySelector('.field-error[data-for=port]').textContent !== ''`)
	for field, want := range map[string]string{
		"name":     `device name "cap 1": use only letters, digits, '.', '_' and '-'`,
		"hostname": `device cap 1: hostname "" is not a host name or address`,
		"port":     "device cap 1: port must be between 1 and 65535, got 99999",
		"token":    "device cap 1: token is required (the daemon's bearer token)",
	} {
		if got := b.text(".field-error[data-for=" + field + "]"); got != want {
			t.Errorf("browser message of %s (-got, +want):\n-%s\n+%s", field, got, want)
		}
	}
	if !strings.HasSuffix(b.url(), "/devices/new") {
		t.Errorf("the bad form was submitted: at %s", b.url())
	}
	b.shot("03-device-checked-in-browser", true)
	// The same messages as the server's, row by row.
	for i, row := range badDevices {
		var got string
		b.eval("browser check", fmt.Sprintf(`window.gimsDeviceErrors({name:%q, hostname:%q, port:%q, token:%q}, false)[%q] || ""`,
			row.dev, row.host, row.port, row.token, row.field), &got)
		if got != row.want {
			t.Errorf("%d %s: browser message (-got, +want):\n-%s\n+%s", i, row.name, got, row.want)
		}
	}
	// And the server checks again: a form posted past the browser's checks.
	b.setValue("input[name=name]", "cap1")
	b.setValue("input[name=hostname]", cd.host)
	b.setValue("input[name=port]", "70000")
	b.setValue("input[name=token]", cd.token)
	b.run("submit past the checks", chromedp.Evaluate(`window.gimsMark = 1; document.getElementById('device-form').submit()`, nil))
	b.waitNav("the server's answer", `window.gimsMark === undefined && document.readyState === 'complete' && !!document.querySelector('#device-form')`)
	if got, want := b.text(".field-error[data-for=port]"), "device cap1: port must be between 1 and 65535, got 70000"; got != want {
		t.Errorf("server message (-got, +want):\n-%s\n+%s", got, want)
	}
	b.shot("04-device-checked-on-server", false)
	if devs, _ := e.m.ListDevices(ctx, e.admin); len(devs) != 0 {
		t.Fatalf("refused devices were added: %+v", devs)
	}

	// Add it for real, at a new location: the capabilities show.
	b.setValue("input[name=port]", fmt.Sprint(cd.port))
	b.setValue("input[name=token]", cd.token)
	b.setValue("select[name=location]", newLocation)
	b.setValue("input[name=new_location]", "lab-1")
	b.setValue("textarea[name=description]", "replays the test traces")
	// Its policy (SPEC §9) lets experimenters bring a secret and choose
	// the sanitization, which the rest of this test does.
	var safe bool
	b.eval("default policy", `document.querySelector('input[name=policy_require_anonymization]').checked &&
		document.querySelector('select[name=policy_payload]').value === 'strip' &&
		document.querySelector('select[name=policy_key_holder]').value === 'operator'`, &safe)
	if !safe {
		t.Error("the add form does not start from the safe default policy")
	}
	b.run("anonymization optional", chromedp.Click("input[name=policy_require_anonymization]", chromedp.ByQuery))
	b.setValue("select[name=policy_payload]", "keep")
	b.setValue("select[name=policy_key_holder]", "experimenter")
	b.click("#device-save", "#capabilities")
	if pol := b.text("#device-policy"); !strings.Contains(pol, "optional") || !strings.Contains(pol, "at most keep") ||
		!strings.Contains(pol, "experimenter (may bring a secret)") {
		t.Errorf("the saved policy shows:\n%s", pol)
	}
	if caps := b.text("#interfaces"); !strings.Contains(caps, "file:"+traceName) || !strings.Contains(caps, "file:"+sampleName) {
		t.Errorf("capabilities do not list the pcaps:\n%s", caps)
	}
	b.shot("05-device-added", true)

	// A second one, at the existing location, to delete.
	b.navigate("/devices/new", "#device-form")
	var locs []string
	b.eval("locations", `[...document.querySelectorAll('select[name=location] option')].map(o => o.value)`, &locs)
	if strings.Join(locs, ",") != ",lab-1,"+newLocation {
		t.Errorf("location choices %q, want none, lab-1 and a new one", locs)
	}
	b.setValue("input[name=name]", "cap2")
	b.setValue("select[name=location]", "lab-1")
	b.setValue("input[name=hostname]", cd.host)
	b.setValue("input[name=port]", fmt.Sprint(cd.port))
	b.setValue("input[name=token]", cd.token)
	b.click("#device-save", "#capabilities")
	b.navigate("/devices", "#devices")
	if list := b.text("#devices"); !strings.Contains(list, "cap1") || !strings.Contains(list, "cap2") ||
		!strings.Contains(list, "● yes") || !strings.Contains(list, "ago") {
		t.Errorf("device list without both devices, reachability and last seen:\n%s", list)
	}
	b.shot("06-devices", true)
	// An activation code for self-registering daemons: shown once.
	b.setValue("#new-activation-form input[name=uses]", "3")
	b.click("#create-activation", "#activation-code")
	if code := b.text("#activation-code"); !strings.HasPrefix(code, "gims-act-") ||
		!strings.Contains(b.text("#activation-list"), "3") {
		t.Errorf("activation code %q, list:\n%s", code, b.text("#activation-list"))
	}
	b.shot("06-activation-code", false)
	b.click("#delete-cap2", "#confirm-delete")
	record := b.text("#confirm-delete")
	for _, want := range []string{"cap2", fmt.Sprintf("%s:%d", cd.host, cd.port), "lab-1", "set (never shown)", "file:" + traceName} {
		if !strings.Contains(record, want) {
			t.Errorf("the confirmation does not show %q:\n%s", want, record)
		}
	}
	if devs, _ := e.m.ListDevices(ctx, e.admin); len(devs) != 2 {
		t.Fatalf("the confirmation step deleted already: %+v", devs)
	}
	b.shot("07-delete-confirm", false)
	b.click("#confirm", "#deleted")
	var recreate string
	b.eval("re-create form", `document.querySelector('#device-form input[name=name]').value`, &recreate)
	if !strings.Contains(b.text("#deleted"), fmt.Sprintf("%s:%d", cd.host, cd.port)) || recreate != "cap2" {
		t.Errorf("the deleted record is not shown for re-creation (name field %q)", recreate)
	}
	b.shot("08-deleted", false)
	if devs, _ := e.m.ListDevices(ctx, e.admin); len(devs) != 1 || devs[0].Name != "cap1" {
		t.Fatalf("devices after the deletion: %+v", devs)
	}

	// An experiment on the generated trace.
	b.navigate("/experiments/new", "#experiment-form")
	b.setValue("input[name=name]", "replay-1")
	b.run("choose the trace", chromedp.Click(fmt.Sprintf(`input[value="cap1:file:%s"]`, traceName), chromedp.ByQuery))
	b.shot("09-experiment-new", false)
	b.click("#create", "#config-form")
	// The form offers what the device has: no promiscuous mode for a
	// file, a replay speed, every transform gims-capd offers.
	b.absent("input[name=promiscuous]", "#btn-start", "#btn-pause", "#btn-stop", "#btn-resume")
	for _, sel := range []string{"input[name=replay_speed]", "input[name=counters]", "input[name=flows]", "input[name=anonymize]", "input[name=pcap]"} {
		var n int
		b.eval("count", fmt.Sprintf("document.querySelectorAll(%q).length", sel), &n)
		if n != 1 {
			t.Errorf("the configure form has no %s", sel)
		}
	}
	// The server compiles the filter while it is typed: libpcap's message.
	b.setValue("input[name=filter]", "tcp port 99999999")
	b.wait("libpcap's message", `!!document.querySelector('#filter-error')`)
	if msg := b.text("#filter-error"); !strings.Contains(msg, `filter "tcp port 99999999" on cap1:file:`+traceName) ||
		!strings.Contains(msg, "port") {
		t.Errorf("inline filter message: %q", msg)
	}
	b.shot("10-filter-error", false)
	b.setValue("input[name=filter]", "ip or ip6")
	b.wait("the filter accepted", `!!document.querySelector('#filter-ok')`)
	b.setValue("input[name=replay_speed]", "1")
	b.setValue("input[name=interval_ms]", "500")
	b.setValue("input[name=rotate_s]", "1") // pcap and IPFIX files in parts of a second
	// The sanitization modes show only with anonymization on (the
	// default), with their defaults; keep is a visible warning.
	shown := func(sel string) bool {
		var v bool
		b.eval("visibility of "+sel, fmt.Sprintf(`(() => { const el = document.querySelector(%q); return !!el && el.getClientRects().length > 0; })()`, sel), &v)
		return v
	}
	b.run("anonymize off", chromedp.Click("input[name=anonymize]", chromedp.ByQuery))
	if shown("#sanitize") || shown("#keep-warning") {
		t.Errorf("the sanitization modes show without anonymization")
	}
	b.run("anonymize on", chromedp.Click("input[name=anonymize]", chromedp.ByQuery))
	var modes []string
	b.eval("sanitization defaults", `[document.querySelector('select[name=payload]').value, document.querySelector('select[name=mac]').value]`, &modes)
	if !shown("#sanitize") || strings.Join(modes, ",") != "strip,keyed" {
		t.Errorf("with anonymization on: modes shown %t, values %v; want shown, strip and keyed", shown("#sanitize"), modes)
	}
	if shown("#keep-warning") {
		t.Errorf("the keep warning shows for strip and keyed")
	}
	b.setValue("select[name=payload]", "zero")
	b.setValue("select[name=mac]", "keep")
	if !shown("#keep-warning") {
		t.Errorf("no warning for mac keep")
	}
	b.setValue("input[name=secret]", strings.Repeat("5a", 32))
	b.click("#configure-save", "#btn-start")
	b.absent("#btn-pause", "#btn-stop", "#btn-resume")
	// The round trip: the stored modes come back in the form, keep warned.
	b.eval("stored modes", `[document.querySelector('select[name=payload]').value, document.querySelector('select[name=mac]').value]`, &modes)
	if strings.Join(modes, ",") != "zero,keep" || !shown("#keep-warning") {
		t.Errorf("after saving: modes %v, warning shown %t; want zero, keep and the warning", modes, shown("#keep-warning"))
	}
	if set, err := e.m.GetExperimentSettings(ctx, e.admin, 1); err != nil || set.Config == nil || set.Config.Anonymize == nil ||
		set.Config.Anonymize.Payload != "zero" || set.Config.Anonymize.MAC != "keep" || set.Config.RotateS != 1 {
		t.Errorf("stored configuration: %+v, %v; want payload zero, mac keep and rotate_s 1", set.Config, err)
	}
	var rotate string
	b.eval("rotate_s kept", `document.querySelector('input[name=rotate_s]').value`, &rotate)
	if rotate != "1" {
		t.Errorf("after saving: rotate_s field %q, want 1", rotate)
	}
	b.shot("11-configured", false)

	// Start: the counters rise without a reload.
	b.click("#btn-start", "#btn-stop")
	b.absent("#btn-start", "#btn-resume")
	b.run("mark the page", chromedp.Evaluate(`window.gimsNoReload = 42`, nil))
	b.wait("packets", `Number(document.querySelector('#st-packets').dataset.value) > 0`)
	var first int
	b.eval("packets", `Number(document.querySelector('#st-packets').dataset.value)`, &first)
	b.wait("more packets", fmt.Sprintf(`Number(document.querySelector('#st-packets').dataset.value) > %d`, first))
	b.wait("the replay's progress", `!!document.querySelector('#device-status progress') && Number(document.querySelector('#device-status progress').value) > 0`)
	b.wait("a packet rate", `document.querySelector('#st-pps').textContent.trim() !== '0 pkt/s'`)
	b.wait("chart points", `Number(document.getElementById('charts').dataset.points || 0) >= 2`)
	// The replay's pcap file comes in parts of a second: the files list
	// shows the closed ones and the one being written.
	b.wait("two pcap parts", `[...document.querySelectorAll('#files a.file-pcap')].map(a => a.textContent).join(',').includes('packets-00002.pcap')`)
	b.wait("the part being written", `!!document.querySelector('#files .writing')`)
	// Both charts are stacked by protocol: TCP, UDP, ICMP, other.
	for _, id := range []string{"chart-pps", "chart-bps"} {
		var chart struct {
			Sum    float64  `json:"sum"`
			Pixels int      `json:"pixels"`
			Labels []string `json:"labels"`
		}
		b.eval("the chart "+id, `(() => {
			const c = document.getElementById('`+id+`'), ch = Chart.getChart(c);
			const sum = ch.data.datasets.reduce((a, d) => a + d.data.reduce((x, y) => x + y, 0), 0);
			const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
			let n = 0; for (let i = 3; i < px.length; i += 4) { if (px[i] > 0) n++; }
			return {sum: sum, pixels: n, labels: ch.data.datasets.map(d => d.label)};
		})()`, &chart)
		if chart.Sum <= 0 || chart.Pixels < 2000 || strings.Join(chart.Labels, ",") != "TCP,UDP,ICMP,other" {
			t.Errorf("the %s chart is empty or not by protocol: %+v", id, chart)
		}
	}
	var marker int
	b.eval("no reload", `window.gimsNoReload || 0`, &marker)
	if marker != 42 {
		t.Errorf("the page reloaded while the counters rose")
	}
	b.shot("12-running", true)

	// Pause and resume: only the legal buttons.
	b.click("#btn-pause", "#btn-resume")
	b.absent("#btn-start", "#btn-pause")
	b.shot("13-paused", false)
	b.click("#btn-resume", "#btn-pause")
	b.absent("#btn-start", "#btn-resume")

	// Stop: no button is left, the files and flows show.
	b.click("#btn-stop", "#confirm-stop-btn")
	b.click("#confirm-stop-btn", `#status[data-state="done"]`)
	b.absent("#btn-start", "#btn-pause", "#btn-stop", "#btn-resume", "#config-form")
	deadline := time.Now().Add(15 * time.Second)
	for {
		var flows, pcaps int
		b.eval("flows", `document.querySelectorAll('#flows tbody tr').length`, &flows)
		b.eval("pcaps", `document.querySelectorAll('#files a.file-pcap').length`, &pcaps)
		if flows > 0 && pcaps > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no flows (%d) or pcap (%d) after the stop", flows, pcaps)
		}
		time.Sleep(300 * time.Millisecond)
		b.navigate(strings.TrimPrefix(b.url(), e.srv.URL), "#status")
	}
	for _, kind := range []string{"pcap", "IPFIX", "CSV"} {
		var n int
		b.eval("files", fmt.Sprintf(`document.querySelectorAll('#files a.file-%s').length`, kind), &n)
		if n == 0 {
			t.Errorf("no %s download link", kind)
		}
	}
	// Every part listed, in order, none being written any more.
	var parts []string
	b.eval("pcap parts", `[...document.querySelectorAll('#files a.file-pcap')].map(a => a.textContent.replace('pcap', '').trim())`, &parts)
	for i, name := range parts {
		if want := fmt.Sprintf("packets-%05d.pcap", i+1); name != want {
			t.Errorf("pcap file %d is %q, want %q", i+1, name, want)
		}
	}
	var writing int
	b.eval("parts being written", `document.querySelectorAll('#files .writing').length`, &writing)
	if len(parts) < 2 || writing != 0 {
		t.Errorf("after the stop: pcap parts %q, %d being written; want 2 or more, none", parts, writing)
	}
	if txt := b.text("#results"); !strings.Contains(txt, "Addresses are anonymized") {
		t.Errorf("the flows are not marked anonymized")
	}
	// The settings show the effective modes, keep as a warning.
	var cfg struct {
		Payload string `json:"payload"`
		MAC     string `json:"mac"`
		Alert   bool   `json:"alert"`
	}
	b.eval("settings", `(() => ({payload: document.querySelector('#cfg-payload').textContent.trim(),
		mac: document.querySelector('#cfg-mac').textContent.trim(),
		alert: !!document.querySelector('#cfg-mac .warn[role=alert]') && !document.querySelector('#cfg-payload .warn')}))()`, &cfg)
	if cfg.Payload != "zero" || !strings.Contains(cfg.MAC, "keep") || !cfg.Alert {
		t.Errorf("settings shown: %+v; want payload zero and mac keep as a warning", cfg)
	}
	var split string
	b.eval("files split", `(document.querySelector('#cfg-rotate') || {textContent: ''}).textContent.trim()`, &split)
	if split != "every 1 s" {
		t.Errorf("settings show files split %q, want every 1 s", split)
	}
	// Sort the flows by packets, largest first.
	b.run("sort", chromedp.Click("#sort-packets", chromedp.ByQuery))
	b.wait("the sorted table", `document.querySelector('#sort-packets').textContent.includes('▼')`)
	var packets []int
	b.eval("packet column", `[...document.querySelectorAll('#flows td[data-packets]')].map(td => Number(td.dataset.packets))`, &packets)
	for i := 1; i < len(packets); i++ {
		if packets[i] > packets[i-1] {
			t.Errorf("flows not sorted by packets: %v", packets)
			break
		}
	}
	b.shot("14-done", true)

	// Download the pcap through the GUI.
	downloads := t.TempDir()
	b.run("downloads", browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads))
	b.run("download", chromedp.Click("#files a.file-pcap", chromedp.ByQuery))
	var pcapPath string
	waitFor(t, "the downloaded pcap", 15*time.Second, func() bool {
		files, _ := filepath.Glob(filepath.Join(downloads, "*.pcap"))
		for _, f := range files {
			if info, err := os.Stat(f); err == nil && info.Size() > 24 {
				pcapPath = f
				return true
			}
		}
		return false
	})
	data, err := os.ReadFile(pcapPath)
	if err != nil {
		t.Fatal(err)
	}
	magics := [][]byte{{0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, {0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d}}
	ok := false
	for _, m := range magics {
		ok = ok || bytes.HasPrefix(data, m)
	}
	if !ok {
		t.Fatalf("the download %s is not a pcap: starts with %s", filepath.Base(pcapPath), hex.EncodeToString(data[:4]))
	}
	out, err := exec.Command("tcpdump", "-n", "-r", pcapPath).Output()
	if n := bytes.Count(out, []byte("\n")); err != nil || n == 0 || n > 3000 {
		t.Errorf("tcpdump -r %s: %d packets, %v", pcapPath, n, err)
	}

	set, err := e.m.GetExperimentSettings(ctx, e.admin, 1)
	if err != nil || set.State != am.StateDone {
		t.Errorf("experiment after the browser's stop: %+v, %v", set.State, err)
	}
	b.navigate("/experiments", "#experiments")
	b.shot("15-experiments", true)
}

// TestBrowserPolicy is the configure form of an experiment on a device
// whose policy limits it (SPEC §9): what the policy does not allow is
// disabled with a line saying why, and a form posted past those limits
// is answered with the manager's refusal on the form.
func TestBrowserPolicy(t *testing.T) {
	e := newEnv(t)
	cd := startCapd(t, "browser-policy-token-77c2")
	pol := amapi.DefaultDevicePolicy()
	pol.Outputs, pol.MaxSnaplen, pol.MaxDurationS = []string{"counters", "flows"}, 256, 3600
	e.addDeviceWith(t, "cap1", cd, amapi.PolicyInputOf(pol))
	ctx := context.Background()
	if _, err := e.m.CreateKey(ctx, e.admin, amapi.KeyRequest{Name: "browser-key", Users: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	id, err := e.m.CreateExperiment(ctx, e.admin, amapi.CreateRequest{Name: "limited", Devices: []string{"cap1:file:" + sampleName}})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e.srv.URL)
	b.navigate("/login", "#login")
	b.setValue("#login input[name=name]", adminName)
	b.setValue("#login input[name=password]", adminPass)
	b.click("#login button", "#new-experiment")
	page := fmt.Sprintf("/experiments/%d", id)
	b.navigate(page, "#config-form")

	var form struct {
		PcapDisabled, AnonChecked, AnonDisabled, ZeroDisabled, KeepDisabled, StripEnabled bool
		Snaplen, SnaplenMax, DurationMax                                                  string
		DurationRequired, SecretDisabled, NoKeyDisabled                                   bool
		Key                                                                               string
	}
	b.eval("the limited form", `(() => {
		const q = s => document.querySelector(s);
		return {PcapDisabled: q('input[name=pcap]').disabled,
			AnonChecked: q('input[type=checkbox][name=anonymize]').checked, AnonDisabled: q('input[type=checkbox][name=anonymize]').disabled,
			ZeroDisabled: q('select[name=payload] option[value=zero]').disabled, KeepDisabled: q('select[name=payload] option[value=keep]').disabled,
			StripEnabled: !q('select[name=payload] option[value=strip]').disabled,
			Snaplen: q('input[name=snaplen]').value, SnaplenMax: q('input[name=snaplen]').max,
			DurationMax: q('input[name=duration_s]').max, DurationRequired: q('input[name=duration_s]').required,
			SecretDisabled: q('input[name=secret]').disabled, NoKeyDisabled: q('select[name=key] option[value=""]').disabled,
			Key: q('select[name=key]').value};
	})()`, &form)
	if !form.PcapDisabled || !form.AnonChecked || !form.AnonDisabled || !form.ZeroDisabled || !form.KeepDisabled ||
		!form.StripEnabled || form.Snaplen != "256" || form.SnaplenMax != "256" || form.DurationMax != "3600" || !form.DurationRequired ||
		!form.SecretDisabled || !form.NoKeyDisabled || form.Key != "browser-key" {
		t.Errorf("the configure form is not limited by the policy: %+v", form)
	}
	why := b.text("#policy-why")
	for _, want := range []string{"anonymization: required (device policy)", "payload: strip only (device policy)",
		"outputs: counters, flows only (device policy)", "snaplen: at most 256 (device policy)",
		"stop after: required, at most 3600 s (device policy)", "keys: operator-held only, a secret is refused (device policy)"} {
		if !strings.Contains(why, want) {
			t.Errorf("the form does not say %q:\n%s", want, why)
		}
	}
	if got := b.text("#pcap-why"); got != "not allowed (device policy)" {
		t.Errorf("pcap why-text %q", got)
	}
	if got := b.text("#payload-why"); got != "payload: strip only (device policy)" {
		t.Errorf("payload why-text %q", got)
	}
	b.shot("policy-01-configure-limited", true)

	// A form posted past the limits: the manager's refusal on the form.
	b.run("post past the policy", chromedp.Evaluate(`(() => {
		const q = s => document.querySelector(s);
		q('input[name=pcap]').disabled = false; q('input[name=pcap]').checked = true;
		q('input[name=duration_s]').value = '60';
		window.gimsMark = 1;
		q('#config-form').submit();
	})()`, nil))
	b.waitNav("the refusal", `window.gimsMark === undefined && document.readyState === 'complete' && !!document.querySelector('#form-error')`)
	if got := b.text("#form-error"); !strings.Contains(got, "device cap1: output pcap not allowed: policy allows outputs counters, flows") {
		t.Errorf("the refusal shown: %q", got)
	}
	if set, err := e.m.GetExperimentSettings(ctx, e.admin, id); err != nil || set.State != am.StateInstantiated {
		t.Errorf("after the refused post: %s, %v; want instantiated", set.State, err)
	}
	b.shot("policy-02-refused", false)

	// A secret posted past the limits: refused the same way.
	b.run("post a secret", chromedp.Evaluate(`(() => {
		const q = s => document.querySelector(s);
		q('input[name=secret]').disabled = false; q('input[name=secret]').value = 'policy browser secret';
		q('select[name=key] option[value=""]').disabled = false; q('select[name=key]').value = '';
		q('input[name=duration_s]').value = '60';
		window.gimsMark = 1;
		q('#config-form').submit();
	})()`, nil))
	b.waitNav("the refusal of a secret", `window.gimsMark === undefined && document.readyState === 'complete' && !!document.querySelector('#form-error')`)
	if got := b.text("#form-error"); !strings.Contains(got, "device cap1: policy key_holder operator: use an operator-held key (anonymize.key), not a secret") {
		t.Errorf("the refusal of a secret shown: %q", got)
	}

	// Within the limits it saves; the page shows the device's policy.
	b.setValue("input[name=duration_s]", "60")
	b.click("#configure-save", "#btn-start")
	var shown string
	b.eval("policies", `document.querySelector('#policies').textContent`, &shown)
	if !strings.Contains(shown, "cap1") || !strings.Contains(shown, "at most strip") || !strings.Contains(shown, "256") {
		t.Errorf("the experiment page does not show the device policy:\n%s", shown)
	}
	if set, err := e.m.GetExperimentSettings(ctx, e.admin, id); err != nil || set.Config == nil || set.Config.Pcap ||
		set.Config.Snaplen != 256 || set.Config.Anonymize == nil || set.Config.Anonymize.Payload != "strip" ||
		set.Config.Anonymize.Key != "browser-key" {
		t.Errorf("stored configuration %+v, %v", set.Config, err)
	}
}
