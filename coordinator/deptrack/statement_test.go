package deptrack

import (
	"fmt"
	"testing"

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

func TestStatementTables(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want string // fmt of the tables; "" = not bounded
	}{
		{"INSERT INTO t (a) VALUES (1)", "[{db t}]"},
		{"insert into other.T values (RAND(), NOW(), LAST_INSERT_ID()+1, @x)", "[{other T}]"},
		{"REPLACE INTO agg SELECT 1, k, v FROM src WHERE k IN (SELECT k FROM db2.keep)", "[{db src} {db2 keep} {db agg}]"},
		{"UPDATE t SET v = v + 1 WHERE id = 5", "[{db t}]"},
		{"UPDATE a JOIN b ON a.id = b.id SET a.v = b.v", "[{db a} {db b}]"},
		{"DELETE FROM t WHERE id % 7 = 3 ORDER BY id LIMIT 2", "[{db t}]"},
		{"DELETE a FROM a JOIN b USING (id)", "[{db a} {db b}]"},
		{"INSERT INTO t VALUES (1, 'x') ON DUPLICATE KEY UPDATE v = VALUES(v) + 1", "[{db t}]"},
		{"INSERT INTO t VALUES (CONCAT('a', UPPER('b')), COALESCE(NULL, 1))", "[{db t}]"},
		// Not bounded: other statements, stored functions, sequences, CTEs, parse failures.
		{"CREATE TABLE t (id INT)", ""},
		{"SELECT * FROM t", ""},
		{"INSERT INTO t VALUES (my_func(1))", ""},
		{"INSERT INTO t VALUES (db.f(1))", ""},
		{"INSERT INTO t VALUES (NEXTVAL(seq))", ""},
		{"INSERT INTO t WITH x AS (SELECT 1) SELECT * FROM x", ""},
		{"INSERT INTO t VALUES (1) RETURNING id", ""},
		{"CREATE OR REPLACE TABLE t (id INT)", ""},
		{"INSERT INTO t VALUES (1); DELETE FROM u", ""},
		{"LOAD DATA INFILE 'x' INTO TABLE t", ""},
	} {
		tables, ok := StatementTables(c.sql, "db")
		got := ""
		if ok {
			got = fmt.Sprint(tables)
		}
		if got != c.want {
			t.Errorf("%q: %q, want %q", c.sql, got, c.want)
		}
	}
	if _, ok := StatementTables("INSERT INTO t VALUES (1)", ""); ok {
		t.Error("an unqualified table without a default schema was bounded")
	}
}

func TestTableKeys(t *testing.T) {
	x := NewExtractor()
	r := pkTable()
	stmt, barrier := x.TableKeys(nil, r.tbl)
	if barrier || len(stmt) == 0 {
		t.Fatalf("pk table: keys %v, barrier %v", stmt, barrier)
	}
	other := table("db", "other", intCol("id"))
	other.PrimaryKey = []int{0}
	otherKeys, _ := x.TableKeys(nil, other)
	for _, c := range []struct {
		name    string
		keys    []Key
		collide bool
	}{
		{"row insert", keys(t, r, ins, row(int32(9), nil, "x")), true},
		{"row update of the unique key", keys(t, r, upd, row(int32(1), int32(1), "a"), row(int32(1), int32(2), "a")), true},
		{"a statement on the same table", stmt, true},
		{"a statement on another table", otherKeys, false},
	} {
		if got := keysConflict(stmt, c.keys); got != c.collide {
			t.Errorf("%s: collide %v, want %v", c.name, got, c.collide)
		}
	}
	// A child's statement meets the parent's rows through the foreign key space.
	p, c := parentChild("RESTRICT", "RESTRICT")
	childStmt, barrier := x.TableKeys(nil, c.tbl)
	if barrier {
		t.Fatal("child table: barrier")
	}
	if !keysConflict(childStmt, keys(t, p, del, row(int64(5), int32(0), int32(0)))) {
		t.Error("a statement on the child does not meet a delete of a parent row")
	}
	// Cascades reach tables the statement does not name; no primary key: a view, a temporary table.
	pc, _ := parentChild("CASCADE", "RESTRICT")
	pu, _ := parentChild("RESTRICT", "SET NULL")
	nokey := table("db", "v", intCol("a"))
	for name, tbl := range map[string]*tableschema.Table{"on delete cascade": pc.tbl, "on update set null": pu.tbl, "no primary key": nokey, "unknown": nil} {
		if _, barrier := x.TableKeys(nil, tbl); !barrier {
			t.Errorf("%s: not a barrier", name)
		}
	}
}
