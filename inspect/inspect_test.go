package inspect

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogenc"
	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/relaylog"
)

const uuid = "9d1f2a34-6b7c-11ef-8a01-0242ac130003"

// testFile is a MySQL 8 binlog whose figures are known:
//
//	T1     DDL                                   lc 0 seq 1
//	T2..T5 one insert each into k (PK id), ids 1..4, T4 three rows; T3, T5 compressed
//	       serial by the logical clock (lc = seq-1), independent by writeset
//	T6     update of k id 1                      lc 5 seq 6
//	T7     delete from nokey (no PK metadata)   lc 6 seq 7
func testFile(t *testing.T) []byte {
	t.Helper()
	enc := binlogenc.New(binlogenc.MySQL8, 1)
	sid := binlogenc.UUID(uuid)
	k := &binlogenc.TableMap{TableID: 1, Schema: "db", Table: "k", Metadata: true, PrimaryKey: []int{0},
		Columns: []binlogenc.Column{{Name: "id", Type: mysql.MYSQL_TYPE_LONG}, {Name: "v", Type: mysql.MYSQL_TYPE_VARCHAR, Meta: 40}}}
	nokey := &binlogenc.TableMap{TableID: 2, Schema: "db", Table: "nokey", Metadata: true,
		Columns: []binlogenc.Column{{Name: "a", Type: mysql.MYSQL_TYPE_LONG}}}
	f := enc.File()
	gno := int64(0)
	gtidEv := func(lc, seq int64) []byte {
		gno++
		return enc.GTID(binlogenc.GTID{SID: sid, GNO: gno, LastCommitted: lc, SequenceNumber: seq})
	}
	txn := func(lc, seq int64, compressed bool, tm *binlogenc.TableMap, typ replication.EventType, rows ...[]any) {
		f = append(f, gtidEv(lc, seq)...)
		in := enc
		if compressed {
			in = enc.Inner()
		}
		body := [][]byte{in.Begin(), in.TableMap(tm),
			in.MustRows(&binlogenc.Rows{Type: typ, Table: tm, Flags: replication.RowsEventStmtEndFlag, Rows: rows}), in.XID(uint64(seq))}
		if compressed {
			f = append(f, enc.TransactionPayload(body...)...)
		} else {
			f = binlogenc.Append(f, body...)
		}
	}
	f = binlogenc.Append(f, gtidEv(0, 1), enc.Query(binlogenc.Query{Schema: "db", SQL: "CREATE TABLE k (id INT PRIMARY KEY, v VARCHAR(10))"}))
	txn(1, 2, false, k, replication.WRITE_ROWS_EVENTv2, []any{int32(1), "a"})
	txn(2, 3, true, k, replication.WRITE_ROWS_EVENTv2, []any{int32(2), "b"})
	txn(3, 4, false, k, replication.WRITE_ROWS_EVENTv2, []any{int32(3), "c"}, []any{int32(30), "cc"}, []any{int32(31), "ccc"})
	txn(4, 5, true, k, replication.WRITE_ROWS_EVENTv2, []any{int32(4), "d"})
	txn(5, 6, false, k, replication.UPDATE_ROWS_EVENTv2, []any{int32(1), "a"}, []any{int32(1), "z"})
	txn(6, 7, false, nokey, replication.DELETE_ROWS_EVENTv2, []any{int32(9)})
	return append(f, enc.Rotate("binlog.000002", 4)...)
}

func TestInspectKnownFile(t *testing.T) {
	for _, opts := range []Options{{}, {Decoders: 1, ChunkSize: 1}, {Decoders: 3, ChunkSize: 200, BufferSize: 64}} {
		t.Run(fmt.Sprintf("decoders=%d,chunk=%d", opts.Decoders, opts.ChunkSize), func(t *testing.T) {
			file := testFile(t)
			r, err := Reader(context.Background(), "test.bin", bytes.NewReader(file), int64(len(file)), opts)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, got, want any) {
				t.Helper()
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			check("version", r.ServerVersion+" "+r.Flavor+" "+r.Checksum, "8.0.36 mysql CRC32")
			check("transactions", []int64{r.Transactions, r.Compressed, r.Statements, r.Anonymous}, []int64{7, 2, 1, 0})
			check("GTIDs", r.GTIDs+" "+r.FirstGTID+" "+r.LastGTID, uuid+":1-7 "+uuid+":1 "+uuid+":7")
			check("rows", r.Rows, RowCounts{Events: 6, Written: 6, Updated: 1, Deleted: 1})
			check("event types", typeList(r.EventTypes), "GTIDEvent 7, QueryEvent 5, TableMapEvent 4, XIDEvent 4, "+
				"TransactionPayloadEvent 2, WriteRowsEventV2 2, DeleteRowsEventV2 1, FormatDescriptionEvent 1, "+
				"PreviousGTIDsEvent 1, RotateEvent 1, UpdateRowsEventV2 1")
			check("payload event types", typeList(r.PayloadEventTypes), "QueryEvent 2, TableMapEvent 2, WriteRowsEventV2 2, XIDEvent 2")
			check("events", r.Events, 29)
			check("largest", r.Largest.ID+fmt.Sprint(r.Largest.Rows, r.Largest.Events), uuid+":43 5")
			check("logical-clock", r.Parallelism["logical-clock"], Parallelism{Average: 1, Max: 1, Steps: 7, Barriers: 1})
			check("writeset", r.Parallelism["writeset"], Parallelism{Average: 1.75, Max: 4, Steps: 4, Barriers: 2})
			check("unknown keys", fmt.Sprint(r.UnknownKeys, r.UnknownKeyTables), "1 [db.nokey]")
			check("incomplete", r.Incomplete, "")
			var text strings.Builder
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"MySQL 8.0.36", "transactions: 7 (2 compressed", "writeset:      average 1.75, max 4",
				"unknown keys: barrier for 1 transactions", "in compressed payloads: QueryEvent 2"} {
				if !strings.Contains(text.String(), s) {
					t.Errorf("text report lacks %q:\n%s", s, text.String())
				}
			}
		})
	}
}

func TestInspectBrokenFiles(t *testing.T) {
	file := testFile(t)
	ctx := context.Background()
	// Cut inside the last transaction: what precedes is reported.
	cut := file[:len(file)-60]
	r, err := Reader(ctx, "cut", bytes.NewReader(cut), int64(len(cut)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Transactions != 6 || !strings.Contains(r.Incomplete, "offset") {
		t.Errorf("cut file: %d transactions, incomplete %q", r.Transactions, r.Incomplete)
	}
	// A flipped byte: a checksum error naming the offset.
	bad := append([]byte(nil), file...)
	bad[len(bad)-200] ^= 0xff
	if _, err := Reader(ctx, "bad", bytes.NewReader(bad), int64(len(bad)), Options{}); err == nil ||
		!strings.Contains(err.Error(), "checksum") || !strings.Contains(err.Error(), "offset") {
		t.Errorf("flipped byte: %v", err)
	}
	if _, err := Reader(ctx, "magic", bytes.NewReader([]byte("hello world")), 11, Options{}); err == nil ||
		!strings.Contains(err.Error(), "magic") {
		t.Errorf("bad magic: %v", err)
	}
	// An event size beyond the file.
	huge := append([]byte(nil), file...)
	binary.LittleEndian.PutUint32(huge[4+9:], 1<<29)
	if r, err := Reader(ctx, "huge", bytes.NewReader(huge), int64(len(huge)), Options{}); err == nil && r.Incomplete == "" {
		t.Errorf("event size beyond the file: no error, no incomplete note")
	}
}

// TestInspectFixtures: every real binlog inspects without a panic; the valid MySQL 8 files report their rows,
// the compressed one its payload events.
func TestInspectFixtures(t *testing.T) {
	dir := "../../shared/fixtures"
	var files []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.Contains(p, "/expected/") && !strings.HasSuffix(p, ".md") &&
			!strings.HasSuffix(p, ".tsv") && !strings.HasSuffix(p, ".gz") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Skip("no fixtures")
	}
	ok := 0
	for _, p := range files {
		r, err := File(context.Background(), p, Options{})
		name := strings.TrimPrefix(p, dir+"/")
		if err != nil {
			t.Logf("%s: %v", name, err)
			continue
		}
		ok++
		if name == "rust_mysql_common/transaction_compression.000001" {
			if r.Compressed != 1 || r.PayloadEventTypes["WriteRowsEventV2"] != 1 || r.Rows.Written != 1 {
				t.Errorf("%s: %d compressed, payload %v, rows %+v", name, r.Compressed, r.PayloadEventTypes, r.Rows)
			}
		}
		if name == "mysql-binlog-connector-java/mysql-bin.checksum-crc32" {
			// 5.7 logical clock, 60 transactions, some overlapping.
			if p := r.Parallelism["logical-clock"]; r.Transactions != 60 || p.Max < 2 {
				t.Errorf("%s: %d transactions, logical clock %+v", name, r.Transactions, p)
			}
		}
		t.Logf("%s: %s %s, %d transactions, %d rows events, lc %+v, ws %+v %s", name, r.Flavor, r.ServerVersion,
			r.Transactions, r.Rows.Events, r.Parallelism["logical-clock"], r.Parallelism["writeset"], r.Incomplete)
	}
	if ok < len(files)/2 {
		t.Errorf("only %d of %d fixtures inspected", ok, len(files))
	}
}

// TestLeanDecoderMatchesGoMySQL: the lean rows decoder and go-mysql's give the same report, on a generated
// sysbench-like file (full metadata, CHAR columns, compressed transactions) and on every fixture.
func TestLeanDecoderMatchesGoMySQL(t *testing.T) {
	files := []string{filepath.Join(t.TempDir(), "s.bin")}
	if _, err := writeSysbenchBinlog(files[0], 1<<20); err != nil {
		t.Fatal(err)
	}
	filepath.Walk("../../shared/fixtures", func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.Contains(p, "/expected/") && !strings.HasSuffix(p, ".md") &&
			!strings.HasSuffix(p, ".tsv") && !strings.HasSuffix(p, ".gz") {
			files = append(files, p)
		}
		return nil
	})
	compared := 0
	for _, p := range files {
		lean, err1 := File(context.Background(), p, Options{})
		generic, err2 := File(context.Background(), p, Options{noLean: true})
		if (err1 == nil) != (err2 == nil) {
			t.Errorf("%s: lean error %v, go-mysql error %v", p, err1, err2)
			continue
		}
		if err1 != nil {
			continue
		}
		lean.Elapsed, generic.Elapsed = 0, 0
		if fmt.Sprintf("%+v", lean) != fmt.Sprintf("%+v", generic) {
			t.Errorf("%s:\nlean     %+v\ngo-mysql %+v", p, lean, generic)
		}
		compared++
	}
	t.Logf("%d files compared", compared)
}

// TestInspectRelayLog: a relay log segment (format description, then the artificial ROTATE naming the source file)
// inspects like the source's binlog: same transactions, rows and logical-clock figures.
func TestInspectRelayLog(t *testing.T) {
	file := testFile(t)
	dir := t.TempDir()
	log, err := relaylog.Open(relaylog.Options{Dir: dir, Sync: relaylog.SyncPolicy{Mode: relaylog.SyncNever}})
	if err != nil {
		t.Fatal(err)
	}
	// As the dump protocol sends it: a fake ROTATE naming the file, then the file's events.
	if err := log.Append(binlogfmt.EncodeRotate(1, 4, "binlog.000007", false)); err != nil {
		t.Fatal(err)
	}
	for off := 4; off < len(file); {
		n := int(binary.LittleEndian.Uint32(file[off+9:]))
		if err := log.Append(file[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "relay-bin.0*"))
	if len(segs) != 1 {
		t.Fatalf("relay log segments %v, want one", segs)
	}
	var txns, written int64
	var lc Parallelism
	for _, s := range segs {
		r, err := File(context.Background(), s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		txns += r.Transactions
		written += r.Rows.Written
		lc = r.Parallelism["logical-clock"]
	}
	want, err := Reader(context.Background(), "binlog.000007", bytes.NewReader(file), int64(len(file)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if txns != want.Transactions || written != want.Rows.Written || lc != want.Parallelism["logical-clock"] {
		t.Errorf("relay log: %d transactions, %d rows written, logical clock %+v; binlog: %d, %d, %+v", txns, written,
			lc, want.Transactions, want.Rows.Written, want.Parallelism["logical-clock"])
	}
}
