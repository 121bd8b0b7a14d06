package deptrack

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/applier/rowsql"
	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// maxCached bounds the extractor's caches of table plans and column mappings; past it they start over.
const maxCached = 1024

// Extractor computes the writeset keys of rows events (see the package documentation for the rules). It keeps
// per-table plans and reusable buffers, so it is not safe for concurrent use: keep one per coordinator. It does
// no I/O: table definitions come from the caller (tableschema.Cache, read from the target).
type Extractor struct {
	plans map[*tableschema.Table]*tablePlan
	maps  map[mapKey]*colMap
	buf   []byte
}

// NewExtractor returns an empty Extractor.
func NewExtractor() *Extractor {
	return &Extractor{plans: make(map[*tableschema.Table]*tablePlan), maps: make(map[mapKey]*colMap)}
}

// keySpec is one kind of key a table's row images yield.
type keySpec struct {
	space  uint64
	cols   []int // target ordinals
	prefix []int // prefix length per column (0: whole); nil: none
	fk     bool  // a foreign key's columns: the foreign key normalisation
	// cascadeUpdate: an incoming foreign key whose ON UPDATE rule changes child rows.
	cascadeUpdate bool
}

// tablePlan is what the extractor derived from one table definition.
type tablePlan struct {
	unique        []keySpec // primary key, unique keys, WITHOUT OVERLAPS keys reduced to their other columns
	alwaysWide    []uint64  // spaces of unique keys whose values no image holds: wide for every image
	foreign       []keySpec // outgoing (in the parent's space) and incoming foreign keys
	star          uint64    // the table's own space, for images no unique key identifies
	cascadeDelete bool      // an incoming foreign key's ON DELETE rule changes child rows
	rules         []colRule // per target column
}

func newPlan(t *tableschema.Table) *tablePlan {
	p := &tablePlan{star: spaceOf(t.Schema, t.Name, "*"), rules: make([]colRule, len(t.Columns))}
	for i := range t.Columns {
		p.rules[i] = ruleFor(&t.Columns[i])
	}
	names := func(cols []int) []string {
		out := make([]string, len(cols))
		for i, c := range cols {
			out[i] = t.Columns[c].Name
		}
		return out
	}
	addUnique := func(name string, cols, prefix []int, overlaps bool) {
		if overlaps {
			// Rows collide when the other columns are equal and the periods overlap: key the other columns only.
			n := len(cols) - 2
			if n <= 0 {
				p.alwaysWide = append(p.alwaysWide, spaceOf(t.Schema, t.Name, "#"+name))
				return
			}
			cols = cols[:n]
			if prefix != nil {
				prefix = prefix[:n]
			}
			p.unique = append(p.unique, keySpec{space: spaceOf(t.Schema, t.Name, append(names(cols), "\x00overlaps")...),
				cols: cols, prefix: prefix})
			return
		}
		p.unique = append(p.unique, keySpec{space: spaceOf(t.Schema, t.Name, names(cols)...), cols: cols, prefix: prefix})
	}
	if len(t.PrimaryKey) > 0 {
		addUnique("PRIMARY", t.PrimaryKey, t.PrimaryKeyPrefix, t.PrimaryKeyWithoutOverlaps)
	}
	for _, k := range t.UniqueKeys {
		if len(k.Columns) > 0 {
			addUnique(k.Name, k.Columns, k.Prefix, k.WithoutOverlaps)
		}
	}
	for _, name := range t.FunctionalUniqueKeys {
		p.alwaysWide = append(p.alwaysWide, spaceOf(t.Schema, t.Name, "#"+name))
	}
	for _, fk := range t.ForeignKeys {
		p.foreign = append(p.foreign, keySpec{space: spaceOf(fk.RefSchema, fk.RefTable, fk.RefColumns...),
			cols: fk.Columns, fk: true})
	}
	for i := range t.ReferencedBy {
		fk := &t.ReferencedBy[i]
		p.foreign = append(p.foreign, keySpec{space: spaceOf(t.Schema, t.Name, names(fk.Columns)...), cols: fk.Columns,
			fk: true, cascadeUpdate: fk.CascadesUpdate()})
		p.cascadeDelete = p.cascadeDelete || fk.CascadesDelete()
	}
	return p
}

func (x *Extractor) plan(t *tableschema.Table) *tablePlan {
	if p, ok := x.plans[t]; ok {
		return p
	}
	if len(x.plans) >= maxCached {
		clear(x.plans)
	}
	p := newPlan(t)
	x.plans[t] = p
	return p
}

// colMap maps the columns of a table map onto a target table, as rowsql does: by name when the table map has
// names (binlog_row_metadata=FULL), else by position.
type colMap struct {
	metas    []rowsql.ColumnMeta // per binlog column
	binOf    []int               // target ordinal -> binlog column, -1 when the binlog lacks it
	unmapped []int               // binlog columns the target lacks: an error when an image carries one
	byName   bool
	err      error
	tm       *replication.TableMapEvent // the table map it was built from
}

type mapKey struct {
	tbl   *tableschema.Table
	ncols int
}

// mapping returns the column mapping of tm onto tbl. The parser decodes a new table map for every transaction:
// a cached mapping is reused when the table map describes the same columns.
func (x *Extractor) mapping(tm *replication.TableMapEvent, tbl *tableschema.Table, ncols int) *colMap {
	k := mapKey{tbl, ncols}
	if m, ok := x.maps[k]; ok && (m.tm == tm || sameColumns(m.tm, tm)) {
		return m
	}
	if len(x.maps) >= maxCached {
		clear(x.maps)
	}
	m := newColMap(tm, tbl, ncols)
	x.maps[k] = m
	return m
}

// sameColumns reports whether two table maps describe the same columns: types, metadata, signedness and names.
func sameColumns(a, b *replication.TableMapEvent) bool {
	if a.ColumnCount != b.ColumnCount || string(a.ColumnType) != string(b.ColumnType) ||
		string(a.SignednessBitmap) != string(b.SignednessBitmap) || len(a.ColumnMeta) != len(b.ColumnMeta) ||
		len(a.ColumnName) != len(b.ColumnName) {
		return false
	}
	for i := range a.ColumnMeta {
		if a.ColumnMeta[i] != b.ColumnMeta[i] {
			return false
		}
	}
	for i := range a.ColumnName {
		if string(a.ColumnName[i]) != string(b.ColumnName[i]) {
			return false
		}
	}
	return true
}

func newColMap(tm *replication.TableMapEvent, tbl *tableschema.Table, ncols int) *colMap {
	m := &colMap{metas: rowsql.MetasFromTableMap(nil, tm), binOf: make([]int, len(tbl.Columns)), tm: tm}
	for i := range m.binOf {
		m.binOf[i] = -1
	}
	m.byName = len(tm.ColumnName) >= ncols
	mismatch := func(col, reason string) error {
		return &rowsql.ColumnMismatchError{Schema: tbl.Schema, Table: tbl.Name, BinlogColumns: ncols,
			TargetColumns: len(tbl.Columns), Column: col, Reason: reason, ByName: m.byName}
	}
	if m.byName {
		for i := 0; i < ncols; i++ {
			name := string(tm.ColumnName[i])
			ord, ok := tbl.ColumnByName(name)
			if !ok {
				if !rowsql.IsHiddenColumn(tm.ColumnName[i]) { // MySQL's functional-index columns: computed, never keyed
					m.unmapped = append(m.unmapped, i)
				}
				continue
			}
			if m.binOf[ord] >= 0 {
				m.err = mismatch(name, "two binlog columns have this name")
				return m
			}
			m.binOf[ord] = i
		}
		return m
	}
	if ncols > len(tbl.Columns) {
		m.err = mismatch("", "the binlog has more columns than the target and no column names "+
			"(set binlog_row_metadata=FULL on the source to map by name)")
		return m
	}
	for i := 0; i < ncols; i++ {
		m.binOf[i] = i
	}
	return m
}

// Add appends the writeset keys of one rows event to keys and returns them. evType is the event's header type;
// ev must carry its table map (ev.Table); tbl is the target's definition of the table (tableschema.Load, through
// a Cache). barrier reports a change that cannot be keyed soundly: a key column missing from an image (a minimal
// or noblob row image), a DELETE on a table whose rows other tables reference with ON DELETE CASCADE / SET NULL /
// SET DEFAULT, an UPDATE that changes such a referenced value. The transaction must then be a Barrier. An error
// (an image that cannot be mapped onto tbl, a value of an unknown type) must make it a barrier too. On error
// keys is returned as given.
func (x *Extractor) Add(keys []Key, evType replication.EventType, ev *replication.RowsEvent,
	tbl *tableschema.Table) (out []Key, barrier bool, err error) {
	kind, ok := rowsql.KindOf(evType)
	if !ok {
		return keys, false, fmt.Errorf("writeset of rows: event type %s: %w", evType, ErrBadEvent)
	}
	if ev == nil || ev.Table == nil || tbl == nil {
		return keys, false, fmt.Errorf("writeset of %s rows: event, table map or target table missing: %w", kind, ErrBadEvent)
	}
	out, barrier, err = x.add(keys, kind, evType, ev, tbl)
	if err != nil {
		return keys, false, fmt.Errorf("writeset of %s rows of %s.%s: %w", kind, tbl.Schema, tbl.Name, err)
	}
	return out, barrier, nil
}

func (x *Extractor) add(keys []Key, kind rowsql.Kind, evType replication.EventType, ev *replication.RowsEvent,
	tbl *tableschema.Table) ([]Key, bool, error) {
	ncols := int(ev.ColumnCount)
	if ncols > len(ev.Table.ColumnType) || ncols < 0 {
		return keys, false, fmt.Errorf("rows event has %d columns, its table map %d: %w", ncols, len(ev.Table.ColumnType), ErrBadEvent)
	}
	for i, row := range ev.Rows {
		if len(row) < ncols {
			return keys, false, fmt.Errorf("row image %d has %d values for %d columns: %w", i, len(row), ncols, ErrBadEvent)
		}
	}
	if kind == rowsql.Update {
		if evType == replication.UPDATE_ROWS_EVENTv0 {
			return keys, false, fmt.Errorf("UPDATE_ROWS_EVENTv0 (MySQL 5.1 pre-GA) after images are not decoded: %w", ErrBadEvent)
		}
		if len(ev.Rows)%2 != 0 {
			return keys, false, fmt.Errorf("update event has %d row images, not before/after pairs: %w", len(ev.Rows), ErrBadEvent)
		}
	}
	m := x.mapping(ev.Table, tbl, ncols)
	if m.err != nil {
		return keys, false, m.err
	}
	for _, b := range m.unmapped {
		if bitSet(ev.ColumnBitmap1, b) || (ev.ColumnBitmap2 != nil && bitSet(ev.ColumnBitmap2, b)) {
			return keys, false, &rowsql.ColumnMismatchError{Schema: tbl.Schema, Table: tbl.Name, BinlogColumns: ncols,
				TargetColumns: len(tbl.Columns), Column: string(ev.Table.ColumnName[b]),
				Reason: "the target table has no such column", ByName: true}
		}
	}
	p := x.plan(tbl)
	if kind == rowsql.Delete && p.cascadeDelete && len(ev.Rows) > 0 {
		return keys, true, nil // the cascade's changes to child rows are not in the binlog
	}
	out := keys
	before := 0 // where the keys of an update's before image start
	for i, row := range ev.Rows {
		bitmap := ev.ColumnBitmap1
		after := kind == rowsql.Update && i%2 == 1
		if after {
			bitmap = ev.ColumnBitmap2
			if changesReferenced(p, m, ev.Rows[i-1], row, ev.ColumnBitmap1, bitmap) {
				return out, true, nil
			}
		} else {
			before = len(out)
		}
		start := len(out)
		var barrier bool
		var err error
		if out, barrier, err = x.image(out, p, m, tbl, row, bitmap); err != nil || barrier {
			return out, barrier, err
		}
		if after {
			out = dropRepeated(out, before, start)
		}
	}
	return out, false, nil
}

// dropRepeated removes from out[start:] the keys out[from:start] already has: an update that leaves a key's
// columns alone yields the same key from both images.
func dropRepeated(out []Key, from, start int) []Key {
	n := start
	for _, k := range out[start:] {
		dup := false
		for _, e := range out[from:start] {
			if e == k {
				dup = true
				break
			}
		}
		if !dup {
			out[n] = k
			n++
		}
	}
	return out[:n]
}

// changesReferenced reports whether an update from before to after changes (or may change) a value that a
// foreign key with a cascading ON UPDATE rule references.
func changesReferenced(p *tablePlan, m *colMap, before, after []any, bm1, bm2 []byte) bool {
	for i := range p.foreign {
		s := &p.foreign[i]
		if !s.cascadeUpdate {
			continue
		}
		for _, o := range s.cols {
			b := m.binOf[o]
			if b < 0 || !bitSet(bm1, b) || !bitSet(bm2, b) || !sameValue(before[b], after[b]) {
				return true
			}
		}
	}
	return false
}

// keyState is what one key spec gave for one image.
type keyState uint8

const (
	keyExact   keyState = iota
	keyWide             // a value that cannot be normalised: the whole space
	keyNull             // a NULL in a key column: no key (NULLs never collide)
	keyMissing          // a key column is not in the image: the caller needs a barrier
)

// image appends the keys of one row image.
func (x *Extractor) image(out []Key, p *tablePlan, m *colMap, tbl *tableschema.Table, row []any,
	bitmap []byte) ([]Key, bool, error) {
	identified := false
	for i := range p.unique {
		k, st, err := x.key(&p.unique[i], p, m, tbl, row, bitmap)
		switch {
		case err != nil:
			return out, false, err
		case st == keyMissing:
			return out, true, nil
		case st == keyExact || st == keyWide:
			out = append(out, k)
			identified = true
		}
	}
	for _, s := range p.alwaysWide {
		out = append(out, Key{Hash: s, Space: s, Wide: true})
		identified = true
	}
	if !identified {
		// No unique key identifies this row (none, or NULLs in all): every such change of the table conflicts.
		out = append(out, Key{Hash: p.star, Space: p.star, Wide: true})
	}
	for i := range p.foreign {
		k, st, err := x.key(&p.foreign[i], p, m, tbl, row, bitmap)
		switch {
		case err != nil:
			return out, false, err
		case st == keyMissing:
			return out, true, nil
		case st == keyExact || st == keyWide:
			out = append(out, k)
		}
	}
	return out, false, nil
}

// key computes one key of an image: the space, then each column's normalised bytes followed by their length.
func (x *Extractor) key(s *keySpec, p *tablePlan, m *colMap, tbl *tableschema.Table, row []any,
	bitmap []byte) (Key, keyState, error) {
	buf := binary.LittleEndian.AppendUint64(x.buf[:0], s.space)
	st := keyExact
	for j, o := range s.cols {
		b := m.binOf[o]
		if b < 0 || !bitSet(bitmap, b) {
			x.buf = buf
			return Key{}, keyMissing, nil
		}
		v := row[b]
		if v == nil {
			if st != keyNull {
				st = keyNull // keep looking for a missing column, which matters more
			}
			continue
		}
		if st != keyExact {
			continue
		}
		prefix := 0
		if s.prefix != nil {
			prefix = s.prefix[j]
		}
		start := len(buf)
		var wide bool
		var err error
		buf, wide, err = appendValue(buf, v, &p.rules[o], &tbl.Columns[o], m.metas[b], prefix, s.fk)
		if err != nil {
			x.buf = buf
			return Key{}, keyExact, err
		}
		if wide {
			st = keyWide
			continue
		}
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(buf)-start))
	}
	x.buf = buf
	switch st {
	case keyWide:
		return Key{Hash: s.space, Space: s.space, Wide: true}, keyWide, nil
	case keyNull:
		return Key{}, keyNull, nil
	}
	return Key{Hash: maphash.Bytes(seed, buf), Space: s.space}, keyExact, nil
}

// bitSet reads a column bitmap; a nil bitmap means every column is present.
func bitSet(bitmap []byte, i int) bool {
	if bitmap == nil {
		return true
	}
	if i>>3 >= len(bitmap) {
		return false
	}
	return bitmap[i>>3]&(1<<(uint(i)&7)) != 0
}

// TableSchemas appends to dst the schemas a change to tbl may write, for Txn.Schemas in Database mode: tbl's own,
// and those of the tables its foreign keys reference and of the tables whose foreign keys reference it (a
// cascade writes them, and a parent's delete conflicts with a child's insert). Names are lowercased; dst keeps
// no duplicates if it had none.
func TableSchemas(dst []string, tbl *tableschema.Table) []string {
	add := func(s string) {
		s = strings.ToLower(s)
		for _, d := range dst {
			if d == s {
				return
			}
		}
		dst = append(dst, s)
	}
	add(tbl.Schema)
	for _, fk := range tbl.ForeignKeys {
		add(fk.RefSchema)
	}
	for _, fk := range tbl.ReferencedBy {
		add(fk.ChildSchema)
	}
	return dst
}
