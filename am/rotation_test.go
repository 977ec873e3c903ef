package am

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/capture/device"
	"github.com/gimsproject/gims/capture/job"
	"github.com/gimsproject/gims/deviceapi"
)

// fetchCounter counts the GETs of each result file a device serves.
type fetchCounter struct {
	next http.Handler
	mu   sync.Mutex
	gets map[string]int
}

func (c *fetchCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if name, ok := strings.CutPrefix(r.URL.Path, deviceapi.FilesPath); ok && r.Method == http.MethodGet {
		if _, file, ok := strings.Cut(name, "/"); ok {
			c.mu.Lock()
			c.gets[file]++
			c.mu.Unlock()
		}
	}
	c.next.ServeHTTP(w, r)
}

// count returns the GETs of file so far.
func (c *fetchCounter) count(file string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets[file]
}

// startDevice serves a real capture device (job manager and device API)
// on 127.0.0.1, replaying the sample trace, with its file GETs counted.
func startDevice(t *testing.T, token string) (host string, port int, counter *fetchCounter) {
	t.Helper()
	jcfg := job.DefaultConfiguration()
	jcfg.DataDir = t.TempDir()
	jcfg.PcapDir = filepath.Join("..", "capture", "job", "testdata", "pcaps")
	jobs, err := job.New(jcfg, job.Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jobs.Stop() })
	dcfg := device.DefaultConfiguration()
	dcfg.Token = token
	h, err := device.New(dcfg, device.Dependencies{Jobs: jobs})
	if err != nil {
		t.Fatal(err)
	}
	counter = &fetchCounter{next: h, gets: map[string]int{}}
	srv := httptest.NewServer(counter)
	t.Cleanup(srv.Close)
	host, p, err := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	port, err = strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return host, port, counter
}

// TestPullPartsOnce runs an experiment whose device rotates its files
// every second of a 3.3 s replay and pulls its results again and again:
// the part being written is fetched whenever it grew (as files without
// rotation are), a part the device lists as complete is fetched by the
// pull that sees it so (if its copy is not whole yet) and never again,
// and the AM's copies end equal to the device's files, every part in
// order.
func TestPullPartsOnce(t *testing.T) {
	ctx := context.Background()
	host, port, counter := startDevice(t, "dev-token")
	store, cfg := newTestStore(t)
	// The monitor pulls too, often: its pulls must not fetch a closed
	// part again either.
	cfg.PollInterval, cfg.PullInterval = 100*time.Millisecond, 200*time.Millisecond
	cfg.Logger = slog.New(slog.DiscardHandler)
	m, err := New(cfg, Dependencies{DB: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	admin := Principal{Name: "admin", Role: RoleAdmin}
	if _, err := m.AddDevice(ctx, admin, amapi.DeviceInput{Name: "tap1", Type: "gims-capd", Hostname: host, Port: port,
		Token: "dev-token", Policy: openPolicy()}); err != nil {
		t.Fatalf("AddDevice() error:\n%+v", err)
	}
	id, err := m.CreateExperiment(ctx, admin, amapi.CreateRequest{Name: "rotated", Devices: []string{"tap1:file:tcpreplay__test.pcap"}})
	if err != nil {
		t.Fatalf("CreateExperiment() error:\n%+v", err)
	}
	if _, err := m.ConfigureExperiment(ctx, admin, id, amapi.ExperimentConfig{Pcap: true, Flows: &amapi.FlowsConfig{},
		ReplaySpeed: 1, RotateS: 1}); err != nil {
		t.Fatalf("ConfigureExperiment() error:\n%+v", err)
	}
	set, err := m.GetExperimentSettings(ctx, admin, id)
	if err != nil || set.Config == nil || set.Config.RotateS != 1 || set.Config.RotateMB != 0 {
		t.Fatalf("settings %+v, %v; want rotate_s 1 stored", set.Config, err)
	}
	if _, err := m.StartExperiment(ctx, admin, id); err != nil {
		t.Fatalf("StartExperiment() error:\n%+v", err)
	}

	// pulledComplete holds, per part, its GET count after the first pull
	// that followed a listing showing it complete.
	pulledComplete := map[string]int{}
	whileRunning := 0 // parts seen complete while the capture went on
	var files []amapi.FileRow
	for pulls := 0; ; pulls++ {
		e, err := m.db.GetExperiment(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.GetExperimentResults(ctx, admin, id, amapi.ResultsQuery{Kind: amapi.KindFiles})
		if err != nil {
			t.Fatalf("GetExperimentResults(files) error:\n%+v", err)
		}
		files = got.([]amapi.FileRow)
		if err := m.pull(ctx, &e); err != nil {
			t.Fatalf("pull error:\n%+v", err)
		}
		for name, n := range pulledComplete {
			if got := counter.count(name); got != n {
				t.Errorf("%s, complete, fetched %d times after the pull that had it, want no more (%d)", name, got, n)
			}
		}
		for _, f := range files {
			if _, seen := pulledComplete[f.Name]; f.Complete && !seen {
				pulledComplete[f.Name] = counter.count(f.Name)
				if e.State == StateRunning {
					whileRunning++
				}
			}
		}
		if e.State == StateDone && pulls > 0 {
			break
		}
		if pulls > 200 {
			t.Fatalf("experiment still %s after %d pulls", e.State, pulls)
		}
		time.Sleep(50 * time.Millisecond) // pulls spread over the replay, not a synchronization
	}

	var parts []string
	for _, f := range files {
		if !f.Complete {
			t.Errorf("%s of a done experiment is not complete", f.Name)
		}
		if strings.HasPrefix(f.Name, "packets") {
			parts = append(parts, f.Name)
		}
		if counter.count(f.Name) == 0 {
			t.Errorf("%s never fetched", f.Name)
		}
	}
	if whileRunning < 2 {
		t.Errorf("%d parts complete while the capture ran, want 2 or more (parts closed every second of 3.3 s)", whileRunning)
	}
	if len(parts) < 3 || parts[0] != "packets-00001.pcap" || parts[1] != "packets-00002.pcap" || parts[2] != "packets-00003.pcap" {
		t.Fatalf("pcap files %q, want parts 1, 2, 3… in order", parts)
	}
	// The AM's copies are the device's files, byte for byte in size, and
	// it serves each part.
	for _, f := range files {
		rf, err := m.OpenResultFile(ctx, admin, id, 0, f.Name)
		if err != nil {
			t.Fatalf("OpenResultFile(%s) error:\n%+v", f.Name, err)
		}
		var n int64
		if rf.File != nil {
			n, err = io.Copy(io.Discard, rf.File)
		} else {
			n, err = io.Copy(io.Discard, rf.Body)
		}
		rf.Close()
		if err != nil || n != f.Size {
			t.Errorf("%s: read %d bytes (%v), want %d", f.Name, n, err, f.Size)
		}
		local, err := os.Stat(filepath.Join(m.pairDir(id, 0), f.Name))
		if err != nil || local.Size() != f.Size {
			t.Errorf("local copy of %s: %v, want %d bytes", f.Name, err, f.Size)
		}
	}
}
