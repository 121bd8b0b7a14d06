package rowsql

import (
	"fmt"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// Kind is the kind of change a statement makes.
type Kind int

const (
	Insert Kind = iota + 1
	Update
	Delete
)

func (k Kind) String() string {
	switch k {
	case Insert:
		return "insert"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// KindOf returns the kind of a rows event type: WRITE/UPDATE/DELETE_ROWS v0, v1, v2, MariaDB's compressed
// variants and MySQL's PARTIAL_UPDATE_ROWS_EVENT. ok is false for any other event type.
func KindOf(t replication.EventType) (k Kind, ok bool) {
	switch t {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2,
		replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		return Insert, true
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2,
		replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1, replication.PARTIAL_UPDATE_ROWS_EVENT:
		return Update, true
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		return Delete, true
	}
	return 0, false
}

// Statement is one SQL statement for the target and what its outcome must be.
type Statement struct {
	SQL           string
	Kind          Kind
	Schema, Table string // the target table
	Rows          int    // number of row images (update: before/after pairs) the statement covers
	// Expect is the affected-row count the statement must report on a connection with CLIENT_FOUND_ROWS (so an
	// UPDATE counts matched rows); -1 means do not check (idempotent mode). A different count is divergence.
	Expect int64
	Key    string // readable key of the first row covered, e.g. "(id)=(42)", for divergence errors
}

// DefaultMaxStatementBytes is Options.MaxStatementBytes when it is 0 or less.
const DefaultMaxStatementBytes = 1 << 20

// Options configures a Generator.
type Options struct {
	// MaxStatementBytes bounds a multi-row INSERT or DELETE: rows go to a new statement before one would grow past
	// it. A single row larger than the bound still makes one statement. 0 or less means DefaultMaxStatementBytes;
	// keep it below the target's max_allowed_packet.
	MaxStatementBytes int
	// Idempotent makes replays harmless: INSERT becomes INSERT ... ON DUPLICATE KEY UPDATE of every written column
	// (an upsert that leaves the row equal to the image without deleting it, so no ON DELETE CASCADE fires), and
	// no statement is checked (Expect = -1), so missing rows are ignored. Default false: strict.
	Idempotent bool
}

func (o Options) withDefaults() Options {
	if o.MaxStatementBytes <= 0 {
		o.MaxStatementBytes = DefaultMaxStatementBytes
	}
	return o
}

// Generator renders row events as SQL. It reuses its buffers between calls, so it is not safe for concurrent use:
// keep one per applier worker. It does no I/O.
type Generator struct {
	opts Options

	buf   []byte // the statement being built
	spill []byte // a row rendered past the size bound, moved to the next statement
	key   []byte // Statement.Key scratch
	qname []byte // `schema`.`table`
	head  []byte // DELETE ... IN ( prefix

	metas []ColumnMeta
	tgtOf []int // binlog column -> target ordinal or -1
	binOf []int // target ordinal -> binlog column or -1
	cols  []int // binlog columns written (INSERT column list, UPDATE SET list)
	where []int // binlog columns that find a row (UPDATE/DELETE)
}

// NewGenerator returns a Generator with opts (defaults filled in).
func NewGenerator(opts Options) *Generator {
	return &Generator{opts: opts.withDefaults()}
}

// Append renders the changes of one rows event and appends the statements to dst. evType is the event's header
// type. ev must have been decoded with its table map (ev.Table); tbl is the target table's definition, from the
// target (tableschema.Load) or, where there is none, from FromTableMap. On error dst is returned as it was given.
func (g *Generator) Append(dst []Statement, evType replication.EventType, ev *replication.RowsEvent,
	tbl *tableschema.Table) ([]Statement, error) {
	kind, ok := KindOf(evType)
	if !ok {
		return dst, fmt.Errorf("render rows: event type %s: %w", evType, ErrBadEvent)
	}
	if ev == nil || ev.Table == nil || tbl == nil {
		return dst, fmt.Errorf("render %s rows: event, table map or target table missing: %w", kind, ErrBadEvent)
	}
	n := len(dst)
	out, err := g.render(dst, kind, evType, ev, tbl)
	if err != nil {
		return dst[:n], fmt.Errorf("render %s rows for %s.%s: %w", kind, tbl.Schema, tbl.Name, err)
	}
	return out, nil
}

func (g *Generator) render(dst []Statement, kind Kind, evType replication.EventType, ev *replication.RowsEvent,
	tbl *tableschema.Table) ([]Statement, error) {
	tm := ev.Table
	ncols := int(ev.ColumnCount)
	if ncols > len(tm.ColumnType) || ncols < 0 {
		return dst, fmt.Errorf("rows event has %d columns, its table map %d: %w", ncols, len(tm.ColumnType), ErrBadEvent)
	}
	for i, row := range ev.Rows {
		if len(row) < ncols {
			return dst, fmt.Errorf("row image %d has %d values for %d columns: %w", i, len(row), ncols, ErrBadEvent)
		}
	}
	g.metas = MetasFromTableMap(g.metas[:0], tm)
	if err := g.mapColumns(ev, tbl, ncols); err != nil {
		return dst, err
	}
	g.qname = appendIdent(g.qname[:0], tbl.Schema)
	g.qname = append(g.qname, '.')
	g.qname = appendIdent(g.qname, tbl.Name)

	switch kind {
	case Insert:
		return g.insert(dst, ev, tbl)
	case Update:
		if evType == replication.UPDATE_ROWS_EVENTv0 {
			return dst, fmt.Errorf("UPDATE_ROWS_EVENTv0 (MySQL 5.1 pre-GA) after images are not decoded: %w", ErrBadEvent)
		}
		if len(ev.Rows)%2 != 0 {
			return dst, fmt.Errorf("update event has %d row images, not before/after pairs: %w", len(ev.Rows), ErrBadEvent)
		}
		return g.update(dst, ev, tbl)
	default:
		return g.delete(dst, ev, tbl)
	}
}

// writable lists the binlog columns of an image (bitmap) that are written to the target: present, mapped and
// not generated on the target.
func (g *Generator) writable(dst []int, bitmap []byte, ncols int, tbl *tableschema.Table) []int {
	dst = dst[:0]
	for i := 0; i < ncols; i++ {
		if ord := g.tgtOf[i]; ord >= 0 && bitSet(bitmap, i) && !tbl.Columns[ord].Generated {
			dst = append(dst, i)
		}
	}
	return dst
}

// findBy fills g.where with the binlog columns that find a row: the target's key, or (keyed=false) every written
// column of the before image.
func (g *Generator) findBy(ev *replication.RowsEvent, tbl *tableschema.Table) (keyed bool, err error) {
	ncols := int(ev.ColumnCount)
	if key := tbl.KeyColumns(); key != nil {
		g.where = g.where[:0]
		for _, ord := range key {
			b := -1
			if ord < len(g.binOf) {
				b = g.binOf[ord]
			}
			if b < 0 || !bitSet(ev.ColumnBitmap1, b) {
				return false, fmt.Errorf("column %s: %w", tbl.Columns[ord].Name, ErrKeyNotInImage)
			}
			g.where = append(g.where, b)
		}
		return true, nil
	}
	g.where = g.writable(g.where, ev.ColumnBitmap1, ncols, tbl)
	if len(g.where) == 0 {
		return false, fmt.Errorf("table has no key and the before image no usable column: %w", ErrKeyNotInImage)
	}
	return false, nil
}

func (g *Generator) expect(n int) int64 {
	if g.opts.Idempotent {
		return -1
	}
	return int64(n)
}

func (g *Generator) insert(dst []Statement, ev *replication.RowsEvent, tbl *tableschema.Table) ([]Statement, error) {
	g.cols = g.writable(g.cols, ev.ColumnBitmap1, int(ev.ColumnCount), tbl)
	// keyCols for Statement.Key: the target key when the image has it.
	keyCols := g.keyForLabel(ev.ColumnBitmap1, tbl)

	var (
		err       error
		nrows     int
		first     int // index of the statement's first row
		suffixLen int // length of the ON DUPLICATE KEY UPDATE clause
	)
	if g.opts.Idempotent {
		g.spill = g.appendUpsert(g.spill[:0], tbl)
		suffixLen = len(g.spill)
	}
	flush := func() {
		if g.opts.Idempotent {
			g.buf = g.appendUpsert(g.buf, tbl)
		}
		dst = append(dst, Statement{SQL: string(g.buf), Kind: Insert, Schema: tbl.Schema, Table: tbl.Name,
			Rows: nrows, Expect: g.expect(nrows), Key: g.label(keyCols, ev.Rows[first], tbl)})
		nrows = 0
	}
	for r, row := range ev.Rows {
		mark := len(g.buf)
		if nrows == 0 {
			g.buf = g.insertHeader(g.buf[:0], tbl)
			first, mark = r, -1
		} else {
			g.buf = append(g.buf, ',')
		}
		g.buf = append(g.buf, '(')
		for j, b := range g.cols {
			if j > 0 {
				g.buf = append(g.buf, ',')
			}
			if g.buf, err = AppendValue(g.buf, row[b], &tbl.Columns[g.tgtOf[b]], g.metas[b]); err != nil {
				return dst, fmt.Errorf("row %d: %w", r, err)
			}
		}
		g.buf = append(g.buf, ')')
		nrows++
		if mark >= 0 && len(g.buf)+suffixLen > g.opts.MaxStatementBytes {
			// Move this row to a new statement.
			g.spill = append(g.spill[:0], g.buf[mark+1:]...)
			g.buf = g.buf[:mark]
			nrows--
			flush()
			g.buf = g.insertHeader(g.buf[:0], tbl)
			g.buf = append(g.buf, g.spill...)
			first, nrows = r, 1
		}
	}
	if nrows > 0 {
		flush()
	}
	return dst, nil
}

func (g *Generator) insertHeader(buf []byte, tbl *tableschema.Table) []byte {
	buf = append(buf, "INSERT INTO "...)
	buf = append(buf, g.qname...)
	buf = append(buf, " ("...)
	for j, b := range g.cols {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = appendIdent(buf, tbl.Columns[g.tgtOf[b]].Name)
	}
	return append(buf, ") VALUES "...)
}

// appendUpsert turns the INSERT into an upsert: every written column takes the inserted value.
func (g *Generator) appendUpsert(buf []byte, tbl *tableschema.Table) []byte {
	if len(g.cols) == 0 {
		return buf
	}
	buf = append(buf, " ON DUPLICATE KEY UPDATE "...)
	for j, b := range g.cols {
		if j > 0 {
			buf = append(buf, ',')
		}
		name := tbl.Columns[g.tgtOf[b]].Name
		buf = appendIdent(buf, name)
		buf = append(buf, "=VALUES("...)
		buf = appendIdent(buf, name)
		buf = append(buf, ')')
	}
	return buf
}

func (g *Generator) update(dst []Statement, ev *replication.RowsEvent, tbl *tableschema.Table) ([]Statement, error) {
	after := ev.ColumnBitmap2
	if after == nil {
		after = ev.ColumnBitmap1
	}
	g.cols = g.writable(g.cols, after, int(ev.ColumnCount), tbl)
	keyed, err := g.findBy(ev, tbl)
	if err != nil {
		return dst, err
	}
	for r := 0; r+1 < len(ev.Rows); r += 2 {
		before, afterRow := ev.Rows[r], ev.Rows[r+1]
		g.buf = append(g.buf[:0], "UPDATE "...)
		g.buf = append(g.buf, g.qname...)
		g.buf = append(g.buf, " SET "...)
		if len(g.cols) == 0 {
			// Nothing writable changed (say, only a generated column): still check that the row exists.
			name := tbl.Columns[g.tgtOf[g.where[0]]].Name
			g.buf = appendIdent(g.buf, name)
			g.buf = append(g.buf, '=')
			g.buf = appendIdent(g.buf, name)
		}
		for j, b := range g.cols {
			if j > 0 {
				g.buf = append(g.buf, ',')
			}
			g.buf = appendIdent(g.buf, tbl.Columns[g.tgtOf[b]].Name)
			g.buf = append(g.buf, '=')
			if g.buf, err = AppendValue(g.buf, afterRow[b], &tbl.Columns[g.tgtOf[b]], g.metas[b]); err != nil {
				return dst, fmt.Errorf("row %d after image: %w", r/2, err)
			}
		}
		g.buf = append(g.buf, " WHERE "...)
		if g.buf, err = g.appendWhere(g.buf, before, keyed, tbl); err != nil {
			return dst, fmt.Errorf("row %d before image: %w", r/2, err)
		}
		dst = append(dst, Statement{SQL: string(g.buf), Kind: Update, Schema: tbl.Schema, Table: tbl.Name,
			Rows: 1, Expect: g.expect(1), Key: g.label(g.where, before, tbl)})
	}
	return dst, nil
}

func (g *Generator) delete(dst []Statement, ev *replication.RowsEvent, tbl *tableschema.Table) ([]Statement, error) {
	keyed, err := g.findBy(ev, tbl)
	if err != nil {
		return dst, err
	}
	if !keyed {
		for r, row := range ev.Rows {
			g.buf = g.deleteHeader(g.buf[:0])
			if g.buf, err = g.appendWhere(g.buf, row, false, tbl); err != nil {
				return dst, fmt.Errorf("row %d: %w", r, err)
			}
			dst = append(dst, Statement{SQL: string(g.buf), Kind: Delete, Schema: tbl.Schema, Table: tbl.Name,
				Rows: 1, Expect: g.expect(1), Key: g.label(g.where, row, tbl)})
		}
		return dst, nil
	}

	// Keyed: batch rows into `k` IN (...) or (`k1`,`k2`) IN ((...),...). A row with a NULL key value (possible
	// only when the source's key allows what the target's does not) gets a statement of its own with IS NULL.
	var (
		nrows, first int
		pending      []byte // rendered tuples of the open batch
	)
	pending = g.spill[:0]
	multi := len(g.where) > 1
	// The statement is head + pending + ")", head being DELETE FROM t WHERE (`k1`,`k2`) IN (.
	g.head = g.deleteInHead(g.head[:0], multi, tbl)
	head := g.head
	flush := func() {
		if nrows == 0 {
			return
		}
		if nrows == 1 {
			g.buf = g.deleteHeader(g.buf[:0])
			g.buf, _ = g.appendWhere(g.buf, ev.Rows[first], true, tbl) // rendered once already: cannot fail
		} else {
			g.buf = append(g.buf[:0], head...)
			g.buf = append(g.buf, pending...)
			g.buf = append(g.buf, ')')
		}
		dst = append(dst, Statement{SQL: string(g.buf), Kind: Delete, Schema: tbl.Schema, Table: tbl.Name,
			Rows: nrows, Expect: g.expect(nrows), Key: g.label(g.where, ev.Rows[first], tbl)})
		nrows, pending = 0, pending[:0]
	}
	for r, row := range ev.Rows {
		if hasNull(row, g.where) {
			flush()
			g.buf = g.deleteHeader(g.buf[:0])
			if g.buf, err = g.appendWhere(g.buf, row, true, tbl); err != nil {
				g.spill = pending
				return dst, fmt.Errorf("row %d: %w", r, err)
			}
			dst = append(dst, Statement{SQL: string(g.buf), Kind: Delete, Schema: tbl.Schema, Table: tbl.Name,
				Rows: 1, Expect: g.expect(1), Key: g.label(g.where, row, tbl)})
			continue
		}
		mark := len(pending)
		if nrows > 0 {
			pending = append(pending, ',')
		}
		if multi {
			pending = append(pending, '(')
		}
		for j, b := range g.where {
			if j > 0 {
				pending = append(pending, ',')
			}
			if pending, err = AppendValue(pending, row[b], &tbl.Columns[g.tgtOf[b]], g.metas[b]); err != nil {
				g.spill = pending
				return dst, fmt.Errorf("row %d: %w", r, err)
			}
		}
		if multi {
			pending = append(pending, ')')
		}
		if nrows > 0 && len(head)+len(pending)+1 > g.opts.MaxStatementBytes {
			tuple := append([]byte(nil), pending[mark+1:]...)
			pending = pending[:mark]
			flush()
			pending = append(pending, tuple...)
		}
		if nrows == 0 {
			first = r
		}
		nrows++
	}
	flush()
	g.spill = pending
	return dst, nil
}

// deleteInHead renders DELETE FROM t WHERE `k` IN ( or DELETE FROM t WHERE (`k1`,`k2`) IN (.
func (g *Generator) deleteInHead(buf []byte, multi bool, tbl *tableschema.Table) []byte {
	buf = g.deleteHeader(buf)
	if multi {
		buf = append(buf, '(')
	}
	for j, b := range g.where {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = appendIdent(buf, tbl.Columns[g.tgtOf[b]].Name)
	}
	if multi {
		buf = append(buf, ')')
	}
	return append(buf, " IN ("...)
}

func (g *Generator) deleteHeader(buf []byte) []byte {
	buf = append(buf, "DELETE FROM "...)
	buf = append(buf, g.qname...)
	return append(buf, " WHERE "...)
}

func hasNull(row []any, cols []int) bool {
	for _, b := range cols {
		if row[b] == nil {
			return true
		}
	}
	return false
}

// appendWhere renders the condition that finds the row of an image: `k` = v AND ... with a key, otherwise every
// column compared null-safely (<=>) and exactly, then LIMIT 1 (identical duplicate rows are interchangeable).
func (g *Generator) appendWhere(buf []byte, row []any, keyed bool, tbl *tableschema.Table) ([]byte, error) {
	var err error
	for j, b := range g.where {
		if j > 0 {
			buf = append(buf, " AND "...)
		}
		col := &tbl.Columns[g.tgtOf[b]]
		if keyed {
			buf = appendIdent(buf, col.Name)
			if row[b] == nil {
				buf = append(buf, " IS NULL"...)
				continue
			}
			buf = append(buf, " = "...)
			if buf, err = AppendValue(buf, row[b], col, g.metas[b]); err != nil {
				return buf, err
			}
			continue
		}
		if buf, err = appendExactMatch(buf, row[b], col, g.metas[b]); err != nil {
			return buf, err
		}
	}
	if !keyed {
		buf = append(buf, " LIMIT 1"...)
	}
	return buf, nil
}
