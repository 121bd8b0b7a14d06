package clone

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/filter"
	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// Result describes a finished clone.
type Result struct {
	// Snapshot is the position the target holds: the progress tables' low-water mark, where replication starts.
	// For a resumed clone it is the first snapshot; CaughtUpTo is then the last snapshot, up to which the
	// binlog was replayed idempotently.
	Snapshot   Position
	CaughtUpTo Position
	// Resumed: this run continued an earlier one; AlreadyDone: there was nothing left to do.
	Resumed     bool
	AlreadyDone bool
	// Locked: the snapshot took FLUSH TABLES WITH READ LOCK.
	Locked bool
	Tables int
	Chunks int   // chunks loaded by this run
	Rows   int64 // rows loaded by this run
	Bytes  int64 // value bytes loaded by this run
	// Elapsed is this run's duration; CopyTime the part spent copying rows and adding indexes.
	Elapsed, CopyTime time.Duration
}

// Run clones the source into the target (see the package documentation) and returns when the target holds the
// snapshot and its position is recorded, or when ctx is cancelled or an error stops it (the checkpoints on the
// target let a later Run continue).
func Run(ctx context.Context, o Options) (Result, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return Result{}, fmt.Errorf("invalid clone options: %w", err)
	}
	res, err := run(ctx, &o)
	if errors.Is(err, errStartOver) {
		o.Logger.Warn("a table without a key was unfinished and the snapshot has changed: starting over")
		o.Restart = true
		res, err = run(ctx, &o)
	}
	return res, err
}

var errStartOver = errors.New("start over")

func dialTarget(ctx context.Context, o *Options) (*client.Conn, error) {
	c, err := applier.Dial(ctx, o.Target)
	if err != nil {
		return nil, err
	}
	if _, err := c.Execute(loadSessionSQL); err != nil {
		c.Close()
		return nil, fmt.Errorf("set up target session: %w", err)
	}
	return c, nil
}

func run(ctx context.Context, o *Options) (res Result, err error) {
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	log := o.Logger
	st := state{schema: o.ProgressSchema, channel: o.Channel}
	progress := applier.Progress{Schema: o.ProgressSchema, Channel: o.Channel}
	ctl, err := dialTarget(ctx, o)
	if err != nil {
		return res, err
	}
	defer ctl.Close()
	if err := progress.Ensure(ctl); err != nil {
		return res, err
	}
	if err := st.ensure(ctl); err != nil {
		return res, err
	}
	cr, err := st.load(ctl)
	if err != nil {
		return res, err
	}
	if o.Restart {
		if err := dropCloned(ctl, st, progress); err != nil {
			return res, err
		}
		cr = nil
	}
	if cr != nil && cr.status == statusDone {
		log.Info("clone already done", "snapshot", cr.first.String())
		return Result{Snapshot: cr.first, CaughtUpTo: cr.last, AlreadyDone: true, Resumed: true}, nil
	}
	if cr != nil && cr.status == statusCatchingUp {
		res.Snapshot, res.CaughtUpTo, res.Resumed = cr.first, cr.last, true
		return res, finish(ctx, o, ctl, st, progress, cr.first, cr.last, true)
	}
	if cr == nil {
		ex, err := progress.Load(ctl, o.Source.Flavor)
		if err != nil {
			return res, err
		}
		if !ex.Set.Empty() || len(ex.Pending) > 0 {
			return res, fmt.Errorf("the target already has replication progress for channel %q (%s): it is a replica already; "+
				"clone into a fresh target, or pass --restart to drop what a clone created and start over", o.Channel, ex.Set)
		}
	}

	snap, err := takeSnapshot(ctx, o, o.Workers)
	if err != nil {
		return res, fmt.Errorf("snapshot: %w", err)
	}
	defer snap.close()
	res.Locked = snap.locked
	log.Info("snapshot taken", "position", snap.pos.String(), "file", snap.pos.File, "pos", snap.pos.Pos,
		"connections", len(snap.conns), "flush_tables_with_read_lock", snap.locked)

	var rows []*tableRow
	first := snap.pos
	if cr == nil {
		if rows, err = prepare(o, ctl, snap.conns[0], st, snap.pos); err != nil {
			return res, err
		}
	} else {
		res.Resumed = true
		first = cr.first
		if len(o.Schemas) > 0 && !slices.Equal(o.Schemas, cr.schemas) {
			return res, fmt.Errorf("an unfinished clone of schemas %v is on the target; resume it with the same schemas or pass --restart", cr.schemas)
		}
		if err := st.setLast(ctl, snap.pos); err != nil {
			return res, err
		}
		if rows, err = st.loadTables(ctl); err != nil {
			return res, err
		}
		log.Info("resuming clone", "first_snapshot", cr.first.String(), "snapshot", snap.pos.String(), "tables", len(rows))
	}
	res.Snapshot, res.CaughtUpTo, res.Tables = first, snap.pos, len(rows)

	infos := map[*tableRow]*tableInfo{}
	for _, t := range rows {
		ti, err := loadTableInfo(snap.conns[0], t)
		if errors.Is(err, tableschema.ErrNoTable) && res.Resumed {
			ti, err = &tableInfo{row: t, selectCols: "*"}, nil // dropped since: the replay drops it
		}
		if err != nil {
			return res, err
		}
		infos[t] = ti
	}
	if err := createTables(ctl, snap.conns[0], st, rows, res.Resumed); err != nil {
		return res, err
	}
	if err := readEngines(ctl, infos); err != nil {
		return res, err
	}

	// Workers: one snapshot connection and one target connection each.
	dsts := make([]*client.Conn, len(snap.conns))
	defer func() {
		for _, c := range dsts {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range dsts {
		if dsts[i], err = dialTarget(ctx, o); err != nil {
			return res, err
		}
	}
	if err := planAll(ctx, o, st, snap, dsts, rows, infos); err != nil {
		return res, err
	}
	byName := map[string]*tableRow{}
	for _, t := range rows {
		byName[t.db+"."+t.name] = t
	}
	chunks, err := st.loadChunks(ctl, byName)
	if err != nil {
		return res, err
	}
	cp := &copier{o: o, st: st, resumed: res.Resumed, limit: newLimiter(o.MaxRowsPerSecond), tables: infos, count: map[*tableRow]*counters{}}
	rep := &reporter{o: o, order: rows, count: cp.count, start: time.Now(), base: map[*tableRow]int64{}, prev: map[*tableRow]int64{}, prevAt: time.Now()}
	for _, t := range rows {
		cp.count[t] = &counters{}
	}
	var pending []*chunk
	doneChunks := 0
	for _, ch := range chunks {
		c := cp.count[ch.table]
		if ch.done {
			c.rows.Add(ch.rows)
			c.bytes.Add(ch.bytes)
			rep.base[ch.table] += ch.rows
			doneChunks++
			continue
		}
		c.remaining.Add(1)
		pending = append(pending, ch)
	}
	for t, n := range rep.base {
		rep.prev[t] = n
	}
	if res.Resumed {
		log.Info("chunks already loaded", "done", doneChunks, "left", len(pending))
		if !samePosition(first, snap.pos) {
			for _, ch := range pending {
				if ch.table.keyless {
					return res, errStartOver
				}
			}
		}
	}
	// Tables without a key first (a resumed clone must start over if one of them is unfinished), then the
	// chunks of all tables in turn (first chunks first, largest table first), so that the workers load different
	// tables: an InnoDB table that is empty is locked whole by the first transaction inserting into it with
	// unique_checks=0 and foreign_key_checks=0 (MariaDB 10.6+ bulk insert), and different tables share no latches.
	sort.SliceStable(pending, func(i, j int) bool {
		a, b := pending[i], pending[j]
		if a.table.keyless != b.table.keyless {
			return a.table.keyless
		}
		if a.n != b.n {
			return a.n < b.n
		}
		return a.table.ord < b.table.ord
	})

	copyStart := time.Now()
	rctx, stopReport := context.WithCancel(ctx)
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		rep.run(rctx)
	}()
	err = copyAll(ctx, cp, snap, dsts, rows, pending)
	stopReport()
	<-reported // the final report below reads and writes what run's reports do
	res.CopyTime = time.Since(copyStart)
	final := rep.report()
	res.Rows = final.Total.Rows
	for _, n := range rep.base {
		res.Rows -= n
	}
	for _, ch := range pending {
		if ch.done {
			res.Chunks++
			res.Bytes += ch.bytes
		}
	}
	if err != nil {
		return res, err
	}
	rep.emit(final)
	snap.close()
	snap.conns = nil
	log.Info("rows copied", "rows", res.Rows, "bytes", humanBytes(res.Bytes), "took", res.CopyTime.Round(time.Millisecond),
		"rows_per_sec", int64(float64(res.Rows)/max(res.CopyTime.Seconds(), 1e-9)))
	return res, finish(ctx, o, ctl, st, progress, first, res.CaughtUpTo, res.Resumed)
}

// prepare lists the tables of a fresh clone and records them and the snapshot on the target.
func prepare(o *Options, ctl, src *client.Conn, st state, pos Position) ([]*tableRow, error) {
	schemas, err := listSchemas(src, o.Schemas, o.ProgressSchema)
	if err != nil {
		return nil, err
	}
	tables, err := listTables(src, schemas)
	if err != nil {
		return nil, err
	}
	if !o.Filter.Empty() {
		f, err := filter.New(o.Filter, nil)
		if err != nil {
			return nil, fmt.Errorf("replication filters: %w", err)
		}
		kept := tables[:0]
		for _, t := range tables {
			if keep, _ := f.Table(t.db, t.name); keep {
				kept = append(kept, t)
			}
		}
		tables = kept
	}
	if have, err := existingTables(ctl, tables); err != nil {
		return nil, err
	} else if len(have) > 0 {
		return nil, fmt.Errorf("the target already has %d of the tables to clone (%s): clone into an empty target", len(have), firstFew(have, 5))
	}
	rows := make([]*tableRow, len(tables))
	for i, t := range tables {
		row := &tableRow{db: t.db, name: t.name, ord: i, estRows: t.estRows}
		ti, err := loadTableInfo(src, row)
		if err != nil {
			return nil, err
		}
		row.keyless = ti.key == nil
		if !o.IndexesDuringLoad {
			create, err := showCreateTable(src, t.db, t.name)
			if err != nil {
				return nil, err
			}
			_, row.deferred = splitSecondaryIndexes(create)
		}
		rows[i] = row
	}
	if _, err := ctl.Execute("START TRANSACTION"); err != nil {
		return nil, fmt.Errorf("record clone: %w", err)
	}
	if err := st.insert(ctl, schemas, pos); err != nil {
		ctl.Execute("ROLLBACK")
		return nil, err
	}
	for _, r := range rows {
		if err := st.insertTable(ctl, r); err != nil {
			ctl.Execute("ROLLBACK")
			return nil, err
		}
	}
	if _, err := ctl.Execute("COMMIT"); err != nil {
		return nil, fmt.Errorf("record clone: %w", err)
	}
	return rows, nil
}

func firstFew(s []string, n int) string {
	if len(s) > n {
		return fmt.Sprintf("%v and %d more", s[:n], len(s)-n)
	}
	return fmt.Sprint(s)
}

// createTables creates the schemas and the tables not created yet. A table recorded but not marked created may
// exist from a run killed in between: it is dropped first (a fresh clone checked the target had none of them).
func createTables(ctl, src *client.Conn, st state, rows []*tableRow, resumed bool) error {
	dbs := map[string]bool{}
	for _, t := range rows {
		if t.created {
			continue
		}
		if !dbs[t.db] {
			q, err := showCreateDatabase(src, t.db)
			if err != nil {
				return err
			}
			if _, err := ctl.Execute(q); err != nil {
				return fmt.Errorf("create schema %s on the target: %w", t.db, err)
			}
			dbs[t.db] = true
		}
		create, err := showCreateTable(src, t.db, t.name)
		if err != nil {
			if resumed && isNoTable(err) {
				continue
			}
			return err
		}
		if len(t.deferred) > 0 {
			create, _ = splitSecondaryIndexes(create)
		}
		if _, err := ctl.Execute("USE " + quoteIdent(t.db)); err != nil {
			return fmt.Errorf("create %s: %w", t, err)
		}
		if resumed {
			if _, err := ctl.Execute("DROP TABLE IF EXISTS " + quoteIdent(t.name)); err != nil {
				return fmt.Errorf("create %s: %w", t, err)
			}
		}
		if _, err := ctl.Execute(create); err != nil {
			return fmt.Errorf("create %s on the target: %w", t, err)
		}
		if err := st.updateTable(ctl, t, "created", "1"); err != nil {
			return err
		}
		t.created = true
	}
	return nil
}

// planAll plans the tables not planned yet, in parallel on the snapshot connections, and records the chunks.
func planAll(ctx context.Context, o *Options, st state, snap *snapshot, dsts []*client.Conn, rows []*tableRow, infos map[*tableRow]*tableInfo) error {
	work := make(chan *tableRow)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(work)
		for _, t := range rows {
			if t.planned {
				continue
			}
			select {
			case work <- t:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for i := range snap.conns {
		src, dst := snap.conns[i], dsts[i]
		g.Go(func() error {
			for t := range work {
				ti := infos[t]
				var chunks []*chunk
				if ti.cols == nil { // dropped on the source since the first snapshot
					chunks = []*chunk{{table: t}}
				} else {
					var err error
					if chunks, err = plan(src, ti, o.ChunkRows); err != nil {
						return err
					}
				}
				qs := append([]string{"START TRANSACTION"}, st.insertChunksSQL(chunks)...)
				qs = append(qs, st.updateTableSQL(t, "planned", "1"), "COMMIT")
				for _, q := range qs {
					if _, err := dst.Execute(q); err != nil {
						dst.Execute("ROLLBACK")
						return fmt.Errorf("record chunks of %s: %w", t, err)
					}
				}
				t.planned = true
				o.Logger.Debug("planned", "table", t.String(), "chunks", len(chunks))
			}
			return nil
		})
	}
	return g.Wait()
}

// copyAll loads the pending chunks with one worker per snapshot connection, adding a table's deferred indexes
// when its last chunk is loaded.
func copyAll(ctx context.Context, cp *copier, snap *snapshot, dsts []*client.Conn, rows []*tableRow, pending []*chunk) error {
	type task struct {
		ch      *chunk
		indexes *tableRow
	}
	work := make(chan task)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(work)
		for _, t := range rows {
			if cp.count[t].remaining.Load() == 0 && !t.indexed {
				select {
				case work <- task{indexes: t}:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
		}
		for _, ch := range pending {
			select {
			case work <- task{ch: ch}:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for i := range snap.conns {
		src, dst := snap.conns[i], dsts[i]
		g.Go(func() error {
			for tk := range work {
				t := tk.indexes
				if tk.ch != nil {
					if err := cp.copyChunk(gctx, src, dst, tk.ch); err != nil {
						return err
					}
					t = tk.ch.table
					if cp.count[t].remaining.Add(-1) != 0 {
						continue
					}
				}
				if err := cp.addIndexes(dst, t); err != nil {
					return err
				}
				cp.count[t].finished.Store(time.Now().UnixNano())
			}
			return nil
		})
	}
	return g.Wait()
}

// dropCloned drops the tables an earlier clone created and forgets its state and the channel's progress.
func dropCloned(ctl *client.Conn, st state, progress applier.Progress) error {
	rows, err := st.loadTables(ctl)
	if err != nil {
		return err
	}
	for _, t := range rows {
		if _, err := ctl.Execute("DROP TABLE IF EXISTS " + quoteIdent(t.db) + "." + quoteIdent(t.name)); err != nil {
			return fmt.Errorf("drop %s: %w", t, err)
		}
	}
	if err := st.reset(ctl); err != nil {
		return err
	}
	return progress.Reset(ctl)
}

func samePosition(a, b Position) bool {
	if a.GTID != "" || b.GTID != "" {
		return a.GTID == b.GTID
	}
	return a.File == b.File && a.Pos == b.Pos
}

// readEngines notes which target tables are transactional.
func readEngines(ctl *client.Conn, infos map[*tableRow]*tableInfo) error {
	rows, err := queryRows(ctl, "SELECT TABLE_SCHEMA, TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'")
	if err != nil {
		return fmt.Errorf("read target table engines: %w", err)
	}
	engine := map[string]string{}
	for _, r := range rows {
		engine[r[0]+"."+r[1]] = strings.ToLower(r[2])
	}
	for t, ti := range infos {
		switch engine[t.String()] {
		case "innodb", "rocksdb":
			ti.transactional = true
		}
	}
	return nil
}
