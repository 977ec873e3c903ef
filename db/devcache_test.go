package db

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestGetDeviceKept: a device read again while no device write happened
// is the database's, every kind of device write is seen at once, and a
// caller's changes to its copy stay its own.
func TestGetDeviceKept(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	same := func(step, name string) Device {
		t.Helper()
		got, err := d.GetDevice(ctx, name)
		want, werr := deviceByName(ctx, d.sql, name)
		if (err == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: kept %+v (%v), database %+v (%v)", step, got, err, want, werr)
		}
		return got
	}
	if _, err := d.GetDevice(ctx, "tap"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before its creation: %v", err)
	}
	if err := d.CreateDevice(ctx, Device{Name: "tap", Hostname: "127.0.0.1", Port: 9, Token: "t",
		Interfaces: []string{"lo"}, Capabilities: []byte("<value/>"), Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	first := same("created", "tap")
	first.Interfaces[0], first.Capabilities[0] = "mine", 'X'
	same("after the caller changed its copy", "tap")
	if _, err := d.UpdateDevice(ctx, "tap", func(x *Device) error { x.Location = "rack 2"; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := same("updated", "tap"); got.Location != "rack 2" {
		t.Fatalf("location %q after the update", got.Location)
	}
	if err := d.SetDeviceContacts(ctx, []DeviceContact{{Name: "tap", Reachable: true, Capabilities: []byte("<value>2</value>"),
		LastSeen: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if got := same("contacted", "tap"); !got.Reachable {
		t.Fatal("not reachable after the contact")
	}
	if _, err := d.DeleteDevice(ctx, "tap"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetDevice(ctx, "tap"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after its deletion: %v, want not found", err)
	}
}
