package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLimiter(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	l := newLimiter(clock.now)
	rl := RateLimit{Rate: 2, Burst: 3}
	for i := range 3 {
		if ok, _ := l.take("alice", rl); !ok {
			t.Fatalf("call %d of the burst refused", i+1)
		}
	}
	ok, wait := l.take("alice", rl)
	if ok || wait != 500*time.Millisecond {
		t.Errorf("4th call: %v, retry in %s; want refused, retry in 500ms", ok, wait)
	}
	if ok, _ := l.take("bob", rl); !ok {
		t.Errorf("bob refused for alice's calls")
	}
	clock.advance(500 * time.Millisecond)
	if ok, _ := l.take("alice", rl); !ok {
		t.Errorf("refused after the token came back")
	}
	clock.advance(time.Hour)
	for i := range 3 {
		if ok, _ := l.take("alice", rl); !ok {
			t.Fatalf("call %d after an hour refused: the bucket refills to the burst", i+1)
		}
	}
	if ok, _ := l.take("alice", rl); ok {
		t.Errorf("the bucket grew beyond its burst")
	}
}

// TestRateLimit is issue 20: nothing bounded how many calls one user
// made. Each call, multicall sub-calls included, spends a token of the
// caller's bucket; beyond it, fault 4 says to slow down, and admins have a
// bucket of their own size.
func TestRateLimit(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	cfg := DefaultConfiguration()
	cfg.UserRate, cfg.AdminRate, cfg.Now = RateLimit{Rate: 1, Burst: 3, Concurrent: 1}, RateLimit{Rate: 1, Burst: 10, Concurrent: 1}, clock.now
	h := newHandlerWith(t, cfg)
	admin, err := h.m.Authenticate(context.Background(), fuzzUser, fuzzPass)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.m.AddUser(context.Background(), admin, amapi.UserInput{Name: "eve", Password: "eve-password",
		Role: "experimenter"}); err != nil {
		t.Fatal(err)
	}
	fault := func(user, pass string) string {
		req := httptest.NewRequest(http.MethodPost, RPCPath, strings.NewReader(call("ListExperiments")))
		req.SetBasicAuth(user, pass)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if !strings.Contains(body, "<fault>") {
			return ""
		}
		return body
	}
	for i := range 3 {
		if f := fault("eve", "eve-password"); f != "" {
			t.Fatalf("call %d: %s", i+1, f)
		}
	}
	f := fault("eve", "eve-password")
	if !strings.Contains(f, "<int>4</int>") || !strings.Contains(f, "slow down and retry in 1s") {
		t.Errorf("4th call in a second: %q, want fault 4 slow down", f)
	}
	for i := range 10 {
		if f := fault(fuzzUser, fuzzPass); f != "" {
			t.Fatalf("admin call %d: %s", i+1, f)
		}
	}
	clock.advance(time.Second)
	if f := fault("eve", "eve-password"); f != "" {
		t.Errorf("a second later: %s", f)
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := newLimiter(time.Now)
	var releases []func()
	for i := range 2 {
		release, msg := l.enter("alice", 2)
		if release == nil {
			t.Fatalf("request %d refused: %s", i+1, msg)
		}
		releases = append(releases, release)
	}
	if release, msg := l.enter("alice", 2); release != nil || !strings.Contains(msg, "already has 2 requests in progress, at most 2") {
		t.Errorf("3rd request in progress: %q, want refused", msg)
	}
	if release, _ := l.enter("bob", 2); release == nil {
		t.Errorf("bob refused for alice's requests")
	}
	releases[0]()
	if release, msg := l.enter("alice", 2); release == nil {
		t.Errorf("refused after one ended: %s", msg)
	}
}
