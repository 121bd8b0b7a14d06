package clone

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/coordinator"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// maxAppliedRows bounds the applied_transactions rows a MySQL GTID set with holes turns into.
const maxAppliedRows = 100000

// finish records the first snapshot as the target's replication position and, when chunks were read from a
// later snapshot too (a resumed clone), replays the binlog up to that one idempotently.
func finish(ctx context.Context, o *Options, ctl *client.Conn, st state, progress applier.Progress, first, last Position, resumed bool) error {
	catchUp := resumed && !samePosition(first, last)
	status := statusDone
	if catchUp {
		status = statusCatchingUp
	}
	cr, err := st.load(ctl)
	if err != nil {
		return err
	}
	if cr == nil || cr.status == statusCopying {
		if _, err := ctl.Execute("START TRANSACTION"); err != nil {
			return fmt.Errorf("hand over: %w", err)
		}
		if err := writePosition(ctl, progress, o.Source.Flavor, first); err != nil {
			ctl.Execute("ROLLBACK")
			return err
		}
		if err := st.setStatus(ctl, status); err != nil {
			ctl.Execute("ROLLBACK")
			return err
		}
		if _, err := ctl.Execute("COMMIT"); err != nil {
			return fmt.Errorf("hand over: %w", err)
		}
		o.Logger.Info("replication position recorded on the target", "position", first.String())
	}
	if !catchUp {
		return nil
	}
	if err := replayUntil(ctx, o, ctl, progress, last); err != nil {
		return err
	}
	return st.setStatus(ctl, statusDone)
}

// writePosition records p as applied in the progress tables: per stream a low-water mark (everything up to it is
// on the target); a MySQL GTID set with holes records the transactions after the first hole one by one.
func writePosition(c *client.Conn, progress applier.Progress, flavor gtid.Flavor, p Position) error {
	if p.GTID == "" {
		if p.File == "" {
			return nil // the source had written no transaction to its binlog: replication starts at its beginning
		}
		seq := coordinator.AnonymousSeq(p.File, uint32(p.Pos))
		return progress.SetLowWater(c, coordinator.AnonymousStream, seq, 0, p.File, p.Pos)
	}
	set, err := gtid.ParseSet(flavor, p.GTID)
	if err != nil {
		return fmt.Errorf("snapshot GTID set: %w", err)
	}
	extra := 0
	for _, s := range set.Streams() {
		ivs := set.Intervals(s)
		if ivs[0].Start != 1 {
			// Only MySQL sets can start above 1; 1..Start-1 were never executed, so they must not be marked.
			ivs = append([]gtid.Interval{{Start: 1, End: 0}}, ivs...)
		}
		if err := progress.SetLowWater(c, s, ivs[0].End, set.ServerID(s), p.File, p.Pos); err != nil {
			return err
		}
		for _, iv := range ivs[1:] {
			extra += int(iv.End - iv.Start + 1)
			if extra > maxAppliedRows {
				return fmt.Errorf("snapshot GTID set %s has more than %d transactions after its first hole: not supported", p.GTID, maxAppliedRows)
			}
			for seq := iv.Start; seq <= iv.End; seq++ {
				_, err := c.Execute(fmt.Sprintf("INSERT INTO %s.%s (channel, stream, seq, server_id, source_file, source_pos) VALUES (%s, %s, %d, 0, %s, %d)",
					quoteIdent(progress.Schema), quoteIdent("applied_transactions"), quoteString(progress.Channel), quoteString(s), seq, quoteString(p.File), p.Pos))
				if err != nil {
					return fmt.Errorf("record snapshot GTID %s:%d: %w", s, seq, err)
				}
			}
		}
	}
	return nil
}

// replayUntil runs the replica in idempotent mode until the target has applied everything up to last.
func replayUntil(ctx context.Context, o *Options, ctl *client.Conn, progress applier.Progress, last Position) error {
	want, err := positionSet(o.Source.Flavor, last)
	if err != nil {
		return err
	}
	cfg := o.CatchUp
	cfg.Source, cfg.Target, cfg.Channel, cfg.ProgressSchema = o.Source, o.Target, o.Channel, o.ProgressSchema
	cfg.Idempotent = true
	cfg.StartGTID, cfg.StartFile, cfg.StartPos = "", "", 0
	if cfg.Logger == nil {
		cfg.Logger = o.Logger
	}
	if cfg.RelayDir == "" {
		dir, err := os.MkdirTemp("", "mtreplica-clone-relay-")
		if err != nil {
			return fmt.Errorf("catch-up relay log: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.RelayDir = dir
	}
	r, err := mtreplica.New(cfg)
	if err != nil {
		return fmt.Errorf("catch-up replica: %w", err)
	}
	o.Logger.Info("replaying the binlog idempotently up to the last snapshot", "until", last.String())
	start := time.Now()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("catch-up replica stopped before the last snapshot: %w", err)
		case <-tick.C:
		}
		ex, err := progress.Load(ctl, o.Source.Flavor)
		if err != nil {
			cancel()
			<-done
			return err
		}
		if covers(ex.Set, want) {
			cancel()
			if err := <-done; err != nil {
				return fmt.Errorf("catch-up replica: %w", err)
			}
			o.Logger.Info("caught up with the last snapshot", "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
	}
}

func positionSet(f gtid.Flavor, p Position) (*gtid.Set, error) {
	if p.GTID != "" {
		return gtid.ParseSet(f, p.GTID)
	}
	s := gtid.NewSet(f)
	if p.File != "" {
		s.AddInterval(coordinator.AnonymousStream, gtid.Interval{Start: 1, End: coordinator.AnonymousSeq(p.File, uint32(p.Pos))})
	}
	return s, nil
}

// covers reports whether have holds every GTID of want.
func covers(have, want *gtid.Set) bool {
	for _, s := range want.Streams() {
		for _, iv := range want.Intervals(s) {
			ok := false
			for _, h := range have.Intervals(s) {
				if h.Start <= iv.Start && iv.End <= h.End {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

func isNoTable(err error) bool {
	var me *mysql.MyError
	return errors.As(err, &me) && me.Code == mysql.ER_NO_SUCH_TABLE
}
