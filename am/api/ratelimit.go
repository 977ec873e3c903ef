package api

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// RateLimit is what one user may ask of the API: a token bucket of Rate
// calls per second sustained and Burst at once (every XML-RPC call spends
// a token, each call inside a system.multicall too, and so does every file
// download), and at most Concurrent XML-RPC requests in progress at once
// (each may build an answer of up to the response budget in memory).
type RateLimit struct {
	// Rate is the sustained number of calls per second.
	Rate float64
	// Burst is how many calls may come at once after a quiet time.
	Burst int
	// Concurrent is how many requests may be in progress at once.
	Concurrent int
}

// limiter holds a token bucket per authenticated user. Users are few and
// known (only a successful login makes a bucket), so the map stays small.
type limiter struct {
	now func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	running map[string]int // requests in progress by user
}

// bucket is one user's tokens at a time.
type bucket struct {
	tokens float64
	last   time.Time
}

// newLimiter returns a limiter reading the time from now.
func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, buckets: make(map[string]*bucket), running: make(map[string]int)}
}

// enter counts a request of user in progress, at most max at once: it
// returns the function that counts it out, or nil and why when user
// already has max.
func (l *limiter) enter(user string, max int) (release func(), refusal string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.running[user]; n >= max {
		return nil, fmt.Sprintf("rate limit: user %s already has %d requests in progress, at most %d; "+
			"slow down: wait for answers before sending more", user, n, max)
	}
	l.running[user]++
	return func() {
		l.mu.Lock()
		if l.running[user]--; l.running[user] <= 0 {
			delete(l.running, user)
		}
		l.mu.Unlock()
	}, ""
}

// take spends one of user's tokens under rl; when none is left it returns
// false and how long until the next one.
func (l *limiter) take(user string, rl RateLimit) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[user]
	if !ok {
		b = &bucket{tokens: float64(rl.Burst), last: now}
		l.buckets[user] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(float64(rl.Burst), b.tokens+elapsed*rl.Rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / rl.Rate * float64(time.Second))
	return false, wait
}

// rateMessage is what a caller over its rate limit is told.
func rateMessage(user string, rl RateLimit, wait time.Duration) string {
	return fmt.Sprintf("rate limit: user %s may make %g calls per second (%d at once); slow down and retry in %s",
		user, rl.Rate, rl.Burst, wait.Round(time.Millisecond))
}
