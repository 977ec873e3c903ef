package api

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/capture/device"
	"github.com/gimsproject/gims/capture/job"
	"github.com/gimsproject/gims/capture/sim"
	"github.com/gimsproject/gims/db"
)

// Credentials of the status benchmark's experimenter.
const (
	benchUser = "alice"
	benchPass = "alice-password"
)

// startSimDevices serves n simulated capture devices (the real job
// manager and device API, interface sim0 with synthetic traffic, as
// gims-capd -simulate runs them) on loopback, and returns their ports.
func startSimDevices(tb testing.TB, n int, token string) []int {
	tb.Helper()
	pacer, err := sim.NewPacer(sim.DefaultConfiguration())
	if err != nil {
		tb.Fatal(err)
	}
	var seq atomic.Uint32
	ports := make([]int, n)
	for i := range n {
		jcfg := job.DefaultConfiguration()
		jcfg.DataDir, jcfg.MinFree, jcfg.NoSync = tb.TempDir(), 0, true
		jobs, err := job.New(jcfg, job.Dependencies{Synthetic: []job.Synthetic{{
			Interface: job.Interface{Name: "sim0", LinkType: "EN10MB", Description: "simulated traffic"},
			Open: func(snaplen int) *capture.Source {
				return pacer.Source(uint32(i)<<16|seq.Add(1)&0xffff, snaplen)
			},
		}}})
		if err != nil {
			tb.Fatal(err)
		}
		if err := jobs.Start(context.Background()); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = jobs.Stop() })
		dcfg := device.DefaultConfiguration()
		dcfg.Token = token
		h, err := device.New(dcfg, device.Dependencies{Jobs: jobs, Registry: prometheus.NewRegistry()})
		if err != nil {
			tb.Fatal(err)
		}
		srv := httptest.NewServer(h)
		tb.Cleanup(srv.Close)
		_, p, err := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			tb.Fatal(err)
		}
		if ports[i], err = strconv.Atoi(p); err != nil {
			tb.Fatal(err)
		}
	}
	return ports
}

// runningStatusHandler is the API over a started manager (its monitor
// polls every second) with an experiment of the experimenter benchUser
// running on n simulated devices; it returns the handler and the
// experiment's id.
func runningStatusHandler(tb testing.TB, n int) (*Handler, int64) {
	tb.Helper()
	ctx := context.Background()
	const token = "bench-device-token"
	ports := startSimDevices(tb, n, token)
	dir := tb.TempDir()
	dcfg := db.DefaultConfiguration()
	dcfg.Path = filepath.Join(dir, "am.db")
	store, err := db.Open(ctx, dcfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	reg := prometheus.NewRegistry()
	mcfg := am.DefaultConfiguration()
	mcfg.DataDir, mcfg.BcryptCost, mcfg.PollInterval = filepath.Join(dir, "data"), 4, time.Second
	mcfg.Logger = slog.New(slog.DiscardHandler)
	m, err := am.New(mcfg, am.Dependencies{DB: store, HTTP: loopbackOnly(), Registry: reg})
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.Stop)
	if _, err := m.InitAdmin(ctx, fuzzUser, fuzzPass); err != nil {
		tb.Fatal(err)
	}
	admin := am.Principal{Name: fuzzUser, Role: am.RoleAdmin}
	if _, err := m.AddUser(ctx, admin, amapi.UserInput{Name: benchUser, Password: benchPass, Role: am.RoleExperimenter}); err != nil {
		tb.Fatal(err)
	}
	policy := amapi.DefaultDevicePolicy()
	policy.RequireAnonymization = false
	var devices []string
	for i, port := range ports {
		name := fmt.Sprintf("sim%02d", i)
		if _, err := m.AddDevice(ctx, admin, amapi.DeviceInput{Name: name, Type: "gims-capd", Hostname: "127.0.0.1",
			Port: port, Token: token, Policy: amapi.PolicyInputOf(policy)}); err != nil {
			tb.Fatal(err)
		}
		devices = append(devices, name+":sim0")
	}
	alice := am.Principal{Name: benchUser, Role: am.RoleExperimenter}
	id, err := m.CreateExperiment(ctx, alice, amapi.CreateRequest{Name: "status-bench", Devices: devices})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := m.ConfigureExperiment(ctx, alice, id, amapi.ExperimentConfig{
		Counters: &amapi.CountersConfig{IntervalMS: 1000}, Flows: &amapi.FlowsConfig{}}); err != nil {
		tb.Fatal(err)
	}
	if _, err := m.StartExperiment(ctx, alice, id); err != nil {
		tb.Fatal(err)
	}
	cfg := DefaultConfiguration()
	unlimited := RateLimit{Rate: 1e9, Burst: 1e9, Concurrent: 1e6}
	cfg.UserRate, cfg.AdminRate = unlimited, unlimited
	h, err := New(cfg, Dependencies{Manager: m, Registry: reg})
	if err != nil {
		tb.Fatal(err)
	}
	return h, id
}

// BenchmarkStatusHTTP is GetExperimentStatus of an experiment running on
// 10 simulated devices through the whole HTTP handler (Basic
// authentication, rate limits, metrics, the XML-RPC codec), as `ab -k`
// calls it, by its owner (an experimenter) and by an admin, from
// GOMAXPROCS goroutines at once.
func BenchmarkStatusHTTP(b *testing.B) {
	h, id := runningStatusHandler(b, 10)
	doc := []byte(call("GetExperimentStatus", fmt.Sprintf("<value><int>%d</int></value>", id)))
	for _, bc := range []struct{ name, user, pass string }{
		{"experimenter", benchUser, benchPass},
		{"admin", fuzzUser, fuzzPass},
	} {
		b.Run(bc.name, func(b *testing.B) {
			size := int64(0)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, RPCPath, bytes.NewReader(doc))
					req.Header.Set("Content-Type", "text/xml")
					req.SetBasicAuth(bc.user, bc.pass)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte("faultCode")) {
						b.Fatalf("HTTP %d: %.300s", rec.Code, rec.Body)
					}
					atomic.StoreInt64(&size, int64(rec.Body.Len()))
				}
			})
			b.SetBytes(atomic.LoadInt64(&size))
		})
	}
}
