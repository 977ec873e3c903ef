package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ResultFile is a result file the AM pulled from a device into its data
// folder (storage "remote").
type ResultFile struct {
	// Position is the experiment's pairing the file comes from.
	Position int
	// Name is the device's file name (packets.pcap, flows.ipfix, …).
	Name string
	// Size is the size of the local copy.
	Size int64
	// Path is the local copy's path.
	Path string
	// Pulled is when the copy was last brought up to date.
	Pulled time.Time
}

// PutResultFile records (or updates) the local copy of a result file.
func (d *DB) PutResultFile(ctx context.Context, id int64, f ResultFile) error {
	_, err := d.exec(ctx, `INSERT INTO result_files (experiment, position, name, size, path, pulled)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (experiment, position, name)
		DO UPDATE SET size = excluded.size, path = excluded.path, pulled = excluded.pulled`,
		id, f.Position, f.Name, f.Size, f.Path, f.Pulled.UnixMilli())
	if err != nil {
		return fmt.Errorf("unable to record result file %s of experiment %d: %w", f.Name, id, err)
	}
	return nil
}

// PutResultFiles records (or updates) many local copies in one
// transaction (a pull of an experiment's devices).
func (d *DB) PutResultFiles(ctx context.Context, id int64, files []ResultFile) error {
	if len(files) == 0 {
		return nil
	}
	err := d.txExperiments(ctx, func() []int64 { return []int64{id} }, func(ctx context.Context, tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO result_files (experiment, position, name, size, path, pulled)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (experiment, position, name)
			DO UPDATE SET size = excluded.size, path = excluded.path, pulled = excluded.pulled`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, f := range files {
			if _, err := st.ExecContext(ctx, id, f.Position, f.Name, f.Size, f.Path, f.Pulled.UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("unable to record %d result files of experiment %d: %w", len(files), id, err)
	}
	return nil
}

// ResultFiles returns the local copies of an experiment's result files.
func (d *DB) ResultFiles(ctx context.Context, id int64) ([]ResultFile, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT position, name, size, path, pulled FROM result_files
		WHERE experiment = ? ORDER BY position, name`, id)
	if err != nil {
		return nil, fmt.Errorf("unable to list the result files of experiment %d: %w", id, err)
	}
	defer rows.Close()
	out := []ResultFile{}
	for rows.Next() {
		var (
			f      ResultFile
			pulled int64
		)
		if err := rows.Scan(&f.Position, &f.Name, &f.Size, &f.Path, &pulled); err != nil {
			return nil, fmt.Errorf("unable to list the result files of experiment %d: %w", id, err)
		}
		f.Pulled = time.UnixMilli(pulled).UTC()
		out = append(out, f)
	}
	return out, rows.Err()
}

// DeleteResultFiles forgets the result files of experiment id (the AM
// removed its copies).
func (d *DB) DeleteResultFiles(ctx context.Context, id int64) error {
	if _, err := d.exec(ctx, `DELETE FROM result_files WHERE experiment = ?`, id); err != nil {
		return fmt.Errorf("unable to forget the result files of experiment %d: %w", id, err)
	}
	return nil
}
