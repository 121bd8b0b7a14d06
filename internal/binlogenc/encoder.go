package binlogenc

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
)

// Flavor selects the server the encoder imitates.
type Flavor uint8

const (
	// MySQL8 writes a MySQL 8.0 format description (server version "8.0.36").
	MySQL8 Flavor = iota
	// MariaDB writes a MariaDB 11 format description (server version "11.8.5-MariaDB-log").
	MariaDB
)

// Post-header lengths per event type (index = type-1), copied from real
// format description events (MySQL 8.0.32, MariaDB 11.8.5).
var (
	mysql8PostHeader = []byte{0x0, 0xd, 0x0, 0x8, 0x0, 0x0, 0x0, 0x0, 0x4, 0x0, 0x4, 0x0, 0x0, 0x0, 0x62, 0x0, 0x4,
		0x1a, 0x8, 0x0, 0x0, 0x0, 0x8, 0x8, 0x8, 0x2, 0x0, 0x0, 0x0, 0xa, 0xa, 0xa, 0x2a, 0x2a, 0x0, 0x12, 0x34, 0x0,
		0xa, 0x28, 0x0}
	mariadbPostHeader = func() []byte {
		b := make([]byte, 171)
		copy(b, []byte{0x38, 0xd, 0x0, 0x8, 0x0, 0x12, 0x0, 0x4, 0x4, 0x4, 0x4, 0x12, 0x0, 0x0, 0xe4, 0x0, 0x4, 0x1a,
			0x8, 0x0, 0x0, 0x0, 0x8, 0x8, 0x8, 0x2, 0x0, 0x0, 0x0, 0xa, 0xa, 0xa, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0xa,
			0xa, 0xa})
		copy(b[160:], []byte{0x4, 0x13, 0x4, 0x0, 0xd, 0x8, 0x8, 0x8, 0xa, 0xa, 0xa})
		return b
	}()
)

// Encoder writes the events of one binlog file in order. Each method returns
// a whole raw event and advances the file position by its size, so log_pos
// (the end position written in every header) matches a file that holds the
// events in the order they were made. Fields may be changed between events.
type Encoder struct {
	Flavor   Flavor
	ServerID uint32
	// Checksum appends a CRC32 to every event (binlog_checksum=CRC32). Default true.
	Checksum bool
	// Timestamp goes into every header.
	Timestamp uint32
	// ServerVersion overrides the flavor's version string in the format description.
	ServerVersion string

	pos    uint32 // position of the next event in the file
	inner  bool   // events inside a TRANSACTION_PAYLOAD: no checksum, log_pos 0
	parent *Encoder
}

// New returns an encoder for a new binlog file (the next event is at position 4).
func New(f Flavor, serverID uint32) *Encoder {
	return &Encoder{Flavor: f, ServerID: serverID, Checksum: true, Timestamp: 1700000000, pos: 4}
}

// Pos returns the file position of the next event.
func (e *Encoder) Pos() uint32 { return e.pos }

// SetPos sets the file position of the next event.
func (e *Encoder) SetPos(p uint32) { e.pos = p }

// Magic returns the 4 bytes every binlog file starts with.
func Magic() []byte { return append([]byte(nil), binlogfmt.Magic...) }

func (e *Encoder) postHeader() []byte {
	if e.Flavor == MariaDB {
		return mariadbPostHeader
	}
	return mysql8PostHeader
}

// tableIDLen is 6 with the standard post-header lengths.
const tableIDLen = 6

// event wraps a body into a whole event: header, body, checksum.
func (e *Encoder) event(t replication.EventType, body []byte) []byte {
	return e.eventFlags(t, 0, body)
}

func (e *Encoder) eventFlags(t replication.EventType, flags uint16, body []byte) []byte {
	checksum := e.Checksum && !e.inner
	n := binlogfmt.HeaderLen + len(body)
	if checksum {
		n += binlogfmt.ChecksumLen
	}
	ev := make([]byte, n)
	h := binlogfmt.Header{Timestamp: e.Timestamp, Type: t, ServerID: e.ServerID, EventSize: uint32(n), Flags: flags}
	if !e.inner {
		h.LogPos = e.pos + uint32(n)
		e.pos += uint32(n)
	}
	binlogfmt.PutHeader(ev, h)
	copy(ev[binlogfmt.HeaderLen:], body)
	if checksum {
		binlogfmt.FixChecksum(ev)
	}
	return ev
}

// FormatDescription returns the FORMAT_DESCRIPTION_EVENT that starts a file.
// Like the server's, it always ends in the checksum algorithm and a CRC32
// field (computed even when the algorithm is off).
func (e *Encoder) FormatDescription() []byte {
	version := e.ServerVersion
	if version == "" {
		version = "8.0.36"
		if e.Flavor == MariaDB {
			version = "11.8.5-MariaDB-log"
		}
	}
	ph := e.postHeader()
	body := make([]byte, 0, 2+50+4+1+len(ph)+1)
	body = binary.LittleEndian.AppendUint16(body, 4)
	var v [50]byte
	copy(v[:], version)
	body = append(body, v[:]...)
	body = binary.LittleEndian.AppendUint32(body, e.Timestamp)
	body = append(body, binlogfmt.HeaderLen)
	body = append(body, ph...)
	alg := byte(replication.BINLOG_CHECKSUM_ALG_OFF)
	if e.Checksum {
		alg = byte(replication.BINLOG_CHECKSUM_ALG_CRC32)
	}
	body = append(body, alg)
	save := e.Checksum
	e.Checksum = true
	ev := e.event(replication.FORMAT_DESCRIPTION_EVENT, body)
	e.Checksum = save
	return ev
}

// File returns the start of a binlog file: the magic, the format description
// and (MySQL) an empty PREVIOUS_GTIDS_EVENT or (MariaDB) an empty GTID list.
func (e *Encoder) File() []byte {
	b := Magic()
	b = append(b, e.FormatDescription()...)
	if e.Flavor == MariaDB {
		return append(b, e.MariaDBGTIDList(nil)...)
	}
	return append(b, e.PreviousGTIDs(nil)...)
}

// Rotate returns a ROTATE_EVENT naming the next file, as the server writes it
// at the end of a file (with log_pos). binlogfmt.EncodeRotate makes the fake
// rotate the dump protocol sends first.
func (e *Encoder) Rotate(next string, pos uint64) []byte {
	body := binary.LittleEndian.AppendUint64(nil, pos)
	return e.event(replication.ROTATE_EVENT, append(body, next...))
}

// Stop returns a STOP_EVENT (the server's last event in a file at shutdown).
func (e *Encoder) Stop() []byte { return e.event(replication.STOP_EVENT, nil) }

// XID returns an XID_EVENT (the commit of a transaction on a transactional engine).
func (e *Encoder) XID(xid uint64) []byte {
	return e.event(replication.XID_EVENT, binary.LittleEndian.AppendUint64(nil, xid))
}

// Raw wraps a body of any type into an event (for event types this package does not model).
func (e *Encoder) Raw(t replication.EventType, body []byte) []byte { return e.event(t, body) }

// Append appends events to a buffer (a convenience for building files).
func Append(b []byte, events ...[]byte) []byte {
	for _, ev := range events {
		b = append(b, ev...)
	}
	return b
}

// crcOK reports whether a raw event's CRC32 is right (for tests and callers that check).
func crcOK(ev []byte) bool {
	n := len(ev) - binlogfmt.ChecksumLen
	return n >= binlogfmt.HeaderLen && crc32.ChecksumIEEE(ev[:n]) == binary.LittleEndian.Uint32(ev[n:])
}

func appendLenEnc(b []byte, n uint64) []byte {
	switch {
	case n < 251:
		return append(b, byte(n))
	case n < 1<<16:
		return binary.LittleEndian.AppendUint16(append(b, 0xfc), uint16(n))
	case n < 1<<24:
		return append(b, 0xfd, byte(n), byte(n>>8), byte(n>>16))
	}
	return binary.LittleEndian.AppendUint64(append(b, 0xfe), n)
}

func errorf(format string, args ...any) error { return fmt.Errorf("binlogenc: "+format, args...) }
