package deptrack

import (
	"fmt"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// BenchmarkTrackerAdd measures Tracker.Add with 4 keys per transaction over 2 spaces (like a sysbench
// write-only transaction's rows: primary keys and a secondary unique key). conflict=N pct: N% of the
// transactions share a key with one of the 8 before them; the other keys are new.
func BenchmarkTrackerAdd(b *testing.B) {
	for _, pct := range []int{0, 10, 100} {
		b.Run(fmt.Sprintf("mode=writeset/conflict=%dpct", pct), func(b *testing.B) { benchWriteSet(b, pct) })
	}
	b.Run("mode=commit-order", func(b *testing.B) {
		tr := NewTracker(CommitOrder, 0)
		tx := Txn{Keys: make([]Key, 4)}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			tx.Seq = uint64(i + 1)
			tr.Add(&tx)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txn/s")
	})
}

func benchWriteSet(b *testing.B, pct int) {
	tr := NewTracker(WriteSet, 0)
	const perTxn = 4
	tx := Txn{Keys: make([]Key, perTxn)}
	mix := func(x uint64) uint64 { // splitmix64: keys as the extractor makes them, random 64-bit
		x += 0x9E3779B97F4A7C15
		x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
		x = (x ^ x>>27) * 0x94D049BB133111EB
		return x ^ x>>31
	}
	var rng uint64 = 1
	parallel := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seq := uint64(i + 1)
		tx.Seq = seq
		for k := range tx.Keys {
			tx.Keys[k] = Key{Hash: mix(seq*perTxn + uint64(k)), Space: uint64(k % 2)}
		}
		rng = mix(rng)
		if int(rng%100) < pct && seq > 8 {
			back := seq - 1 - (rng>>8)%8 // one of the 8 before
			tx.Keys[0].Hash = mix(back*perTxn + 0)
		}
		if tr.Add(&tx) < seq-1 {
			parallel++
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txn/s")
	b.ReportMetric(float64(parallel)/float64(b.N), "parallel/txn")
}

// sysbenchRel is sysbench's sbtest: id INT PRIMARY KEY, k INT, c CHAR(120), pad CHAR(60), utf8mb4_general_ci.
func sysbenchRel() rel {
	char := func(n int) bcol {
		return bcol{tp: mysql.MYSQL_TYPE_STRING, meta: uint16(mysql.MYSQL_TYPE_STRING)<<8 | uint16(n*4&0xff) | uint16((n*4>>4)&0x30^0x30)<<8}
	}
	tbl := table("sbtest", "sbtest1", intCol("id"), intCol("k"),
		tableschema.Column{Name: "c", DataType: "char", Charset: "utf8mb4", Collation: "utf8mb4_general_ci", OctetLength: 480},
		tableschema.Column{Name: "pad", DataType: "char", Charset: "utf8mb4", Collation: "utf8mb4_general_ci", OctetLength: 240})
	tbl.PrimaryKey = []int{0}
	tm := tableMap("sbtest", "sbtest1", named("id", bInt), named("k", bInt), named("c", char(120)), named("pad", char(60)))
	return rel{tbl, tm}
}

func sysbenchRow(id int) []any {
	c := strings.Repeat(fmt.Sprintf("%011d-", id*7919%100000000000), 10)[:119]
	pad := strings.Repeat(fmt.Sprintf("%011d-", id*104729%100000000000), 5)[:59]
	return []any{int32(id), int32(id * 31 % 100000), c, pad}
}

// BenchmarkExtract measures the Extractor on sysbench rows: an UPDATE_ROWS event with one row (before and after
// image, oltp_update_non_index).
func BenchmarkExtract(b *testing.B) {
	b.Run("sysbench_update_row", func(b *testing.B) {
		r := sysbenchRel()
		before, after := sysbenchRow(42), sysbenchRow(42)
		after[2] = sysbenchRow(43)[2]
		// The parser decodes a new table map for every transaction: alternate between two equal ones.
		tm2 := *r.tm
		evs := []*replication.RowsEvent{r.ev(before, after), rel{r.tbl, &tm2}.ev(before, after)}
		x := NewExtractor()
		var keys []Key
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			var err error
			if keys, _, err = x.Add(keys[:0], replication.UPDATE_ROWS_EVENTv1, evs[i&1], r.tbl); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/row")
	})
}
