package clone

import (
	"context"
	"fmt"
	"time"
)

// TableProgress is the progress of one table, or of the whole clone.
type TableProgress struct {
	Table      string // "db.table"; "" for the total
	Rows       int64  // rows loaded so far (including earlier runs of a resumed clone)
	Bytes      int64  // value bytes loaded so far
	EstRows    int64  // estimated rows in all (the source's statistics; at least Rows)
	RowsPerSec float64
	ETA        time.Duration // estimated time left; 0 when done or unknown
	Done       bool
}

// Report is a progress report.
type Report struct {
	Elapsed time.Duration
	Tables  []TableProgress // tables started and not finished
	Total   TableProgress
}

type reporter struct {
	o      *Options
	order  []*tableRow
	count  map[*tableRow]*counters
	start  time.Time
	base   map[*tableRow]int64 // rows loaded before this run
	prev   map[*tableRow]int64
	prevAt time.Time
}

func (r *reporter) report() Report {
	now := time.Now()
	rep := Report{Elapsed: now.Sub(r.start)}
	var total TableProgress
	var baseTotal int64
	dt := now.Sub(r.prevAt).Seconds()
	var totalDelta int64
	for _, t := range r.order {
		c := r.count[t]
		rows, bytes := c.rows.Load(), c.bytes.Load()
		est := max(t.estRows, rows)
		done := c.remaining.Load() == 0
		if done {
			est = rows
		}
		total.Rows += rows
		total.Bytes += bytes
		total.EstRows += est
		baseTotal += r.base[t]
		delta := rows - r.prev[t]
		totalDelta += delta
		r.prev[t] = rows
		if !c.started.Load() || done {
			continue
		}
		tp := TableProgress{Table: t.String(), Rows: rows, Bytes: bytes, EstRows: est}
		if dt > 0 {
			tp.RowsPerSec = float64(delta) / dt
		}
		if tp.RowsPerSec > 0 {
			tp.ETA = time.Duration(float64(est-rows) / tp.RowsPerSec * float64(time.Second))
		}
		rep.Tables = append(rep.Tables, tp)
	}
	// The total rate is the average of this run: steadier than the last interval's.
	if s := rep.Elapsed.Seconds(); s > 0 {
		total.RowsPerSec = float64(total.Rows-baseTotal) / s
	}
	if total.RowsPerSec > 0 {
		total.ETA = time.Duration(float64(total.EstRows-total.Rows) / total.RowsPerSec * float64(time.Second))
	}
	total.Done = total.Rows >= total.EstRows
	rep.Total = total
	r.prevAt = now
	return rep
}

func (r *reporter) run(ctx context.Context) {
	t := time.NewTicker(r.o.ProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.emit(r.report())
		}
	}
}

func (r *reporter) emit(rep Report) {
	if r.o.OnProgress != nil {
		r.o.OnProgress(rep)
	}
	log := r.o.Logger
	for _, t := range rep.Tables {
		log.Info("clone progress", progressAttrs(t)...)
	}
	log.Info("clone progress", append(progressAttrs(rep.Total), "elapsed", rep.Elapsed.Round(time.Second))...)
}

func progressAttrs(t TableProgress) []any {
	name := t.Table
	if name == "" {
		name = "total"
	}
	pct := 100.0
	if t.EstRows > 0 {
		pct = 100 * float64(t.Rows) / float64(t.EstRows)
	}
	return []any{"table", name, "rows", t.Rows, "est_rows", t.EstRows, "percent", fmt.Sprintf("%.1f", pct),
		"bytes", humanBytes(t.Bytes), "rows_per_sec", int64(t.RowsPerSec), "eta", t.ETA.Round(time.Second)}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
