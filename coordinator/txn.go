package coordinator

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/relaylog"
)

// Txn is one source transaction, as read from the relay log.
type Txn struct {
	// Seq numbers transactions in the order this coordinator read them (from 1).
	Seq uint64
	// Info is what the framer learned: GTID, logical clock or commit id, source positions.
	Info binlogfmt.TxnInfo
	// Events are the transaction's decoded events, GTID event included. A MySQL
	// TRANSACTION_PAYLOAD (compressed transaction) is replaced by the events it holds.
	Events []*replication.BinlogEvent
	// Start is the relay position of the first event; Next the one after the last.
	Start, Next relaylog.Position
	// Bytes is the raw size of the transaction's events.
	Bytes int64
	// Dep: the transaction may start once every transaction with Seq <= Dep
	// has committed (set by the coordinator's dependency tracking).
	Dep uint64
	// Prune, when set, lists progress low-water marks the worker records in
	// this transaction (and prunes the progress rows below them).
	Prune []Mark
	// Statement is set when the transaction is one statement without BEGIN
	// (DDL, or a non-transactional statement): it commits implicitly on the target.
	Statement bool
	// RowsOnly is set when the transaction changes data only through row
	// events (no statement DML, no INTVAR/RAND/USER_VAR, no LOAD DATA): on the
	// target it takes row locks on everything it changes.
	RowsOnly bool
	// Streamed is set when the transaction was larger than the assembler's
	// StreamBytes: Events is empty, and the worker reads the events from the
	// relay log as it applies them (OpenEvents). It runs as a barrier.
	Streamed bool
	// fde is the format description in force for the transaction, and flavor
	// the decoder's flavor: what a fresh decoder needs to read a streamed
	// transaction again, and what native row apply sends first.
	fde    []byte
	flavor string
	open   func(from relaylog.Position) (SourceCloser, error)
	filter func(*Txn)
	// deferred are the rows events whose images are not decoded yet (DecodeRows).
	deferred []deferredRows
}

// ProgressKey returns the key under which the transaction is recorded on the
// target: the GTID's stream and sequence number, or for anonymous transactions
// the stream "file" and a number ordering source positions (file number << 32 | end position).
func (t *Txn) ProgressKey() (stream string, seq uint64) {
	if !t.Info.GTID.IsZero() {
		return t.Info.GTID.Stream, t.Info.GTID.Seq
	}
	return AnonymousStream, AnonymousSeq(t.Info.SourceFile, t.Info.EndPos)
}

// AnonymousStream is the progress stream of transactions without a GTID.
const AnonymousStream = "file"

// AnonymousSeq orders anonymous transactions by source file number and end position.
func AnonymousSeq(file string, endPos uint32) uint64 {
	n := uint64(0)
	if i := strings.LastIndexByte(file, '.'); i >= 0 {
		if v, err := strconv.ParseUint(file[i+1:], 10, 32); err == nil {
			n = v
		}
	}
	return n<<32 | uint64(endPos)
}

// ID names the transaction for logs and errors: its GTID, or source file:position.
func (t *Txn) ID() string {
	if !t.Info.GTID.IsZero() {
		return t.Info.GTID.String()
	}
	return fmt.Sprintf("%s:%d", t.Info.SourceFile, t.Info.StartPos)
}

// CommitTime returns the source commit time used for lag: the original commit
// timestamp when the source gives one, else the first event's timestamp.
func (t *Txn) CommitTime() time.Time {
	if !t.Info.OriginalCommit.IsZero() {
		return t.Info.OriginalCommit
	}
	return time.Unix(int64(t.Info.Timestamp), 0)
}

// Assembler groups raw relay log events into transactions. It is a pure state
// machine, not safe for concurrent use.
type Assembler struct {
	framer binlogfmt.Framer
	parser *replication.BinlogParser
	cur    *Txn
	seq    uint64
	// StreamBytes: a transaction whose raw size passes this is not held in
	// memory but marked Streamed (0: never).
	StreamBytes int64
	fdeRaw      []byte // the last format description event, raw
	flavor      string
	// deferRows: rows events of a MariaDB stream are decoded up to their
	// header (table, flags), their row images only by Txn.DecodeRows.
	deferRows bool
	pending   []deferredRows // rows events decoded since the last Add
	// The sizes of the last transaction's event lists: the next one's are
	// allocated that large (a workload's transactions tend to look alike),
	// not grown from nothing.
	lastEvents, lastDeferred int
}

// deferredRows is a rows event whose row images are not decoded yet: data is
// its body (without header and checksum), pos where the images start.
type deferredRows struct {
	e    *replication.RowsEvent
	pos  int
	data []byte
}

// NewAssembler returns an assembler whose decoder renders values the way the
// applier expects (decimals as decimal.Decimal, temporal values as strings in UTC).
func NewAssembler() *Assembler {
	p := replication.NewBinlogParser()
	p.SetUseDecimal(true)
	p.SetParseTime(false)
	p.SetTimestampStringLocation(time.UTC)
	p.SetVerifyChecksum(false) // the relay log reader has verified it
	p.SetRawMode(false)
	return &Assembler{parser: p}
}

// DeferRows makes the assembler leave the row images of a MariaDB source's
// rows events undecoded: Txn.DecodeRows decodes them, for whoever needs them
// (writeset extraction, SQL row apply). Native row apply sends the raw events
// and needs only the header, so a transaction it applies is never decoded;
// and a worker that decodes does it in parallel with the others, not in the
// reader. MySQL sources (compressed payloads) are always decoded at once.
func (a *Assembler) DeferRows() { a.deferRows = true }

func (a *Assembler) decodeRowsHeader(e *replication.RowsEvent, data []byte) error {
	pos, err := e.DecodeHeader(data)
	if err != nil {
		return err
	}
	a.pending = append(a.pending, deferredRows{e: e, pos: pos, data: data})
	return nil
}

// DecodeRows decodes the row images that DeferRows left undecoded (none:
// nothing to do). Not safe for concurrent use on one Txn: its reader or its
// worker calls it.
func (t *Txn) DecodeRows() error {
	for i, d := range t.deferred {
		if err := d.e.DecodeData(d.pos, d.data); err != nil {
			t.deferred = t.deferred[i:]
			msg := err.Error()
			if len(msg) > 400 { // go-mysql's decode errors dump the whole event and table map
				msg = msg[:400] + "..."
			}
			return fmt.Errorf("decode rows event on `%s`.`%s` of %s: %s", d.e.Table.Schema, d.e.Table.Table, t.ID(), msg)
		}
	}
	t.deferred = nil
	return nil
}

// Framer exposes the framer's state (source file and position, format).
func (a *Assembler) Framer() *binlogfmt.Framer { return &a.framer }

// InTxn reports whether a transaction is partly assembled.
func (a *Assembler) InTxn() bool { return a.cur != nil }

// Add feeds one event. It returns the transaction when ev ends one.
func (a *Assembler) Add(ev relaylog.Event) (txn *Txn, err error) {
	fr, err := a.framer.Next(ev.Raw)
	if err != nil {
		return nil, fmt.Errorf("frame event at %s: %w", ev.Pos, err)
	}
	if fr.Header.Type == replication.FORMAT_DESCRIPTION_EVENT {
		a.flavor = "mysql"
		if fd := a.framer.FormatDescription(); fd != nil && fd.MariaDB() {
			a.flavor = "mariadb"
		}
		a.parser.SetFlavor(a.flavor)
		if a.deferRows && a.flavor == "mariadb" {
			a.parser.SetRowsEventDecodeFunc(a.decodeRowsHeader)
		} else {
			a.parser.SetRowsEventDecodeFunc(nil)
		}
		a.fdeRaw = append([]byte(nil), ev.Raw...) // a new slice: transactions share the old one
	}
	if fr.Abandoned && a.cur != nil {
		a.cur = nil // never committed on the source
	}
	if a.cur != nil && a.cur.Streamed && !fr.Start && !fr.Meta {
		// A streamed transaction's events are read again when applied: only
		// its size and end are needed now (its rows are not even decoded).
		a.cur.Bytes += int64(len(ev.Raw))
		if !fr.End {
			return nil, nil
		}
		return a.complete(ev), nil
	}
	a.pending = a.pending[:0]
	decoded, err := a.decode(ev.Raw)
	if err != nil {
		return nil, fmt.Errorf("decode %s at relay log %s (source file %q, end offset %d): %w",
			fr.Header.Type, ev.Pos, a.framer.SourceFile(), fr.Header.LogPos, err)
	}
	if fr.Meta {
		return nil, nil
	}
	if fr.Start {
		a.cur = &Txn{Start: ev.Pos, Events: make([]*replication.BinlogEvent, 0, min(a.lastEvents, 64))}
		if a.lastDeferred > 0 {
			a.cur.deferred = make([]deferredRows, 0, min(a.lastDeferred, 64))
		}
	}
	if a.cur == nil {
		return nil, fmt.Errorf("event %s at %s outside any transaction", fr.Header.Type, ev.Pos)
	}
	if tp, ok := decoded.Event.(*replication.TransactionPayloadEvent); ok {
		// MySQL 8 binlog_transaction_compression: the payload holds the
		// transaction's events after its GTID event (BEGIN, table maps, rows,
		// XID), decoded by go-mysql. The transaction is the GTID event plus
		// those events, as if uncompressed: the applier and dependency tracking
		// see an ordinary transaction.
		a.cur.Events = append(a.cur.Events, tp.Events...)
	} else {
		a.cur.Events = append(a.cur.Events, decoded)
	}
	a.cur.deferred = append(a.cur.deferred, a.pending...)
	a.cur.Bytes += int64(len(ev.Raw))
	if !fr.End {
		if a.StreamBytes > 0 && a.cur.Bytes > a.StreamBytes {
			a.cur.Streamed, a.cur.Events, a.cur.deferred = true, nil, nil
			a.cur.fde, a.cur.flavor = a.fdeRaw, a.flavor
		}
		return nil, nil
	}
	return a.complete(ev), nil
}

// complete numbers and returns the transaction ev ends.
func (a *Assembler) complete(ev relaylog.Event) *Txn {
	t := a.cur
	a.cur = nil
	a.lastEvents, a.lastDeferred = len(t.Events), len(t.deferred)
	a.seq++ // numbered when complete: an abandoned transaction takes no number
	t.Seq = a.seq
	t.Next = ev.Next
	t.Info = a.framer.Txn()
	t.Statement = t.Info.Statement
	t.fde, t.flavor = a.fdeRaw, a.flavor
	t.RowsOnly = !t.Statement && !t.Streamed && rowsOnly(t.Events)
	return t
}

// BeginOrCommit reports whether a query event is the BEGIN or COMMIT around a
// row-based transaction's events (not a statement that changes data).
func BeginOrCommit(q []byte) bool {
	q = bytes.TrimSpace(q)
	return bytes.EqualFold(q, []byte("BEGIN")) || bytes.EqualFold(q, []byte("COMMIT"))
}

// rowsOnly reports whether evs change data through row events only.
func rowsOnly(evs []*replication.BinlogEvent) bool {
	rows := false
	for _, ev := range evs {
		switch e := ev.Event.(type) {
		case *replication.RowsEvent:
			rows = true
		case *replication.QueryEvent:
			if !BeginOrCommit(e.Query) {
				return false
			}
		case *replication.TableMapEvent, *replication.XIDEvent, *replication.GTIDEvent, *replication.GtidTaggedLogEvent,
			*replication.MariadbGTIDEvent, *replication.MariadbAnnotateRowsEvent, *replication.RowsQueryEvent:
		default:
			return false
		}
	}
	return rows
}

// FormatDescription returns the raw format description event in force for
// the transaction (shared: do not modify), and whether the source is MariaDB.
func (t *Txn) FormatDescription() (raw []byte, mariadb bool) { return t.fde, t.flavor == "mariadb" }

func (a *Assembler) decode(raw []byte) (e *replication.BinlogEvent, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("malformed event: %v", r)
		}
	}()
	e, err = a.parser.Parse(raw)
	if err != nil && len(err.Error()) > 400 {
		// go-mysql's decode errors dump the whole event and table map.
		err = fmt.Errorf("%s...", err.Error()[:400])
	}
	return e, err
}
