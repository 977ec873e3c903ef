package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
)

func TestLoginAndSessionCookie(t *testing.T) {
	e := newEnv(t)
	c := e.newClient(t)
	if status, _ := c.get("/experiments"); status != http.StatusSeeOther {
		t.Fatalf("GET /experiments before login: status %d, want a redirect to the login form", status)
	}
	status, _ := c.get("/login")
	if status != http.StatusOK || c.csrf == "" {
		t.Fatalf("GET /login: status %d, CSRF token %q", status, c.csrf)
	}
	// A wrong password is refused without echoing it.
	status, body, _ := c.postForm("/login", url.Values{"name": {alice}, "password": {"wrong-password-42"}})
	if status != http.StatusUnauthorized || !strings.Contains(body, "wrong user name or password") ||
		strings.Contains(body, "wrong-password-42") {
		t.Fatalf("bad login: status %d, body:\n%s", status, body)
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/login", strings.NewReader(url.Values{
		"name": {alice}, "password": {alicePass}, csrfField: {c.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, ck := range c.c.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	resp, err := (&http.Transport{}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName && ck.Value != "" {
			session = ck
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("login: status %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/", session)
	}
	// The login form made no session: its token is a signed cookie.
	for _, ck := range c.c.Jar.Cookies(req.URL) {
		if ck.Name == cookieName {
			t.Errorf("the login form set a session cookie %v", ck)
		}
	}
	u, _ := url.Parse(e.srv.URL)
	c.c.Jar.SetCookies(u, []*http.Cookie{session})
	if status, body := c.get("/experiments"); status != http.StatusOK || !strings.Contains(body, alice) {
		t.Fatalf("GET /experiments after login: status %d", status)
	}
	if status, _, hdr := c.postForm("/logout", url.Values{}); status != http.StatusSeeOther || hdr.Get("Location") != "/login" {
		t.Fatalf("logout: status %d", status)
	}
	// The old cookie no longer opens anything.
	c.c.Jar.SetCookies(u, []*http.Cookie{session})
	if status, _ := c.get("/experiments"); status != http.StatusSeeOther {
		t.Fatalf("GET /experiments with the cookie of a closed session: status %d, want a redirect", status)
	}
}

func TestWritesNeedSessionAndCSRF(t *testing.T) {
	e := newEnv(t)
	cd := startCapd(t, "csrf-device-token")
	e.addDevice(t, "tap1", cd)
	ctx := context.Background()
	ownerP := am.Principal{Name: alice, Role: am.RoleExperimenter}
	id, err := e.m.CreateExperiment(ctx, ownerP, amapi.CreateRequest{Name: "mine", Devices: []string{"tap1:file:" + sampleName}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.ConfigureExperiment(ctx, ownerP, id, amapi.ExperimentConfig{}); err != nil {
		t.Fatal(err)
	}
	admin := e.login(t, adminName, adminPass)
	owner := e.login(t, alice, alicePass)
	anonymous := e.newClient(t)
	anonymous.get("/login")
	exp := fmt.Sprintf("/experiments/%d", id)
	newDevice := url.Values{"name": {"tap2"}, "hostname": {cd.host}, "port": {fmt.Sprint(cd.port)}, "token": {cd.token}}

	cases := []struct {
		name    string
		c       *client
		path    string
		form    url.Values
		headers map[string]string
		want    int // default 403
	}{
		{"add device without token", admin, "/devices/new", newDevice, nil, 0},
		{"add device with a wrong token", admin, "/devices/new", withCSRF(newDevice, "not-the-token"), nil, 0},
		{"add device with another session's token", admin, "/devices/new", withCSRF(newDevice, owner.csrf), nil, 0},
		{"add device from another origin", admin, "/devices/new", withCSRF(newDevice, admin.csrf), map[string]string{"Origin": "http://evil.example"}, 0},
		{"add device without a session", anonymous, "/devices/new", withCSRF(newDevice, anonymous.csrf), nil, 0},
		{"edit device", admin, "/devices/tap1/edit", url.Values{"name": {"renamed"}, "hostname": {cd.host}, "port": {fmt.Sprint(cd.port)}}, nil, 0},
		{"delete device", admin, "/devices/tap1/delete", url.Values{}, nil, 0},
		{"approve device", admin, "/devices/tap1/approve", url.Values{}, nil, 0},
		{"fetch capabilities", admin, "/devices/tap1/capabilities", url.Values{}, nil, 0},
		{"create experiment", owner, "/experiments/new", url.Values{"name": {"other"}, "devices": {"tap1:file:" + sampleName}}, nil, 0},
		{"configure", owner, exp + "/configure", url.Values{"filter": {"tcp"}}, nil, 0},
		{"start", owner, exp + "/start", url.Values{}, nil, 0},
		{"start, htmx header with a wrong token", owner, exp + "/start", url.Values{}, map[string]string{csrfHeader: "nope"}, 0},
		{"stop", owner, exp + "/stop", url.Values{}, nil, 0},
		{"check filter", owner, exp + "/check-filter", url.Values{"filter": {"tcp"}}, nil, 0},
		{"logout", owner, "/logout", url.Values{}, nil, 0},
		{"login", anonymous, "/login", url.Values{"name": {alice}, "password": {alicePass}}, nil, 0},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%02d %s", i, tc.name), func(t *testing.T) {
			tc.c.t = t
			want := tc.want
			if want == 0 {
				want = http.StatusForbidden
			}
			status, body, _ := tc.c.postRaw(tc.path, tc.form, tc.headers)
			if status != want {
				t.Fatalf("POST %s: status %d, want %d; body:\n%.300s", tc.path, status, want, body)
			}
		})
	}
	// Nothing changed.
	devs, err := e.m.ListDevices(ctx, e.admin)
	if err != nil || len(devs) != 1 || devs[0].Name != "tap1" || devs[0].Type != "gims-capd" {
		t.Errorf("devices after refused writes: %+v, %v", devs, err)
	}
	list, err := e.m.ListExperiments(ctx, e.admin)
	if err != nil || len(list) != 1 || list[0].State != am.StateConfigured {
		t.Errorf("experiments after refused writes: %+v, %v", list, err)
	}
	set, err := e.m.GetExperimentSettings(ctx, e.admin, id)
	if err != nil || set.Config.Filter != "" {
		t.Errorf("configuration after refused writes: %+v, %v", set.Config, err)
	}
	// The owner's session still works (the refused logout did not end it),
	// and with the token the same write goes through.
	owner.t = t
	status, _, _ := owner.postForm(exp+"/configure", url.Values{"filter": {"tcp"}, "counters": {"on"}})
	if status != http.StatusSeeOther {
		t.Fatalf("configure with the token: status %d", status)
	}
	if set, _ := e.m.GetExperimentSettings(ctx, e.admin, id); set.Config.Filter != "tcp" {
		t.Errorf("filter after a configure with the token: %q", set.Config.Filter)
	}
}

// withCSRF returns form with the given token.
func withCSRF(form url.Values, token string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = v
	}
	out.Set(csrfField, token)
	return out
}

func TestExperimentersSeeOnlyTheirOwn(t *testing.T) {
	e := newEnv(t)
	cd := startCapd(t, "iso-device-token")
	e.addDevice(t, "tap1", cd)
	a := e.login(t, alice, alicePass)
	b := e.login(t, bob, bobPass)
	mk := func(c *client, name string) int64 {
		t.Helper()
		status, _, hdr := c.postForm("/experiments/new", url.Values{"name": {name}, "devices": {"tap1:file:" + sampleName}})
		var id int64
		if _, err := fmt.Sscanf(hdr.Get("Location"), "/experiments/%d", &id); status != http.StatusSeeOther || err != nil {
			t.Fatalf("create %s: status %d, location %q", name, status, hdr.Get("Location"))
		}
		return id
	}
	aliceID := mk(a, "alice-secret-study")
	bobID := mk(b, "bob-study")
	status, body := b.get("/experiments")
	if status != http.StatusOK || strings.Contains(body, "alice-secret-study") || !strings.Contains(body, "bob-study") {
		t.Fatalf("bob's list (status %d) shows alice's experiment or not his own:\n%s", status, body)
	}
	status, body = a.get("/experiments")
	if status != http.StatusOK || strings.Contains(body, "bob-study") || !strings.Contains(body, "alice-secret-study") {
		t.Fatalf("alice's list (status %d) shows bob's experiment or not her own:\n%s", status, body)
	}
	admin := e.login(t, adminName, adminPass)
	if _, body := admin.get("/experiments"); !strings.Contains(body, "alice-secret-study") || !strings.Contains(body, "bob-study") {
		t.Errorf("the admin's list does not show every experiment:\n%s", body)
	}
	for i, path := range []string{
		fmt.Sprintf("/experiments/%d", aliceID),
		fmt.Sprintf("/experiments/%d/status", aliceID),
		fmt.Sprintf("/experiments/%d/results", aliceID),
		fmt.Sprintf("/experiments/%d/counters.json", aliceID),
		fmt.Sprintf("/experiments/%d/files/0/packets.pcap", aliceID),
	} {
		status, body := b.get(path)
		if status != http.StatusNotFound || strings.Contains(body, "alice-secret-study") {
			t.Errorf("%d: bob GET %s: status %d, want 404 without the experiment", i, path, status)
		}
	}
	for i, action := range []string{"configure", "start", "pause", "stop", "check-filter"} {
		status, body, _ := b.postForm(fmt.Sprintf("/experiments/%d/%s", aliceID, action), url.Values{"filter": {"udp"}})
		if status != http.StatusNotFound || strings.Contains(body, "alice-secret-study") {
			t.Errorf("%d: bob POST %s: status %d, want 404", i, action, status)
		}
	}
	set, err := e.m.GetExperimentSettings(context.Background(), e.admin, aliceID)
	if err != nil || set.State != am.StateInstantiated || set.Config != nil {
		t.Errorf("alice's experiment after bob's attempts: %+v, %v", set, err)
	}
	// Experimenters do not administer devices.
	for _, path := range []string{"/devices", "/devices/new", "/devices/tap1/edit", "/devices/tap1/delete"} {
		if status, _ := b.get(path); status != http.StatusForbidden {
			t.Errorf("bob GET %s: status %d, want 403", path, status)
		}
	}
	if status, _, _ := b.postForm("/devices/tap1/delete", url.Values{}); status != http.StatusForbidden {
		t.Errorf("bob POST delete: status %d, want 403", status)
	}
	if _, body := b.get(fmt.Sprintf("/experiments/%d", bobID)); strings.Contains(body, fmt.Sprintf("%s:%d", cd.host, cd.port)) {
		t.Errorf("an experimenter's page shows a device's address:\n%s", body)
	}
}

func TestSecretsNeverShown(t *testing.T) {
	e := newEnv(t)
	const token = "device-token-never-shown-7f3a"
	cd := startCapd(t, token)
	admin := e.login(t, adminName, adminPass)
	const secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	const passphrase = "passphrase never shown 91"
	secrets := []string{token, secret, passphrase, adminPass, alicePass, bobPass}
	var pages []string
	keep := func(what string, status int, body string) {
		t.Helper()
		pages = append(pages, what+"\n"+body)
	}
	form := url.Values{"name": {"tap1"}, "location": {newLocation}, "new_location": {"lab"}, "type": {"gims-capd"},
		"hostname": {cd.host}, "port": {"0"}, "token": {token},
		// The policy fields (SPEC §9): experimenters' secrets allowed.
		"policy_users": {"*"}, "policy_payload": {"strip"}, "policy_key_holder": {"experimenter"},
		"policy_require_anonymization": {"on"}, "policy_outputs": {"counters", "flows", "pcap"}}
	status, body, _ := admin.postForm("/devices/new", form)
	if status != http.StatusBadRequest {
		t.Fatalf("add device with port 0: status %d", status)
	}
	keep("refused add", status, body)
	form.Set("port", fmt.Sprint(cd.port))
	if status, _, _ := admin.postForm("/devices/new", form); status != http.StatusSeeOther {
		t.Fatalf("add device: status %d", status)
	}
	for _, p := range []string{"/devices", "/devices/tap1/edit", "/devices/tap1/delete", "/devices/new"} {
		status, body := admin.get(p)
		keep(p, status, body)
	}
	status, body, _ = admin.postForm("/devices/tap1/edit", url.Values{"name": {"tap1"}, "hostname": {cd.host},
		"port": {"70000"}, "token": {token + "-new"}})
	keep("refused edit", status, body)
	secrets = append(secrets, token+"-new")

	a := e.login(t, alice, alicePass)
	status, _, hdr := a.postForm("/experiments/new", url.Values{"name": {"anon"}, "devices": {"tap1:file:" + sampleName}})
	if status != http.StatusSeeOther {
		t.Fatalf("create: status %d", status)
	}
	exp := hdr.Get("Location")
	// A refused configuration keeps what was typed but the secret.
	status, body, _ = a.postForm(exp+"/configure", url.Values{"filter": {"tcp port 99999999"}, "anonymize": {"on"},
		"secret": {passphrase}, "counters": {"on"}, "pcap": {"on"}})
	if status != http.StatusBadRequest || !strings.Contains(body, "tcp port 99999999") {
		t.Fatalf("configure with a bad filter: status %d", status)
	}
	keep("refused configure", status, body)
	if status, _, _ := a.postForm(exp+"/configure", url.Values{"anonymize": {"on"}, "secret": {secret},
		"counters": {"on"}, "flows": {"on"}, "pcap": {"on"}}); status != http.StatusSeeOther {
		t.Fatalf("configure: status %d", status)
	}
	if status, _, _ := a.postForm(exp+"/start", url.Values{}); status != http.StatusSeeOther {
		t.Fatalf("start: status %d", status)
	}
	id := strings.TrimPrefix(exp, "/experiments/")
	waitFor(t, "the replay to end", 20*time.Second, func() bool {
		_, body := a.get(exp + "/status")
		return strings.Contains(body, `data-state="done"`)
	})
	for _, p := range []string{exp, exp + "/status", exp + "/results", exp + "/counters.json", "/experiments"} {
		status, body := a.get(p)
		keep(p, status, body)
	}
	for _, p := range []string{exp, "/experiments"} {
		status, body := admin.get(p)
		keep("admin "+p, status, body)
	}
	if !strings.Contains(pages[len(pages)-2], "Crypto-PAn, key fingerprint") {
		t.Errorf("the experiment page does not show the key's fingerprint")
	}
	status, body, _ = a.postForm("/login", url.Values{"name": {alice}, "password": {alicePass + "x"}})
	keep("login", status, body)
	for _, page := range pages {
		for _, s := range secrets {
			if strings.Contains(page, s) {
				what, _, _ := strings.Cut(page, "\n")
				t.Errorf("page %s (experiment %s) shows a secret %q", what, id, s)
			}
		}
	}
}

func TestDeviceValidationOnServer(t *testing.T) {
	e := newEnv(t)
	admin := e.login(t, adminName, adminPass)
	for i, row := range badDevices {
		t.Run(fmt.Sprintf("%02d %s", i, row.name), func(t *testing.T) {
			admin.t = t
			msg := serverDeviceError(t, admin, row)
			if msg != row.want {
				t.Errorf("server message (-got, +want):\n-%s\n+%s", msg, row.want)
			}
		})
	}
	if devs, _ := e.m.ListDevices(context.Background(), e.admin); len(devs) != 0 {
		t.Errorf("refused devices were added: %+v", devs)
	}
}

// badDevice is a bad device form and the message of the field it fails;
// the server and the browser must give the same one.
type badDevice struct {
	name                   string
	dev, host, port, token string
	field, want            string
}

var badDevices = []badDevice{
	{"empty name", "", "127.0.0.1", "8081", "t", "name", "device name must have 1 to 64 characters"},
	{"name with a space", "cap 1", "127.0.0.1", "8081", "t", "name", `device name "cap 1": use only letters, digits, '.', '_' and '-'`},
	{"name too long", strings.Repeat("x", 65), "127.0.0.1", "8081", "t", "name", "device name must have 1 to 64 characters"},
	{"empty hostname", "cap1", "", "8081", "t", "hostname", `device cap1: hostname "" is not a host name or address`},
	{"hostname with a path", "cap1", "host/x", "8081", "t", "hostname", `device cap1: hostname "host/x" is not a host name or address`},
	{"port zero", "cap1", "127.0.0.1", "0", "t", "port", "device cap1: port must be between 1 and 65535, got 0"},
	{"port too large", "cap1", "127.0.0.1", "70000", "t", "port", "device cap1: port must be between 1 and 65535, got 70000"},
	{"port not a number", "cap1", "127.0.0.1", "http", "t", "port", "device cap1: port must be between 1 and 65535, got 0"},
	{"no token", "cap1", "127.0.0.1", "8081", "", "token", "device cap1: token is required (the daemon's bearer token)"},
}

// fieldErrorRE finds a field's message in a device form.
func fieldErrorRE(field string) string { return `data-for="` + field + `">([^<]*)<` }

// serverDeviceError posts a bad device form and returns the message shown
// beside its field.
func serverDeviceError(t *testing.T, c *client, row badDevice) string {
	t.Helper()
	status, body, _ := c.postForm("/devices/new", url.Values{"name": {row.dev}, "hostname": {row.host}, "port": {row.port},
		"token": {row.token}})
	if status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", status)
	}
	re := mustRE(fieldErrorRE(row.field))
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no message beside %s in:\n%s", row.field, body)
	}
	return htmlUnescape(m[1])
}

func TestApprovePendingDevice(t *testing.T) {
	e := newEnv(t)
	cd := startCapd(t, "pending-device-token")
	ctx := context.Background()
	act, err := e.m.CreateActivation(ctx, e.admin, amapi.ActivationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.RegisterDevice(ctx, e.admin, amapi.Registration{Name: "self1", Hostname: cd.host, Port: cd.port,
		Token: cd.token, Activation: act.Code}); err != nil {
		t.Fatal(err)
	}
	admin := e.login(t, adminName, adminPass)
	status, body := admin.get("/devices")
	if status != http.StatusOK || !strings.Contains(body, `id="pending"`) || !strings.Contains(body, `id="approve-self1"`) {
		t.Fatalf("GET /devices: status %d, no approve button for the pending device:\n%s", status, body)
	}
	if strings.Contains(body, cd.token) {
		t.Errorf("the pending device's token is shown")
	}
	// Experimenters cannot use it yet.
	a := e.login(t, alice, alicePass)
	if _, body := a.get("/experiments/new"); strings.Contains(body, "self1") {
		t.Errorf("a pending device is offered to experimenters")
	}
	status, _, hdr := admin.postForm("/devices/self1/approve", url.Values{})
	if status != http.StatusSeeOther || hdr.Get("Location") != "/devices" {
		t.Fatalf("approve: status %d", status)
	}
	_, body = admin.get("/devices")
	if strings.Contains(body, `id="pending"`) || !strings.Contains(body, `id="device-self1"`) ||
		!strings.Contains(body, "self1 approved") {
		t.Errorf("after approval the device is not listed as approved:\n%s", body)
	}
	devs, err := e.m.ListDevices(ctx, e.admin)
	if err != nil || len(devs) != 1 || devs[0].Pending || devs[0].Capabilities == nil {
		t.Errorf("device after approval: %+v, %v", devs, err)
	}
	if _, body := a.get("/experiments/new"); !strings.Contains(body, "self1:file:"+traceName) {
		t.Errorf("the approved device's interfaces are not offered")
	}
}

func TestDeletedUserIsLoggedOut(t *testing.T) {
	e := newEnv(t)
	a := e.login(t, alice, alicePass)
	if _, err := e.m.DeleteUser(context.Background(), e.admin, alice); err != nil {
		t.Fatal(err)
	}
	if status, _ := a.get("/experiments"); status != http.StatusSeeOther {
		t.Errorf("a deleted user's session still opens pages: status %d", status)
	}
	// The session is gone: a write is refused as having none.
	if status, _, _ := a.postForm("/experiments/new", url.Values{"name": {"x"}}); status != http.StatusForbidden {
		t.Errorf("a deleted user's session still writes: status %d", status)
	}
	if list, _ := e.m.ListExperiments(context.Background(), e.admin); len(list) != 0 {
		t.Errorf("experiments created by a deleted user: %+v", list)
	}
}
