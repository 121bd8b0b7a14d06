package applier

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// BenchmarkTransactionRoundTrips measures one sysbench-like transaction (an
// UPDATE, a DELETE, an INSERT and the progress row) sent to a real target as
// one multi-statement packet (what the worker does), against one round trip
// per statement. Relaxed durability, so round trips, not fsyncs, dominate.
//
//	go test -run '^$' -bench TransactionRoundTrips ./applier/
func BenchmarkTransactionRoundTrips(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a MariaDB server")
	}
	srv := mariadbtest.Start(b, mariadbtest.Options{NoBinlog: true})
	ctx := context.Background()
	if err := srv.Exec(ctx, "CREATE DATABASE sb",
		"CREATE TABLE sb.t (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL)",
		"CREATE DATABASE mtreplica"); err != nil {
		b.Fatal(err)
	}
	conn, err := Dial(ctx, TargetOptions{Addr: srv.Addr(), User: "root"})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	p := Progress{Schema: "mtreplica"}
	if err := p.Ensure(conn); err != nil {
		b.Fatal(err)
	}
	stmts := func(i int) []string {
		var rec strings.Builder
		p.appendRecord(&rec, "0", uint64(i+1), 1, "mysql-bin.000001", uint32(i), "applied")
		return []string{
			"BEGIN",
			fmt.Sprintf("UPDATE sb.t SET k = k + 1 WHERE id = %d", i%1000),
			fmt.Sprintf("DELETE FROM sb.t WHERE id = %d", i),
			fmt.Sprintf("INSERT INTO sb.t VALUES (%d, %d, _utf8mb4 X'%x', _utf8mb4 X'%x')", i, i, strings.Repeat("c", 120), strings.Repeat("p", 60)),
			rec.String(),
			"COMMIT",
		}
	}
	run := func(b *testing.B, name string, exec func(i int) error) {
		b.Run(name, func(b *testing.B) {
			if _, err := conn.Execute("DELETE FROM mtreplica.applied_transactions"); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < b.N; i++ {
				if err := exec(i); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txn/s")
		})
	}
	run(b, "packets=1", func(i int) error {
		var failed error
		_, err := conn.ExecuteMultiple(strings.Join(stmts(i), ";"), func(_ *mysql.Result, err error) {
			if err != nil && failed == nil {
				failed = err
			}
		})
		if err != nil {
			return err
		}
		return failed
	})
	run(b, "packets=per-statement", func(i int) error {
		for _, q := range stmts(i) {
			if _, err := conn.Execute(q); err != nil {
				return err
			}
		}
		return nil
	})
}
