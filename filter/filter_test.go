package filter

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/coordinator"
)

func mustNew(t *testing.T, r Rules) *Filter {
	t.Helper()
	f, err := New(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestTableRules walks MySQL's evaluation order for row-based events.
func TestTableRules(t *testing.T) {
	cases := []struct {
		name  string
		rules Rules
		keep  []string // db.table kept
		drop  []string // db.table dropped
	}{
		{"no rules", Rules{}, []string{"a.t", "b.u"}, []string{"mysql.user", "mysql.gtid_slave_pos"}},
		{"system schema asked for", Rules{ReplicateSystemSchema: true}, []string{"mysql.user", "a.t"}, nil},
		{"do-db", Rules{DoDB: []string{"a"}}, []string{"a.t"}, []string{"b.t", "A.t", "mysql.user"}},
		{"do-db wins over ignore-db", Rules{DoDB: []string{"a"}, IgnoreDB: []string{"a"}}, []string{"a.t"}, []string{"b.t"}},
		{"ignore-db", Rules{IgnoreDB: []string{"b"}}, []string{"a.t"}, []string{"b.t"}},
		{"do-table", Rules{DoTable: []string{"a.t"}}, []string{"a.t"}, []string{"a.u", "b.t"}},
		{"ignore-table", Rules{IgnoreTable: []string{"a.t"}}, []string{"a.u", "b.t"}, []string{"a.t"}},
		{"do-table before ignore-table", Rules{DoTable: []string{"a.t"}, IgnoreTable: []string{"a.t"}}, []string{"a.t"}, []string{"a.u"}},
		{"ignore-table before wild-do", Rules{IgnoreTable: []string{"a.t"}, WildDoTable: []string{"a.%"}}, []string{"a.u"}, []string{"a.t", "b.t"}},
		{"wild-do before wild-ignore", Rules{WildDoTable: []string{"a.t%"}, WildIgnoreTable: []string{"a.%"}}, []string{"a.t1", "a.T2"}, []string{"a.u", "b.t"}},
		{"wild-ignore only", Rules{WildIgnoreTable: []string{"%.tmp\\_%"}}, []string{"a.tmpx", "a.t"}, []string{"a.tmp_1", "b.TMP_x"}},
		{"wild underscore", Rules{WildDoTable: []string{"db_.%"}}, []string{"db1.t", "dbx.t"}, []string{"db.t", "db12.t"}},
		{"db rule before table rule", Rules{IgnoreDB: []string{"a"}, DoTable: []string{"a.t"}}, nil, []string{"a.t", "b.t"}},
		{"rewrite before rules", Rules{RewriteDB: []string{"a->b"}, DoDB: []string{"b"}}, []string{"a.t", "b.t"}, []string{"c.t"}},
		{"rewrite then table rule", Rules{RewriteDB: []string{"a->b"}, DoTable: []string{"b.t"}}, []string{"a.t"}, []string{"a.u"}},
		{"rewrite into mysql", Rules{RewriteDB: []string{"a->mysql"}}, nil, []string{"a.t"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mustNew(t, c.rules)
			for _, want := range []struct {
				names []string
				keep  bool
			}{{c.keep, true}, {c.drop, false}} {
				for _, n := range want.names {
					db, tbl, _ := strings.Cut(n, ".")
					if got, _ := f.Table(db, tbl); got != want.keep {
						t.Errorf("Table(%s) = %v, want %v", n, got, want.keep)
					}
				}
			}
		})
	}
}

func TestStatementRules(t *testing.T) {
	f := mustNew(t, Rules{DoDB: []string{"a", "b"}, RewriteDB: []string{"old->a"}})
	for _, c := range []struct {
		db, q  string
		keep   bool
		target string
	}{
		{"a", "CREATE TABLE t (id int)", true, "a"},
		{"c", "CREATE TABLE a.t (id int)", false, "c"}, // default database rule, as MySQL's statement-based filtering
		{"old", "CREATE TABLE t (id int)", true, "a"},
		{"", "CREATE DATABASE x", false, ""},
		{"a", "GRANT SELECT ON a.* TO u", false, "a"},
	} {
		keep, db := f.Statement(c.db, c.q)
		if keep != c.keep || db != c.target {
			t.Errorf("Statement(%q, %q) = %v, %q; want %v, %q", c.db, c.q, keep, db, c.keep, c.target)
		}
	}
	all := mustNew(t, Rules{})
	if keep, _ := all.Statement("", "CREATE DATABASE x"); !keep {
		t.Error("no rules: a statement without default database is dropped")
	}
	if keep, _ := all.Statement("mysql", "UPDATE user SET x=1"); keep {
		t.Error("a statement in the mysql schema is replicated")
	}
	if keep, _ := mustNew(t, Rules{ReplicateSystemSchema: true}).Statement("a", "CREATE USER u"); !keep {
		t.Error("ReplicateSystemSchema: CREATE USER dropped")
	}
}

func TestIsAccountStatement(t *testing.T) {
	yes := []string{"CREATE USER 'u'@'%' IDENTIFIED BY 'x'", "create or replace user u", "ALTER USER u", "DROP USER IF EXISTS u",
		"RENAME USER a TO b", "GRANT ALL ON *.* TO u", "  revoke select on a.* from u", "SET PASSWORD FOR u = PASSWORD('x')",
		"CREATE ROLE r", "DROP ROLE r", "SET DEFAULT ROLE r FOR u", "FLUSH PRIVILEGES", "flush no_write_to_binlog privileges",
		"/* comment */ GRANT SELECT ON a.* TO u", "/*!50706 CREATE USER u*/", "# x\nGRANT SELECT ON a.* TO u"}
	no := []string{"CREATE TABLE user (id int)", "INSERT INTO grants VALUES (1)", "SET @x = 1", "FLUSH TABLES",
		"DROP TABLE roles", "ALTER TABLE user ADD c int", "", "BEGIN", "UPDATE t SET password='x'"}
	for _, q := range yes {
		if !IsAccountStatement(q) {
			t.Errorf("IsAccountStatement(%q) = false", q)
		}
	}
	for _, q := range no {
		if IsAccountStatement(q) {
			t.Errorf("IsAccountStatement(%q) = true", q)
		}
	}
}

func TestRuleErrors(t *testing.T) {
	_, err := New(Rules{DoTable: []string{"t"}, IgnoreTable: []string{"a."}, WildDoTable: []string{"nodot"},
		RewriteDB: []string{"a=>b", "x->y", "x->z"}, DoDB: []string{""}}, nil)
	if !errors.Is(err, ErrRule) {
		t.Fatalf("err = %v, want ErrRule", err)
	}
	for _, want := range []string{"replicate_do_table=\"t\"", "replicate_ignore_table=\"a.\"", "replicate_wild_do_table=\"nodot\"",
		"replicate_rewrite_db=\"a=>b\"", "replicate_rewrite_db=\"x->z\"", "replicate_do_db=\"\""} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestWildMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		ok   bool
	}{
		{"%", "", true}, {"%", "abc", true}, {"a%c", "abbbc", true}, {"a%c", "abcd", false}, {"a_c", "abc", true},
		{"a_c", "ac", false}, {"a\\_c", "a_c", true}, {"a\\_c", "abc", false}, {"%x%", "aaxbb", true}, {"ABC", "abc", true},
		{"a%%b", "ab", true}, {"a\\%", "a%", true}, {"a\\%", "ab", false},
	} {
		if got := wildMatch([]rune(c.p), []rune(c.s)); got != c.ok {
			t.Errorf("wildMatch(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

// event helpers for Apply
func tableMap(id uint64, db, tbl string) *replication.BinlogEvent {
	return &replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.TABLE_MAP_EVENT},
		Event: &replication.TableMapEvent{TableID: id, Schema: []byte(db), Table: []byte(tbl)}}
}

func rows(tm *replication.BinlogEvent) *replication.BinlogEvent {
	m := tm.Event.(*replication.TableMapEvent)
	return &replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.WRITE_ROWS_EVENTv1},
		Event: &replication.RowsEvent{TableID: m.TableID, Table: m}}
}

func query(db, q string) *replication.BinlogEvent {
	return &replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.QUERY_EVENT},
		Event: &replication.QueryEvent{Schema: []byte(db), Query: []byte(q)}}
}

func gtidEv() *replication.BinlogEvent {
	return &replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.MARIADB_GTID_EVENT},
		Event: &replication.MariadbGTIDEvent{}}
}

func intvar() *replication.BinlogEvent {
	return &replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.INTVAR_EVENT},
		Event: &replication.IntVarEvent{Type: replication.INSERT_ID, Value: 7}}
}

func xid() *replication.BinlogEvent {
	return &replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.XID_EVENT}, Event: &replication.XIDEvent{}}
}

func describe(evs []*replication.BinlogEvent) string {
	var b []string
	for _, ev := range evs {
		switch e := ev.Event.(type) {
		case *replication.TableMapEvent:
			b = append(b, "map:"+string(e.Schema)+"."+string(e.Table))
		case *replication.RowsEvent:
			b = append(b, "rows:"+string(e.Table.Schema)+"."+string(e.Table.Table))
		case *replication.QueryEvent:
			b = append(b, "query:"+string(e.Schema)+":"+string(e.Query))
		case *replication.IntVarEvent:
			b = append(b, "intvar")
		case *replication.MariadbGTIDEvent:
			b = append(b, "gtid")
		case *replication.XIDEvent:
			b = append(b, "xid")
		}
	}
	return strings.Join(b, " ")
}

func TestApply(t *testing.T) {
	keepMap, dropMap := tableMap(1, "a", "t"), tableMap(2, "c", "secret")
	f2 := mustNew(t, Rules{IgnoreTable: []string{"c.secret"}, RewriteDB: []string{"a->b"}})
	txn := &coordinator.Txn{Events: []*replication.BinlogEvent{gtidEv(), query("a", "BEGIN"), keepMap, dropMap,
		rows(keepMap), rows(dropMap), rows(keepMap), xid()}}
	if !f2.Apply(txn) {
		t.Error("Apply reported no change")
	}
	if got, want := describe(txn.Events), "gtid query:a:BEGIN map:b.t rows:b.t rows:b.t xid"; got != want {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}
	if s := f2.Stats(); s.RowsEventsDropped != 1 || s.SchemasRewritten != 1 || s.TransactionsEmptied != 0 {
		t.Errorf("stats %+v", s)
	}

	// everything filtered: the transaction keeps its GTID, BEGIN and XID and counts as emptied
	m := tableMap(3, "mysql", "user")
	txn = &coordinator.Txn{Events: []*replication.BinlogEvent{gtidEv(), query("", "BEGIN"), m, rows(m), xid()}}
	f2.Apply(txn)
	if got, want := describe(txn.Events), "gtid query::BEGIN xid"; got != want {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}
	if s := f2.Stats(); s.TransactionsEmptied != 1 {
		t.Errorf("stats %+v", s)
	}

	// a DDL statement in a filtered database: no longer a statement transaction
	f3 := mustNew(t, Rules{DoDB: []string{"app"}})
	txn = &coordinator.Txn{Statement: true, Events: []*replication.BinlogEvent{gtidEv(), query("other", "CREATE TABLE t (id int)")}}
	f3.Apply(txn)
	if txn.Statement || describe(txn.Events) != "gtid" {
		t.Errorf("statement %v, events %s", txn.Statement, describe(txn.Events))
	}
	// statement DML with its INSERT_ID: both go together, or stay together
	txn = &coordinator.Txn{Events: []*replication.BinlogEvent{gtidEv(), query("app", "BEGIN"), intvar(),
		query("other", "INSERT INTO t VALUES (NULL)"), intvar(), query("app", "INSERT INTO t VALUES (NULL)"), xid()}}
	f3.Apply(txn)
	if got, want := describe(txn.Events), "gtid query:app:BEGIN intvar query:app:INSERT INTO t VALUES (NULL) xid"; got != want {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}
	// transaction control statements stay, whatever their default database
	txn = &coordinator.Txn{Events: []*replication.BinlogEvent{gtidEv(), query("other", "BEGIN"), query("other", "SAVEPOINT s1"),
		query("other", "INSERT INTO t VALUES (1)"), query("other", "ROLLBACK TO SAVEPOINT s1"), query("other", "XA END 'x'"), xid()}}
	f3.Apply(txn)
	if got, want := describe(txn.Events), "gtid query:other:BEGIN query:other:SAVEPOINT s1 query:other:ROLLBACK TO SAVEPOINT s1 query:other:XA END 'x' xid"; got != want {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}
	// no rules, ordinary transaction: untouched
	m = tableMap(4, "app", "t")
	txn = &coordinator.Txn{Events: []*replication.BinlogEvent{gtidEv(), query("", "BEGIN"), m, rows(m), xid()}}
	before := describe(txn.Events)
	if mustNew(t, Rules{}).Apply(txn) || describe(txn.Events) != before {
		t.Errorf("unfiltered transaction changed: %s", describe(txn.Events))
	}
}
