package job

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	calmh "github.com/calmh/ipfix"

	"github.com/gimsproject/gims/internal/testnet"
)

// TestCollector replays a file with flows sent to a UDP collector as well
// as to flows.ipfix: both get every flow.
func TestCollector(t *testing.T) {
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var (
		mu      sync.Mutex
		records int
		perr    error
	)
	go func() {
		s := calmh.NewSession()
		buf := make([]byte, 65536)
		for {
			n, err := ln.Read(buf)
			if err != nil {
				return
			}
			msg, err := s.ParseBuffer(buf[:n])
			mu.Lock()
			if err != nil && perr == nil {
				perr = err
			}
			records += len(msg.DataRecords)
			mu.Unlock()
		}
	}()
	m := newManager(t, "")
	id, err := m.StartJob(Spec{Interface: "file:tcpreplay__test.pcap",
		Flows: &FlowsSpec{Biflow: true, Collector: "udp://" + ln.LocalAddr().String()}})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	st := waitDone(t, m, id, 10*time.Second)
	if st.FlowsExported == 0 || st.CollectorLost != 0 || len(st.Errors) != 0 {
		t.Fatalf("done: %d flows, %d lost, errors %q; want some, none lost, no error", st.FlowsExported, st.CollectorLost, st.Errors)
	}
	waitFor(t, 5*time.Second, "every flow at the collector", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return uint64(records) == st.FlowsExported && perr == nil, fmt.Sprintf("%d records, error %v", records, perr)
	})
	path, _ := m.FilePath(id, "flows.ipfix")
	if n := len(ipfixFlows(t, path)); uint64(n) != st.FlowsExported {
		t.Errorf("flows.ipfix has %d flows, want %d", n, st.FlowsExported)
	}
}

// TestCollectorDown exports to a TCP collector nobody listens to: the
// records are counted as lost and said so, and flows.ipfix has them all.
func TestCollectorDown(t *testing.T) {
	addr := testnet.RefusingTCP(t).Addr // nothing listens there
	m := newManager(t, "")
	id, err := m.StartJob(Spec{Interface: "file:tcpreplay__test.pcap", Flows: &FlowsSpec{Collector: "tcp://" + addr}})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	st := waitDone(t, m, id, 10*time.Second)
	if st.FlowsExported == 0 || st.CollectorLost != st.FlowsExported {
		t.Errorf("%d flows exported, %d lost; want all lost", st.FlowsExported, st.CollectorLost)
	}
	if len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "did not get") {
		t.Errorf("Errors = %q, want the collector's losses", st.Errors)
	}
	path, _ := m.FilePath(id, "flows.ipfix")
	if n := len(ipfixFlows(t, path)); uint64(n) != st.FlowsExported {
		t.Errorf("flows.ipfix has %d flows, want %d", n, st.FlowsExported)
	}
}
