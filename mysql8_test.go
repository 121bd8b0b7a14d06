package mtreplica_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/internal/binlogenc"
	"github.com/mtreplica/mtreplica/internal/fakesource"
	"github.com/mtreplica/mtreplica/internal/gtid"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

const mysql8UUID = "5b3c6a8e-1f2d-11ef-9a41-0242ac120002"

// mysql8Stream builds two MySQL 8.0 binlog files. The first creates a schema
// and a table with DDL query events, then runs groups of transactions the
// logical clock marks as independent (same last_committed), some wrapped in
// zstd TRANSACTION_PAYLOAD events, and transactions that depend on all before
// them. The second file restarts the clock, as every new file does. It returns
// the files and the number of GTIDs.
func mysql8Stream() (files [][]byte, names []string, gtids int64) {
	sid := binlogenc.UUID(mysql8UUID)
	items := &binlogenc.TableMap{TableID: 101, Schema: "shop", Table: "items", Metadata: true, PrimaryKey: []int{0},
		Columns: []binlogenc.Column{
			{Name: "id", Type: mysql.MYSQL_TYPE_LONG},
			{Name: "name", Type: mysql.MYSQL_TYPE_VARCHAR, Meta: 400},
			{Name: "qty", Type: mysql.MYSQL_TYPE_LONG, Nullable: true},
			{Name: "made", Type: mysql.MYSQL_TYPE_DATETIME2, Meta: 3},
		}}
	slow := &binlogenc.TableMap{TableID: 102, Schema: "par", Table: "slow", Metadata: true, PrimaryKey: []int{0},
		Columns: []binlogenc.Column{{Name: "id", Type: mysql.MYSQL_TYPE_LONG}, {Name: "note", Type: mysql.MYSQL_TYPE_VARCHAR, Meta: 80}}}
	status := new(binlogenc.StatusVars).Flags2(0).SQLMode(1<<21|1<<30).Catalog("std").AutoIncrement(1, 1).
		Charset(45, 45, 45).CharsetDatabase(45).Bytes() // utf8mb4_general_ci: an id MySQL 8 and MariaDB share

	var gno int64
	commit := time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC)
	gtidEv := func(enc *binlogenc.Encoder, lc, seq int64) []byte {
		gno++
		commit = commit.Add(time.Millisecond)
		return enc.GTID(binlogenc.GTID{SID: sid, GNO: gno, LastCommitted: lc, SequenceNumber: seq, ImmediateCommit: commit})
	}
	xid := uint64(1000)
	// txn appends one row transaction: plain or in a compressed payload.
	txn := func(file []byte, enc *binlogenc.Encoder, lc, seq int64, compressed bool, tm *binlogenc.TableMap,
		t replication.EventType, rows ...[]any) []byte {
		file = append(file, gtidEv(enc, lc, seq)...)
		xid++
		in := enc
		if compressed {
			in = enc.Inner()
		}
		body := [][]byte{in.Begin(), in.TableMap(tm),
			in.MustRows(&binlogenc.Rows{Type: t, Table: tm, Flags: replication.RowsEventStmtEndFlag, Rows: rows}), in.XID(xid)}
		if compressed {
			return append(file, enc.TransactionPayload(body...)...)
		}
		return binlogenc.Append(file, body...)
	}
	ddl := func(file []byte, enc *binlogenc.Encoder, lc, seq int64, schema, sql string) []byte {
		return binlogenc.Append(file, gtidEv(enc, lc, seq), enc.Query(binlogenc.Query{Schema: schema, SQL: sql, StatusVars: status}))
	}
	at := func(s string) string { return "2026-11-24 " + s }

	// binlog.000001
	now := uint32(time.Now().Unix())
	enc := binlogenc.New(binlogenc.MySQL8, 1)
	enc.Timestamp = now
	f := enc.File()
	f = ddl(f, enc, 0, 1, "", "CREATE DATABASE shop")
	f = ddl(f, enc, 1, 2, "shop", "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, qty INT, made DATETIME(3) NOT NULL)")
	// Four independent transactions (last_committed 2): the target's triggers make each take 300 ms.
	for i := int64(1); i <= 4; i++ {
		f = txn(f, enc, 2, 2+i, i%2 == 0, slow, replication.WRITE_ROWS_EVENTv2, []any{int32(i), fmt.Sprintf("group-%d", i)})
	}
	// One that depends on all four (last_committed 6).
	f = txn(f, enc, 6, 7, true, slow, replication.WRITE_ROWS_EVENTv2, []any{int32(5), "after"})
	// Independent inserts into shop.items, then dependent updates and a delete.
	for i := int64(1); i <= 6; i++ {
		f = txn(f, enc, 7, 7+i, i%3 == 0, items, replication.WRITE_ROWS_EVENTv2,
			[]any{int32(i), fmt.Sprintf("item %d", i), int32(i * 10), at(fmt.Sprintf("07:00:0%d.%03d", i, i))},
			[]any{int32(100 + i), "bulk", nil, at("07:01:00")})
	}
	f = txn(f, enc, 13, 14, true, items, replication.UPDATE_ROWS_EVENTv2,
		[]any{int32(1), "item 1", int32(10), at("07:00:01.001")}, []any{int32(1), "item one", int32(11), at("07:00:01.001")},
		[]any{int32(2), "item 2", int32(20), at("07:00:02.002")}, []any{int32(2), "item two", nil, at("07:00:02.002")})
	f = txn(f, enc, 14, 15, false, items, replication.DELETE_ROWS_EVENTv2, []any{int32(101), "bulk", nil, at("07:01:00")})
	f = append(f, enc.Rotate("binlog.000002", 4)...)
	files, names = append(files, f), append(names, "binlog.000001")

	// binlog.000002: the clock restarts at 1.
	enc = binlogenc.New(binlogenc.MySQL8, 1)
	enc.Timestamp = now
	prev, _ := mysql.ParseMysqlGTIDSet(fmt.Sprintf("%s:1-%d", mysql8UUID, gno))
	f = binlogenc.Append(binlogenc.Magic(), enc.FormatDescription(), enc.PreviousGTIDs(prev.(*mysql.MysqlGTIDSet)))
	for i := int64(1); i <= 3; i++ {
		f = txn(f, enc, 0, i, i == 2, items, replication.UPDATE_ROWS_EVENTv2,
			[]any{int32(2 + i), fmt.Sprintf("item %d", 2+i), int32((2 + i) * 10), at(fmt.Sprintf("07:00:0%d.%03d", 2+i, 2+i))},
			[]any{int32(2 + i), fmt.Sprintf("item %d", 2+i), int32((2+i)*10 + 1), at(fmt.Sprintf("07:00:0%d.%03d", 2+i, 2+i))})
	}
	files, names = append(files, f), append(names, "binlog.000002")
	return files, names, gno
}

// TestMySQL8StreamLogicalClock replicates a synthetic MySQL 8 stream, served
// by a fake source over COM_BINLOG_DUMP_GTID, into a MariaDB target with 4
// workers and logical-clock dependency tracking. It checks the rows, that
// transactions the clock marks independent ran at the same time on the
// target, and that a dependent one started only after them.
func TestMySQL8StreamLogicalClock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a MariaDB server")
	}
	ctx := context.Background()
	files, names, gtids := mysql8Stream()
	src := fakesource.New(mysql8UUID)
	for i, f := range files {
		if err := src.AddFile(names[i], f); err != nil {
			t.Fatal(err)
		}
	}
	port := src.Serve(t)

	dst := mariadbtest.Start(t, mariadbtest.Options{})
	// par.slow exists on the target only: triggers log when each row's
	// transaction runs, and make it last 300 ms.
	if err := dst.Exec(ctx,
		"CREATE DATABASE par",
		"CREATE TABLE par.slow (id INT PRIMARY KEY, note VARCHAR(20) NOT NULL)",
		"CREATE TABLE par.runs (id INT PRIMARY KEY, conn BIGINT NOT NULL, began DATETIME(6) NOT NULL, ended DATETIME(6))",
		"CREATE TRIGGER par.slow_bi BEFORE INSERT ON par.slow FOR EACH ROW BEGIN "+
			"INSERT INTO par.runs VALUES (NEW.id, CONNECTION_ID(), SYSDATE(6), NULL); DO SLEEP(0.3); END",
		"CREATE TRIGGER par.slow_ai AFTER INSERT ON par.slow FOR EACH ROW UPDATE par.runs SET ended = SYSDATE(6) WHERE id = NEW.id",
	); err != nil {
		t.Fatal(err)
	}

	cfg := mtreplica.Config{
		Source: mtreplica.SourceConfig{Flavor: gtid.MySQL, Host: "127.0.0.1", Port: port, User: fakesource.User,
			Password: fakesource.Password, HeartbeatPeriod: time.Second, ConnectRetry: 50 * time.Millisecond},
		Target:             applier.TargetOptions{Addr: dst.Addr(), User: "root"},
		RelayDir:           t.TempDir(),
		Workers:            4,
		DependencyTracking: "logical-clock",
		// One transaction per worker dispatch: the test checks that the
		// schedule lets independent transactions overlap, which a group of
		// them applied on one connection would not show.
		GroupTransactions: 1,
		Logger:            testLogger(t),
	}
	r, stop := startEngine(t, cfg)

	want := fmt.Sprintf("%s:1-%d", mysql8UUID, gtids)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st := r.Status()
		if st.LastSQLError != "" || st.LastIOError != "" {
			t.Fatalf("replica stopped: SQL %q, IO %q", st.LastSQLError, st.LastIOError)
		}
		c, err := dst.Conn(ctx)
		if err == nil {
			ex, lerr := applier.Progress{Schema: "mtreplica"}.Load(c, gtid.MySQL)
			c.Close()
			if lerr == nil && ex.Set.String() == want {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not caught up after 2 minutes: status %+v", r.Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sets := src.GTIDSets(); len(sets) == 0 {
		t.Error("the replica never asked for a GTID dump")
	}

	rows, err := dst.QueryRows(ctx, "SELECT id, name, COALESCE(qty, 'NULL'), made FROM shop.items ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(rows))
	for i, r := range rows {
		got[i] = strings.Join(r, "|")
	}
	wantRows := []string{
		"1|item one|11|2026-11-24 07:00:01.001",
		"2|item two|NULL|2026-11-24 07:00:02.002",
		"3|item 3|31|2026-11-24 07:00:03.003",
		"4|item 4|41|2026-11-24 07:00:04.004",
		"5|item 5|51|2026-11-24 07:00:05.005",
		"6|item 6|60|2026-11-24 07:00:06.006",
		"102|bulk|NULL|2026-11-24 07:01:00.000",
		"103|bulk|NULL|2026-11-24 07:01:00.000",
		"104|bulk|NULL|2026-11-24 07:01:00.000",
		"105|bulk|NULL|2026-11-24 07:01:00.000",
		"106|bulk|NULL|2026-11-24 07:01:00.000",
	}
	if strings.Join(got, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("shop.items on the target:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRows, "\n"))
	}

	// The four independent transactions overlapped; the dependent one began after all of them ended.
	runs, err := dst.QueryRows(ctx, "SELECT id, conn, began, ended FROM par.runs ORDER BY id")
	if err != nil || len(runs) != 5 {
		t.Fatalf("par.runs: %v %v", runs, err)
	}
	overlaps := 0
	for i := 0; i < 4; i++ {
		for j := i + 1; j < 4; j++ {
			if runs[i][2] < runs[j][3] && runs[j][2] < runs[i][3] {
				overlaps++
			}
		}
		if runs[4][2] < runs[i][3] {
			t.Errorf("transaction 5 (last_committed 6) began at %s, before transaction %s ended at %s", runs[4][2], runs[i][0], runs[i][3])
		}
	}
	if overlaps == 0 {
		t.Errorf("no two of the four independent transactions ran at the same time: %v", runs[:4])
	}
	t.Logf("independent transactions: %d overlapping pairs of 6; runs %v", overlaps, runs)
}

// mysql8Target starts a MariaDB target with the table shop.items of mysql8Stream.
func mysql8Target(t *testing.T) *mariadbtest.Server {
	t.Helper()
	dst := mariadbtest.Start(t, mariadbtest.Options{})
	if err := dst.Exec(context.Background(), "CREATE DATABASE shop",
		"CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, qty INT, made DATETIME(3) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return dst
}

var itemsTable = &binlogenc.TableMap{TableID: 77, Schema: "shop", Table: "items", Metadata: true, PrimaryKey: []int{0},
	Columns: []binlogenc.Column{
		{Name: "id", Type: mysql.MYSQL_TYPE_LONG},
		{Name: "name", Type: mysql.MYSQL_TYPE_VARCHAR, Meta: 400},
		{Name: "qty", Type: mysql.MYSQL_TYPE_LONG, Nullable: true},
		{Name: "made", Type: mysql.MYSQL_TYPE_DATETIME2, Meta: 3},
	}}

// insertTxn returns one transaction inserting row id into shop.items, after gtid (a GTID or anonymous GTID event).
func insertTxn(enc *binlogenc.Encoder, g binlogenc.GTID, id int32, compressed bool) []byte {
	in := enc
	if compressed {
		in = enc.Inner()
	}
	body := [][]byte{in.Begin(), in.TableMap(itemsTable), in.MustRows(&binlogenc.Rows{Type: replication.WRITE_ROWS_EVENTv2,
		Table: itemsTable, Flags: replication.RowsEventStmtEndFlag,
		Rows: [][]any{{id, fmt.Sprintf("item %d", id), id * 10, "2026-11-24 08:00:00.5"}}}), in.XID(uint64(id))}
	out := enc.GTID(g)
	if compressed {
		return append(out, enc.TransactionPayload(body...)...)
	}
	return binlogenc.Append(out, body...)
}

// runUntilRows replicates from the fake source until shop.items has want rows.
func runUntilRows(t *testing.T, cfg mtreplica.Config, dst *mariadbtest.Server, want int) *mtreplica.Replica {
	t.Helper()
	r, stop := startEngine(t, cfg)
	deadline := time.Now().Add(time.Minute)
	for {
		st := r.Status()
		if st.LastSQLError != "" || st.LastIOError != "" {
			t.Fatalf("replica stopped: SQL %q, IO %q", st.LastSQLError, st.LastIOError)
		}
		rows, err := dst.QueryRows(context.Background(), "SELECT COUNT(*) FROM shop.items")
		if err == nil && len(rows) == 1 && rows[0][0] == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shop.items has %v rows after a minute, want %d (status %+v)", rows, want, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return r
}

// TestMySQL84TaggedGTIDs: a MySQL 8.4 stream mixing untagged and tagged GTIDs (uuid:tag:gno) replicates, and the
// progress table records both streams.
func TestMySQL84TaggedGTIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a MariaDB server")
	}
	sid := binlogenc.UUID(mysql8UUID)
	enc := binlogenc.New(binlogenc.MySQL8, 1)
	enc.ServerVersion, enc.Timestamp = "8.4.3", uint32(time.Now().Unix())
	f := enc.File()
	f = append(f, insertTxn(enc, binlogenc.GTID{SID: sid, GNO: 1, LastCommitted: 0, SequenceNumber: 1}, 1, false)...)
	f = append(f, insertTxn(enc, binlogenc.GTID{SID: sid, Tag: "batch", GNO: 1, LastCommitted: 1, SequenceNumber: 2}, 2, false)...)
	f = append(f, insertTxn(enc, binlogenc.GTID{SID: sid, Tag: "batch", GNO: 2, LastCommitted: 1, SequenceNumber: 3}, 3, true)...)
	f = append(f, insertTxn(enc, binlogenc.GTID{SID: sid, GNO: 2, LastCommitted: 3, SequenceNumber: 4}, 4, false)...)
	src := fakesource.New(mysql8UUID)
	src.Vars["version"] = "8.4.3"
	if err := src.AddFile("binlog.000001", f); err != nil {
		t.Fatal(err)
	}
	port := src.Serve(t)
	dst := mysql8Target(t)
	cfg := mtreplica.Config{
		Source: mtreplica.SourceConfig{Flavor: gtid.MySQL, Host: "127.0.0.1", Port: port, User: fakesource.User,
			Password: fakesource.Password, HeartbeatPeriod: time.Second, ConnectRetry: 50 * time.Millisecond},
		Target: applier.TargetOptions{Addr: dst.Addr(), User: "root"}, RelayDir: t.TempDir(), Workers: 4,
		DependencyTracking: "logical-clock", Logger: testLogger(t),
	}
	runUntilRows(t, cfg, dst, 4)
	c, err := dst.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ex, err := applier.Progress{Schema: "mtreplica"}.Load(c, gtid.MySQL)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{mysql8UUID + ":1-2", mysql8UUID + ":batch:1-2"}
	for _, w := range want {
		if !strings.Contains(ex.Set.String(), w) {
			t.Errorf("progress %q lacks %s", ex.Set, w)
		}
	}
}

// TestMySQLAnonymousTransactions: a source with gtid_mode=OFF writes ANONYMOUS_GTID events (still with a logical
// clock); the replica starts from a file and position and replicates them in parallel.
func TestMySQLAnonymousTransactions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a MariaDB server")
	}
	enc := binlogenc.New(binlogenc.MySQL8, 1)
	enc.Timestamp = uint32(time.Now().Unix())
	f := enc.File()
	for i := int32(1); i <= 6; i++ {
		f = append(f, insertTxn(enc, binlogenc.GTID{Anonymous: true, LastCommitted: 0, SequenceNumber: int64(i)}, i, i%2 == 0)...)
	}
	src := fakesource.New(mysql8UUID)
	src.Vars["gtid_mode"] = "OFF"
	if err := src.AddFile("binlog.000001", f); err != nil {
		t.Fatal(err)
	}
	port := src.Serve(t)
	dst := mysql8Target(t)
	cfg := mtreplica.Config{
		Source: mtreplica.SourceConfig{Flavor: gtid.MySQL, Host: "127.0.0.1", Port: port, User: fakesource.User,
			Password: fakesource.Password, HeartbeatPeriod: time.Second, ConnectRetry: 50 * time.Millisecond},
		Target: applier.TargetOptions{Addr: dst.Addr(), User: "root"}, RelayDir: t.TempDir(), Workers: 4,
		DependencyTracking: "logical-clock", StartFile: "binlog.000001", StartPos: 4, Logger: testLogger(t),
	}
	r := runUntilRows(t, cfg, dst, 6)
	if pos := src.DumpPositions(); len(pos) == 0 || pos[0].Name != "binlog.000001" || pos[0].Pos != 4 {
		t.Errorf("COM_BINLOG_DUMP positions %v", pos)
	}
	if st := r.Status(); st.TransactionsApplied < 6 {
		t.Errorf("%d transactions applied, want 6", st.TransactionsApplied)
	}
}
