package mtreplica

import (
	"context"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/internal/gtid"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// TestProgressTableMigration: a progress table written before rows stood for
// runs of transactions (no first_seq column) gains the column on start, keeps
// its rows, and range rows then load as intervals.
func TestProgressTableMigration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dst := mariadbtest.Start(t, mariadbtest.Options{NoBinlog: true})
	if err := dst.Exec(ctx,
		"CREATE DATABASE mtreplica",
		`CREATE TABLE mtreplica.applied_transactions (
  channel VARCHAR(64) NOT NULL, stream VARCHAR(100) NOT NULL, seq BIGINT UNSIGNED NOT NULL,
  server_id INT UNSIGNED NOT NULL DEFAULT 0, source_file VARCHAR(255) NOT NULL DEFAULT '',
  source_pos BIGINT UNSIGNED NOT NULL DEFAULT 0, state ENUM('applied','ddl-pending') NOT NULL DEFAULT 'applied',
  applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (channel, stream, seq)) ENGINE=InnoDB`,
		"INSERT INTO mtreplica.applied_transactions (channel, stream, seq, server_id) VALUES ('', '0', 5, 1), ('', '0', 6, 1)",
	); err != nil {
		t.Fatal(err)
	}
	c, err := dst.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := applier.Progress{Schema: "mtreplica"}
	for range 2 { // the second time finds the column there
		if err := p.Ensure(c); err != nil {
			t.Fatalf("Ensure on a table without first_seq: %v", err)
		}
	}
	if err := dst.Exec(ctx, "INSERT INTO mtreplica.applied_transactions (channel, stream, seq, first_seq, server_id) VALUES ('', '0', 20, 10, 2)"); err != nil {
		t.Fatal(err)
	}
	ex, err := p.Load(c, gtid.MariaDB)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{5, 6, 10, 15, 20} {
		if !ex.Set.Contains(gtid.GTID{Stream: "0", Seq: seq}) {
			t.Fatalf("executed set %s lacks seq %d (want 5-6 and 10-20)", ex.Set, seq)
		}
	}
	for _, seq := range []uint64{1, 4, 7, 9, 21} {
		if ex.Set.Contains(gtid.GTID{Stream: "0", Seq: seq}) {
			t.Fatalf("executed set %s holds seq %d (want 5-6 and 10-20)", ex.Set, seq)
		}
	}
}
