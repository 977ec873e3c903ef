package web

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
)

// hexKeyRE matches what a Crypto-PAn key in hex would look like.
var hexKeyRE = regexp.MustCompile(`[0-9a-fA-F]{64}`)

// TestKeysAndAuditPages drives the admin's Keys page (make, refuse a bad
// name, delete, refused while an experiment uses the key), the configure
// form's choice of the keys the experiment's owner may use, and the Audit
// page (newest first, by user, limited), in chromium; experimenters get
// neither page nor their links.
func TestKeysAndAuditPages(t *testing.T) {
	e := newEnv(t)
	cd := startCapd(t, "keys-device-token-7c2d")
	e.addDevice(t, "tap1", cd)
	ctx := context.Background()
	alicePrincipal := am.Principal{Name: alice, Role: am.RoleExperimenter}
	id, err := e.m.CreateExperiment(ctx, alicePrincipal, amapi.CreateRequest{Name: "keyed", Devices: []string{"tap1:file:" + sampleName}})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e.srv.URL)
	b.navigate("/login", "#login")
	b.setValue("#login input[name=name]", adminName)
	b.setValue("#login input[name=password]", adminPass)
	b.click("#login button", "#new-experiment")

	// Keys: from the navigation, made, refused, listed.
	b.click("#nav-keys", "#new-key-form")
	b.absent("#key-list")
	b.setValue("#new-key-form input[name=name]", "a b")
	b.setValue("#new-key-form input[name=users]", "alice")
	b.run("submit a bad name", chromedp.Evaluate(`window.gimsMark = 1; document.getElementById('new-key-form').submit()`, nil))
	b.waitNav("the refusal", `window.gimsMark === undefined && document.readyState === 'complete' && !!document.querySelector('#key-error')`)
	if got := b.text("#key-error"); !strings.Contains(got, `key name "a b"`) {
		t.Errorf("refusal of a bad name: %q", got)
	}
	b.setValue("#new-key-form input[name=name]", "lab")
	b.setValue("#new-key-form input[name=users]", "alice")
	b.click("#create-key", "#key-lab")
	b.setValue("#new-key-form input[name=name]", "bobs")
	b.setValue("#new-key-form input[name=users]", "bob")
	b.click("#create-key", "#key-bobs")
	keys, err := e.m.ListKeys(ctx, e.admin)
	if err != nil || len(keys) != 2 {
		t.Fatalf("ListKeys = %+v, %v", keys, err)
	}
	lab := keys[1]
	if row := b.text("#key-lab"); !strings.Contains(row, lab.Fingerprint) || !strings.Contains(row, "alice") || !strings.Contains(row, adminName) {
		t.Errorf("key row %q, want its fingerprint %s, users and maker", row, lab.Fingerprint)
	}
	if flash := b.text(".flash"); !strings.Contains(flash, "bobs") {
		t.Errorf("flash %q", flash)
	}
	var html string
	b.eval("page", "document.documentElement.outerHTML", &html)
	if hexKeyRE.MatchString(html) {
		t.Errorf("the keys page holds something like a key: %s", hexKeyRE.FindString(html))
	}
	b.shot("20-keys", true)

	// The configure form offers the keys alice may use.
	b.navigate(fmt.Sprintf("/experiments/%d", id), "#config-form")
	var options []string
	b.eval("key choices", `[...document.querySelectorAll('#anonymize-key option')].map(o => o.value)`, &options)
	if strings.Join(options, ",") != ",lab" {
		t.Errorf("key choices %q, want none and lab (not bob's)", options)
	}
	b.run("anonymize", chromedp.Evaluate(`document.querySelector('input[name=anonymize]').checked = true`, nil))
	b.setValue("#anonymize-key", "lab")
	b.click("#configure-save", ".flash")
	set, err := e.m.GetExperimentSettings(ctx, e.admin, id)
	if err != nil {
		t.Fatal(err)
	}
	if a := set.Config.Anonymize; a == nil || a.Key != "lab" || a.SecretFingerprint != lab.Fingerprint {
		t.Fatalf("configured anonymize %+v, want key lab", set.Config.Anonymize)
	}
	var chosen string
	b.eval("chosen key", `document.querySelector('#anonymize-key').value`, &chosen)
	if chosen != "lab" {
		t.Errorf("the form shows key %q after saving, want lab", chosen)
	}
	b.shot("21-configure-with-key", false)

	// Deleting a key in use is refused, with the experiment named.
	b.navigate("/keys", "#key-lab")
	b.click("#delete-key-lab", "#key-error")
	if got := b.text("#key-error"); !strings.Contains(got, fmt.Sprintf("experiment %d (configured)", id)) {
		t.Errorf("refused delete says %q", got)
	}
	b.click("#delete-key-bobs", ".flash")
	b.absent("#key-bobs")

	// Audit: newest first, by user, limited.
	b.click("#nav-audit", "#audit-list")
	rows := b.text("#audit-list tbody")
	for _, want := range []string{"CreateKey", "DeleteKey", "fault 2", "ConfigureExperiment"} {
		if !strings.Contains(rows, want) {
			t.Errorf("the audit page does not show %q:\n%s", want, rows)
		}
	}
	var first string
	b.eval("newest", `document.querySelector('#audit-list tbody tr td:nth-child(4)').textContent`, &first)
	if first != "DeleteKey" {
		t.Errorf("newest entry %q, want DeleteKey", first)
	}
	b.shot("22-audit", true)
	b.setValue("#audit-filter input[name=user]", alice)
	b.run("filter", chromedp.Evaluate(`window.gimsMark = 1; document.getElementById('audit-show').click()`, nil))
	b.waitNav("the filtered log", `window.gimsMark === undefined && document.readyState === 'complete' && !!document.querySelector('#audit-list')`)
	var users []string
	b.eval("users", `[...document.querySelectorAll('#audit-list tbody tr td:nth-child(2)')].map(td => td.textContent)`, &users)
	if len(users) == 0 || strings.Trim(strings.Join(users, ""), alice) != "" {
		t.Errorf("filtered by alice, users %q", users)
	}
	b.navigate("/audit?limit=2", "#audit-list")
	var n int
	b.eval("rows", `document.querySelectorAll('#audit-list tbody tr').length`, &n)
	if n != 2 {
		t.Errorf("limit 2 shows %d rows", n)
	}
	b.navigate("/audit?user=nobody", "#no-audit")
	b.navigate("/audit?limit=0", "#audit-error")

	// Experimenters: neither the pages nor their links.
	c := e.login(t, alice, alicePass)
	_, page := c.get("/experiments")
	if strings.Contains(page, `href="/keys"`) || strings.Contains(page, `href="/audit"`) {
		t.Error("an experimenter's navigation links the admin pages")
	}
	for _, path := range []string{"/keys", "/audit"} {
		if status, _ := c.get(path); status != http.StatusForbidden {
			t.Errorf("GET %s as an experimenter: %d, want 403", path, status)
		}
	}
	if status, _, _ := c.postForm("/keys", map[string][]string{"name": {"mine"}, "users": {"alice"}}); status != http.StatusForbidden {
		t.Errorf("POST /keys as an experimenter: %d, want 403", status)
	}
}
