package binlogenc

import (
	"bytes"
	"encoding/binary"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
)

const testUUID = "3e11fa47-71ca-11e1-9e33-c80aa9429562"

var testTable = &TableMap{
	TableID: 108, Schema: "shop", Table: "orders", Metadata: true, PrimaryKey: []int{0},
	Columns: []Column{
		{Name: "id", Type: mysql.MYSQL_TYPE_LONGLONG, Unsigned: true},
		{Name: "qty", Type: mysql.MYSQL_TYPE_LONG, Nullable: true},
		{Name: "small", Type: mysql.MYSQL_TYPE_SHORT},
		{Name: "tiny", Type: mysql.MYSQL_TYPE_TINY, Unsigned: true},
		{Name: "mid", Type: mysql.MYSQL_TYPE_INT24},
		{Name: "note", Type: mysql.MYSQL_TYPE_VARCHAR, Meta: 400, Nullable: true},
		{Name: "code", Type: mysql.MYSQL_TYPE_STRING, Meta: uint16(mysql.MYSQL_TYPE_STRING)<<8 | 40},
		{Name: "body", Type: mysql.MYSQL_TYPE_BLOB, Meta: 2, Nullable: true},
		{Name: "price", Type: mysql.MYSQL_TYPE_DOUBLE, Meta: 8},
		{Name: "ratio", Type: mysql.MYSQL_TYPE_FLOAT, Meta: 4},
		{Name: "made", Type: mysql.MYSQL_TYPE_DATETIME2, Meta: 3},
		{Name: "seen", Type: mysql.MYSQL_TYPE_TIMESTAMP2, Meta: 0},
		{Name: "day", Type: mysql.MYSQL_TYPE_DATE},
		{Name: "yr", Type: mysql.MYSQL_TYPE_YEAR},
		{Name: "secret", Type: mysql.MYSQL_TYPE_LONG, Invisible: true, Nullable: true},
	},
}

func row(id uint64, qty any, note any) []any {
	return []any{id, qty, int16(-7), uint8(200), int32(-70000), note, "AB", []byte("blob\x00data"), 3.25, float32(0.5),
		"2024-02-29 13:14:15.123", "2023-01-02 03:04:05", "2021-12-31", 2024, nil}
}

// decoded returns what go-mysql makes of row(...) (with SetParseTime(false), UTC).
func decoded(id uint64, qty any, note any) []any {
	return []any{id, qty, int16(-7), uint8(200), int32(-70000), note, "AB", []byte("blob\x00data"), 3.25, float32(0.5),
		"2024-02-29 13:14:15.123", "2023-01-02 03:04:05", "2021-12-31", 2024, nil}
}

func parseAll(t *testing.T, file []byte, flavor string) []*replication.BinlogEvent {
	t.Helper()
	p := replication.NewBinlogParser()
	p.SetFlavor(flavor)
	p.SetVerifyChecksum(true)
	p.SetParseTime(false)
	p.SetTimestampStringLocation(time.UTC)
	var out []*replication.BinlogEvent
	if err := p.ParseReader(bytes.NewReader(file[4:]), func(e *replication.BinlogEvent) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return out
}

func TestMySQL8RoundTrip(t *testing.T) {
	enc := New(MySQL8, 77)
	sid := UUID(testUUID)
	prev, err := mysql.ParseMysqlGTIDSet(testUUID + ":1-41")
	if err != nil {
		t.Fatal(err)
	}
	imm := time.UnixMicro(1_700_000_123_456)
	orig := time.UnixMicro(1_700_000_000_001)
	status := new(StatusVars).Flags2(1<<26).SQLMode(0x4000000).Catalog("std").AutoIncrement(2, 1).
		Charset(33, 33, 255).TimeZone("+02:00").LCTimeNames(0).CharsetDatabase(255).UpdatedDBNames("shop").
		Microseconds(123456).DDLLoggedWithXid(99).DefaultCollationForUTF8MB4(255).SQLRequirePrimaryKey(true).
		DefaultTableEncryption(false).Bytes()

	file := Magic()
	file = Append(file, enc.FormatDescription(), enc.PreviousGTIDs(prev.(*mysql.MysqlGTIDSet)))
	// Transaction 1: uncompressed, full metadata, write/update/delete.
	file = Append(file,
		enc.GTID(GTID{SID: sid, GNO: 42, LastCommitted: 3, SequenceNumber: 5, ImmediateCommit: imm, OriginalCommit: orig, TransactionLength: 1234}),
		enc.Query(Query{ThreadID: 9, Schema: "shop", SQL: "BEGIN", StatusVars: status}),
		enc.TableMap(testTable),
		enc.MustRows(&Rows{Type: replication.WRITE_ROWS_EVENTv2, Table: testTable, Rows: [][]any{row(1, int32(5), "x"), row(2, nil, nil)}}),
		enc.MustRows(&Rows{Type: replication.UPDATE_ROWS_EVENTv2, Table: testTable, Rows: [][]any{row(1, int32(5), "x"), row(1, int32(6), "y")}}),
		enc.MustRows(&Rows{Type: replication.DELETE_ROWS_EVENTv1, Table: testTable, Flags: replication.RowsEventStmtEndFlag, Rows: [][]any{row(2, nil, nil)}}),
		enc.XID(1001),
	)
	// Transaction 2: compressed.
	in := enc.Inner()
	file = Append(file,
		enc.GTID(GTID{SID: sid, GNO: 43, LastCommitted: 5, SequenceNumber: 6, ImmediateCommit: imm}),
		enc.TransactionPayload(in.Begin(), in.TableMap(testTable),
			in.MustRows(&Rows{Type: replication.WRITE_ROWS_EVENTv2, Table: testTable, Flags: replication.RowsEventStmtEndFlag, Rows: [][]any{row(3, int32(1), "z")}}),
			in.XID(1002)),
		enc.GTID(GTID{Anonymous: true, LastCommitted: 6, SequenceNumber: 7}),
		enc.Query(Query{Schema: "shop", SQL: "CREATE TABLE t (id INT PRIMARY KEY)", StatusVars: status}),
		enc.Rotate("binlog.000002", 4),
	)

	evs := parseAll(t, file, "mysql")
	types := make([]replication.EventType, len(evs))
	for i, e := range evs {
		types[i] = e.Header.EventType
		if e.Header.ServerID != 77 || int(e.Header.EventSize) != len(e.RawData) {
			t.Errorf("event %d header %+v", i, e.Header)
		}
	}
	want := []replication.EventType{replication.FORMAT_DESCRIPTION_EVENT, replication.PREVIOUS_GTIDS_EVENT,
		replication.GTID_EVENT, replication.QUERY_EVENT, replication.TABLE_MAP_EVENT, replication.WRITE_ROWS_EVENTv2,
		replication.UPDATE_ROWS_EVENTv2, replication.DELETE_ROWS_EVENTv1, replication.XID_EVENT,
		replication.GTID_EVENT, replication.TRANSACTION_PAYLOAD_EVENT, replication.ANONYMOUS_GTID_EVENT,
		replication.QUERY_EVENT, replication.ROTATE_EVENT}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("event types\n got %v\nwant %v", types, want)
	}
	// log_pos: each event's end in the file.
	pos := uint32(4)
	for i, e := range evs {
		pos += e.Header.EventSize
		if e.Header.LogPos != pos {
			t.Errorf("event %d (%s): log_pos %d, want %d", i, e.Header.EventType, e.Header.LogPos, pos)
		}
	}
	fd := evs[0].Event.(*replication.FormatDescriptionEvent)
	if fd.ServerVersion != "8.0.36" || fd.ChecksumAlgorithm != replication.BINLOG_CHECKSUM_ALG_CRC32 || fd.Version != 4 {
		t.Errorf("format description %+v", fd)
	}
	if got := evs[1].Event.(*replication.PreviousGTIDsEvent).GTIDSets; got != testUUID+":1-41" {
		t.Errorf("previous GTIDs %q", got)
	}
	g := evs[2].Event.(*replication.GTIDEvent)
	if g.GNO != 42 || g.LastCommitted != 3 || g.SequenceNumber != 5 || !bytes.Equal(g.SID, sid[:]) ||
		g.ImmediateCommitTimestamp != uint64(imm.UnixMicro()) || g.OriginalCommitTimestamp != uint64(orig.UnixMicro()) ||
		g.TransactionLength != 1234 || g.ImmediateServerVersion != 80036 {
		t.Errorf("GTID %+v", g)
	}
	q := evs[3].Event.(*replication.QueryEvent)
	if string(q.Query) != "BEGIN" || string(q.Schema) != "shop" || q.SlaveProxyID != 9 || !bytes.Equal(q.StatusVars, status) {
		t.Errorf("query %+v", q)
	}
	tm := evs[4].Event.(*replication.TableMapEvent)
	checkTableMap(t, tm)
	w := evs[5].Event.(*replication.RowsEvent)
	checkRows(t, w, [][]any{decoded(1, int32(5), "x"), decoded(2, nil, nil)})
	u := evs[6].Event.(*replication.RowsEvent)
	checkRows(t, u, [][]any{decoded(1, int32(5), "x"), decoded(1, int32(6), "y")})
	d := evs[7].Event.(*replication.RowsEvent)
	checkRows(t, d, [][]any{decoded(2, nil, nil)})
	if d.Flags&replication.RowsEventStmtEndFlag == 0 || d.Version != 1 || w.Version != 2 {
		t.Errorf("rows flags/versions: %d %d %d", d.Flags, d.Version, w.Version)
	}
	if x := evs[8].Event.(*replication.XIDEvent); x.XID != 1001 {
		t.Errorf("xid %d", x.XID)
	}
	tp := evs[10].Event.(*replication.TransactionPayloadEvent)
	if tp.CompressionType != 0 || len(tp.Events) != 4 {
		t.Fatalf("payload: compression %d, %d events", tp.CompressionType, len(tp.Events))
	}
	// MySQL writes the size fields packed (net_store_length); go-mysql reads them
	// as fixed-length integers, right only below 251: check the bytes instead.
	if size, ok := PayloadSize(evs[10].RawData[binlogfmt.HeaderLen : len(evs[10].RawData)-binlogfmt.ChecksumLen]); !ok || size != uint64(len(tp.Payload)) {
		t.Errorf("payload size field %d (%v), payload %d bytes", size, ok, len(tp.Payload))
	}
	checkTableMap(t, tp.Events[1].Event.(*replication.TableMapEvent))
	checkRows(t, tp.Events[2].Event.(*replication.RowsEvent), [][]any{decoded(3, int32(1), "z")})
	if x := tp.Events[3].Event.(*replication.XIDEvent); x.XID != 1002 {
		t.Errorf("inner xid %d", x.XID)
	}
	if a := evs[11].Event.(*replication.GTIDEvent); a.GNO != 0 || a.SequenceNumber != 7 || a.LastCommitted != 6 {
		t.Errorf("anonymous GTID %+v", a)
	}
	r := evs[13].Event.(*replication.RotateEvent)
	if string(r.NextLogName) != "binlog.000002" || r.Position != 4 {
		t.Errorf("rotate %+v", r)
	}

	// The framer sees three transactions, logical clock and GTIDs included.
	var f binlogfmt.Framer
	f.VerifyChecksums = true
	var txns []binlogfmt.TxnInfo
	for _, e := range evs {
		fr, err := f.Next(e.RawData)
		if err != nil {
			t.Fatalf("framer: %s: %v", e.Header.EventType, err)
		}
		if fr.End {
			txns = append(txns, f.Txn())
		}
	}
	if len(txns) != 3 || txns[0].GTID.String() != testUUID+":42" || txns[1].GTID.String() != testUUID+":43" ||
		txns[0].LastCommitted != 3 || txns[0].SequenceNumber != 5 || !txns[0].OriginalCommit.Equal(orig) ||
		!txns[2].GTID.IsZero() || !txns[2].Statement {
		t.Errorf("framed transactions %+v", txns)
	}
}

func checkTableMap(t *testing.T, tm *replication.TableMapEvent) {
	t.Helper()
	if tm.TableID != 108 || string(tm.Schema) != "shop" || string(tm.Table) != "orders" || int(tm.ColumnCount) != len(testTable.Columns) {
		t.Fatalf("table map %+v", tm)
	}
	for i, c := range testTable.Columns {
		if tm.ColumnType[i] != c.Type || string(tm.ColumnName[i]) != c.Name {
			t.Errorf("column %d: type %d name %q", i, tm.ColumnType[i], tm.ColumnName[i])
		}
		if _, nullable := tm.Nullable(i); nullable != c.Nullable {
			t.Errorf("column %s nullable %v", c.Name, nullable)
		}
	}
	if tm.ColumnMeta[5] != 400 || tm.ColumnMeta[7] != 2 || tm.ColumnMeta[10] != 3 || tm.ColumnMeta[6] != uint16(mysql.MYSQL_TYPE_STRING)<<8|40 {
		t.Errorf("column meta %v", tm.ColumnMeta)
	}
	if !reflect.DeepEqual(tm.PrimaryKey, []uint64{0}) {
		t.Errorf("primary key %v", tm.PrimaryKey)
	}
	um := tm.UnsignedMap()
	if !um[0] || um[1] || !um[3] {
		t.Errorf("unsigned map %v", um)
	}
	vm := tm.VisibilityMap()
	if vm[14] || !vm[0] {
		t.Errorf("visibility map %v", vm)
	}
	if len(tm.DefaultCharset) != 1 || tm.DefaultCharset[0] != 255 {
		t.Errorf("default charset %v", tm.DefaultCharset)
	}
}

func checkRows(t *testing.T, re *replication.RowsEvent, want [][]any) {
	t.Helper()
	if re.TableID != 108 || re.Table == nil {
		t.Fatalf("rows event table %d %v", re.TableID, re.Table)
	}
	if !reflect.DeepEqual(re.Rows, want) {
		t.Errorf("rows\n got %#v\nwant %#v", re.Rows, want)
	}
}

func TestMariaDBRoundTrip(t *testing.T) {
	enc := New(MariaDB, 5)
	file := enc.File()
	tbl := &TableMap{TableID: 7, Schema: "db", Table: "t", Columns: []Column{{Name: "id", Type: mysql.MYSQL_TYPE_LONG}}}
	file = Append(file,
		enc.MariaDBGTID(MariaDBGTID{Domain: 1, Seq: 100, CommitID: 555, Flags: MariaDBTransactional}),
		enc.TableMap(tbl),
		enc.MustRows(&Rows{Type: replication.WRITE_ROWS_EVENTv1, Table: tbl, Flags: replication.RowsEventStmtEndFlag, Rows: [][]any{{int32(1)}}}),
		enc.XID(7),
		enc.MariaDBGTID(MariaDBGTID{Domain: 1, Seq: 101, Flags: MariaDBStandalone | MariaDBDDL}),
		enc.Query(Query{Schema: "db", SQL: "DROP TABLE x", StatusVars: new(StatusVars).HRNow(12).MariaDBXid(3).Bytes()}),
	)
	evs := parseAll(t, file, "mariadb")
	if fd := evs[0].Event.(*replication.FormatDescriptionEvent); fd.ServerVersion != "11.8.5-MariaDB-log" {
		t.Errorf("version %q", fd.ServerVersion)
	}
	if _, ok := evs[1].Event.(*replication.MariadbGTIDListEvent); !ok {
		t.Errorf("event 1 is %T", evs[1].Event)
	}
	g := evs[2].Event.(*replication.MariadbGTIDEvent)
	if g.GTID.DomainID != 1 || g.GTID.SequenceNumber != 100 || g.GTID.ServerID != 5 || g.CommitID != 555 || !g.IsGroupCommit() {
		t.Errorf("gtid %+v", g)
	}
	if re := evs[4].Event.(*replication.RowsEvent); !reflect.DeepEqual(re.Rows, [][]any{{int32(1)}}) {
		t.Errorf("rows %v", re.Rows)
	}
	if g := evs[6].Event.(*replication.MariadbGTIDEvent); !g.IsStandalone() || g.CommitID != 0 || g.GTID.SequenceNumber != 101 {
		t.Errorf("standalone gtid %+v", g)
	}
	var f binlogfmt.Framer
	n := 0
	for _, e := range evs {
		fr, err := f.Next(e.RawData)
		if err != nil {
			t.Fatal(err)
		}
		if fr.End {
			n++
			if n == 1 && (f.Txn().CommitID != 555 || f.Txn().GTID.String() != "1-5-100") {
				t.Errorf("txn %+v", f.Txn())
			}
		}
	}
	if n != 2 {
		t.Errorf("%d transactions framed, want 2", n)
	}
}

func TestChecksumOffAndErrors(t *testing.T) {
	enc := New(MySQL8, 1)
	enc.Checksum = false
	file := Append(Magic(), enc.FormatDescription(), enc.XID(1))
	evs := parseAll(t, append(file[:0:0], file...), "mysql")
	if evs[0].Event.(*replication.FormatDescriptionEvent).ChecksumAlgorithm != replication.BINLOG_CHECKSUM_ALG_OFF {
		t.Error("checksum algorithm not off")
	}
	if x := evs[1].Event.(*replication.XIDEvent); x.XID != 1 || len(evs[1].RawData) != binlogfmt.HeaderLen+8 {
		t.Errorf("xid event %d bytes", len(evs[1].RawData))
	}
	// The format description always carries a valid CRC32, as the server's does.
	if !crcOK(evs[0].RawData) {
		t.Error("format description CRC32")
	}
	tbl := &TableMap{TableID: 1, Schema: "s", Table: "t", Columns: []Column{{Name: "v", Type: mysql.MYSQL_TYPE_VARCHAR, Meta: 3}}}
	for _, bad := range []any{"toolong", 5, nil} {
		if _, err := enc.Rows(&Rows{Type: replication.WRITE_ROWS_EVENTv2, Table: tbl, Rows: [][]any{{bad}}}); err == nil {
			t.Errorf("value %v accepted", bad)
		}
	}
	if _, err := enc.Rows(&Rows{Type: replication.PARTIAL_UPDATE_ROWS_EVENT, Table: tbl}); err == nil {
		t.Error("partial update accepted")
	}
	if binary.LittleEndian.Uint32(evs[1].RawData[13:]) != enc.Pos() {
		t.Errorf("log_pos %d, encoder at %d", binary.LittleEndian.Uint32(evs[1].RawData[13:]), enc.Pos())
	}
}

func TestTaggedGTIDRoundTrip(t *testing.T) {
	enc := New(MySQL8, 3)
	enc.ServerVersion = "9.6.0"
	sid := UUID(testUUID)
	imm := time.UnixMicro(1_750_000_000_123_456)
	orig := time.UnixMicro(1_749_000_000_000_001)
	for _, g := range []GTID{
		{SID: sid, Tag: "orders", GNO: 7, LastCommitted: 0, SequenceNumber: 1, ImmediateCommit: imm, TransactionLength: 300},
		{SID: sid, Tag: "t", GNO: 1 << 40, LastCommitted: 123456, SequenceNumber: 123457, ImmediateCommit: imm, OriginalCommit: orig, CommitFlag: 1},
	} {
		file := Append(Magic(), enc.FormatDescription(), enc.GTID(g))
		evs := parseAll(t, file, "mysql")
		e, ok := evs[1].Event.(*replication.GtidTaggedLogEvent)
		if !ok {
			t.Fatalf("event is %T", evs[1].Event)
		}
		wantOrig := orig
		if g.OriginalCommit.IsZero() {
			wantOrig = imm
		}
		if e.GNO != g.GNO || e.Tag.String() != g.Tag || !bytes.Equal(e.SID, sid[:]) || e.LastCommitted != g.LastCommitted ||
			e.SequenceNumber != g.SequenceNumber || e.ImmediateCommitTimestamp != uint64(imm.UnixMicro()) ||
			e.OriginalCommitTimestamp != uint64(wantOrig.UnixMicro()) || e.TransactionLength != g.TransactionLength ||
			e.ImmediateServerVersion != 90600 || e.CommitFlag != g.CommitFlag {
			t.Errorf("tagged GTID %+v, want %+v", e, g)
		}
		var f binlogfmt.Framer
		for _, ev := range evs {
			if _, err := f.Next(ev.RawData); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.Txn().GTID.Stream; got != testUUID+":"+g.Tag {
			t.Errorf("framer stream %q", got)
		}
	}
}

// TestTaggedGTIDMatchesMySQL: the tagged GTID event of a real MySQL 9.6 binlog, decoded and encoded again, gives
// the server's bytes.
func TestTaggedGTIDMatchesMySQL(t *testing.T) {
	b, err := os.ReadFile("../../../shared/fixtures/rust_mysql_common/binlog_transaction_with_GTID_TAG.000001")
	if err != nil {
		t.Skip(err)
	}
	found := 0
	for _, e := range parseAll(t, b, "mysql") {
		g, ok := e.Event.(*replication.GtidTaggedLogEvent)
		if !ok {
			continue
		}
		found++
		var sid [16]byte
		copy(sid[:], g.SID)
		in := GTID{SID: sid, Tag: g.Tag.String(), GNO: g.GNO, CommitFlag: g.CommitFlag, LastCommitted: g.LastCommitted,
			SequenceNumber: g.SequenceNumber, ImmediateCommit: time.UnixMicro(int64(g.ImmediateCommitTimestamp)),
			OriginalCommit: time.UnixMicro(int64(g.OriginalCommitTimestamp)), TransactionLength: g.TransactionLength,
			ServerVersion: g.ImmediateServerVersion}
		body := e.RawData[binlogfmt.HeaderLen : len(e.RawData)-binlogfmt.ChecksumLen]
		if got := taggedGTID(in); !bytes.Equal(got, body) {
			t.Errorf("encoded\n%x\nserver wrote\n%x", got, body)
		}
	}
	if found == 0 {
		t.Error("no tagged GTID event in the fixture")
	}
}

// TestGTIDMatchesMySQL: the GTID and anonymous GTID events of real MySQL 8.0 binlogs, decoded and encoded again,
// give the server's bytes, header and checksum included.
func TestGTIDMatchesMySQL(t *testing.T) {
	found := 0
	for _, name := range []string{"mysql-enum-string-set.000001", "transaction_compression.000001"} {
		b, err := os.ReadFile("../../../shared/fixtures/rust_mysql_common/" + name)
		if err != nil {
			t.Skip(err)
		}
		// The file was copied from a live server: its format description has the in-use flag.
		binlogfmt.ClearInUse(b[4:4+binary.LittleEndian.Uint32(b[4+9:])], true)
		for _, e := range parseAll(t, b, "mysql") {
			g, ok := e.Event.(*replication.GTIDEvent)
			if !ok {
				continue
			}
			found++
			var sid [16]byte
			copy(sid[:], g.SID)
			enc := New(MySQL8, e.Header.ServerID)
			enc.Timestamp = e.Header.Timestamp
			enc.SetPos(e.Header.LogPos - e.Header.EventSize)
			got := enc.GTID(GTID{Anonymous: e.Header.EventType == replication.ANONYMOUS_GTID_EVENT, SID: sid, GNO: g.GNO,
				CommitFlag: g.CommitFlag, LastCommitted: g.LastCommitted, SequenceNumber: g.SequenceNumber,
				ImmediateCommit:   time.UnixMicro(int64(g.ImmediateCommitTimestamp)),
				OriginalCommit:    time.UnixMicro(int64(g.OriginalCommitTimestamp)),
				TransactionLength: g.TransactionLength, ServerVersion: g.ImmediateServerVersion})
			if !bytes.Equal(got, e.RawData) {
				t.Errorf("%s: encoded\n%x\nserver wrote\n%x", name, got, e.RawData)
			}
		}
	}
	if found < 6 {
		t.Errorf("%d GTID events in the fixtures, want 6", found)
	}
}
