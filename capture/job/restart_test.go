package job

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/ipfix"
)

// The crash test runs a Manager in a child process (the test binary
// itself, switched by this variable) and SIGKILLs it.
const (
	childDirEnv  = "GIMS_JOB_CHILD_DATA_DIR"
	childPortEnv = "GIMS_JOB_CHILD_PORT"
	// childRotateS, when set, is the rotate_s of the child's job.
	childRotateS = "GIMS_JOB_CHILD_ROTATE_S"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		os.Exit(runChild(dir, os.Getenv(childPortEnv)))
	}
	os.Exit(m.Run())
}

// runChild starts a live job on lo for the port, prints its id and waits
// to be killed.
func runChild(dir, port string) int {
	cfg := DefaultConfiguration()
	cfg.DataDir = dir
	cfg.CheckpointInterval = 100 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	m, err := New(cfg, Dependencies{})
	if err == nil {
		err = m.Start(context.Background())
	}
	var id string
	rotateS, _ := strconv.Atoi(os.Getenv(childRotateS))
	if err == nil {
		id, err = m.StartJob(Spec{
			Interface: "lo", Filter: "udp and dst port " + port,
			Counters: &CountersSpec{IntervalMS: 200}, Flows: &FlowsSpec{Biflow: true}, Pcap: true, RotateS: rotateS,
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Println("JOB", id)
	select {}
}

// startChild starts a Manager in a child process on the data directory
// dir, capturing on lo for the port (with env added to its environment),
// and returns its job's id and the function that SIGKILLs it.
func startChild(t *testing.T, dir string, port int, env ...string) (string, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childDirEnv+"="+dir, childPortEnv+"="+strconv.Itoa(port)), env...)
	cmd.Stderr = testWriter{t}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	killed := false
	kill := func() {
		if killed {
			return
		}
		killed = true
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Errorf("kill child: %v", err)
		}
		cmd.Wait()
	}
	t.Cleanup(kill)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	id, ok := strings.CutPrefix(strings.TrimSpace(line), "JOB ")
	if err != nil || !ok {
		t.Fatalf("child said %q, %v; want JOB <id>", line, err)
	}
	return id, kill
}

// TestRestartCrash kills a daemon running a live job and starts another
// Manager on its data directory: the job resumes, says how long it was
// down, its files stay readable (partial trailing records written at the
// kill are cut off) and counting goes on.
func TestRestartCrash(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	p := newUDPPair(t, "127.0.0.1", "127.0.0.1:0")

	id, kill := startChild(t, dir, p.port)
	jobDir := filepath.Join(dir, "jobs", id)

	p.send(t, 40, 100)
	// Wait until the child has everything on disk: the checkpoint, the
	// counters row and the packets.
	var runningBefore time.Duration // running time at a checkpoint before the kill
	waitFor(t, 10*time.Second, "the child's files", func() (bool, string) {
		st, err := readState(jobDir)
		if err != nil {
			return false, err.Error()
		}
		runningBefore = st.Running
		rows, err := counters.ReadCSV(filepath.Join(jobDir, countersFile), 0, MaxLimit)
		if err != nil {
			return false, err.Error()
		}
		var sum uint64
		for _, r := range rows {
			sum += r.Packets
		}
		n := countPcap(t, filepath.Join(jobDir, pcapFile))
		return st.Totals.Packets == 40 && sum == 40 && n == 40,
			fmt.Sprintf("job.json %d, counters %d, pcap %d packets", st.Totals.Packets, sum, n)
	})
	kill()

	// What a kill in the middle of a write leaves: a partial record at
	// the end of each file.
	for name, tail := range map[string][]byte{
		pcapFile:     {1, 2, 3, 4, 5, 6, 7, 8, 100, 0, 0, 0, 100, 0, 0, 0, 'x', 'y'},
		flowsFile:    {0, 10, 1, 0, 0, 0},
		countersFile: []byte("2024-01-01T00:00:0"),
	} {
		f, err := os.OpenFile(filepath.Join(jobDir, name), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(tail)
		f.Close()
	}
	// The daemon stays down 1.2 s: the restarted Manager's clock runs
	// that much ahead of the wall clock, so the test does not wait it out.
	m := newManager(t, dir, clockAhead(1200*time.Millisecond))
	st := status(t, m, id)
	if st.State != StateRunning || st.Packets != 40 {
		t.Fatalf("after restart: state %s, %d packets; want running, 40", st.State, st.Packets)
	}
	if st.InterruptedS < 1.2 || st.InterruptedS > 10 {
		t.Errorf("InterruptedS = %.3f, want the time down (1.2 s to a few seconds)", st.InterruptedS)
	}
	// The running time goes on from the last checkpoint: not reset, and
	// the time down is not counted as running.
	if st.ElapsedS < runningBefore.Seconds() || st.ElapsedS > runningBefore.Seconds()+1 {
		t.Errorf("ElapsedS = %.3f after the restart, want the %.3f s run before the kill (plus the checkpoint interval at most)",
			st.ElapsedS, runningBefore.Seconds())
	}
	if len(st.Errors) != 0 {
		t.Errorf("Errors = %q after the restart, want none", st.Errors)
	}
	p.send(t, 25, 100)
	waitPackets(t, m, id, 65)
	if err := m.StopJob(id); err != nil {
		t.Fatalf("StopJob() error:\n%+v", err)
	}
	if st := status(t, m, id); len(st.Errors) != 0 || st.InterruptedS < 1.2 {
		t.Errorf("after stop: errors %q, InterruptedS %.3f", st.Errors, st.InterruptedS)
	}
	if n := tcpdumpCount(t, filepath.Join(jobDir, pcapFile), ""); n != 65 {
		t.Errorf("packets.pcap: tcpdump reads %d packets, want 65", n)
	}
	if sum, _ := counterSum(t, m, id); sum != 65 {
		t.Errorf("counters.csv sums to %d packets, want 65", sum)
	}
	// The flow open in the killed daemon was lost with it; the one of
	// the resumed capture is exported at stop.
	var pkts uint64
	for _, f := range ipfixFlows(t, filepath.Join(jobDir, flowsFile)) {
		pkts += f.Packets
	}
	if pkts != 25 {
		t.Errorf("flows.ipfix counts %d packets, want the 25 sent after the restart", pkts)
	}
}

// TestRestartClean stops a Manager in order (SIGTERM) and starts another
// on the same data directory: the live job resumes with every flow of
// before in its results, a done file job keeps its results, and an
// interrupted file job is replayed from the start.
func TestRestartClean(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	p := newUDPPair(t, "127.0.0.1", "127.0.0.1:0")
	a := newManager(t, dir)
	live, err := a.StartJob(Spec{Interface: "lo", Filter: fmt.Sprintf("udp and dst port %d", p.port),
		Counters: &CountersSpec{}, Flows: &FlowsSpec{Biflow: true}, Pcap: true})
	if err != nil {
		t.Fatalf("StartJob(live) error:\n%+v", err)
	}
	done, err := a.StartJob(Spec{Interface: "file:tcpreplay__test.pcap", Flows: &FlowsSpec{}})
	if err != nil {
		t.Fatalf("StartJob(done) error:\n%+v", err)
	}
	replay, err := a.StartJob(Spec{Interface: "file:zeek__icmp-5-pings.pcap", ReplaySpeed: 1, Flows: &FlowsSpec{}})
	if err != nil {
		t.Fatalf("StartJob(replay) error:\n%+v", err)
	}
	waitDone(t, a, done, 10*time.Second)
	doneFlows, err := a.Results(done, KindFlows, 0, MaxLimit)
	if err != nil {
		t.Fatalf("Results(flows) error:\n%+v", err)
	}
	p.send(t, 30, 10)
	waitPackets(t, a, live, 30)
	if err := a.Stop(); err != nil {
		t.Fatalf("Stop() error:\n%+v", err)
	}
	if st := status(t, a, live); st.State != StateRunning || st.FlowsExported != 1 {
		t.Errorf("after Stop: state %s, %d flows exported; want still running, the open flow exported", st.State, st.FlowsExported)
	}
	if _, err := a.StartJob(Spec{Interface: "lo"}); err == nil {
		t.Errorf("StartJob() after Stop() succeeded")
	}
	b := newManager(t, dir, clockAhead(300*time.Millisecond)) // down 0.3 s
	st := status(t, b, live)
	if st.State != StateRunning || st.Packets != 30 || st.InterruptedS < 0.3 {
		t.Fatalf("resumed: state %s, %d packets, interrupted %.3f s; want running, 30, >= 0.3", st.State, st.Packets, st.InterruptedS)
	}
	p.send(t, 12, 10)
	waitPackets(t, b, live, 42)
	if err := b.StopJob(live); err != nil {
		t.Fatalf("StopJob() error:\n%+v", err)
	}
	res, err := b.Results(live, KindFlows, 0, 0)
	if err != nil {
		t.Fatalf("Results(flows) error:\n%+v", err)
	}
	if rows := res.([]ipfix.FlowRow); len(rows) != 2 || rows[0].Packets != 30 || rows[1].Packets != 12 {
		t.Errorf("Results(flows) = %+v, want the flow before the restart (30) and after (12)", rows)
	}
	if n := tcpdumpCount(t, filepath.Join(dir, "jobs", live, pcapFile), ""); n != 42 {
		t.Errorf("packets.pcap has %d packets, want 42", n)
	}
	if sum, _ := counterSum(t, b, live); sum != 42 {
		t.Errorf("counters sum to %d, want 42", sum)
	}

	// The done job's flows are read back from flows.ipfix.
	got, err := b.Results(done, KindFlows, 0, MaxLimit)
	if err != nil {
		t.Fatalf("Results(flows) error:\n%+v", err)
	}
	if g, w := fmt.Sprint(got), fmt.Sprint(doneFlows); g != w {
		t.Errorf("flows after restart differ:\n got %s\nwant %s", g, w)
	}
	// The interrupted replay runs again from the start, to the end.
	st = waitDone(t, b, replay, 10*time.Second)
	if st.Packets != 10 || st.Progress != 100 || st.InterruptedS <= 0 {
		t.Errorf("replayed again: %d packets, progress %v, interrupted %v; want 10, 100, > 0", st.Packets, st.Progress, st.InterruptedS)
	}
}

// TestRestartSealedKey: job.json holds the key of a job that may run
// again only sealed under DataDir/seal.key; a restarted Manager opens it
// and replays with it; once done, the key is gone from job.json.
func TestRestartSealedKey(t *testing.T) {
	dir := t.TempDir()
	key := []byte("0123456789abcdef0123456789ABCDEF")
	a := newManager(t, dir)
	id, err := a.StartJob(Spec{Interface: "file:zeek__icmp-5-pings.pcap", ReplaySpeed: 1, Key: key, Flows: &FlowsSpec{}})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	if err := a.Stop(); err != nil {
		t.Fatalf("Stop() error:\n%+v", err)
	}
	state := filepath.Join(dir, "jobs", id, stateFile)
	raw, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	const keyJSON = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlBQkNERUY=" // key as encoding/json writes it
	if strings.Contains(string(raw), keyJSON) || !strings.Contains(string(raw), `"sealed_key"`) {
		t.Fatalf("job.json of a stopped job, want the key sealed only:\n%s", raw)
	}
	b := newManager(t, dir)
	b.mu.Lock()
	j := b.jobs[id]
	b.mu.Unlock()
	j.mu.Lock()
	got := string(j.p.Spec.Key)
	j.mu.Unlock()
	if got != string(key) {
		t.Errorf("resumed job's key %q, want the original", got)
	}
	waitDone(t, b, id, 10*time.Second)
	waitFor(t, 10*time.Second, "job.json without any key", func() (bool, string) {
		raw, err := os.ReadFile(state)
		return err == nil && !strings.Contains(string(raw), keyJSON) && !strings.Contains(string(raw), `"sealed_key"`) &&
			!strings.Contains(string(raw), `"key"`), string(raw)
	})
}
