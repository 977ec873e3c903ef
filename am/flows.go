package am

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/flowfilter"
	"github.com/gimsproject/gims/flowstore"
)

// QueryFlows answers a flow query over every device of experiment id
// (SPEC §12) from the experiment's flow store, brought up to date first
// with the IPFIX files the AM holds or, for results kept on the devices,
// fetches. A filter that does not parse is ErrInvalid naming its
// position.
func (m *Manager) QueryFlows(ctx context.Context, p Principal, id int64, q amapi.FlowQuery) (amapi.FlowQueryResult, error) {
	e, err := m.experiment(ctx, p, id)
	if err != nil {
		return amapi.FlowQueryResult{}, err
	}
	if q.Offset < 0 || q.Offset > 1<<30 {
		return amapi.FlowQueryResult{}, invalidf("offset must be between 0 and %d, got %d", 1<<30, q.Offset)
	}
	if q.Limit < 0 || q.Limit > amapi.MaxLimit {
		return amapi.FlowQueryResult{}, invalidf("limit must be between 1 and %d, got %d", amapi.MaxLimit, q.Limit)
	}
	if q.Limit == 0 {
		q.Limit = amapi.DefaultLimit
	}
	sq, err := storeQuery(q.Filter, q.From, q.To)
	if err != nil {
		return amapi.FlowQueryResult{}, err
	}
	sq.GroupBy, sq.OrderBy, sq.Limit, sq.Offset = q.GroupBy, q.OrderBy, q.Limit, q.Offset
	st, err := m.openFlows(ctx, &e)
	if err != nil {
		return amapi.FlowQueryResult{}, err
	}
	defer st.Close()
	res, err := st.Query(ctx, sq)
	if err != nil {
		return amapi.FlowQueryResult{}, storeError(err)
	}
	out := amapi.FlowQueryResult{Rows: make([]amapi.FlowQueryRow, 0, len(res.Rows)), Total: res.Total}
	for i := range res.Rows {
		out.Rows = append(out.Rows, queryRow(&res.Rows[i]))
	}
	return out, nil
}

// storeQuery parses a filter and checks the time bounds.
func storeQuery(filter string, from, to time.Time) (flowstore.Query, error) {
	f, err := flowfilter.Parse(filter)
	if err != nil {
		return flowstore.Query{}, invalidf("filter: %v", err)
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return flowstore.Query{}, invalidf("to (%s) is before from (%s)", to.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
	}
	return flowstore.Query{Filter: f, From: from, To: to}, nil
}

// storeError maps the store's errors to the manager's.
func storeError(err error) error {
	if errors.Is(err, flowstore.ErrInvalid) {
		return invalidf("%s", strings.TrimPrefix(err.Error(), flowstore.ErrInvalid.Error()+": "))
	}
	return err
}

// queryRow is a store row as the API shows it.
func queryRow(r *flowstore.Row) amapi.FlowQueryRow {
	out := amapi.FlowQueryRow{Flows: r.Flows, Packets: r.Packets, Bytes: r.Bytes}
	for _, k := range r.Keys {
		switch k {
		case "device":
			out.Device = r.Device
		case "src":
			out.Src = r.Src.String()
		case "dst":
			out.Dst = r.Dst.String()
		case "sport":
			v := int(r.SrcPort)
			out.SrcPort = &v
		case "dport":
			v := int(r.DstPort)
			out.DstPort = &v
		case "proto":
			v := int(r.Proto)
			out.Proto = &v
		}
	}
	if !r.Start.IsZero() {
		out.Interface, out.VLAN = r.Interface, int(r.VLAN)
		out.FwdPackets, out.FwdBytes, out.RevPackets, out.RevBytes = r.FwdPackets, r.FwdBytes, r.RevPackets, r.RevBytes
		out.Start, out.End, out.StartMS, out.EndMS = r.Start, r.End, r.Start.UnixMilli(), r.End.UnixMilli()
		out.EndReason = r.EndReason
	}
	return out
}

// experimentDir is the folder of an experiment's files on the AM.
func (m *Manager) experimentDir(id int64) string {
	return filepath.Join(m.cfg.DataDir, "experiments", strconv.FormatInt(id, 10))
}

// openFlows opens e's flow store and brings it up to date: every IPFIX
// file of every pairing, the AM's copy when it has one, else the
// device's (fetched into the store's cache when it changed). A device
// that cannot be reached leaves its flows as last seen.
func (m *Manager) openFlows(ctx context.Context, e *db.Experiment) (*flowstore.Store, error) {
	dir := m.experimentDir(e.ID)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("unable to open the flow store: %w", err)
	}
	st, err := flowstore.OpenShared(ctx, filepath.Join(dir, "flows.db"), m.flowSnaps)
	if err != nil {
		return nil, err
	}
	for i := range e.Devices {
		pair := &e.Devices[i]
		if pair.Job == "" {
			continue
		}
		if err := m.syncFlows(ctx, st, e, pair); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}

// syncFlows ingests one pairing's IPFIX files.
func (m *Manager) syncFlows(ctx context.Context, st *flowstore.Store, e *db.Experiment, pair *db.Pairing) error {
	src := flowstore.Source{Position: pair.Position, Device: pair.Device, Interface: pair.Interface}
	local, _ := filepath.Glob(filepath.Join(m.pairDir(e.ID, pair.Position), "*.ipfix"))
	if len(local) > 0 || e.ResultsPulled {
		for _, path := range local {
			src.Name = filepath.Base(path)
			if _, err := st.Ingest(ctx, src, path); err != nil {
				return fmt.Errorf("flows of %s: %w", pairName(pair), err)
			}
		}
		return nil
	}
	d, err := m.db.GetDevice(ctx, pair.Device)
	if err != nil {
		return nil
	}
	c, err := m.client(&d)
	if err != nil {
		return nil
	}
	remote, err := c.Files(ctx, pair.Job)
	if err != nil {
		m.log.Debug("flows of an unreachable device left as last seen", "experiment", e.ID, "device", pair.Device, "error", err)
		return nil
	}
	cache := filepath.Join(m.experimentDir(e.ID), "flowcache", strconv.Itoa(pair.Position))
	for _, f := range remote {
		if !validFileName(f.Name) || !strings.HasSuffix(f.Name, ".ipfix") {
			continue
		}
		path := filepath.Join(cache, f.Name)
		if info, err := os.Stat(path); err != nil || info.Size() != f.Size {
			if err := os.MkdirAll(cache, 0o750); err != nil {
				return fmt.Errorf("flows of %s: %w", pairName(pair), err)
			}
			if _, err := m.download(ctx, c, pair.Job, f.Name, path); err != nil {
				m.log.Debug("flows of a device left as last seen", "experiment", e.ID, "device", pair.Device, "error", err)
				continue
			}
		}
		src.Name = f.Name
		if _, err := st.Ingest(ctx, src, path); err != nil {
			return fmt.Errorf("flows of %s: %w", pairName(pair), err)
		}
	}
	return nil
}

// ingestPulled feeds a pulled IPFIX file to the experiment's flow store.
func (m *Manager) ingestPulled(ctx context.Context, id int64, pair *db.Pairing, path string) {
	st, release, err := m.ingests.acquire(ctx, id, m.ingestPath(id))
	if err == nil {
		_, err = st.Ingest(ctx, flowstore.Source{Position: pair.Position, Name: filepath.Base(path),
			Device: pair.Device, Interface: pair.Interface}, path)
		release()
	}
	if err != nil && ctx.Err() == nil {
		m.log.Warn("unable to store pulled flows", "experiment", id, "device", pair.Device, "error", err)
	}
}
