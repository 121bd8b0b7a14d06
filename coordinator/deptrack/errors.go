package deptrack

import "errors"

var (
	// ErrBadMode: a dependency mode name ParseMode does not know. Use commit-order, logical-clock, writeset,
	// database, or several joined by "+".
	ErrBadMode = errors.New("unknown dependency tracking mode (want commit-order, logical-clock, writeset, " +
		"database, or several joined by +)")
	// ErrBadEvent: a rows event the extractor cannot read (no table map, an unknown event type, an odd number of
	// update images, rows shorter than the column count). The caller makes the transaction a barrier.
	ErrBadEvent = errors.New("malformed rows event")
	// ErrUnsupportedValue: a key column value of a Go type the extractor does not know how to normalise. The
	// caller makes the transaction a barrier.
	ErrUnsupportedValue = errors.New("unsupported key column value")
)
