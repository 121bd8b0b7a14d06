package relaylog

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by every method of a closed Log or Reader, and by
	// Reader.Next once the Log is closed and the reader has read every
	// published event.
	ErrClosed = errors.New("relay log closed")

	// ErrInvalidEvent wraps the reason Append rejects an event (short, bad
	// size, bad checksum, impossible in a transaction stream). The log is
	// unchanged and stays usable; the receiver should reconnect.
	ErrInvalidEvent = errors.New("invalid event")

	// ErrNoFormatDescription is returned by Append for an event that arrives
	// before any FORMAT_DESCRIPTION_EVENT: without one the log can neither
	// verify checksums nor write a segment header.
	ErrNoFormatDescription = errors.New("no FORMAT_DESCRIPTION_EVENT received yet")

	// ErrPurged is returned by NewReader for a position in a purged segment.
	ErrPurged = errors.New("relay log position was purged")

	// ErrInvalidPosition is returned by NewReader for a position past the
	// published end of the log.
	ErrInvalidPosition = errors.New("invalid relay log position")

	// ErrReadersOpen is returned by Reset while readers are open.
	ErrReadersOpen = errors.New("relay log readers are open; close them first")

	// ErrMissingSegment is wrapped in a CorruptionError when the index lists a
	// segment whose file is gone while later segments exist.
	ErrMissingSegment = errors.New("segment file missing")

	// ErrBadMagic is wrapped in a CorruptionError when a segment does not start
	// with the binlog magic bytes.
	ErrBadMagic = errors.New("not a binlog file (bad magic)")

	// ErrBadHeader is wrapped in a CorruptionError when a segment does not
	// start with a FORMAT_DESCRIPTION_EVENT followed by a ROTATE_EVENT.
	ErrBadHeader = errors.New("segment does not start with FORMAT_DESCRIPTION and ROTATE events")

	// ErrTruncated is wrapped in a CorruptionError when an event extends past
	// the end of its segment (or of the published bytes).
	ErrTruncated = errors.New("event extends past the end of the segment")
)

// CorruptionError reports damaged relay log data: a segment file (or the
// index) and the byte offset of the first bad event. Open returns it for
// damage that is not a torn tail; a Reader returns it for any bad event.
type CorruptionError struct {
	Segment string // file name, e.g. "relay-bin.000003"
	Offset  int64  // byte offset of the bad event in that file
	Err     error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("relay log %s corrupt at offset %d: %v (open it with RepairCorruption to truncate it there, "+
		"or reset the relay log; the receiver fetches the rest again from the source)", e.Segment, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }
