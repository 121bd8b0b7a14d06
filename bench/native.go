package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// pollInterval is how often a run checks whether its replica has caught up: the timing resolution of a run.
const pollInterval = 25 * time.Millisecond

// runNative times MariaDB's own replica applying the backlog bl with configuration nc:
//  1. the native target is restored to the initial data (gtid_slave_pos = the base position);
//  2. its I/O thread alone fetches the whole backlog into its relay log (STOP SLAVE SQL_THREAD's state);
//  3. START SLAVE SQL_THREAD starts the clock, which stops when @@gtid_slave_pos reaches the backlog's end;
//  4. the target is compared with the source.
func (b *bench) runNative(ctx context.Context, bl *backlog, nc nativeConfig, rep int) Result {
	res := b.newResult("catch-up", "mariadb", nc.mode, nc.threads, true, bl.workload, rep)
	res.Txns = bl.txns
	dst := b.srv.native
	fail := func(err error) Result { return res.failed(err) }

	if err := restore(ctx, dst, b.srv.targetSnap); err != nil {
		return fail(err)
	}
	if err := dst.Exec(ctx, configureNativeSQL(b.srv.source, b.srv.basePos, nc)...); err != nil {
		return fail(err)
	}
	if err := dst.Exec(ctx, "START SLAVE IO_THREAD"); err != nil {
		return fail(err)
	}
	b.prog.start(res.label()+": I/O thread fetching", bl.txns)
	if err := waitNativeIOPos(ctx, dst, bl.end, b.c.timeout, b.srv.basePos, b.prog.set); err != nil {
		b.prog.finish()
		return fail(fmt.Errorf("fill the relay log: %w", err))
	}
	b.prog.finish()

	b.prog.start(res.label(), bl.txns)
	counts0, countsErr := readCommitCounts(ctx, dst)
	targetCPU0, cpuErr := processCPU(dst.PID)
	started := time.Now()
	if err := dst.Exec(ctx, "START SLAVE SQL_THREAD"); err != nil {
		b.prog.finish()
		return fail(err)
	}
	err := waitNativeSQLPos(ctx, dst, bl.end, b.c.timeout, func(p gtidPos) {
		n := p.txnsSince(b.srv.basePos)
		if n > 0 && res.FirstApplySeconds == 0 {
			res.FirstApplySeconds = time.Since(started).Seconds()
		}
		b.prog.set(n)
	})
	el := time.Since(started)
	b.prog.finish()
	if err != nil {
		return fail(err)
	}
	if counts1, err := readCommitCounts(ctx, dst); err == nil && countsErr == nil {
		d := counts1.sub(counts0)
		res.TargetLogWrites, res.TargetCommits = d.LogWrites, d.Commits
	}
	if targetCPU1, err := processCPU(dst.PID); err == nil && cpuErr == nil {
		res.TargetCPUSeconds = (targetCPU1 - targetCPU0).Seconds() // the native replica runs inside it
	}
	if err := dst.Exec(ctx, "STOP SLAVE"); err != nil {
		return fail(err)
	}
	return b.verify(ctx, res, dst, el)
}

// configureNativeSQL sets up a native replica that is not running (a restored target, started with
// --skip-slave-start): start position, parallel settings, source.
func configureNativeSQL(src *mariadbtest.Server, base gtidPos, nc nativeConfig) []string {
	mode := nc.mode
	if nc.threads == 0 {
		mode = "conservative" // the server's default; unused without threads
	}
	return []string{
		"SET GLOBAL gtid_slave_pos = '" + base.String() + "'",
		"SET GLOBAL slave_parallel_threads = " + strconv.Itoa(nc.threads),
		"SET GLOBAL slave_parallel_mode = '" + mode + "'",
		changeMasterSQL(src),
	}
}

// waitNativeIOPos waits until the native replica's I/O thread has queued everything up to want in its relay log
// (Gtid_IO_Pos). onProgress gets the number of transactions fetched since base.
func waitNativeIOPos(ctx context.Context, s *mariadbtest.Server, want gtidPos, timeout time.Duration, base gtidPos, onProgress func(int64)) error {
	c, err := s.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(timeout)
	for {
		st, err := queryMap(c, "SHOW SLAVE STATUS")
		if err != nil {
			return err
		}
		if st == nil {
			return fmt.Errorf("SHOW SLAVE STATUS on %s: not a replica", s.Addr())
		}
		if st["Slave_IO_Running"] == "No" && st["Last_IO_Error"] != "" {
			return fmt.Errorf("native I/O thread stopped: %s", st["Last_IO_Error"])
		}
		p, err := parseGTIDPos(st["Gtid_IO_Pos"])
		if err != nil {
			return err
		}
		if onProgress != nil {
			onProgress(p.txnsSince(base))
		}
		if p.covers(want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("I/O thread at %s after %v, want %s", p, timeout, want)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitNativeSQLPos polls @@gtid_slave_pos every pollInterval until it covers want; it checks SHOW SLAVE STATUS
// for an SQL thread error twice a second. onProgress (may be nil) gets every position read.
func waitNativeSQLPos(ctx context.Context, s *mariadbtest.Server, want gtidPos, timeout time.Duration, onProgress func(gtidPos)) error {
	c, err := s.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(timeout)
	lastCheck := time.Now()
	for {
		v, err := queryString(c, "SELECT @@GLOBAL.gtid_slave_pos")
		if err != nil {
			return err
		}
		p, err := parseGTIDPos(v)
		if err != nil {
			return err
		}
		if onProgress != nil {
			onProgress(p)
		}
		if p.covers(want) {
			return nil
		}
		if time.Since(lastCheck) > 500*time.Millisecond {
			lastCheck = time.Now()
			if err := nativeError(c); err != nil {
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("native replica at %s after %v, want %s", p, timeout, want)
			}
		}
		if err := sleepCtx(ctx, pollInterval); err != nil {
			return err
		}
	}
}

// nativeError returns the replica's SQL or I/O error, if a thread stopped with one.
func nativeError(c *client.Conn) error {
	st, err := queryMap(c, "SHOW SLAVE STATUS")
	if err != nil {
		return err
	}
	if st == nil {
		return fmt.Errorf("not a replica any more")
	}
	if st["Slave_SQL_Running"] == "No" && st["Last_SQL_Error"] != "" {
		return fmt.Errorf("native SQL thread stopped: %s", st["Last_SQL_Error"])
	}
	if st["Slave_IO_Running"] == "No" && st["Last_IO_Error"] != "" {
		return fmt.Errorf("native I/O thread stopped: %s", st["Last_IO_Error"])
	}
	return nil
}

// steadyNative measures the native replica's lag under steady load: both threads running from the start.
func (b *bench) steadyNative(ctx context.Context, nc nativeConfig) Result {
	res := b.newResult("steady", "mariadb", nc.mode, nc.threads, true, b.c.steadyWorkload, 1)
	dst := b.srv.native
	fail := func(err error) Result { return res.failed(err) }
	if err := b.resetSource(ctx); err != nil {
		return fail(err)
	}
	if err := restore(ctx, dst, b.srv.targetSnap); err != nil {
		return fail(err)
	}
	if err := b.warmBufferPools(ctx, b.srv.source, dst); err != nil {
		return fail(err)
	}
	if err := dst.Exec(ctx, append(configureNativeSQL(b.srv.source, b.srv.basePos, nc), "START SLAVE")...); err != nil {
		return fail(err)
	}
	c, err := dst.Conn(ctx)
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	sample := func() replicaSample {
		var rs replicaSample
		st, err := queryMap(c, "SHOW SLAVE STATUS")
		if err != nil || st == nil {
			return rs
		}
		if v, err := strconv.ParseFloat(st["Seconds_Behind_Master"], 64); err == nil {
			rs.lag, rs.lagOK = v, true
		}
		if p, err := parseGTIDPos(st["Gtid_IO_Pos"]); err == nil {
			rs.retrieved = p
		}
		return rs
	}
	if err := waitReplicaRunning(ctx, func() (bool, error) {
		st, err := queryMap(c, "SHOW SLAVE STATUS")
		if err != nil || st == nil {
			return false, err
		}
		return st["Slave_IO_Running"] == "Yes" && st["Slave_SQL_Running"] == "Yes", nil
	}); err != nil {
		return fail(err)
	}
	sr, err := b.steadyLoad(ctx, res.label(), dst, sample)
	if err != nil {
		return fail(err)
	}
	res.applySteady(sr)
	drainStart := time.Now()
	b.prog.start(res.label()+": draining", sr.txns)
	err = waitNativeSQLPos(ctx, dst, sr.end, b.c.timeout, func(p gtidPos) { b.prog.set(p.txnsSince(b.srv.basePos)) })
	b.prog.finish()
	if err != nil {
		return fail(err)
	}
	res.DrainSeconds = time.Since(drainStart).Seconds()
	if err := dst.Exec(ctx, "STOP SLAVE"); err != nil {
		return fail(err)
	}
	return b.verify(ctx, res, dst, b.c.steady)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
