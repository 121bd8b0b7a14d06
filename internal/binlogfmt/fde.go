package binlogfmt

import (
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"
)

// FormatDescription is what the engine needs from a FORMAT_DESCRIPTION_EVENT.
type FormatDescription struct {
	BinlogVersion  uint16
	ServerVersion  string
	Checksum       bool // events carry a CRC32
	PostHeaderLens []byte
	Raw            []byte // the whole event as read (not a copy)
}

// MariaDB reports whether the writing server is MariaDB.
func (f *FormatDescription) MariaDB() bool {
	return strings.Contains(strings.ToLower(f.ServerVersion), "mariadb")
}

// PostHeaderLen returns the post-header length for an event type, or def when
// the description does not list it.
func (f *FormatDescription) PostHeaderLen(t replication.EventType, def int) int {
	i := int(t) - 1
	if f == nil || i < 0 || i >= len(f.PostHeaderLens) {
		return def
	}
	return int(f.PostHeaderLens[i])
}

// ParseFormatDescription decodes a whole raw FORMAT_DESCRIPTION_EVENT.
func ParseFormatDescription(ev []byte) (fd *FormatDescription, err error) {
	h, err := ParseHeader(ev)
	if err != nil {
		return nil, err
	}
	if h.Type != replication.FORMAT_DESCRIPTION_EVENT {
		return nil, fmt.Errorf("want FORMAT_DESCRIPTION_EVENT, got %s", h.Type)
	}
	if int(h.EventSize) != len(ev) || len(ev) < HeaderLen+2+50+4+1 {
		return nil, fmt.Errorf("format description event: %w (size %d, have %d)", ErrShortEvent, h.EventSize, len(ev))
	}
	defer func() {
		if r := recover(); r != nil {
			fd, err = nil, fmt.Errorf("format description event: malformed: %v", r)
		}
	}()
	var e replication.FormatDescriptionEvent
	if err := e.Decode(ev[HeaderLen:]); err != nil {
		return nil, fmt.Errorf("format description event: %w", err)
	}
	fd = &FormatDescription{
		BinlogVersion:  e.Version,
		ServerVersion:  e.ServerVersion,
		Checksum:       e.ChecksumAlgorithm == replication.BINLOG_CHECKSUM_ALG_CRC32,
		PostHeaderLens: e.EventTypeHeaderLengths,
		Raw:            ev,
	}
	if fd.Checksum {
		// The description's own checksum is computed with the in-use flag cleared.
		if h.Flags&replication.LOG_EVENT_BINLOG_IN_USE_F != 0 {
			c := append([]byte(nil), ev...)
			ClearInUse(c, true)
			if string(c[len(c)-ChecksumLen:]) != string(ev[len(ev)-ChecksumLen:]) {
				return nil, fmt.Errorf("format description event: %w", ErrChecksum)
			}
		} else if err := VerifyChecksum(ev); err != nil {
			return nil, fmt.Errorf("format description event: %w", err)
		}
	}
	return fd, nil
}
