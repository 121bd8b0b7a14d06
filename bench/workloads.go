package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// workloadInfo describes a workload for the report.
var workloadInfo = map[string]string{
	"write16": "sysbench oltp_write_only, 16 clients",
	"write1":  "sysbench oltp_write_only, 1 client",
	"insert":  "sysbench oltp_insert, 16 clients",
	"hotspot": "16 clients, 2 row updates per transaction, 90% of them on 8 rows of sbtest1",
	"bigtxn":  "large transactions (insert, update, delete of --big-rows rows each), one client",
	"ddl":     "sysbench oltp_write_only, 16 clients, plus a DDL statement every 200 ms",
}

// backlog is what one workload left on the source: every transaction after the initial data up to end.
type backlog struct {
	workload string
	end      gtidPos
	txns     int64
	relay    string // mtreplica's relay log holding the backlog (a copy per run is applied), "" if not filled
	relayErr error  // why the relay log could not be filled
}

// generate runs workload name on the source (which holds exactly the initial data) and returns the backlog.
// Replication is not running meanwhile: nothing competes with the source.
func (b *bench) generate(ctx context.Context, name string) (*backlog, error) {
	src := b.srv.source
	want := int64(b.c.txns)
	if name == "bigtxn" {
		want = int64(b.c.bigTxns)
	}
	b.prog.start("backlog "+name+" on the source", want)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // follow the source's position for the progress line
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			if p, err := gtidPosOf(ctx, src, "@@GLOBAL.gtid_binlog_pos"); err == nil {
				b.prog.set(p.txnsSince(b.srv.basePos))
			}
		}
	}()
	started := time.Now()
	err := b.runWorkload(ctx, name)
	close(stop)
	wg.Wait()
	b.prog.finish()
	if err != nil {
		return nil, fmt.Errorf("workload %s: %w", name, err)
	}
	end, err := gtidPosOf(ctx, src, "@@GLOBAL.gtid_binlog_pos")
	if err != nil {
		return nil, err
	}
	bl := &backlog{workload: name, end: end, txns: end.txnsSince(b.srv.basePos)}
	el := time.Since(started).Seconds()
	b.prog.logf("backlog %s: %d transactions written on the source in %.1fs (%.0f txn/s); source at %s",
		name, bl.txns, el, float64(bl.txns)/el, end)
	return bl, nil
}

func (b *bench) runWorkload(ctx context.Context, name string) error {
	n := b.c.txns
	switch name {
	case "write16":
		return b.sysbench(ctx, "oltp_write_only", 16, n, 0, 0)
	case "write1":
		return b.sysbench(ctx, "oltp_write_only", 1, n, 0, 0)
	case "insert":
		return b.sysbench(ctx, "oltp_insert", 16, n, 0, 0)
	case "hotspot":
		return hotspot(ctx, b.srv.source, 16, n, b.c.tableSize)
	case "bigtxn":
		return bigTransactions(ctx, b.srv.source, b.c.bigTxns, b.c.bigRows)
	case "ddl":
		return b.withDDL(ctx, func(ctx context.Context) error { return b.sysbench(ctx, "oltp_write_only", 16, n, 0, 0) })
	}
	return fmt.Errorf("unknown workload %q", name)
}

// sysbench runs a sysbench OLTP script on the source: events transactions in total (0: no limit), for seconds
// (0: no limit), at rate transactions/s (0: unthrottled).
func (b *bench) sysbench(ctx context.Context, script string, threads, events, seconds, rate int) error {
	args := []string{script,
		"--tables=" + strconv.Itoa(b.c.tables),
		"--table-size=" + strconv.Itoa(b.c.tableSize),
		"--threads=" + strconv.Itoa(threads),
		"--events=" + strconv.Itoa(events),
		"--time=" + strconv.Itoa(seconds),
		"--rate=" + strconv.Itoa(rate),
		"--report-interval=0",
		"run",
	}
	out, err := mariadbtest.Sysbench(ctx, b.srv.source, "sbtest", args...)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}

// hotspot runs txns transactions from clients connections, each updating two rows of sbtest1; each row is one of
// 8 hot rows with probability 0.9. Rows are locked in key order, and deadlocks or lock-wait timeouts are retried,
// so exactly txns transactions commit.
func hotspot(ctx context.Context, src *mariadbtest.Server, clients, txns, tableSize int) error {
	var left atomic.Int64
	left.Store(int64(txns))
	pick := func(r *rand.Rand) int {
		if r.IntN(10) < 9 {
			return 1 + r.IntN(8)
		}
		return 1 + r.IntN(tableSize)
	}
	return parallel(ctx, clients, func(ctx context.Context, i int) error {
		c, err := src.ConnAs(ctx, "root", "", "sbtest")
		if err != nil {
			return err
		}
		defer c.Close()
		r := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
		for left.Add(-1) >= 0 {
			a, z := pick(r), pick(r)
			if a > z {
				a, z = z, a
			}
			stmts := []string{"BEGIN", fmt.Sprintf("UPDATE sbtest1 SET k = k + 1 WHERE id = %d", a)}
			if z != a {
				stmts = append(stmts, fmt.Sprintf("UPDATE sbtest1 SET c = '%d-%016x' WHERE id = %d", i, r.Uint64(), z))
			}
			stmts = append(stmts, "COMMIT")
			if err := execRetry(ctx, c, stmts); err != nil {
				return err
			}
		}
		return nil
	})
}

// bigTransactions commits n transactions of rows rows each into bench.bulk, cycling insert, update, delete.
func bigTransactions(ctx context.Context, src *mariadbtest.Server, n, rows int) error {
	c, err := src.ConnAs(ctx, "root", "", "bench") // seq_1_to_N resolves in the current database
	if err != nil {
		return err
	}
	defer c.Close()
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var stmt string
		switch i % 3 {
		case 0:
			// seq_1_to_N is MariaDB's built-in SEQUENCE engine.
			stmt = fmt.Sprintf("INSERT INTO bench.bulk (k, c, pad) SELECT seq, MD5(seq + %d), 'big' FROM seq_1_to_%d", i, rows)
		case 1:
			maxID, err := queryString(c, "SELECT COALESCE(MAX(id), 0) FROM bench.bulk")
			if err != nil {
				return err
			}
			stmt = fmt.Sprintf("UPDATE bench.bulk SET k = k + 1, c = MD5(CONCAT(c, %d)) WHERE id > %s - %d", i, maxID, rows)
		default:
			stmt = fmt.Sprintf("DELETE FROM bench.bulk ORDER BY id LIMIT %d", rows)
		}
		if err := execRetry(ctx, c, []string{"BEGIN", stmt, "COMMIT"}); err != nil {
			return err
		}
	}
	return nil
}

// withDDL runs load while another connection runs a DDL statement every 200 ms: tables created, altered and
// dropped in the bench schema, and a column added to and dropped from the sysbench tables.
func (b *bench) withDDL(ctx context.Context, load func(context.Context) error) error {
	c, err := b.srv.source.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	ddlCtx, stop := context.WithCancel(ctx)
	ddlErr := make(chan error, 1)
	go func() {
		cycle := func(k int) []string {
			t := fmt.Sprintf("bench.ddl_%d", k)
			sb := fmt.Sprintf("sbtest.sbtest%d", 1+k%b.c.tables)
			return []string{
				"CREATE TABLE " + t + " (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(32) NOT NULL, n INT)",
				"INSERT INTO " + t + " (v, n) VALUES ('a', 1), ('b', 2), ('c', NULL)",
				"ALTER TABLE " + sb + " ADD COLUMN ddl_extra INT NOT NULL DEFAULT 7",
				"ALTER TABLE " + t + " ADD INDEX v_idx (v), ADD COLUMN w DATETIME(3) NULL",
				"ALTER TABLE " + sb + " DROP COLUMN ddl_extra",
				"CREATE INDEX n_idx ON " + t + " (n)",
				fmt.Sprintf("DROP TABLE IF EXISTS bench.`ddl_%d`", k-1), // the previous cycle's table (none before the first)
			}
		}
		for k := 0; ; k++ {
			for _, q := range cycle(k) {
				select {
				case <-ddlCtx.Done():
					ddlErr <- nil
					return
				case <-time.After(200 * time.Millisecond):
				}
				if _, err := c.Execute(q); err != nil {
					ddlErr <- fmt.Errorf("DDL %q: %w", q, err)
					return
				}
			}
		}
	}()
	err = load(ctx)
	stop()
	if derr := <-ddlErr; derr != nil && err == nil {
		err = derr
	}
	return err
}

// execRetry runs stmts as one transaction on c, retrying the whole of it after a deadlock or lock-wait timeout.
func execRetry(ctx context.Context, c *client.Conn, stmts []string) error {
	for attempt := 0; ; attempt++ {
		var err error
		for _, q := range stmts {
			var r *mysql.Result
			if r, err = c.Execute(q); err != nil {
				break
			}
			r.Close()
		}
		if err == nil {
			return nil
		}
		var myErr *mysql.MyError
		retry := errors.As(err, &myErr) && (myErr.Code == 1213 || myErr.Code == 1205)
		if r, rerr := c.Execute("ROLLBACK"); rerr == nil {
			r.Close()
		}
		if !retry || attempt >= 100 || ctx.Err() != nil {
			return fmt.Errorf("transaction %q: %w", stmts, err)
		}
	}
}

// parallel runs fn(ctx, i) for i in [0, n) concurrently; the first error cancels the others and is returned.
func parallel(ctx context.Context, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			err := fn(ctx, i)
			if err != nil {
				cancel()
			}
			errs <- err
		}()
	}
	var first error
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
