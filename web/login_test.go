package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
)

// TestLoginFormFloodKeepsLogins is issue 20 finding 4: anonymous GET
// /login used to fill the session store, whose pruning then dropped the
// session of a visitor at the login form ("403 no session").
func TestLoginFormFloodKeepsLogins(t *testing.T) {
	e := newEnv(t)
	c := e.newClient(t)
	if status, _ := c.get("/login"); status != http.StatusOK || c.csrf == "" {
		t.Fatalf("GET /login: status %d, token %q", status, c.csrf)
	}
	// 12,000 anonymous visits (more than MaxSessions), from four
	// keep-alive clients on loopback.
	const visits, workers = 12000, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{}
			for i := w; i < visits; i += workers {
				resp, err := hc.Get(e.srv.URL + "/login")
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("GET /login: status %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := e.gui.sessions.size(); n != 0 {
		t.Errorf("%d sessions held after %d anonymous visits, want 0", n, visits)
	}
	status, body, hdr := c.postForm("/login", url.Values{"name": {alice}, "password": {alicePass}})
	if status != http.StatusSeeOther || hdr.Get("Location") != "/experiments" {
		t.Fatalf("login after the flood: status %d, location %q, body %.200s", status, hdr.Get("Location"), body)
	}
	if n := e.gui.sessions.size(); n != 1 {
		t.Errorf("%d sessions after one login, want 1", n)
	}
}

// TestLoginToken checks the login form's signed double-submit token.
func TestLoginToken(t *testing.T) {
	e := newEnv(t)
	other := newLoginTokens(e.gui.cfg.Now)
	creds := url.Values{"name": {alice}, "password": {alicePass}}
	// forged is a well-formed token signed with another key.
	rec := &fakeWriter{h: http.Header{}}
	forged := other.issue(rec, &http.Request{})
	cases := []struct {
		name   string
		cookie string // "" for none; "form" for the form's token
		field  string // "form" for the form's token
		origin string
		want   int
	}{
		{"valid", "form", "form", "", http.StatusSeeOther},
		{"no cookie", "", "form", "", http.StatusForbidden},
		{"no field", "form", "", "", http.StatusForbidden},
		{"field differs from cookie", "form", forged, "", http.StatusForbidden},
		{"signed with another key", forged, forged, "", http.StatusForbidden},
		{"garbage", "x", "x", "", http.StatusForbidden},
		{"other origin", "form", "form", "http://evil.example", http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.newClient(t)
			c.get("/login")
			token := c.csrf
			pick := func(v string) string {
				if v == "form" {
					return token
				}
				return v
			}
			form := url.Values{}
			for k, v := range creds {
				form[k] = v
			}
			if f := pick(tc.field); f != "" {
				form.Set(csrfField, f)
			}
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if ck := pick(tc.cookie); ck != "" {
				req.AddCookie(&http.Cookie{Name: loginCookieName, Value: ck})
			}
			resp, err := (&http.Transport{}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	if n := e.gui.sessions.size(); n != 1 {
		t.Errorf("%d sessions after one good login, want 1", n)
	}
}

// fakeWriter is a ResponseWriter that keeps only the headers.
type fakeWriter struct{ h http.Header }

func (f *fakeWriter) Header() http.Header         { return f.h }
func (f *fakeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (f *fakeWriter) WriteHeader(int)             {}

// TestSafeNext is issue 20 finding 5: "next" after login is only a path
// of this site.
func TestSafeNext(t *testing.T) {
	cases := []struct{ next, want string }{
		{"/experiments/3", "/experiments/3"},
		{"/devices?x=1#top", "/devices?x=1#top"},
		{"/experiments/3/files/0/a%20b.pcap", "/experiments/3/files/0/a%20b.pcap"},
		{"", defaultNext},
		{"experiments", defaultNext},
		{"//evil.example/x", defaultNext},
		{"/\t/evil.example:8080/x", defaultNext},
		{"/\t\t/evil.example", defaultNext},
		{"\t//evil.example", defaultNext},
		{"/\r\n/evil.example", defaultNext},
		{"/\n/evil.example", defaultNext},
		{"/\x00/evil.example", defaultNext},
		{"/\\evil.example", defaultNext},
		{"\\\\evil.example", defaultNext},
		{"/\\/evil.example", defaultNext},
		{"/%2F/evil.example", defaultNext},
		{"/%2f%2fevil.example", defaultNext}, // decodes to "//evil.example"
		{"%2F%2Fevil.example", defaultNext},
		{"https://evil.example/", defaultNext},
		{"javascript:alert(1)", defaultNext},
		{"/ /evil.example", defaultNext},
		{"/\u3000/evil.example", defaultNext},
		{"/\x7f/evil.example", defaultNext},
		{"///evil.example", defaultNext},
		{"/" + strings.Repeat("a", 3000), defaultNext},
	}
	for _, tc := range cases {
		if got := safeNext(tc.next); got != tc.want {
			t.Errorf("safeNext(%.60q) = %.60q, want %q", tc.next, got, tc.want)
		}
	}
}

// TestLoginRedirectStaysOnSite logs in through the form with the tab of
// issue 20 finding 5 in "next".
func TestLoginRedirectStaysOnSite(t *testing.T) {
	e := newEnv(t)
	for _, next := range []string{"/\t/127.0.0.2:9/x", "/\\127.0.0.2:9/x", "//127.0.0.2:9/x"} {
		c := e.newClient(t)
		if status, body := c.get("/login?next=" + url.QueryEscape(next)); status != http.StatusOK ||
			strings.Contains(body, "127.0.0.2") {
			t.Fatalf("login form with next %q: status %d, the form keeps the destination", next, status)
		}
		status, _, hdr := c.postForm("/login", url.Values{"name": {alice}, "password": {alicePass}, "next": {next}})
		if status != http.StatusSeeOther || hdr.Get("Location") != defaultNext {
			t.Errorf("login with next %q: status %d, location %q, want %q", next, status, hdr.Get("Location"), defaultNext)
		}
	}
}

// TestActivationCodesPage: an admin makes an activation code on the
// devices page; it is shown in that answer only, the list shows ids,
// expiry and uses left, and experimenters can neither make nor revoke one.
func TestActivationCodesPage(t *testing.T) {
	e := newEnv(t)
	admin := e.login(t, adminName, adminPass)
	status, body, _ := admin.postForm("/activations", url.Values{"expires": {"1h"}, "uses": {"2"}})
	if status != http.StatusOK || !strings.Contains(body, `id="activation-code"`) {
		t.Fatalf("make a code: status %d, body:\n%.2000s", status, body)
	}
	code := regexp.MustCompile(`id="activation-code">(gims-act-[a-z0-9]+)<`).FindStringSubmatch(body)
	if code == nil {
		t.Fatalf("no code in the answer:\n%s", body)
	}
	_, body = admin.get("/devices")
	if strings.Contains(body, code[1]) || !strings.Contains(body, `id="activation-1"`) {
		t.Errorf("GET /devices after making a code: the code is shown again, or the activation is not listed:\n%s", body)
	}
	// The code works once per use.
	if _, err := e.m.RegisterDevice(context.Background(), am.Principal{Name: alice, Role: am.RoleExperimenter},
		amapi.Registration{Name: "self1", Hostname: "127.0.0.1", Port: 9, Token: "t", Activation: code[1]}); err != nil {
		t.Errorf("RegisterDevice with the GUI's code: %v", err)
	}
	for _, bad := range []url.Values{{"expires": {"99y"}, "uses": {"1"}}, {"expires": {"1d"}, "uses": {"0"}},
		{"expires": {"1d"}, "uses": {"5000"}}} {
		if status, body, _ := admin.postForm("/activations", bad); status != http.StatusBadRequest ||
			!strings.Contains(body, `id="activation-error"`) {
			t.Errorf("make a code with %v: status %d", bad, status)
		}
	}
	owner := e.login(t, alice, alicePass)
	if status, _, _ := owner.postForm("/activations", url.Values{"expires": {"1d"}, "uses": {"1"}}); status != http.StatusForbidden {
		t.Errorf("an experimenter makes a code: status %d, want 403", status)
	}
	if status, _, _ := owner.postForm("/activations/1/delete", url.Values{}); status != http.StatusForbidden {
		t.Errorf("an experimenter revokes a code: status %d, want 403", status)
	}
	if status, _, hdr := admin.postForm("/activations/1/delete", url.Values{}); status != http.StatusSeeOther ||
		!strings.HasPrefix(hdr.Get("Location"), "/devices") {
		t.Fatalf("revoke: status %d", status)
	}
	if _, body := admin.get("/devices"); strings.Contains(body, `id="activation-1"`) || !strings.Contains(body, "Activation 1 revoked") {
		t.Errorf("after revoking, the activation is still listed")
	}
}
