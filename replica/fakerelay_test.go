package replica

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// fakeRelay is an in-memory RelayLog: the events, and the GTIDs of the complete
// transactions in arrival order. DiscardPartial drops events after the last
// complete transaction. Every event after the format description must carry a
// valid checksum when the format description says so.
type fakeRelay struct {
	mu        sync.Mutex
	fr        miniFramer
	events    [][]byte
	committed int // len(events) at the end of the last complete transaction
	txns      []gtid.GTID
	discards  int // DiscardPartial calls that dropped something
	appendErr error
	delay     atomic.Int64 // nanoseconds per Append: a slow relay log makes the receiver lag
	err       error // a framing error, reported by check
}

var _ RelayLog = (*fakeRelay)(nil)

func newFakeRelay() *fakeRelay { return &fakeRelay{} }

func (r *fakeRelay) Append(ev []byte) error {
	if d := r.delay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.appendErr != nil {
		return r.appendErr
	}
	f, err := r.fr.next(ev)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("event %d: %w", len(r.events), err)
	}
	if f.Abandoned {
		r.events = r.events[:r.committed]
	}
	r.events = append(r.events, ev)
	switch {
	case f.End:
		r.committed = len(r.events)
		r.txns = append(r.txns, r.fr.gtid)
	case f.Meta && !r.fr.inTxn:
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
	r.fr.inTxn = false
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

// miniFramer frames a MariaDB event stream: a GTID event opens a transaction
// (MariaDB writes no BEGIN: the GTID event is it); a standalone one ends with the
// next statement, another with XID or COMMIT/ROLLBACK.
type miniFramer struct {
	checksum   bool
	inTxn      bool
	standalone bool
	gtid       gtid.GTID
}

type miniFrame struct{ Start, End, Meta, Abandoned bool }

func (m *miniFramer) next(ev []byte) (miniFrame, error) {
	var f miniFrame
	h, err := binlogfmt.ParseHeader(ev)
	if err != nil {
		return f, err
	}
	if int(h.EventSize) != len(ev) {
		return f, fmt.Errorf("%s: event_size %d, have %d bytes", h.Type, h.EventSize, len(ev))
	}
	if h.Type == replication.FORMAT_DESCRIPTION_EVENT {
		fd, err := binlogfmt.ParseFormatDescription(ev)
		if err != nil {
			return f, err
		}
		m.checksum = fd.Checksum
		f.Meta, f.Abandoned, m.inTxn = true, m.inTxn, false
		return f, nil
	}
	body := ev[binlogfmt.HeaderLen:]
	if m.checksum {
		if err := binlogfmt.VerifyChecksum(ev); err != nil {
			return f, fmt.Errorf("%s at %d: %w", h.Type, h.LogPos, err)
		}
		body = body[:len(body)-binlogfmt.ChecksumLen]
	}
	switch h.Type {
	case replication.ROTATE_EVENT, replication.MARIADB_GTID_LIST_EVENT, replication.MARIADB_BINLOG_CHECKPOINT_EVENT,
		replication.HEARTBEAT_EVENT, replication.STOP_EVENT:
		if m.inTxn {
			return f, fmt.Errorf("%s inside a transaction", h.Type)
		}
		f.Meta = true
	case replication.MARIADB_GTID_EVENT:
		if len(body) < 13 {
			return f, fmt.Errorf("short GTID event")
		}
		f.Start, f.Abandoned = true, m.inTxn
		m.inTxn = true
		m.standalone = body[12]&1 != 0
		m.gtid = gtid.MariaDBGTID(binary.LittleEndian.Uint32(body[8:]), h.ServerID, binary.LittleEndian.Uint64(body))
	case replication.XID_EVENT:
		if !m.inTxn {
			return f, fmt.Errorf("XID outside a transaction")
		}
		f.End = true
	case replication.QUERY_EVENT:
		if !m.inTxn {
			return f, fmt.Errorf("query outside a transaction")
		}
		q := bytes.ToUpper(bytes.TrimSpace(binlogfmt.QueryText(body, 13)))
		f.End = m.standalone || bytes.Equal(q, []byte("COMMIT")) || bytes.Equal(q, []byte("ROLLBACK"))
	default:
		if !m.inTxn {
			return f, fmt.Errorf("%s outside a transaction", h.Type)
		}
	}
	if f.End {
		m.inTxn = false
	}
	return f, nil
}
