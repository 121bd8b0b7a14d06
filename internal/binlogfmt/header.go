package binlogfmt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/go-mysql-org/go-mysql/replication"
)

// HeaderLen is the size of a v4 event header.
const HeaderLen = 19

// ChecksumLen is the size of a CRC32 event checksum.
const ChecksumLen = 4

// MaxEventSize bounds the size of one event we accept (the server's own limit,
// max_allowed_packet, is at most 1 GiB).
const MaxEventSize = 1 << 30

// Magic starts every binlog and relay log file.
var Magic = []byte{0xfe, 'b', 'i', 'n'}

// Header is the decoded 19-byte event header.
type Header struct {
	Timestamp uint32
	Type      replication.EventType
	ServerID  uint32
	EventSize uint32
	LogPos    uint32
	Flags     uint16
}

// ErrShortEvent is returned when fewer bytes than a header or than event_size are available.
var ErrShortEvent = errors.New("short event")

// ErrChecksum is returned when an event's CRC32 does not match.
var ErrChecksum = errors.New("event checksum mismatch")

// ParseHeader decodes the header at the start of b. It checks that event_size
// is at least a header and at most MaxEventSize, not that b holds the whole event.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrShortEvent
	}
	h := Header{
		Timestamp: binary.LittleEndian.Uint32(b[0:]),
		Type:      replication.EventType(b[4]),
		ServerID:  binary.LittleEndian.Uint32(b[5:]),
		EventSize: binary.LittleEndian.Uint32(b[9:]),
		LogPos:    binary.LittleEndian.Uint32(b[13:]),
		Flags:     binary.LittleEndian.Uint16(b[17:]),
	}
	if h.EventSize < HeaderLen || h.EventSize > MaxEventSize {
		return h, fmt.Errorf("invalid event size %d for %s", h.EventSize, h.Type)
	}
	return h, nil
}

// PutHeader encodes h into the first HeaderLen bytes of b.
func PutHeader(b []byte, h Header) {
	binary.LittleEndian.PutUint32(b[0:], h.Timestamp)
	b[4] = byte(h.Type)
	binary.LittleEndian.PutUint32(b[5:], h.ServerID)
	binary.LittleEndian.PutUint32(b[9:], h.EventSize)
	binary.LittleEndian.PutUint32(b[13:], h.LogPos)
	binary.LittleEndian.PutUint16(b[17:], h.Flags)
}

// VerifyChecksum checks the CRC32 at the end of a whole raw event.
func VerifyChecksum(ev []byte) error {
	if len(ev) < HeaderLen+ChecksumLen {
		return ErrShortEvent
	}
	n := len(ev) - ChecksumLen
	want := binary.LittleEndian.Uint32(ev[n:])
	if got := crc32.ChecksumIEEE(ev[:n]); got != want {
		return fmt.Errorf("%w: stored %08x, computed %08x", ErrChecksum, want, got)
	}
	return nil
}

// FixChecksum recomputes the CRC32 at the end of a whole raw event in place.
func FixChecksum(ev []byte) {
	n := len(ev) - ChecksumLen
	binary.LittleEndian.PutUint32(ev[n:], crc32.ChecksumIEEE(ev[:n]))
}

// ClearInUse clears LOG_EVENT_BINLOG_IN_USE_F in a raw event's header and, when
// withChecksum, recomputes its CRC32.
func ClearInUse(ev []byte, withChecksum bool) {
	if len(ev) < HeaderLen {
		return
	}
	f := binary.LittleEndian.Uint16(ev[17:])
	if f&replication.LOG_EVENT_BINLOG_IN_USE_F == 0 {
		return
	}
	binary.LittleEndian.PutUint16(ev[17:], f&^replication.LOG_EVENT_BINLOG_IN_USE_F)
	if withChecksum && len(ev) >= HeaderLen+ChecksumLen {
		FixChecksum(ev)
	}
}

// ReadLenEnc reads a length-encoded integer (the binlog's and the client
// protocol's packed integer) from the start of b and returns it with the
// bytes it took; n is 0 when b is too short or empty.
func ReadLenEnc(b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch b[0] {
	case 0xfc:
		if len(b) < 3 {
			return 0, 0
		}
		return uint64(b[1]) | uint64(b[2])<<8, 3
	case 0xfd:
		if len(b) < 4 {
			return 0, 0
		}
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4
	case 0xfe:
		if len(b) < 9 {
			return 0, 0
		}
		return binary.LittleEndian.Uint64(b[1:]), 9
	}
	return uint64(b[0]), 1
}
