package deptrack

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/shopspring/decimal"

	"github.com/mtreplica/mtreplica/applier/rowsql"
	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// bcol is a binlog column of a hand-built table map.
type bcol struct {
	name string
	tp   byte
	meta uint16
}

var (
	bInt     = bcol{tp: mysql.MYSQL_TYPE_LONG}
	bBig     = bcol{tp: mysql.MYSQL_TYPE_LONGLONG}
	bVarchar = bcol{tp: mysql.MYSQL_TYPE_VARCHAR, meta: 400}
	bBinary4 = bcol{tp: mysql.MYSQL_TYPE_STRING, meta: uint16(mysql.MYSQL_TYPE_STRING)<<8 | 4}
	bDouble  = bcol{tp: mysql.MYSQL_TYPE_DOUBLE, meta: 8}
	bDecimal = bcol{tp: mysql.MYSQL_TYPE_NEWDECIMAL, meta: 10<<8 | 2}
	bDate    = bcol{tp: mysql.MYSQL_TYPE_DATE}
	bDT3     = bcol{tp: mysql.MYSQL_TYPE_DATETIME2, meta: 3}
)

func named(name string, c bcol) bcol { c.name = name; return c }

func tableMap(schema, table string, cols ...bcol) *replication.TableMapEvent {
	tm := &replication.TableMapEvent{Schema: []byte(schema), Table: []byte(table), ColumnCount: uint64(len(cols))}
	for _, c := range cols {
		tm.ColumnType = append(tm.ColumnType, c.tp)
		tm.ColumnMeta = append(tm.ColumnMeta, c.meta)
		if c.name != "" {
			tm.ColumnName = append(tm.ColumnName, []byte(c.name))
		}
	}
	return tm
}

func bitmap(n int, present ...int) []byte {
	b := make([]byte, (n+7)/8)
	for _, i := range present {
		b[i/8] |= 1 << (i % 8)
	}
	return b
}

func table(schema, name string, cols ...tableschema.Column) *tableschema.Table {
	t := &tableschema.Table{Schema: schema, Name: name, Columns: cols}
	t.Init()
	return t
}

func intCol(name string) tableschema.Column { return tableschema.Column{Name: name, DataType: "int"} }
func textCol(name, charset, collation string) tableschema.Column {
	return tableschema.Column{Name: name, DataType: "varchar", Charset: charset, Collation: collation, Nullable: true}
}

// rel is a table definition with its table map.
type rel struct {
	tbl *tableschema.Table
	tm  *replication.TableMapEvent
}

func (r rel) ev(rows ...[]any) *replication.RowsEvent {
	return &replication.RowsEvent{Table: r.tm, ColumnCount: r.tm.ColumnCount, Rows: rows}
}

// keys extracts one event's keys and fails on an error.
func keys(t *testing.T, r rel, evType replication.EventType, rows ...[]any) []Key {
	t.Helper()
	out, barrier, err := NewExtractor().Add(nil, evType, r.ev(rows...), r.tbl)
	if err != nil || barrier {
		t.Fatalf("%s %v: barrier %v, err %v", evType, rows, barrier, err)
	}
	return out
}

const (
	ins = replication.WRITE_ROWS_EVENTv2
	upd = replication.UPDATE_ROWS_EVENTv2
	del = replication.DELETE_ROWS_EVENTv2
)

func row(v ...any) []any { return v }

// pkTable: t (id INT PRIMARY KEY, u INT NULL UNIQUE, name VARCHAR utf8mb4_general_ci).
func pkTable() rel {
	tbl := table("db", "t", intCol("id"), tableschema.Column{Name: "u", DataType: "int", Nullable: true},
		textCol("name", "utf8mb4", "utf8mb4_general_ci"))
	tbl.PrimaryKey = []int{0}
	tbl.UniqueKeys = []tableschema.Index{{Name: "u", Columns: []int{1}, Unique: true}}
	return rel{tbl, tableMap("db", "t", bInt, bInt, bVarchar)}
}

func TestExtractPrimaryKeyChange(t *testing.T) {
	r := pkTable()
	move := keys(t, r, upd, row(int32(1), nil, "a"), row(int32(2), nil, "a")) // id 1 -> 2
	for _, c := range []struct {
		name    string
		keys    []Key
		collide bool
	}{
		{"insert of the new id", keys(t, r, ins, row(int32(2), nil, "x")), true},
		{"delete of the old id", keys(t, r, del, row(int32(1), nil, "a")), true},
		{"another id", keys(t, r, ins, row(int32(3), nil, "a")), false},
		{"same id as int64", keys(t, r, ins, row(int64(2), nil, "x")), true},
	} {
		if got := keysConflict(move, c.keys); got != c.collide {
			t.Errorf("%s: collide %v, want %v (%v vs %v)", c.name, got, c.collide, move, c.keys)
		}
	}
	// An update that leaves the key alone yields its key once; a multi-row update one per distinct key.
	if k := keys(t, r, upd, row(int32(1), nil, "a"), row(int32(1), nil, "b")); len(k) != 1 || len(move) != 2 {
		t.Errorf("keys %v / %v", k, move)
	}
	k := keys(t, r, upd, row(int32(1), int32(5), "a"), row(int32(1), int32(6), "a"), row(int32(2), nil, "a"), row(int32(2), nil, "b"))
	if len(k) != 4 {
		t.Errorf("keys %v", k)
	}
}

// Two rows swapping unique values: each step's after image meets the other's before image.
func TestExtractUniqueSwap(t *testing.T) {
	r := pkTable()
	a := keys(t, r, upd, row(int32(2), int32(20), "b"), row(int32(2), int32(30), "b")) // row 2: 20 -> 30
	b := keys(t, r, upd, row(int32(1), int32(10), "a"), row(int32(1), int32(20), "a")) // row 1: 10 -> 20
	c := keys(t, r, upd, row(int32(3), int32(40), "c"), row(int32(3), int32(50), "c"))
	if !keysConflict(a, b) {
		t.Error("taking a unique value another row gives up must conflict")
	}
	if keysConflict(a, c) || keysConflict(b, c) {
		t.Error("unrelated rows conflict")
	}
}

func TestExtractNullUnique(t *testing.T) {
	r := pkTable()
	a := keys(t, r, ins, row(int32(1), nil, "a"))
	b := keys(t, r, ins, row(int32(2), nil, "b"))
	if len(a) != 1 || keysConflict(a, b) {
		t.Errorf("NULLs in a unique key must not conflict: %v %v", a, b)
	}
	// Without a primary key, a row whose only unique key is NULL is identified by nothing: the table's wide key.
	nopk := table("db", "n", tableschema.Column{Name: "u", DataType: "int", Nullable: true}, intCol("v"))
	nopk.UniqueKeys = []tableschema.Index{{Name: "u", Columns: []int{0}, Unique: true}}
	nr := rel{nopk, tableMap("db", "n", bInt, bInt)}
	x := keys(t, nr, ins, row(nil, int32(1)))
	y := keys(t, nr, del, row(nil, int32(1)))
	z := keys(t, nr, ins, row(int32(5), int32(1)))
	if !keysConflict(x, y) || len(x) != 1 || !x[0].Wide {
		t.Errorf("NULL-keyed rows: %v %v", x, y)
	}
	if keysConflict(x, z) {
		t.Error("a NULL-keyed row conflicts with a keyed one")
	}
}

func TestExtractCollations(t *testing.T) {
	cases := []struct {
		charset, collation string
		a, b               string
		collide            bool
		wide               bool // a's key is wide
	}{
		{"utf8mb4", "utf8mb4_general_ci", "abc", "ABC", true, false},
		{"utf8mb4", "utf8mb4_general_ci", "abc ", "abc", true, false},
		{"utf8mb4", "utf8mb4_general_ci", "abc", "abd", false, false},
		{"utf8mb4", "utf8mb4_general_ci", "abc\t", "abc", true, true}, // control character: wide
		{"utf8mb4", "utf8mb4_unicode_ci", "straße", "STRASSE", true, true},
		{"utf8mb4", "utf8mb4_unicode_ci", "é", "x", true, true},
		{"utf8mb4", "utf8mb4_0900_ai_ci", "Hello", "hELLO", true, false},
		{"utf8mb4", "utf8mb4_uca1400_ai_ci", "Hello", "hello", true, false},
		{"utf8mb4", "utf8mb4_uca1400_nopad_ai_ci", "Hello", "hello", true, false},
		{"utf8mb3", "utf8_general_ci", "Hello", "hello", true, false},
		{"latin1", "latin1_swedish_ci", "Hello", "hello", true, false},
		{"utf8mb4", "utf8mb4_bin", "abc", "ABC", false, false},
		{"utf8mb4", "utf8mb4_bin", "abc  ", "abc", true, false},
		{"utf8mb4", "utf8mb4_bin", "é", "e", false, false},
		{"utf8mb4", "utf8mb4_nopad_bin", "abc ", "abc", false, false},
		{"utf8mb4", "utf8mb4_lithuanian_ci", "yra", "ira", true, true}, // a tailoring: always wide
		{"utf8mb4", "utf8mb4_swedish_ci", "v", "w", true, true},
		{"ucs2", "ucs2_general_ci", "\x21\x60", "\x21\x70", true, true}, // not ASCII-compatible: always wide
		{"ucs2", "ucs2_bin", "\x00a\x00 ", "\x00a", true, true},
		{"", "", "a", "b", true, true}, // unknown collation
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%q~%q", c.collation, c.a, c.b), func(t *testing.T) {
			tbl := table("db", "s", intCol("id"), textCol("name", c.charset, c.collation))
			tbl.PrimaryKey = []int{0}
			tbl.UniqueKeys = []tableschema.Index{{Name: "n", Columns: []int{1}, Unique: true}}
			r := rel{tbl, tableMap("db", "s", bInt, bVarchar)}
			ka := keys(t, r, ins, row(int32(1), c.a))
			kb := keys(t, r, ins, row(int32(2), []byte(c.b)))
			if got := keysConflict(ka, kb); got != c.collide {
				t.Errorf("collide %v, want %v: %v %v", got, c.collide, ka, kb)
			}
			if ka[1].Wide != c.wide {
				t.Errorf("wide %v, want %v", ka[1].Wide, c.wide)
			}
		})
	}
}

// parentChild: p (id BIGINT UNSIGNED PK, a INT, b INT, KEY (b, a)); c (id INT PK, pid INT, x INT, y INT) with
// FOREIGN KEY (pid) REFERENCES p (id) and FOREIGN KEY (x, y) REFERENCES p (b, a) (a non-unique index, in
// another order).
func parentChild(deleteRule, updateRule string) (p, c rel) {
	pt := table("db", "p", tableschema.Column{Name: "id", DataType: "bigint", Unsigned: true}, intCol("a"), intCol("b"))
	pt.PrimaryKey = []int{0}
	pt.ReferencedBy = []tableschema.IncomingFK{
		{ChildSchema: "db", ChildTable: "c", Name: "fk_id", Columns: []int{0}, DeleteRule: deleteRule, UpdateRule: updateRule},
		{ChildSchema: "db", ChildTable: "c", Name: "fk_ba", Columns: []int{2, 1}, DeleteRule: "RESTRICT", UpdateRule: "RESTRICT"},
	}
	ct := table("db", "c", intCol("id"), intCol("pid"), intCol("x"), intCol("y"))
	ct.PrimaryKey = []int{0}
	ct.ForeignKeys = []tableschema.ForeignKey{
		{Name: "fk_id", Columns: []int{1}, RefSchema: "DB", RefTable: "P", RefColumns: []string{"ID"}},
		{Name: "fk_ba", Columns: []int{2, 3}, RefSchema: "db", RefTable: "p", RefColumns: []string{"b", "a"}},
	}
	return rel{pt, tableMap("db", "p", bBig, bInt, bInt)}, rel{ct, tableMap("db", "c", bInt, bInt, bInt, bInt)}
}

func TestExtractForeignKeys(t *testing.T) {
	p, c := parentChild("RESTRICT", "RESTRICT")
	child := keys(t, c, ins, row(int32(1), int32(5), int32(7), int32(6)))
	for _, x := range []struct {
		name    string
		keys    []Key
		collide bool
	}{
		{"delete of the parent", keys(t, p, del, row(int64(5), int32(0), int32(0))), true},
		{"parent as uint64", keys(t, p, ins, row(uint64(5), int32(0), int32(0))), true},
		{"another parent", keys(t, p, del, row(int64(6), int32(0), int32(0))), false},
		{"parent by (b, a)", keys(t, p, upd, row(int64(9), int32(6), int32(7)), row(int64(9), int32(0), int32(0))), true},
		{"parent by (a, b) swapped", keys(t, p, del, row(int64(9), int32(7), int32(6))), false},
		{"another child of the same parent", keys(t, c, ins, row(int32(2), int32(5), nil, nil)), true},
		{"a child with NULL references", keys(t, c, ins, row(int32(3), nil, nil, int32(6))), false},
	} {
		if got := keysConflict(child, x.keys); got != x.collide {
			t.Errorf("%s: collide %v, want %v", x.name, got, x.collide)
		}
	}
	// go-mysql returns a BIGINT UNSIGNED as a negative int64 without signedness metadata: the target column's
	// signedness fixes it up, so it meets the same value delivered unsigned.
	big1 := keys(t, p, ins, row(int64(-1), int32(0), int32(0)))
	big2 := keys(t, p, del, row(uint64(1<<64-1), int32(1), int32(1)))
	if !keysConflict(big1, big2) {
		t.Error("unsigned fix-up")
	}
}

func TestExtractCascades(t *testing.T) {
	extract := func(r rel, evType replication.EventType, rows ...[]any) bool {
		_, barrier, err := NewExtractor().Add(nil, evType, r.ev(rows...), r.tbl)
		if err != nil {
			t.Fatal(err)
		}
		return barrier
	}
	prow := func(id int64, a, b int32) []any { return row(id, a, b) }
	for _, c := range []struct {
		name               string
		deleteRule, update string
		evType             replication.EventType
		rows               [][]any
		barrier            bool
	}{
		{"delete cascade", "CASCADE", "RESTRICT", del, [][]any{prow(1, 0, 0)}, true},
		{"delete set null", "SET NULL", "RESTRICT", del, [][]any{prow(1, 0, 0)}, true},
		{"delete set default", "SET DEFAULT", "RESTRICT", del, [][]any{prow(1, 0, 0)}, true},
		{"delete restrict", "RESTRICT", "CASCADE", del, [][]any{prow(1, 0, 0)}, false},
		{"delete no action", "NO ACTION", "NO ACTION", del, [][]any{prow(1, 0, 0)}, false},
		{"update of the referenced value, cascade", "RESTRICT", "CASCADE", upd, [][]any{prow(1, 0, 0), prow(2, 0, 0)}, true},
		{"update of the referenced value, set null", "RESTRICT", "SET NULL", upd, [][]any{prow(1, 0, 0), prow(2, 0, 0)}, true},
		{"update of other columns, cascade", "CASCADE", "CASCADE", upd, [][]any{prow(1, 0, 0), prow(1, 3, 4)}, false},
		{"update of the referenced value, restrict", "CASCADE", "RESTRICT", upd, [][]any{prow(1, 0, 0), prow(2, 0, 0)}, false},
		{"insert", "CASCADE", "CASCADE", ins, [][]any{prow(1, 0, 0)}, false},
	} {
		p, _ := parentChild(c.deleteRule, c.update)
		if got := extract(p, c.evType, c.rows...); got != c.barrier {
			t.Errorf("%s: barrier %v, want %v", c.name, got, c.barrier)
		}
	}
}

func TestExtractNoKeyTable(t *testing.T) {
	nk := rel{table("db", "nk", intCol("a"), textCol("b", "utf8mb4", "utf8mb4_general_ci")), tableMap("db", "nk", bInt, bVarchar)}
	other := rel{table("db", "nk2", intCol("a")), tableMap("db", "nk2", bInt)}
	a := keys(t, nk, ins, row(int32(1), "x"))
	b := keys(t, nk, del, row(int32(2), "y"))
	o := keys(t, other, ins, row(int32(1)))
	if len(a) != 1 || !a[0].Wide || !keysConflict(a, b) || keysConflict(a, o) {
		t.Errorf("keyless tables: %v %v %v", a, b, o)
	}
}

func TestExtractMissingColumn(t *testing.T) {
	r := pkTable()
	ev := r.ev(row(int32(1), nil, nil), row(int32(1), nil, "zz"))
	ev.ColumnBitmap1 = bitmap(3, 0)    // minimal before image: the primary key only
	ev.ColumnBitmap2 = bitmap(3, 0, 2) // the changed column
	_, barrier, err := NewExtractor().Add(nil, upd, ev, r.tbl)
	if err != nil || !barrier {
		t.Fatalf("unique key u missing from the images: barrier %v, err %v", barrier, err)
	}
	// Foreign key columns missing: a barrier too.
	_, c := parentChild("RESTRICT", "RESTRICT")
	ev = c.ev(row(int32(1), nil, nil, nil))
	ev.ColumnBitmap1 = bitmap(4, 0)
	if _, barrier, err = NewExtractor().Add(nil, del, ev, c.tbl); err != nil || !barrier {
		t.Fatalf("foreign key columns missing: barrier %v, err %v", barrier, err)
	}
	// A target column the binlog does not have (positional mapping, fewer binlog columns) in a key.
	short := rel{r.tbl, tableMap("db", "t", bInt, bInt)}
	if _, barrier, err = NewExtractor().Add(nil, ins, short.ev(row(int32(1), int32(2))), r.tbl); err != nil || barrier {
		t.Fatalf("name is in no key: barrier %v, err %v", barrier, err)
	}
	r.tbl.UniqueKeys = append(r.tbl.UniqueKeys, tableschema.Index{Name: "n", Columns: []int{2}})
	if _, barrier, err = NewExtractor().Add(nil, ins, short.ev(row(int32(1), int32(2))), r.tbl); err != nil || !barrier {
		t.Fatalf("key column beyond the binlog's: barrier %v, err %v", barrier, err)
	}
}

func TestExtractErrors(t *testing.T) {
	r := pkTable()
	named3 := pkTable().tbl
	named3.UniqueKeys = append(named3.UniqueKeys, tableschema.Index{Name: "n", Columns: []int{2}})
	x := NewExtractor()
	for _, c := range []struct {
		name   string
		evType replication.EventType
		ev     *replication.RowsEvent
		tbl    *tableschema.Table
		want   error
	}{
		{"not a rows event", replication.QUERY_EVENT, r.ev(), r.tbl, ErrBadEvent},
		{"no table", ins, r.ev(), nil, ErrBadEvent},
		{"no table map", ins, &replication.RowsEvent{}, r.tbl, ErrBadEvent},
		{"short row", ins, r.ev(row(int32(1))), r.tbl, ErrBadEvent},
		{"odd update", upd, r.ev(row(int32(1), nil, "a")), r.tbl, ErrBadEvent},
		{"update v0", replication.UPDATE_ROWS_EVENTv0, r.ev(), r.tbl, ErrBadEvent},
		{"more columns than the target", ins, rel{r.tbl, tableMap("db", "t", bInt, bInt, bVarchar, bInt)}.ev(
			row(int32(1), nil, "a", int32(2))), r.tbl, rowsql.ErrColumnMismatch},
		{"named column the target lacks", ins, rel{r.tbl, tableMap("db", "t", named("id", bInt), named("zz", bInt))}.ev(
			row(int32(1), int32(2))), r.tbl, rowsql.ErrColumnMismatch},
		{"duplicate names", ins, rel{r.tbl, tableMap("db", "t", named("id", bInt), named("ID", bInt))}.ev(
			row(int32(1), int32(2))), r.tbl, rowsql.ErrColumnMismatch},
		{"value of an unknown type", ins, r.ev(row(struct{}{}, nil, "a")), r.tbl, rowsql.ErrUnsupportedType},
		{"string value of an unknown type", ins, r.ev(row(int32(1), nil, 42)), named3, ErrUnsupportedValue},
	} {
		in := []Key{{Hash: 1, Space: 1}}
		out, barrier, err := x.Add(in, c.evType, c.ev, c.tbl)
		if !errors.Is(err, c.want) || barrier || !reflect.DeepEqual(out, in) {
			t.Errorf("%s: got %v %v %v, want %v", c.name, out, barrier, err, c.want)
		}
	}
	// By name, a column the target lacks is fine while no image carries it.
	tm := tableMap("db", "t", named("ID", bInt), named("gone", bInt), named("u", bInt))
	ev := &replication.RowsEvent{Table: tm, ColumnCount: 3, Rows: [][]any{row(int32(1), nil, int32(4))}, ColumnBitmap1: bitmap(3, 0, 2)}
	if out, barrier, err := x.Add(nil, ins, ev, r.tbl); err != nil || barrier || len(out) != 2 {
		t.Errorf("by name: %v %v %v", out, barrier, err)
	}
}

func TestExtractValueNormalisation(t *testing.T) {
	one := func(c tableschema.Column, b bcol, v1, v2 any) bool {
		tbl := table("db", "v", intCol("id"), c)
		tbl.PrimaryKey = []int{0}
		tbl.UniqueKeys = []tableschema.Index{{Name: "k", Columns: []int{1}}}
		r := rel{tbl, tableMap("db", "v", bInt, b)}
		return keysConflict(keys(t, r, ins, row(int32(1), v1)), keys(t, r, ins, row(int32(2), v2)))
	}
	binary4 := tableschema.Column{Name: "b", DataType: "binary", OctetLength: 4}
	varbin := tableschema.Column{Name: "b", DataType: "varbinary", OctetLength: 4}
	dbl := tableschema.Column{Name: "d", DataType: "double"}
	dec := tableschema.Column{Name: "d", DataType: "decimal"}
	date := tableschema.Column{Name: "d", DataType: "date"}
	dt := tableschema.Column{Name: "d", DataType: "datetime", FSP: 3}
	for _, c := range []struct {
		name    string
		col     tableschema.Column
		b       bcol
		v1, v2  any
		collide bool
	}{
		{"BINARY pads", binary4, bBinary4, "ab", []byte("ab\x00\x00"), true},
		{"BINARY is case-sensitive", binary4, bBinary4, "ab", "AB", false},
		{"VARBINARY does not pad", varbin, bVarchar, "ab", "ab\x00", false},
		{"-0 is 0", dbl, bDouble, float64(0), math0(), true},
		{"doubles", dbl, bDouble, 1.5, 1.25, false},
		{"decimal scale", dec, bDecimal, decimal.RequireFromString("1.50"), decimal.RequireFromString("1.5"), true},
		{"decimal text", dec, bDecimal, "1.50", decimal.RequireFromString("1.5"), true},
		{"decimal -0", dec, bDecimal, "-0.00", "0.00", true},
		{"decimal values", dec, bDecimal, "1.05", "1.5", false},
		{"dates", date, bDate, "2024-01-10", "2024-01-01", false},
		{"fraction zeros", dt, bDT3, "2024-01-01 10:00:00.000", "2024-01-01 10:00:00", true},
		{"fractions", dt, bDT3, "2024-01-01 10:00:00.100", "2024-01-01 10:00:00.010", false},
	} {
		if got := one(c.col, c.b, c.v1, c.v2); got != c.collide {
			t.Errorf("%s: collide %v, want %v", c.name, got, c.collide)
		}
	}
}

func math0() float64 { z := 0.0; return -z }

func TestExtractSpecialKeys(t *testing.T) {
	// A prefix key: values equal in their first 3 characters collide.
	pt := table("db", "pf", intCol("id"), textCol("name", "utf8mb4", "utf8mb4_general_ci"),
		tableschema.Column{Name: "b", DataType: "varbinary", Nullable: true})
	pt.PrimaryKey = []int{0}
	pt.UniqueKeys = []tableschema.Index{{Name: "n3", Columns: []int{1}, Prefix: []int{3}}, {Name: "b2", Columns: []int{2}, Prefix: []int{2}}}
	pr := rel{pt, tableMap("db", "pf", bInt, bVarchar, bVarchar)}
	k := func(id int32, name string, b any) []Key { return keys(t, pr, ins, row(id, name, b)) }
	if !keysConflict(k(1, "abcdef", nil), k(2, "ABCxyz", nil)) || keysConflict(k(1, "abc", nil), k(2, "abd", nil)) ||
		!keysConflict(k(1, "éa", nil), k(2, "zzz", nil)) || !keysConflict(k(1, "a", "xy1"), k(2, "b", "xy2")) ||
		!keysConflict(k(1, "ab ", nil), k(2, "ab", nil)) {
		t.Error("prefix keys")
	}

	// WITHOUT OVERLAPS: same id collides whatever the period; NULL id never.
	ot := table("db", "o", tableschema.Column{Name: "id", DataType: "int", Nullable: true},
		tableschema.Column{Name: "s", DataType: "date"}, tableschema.Column{Name: "e", DataType: "date"})
	ot.UniqueKeys = []tableschema.Index{{Name: "uo", Columns: []int{0, 2, 1}, WithoutOverlaps: true}}
	or := rel{ot, tableMap("db", "o", bInt, bDate, bDate)}
	o1 := keys(t, or, ins, row(int32(1), "2024-01-01", "2024-02-01"))
	o2 := keys(t, or, ins, row(int32(1), "2024-01-15", "2024-03-01"))
	o3 := keys(t, or, ins, row(int32(2), "2024-01-15", "2024-03-01"))
	if !keysConflict(o1, o2) || keysConflict(o1, o3) {
		t.Errorf("WITHOUT OVERLAPS: %v %v %v", o1, o2, o3)
	}
	// A WITHOUT OVERLAPS key of the period alone, and a functional key: every row of the table collides.
	ot.UniqueKeys = []tableschema.Index{{Name: "p", Columns: []int{2, 1}, WithoutOverlaps: true}}
	or = rel{ot, tableMap("db", "o", bInt, bDate, bDate)}
	if !keysConflict(keys(t, or, ins, row(int32(1), "2024-01-01", "2024-02-01")),
		keys(t, or, ins, row(int32(2), "2025-01-01", "2025-02-01"))) {
		t.Error("period-only key")
	}
	ft := table("db", "f", intCol("id"), textCol("email", "utf8mb4", "utf8mb4_bin"))
	ft.PrimaryKey = []int{0}
	ft.FunctionalUniqueKeys = []string{"u_lower"}
	fr := rel{ft, tableMap("db", "f", bInt, bVarchar)}
	if !keysConflict(keys(t, fr, ins, row(int32(1), "a@x")), keys(t, fr, ins, row(int32(2), "A@X"))) {
		t.Error("functional key")
	}

	// A generated column in a unique key: its logged value is used.
	gt := table("db", "g", intCol("id"), intCol("a"), tableschema.Column{Name: "g", DataType: "int", Generated: true})
	gt.PrimaryKey = []int{0}
	gt.UniqueKeys = []tableschema.Index{{Name: "ug", Columns: []int{2}}}
	gr := rel{gt, tableMap("db", "g", bInt, bInt, bInt)}
	if !keysConflict(keys(t, gr, ins, row(int32(1), int32(2), int32(4))), keys(t, gr, ins, row(int32(2), int32(4), int32(4)))) {
		t.Error("generated unique column")
	}
}

// Keys of several events accumulate; the extractor's caches do not mix tables up.
func TestExtractorReuse(t *testing.T) {
	r := pkTable()
	p, c := parentChild("RESTRICT", "RESTRICT")
	x := NewExtractor()
	var ks []Key
	var err error
	for i := 0; i < 3; i++ {
		for _, e := range []struct {
			r   rel
			row []any
		}{{r, row(int32(1), int32(2), "a")}, {p, row(int64(1), int32(1), int32(1))}, {c, row(int32(1), int32(1), nil, nil)}} {
			if ks, _, err = x.Add(ks, ins, e.r.ev(e.row), e.r.tbl); err != nil {
				t.Fatal(err)
			}
		}
	}
	one := append(append(append([]Key(nil), keys(t, r, ins, row(int32(1), int32(2), "a"))...),
		keys(t, p, ins, row(int64(1), int32(1), int32(1)))...), keys(t, c, ins, row(int32(1), int32(1), nil, nil))...)
	if want := append(append(append([]Key(nil), one...), one...), one...); !reflect.DeepEqual(ks, want) {
		t.Errorf("got %v\nwant %v", ks, want)
	}
}

// A new table map per transaction with the same columns reuses the mapping; one with the columns named in another
// order maps them again.
func TestExtractorTableMapChange(t *testing.T) {
	r := pkTable()
	x := NewExtractor()
	tm1 := tableMap("db", "t", named("id", bInt), named("u", bInt), named("name", bVarchar))
	tm2 := tableMap("db", "t", named("id", bInt), named("u", bInt), named("name", bVarchar))
	tm3 := tableMap("db", "t", named("name", bVarchar), named("u", bInt), named("id", bInt))
	get := func(tm *replication.TableMapEvent, v ...any) []Key {
		k, _, err := x.Add(nil, ins, &replication.RowsEvent{Table: tm, ColumnCount: 3, Rows: [][]any{v}}, r.tbl)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a := get(tm1, int32(1), int32(2), "x")
	if m := x.maps[mapKey{r.tbl, 3}]; m.tm != tm1 {
		t.Fatal("not cached")
	}
	if b := get(tm2, int32(1), int32(2), "x"); !reflect.DeepEqual(a, b) || x.maps[mapKey{r.tbl, 3}].tm != tm1 {
		t.Errorf("same columns: %v %v", a, b)
	}
	if c := get(tm3, "x", int32(2), int32(1)); !reflect.DeepEqual(a, c) || x.maps[mapKey{r.tbl, 3}].tm != tm3 {
		t.Errorf("reordered columns: %v %v", a, c)
	}
}

func TestTableSchemas(t *testing.T) {
	tbl := &tableschema.Table{Schema: "App", ForeignKeys: []tableschema.ForeignKey{{RefSchema: "ref"}, {RefSchema: "app"}},
		ReferencedBy: []tableschema.IncomingFK{{ChildSchema: "kids"}, {ChildSchema: "REF"}}}
	if got := TableSchemas([]string{"x"}, tbl); !reflect.DeepEqual(got, []string{"x", "app", "ref", "kids"}) {
		t.Errorf("got %v", got)
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"1.500": "1.5", "1.000": "1", "-0.00": "0", "-0": "0", "100": "100", "'2024-01-10'": "2024-01-10",
		"'10:00:00.000'": "10:00:00", "1.5e+20": "1.5e+20", "'-00:00:01.50'": "-00:00:01.5", "0.0": "0", "-1.10": "-1.1",
	} {
		buf := append([]byte("xx"), in...)
		if got := string(canonical(buf, 2)); got != "xx"+want {
			t.Errorf("canonical(%q) = %q, want %q", in, got[2:], want)
		}
	}
}

// TestDocExample runs the example of the package documentation through an Extractor and a Tracker.
func TestDocExample(t *testing.T) {
	tbl := table("db", "t", intCol("id"), textCol("email", "utf8mb4", "utf8mb4_general_ci"))
	tbl.PrimaryKey = []int{0}
	tbl.UniqueKeys = []tableschema.Index{{Name: "email", Columns: []int{1}, Unique: true}}
	r := rel{tbl, tableMap("db", "t", bInt, bVarchar)}
	tr := NewTracker(WriteSet, 0)
	var deps []uint64
	for i, c := range []struct {
		evType  replication.EventType
		rows    [][]any
		barrier bool
	}{
		{ins, [][]any{row(int32(1), "a@x")}, false},
		{ins, [][]any{row(int32(2), "b@x")}, false},
		{upd, [][]any{row(int32(1), "a@x"), row(int32(1), "c@x ")}, false},
		{ins, [][]any{row(int32(3), "A@X")}, false},
		{0, nil, true},
		{ins, [][]any{row(int32(4), "C@X")}, false},
	} {
		d := Txn{Seq: uint64(i + 1), Barrier: c.barrier}
		if !c.barrier {
			var err error
			if d.Keys, d.Barrier, err = NewExtractor().Add(nil, c.evType, r.ev(c.rows...), tbl); err != nil {
				t.Fatal(err)
			}
		}
		deps = append(deps, tr.Add(&d))
	}
	if want := []uint64{0, 0, 1, 3, 4, 5}; !reflect.DeepEqual(deps, want) {
		t.Errorf("deps %v, want %v", deps, want)
	}
}

// TestExtractHiddenFunctionalIndexColumn: MySQL's hidden functional-index column is in the image, not on the
// target: it is ignored, and the row keys on its primary key as usual.
func TestExtractHiddenFunctionalIndexColumn(t *testing.T) {
	tbl := table("db", "h", intCol("a"), intCol("b"))
	tbl.PrimaryKey = []int{0}
	withHidden := rel{tbl, tableMap("db", "h", named("a", bInt), named("!hidden!i!0!0", bBig), named("b", bInt))}
	plain := rel{tbl, tableMap("db", "h", named("a", bInt), named("b", bInt))}
	got := keys(t, withHidden, ins, row(int32(1), int64(2), int32(3)))
	want := keys(t, plain, ins, row(int32(1), int32(3)))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
}
