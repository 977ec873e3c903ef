package rpcmetrics

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gimsproject/gims/xmlrpc"
)

// Svc is a service with one method.
type Svc struct{}

// Ping answers pong.
func (Svc) Ping(_ *http.Request, _ *xmlrpc.NoArgs, reply *string) error {
	*reply = "pong"
	return nil
}

func newCalls(t *testing.T) (*Calls, *prometheus.Registry) {
	t.Helper()
	xcfg := xmlrpc.DefaultConfiguration()
	xcfg.DefaultService = "Svc"
	srv, err := xmlrpc.NewServer(xcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.RegisterService(Svc{}, "Svc", nil); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	c, err := New(reg, "test", srv, 4)
	if err != nil {
		t.Fatal(err)
	}
	return c, reg
}

func TestCount(t *testing.T) {
	c, _ := newCalls(t)
	for _, tc := range []struct {
		method string
		fault  int
	}{
		{"Ping", 0}, {"Svc.Ping", 4}, {"system.listMethods", 0}, {"Nope", xmlrpc.CodeUnknownMethod},
		{`Weird"Name\`, 4}, {"Ping", 12345},
	} {
		c.Count(tc.method, tc.fault)
	}
	for _, tc := range []struct {
		pos   string
		c     prometheus.Collector
		value float64
	}{
		{"#0", c.calls.WithLabelValues("Ping"), 3},
		{"#1", c.calls.WithLabelValues("system.listMethods"), 1},
		{"#2", c.calls.WithLabelValues("system.multicall"), 0},
		{"#3", c.calls.WithLabelValues(UnknownMethod), 2},
		{"#4", c.faults.WithLabelValues("Ping", "4"), 1},
		{"#5", c.faults.WithLabelValues("Ping", OtherCode), 1},
		{"#6", c.faults.WithLabelValues(UnknownMethod, "-32601"), 1},
		{"#7", c.faults.WithLabelValues(UnknownMethod, "4"), 1},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.value {
			t.Errorf("%s value = %v, want %v", tc.pos, got, tc.value)
		}
	}
}

// TestBounded checks that calls with random method names and fault codes
// add no series (issue 20: 40k series after 20k calls).
func TestBounded(t *testing.T) {
	c, reg := newCalls(t)
	c.Count("Ping", 4)
	c.Count("Nope", 4)
	before, err := testutil.GatherAndCount(reg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		c.Count(fmt.Sprintf("Random%d", i), 4)
		c.Count("Ping", 1000+i)
	}
	after, err := testutil.GatherAndCount(reg)
	if err != nil {
		t.Fatal(err)
	}
	// Only Ping's "other" code is new.
	if after != before+1 {
		t.Errorf("%d series after 2000 calls with random names and codes, want %d", after, before+1)
	}
}
