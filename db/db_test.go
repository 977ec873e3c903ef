package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// at returns the default configuration of the database at path.
func at(path string) Configuration {
	c := DefaultConfiguration()
	c.Path = path
	return c
}

func open(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gims.db")
	d, err := Open(context.Background(), at(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

func TestOpenMigratesAndReopens(t *testing.T) {
	ctx := context.Background()
	d, path := open(t)
	var v int
	if err := d.sql.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion() {
		t.Fatalf("user_version = %d (%v), want %d", v, err, SchemaVersion())
	}
	var fk int
	if err := d.sql.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d (%v), want 1", fk, err)
	}
	if err := d.CreateUser(ctx, User{Name: "ann", Role: "admin", PasswordHash: "h", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d2, err := Open(ctx, at(path))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer d2.Close()
	if _, err := d2.GetUser(ctx, "ann"); err != nil {
		t.Fatalf("user lost on reopen: %v", err)
	}
	// A database from a newer program is refused.
	if _, err := d2.sql.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	d2.Close()
	if _, err := Open(ctx, at(path)); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: %v, want a 'newer' error", err)
	}
}

func TestOpenInvalidConfiguration(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Configuration)
		want string
	}{
		{"no path", func(c *Configuration) { c.Path = "" },
			"invalid database configuration: Path must be set (the SQLite file)"},
		{"zero busy timeout", func(c *Configuration) { c.BusyTimeout = 0 },
			"invalid database configuration: BusyTimeout must be positive, got 0s"},
		{"negative connections", func(c *Configuration) { c.MaxOpenConns = -1 },
			"invalid database configuration: MaxOpenConns must be positive, got -1"},
		{"zero checkpoint interval", func(c *Configuration) { c.CheckpointInterval = 0 },
			"invalid database configuration: CheckpointInterval must be positive, got 0s"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			cfg := at(filepath.Join(t.TempDir(), "gims.db"))
			tc.mod(&cfg)
			if _, err := Open(context.Background(), cfg); err == nil || err.Error() != tc.want {
				t.Errorf("Open() error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	for _, u := range []User{{Name: "ann", Role: "admin"}, {Name: "bob", Role: "experimenter"}} {
		u.PasswordHash, u.Created = "hash-"+u.Name, time.Now()
		if err := d.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.CreateUser(ctx, User{Name: "bob", Role: "admin", Created: time.Now()}); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate user: %v, want ErrConflict", err)
	}
	if err := d.CreateUser(ctx, User{Name: "eve", Role: "root", Created: time.Now()}); err == nil {
		t.Error("role root accepted")
	}
	if _, err := d.DeleteUser(ctx, "ann"); !errors.Is(err, ErrLastAdmin) || !errors.Is(err, ErrConflict) {
		t.Errorf("delete last admin: %v, want ErrLastAdmin", err)
	}
	got, err := d.DeleteUser(ctx, "bob")
	if err != nil || got.Name != "bob" || got.PasswordHash != "hash-bob" {
		t.Errorf("DeleteUser = %+v, %v", got, err)
	}
	if _, err := d.GetUser(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted user: %v, want ErrNotFound", err)
	}
	list, err := d.ListUsers(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "ann" {
		t.Errorf("ListUsers = %+v, %v", list, err)
	}
}

func TestDevicesAndExperiments(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	dev := Device{Name: "tap1", Hostname: "127.0.0.1", Port: 8081, Token: "t", Interfaces: []string{"lo", "file:a.pcap"},
		Capabilities: []byte("<value><struct></struct></value>"), Created: time.Now()}
	if err := d.CreateDevice(ctx, dev); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateDevice(ctx, dev); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate device: %v", err)
	}
	got, err := d.GetDevice(ctx, "tap1")
	if err != nil || strings.Join(got.Interfaces, ",") != "lo,file:a.pcap" || string(got.Capabilities) != string(dev.Capabilities) {
		t.Fatalf("GetDevice = %+v, %v", got, err)
	}
	seen := time.UnixMilli(time.Now().UnixMilli()).UTC()
	if _, err := d.UpdateDevice(ctx, "tap1", func(x *Device) error { x.Reachable, x.LastSeen = true, seen; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ = d.GetDevice(ctx, "tap1"); !got.Reachable || !got.LastSeen.Equal(seen) {
		t.Errorf("after update: reachable %v last_seen %v, want true %v", got.Reachable, got.LastSeen, seen)
	}

	e := Experiment{Name: "x", Owner: "bob", State: "instantiated", Created: time.Now(),
		Devices: []Pairing{{Device: "tap1", Interface: "lo"}, {Device: "tap1", Interface: "file:a.pcap"}}}
	id, err := d.CreateExperiment(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateExperiment(ctx, e); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate experiment name: %v", err)
	}
	// A failing update changes nothing.
	boom := errors.New("boom")
	if _, err := d.UpdateExperiment(ctx, id, "bob", func(x *Experiment) error { x.State = "running"; return boom }); !errors.Is(err, boom) {
		t.Fatalf("update error: %v", err)
	}
	for _, step := range []struct{ to, job string }{{"configured", ""}, {"configured", ""}, {"running", "j1"}} {
		if _, err := d.UpdateExperiment(ctx, id, "bob", func(x *Experiment) error {
			x.State = step.to
			for i := range x.Devices {
				x.Devices[i].Job = step.job
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	got2, err := d.GetExperiment(ctx, id)
	if err != nil || got2.State != "running" || len(got2.Devices) != 2 || got2.Devices[1].Job != "j1" {
		t.Fatalf("GetExperiment = %+v, %v", got2, err)
	}
	tr, err := d.Transitions(ctx, id)
	var seq []string
	for _, x := range tr {
		seq = append(seq, x.From+">"+x.To)
	}
	if want := ">instantiated instantiated>configured configured>configured configured>running"; strings.Join(seq, " ") != want || err != nil {
		t.Errorf("transitions = %q (%v), want %q", strings.Join(seq, " "), err, want)
	}
	if _, err := d.DeleteDevice(ctx, "tap1"); !errors.Is(err, ErrInUse) {
		t.Errorf("delete device in use: %v, want ErrInUse", err)
	}
	if _, err := d.UpdateExperiment(ctx, id, "bob", func(x *Experiment) error {
		x.State, x.Devices[1].StopPending = "done", true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A stop pending on one pairing is stored with the transition, read by
	// both readers, and cleared alone.
	if list, err := d.ListExperiments(ctx, "", "done"); err != nil || len(list) != 1 || list[0].Devices[0].StopPending || !list[0].Devices[1].StopPending {
		t.Errorf("ListExperiments after a pending stop = %+v, %v", list, err)
	}
	if err := d.ClearStopPending(ctx, id, 1); err != nil {
		t.Fatal(err)
	}
	if got, err := d.GetExperiment(ctx, id); err != nil || got.Devices[1].StopPending {
		t.Errorf("after ClearStopPending: %+v, %v", got.Devices, err)
	}
	if del, err := d.DeleteDevice(ctx, "tap1"); err != nil || del.Token != "t" {
		t.Errorf("delete device: %+v, %v", del, err)
	}
	counts, err := d.CountExperiments(ctx)
	if err != nil || counts["done"] != 1 {
		t.Errorf("CountExperiments = %v, %v", counts, err)
	}
	if list, err := d.ListExperiments(ctx, "ann"); err != nil || len(list) != 0 {
		t.Errorf("ListExperiments(ann) = %v, %v", list, err)
	}
	if list, err := d.ListExperiments(ctx, "", "done"); err != nil || len(list) != 1 {
		t.Errorf("ListExperiments(done) = %v, %v", list, err)
	}
	if err := d.PutResultFile(ctx, id, ResultFile{Position: 1, Name: "flows.ipfix", Size: 10, Path: "/x", Pulled: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := d.PutResultFile(ctx, id, ResultFile{Position: 1, Name: "flows.ipfix", Size: 20, Path: "/x", Pulled: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if files, err := d.ResultFiles(ctx, id); err != nil || len(files) != 1 || files[0].Size != 20 {
		t.Errorf("ResultFiles = %+v, %v", files, err)
	}
}

// TestConcurrentWriters hammers the store from many goroutines, as
// concurrent API calls do: none may fail with "database is locked".
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	id, err := d.CreateExperiment(ctx, Experiment{Name: "load", Owner: "bob", State: "running", Created: time.Now(),
		Devices: []Pairing{{Device: "d", Interface: "lo"}}})
	if err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				var err error
				switch (w + r) % 4 {
				case 0:
					_, err = d.UpdateExperiment(ctx, id, "", func(x *Experiment) error { x.RunTime += time.Millisecond; return nil })
				case 1:
					err = d.SetPairingStatus(ctx, id, 0, fmt.Sprintf(`{"packets":%d}`, r), time.Now())
				case 2:
					_, err = d.GetExperiment(ctx, id)
				case 3:
					err = d.CreateUser(ctx, User{Name: fmt.Sprintf("u%d-%d", w, r), Role: "experimenter", Created: time.Now()})
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent call failed: %v", err)
	}
	e, err := d.GetExperiment(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Duration(workers*rounds/4) * time.Millisecond; e.RunTime != want {
		t.Errorf("RunTime = %v after %d increments, want %v (lost updates)", e.RunTime, workers*rounds/4, want)
	}
}

// TestFileModes is issue 20 finding 7: the database holds the device
// tokens; it, -wal and -shm are created 0600, and an existing database
// the group or others could read is made 0600 with a warning.
func TestFileModes(t *testing.T) {
	ctx := context.Background()
	old := syscall.Umask(0o022) // the usual umask, whatever the test runner's
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "gims.db")
	d, err := Open(ctx, at(path))
	if err != nil {
		t.Fatal(err)
	}
	// A write, so that the -wal holds something.
	if err := d.CreateUser(ctx, User{Name: "ann", Role: "admin", PasswordHash: "h", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	modes := func() map[string]os.FileMode {
		out := map[string]os.FileMode{}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			fi, err := os.Stat(path + suffix)
			if err != nil {
				t.Fatalf("%s: %v", path+suffix, err)
			}
			out[suffix] = fi.Mode().Perm()
		}
		return out
	}
	for suffix, mode := range modes() {
		if mode != 0o600 {
			t.Errorf("gims.db%s created with mode %04o, want 0600", suffix, mode)
		}
	}
	d.Close()
	// An older version's files, 0644: fixed at the next Open, with a
	// warning naming each.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Chmod(path+suffix, 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	var logs strings.Builder
	cfg := at(path)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	d, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for suffix, mode := range modes() {
		if mode != 0o600 {
			t.Errorf("gims.db%s left with mode %04o after Open, want 0600", suffix, mode)
		}
	}
	if !strings.Contains(logs.String(), "made private") || !strings.Contains(logs.String(), "old_mode=0644") {
		t.Errorf("no warning about the fixed modes:\n%s", logs.String())
	}
}

// TestPolicyMigration checks that the device policy migration gives the
// devices stored before it the policy "" (the default policy, SPEC §9),
// and that a policy is stored and read back.
func TestPolicyMigration(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	var step string
	for _, m := range migrations() {
		if strings.Contains(m, "ADD COLUMN policy") {
			step = m
		}
	}
	if step == "" {
		t.Fatal("no migration adds devices.policy")
	}
	// The table as it was before the step, with a device in it.
	if _, err := d.sql.Exec(`ALTER TABLE devices DROP COLUMN policy`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.sql.Exec(`INSERT INTO devices (name, location, type, hostname, port, description, token, interfaces,
		pending, reachable, last_error, created) VALUES ('old', '', '', 'h', 1, '', 't', '', 0, 0, '', 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.sql.Exec(step); err != nil {
		t.Fatal(err)
	}
	if dev, err := d.GetDevice(ctx, "old"); err != nil || dev.Policy != "" {
		t.Errorf("a device stored before policies: %q, %v; want the default policy \"\"", dev.Policy, err)
	}
	const pol = `{"users":["alice"]}`
	if err := d.CreateDevice(ctx, Device{Name: "new", Hostname: "h", Port: 1, Token: "t", Created: time.Now(), Policy: pol}); err != nil {
		t.Fatal(err)
	}
	if dev, err := d.GetDevice(ctx, "new"); err != nil || dev.Policy != pol {
		t.Errorf("stored policy %q, %v; want %q", dev.Policy, err, pol)
	}
}

// TestSetDeviceContacts: one transaction stores many devices' contacts;
// a device that did not answer keeps its capabilities and last_seen.
func TestSetDeviceContacts(t *testing.T) {
	d, _ := open(t)
	ctx := context.Background()
	seen := time.UnixMilli(1_700_000_000_000).UTC()
	for _, name := range []string{"up", "down"} {
		dev := Device{Name: name, Hostname: "127.0.0.1", Port: 8081, Token: "t", Capabilities: []byte("<old/>"),
			Reachable: true, LastSeen: seen, Created: seen}
		if err := d.CreateDevice(ctx, dev); err != nil {
			t.Fatal(err)
		}
	}
	later := seen.Add(time.Minute)
	v := d.ExperimentsVersion()
	if err := d.SetDeviceContacts(ctx, []DeviceContact{
		{Name: "up", Reachable: true, Capabilities: []byte("<new/>"), LastSeen: later},
		{Name: "down", Reachable: false, LastError: "device down unreachable"},
		{Name: "deleted meanwhile", Reachable: true, Capabilities: []byte("<x/>"), LastSeen: later},
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		reachable bool
		caps      string
		seen      time.Time
		lastErr   string
	}{
		{"up", true, "<new/>", later, ""},
		{"down", false, "<old/>", seen, "device down unreachable"},
	} {
		got, err := d.GetDevice(ctx, tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if got.Reachable != tc.reachable || string(got.Capabilities) != tc.caps || !got.LastSeen.Equal(tc.seen) ||
			got.LastError != tc.lastErr {
			t.Errorf("%s: reachable %v, capabilities %s, last_seen %v, error %q; want %v, %s, %v, %q", tc.name,
				got.Reachable, got.Capabilities, got.LastSeen, got.LastError, tc.reachable, tc.caps, tc.seen, tc.lastErr)
		}
	}
	if d.ExperimentsVersion() == v {
		t.Error("a transaction left ExperimentsVersion unchanged")
	}
}

// TestOpenPathWithURICharacters opens a database whose folder holds '#'
// and '?': the file is made where the path says, not at a shorter path
// cut where SQLite's URI syntax would end the file name.
func TestOpenPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run #1?x=%41")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfiguration()
	cfg.Path = filepath.Join(dir, "am.db")
	d, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.CreateUser(context.Background(), User{Name: "u", Role: "admin", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(cfg.Path); err != nil || info.Size() == 0 {
		t.Fatalf("database file %s: %v (want it made, not empty)", cfg.Path, err)
	}
}

// TestExperimentVersion checks that a write of one experiment changes
// its version and not another's, and that a write that may change any
// experiment (a device) changes them all.
func TestExperimentVersion(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	if err := d.CreateDevice(ctx, Device{Name: "tap1", Hostname: "127.0.0.1", Port: 8081, Token: "t",
		Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, name := range []string{"a", "b"} {
		id, err := d.CreateExperiment(ctx, Experiment{Name: name, Owner: "bob", State: "instantiated", Created: time.Now(),
			Devices: []Pairing{{Device: "tap1", Interface: "lo"}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	a, b := ids[0], ids[1]
	for _, tc := range []struct {
		pos            string
		write          func() error
		changeA, chanB bool
	}{
		{"#0 update a", func() error {
			_, err := d.UpdateExperiment(ctx, a, "bob", func(x *Experiment) error { x.State = "configured"; return nil })
			return err
		}, true, false},
		{"#1 status of b", func() error {
			return d.SetPairingStatuses(ctx, []PairingStatus{{Experiment: b, Position: 0, Status: "{}", At: time.Now()}})
		}, false, true},
		{"#2 result file of a", func() error {
			return d.PutResultFiles(ctx, a, []ResultFile{{Position: 0, Name: "f", Size: 1, Path: "/x", Pulled: time.Now()}})
		}, true, false},
		{"#3 runs of b", func() error { return d.DeleteRuns(ctx, b) }, false, true},
		{"#4 a device", func() error {
			_, err := d.UpdateDevice(ctx, "tap1", func(x *Device) error { x.Reachable = true; return nil })
			return err
		}, true, true},
		{"#5 a failed update of a", func() error {
			_, err := d.UpdateExperiment(ctx, a, "bob", func(*Experiment) error { return ErrConflict })
			if !errors.Is(err, ErrConflict) {
				return fmt.Errorf("error %v, want ErrConflict", err)
			}
			return nil
		}, false, false},
		{"#6 delete b", func() error { return d.DeleteExperiment(ctx, b) }, false, true},
	} {
		va, vb, all := d.ExperimentVersion(a), d.ExperimentVersion(b), d.ExperimentsVersion()
		if err := tc.write(); err != nil {
			t.Fatalf("%s: %v", tc.pos, err)
		}
		if got := d.ExperimentVersion(a) != va; got != tc.changeA {
			t.Errorf("%s: version of a changed %v, want %v", tc.pos, got, tc.changeA)
		}
		if got := d.ExperimentVersion(b) != vb; got != tc.chanB {
			t.Errorf("%s: version of b changed %v, want %v", tc.pos, got, tc.chanB)
		}
		if got := d.ExperimentsVersion() != all; got != (tc.changeA || tc.chanB) {
			t.Errorf("%s: ExperimentsVersion changed %v", tc.pos, got)
		}
	}
}

// TestGroupedWrites queues writes while the write turn is taken, so that
// they are committed together: the ones that succeed are all stored, the
// ones that fail (a constraint, or an error after a statement ran) leave
// nothing, and each gets its own error.
func TestGroupedWrites(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	if _, err := d.exec(ctx, `CREATE TABLE scratch (x INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.exec(ctx, `INSERT INTO scratch (x) VALUES (0)`); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	writes := []struct {
		pos   string
		x     int
		fail  bool // an error after the insert ran
		stays bool
	}{
		{"#0", 1, false, true},
		{"#1", 0, false, false}, // the primary key is taken
		{"#2", 2, true, false},
		{"#3", 3, false, true},
		{"#4", 4, true, false},
		{"#5", 5, false, true},
	}
	errs := groupWrites(d, len(writes), func(i int) (context.Context, func(context.Context, *sql.Tx) error) {
		w := writes[i]
		return ctx, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO scratch (x) VALUES (?)`, w.x); err != nil {
				return err
			}
			if w.fail {
				return boom
			}
			return nil
		}
	})
	for i, w := range writes {
		if (errs[i] == nil) != w.stays {
			t.Errorf("%s: error %v, want an error %v", w.pos, errs[i], !w.stays)
		}
		if w.fail && !errors.Is(errs[i], boom) {
			t.Errorf("%s: error %v, want boom", w.pos, errs[i])
		}
		var n int
		if err := d.sql.QueryRowContext(ctx, `SELECT count(*) FROM scratch WHERE x = ?`, w.x).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 1, false: 0}[w.stays || w.x == 0]; n != want {
			t.Errorf("%s: %d rows of x = %d, want %d", w.pos, n, w.x, want)
		}
	}
}

// groupWrites queues n writes while the write turn is held, so that they
// are committed as one group, and returns each one's error. write gives
// the i-th write's context and function.
func groupWrites(d *DB, n int, write func(i int) (context.Context, func(context.Context, *sql.Tx) error)) []error {
	d.writeSem <- struct{}{} // the turn is taken: the writes queue
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ctx, fn := write(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.grouped(ctx, fn)
		}()
	}
	for queued := 0; queued < n; {
		runtime.Gosched()
		d.queueMu.Lock()
		queued = len(d.queue)
		d.queueMu.Unlock()
	}
	<-d.writeSem
	wg.Wait()
	return errs
}

// TestGroupedWriteCancelled: a caller that goes away while its write runs
// in a group does not undo the others' writes (the driver interrupts a
// cancelled statement, which rolls back the whole transaction), and a
// caller gone before its turn has its write left out, with its error.
func TestGroupedWriteCancelled(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	if _, err := d.exec(ctx, `CREATE TABLE scratch (x INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	gone, cancelGone := context.WithCancel(ctx)
	cancelGone()
	leaving, leave := context.WithCancel(ctx)
	defer leave()
	writes := []struct {
		ctx   context.Context
		x     int
		first func() // run before the insert
		stays bool
	}{
		{ctx, 1, nil, true},
		{leaving, 2, leave, true}, // cancelled while it runs: its insert is made
		{gone, 3, nil, false},     // cancelled before its turn
		{ctx, 4, nil, true},
	}
	errs := groupWrites(d, len(writes), func(i int) (context.Context, func(context.Context, *sql.Tx) error) {
		w := writes[i]
		return w.ctx, func(ctx context.Context, tx *sql.Tx) error {
			if w.first != nil {
				w.first()
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO scratch (x) VALUES (?)`, w.x)
			return err
		}
	})
	for i, w := range writes {
		if (errs[i] == nil) != w.stays {
			t.Errorf("x = %d: error %v, want an error %v", w.x, errs[i], !w.stays)
		}
		var n int
		if err := d.sql.QueryRowContext(ctx, `SELECT count(*) FROM scratch WHERE x = ?`, w.x).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 1, false: 0}[w.stays]; n != want {
			t.Errorf("x = %d: %d rows, want %d", w.x, n, want)
		}
	}
}

// TestScheduledExperiments: the experiments whose configuration has a
// schedule are listed, in the states asked for, and not the others.
func TestScheduledExperiments(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	if err := d.CreateDevice(ctx, Device{Name: "tap1", Hostname: "127.0.0.1", Port: 8081, Token: "t",
		Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct{ name, state, config string }{
		{"plain", "configured", `{"filter":"udp"}`},
		{"sched", "configured", `{"filter":"udp","schedule":{"start_at":"2026-12-01T00:00:00Z"}}`},
		{"sched-done", "done", `{"schedule":{"start_at":"2026-12-01T00:00:00Z"}}`},
		{"none", "instantiated", ``},
	} {
		if _, err := d.CreateExperiment(ctx, Experiment{Name: e.name, Owner: "bob", State: e.state, Config: e.config,
			Created: time.Now(), Devices: []Pairing{{Device: "tap1", Interface: "lo"}}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.ScheduledExperiments(ctx, "configured", "running", "paused")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "sched" || len(got[0].Devices) != 1 {
		t.Errorf("ScheduledExperiments = %+v, want sched with its pairing", got)
	}
}

// TestNextStartAttempt counts the starts of an experiment through the
// write queue.
func TestNextStartAttempt(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	if err := d.CreateDevice(ctx, Device{Name: "tap1", Hostname: "127.0.0.1", Port: 8081, Token: "t",
		Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	id, err := d.CreateExperiment(ctx, Experiment{Name: "x", Owner: "bob", State: "configured", Created: time.Now(),
		Devices: []Pairing{{Device: "tap1", Interface: "lo"}}})
	if err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 3; want++ {
		if n, err := d.NextStartAttempt(ctx, id); err != nil || n != want {
			t.Errorf("NextStartAttempt = %d, %v; want %d", n, err, want)
		}
	}
	if _, err := d.NextStartAttempt(ctx, id+100); err == nil {
		t.Error("NextStartAttempt of no experiment: no error")
	}
}

// TestWritesDoNotCheckpoint: a write larger than SQLite's automatic
// checkpoint (1,000 pages) stays in the write-ahead log until the
// checkpointer copies it into the database file.
func TestWritesDoNotCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gims.db")
	cfg := at(path)
	cfg.CheckpointInterval = time.Hour // the test checkpoints itself
	d, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.exec(ctx, `CREATE TABLE scratch (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.exec(ctx, `INSERT INTO scratch (b) VALUES (zeroblob(6000000))`); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if n := size(); n > 1<<20 {
		t.Errorf("database file of %d bytes after the write: it was checkpointed by the write", n)
	}
	if err := d.checkpoint(); err != nil {
		t.Fatal(err)
	}
	if n := size(); n < 6000000 {
		t.Errorf("database file of %d bytes after the checkpoint, want the 6 MB written", n)
	}
}
