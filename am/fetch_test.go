package am

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gimsproject/gims/deviceapi"
)

// fileDevice serves one result file the way gims-capd does
// (http.ServeContent: Range requests), counting the bytes it sends.
type fileDevice struct {
	mu     sync.Mutex
	data   []byte
	sent   int
	ranges []string // the Range header of each request
}

func (d *fileDevice) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	data := bytes.Clone(d.data)
	d.ranges = append(d.ranges, r.Header.Get("Range"))
	d.mu.Unlock()
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "f", time.Time{}, bytes.NewReader(data))
	d.mu.Lock()
	d.sent += cw.n
	d.mu.Unlock()
}

type countingWriter struct {
	http.ResponseWriter
	n int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += n
	return n, err
}

// TestFetchIncremental: a copy that is a beginning of the device's file
// is completed with what the file grew by (and only that crosses the
// network, with the overlap checked); a file that changed otherwise, or
// shrank, is downloaded again whole.
func TestFetchIncremental(t *testing.T) {
	base := []byte(strings.Repeat("0123456789abcdef", 64)) // 1 KiB
	for _, tc := range []struct {
		name     string
		copy     []byte // the AM's copy before the pull
		file     []byte // the device's file
		maxSent  int    // bytes the device may send
		appended bool
	}{
		{"grown", base, append(bytes.Clone(base), "more records"...), overlap + len("more records"), true},
		{"grown from a short copy", base[:10], base, len(base), true},
		{"rewritten", base, append([]byte("X"), base[1:]...), 2 * len(base), false},
		{"rewritten at the end", base, append(append(bytes.Clone(base[:len(base)-1]), 'X'), "tail"...), 2 * len(base), false},
		{"shrank", base, base[:100], 100, false},
		{"no copy", nil, base, len(base), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := &fileDevice{data: tc.file}
			srv := httptest.NewServer(dev)
			defer srv.Close()
			c, err := deviceapi.NewClient(deviceapi.ClientConfig{BaseURL: srv.URL, Token: "t"})
			if err != nil {
				t.Fatal(err)
			}
			_, cfg := newTestStore(t)
			m := &Manager{cfg: cfg}
			path := filepath.Join(t.TempDir(), "flows.ipfix")
			if tc.copy != nil {
				if err := os.WriteFile(path, tc.copy, 0o640); err != nil {
					t.Fatal(err)
				}
			}
			n, err := m.fetch(context.Background(), c, "job", "flows.ipfix", path, int64(len(tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.file) || n != int64(len(tc.file)) {
				t.Fatalf("copy after the pull: %d bytes (fetch says %d), want the device's %d", len(got), n, len(tc.file))
			}
			if dev.sent > tc.maxSent {
				t.Errorf("the device sent %d bytes, want at most %d", dev.sent, tc.maxSent)
			}
			// Appended: one ranged request; otherwise the last one is a
			// whole download.
			appended := len(dev.ranges) == 1 && dev.ranges[0] != ""
			if appended != tc.appended || dev.ranges[len(dev.ranges)-1] != "" && !tc.appended {
				t.Errorf("requests with Range headers %q: appended %v, want %v", dev.ranges, appended, tc.appended)
			}
		})
	}
}
