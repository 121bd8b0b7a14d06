package replica

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// fakeRelay is an in-memory RelayLog: the events, and the GTIDs of the complete
// transactions in arrival order, framed by binlogfmt.Framer. DiscardPartial
// drops events after the last complete transaction. Every event after the
// format description must carry a valid checksum when it says so.
type fakeRelay struct {
	mu        sync.Mutex
	fr        binlogfmt.Framer
	events    [][]byte
	committed int // len(events) at the end of the last complete transaction
	txns      []gtid.GTID
	discards  int          // DiscardPartial calls that dropped something
	delay     atomic.Int64 // nanoseconds per Append: a slow relay log makes the receiver lag
	err       error        // a framing error, reported by check
}

var _ RelayLog = (*fakeRelay)(nil)

func newFakeRelay() *fakeRelay { return &fakeRelay{fr: binlogfmt.Framer{VerifyChecksums: true}} }

func (r *fakeRelay) Append(ev []byte) error {
	if d := r.delay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := r.fr.Next(ev)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("event %d (%s): %w", len(r.events), f.Header.Type, err)
	}
	if f.Abandoned {
		r.events = r.events[:r.committed]
	}
	r.events = append(r.events, ev)
	switch {
	case f.End:
		r.committed = len(r.events)
		r.txns = append(r.txns, r.fr.Txn().GTID)
	case f.Meta && !r.fr.InTxn():
		r.committed = len(r.events)
	}
	return nil
}

func (r *fakeRelay) DiscardPartial() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) > r.committed {
		r.discards++
	}
	r.events = r.events[:r.committed]
	r.fr.Reset()
	return nil
}

// gtids returns the GTIDs of the complete transactions so far.
func (r *fakeRelay) gtids() []gtid.GTID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gtid.GTID(nil), r.txns...)
}

// resume returns the MariaDB GTID position after the last complete
// transaction, or ok=false when there is none yet.
func (r *fakeRelay) resume() (pos *gtid.Set, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := gtid.NewSet(gtid.MariaDB)
	for _, g := range r.txns {
		s.AddInterval(g.Stream, gtid.Interval{Start: 1, End: g.Seq})
		s.SetServerID(g.Stream, g.ServerID)
	}
	return s, len(r.txns) > 0
}

func (r *fakeRelay) check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// count returns how many appended events have one of the types.
func (r *fakeRelay) count(types ...replication.EventType) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		for _, t := range types {
			if replication.EventType(ev[4]) == t {
				n++
			}
		}
	}
	return n
}
