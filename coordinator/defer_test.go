package coordinator

import (
	"reflect"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/relaylog"
)

// TestDeferRows assembles every fixture twice, decoding row images at once and
// with DeferRows: a MariaDB stream's rows events carry no images until
// DecodeRows, which then yields exactly the images decoded at once (and the
// same error where those fail); other streams are decoded at once either way.
func TestDeferRows(t *testing.T) {
	deferredSeen := 0
	perFile := map[string]int{}
	for _, path := range fixtureFiles(t) {
		b, err := readFixture(path)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := splitEvents(b)
		if err != nil {
			continue // not a binlog file (the framing tests cover these)
		}
		eager, lazy := NewAssembler(), NewAssembler()
		lazy.DeferRows()
		eagerFailed := false // the eager decode failed on an event of the transaction being assembled
		for i, ev := range raw {
			rev := relaylog.Event{Raw: ev, Pos: relaylog.Position{Segment: 1, Offset: int64(i)}}
			te, errE := eager.Add(rev)
			tl, errL := lazy.Add(rev)
			if errL != nil {
				if errE == nil {
					t.Fatalf("%s: event %d: deferred assembly failed where eager did not: %v", path, i, errL)
				}
				break
			}
			if errE != nil || eagerFailed {
				// The eager decode failed on row images: the deferred one must
				// fail on DecodeRows. The eager assembler is done with this file.
				eagerFailed = true
				if tl == nil {
					continue
				}
				if err := tl.DecodeRows(); err == nil {
					t.Fatalf("%s %s: eager decoding failed (%v), DecodeRows did not", path, tl.ID(), errE)
				}
				break
			}
			if (te == nil) != (tl == nil) {
				t.Fatalf("%s: event %d: one assembler completed a transaction, the other did not", path, i)
			}
			if te == nil {
				continue
			}
			_, mariadb := tl.FormatDescription()
			undecoded := 0
			for k, e := range tl.Events {
				if re, ok := e.Event.(*replication.RowsEvent); ok {
					if re.Table == nil {
						t.Fatalf("%s %s: deferred rows event %d has no table", path, tl.ID(), k)
					}
					if re.Rows == nil {
						undecoded++
					}
				}
			}
			if undecoded > 0 && !mariadb {
				t.Fatalf("%s %s: %d rows events of a MySQL stream left undecoded", path, tl.ID(), undecoded)
			}
			deferredSeen += undecoded
			perFile[path] += undecoded
			if err := tl.DecodeRows(); err != nil {
				t.Fatalf("%s %s: DecodeRows: %v", path, tl.ID(), err)
			}
			if len(te.Events) != len(tl.Events) {
				t.Fatalf("%s %s: %d events eager, %d deferred", path, te.ID(), len(te.Events), len(tl.Events))
			}
			for k := range te.Events {
				re, ok := te.Events[k].Event.(*replication.RowsEvent)
				if !ok {
					continue
				}
				rl := tl.Events[k].Event.(*replication.RowsEvent)
				if !reflect.DeepEqual(re.Rows, rl.Rows) || !reflect.DeepEqual(re.SkippedColumns, rl.SkippedColumns) {
					t.Fatalf("%s %s event %d: rows differ after DecodeRows:\neager    %v\ndeferred %v", path, te.ID(), k, re.Rows, rl.Rows)
				}
			}
		}
	}
	if deferredSeen == 0 {
		t.Fatal("no MariaDB rows event was deferred: the fixtures did not exercise DeferRows")
	}
	t.Logf("%d rows events deferred and decoded: %v", deferredSeen, perFile)
}
