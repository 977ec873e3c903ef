package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/internal/seal"
	"github.com/gimsproject/gims/transform/cryptopan"
)

// TestOperatorKeys is SPEC §9's operator-held keys through the whole
// system, driven from Python's xmlrpc.client (testdata/keys.py): keys
// made by the admin, listed to the experimenters who may use them, refused
// to others (fault 4 naming the key) and kept from deletion while in use
// (fault 2). Two experiments with the same key, run by a real gims-capd
// on a file: source, give the same anonymized addresses, which are the
// Crypto-PAn images of the trace's under that key; another key gives
// others. The key itself (hex or raw) is in no reply, in neither daemon's
// log, in the audit log, nor in the AM's database in clear.
func TestOperatorKeys(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-keys")
	a := startAM(t)
	a.addDevice(t, "tap1", c)
	for _, u := range []string{"alice", "bob"} {
		a.admin(t, "AddUser", nil, map[string]any{"name": u, "password": u + "-password", "role": "experimenter"})
	}
	cmd := exec.Command("python3", "testdata/keys.py", a.url(adminName, adminPass), a.url("alice", "alice-password"),
		a.url("bob", "bob-password"), "tap1:"+traceIface)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("keys.py: %v\n%s\nAM log:\n%s", err, stderr.String(), a.logText())
	}
	var got struct {
		Fingerprints map[string]string   `json:"fingerprints"`
		Faults       map[string]int      `json:"faults"`
		BobLab       string              `json:"bob_lab_message"`
		InUse        string              `json:"delete_in_use_message"`
		Flows        map[string][]string `json:"flows"`
		IDs          []int64             `json:"ids"`
		Deleted      string              `json:"deleted"`
		AfterDelete  []string            `json:"after_delete"`
		Replies      string              `json:"replies"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("keys.py output %q: %v", out, err)
	}
	wantFaults := map[string]int{"duplicate": 6, "alice_create": 4, "bob_lab": 4, "missing_key": 4, "secret_and_key": 3,
		"alice_delete": 4, "delete_in_use": 2}
	for what, code := range wantFaults {
		if got.Faults[what] != code {
			t.Errorf("fault %s = %d, want %d", what, got.Faults[what], code)
		}
	}
	if !strings.Contains(got.BobLab, `"lab"`) {
		t.Errorf("bob's refusal %q does not name the key", got.BobLab)
	}
	if !strings.Contains(got.InUse, "configured") || !strings.Contains(got.InUse, "experiment "+strconv.FormatInt(got.IDs[0], 10)) {
		t.Errorf("delete-in-use refusal %q does not name the experiments and their state", got.InUse)
	}
	if got.Deleted != "lab" || !slices.Equal(got.AfterDelete, []string{"shared"}) {
		t.Errorf("after the experiments ended: deleted %q, left %v", got.Deleted, got.AfterDelete)
	}

	// The keys, as the AM holds them: sealed in the experiments' records.
	dcfg := db.DefaultConfiguration()
	dcfg.Path = filepath.Join(a.dir, "am.db")
	store, err := db.Open(context.Background(), dcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sealer := seal.New(filepath.Join(a.dir, "data", seal.KeyFile))
	keys := make([][32]byte, len(got.IDs))
	for i, id := range got.IDs {
		e, err := store.GetExperiment(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		k, err := sealer.Open(e.Key)
		if err != nil || len(k) != 32 {
			t.Fatalf("experiment %d's key: %d bytes, %v", id, len(k), err)
		}
		keys[i] = [32]byte(k)
	}
	if keys[0] != keys[1] || keys[0] == keys[2] {
		t.Fatal("the experiments with lab do not share their key, or share it with shared's")
	}
	if cryptopan.Fingerprint(keys[0]) != got.Fingerprints["lab"] || cryptopan.Fingerprint(keys[2]) != got.Fingerprints["shared"] {
		t.Errorf("fingerprints %v do not match the keys the experiments hold", got.Fingerprints)
	}

	// Same key, same mapping; the mapping is Crypto-PAn's under that key.
	f1, f2, f3 := got.Flows[strconv.FormatInt(got.IDs[0], 10)], got.Flows[strconv.FormatInt(got.IDs[1], 10)],
		got.Flows[strconv.FormatInt(got.IDs[2], 10)]
	if len(f1) == 0 || !slices.Equal(f1, f2) {
		t.Errorf("two experiments with key lab gave different flows:\n%v\n%v", f1, f2)
	}
	if slices.Equal(f1, f3) {
		t.Error("keys lab and shared gave the same flows")
	}
	// gopacket does not decode every tunnel the device's decoder knows:
	// most addresses, not all, are checked against their originals.
	originals := traceAddrs(t, trace)
	images := func(key [32]byte) map[string]bool {
		c, err := cryptopan.New(key[:])
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for a := range originals {
			out[c.AnonymizeAddr(a).String()] = true
		}
		return out
	}
	lab, shared := images(keys[0]), images(keys[2])
	for _, tc := range []struct {
		name       string
		flows      []string
		own, other map[string]bool
	}{{"lab", f1, lab, shared}, {"shared", f3, shared, lab}} {
		var addrs, own, other, clear int
		for _, f := range tc.flows {
			for _, addr := range strings.Fields(f) {
				addrs++
				if tc.own[addr] {
					own++
				}
				if tc.other[addr] {
					other++
				}
				if originals[netip.MustParseAddr(addr)] {
					clear++
				}
			}
		}
		if own*10 < addrs*9 || other > 0 || clear > 0 {
			t.Errorf("key %s: of %d flow addresses, %d are images of the trace's under that key (want 90%%+), %d under the other key, %d originals (want none)",
				tc.name, addrs, own, other, clear)
		}
	}

	// The key is nowhere to be read.
	dbFile, err := os.ReadFile(filepath.Join(a.dir, "am.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range [][32]byte{keys[0], keys[2]} {
		h := hex.EncodeToString(k[:])
		for where, text := range map[string]string{"a reply": got.Replies, "the AM log": a.logText(),
			"the device log": c.logText(), "keys.py's stderr": stderr.String()} {
			if strings.Contains(strings.ToLower(text), h) {
				t.Errorf("the key %s… appears in %s", h[:8], where)
			}
		}
		if bytes.Contains(dbFile, k[:]) || bytes.Contains(dbFile, []byte(h)) {
			t.Errorf("the key %s… is in the AM's database in clear", h[:8])
		}
	}
	var audit []auditRow
	a.admin(t, "GetAuditLog", &audit, map[string]any{"limit": 10000})
	raw, _ := json.Marshal(audit)
	for _, k := range keys {
		if bytes.Contains(bytes.ToLower(raw), []byte(hex.EncodeToString(k[:]))) {
			t.Error("the key appears in the audit log")
		}
	}
	var methods []string
	for _, e := range audit {
		if strings.HasSuffix(e.Method, "Key") {
			methods = append(methods, e.User+" "+e.Method+" "+e.Target+" "+strings.SplitN(e.Result, ":", 2)[0])
		}
	}
	slices.Reverse(methods) // oldest first
	want := []string{"admin CreateKey lab ok", "admin CreateKey shared ok", "admin CreateKey lab fault 6",
		"alice CreateKey mine fault 4", "alice DeleteKey lab fault 4", "admin DeleteKey lab fault 2", "admin DeleteKey lab ok"}
	if !slices.Equal(methods, want) {
		t.Errorf("audit log of the key calls:\n%s\nwant\n%s", strings.Join(methods, "\n"), strings.Join(want, "\n"))
	}
}

// traceAddrs returns every IPv4 and IPv6 address of a capture file's
// packets, inner headers included.
func traceAddrs(t *testing.T, path string) map[netip.Addr]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[netip.Addr]bool{}
	add := func(ips ...[]byte) {
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip); ok {
				out[a.Unmap()] = true
			}
		}
	}
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range gopacket.NewPacket(data, r.LinkType(), gopacket.Default).Layers() {
			switch x := l.(type) {
			case *layers.IPv4:
				add(x.SrcIP, x.DstIP)
			case *layers.IPv6:
				add(x.SrcIP, x.DstIP)
			}
		}
	}
}
