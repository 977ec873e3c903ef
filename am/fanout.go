package am

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/deviceapi"
)

// The AM at scale (SPEC §11: one AM drives 1,000 devices). Calls to
// devices go out at most DeviceConcurrency at a time over kept-alive
// connections (deviceTransport); the clients of the devices are kept, so
// that a call costs neither a database read nor the opening of a sealed
// token; and an experiment's devices are looked up in one read.

// fanOut runs fn(i) for i in [0, n), at most m.cfg.DeviceConcurrency at
// once, and returns when every call has returned.
func (m *Manager) fanOut(n int, fn func(i int)) {
	limit := min(n, m.cfg.DeviceConcurrency)
	if limit <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	next := make(chan int)
	var wg sync.WaitGroup
	wg.Add(limit)
	for range limit {
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// cachedClient is a device's client with what it was made from.
type cachedClient struct {
	key    string
	client *deviceapi.Client
}

// clientKey is what a device's client depends on: a change of address,
// transport or token makes a new one.
func clientKey(d *db.Device) string {
	return d.Hostname + "\x00" + strconv.Itoa(d.Port) + "\x00" + strconv.FormatBool(d.TLS) + "\x00" + d.CertSHA256 +
		"\x00" + d.Token
}

// keptClient returns d's kept client, or makes and keeps one.
func (m *Manager) keptClient(d *db.Device) (*deviceapi.Client, error) {
	key := clientKey(d)
	m.clientMu.Lock()
	c, ok := m.clients[d.Name]
	m.clientMu.Unlock()
	if ok && c.key == key {
		return c.client, nil
	}
	client, err := m.newClient(d)
	if err != nil {
		return nil, err
	}
	m.clientMu.Lock()
	m.clients[d.Name] = cachedClient{key: key, client: client}
	m.clientMu.Unlock()
	return client, nil
}

// forgetClient drops a deleted device's kept client.
func (m *Manager) forgetClient(name string) {
	m.clientMu.Lock()
	delete(m.clients, name)
	m.clientMu.Unlock()
}

// deviceClients returns the clients of e's devices by device name, read
// from the database at once; a device that no longer exists, or whose
// client cannot be made, is in errs instead.
func (m *Manager) deviceClients(ctx context.Context, e *db.Experiment) (map[string]*deviceapi.Client, map[string]error, error) {
	byName := make(map[string]*db.Device, len(e.Devices))
	if len(e.Devices) <= fewDevices {
		// A few point reads cost less than reading every device.
		for i := range e.Devices {
			name := e.Devices[i].Device
			if _, done := byName[name]; done {
				continue
			}
			d, err := m.db.GetDevice(ctx, name)
			if errors.Is(err, db.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			byName[name] = &d
		}
	} else {
		devs, err := m.db.ListDevices(ctx)
		if err != nil {
			return nil, nil, err
		}
		for i := range devs {
			byName[devs[i].Name] = &devs[i]
		}
	}
	clients := make(map[string]*deviceapi.Client, len(e.Devices))
	errs := map[string]error{}
	for i := range e.Devices {
		name := e.Devices[i].Device
		if _, done := clients[name]; done {
			continue
		}
		d, ok := byName[name]
		if !ok {
			errs[name] = deletedDevice(name)
			continue
		}
		c, err := m.keptClient(d)
		if err != nil {
			errs[name] = err
			continue
		}
		clients[name] = c
	}
	return clients, errs, nil
}

// fewDevices is the number of devices up to which deviceClients reads
// them one by one rather than all at once.
const fewDevices = 32

// deletedDevice is the error of a pairing whose device was deleted.
type deletedDevice string

// Error implements error.
func (e deletedDevice) Error() string { return "device " + string(e) + " no longer exists" }
