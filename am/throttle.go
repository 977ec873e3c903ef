package am

import (
	"fmt"
	"sync"
	"time"
)

// Login throttling (SPEC §10): at most loginFailures failed logins per
// user name and loginAddrFailures per client address within loginWindow;
// beyond, every login of that name or from that address is refused, right
// password or not, until the oldest failure of the window ages out. Names
// that do not exist count like the others, so the refusal tells nothing
// about which users exist.
const (
	loginFailures     = 10
	loginAddrFailures = 50
	loginWindow       = 10 * time.Minute
	// loginKeysMax bounds the memory of the throttle: beyond, expired
	// entries are dropped, then arbitrary ones.
	loginKeysMax = 100000
)

// throttle remembers recent failed logins by user and by address.
type throttle struct {
	mu    sync.Mutex
	fails map[string][]time.Time // "u:name" or "a:address" → failure times, oldest first
}

// newThrottle returns an empty throttle.
func newThrottle() *throttle { return &throttle{fails: make(map[string][]time.Time)} }

// keys are the throttle's keys of a login.
func throttleKeys(name, addr string) []string {
	keys := []string{"u:" + name}
	if addr != "" {
		keys = append(keys, "a:"+addr)
	}
	return keys
}

// limit is the number of failures a key allows.
func limit(key string) int {
	if key[0] == 'a' {
		return loginAddrFailures
	}
	return loginFailures
}

// check returns an error when name or addr has too many recent failures.
func (t *throttle) check(name, addr string, now time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range throttleKeys(name, addr) {
		f := t.recent(k, now)
		if len(f) >= limit(k) {
			wait := f[0].Add(loginWindow).Sub(now).Round(time.Second)
			return fmt.Errorf("%w: too many failed logins; retry in %v", ErrAuth, wait)
		}
	}
	return nil
}

// fail records a failed login.
func (t *throttle) fail(name, addr string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fails) >= loginKeysMax {
		for k := range t.fails {
			if len(t.recent(k, now)) == 0 {
				delete(t.fails, k)
			}
		}
		for k := range t.fails {
			if len(t.fails) < loginKeysMax {
				break
			}
			delete(t.fails, k)
		}
	}
	for _, k := range throttleKeys(name, addr) {
		f := t.recent(k, now)
		if len(f) >= limit(k) {
			f = f[1:]
		}
		t.fails[k] = append(f, now)
	}
}

// succeed forgets the user's failures (not the address's).
func (t *throttle) succeed(name string) {
	t.mu.Lock()
	delete(t.fails, "u:"+name)
	t.mu.Unlock()
}

// recent drops the failures of k older than the window and returns the
// rest (its lock held).
func (t *throttle) recent(k string, now time.Time) []time.Time {
	f := t.fails[k]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= loginWindow {
		i++
	}
	if i == len(f) {
		delete(t.fails, k)
		return nil
	}
	f = f[i:]
	t.fails[k] = f
	return f
}
