package applier

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mtreplica/mtreplica/coordinator"
	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// TestAppendRecordsRuns: a group's progress is one row per run of
// consecutive sequence numbers within a stream, with the run's last
// transaction's server id and position; anonymous transactions (positions,
// never consecutive) get a row each.
func TestAppendRecordsRuns(t *testing.T) {
	txn := func(stream string, seq uint64, sid uint32, pos uint32) *coordinator.Txn {
		tx := &coordinator.Txn{Info: binlogfmt.TxnInfo{SourceFile: "bin.000001", EndPos: pos}}
		if stream != "" {
			tx.Info.GTID = gtid.GTID{Flavor: gtid.MariaDB, Stream: stream, Seq: seq, ServerID: sid}
		}
		return tx
	}
	row := func(stream string, last uint64, first string, sid, pos string) string {
		return "(" + quoteString("") + ", " + quoteString(stream) + ", " + strconv.FormatUint(last, 10) + ", " + first + ", " + sid + ", " + quoteString("bin.000001") + ", " + pos + ", 'applied')"
	}
	for _, tc := range []struct {
		name string
		ts   []*coordinator.Txn
		rows []string
	}{
		{"one", []*coordinator.Txn{txn("0", 7, 1, 100)}, []string{row("0", 7, "NULL", "1", "100")}},
		{"a run", []*coordinator.Txn{txn("0", 7, 1, 100), txn("0", 8, 1, 200), txn("0", 9, 2, 300)},
			[]string{row("0", 9, "7", "2", "300")}},
		{"a hole splits", []*coordinator.Txn{txn("0", 7, 1, 100), txn("0", 9, 1, 200), txn("0", 10, 1, 300)},
			[]string{row("0", 7, "NULL", "1", "100"), row("0", 10, "9", "1", "300")}},
		{"streams interleaved", []*coordinator.Txn{txn("0", 7, 1, 100), txn("1", 8, 1, 200), txn("0", 8, 1, 300)},
			[]string{row("0", 7, "NULL", "1", "100"), row("1", 8, "NULL", "1", "200"), row("0", 8, "NULL", "1", "300")}},
		{"anonymous", []*coordinator.Txn{txn("", 0, 0, 100), txn("", 0, 0, 200)},
			[]string{row(coordinator.AnonymousStream, coordinator.AnonymousSeq("bin.000001", 100), "NULL", "0", "100"),
				row(coordinator.AnonymousStream, coordinator.AnonymousSeq("bin.000001", 200), "NULL", "0", "200")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			Progress{Schema: "mtreplica"}.appendRecords(&b, tc.ts)
			got := b.String()
			_, values, ok := strings.Cut(got, " VALUES ")
			if !ok {
				t.Fatalf("no VALUES in %s", got)
			}
			if want := strings.Join(tc.rows, ","); values != want {
				t.Fatalf("rows\n got %s\nwant %s", values, want)
			}
		})
	}
}
