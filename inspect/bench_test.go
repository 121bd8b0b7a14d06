package inspect

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogenc"
)

var (
	benchBinlog = flag.String("bench.binlog", "", "TestWriteBenchBinlog writes a sysbench-like MySQL 8 binlog here")
	benchSize   = flag.Int64("bench.size", 1<<30, "size of the binlog TestWriteBenchBinlog writes")
)

// writeSysbenchBinlog writes a MySQL 8.0 binlog of about size bytes that looks
// like 16 sysbench oltp_write_only clients on 16 tables of 100000 rows: each
// transaction updates a row's k, another row's c, deletes a row and inserts it
// back; group commits of 1-16 transactions share a last_committed. Tables
// carry full metadata (names, primary key). Every 10th group is compressed.
func writeSysbenchBinlog(path string, size int64) (txns int64, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 8<<20)
	enc := binlogenc.New(binlogenc.MySQL8, 1)
	enc.Timestamp = uint32(time.Now().Unix())
	sid := binlogenc.UUID("c0ffee00-1234-11ef-8000-0242ac120002")
	tables := make([]*binlogenc.TableMap, 16)
	for i := range tables {
		tables[i] = &binlogenc.TableMap{TableID: uint64(100 + i), Schema: "sbtest", Table: fmt.Sprintf("sbtest%d", i+1),
			Metadata: true, PrimaryKey: []int{0}, Charset: 8,
			Columns: []binlogenc.Column{
				{Name: "id", Type: mysql.MYSQL_TYPE_LONG},
				{Name: "k", Type: mysql.MYSQL_TYPE_LONG},
				{Name: "c", Type: mysql.MYSQL_TYPE_STRING, Meta: uint16(mysql.MYSQL_TYPE_STRING)<<8 | 120},
				{Name: "pad", Type: mysql.MYSQL_TYPE_STRING, Meta: uint16(mysql.MYSQL_TYPE_STRING)<<8 | 60},
			}}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
			if i%12 == 11 {
				b[i] = '-'
			}
		}
		return string(b)
	}
	row := func(id int32) []any { return []any{id, int32(rng.IntN(100000)), digits(119), digits(59)} }
	if _, err := w.Write(enc.File()); err != nil {
		return 0, err
	}
	var seq, lastCommitted int64
	xid := uint64(0)
	for group := 0; int64(enc.Pos()) < size; group++ {
		n := 1 + rng.IntN(16)
		compressed := group%10 == 9
		for i := 0; i < n; i++ {
			seq++
			xid++
			tm := tables[rng.IntN(len(tables))]
			in := enc
			if compressed {
				in = enc.Inner()
			}
			a, b, c := int32(1+rng.IntN(100000)), int32(1+rng.IntN(100000)), int32(1+rng.IntN(100000))
			ra, rb, rc := row(a), row(b), row(c)
			ra2 := append([]any(nil), ra...)
			ra2[1] = ra[1].(int32) + 1
			rb2 := append([]any(nil), rb...)
			rb2[2] = digits(119)
			body := [][]byte{in.Begin(), in.TableMap(tm),
				in.MustRows(&binlogenc.Rows{Type: replication.UPDATE_ROWS_EVENTv2, Table: tm, Rows: [][]any{ra, ra2}}),
				in.MustRows(&binlogenc.Rows{Type: replication.UPDATE_ROWS_EVENTv2, Table: tm, Rows: [][]any{rb, rb2}}),
				in.MustRows(&binlogenc.Rows{Type: replication.DELETE_ROWS_EVENTv2, Table: tm, Rows: [][]any{rc}}),
				in.MustRows(&binlogenc.Rows{Type: replication.WRITE_ROWS_EVENTv2, Table: tm, Flags: replication.RowsEventStmtEndFlag,
					Rows: [][]any{rc}}),
				in.XID(xid)}
			gtid := enc.GTID(binlogenc.GTID{SID: sid, GNO: seq, LastCommitted: lastCommitted, SequenceNumber: seq,
				ImmediateCommit: time.Unix(int64(enc.Timestamp), int64(seq)*1000)})
			if _, err := w.Write(gtid); err != nil {
				return 0, err
			}
			if compressed {
				body = [][]byte{enc.TransactionPayload(body...)}
			}
			for _, ev := range body {
				if _, err := w.Write(ev); err != nil {
					return 0, err
				}
			}
		}
		lastCommitted = seq
	}
	if _, err := w.Write(enc.Rotate("binlog.000002", 4)); err != nil {
		return 0, err
	}
	return seq, w.Flush()
}

// TestWriteBenchBinlog writes the binlog the inspect benchmark reads (see docs/benchmarks.md):
//
//	go test ./inspect -run TestWriteBenchBinlog -bench.binlog=/tmp/inspect-1g.bin
func TestWriteBenchBinlog(t *testing.T) {
	if *benchBinlog == "" {
		t.Skip("set -bench.binlog=PATH")
	}
	n, err := writeSysbenchBinlog(*benchBinlog, *benchSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d transactions", *benchBinlog, n)
}

// BenchmarkInspect inspects a 32 MiB sysbench-like binlog.
func BenchmarkInspect(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.bin")
	n, err := writeSysbenchBinlog(path, 32<<20)
	if err != nil {
		b.Fatal(err)
	}
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := File(context.Background(), path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if r.Transactions != n || r.Rows.Written != n {
			b.Fatalf("%d transactions, %d rows written; wrote %d", r.Transactions, r.Rows.Written, n)
		}
	}
}

// TestInspectSysbenchLike checks the figures of a small generated file: every transaction keyed (full
// metadata), the logical clock's groups of up to 16 found, and writeset finding at least as much.
func TestInspectSysbenchLike(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.bin")
	n, err := writeSysbenchBinlog(path, 2<<20)
	if err != nil {
		t.Fatal(err)
	}
	r, err := File(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lc, ws := r.Parallelism["logical-clock"], r.Parallelism["writeset"]
	if r.Transactions != n || r.Rows.Updated != 2*n || r.Rows.Deleted != n || r.UnknownKeys != 0 || r.Compressed == 0 ||
		lc.Max > 16 || lc.Max < 8 || ws.Average < lc.Average || lc.Barriers != 0 {
		t.Errorf("report %+v", r)
	}
}
