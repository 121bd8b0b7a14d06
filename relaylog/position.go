package relaylog

import (
	"fmt"
	"strconv"
	"strings"
)

// Position is a place in the relay log: a segment (the number in its file
// name) and the byte offset of an event in it. The zero Position means "the
// oldest segment's first event". Positions compare with ==, and order with Less.
type Position struct {
	Segment uint64
	Offset  int64
}

// Less reports whether p comes before q in the log.
func (p Position) Less(q Position) bool {
	if p.Segment != q.Segment {
		return p.Segment < q.Segment
	}
	return p.Offset < q.Offset
}

// IsZero reports whether p is the zero Position.
func (p Position) IsZero() bool { return p == Position{} }

// String formats p with the default base name: "relay-bin.000003:4711".
// Log.FormatPosition uses the log's own base name.
func (p Position) String() string { return formatPosition(DefaultBaseName, p) }

func formatPosition(base string, p Position) string {
	return SegmentName(base, p.Segment) + ":" + strconv.FormatInt(p.Offset, 10)
}

// ParsePosition parses "name.000003:4711" (any base name).
func ParsePosition(s string) (Position, error) {
	file, off, ok := strings.Cut(strings.TrimSpace(s), ":")
	dot := strings.LastIndexByte(file, '.')
	if !ok || dot < 0 {
		return Position{}, fmt.Errorf("parse relay log position %q: want name.NNNNNN:offset", s)
	}
	n, err1 := strconv.ParseUint(file[dot+1:], 10, 64)
	o, err2 := strconv.ParseInt(off, 10, 64)
	if err1 != nil || err2 != nil || o < 0 {
		return Position{}, fmt.Errorf("parse relay log position %q: want name.NNNNNN:offset", s)
	}
	return Position{Segment: n, Offset: o}, nil
}

// SegmentName returns the file name of segment n: "relay-bin.000003".
func SegmentName(base string, n uint64) string { return fmt.Sprintf("%s.%06d", base, n) }

// parseSegmentName returns the number of a segment file name of this base.
func parseSegmentName(base, name string) (uint64, bool) {
	rest, ok := strings.CutPrefix(name, base+".")
	if !ok || len(rest) < 6 || strings.Trim(rest, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return n, err == nil && n > 0
}
