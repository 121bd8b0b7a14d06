package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// Steady state: replication runs from the start while the source is under continuous load for --steady at
// --steady-rate transactions/s. Lag is measured the same way for both engines, by a heartbeat row: every 100 ms
// the source sets bench.heartbeat.ts = NOW(6); every 250 ms the harness reads, on the target,
// NOW(6) - ts: how old the newest source state the target shows is (all servers share this machine's clock).
// The replica's own figure (Seconds_Behind_Master, or Seconds_Behind_Source from mtreplica's status.json, which
// is rewritten every second) is sampled beside it, and so is how far its receiver is behind the source (the
// source's position minus Gtid_IO_Pos or Retrieved_Gtid_Set, in transactions): lag with a small fetch backlog is
// the applier's.
const (
	heartbeatEvery = 100 * time.Millisecond
	lagSampleEvery = 250 * time.Millisecond
)

// steadyResult is what one steady-state phase measured.
type steadyResult struct {
	lag      []float64 // heartbeat lag samples, seconds
	reported []float64 // the replica's own lag figure, seconds
	fetch    []float64 // transactions on the source not yet in the replica's relay log
	txns     int64     // transactions the source committed during the phase (heartbeats included)
	end      gtidPos   // the source's position when the load stopped
	seconds  float64
}

// replicaSample is what a replica says about itself at one moment.
type replicaSample struct {
	lag       float64 // Seconds_Behind_Master / Seconds_Behind_Source
	lagOK     bool    // lag is known (NULL otherwise)
	retrieved gtidPos // Gtid_IO_Pos / Retrieved_Gtid_Set; nil if unknown
}

// steadyLoad runs the steady load on the source while sampling dst's lag; sample samples what the replica
// reports about itself.
func (b *bench) steadyLoad(ctx context.Context, label string, dst *mariadbtest.Server, sample func() replicaSample) (*steadyResult, error) {
	src := b.srv.source
	hb, err := src.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer hb.Close()
	sc, err := src.Conn(ctx) // the sampler's, for the source's position
	if err != nil {
		return nil, err
	}
	defer sc.Close()
	tc, err := dst.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer tc.Close()

	sr := &steadyResult{}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		bgErr    error
		setBgErr = func(err error) {
			mu.Lock()
			if bgErr == nil {
				bgErr = err
			}
			mu.Unlock()
		}
	)
	wg.Add(2)
	go func() { // heartbeat writer on the source
		defer wg.Done()
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if r, err := hb.Execute("UPDATE bench.heartbeat SET ts = NOW(6) WHERE id = 1"); err != nil {
				setBgErr(fmt.Errorf("heartbeat: %w", err))
				return
			} else {
				r.Close()
			}
		}
	}()
	go func() { // lag sampler on the target
		defer wg.Done()
		t := time.NewTicker(lagSampleEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			v, err := queryString(tc, "SELECT TIMESTAMPDIFF(MICROSECOND, ts, NOW(6)) FROM bench.heartbeat WHERE id = 1")
			if err != nil {
				setBgErr(fmt.Errorf("sample lag: %w", err))
				return
			}
			us, err := strconv.ParseFloat(v, 64)
			if err != nil {
				setBgErr(fmt.Errorf("sample lag: %q: %w", v, err))
				return
			}
			rs := sample()
			var fetch float64 = -1
			if rs.retrieved != nil {
				if v, err := queryString(sc, "SELECT @@GLOBAL.gtid_binlog_pos"); err == nil {
					if p, err := parseGTIDPos(v); err == nil {
						fetch = float64(p.txnsSince(rs.retrieved))
					}
				}
			}
			mu.Lock()
			sr.lag = append(sr.lag, us/1e6)
			if rs.lagOK {
				sr.reported = append(sr.reported, rs.lag)
			}
			if fetch >= 0 {
				sr.fetch = append(sr.fetch, fetch)
			}
			n := len(sr.lag)
			mu.Unlock()
			b.prog.set(int64(n))
		}
	}()

	// Let replication connect and the first heartbeats through before the load starts.
	if err := sleepCtx(ctx, time.Second); err != nil {
		close(stop)
		wg.Wait()
		return nil, err
	}
	mu.Lock()
	sr.lag, sr.reported, sr.fetch = sr.lag[:0], sr.reported[:0], sr.fetch[:0]
	mu.Unlock()
	b.prog.start(fmt.Sprintf("%s: %v of %s at %d txn/s (lag samples)", label, b.c.steady, b.c.steadyWorkload, b.c.steadyRate),
		int64(b.c.steady/lagSampleEvery))
	started := time.Now()
	b.sourceDirty = true
	threads := 16
	if b.c.steadyWorkload == "write1" {
		threads = 1
	}
	script := "oltp_write_only"
	if b.c.steadyWorkload == "insert" {
		script = "oltp_insert"
	}
	loadErr := b.sysbench(ctx, script, threads, 0, int(b.c.steady.Round(time.Second)/time.Second), b.c.steadyRate)
	sr.seconds = time.Since(started).Seconds()
	close(stop)
	wg.Wait()
	b.prog.finish()
	if loadErr != nil {
		return nil, fmt.Errorf("steady load: %w", loadErr)
	}
	if bgErr != nil {
		return nil, bgErr
	}
	if sr.end, err = gtidPosOf(ctx, src, "@@GLOBAL.gtid_binlog_pos"); err != nil {
		return nil, err
	}
	sr.txns = sr.end.txnsSince(b.srv.basePos)
	return sr, nil
}

// warmBufferPools reads every sysbench table and its secondary index on the servers, so that the steady phase
// measures replication with warm caches, as a replica that has been running is, rather than the first seconds
// after the restore that restarted the servers (--steady-cold keeps those). Both engines get it.
func (b *bench) warmBufferPools(ctx context.Context, servers ...*mariadbtest.Server) error {
	if b.c.steadyCold {
		return nil
	}
	for _, s := range servers {
		var qs []string
		for i := 1; i <= b.c.tables; i++ {
			qs = append(qs, fmt.Sprintf("SELECT COUNT(*), SUM(LENGTH(c)) FROM sbtest.sbtest%d", i),
				fmt.Sprintf("SELECT COUNT(*) FROM sbtest.sbtest%d FORCE INDEX (k_%d) WHERE k > 0", i, i))
		}
		if err := s.Exec(ctx, qs...); err != nil {
			return fmt.Errorf("warm the buffer pool of %s: %w", s.Addr(), err)
		}
	}
	return nil
}

// waitReplicaRunning polls running every 50 ms until it reports both replication threads running, for up to a
// minute: the steady phase starts its load with the replica running, whichever engine it is.
func waitReplicaRunning(ctx context.Context, running func() (bool, error)) error {
	deadline := time.Now().Add(time.Minute)
	for {
		ok, err := running()
		if err != nil {
			return fmt.Errorf("wait for the replica to run: %w", err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("wait for the replica to run: not running after a minute")
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}
