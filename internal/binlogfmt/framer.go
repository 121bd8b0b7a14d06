package binlogfmt

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/gtid"
)

// Frame says where one event stands in the transaction stream.
type Frame struct {
	Header Header
	// Meta is set for events outside every transaction (format description,
	// rotate, GTID lists, heartbeats, checkpoints, stop, incident).
	Meta bool
	// Start is set on the first event of a transaction (its GTID event, or the
	// first event when the source writes no GTIDs).
	Start bool
	// End is set on the last event of a transaction. A lone statement without a
	// GTID has Start and End both set.
	End bool
	// Abandoned is set on a Start (or a format description) that arrives while a
	// transaction is still open: the open one never ends (the source crashed or
	// rolled back mid-write) and must be discarded.
	Abandoned bool
}

// TxnInfo describes the current (or last) transaction the framer has seen.
type TxnInfo struct {
	GTID gtid.GTID // zero for anonymous transactions
	// MySQL logical clock: 0 when the source does not write it.
	LastCommitted, SequenceNumber int64
	// MariaDB: group commit id shared by transactions that group-committed together (0: none).
	CommitID uint64
	// MariaDB GTID flags.
	MariaDBFlags byte
	// Standalone: the MariaDB GTID's standalone flag (one statement follows).
	Standalone bool
	// Statement: the transaction is one statement without BEGIN (DDL, or a
	// non-transactional statement); it commits implicitly on the target.
	Statement bool
	// OriginalCommit is the original commit time on the first source, when given (MySQL 8).
	OriginalCommit time.Time
	// Timestamp is the header timestamp of the transaction's first event.
	Timestamp uint32
	// SourceFile and StartPos: where the transaction begins in the source's binlog.
	SourceFile string
	StartPos   uint32
	// EndPos is the source position just after the transaction (log_pos of its last event).
	EndPos uint32
}

// ErrFraming reports an event that cannot occur at this point of a transaction stream.
var ErrFraming = errors.New("unexpected event")

type framerState uint8

const (
	stIdle       framerState = iota
	stAfterGTID              // GTID seen, waiting for BEGIN or the one statement
	stStandalone             // MariaDB standalone GTID: the next statement ends the transaction
	stInTxn                  // after BEGIN
	stImplicit               // an implicit statement transaction (INTVAR/RAND/USER_VAR ... QUERY)
)

// Framer classifies raw events into transactions. It is a pure state machine,
// not safe for concurrent use. The zero value is ready; feed it every event of
// a stream in order, starting with the format description.
type Framer struct {
	// VerifyChecksums makes Next check each event's CRC32 when the stream has them.
	VerifyChecksums bool

	fd         *FormatDescription
	state      framerState
	txn        TxnInfo
	sourceFile string
	lastPos    uint32
	// the last MySQL GTID's server UUID and tag, and their stream name (one per source: built once)
	lastSID    [16]byte
	lastTag    string
	lastStream string
}

// FormatDescription returns the stream's current format description (nil before the first).
func (f *Framer) FormatDescription() *FormatDescription { return f.fd }

// SetFormatDescription sets the format description, for a stream that starts
// after one (the framer also picks them up from the stream itself).
func (f *Framer) SetFormatDescription(fd *FormatDescription) { f.fd = fd }

// InTxn reports whether a transaction is open (started, not ended).
func (f *Framer) InTxn() bool { return f.state != stIdle }

// Txn returns the current transaction, or the last one when none is open.
func (f *Framer) Txn() TxnInfo { return f.txn }

// SourceFile returns the source binlog file name learned from ROTATE events.
func (f *Framer) SourceFile() string { return f.sourceFile }

// SourcePos returns the source position after the last event seen (its log_pos).
func (f *Framer) SourcePos() uint32 { return f.lastPos }

// SetSource sets the source file and position, for a stream whose ROTATE was not seen.
func (f *Framer) SetSource(file string, pos uint32) { f.sourceFile, f.lastPos = file, pos }

// Reset abandons an open transaction (after a reconnect, or a torn tail).
func (f *Framer) Reset() { f.state = stIdle }

// Checksum reports whether the stream's events carry a CRC32.
func (f *Framer) Checksum() bool { return f.fd != nil && f.fd.Checksum }

// Body returns the event body: header and checksum stripped.
func (f *Framer) Body(ev []byte) []byte {
	end := len(ev)
	if f.Checksum() && end >= HeaderLen+ChecksumLen {
		end -= ChecksumLen
	}
	if end < HeaderLen {
		return nil
	}
	return ev[HeaderLen:end]
}

// Next classifies one whole raw event (header through checksum).
func (f *Framer) Next(ev []byte) (Frame, error) {
	h, err := ParseHeader(ev)
	if err != nil {
		return Frame{}, err
	}
	fr := Frame{Header: h}
	if int(h.EventSize) != len(ev) {
		return fr, fmt.Errorf("%s: event_size %d but %d bytes: %w", h.Type, h.EventSize, len(ev), ErrShortEvent)
	}
	if h.Type == replication.FORMAT_DESCRIPTION_EVENT {
		fd, err := ParseFormatDescription(ev)
		if err != nil {
			return fr, err
		}
		f.fd = fd
		fr.Meta = true
		if f.state != stIdle {
			fr.Abandoned = true
			f.state = stIdle
		}
		return fr, nil
	}
	if f.VerifyChecksums && f.Checksum() {
		if err := VerifyChecksum(ev); err != nil {
			return fr, fmt.Errorf("%s at source pos %d: %w", h.Type, h.LogPos, err)
		}
	}
	if h.LogPos != 0 {
		f.lastPos = h.LogPos
	}
	switch h.Type {
	case replication.ROTATE_EVENT:
		if f.state != stIdle {
			return fr, fmt.Errorf("%w: ROTATE inside a transaction", ErrFraming)
		}
		if err := f.rotate(ev); err != nil {
			return fr, err
		}
		fr.Meta = true
		return fr, nil
	case replication.PREVIOUS_GTIDS_EVENT, replication.MARIADB_GTID_LIST_EVENT,
		replication.HEARTBEAT_EVENT, replication.HEARTBEAT_LOG_EVENT_V2,
		replication.MARIADB_BINLOG_CHECKPOINT_EVENT, replication.STOP_EVENT,
		replication.START_EVENT_V3, replication.MARIADB_START_ENCRYPTION_EVENT,
		replication.INCIDENT_EVENT:
		if f.state != stIdle && h.Type != replication.HEARTBEAT_EVENT && h.Type != replication.HEARTBEAT_LOG_EVENT_V2 {
			return fr, fmt.Errorf("%w: %s inside a transaction", ErrFraming, h.Type)
		}
		fr.Meta = true
		return fr, nil
	case replication.GTID_EVENT, replication.ANONYMOUS_GTID_EVENT, replication.GTID_TAGGED_LOG_EVENT, replication.MARIADB_GTID_EVENT:
		fr.Start = true
		fr.Abandoned = f.state != stIdle
		if err := f.startGTID(h, ev); err != nil {
			f.state = stIdle
			return fr, err
		}
		return fr, nil
	case replication.QUERY_EVENT, replication.MARIADB_QUERY_COMPRESSED_EVENT:
		q := f.queryText(h, ev)
		switch f.state {
		case stIdle:
			fr.Start = true
			f.begin(h)
			if isBegin(q) {
				f.state = stInTxn
			} else {
				fr.End = true
				f.txn.Statement = true
			}
		case stAfterGTID:
			if isBegin(q) {
				f.state = stInTxn
			} else {
				fr.End = true
				f.txn.Statement = true
			}
		case stStandalone, stImplicit:
			fr.End = true
			f.txn.Statement = true
		case stInTxn:
			fr.End = isCommit(q)
		}
	case replication.XID_EVENT, replication.XA_PREPARE_LOG_EVENT:
		if f.state == stIdle {
			return fr, fmt.Errorf("%w: %s outside a transaction", ErrFraming, h.Type)
		}
		fr.End = true
	case replication.TRANSACTION_PAYLOAD_EVENT:
		if f.state != stAfterGTID {
			return fr, fmt.Errorf("%w: TRANSACTION_PAYLOAD not right after a GTID event", ErrFraming)
		}
		fr.End = true
	case replication.EXECUTE_LOAD_QUERY_EVENT:
		switch f.state {
		case stIdle:
			fr.Start, fr.End = true, true
			f.begin(h)
			f.txn.Statement = true
		case stAfterGTID, stStandalone, stImplicit:
			fr.End = true
			f.txn.Statement = true
		}
	default:
		// Table maps, rows, INTVAR, RAND, USER_VAR, annotations, load blocks, ...
		switch f.state {
		case stIdle:
			fr.Start = true
			f.begin(h)
			f.state = stImplicit
		case stAfterGTID:
			f.state = stImplicit
		}
		// Old servers log autocommitted row changes to non-transactional tables
		// without BEGIN: the statement's last rows event (STMT_END_F) ends it.
		if f.state == stImplicit && isRowsEvent(h.Type) && f.rowsStmtEnd(h, ev) {
			fr.End = true
		}
	}
	if fr.End {
		f.txn.EndPos = h.LogPos
		f.state = stIdle
	}
	return fr, nil
}

func isRowsEvent(t replication.EventType) bool {
	switch t {
	case replication.WRITE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv0,
		replication.WRITE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv1,
		replication.WRITE_ROWS_EVENTv2, replication.UPDATE_ROWS_EVENTv2, replication.DELETE_ROWS_EVENTv2,
		replication.PARTIAL_UPDATE_ROWS_EVENT, replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1,
		replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1, replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		return true
	}
	return false
}

// rowsStmtEnd reports whether a rows event carries STMT_END_F.
func (f *Framer) rowsStmtEnd(h Header, ev []byte) bool {
	body := f.Body(ev)
	idLen := 6
	if f.fd.PostHeaderLen(h.Type, 8) == 6 {
		idLen = 4
	}
	if len(body) < idLen+2 {
		return false
	}
	return binary.LittleEndian.Uint16(body[idLen:])&replication.RowsEventStmtEndFlag != 0
}

func (f *Framer) begin(h Header) {
	f.txn = TxnInfo{Timestamp: h.Timestamp, SourceFile: f.sourceFile, StartPos: startPos(h)}
}

func startPos(h Header) uint32 {
	if h.LogPos >= h.EventSize {
		return h.LogPos - h.EventSize
	}
	return 0
}

func (f *Framer) startGTID(h Header, ev []byte) (err error) {
	f.begin(h)
	f.state = stAfterGTID
	body := f.Body(ev)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: malformed body (%d bytes): %v", h.Type, len(body), r)
		}
	}()
	switch h.Type {
	case replication.MARIADB_GTID_EVENT:
		if len(body) < 13 {
			return fmt.Errorf("%s: %w", h.Type, ErrShortEvent)
		}
		var e replication.MariadbGTIDEvent
		if err := e.Decode(body); err != nil {
			return fmt.Errorf("decode %s: %w", h.Type, err)
		}
		if e.IsGroupCommit() && len(body) < 21 {
			return fmt.Errorf("%s: %w", h.Type, ErrShortEvent)
		}
		f.txn.GTID = gtid.MariaDBGTID(e.GTID.DomainID, h.ServerID, e.GTID.SequenceNumber)
		f.txn.CommitID = e.CommitID
		f.txn.MariaDBFlags = e.Flags
		if e.IsStandalone() {
			f.txn.Standalone = true
			f.state = stStandalone
		} else {
			// MariaDB writes no BEGIN: its GTID event opens the transaction.
			f.state = stInTxn
		}
	case replication.GTID_EVENT, replication.ANONYMOUS_GTID_EVENT:
		if len(body) < 25 {
			return fmt.Errorf("%s: %w", h.Type, ErrShortEvent)
		}
		var e replication.GTIDEvent
		if err := e.Decode(body); err != nil {
			return fmt.Errorf("decode %s: %w", h.Type, err)
		}
		f.mysqlGTID(h, &e)
	case replication.GTID_TAGGED_LOG_EVENT:
		var e replication.GtidTaggedLogEvent
		if err := e.Decode(body); err != nil {
			return fmt.Errorf("decode %s: %w", h.Type, err)
		}
		f.mysqlGTID(h, &e.GTIDEvent)
	}
	return nil
}

func (f *Framer) mysqlGTID(h Header, e *replication.GTIDEvent) {
	if h.Type != replication.ANONYMOUS_GTID_EVENT && len(e.SID) == 16 {
		tag := e.Tag.String()
		if f.lastStream == "" || string(f.lastSID[:]) != string(e.SID) || f.lastTag != tag {
			copy(f.lastSID[:], e.SID)
			f.lastTag = tag
			f.lastStream = gtid.MySQLGTID(formatUUID(e.SID), tag, 0).Stream
		}
		f.txn.GTID = gtid.GTID{Flavor: gtid.MySQL, Stream: f.lastStream, Seq: uint64(e.GNO)}
	}
	f.txn.LastCommitted, f.txn.SequenceNumber = e.LastCommitted, e.SequenceNumber
	if e.OriginalCommitTimestamp != 0 {
		f.txn.OriginalCommit = time.UnixMicro(int64(e.OriginalCommitTimestamp))
	}
}

// formatUUID formats a 16-byte server UUID as 8-4-4-4-12 lowercase hex.
func formatUUID(u []byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// queryText returns the statement text of a QUERY event (nil when malformed or compressed).
func (f *Framer) queryText(h Header, ev []byte) []byte {
	if h.Type != replication.QUERY_EVENT {
		return nil
	}
	return QueryText(f.Body(ev), f.fd.PostHeaderLen(replication.QUERY_EVENT, 13))
}

// QueryText extracts the statement from a QUERY_EVENT body (header and checksum
// stripped). It returns nil when the body is malformed.
func QueryText(body []byte, postHeaderLen int) []byte {
	if postHeaderLen < 13 || len(body) < postHeaderLen {
		return nil
	}
	schemaLen := int(body[8])
	statusLen := int(binary.LittleEndian.Uint16(body[11:]))
	pos := postHeaderLen + statusLen + schemaLen + 1
	if pos > len(body) {
		return nil
	}
	return body[pos:]
}

// QuerySchema extracts the default schema from a QUERY_EVENT body.
func QuerySchema(body []byte, postHeaderLen int) []byte {
	if postHeaderLen < 13 || len(body) < postHeaderLen {
		return nil
	}
	schemaLen := int(body[8])
	statusLen := int(binary.LittleEndian.Uint16(body[11:]))
	pos := postHeaderLen + statusLen
	if pos+schemaLen > len(body) {
		return nil
	}
	return body[pos : pos+schemaLen]
}

func (f *Framer) rotate(ev []byte) error {
	body := ev[HeaderLen:]
	if f.fd != nil {
		body = f.Body(ev)
	} else if len(ev) >= HeaderLen+8+ChecksumLen &&
		crc32.ChecksumIEEE(ev[:len(ev)-ChecksumLen]) == binary.LittleEndian.Uint32(ev[len(ev)-ChecksumLen:]) {
		body = ev[HeaderLen : len(ev)-ChecksumLen]
	}
	if len(body) < 8 {
		return fmt.Errorf("ROTATE: %w", ErrShortEvent)
	}
	f.sourceFile = string(body[8:])
	f.lastPos = uint32(binary.LittleEndian.Uint64(body))
	return nil
}

// ParseRotate decodes the position and file name of a whole raw ROTATE event.
func ParseRotate(ev []byte, checksum bool) (pos uint64, file string, err error) {
	end := len(ev)
	if checksum {
		end -= ChecksumLen
	}
	if end < HeaderLen+8 {
		return 0, "", fmt.Errorf("ROTATE: %w", ErrShortEvent)
	}
	return binary.LittleEndian.Uint64(ev[HeaderLen:]), string(ev[HeaderLen+8 : end]), nil
}

func trimStmt(q []byte) []byte {
	return bytes.TrimSpace(bytes.TrimRight(bytes.TrimSpace(q), ";"))
}

func isBegin(q []byte) bool {
	q = trimStmt(q)
	return bytes.EqualFold(q, []byte("BEGIN")) || hasPrefixFold(q, "XA START") || hasPrefixFold(q, "XA BEGIN")
}

func isCommit(q []byte) bool {
	q = trimStmt(q)
	return bytes.EqualFold(q, []byte("COMMIT")) || bytes.EqualFold(q, []byte("ROLLBACK")) ||
		hasPrefixFold(q, "XA PREPARE") || hasPrefixFold(q, "XA COMMIT") || hasPrefixFold(q, "XA ROLLBACK")
}

func hasPrefixFold(q []byte, p string) bool {
	return len(q) >= len(p) && bytes.EqualFold(q[:len(p)], []byte(p))
}

// EncodeRotate builds a whole raw ROTATE event naming a source file and
// position (a "fake" rotate: timestamp 0, log_pos 0, as the dump protocol sends).
func EncodeRotate(serverID uint32, pos uint64, file string, checksum bool) []byte {
	n := HeaderLen + 8 + len(file)
	if checksum {
		n += ChecksumLen
	}
	ev := make([]byte, n)
	PutHeader(ev, Header{Type: replication.ROTATE_EVENT, ServerID: serverID, EventSize: uint32(n), Flags: 0x20 /* LOG_EVENT_ARTIFICIAL_F */})
	binary.LittleEndian.PutUint64(ev[HeaderLen:], pos)
	copy(ev[HeaderLen+8:], file)
	if checksum {
		FixChecksum(ev)
	}
	return ev
}
