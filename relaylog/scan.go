package relaylog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// readBufSize is the bufio size for reading segments (DESIGN.md §11).
const readBufSize = 1 << 20

// segScan is what scanSegment learns from one segment file.
type segScan struct {
	size      int64
	headerEnd int64 // end of the header FDE+ROTATE; 0 when the header is incomplete
	fde       []byte
	fd        *binlogfmt.FormatDescription
	hdrFile   string // from the header ROTATE
	hdrPos    uint32

	// boundary is the end of the last complete transaction or metadata event
	// (at least headerEnd once the header is complete); the fields below
	// describe the log at that point.
	boundary   int64
	srcFile    string
	srcPos     uint32
	lastGTID   gtid.GTID
	realRotate bool // the last event before boundary is the source's ROTATE
	txns       int
	events     int

	// bad is the first bad event, nil when every event is sound.
	bad *CorruptionError
	// tail is set when the bytes after boundary hold no complete transaction
	// or metadata event: a torn (or damaged) tail that may be cut.
	tail bool
}

// hasData reports whether the segment holds anything after its header.
func (sc *segScan) hasData() bool { return sc.headerEnd > 0 && sc.boundary > sc.headerEnd }

// scanSegment reads a whole segment, verifying lengths, checksums and
// framing, and calls onTxn with the GTID of every complete transaction before
// the first bad event. It does no I/O but through ra and has no side effects.
func scanSegment(ra io.ReaderAt, size int64, name string, onTxn func(gtid.GTID)) *segScan {
	sc := &segScan{size: size}
	fail := func(off int64, err error) *segScan {
		sc.bad = &CorruptionError{Segment: name, Offset: off, Err: err}
		sc.tail = damageIsTail(ra, off, size, sc.fd)
		return sc
	}
	if size == 0 {
		return sc
	}
	br := bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), int(min(size, readBufSize)))
	magic := make([]byte, len(binlogfmt.Magic))
	if _, err := io.ReadFull(br, magic); err != nil {
		return fail(0, fmt.Errorf("%w: %d bytes", ErrTruncated, size))
	}
	if !bytes.Equal(magic, binlogfmt.Magic) {
		return fail(0, ErrBadMagic)
	}
	off := int64(len(magic))
	fr := binlogfmt.Framer{VerifyChecksums: true}
	var buf []byte
	for n := 0; off < size; n++ {
		ev, h, err := readEvent(br, size-off, &buf)
		if err != nil {
			return fail(off, err)
		}
		if (n == 0) != (h.Type == replication.FORMAT_DESCRIPTION_EVENT) || (n == 1 && h.Type != replication.ROTATE_EVENT) {
			return fail(off, fmt.Errorf("%w: found %s", ErrBadHeader, h.Type))
		}
		if n == 0 {
			ev = bytes.Clone(ev) // the framer keeps its format description
		}
		f, err := fr.Next(ev)
		if err != nil {
			return fail(off, err)
		}
		off += int64(len(ev))
		boundary := false
		switch {
		case n == 0:
			sc.fde, sc.fd = ev, fr.FormatDescription()
		case n == 1:
			_, sc.hdrFile, _ = binlogfmt.ParseRotate(ev, sc.fd.Checksum)
			sc.hdrPos = fr.SourcePos()
			sc.headerEnd, boundary = off, true
		case f.End:
			sc.txns++
			if g := fr.Txn().GTID; !g.IsZero() {
				onTxn(g)
				sc.lastGTID = g
			}
			sc.realRotate, boundary = false, true
		case f.Meta && !fr.InTxn():
			sc.realRotate, boundary = h.Type == replication.ROTATE_EVENT && !isFakeRotate(h), true
		}
		if boundary {
			sc.boundary, sc.srcFile, sc.srcPos, sc.events = off, fr.SourceFile(), fr.SourcePos(), n+1
		}
	}
	sc.tail = sc.boundary < size
	return sc
}

// readEvent reads one whole event of at most left bytes into *buf.
func readEvent(br *bufio.Reader, left int64, buf *[]byte) ([]byte, binlogfmt.Header, error) {
	if left < binlogfmt.HeaderLen {
		return nil, binlogfmt.Header{}, fmt.Errorf("%w: %d bytes left, less than an event header", ErrTruncated, left)
	}
	hb, err := br.Peek(binlogfmt.HeaderLen)
	if err != nil {
		return nil, binlogfmt.Header{}, err
	}
	h, err := binlogfmt.ParseHeader(hb)
	if err != nil {
		return nil, h, err
	}
	if int64(h.EventSize) > left {
		return nil, h, fmt.Errorf("%w: %s of %d bytes, %d left", ErrTruncated, h.Type, h.EventSize, left)
	}
	if cap(*buf) < int(h.EventSize) {
		*buf = make([]byte, h.EventSize)
	}
	ev := (*buf)[:h.EventSize]
	if _, err := io.ReadFull(br, ev); err != nil {
		return nil, h, err
	}
	return ev, h, nil
}

// isFakeRotate reports whether a ROTATE was made up by the dump thread (or by
// us, as a segment header) rather than written at the end of a source binlog.
func isFakeRotate(h binlogfmt.Header) bool {
	return h.LogPos == 0 || h.Timestamp == 0 || h.Flags&replication.LOG_EVENT_ARTIFICIAL_F != 0
}

// resyncBudget bounds the bytes damageIsTail reads while looking for sound
// events after damage; when it runs out the damage counts as not a tail.
const resyncBudget = 256 << 20

// damageIsTail decides whether damage at offset from is a torn tail: true
// when no complete transaction or metadata event can be found after it (the
// damaged transaction's own remaining events may follow). It looks for the
// next sound event at every byte offset after from: one whose checksum holds
// or, without checksums, one that starts a chain of plausible events
// reaching the end of the file.
func damageIsTail(ra io.ReaderAt, from, size int64, fd *binlogfmt.FormatDescription) bool {
	w := &window{ra: ra, size: size, budget: resyncBudget}
	tc := tailCheck{fd: fd, first: true}
	for p := from + 1; p+binlogfmt.HeaderLen <= size; {
		if w.budget <= 0 {
			return false
		}
		n := w.soundEvent(p, fd)
		if n == 0 {
			p++
			continue
		}
		// Walk the sound events from p.
		for n > 0 {
			if tc.complete(w.bytes(p, n)) {
				return false
			}
			p += int64(n)
			n = w.soundEvent(p, fd)
		}
		p++
	}
	return true
}

// window reads a file through a sliding buffer, charging a budget.
type window struct {
	ra     io.ReaderAt
	size   int64
	base   int64
	buf    []byte
	budget int64
}

func (w *window) bytes(off int64, n int) []byte {
	if off < 0 || n < 0 || off+int64(n) > w.size {
		return nil
	}
	if off >= w.base && off+int64(n) <= w.base+int64(len(w.buf)) {
		return w.buf[off-w.base : off-w.base+int64(n)]
	}
	m := min(max(int64(n), readBufSize), w.size-off)
	if int64(cap(w.buf)) < m {
		w.buf = make([]byte, m)
	}
	w.buf = w.buf[:m]
	w.budget -= m
	if k, _ := w.ra.ReadAt(w.buf, off); int64(k) < m {
		w.buf = w.buf[:0]
		return nil
	}
	w.base = off
	return w.buf[:n]
}

// soundEvent returns the size of a sound event at off, or 0.
func (w *window) soundEvent(off int64, fd *binlogfmt.FormatDescription) int {
	h, ok := w.plausible(off)
	if !ok {
		return 0
	}
	checksum := fd == nil || fd.Checksum
	if checksum {
		ev := w.bytes(off, int(h.EventSize))
		if ev != nil && len(ev) >= binlogfmt.HeaderLen+binlogfmt.ChecksumLen && binlogfmt.VerifyChecksum(ev) == nil {
			return len(ev)
		}
		if fd != nil {
			return 0
		}
	}
	// No checksums: accept a chain of plausible events ending exactly at EOF.
	for p := off + int64(h.EventSize); ; {
		if p == w.size {
			return int(h.EventSize)
		}
		w.budget -= binlogfmt.HeaderLen
		nh, ok := w.plausible(p)
		if !ok || w.budget <= 0 {
			return 0
		}
		p += int64(nh.EventSize)
	}
}

func (w *window) plausible(off int64) (binlogfmt.Header, bool) {
	hb := w.bytes(off, binlogfmt.HeaderLen)
	if hb == nil {
		return binlogfmt.Header{}, false
	}
	h, err := binlogfmt.ParseHeader(hb)
	if err != nil || off+int64(h.EventSize) > w.size || h.Flags&^0x3ff != 0 || h.Type == replication.UNKNOWN_EVENT ||
		h.Type.String() == replication.UNKNOWN_EVENT.String() {
		return h, false
	}
	return h, true
}

// tailCheck classifies the sound events found after damage: the damaged
// transaction may still end, but any event beyond its end, or any event that
// starts a transaction or stands between transactions, means that complete
// data follows the damage.
type tailCheck struct {
	fd           *binlogfmt.FormatDescription
	first, ended bool
}

func (c *tailCheck) complete(ev []byte) bool {
	first := c.first
	c.first = false
	if c.ended || len(ev) < binlogfmt.HeaderLen {
		return true
	}
	switch t := replication.EventType(ev[4]); t {
	case replication.GTID_EVENT, replication.ANONYMOUS_GTID_EVENT, replication.GTID_TAGGED_LOG_EVENT,
		replication.MARIADB_GTID_EVENT, replication.FORMAT_DESCRIPTION_EVENT, replication.ROTATE_EVENT,
		replication.PREVIOUS_GTIDS_EVENT, replication.MARIADB_GTID_LIST_EVENT, replication.MARIADB_BINLOG_CHECKPOINT_EVENT,
		replication.STOP_EVENT, replication.INCIDENT_EVENT, replication.START_EVENT_V3,
		replication.HEARTBEAT_EVENT, replication.HEARTBEAT_LOG_EVENT_V2:
		return true
	case replication.XID_EVENT, replication.XA_PREPARE_LOG_EVENT:
		c.ended = true
	case replication.QUERY_EVENT:
		end := len(ev)
		if c.fd == nil || c.fd.Checksum {
			end -= binlogfmt.ChecksumLen
		}
		if end < binlogfmt.HeaderLen {
			return false
		}
		q := binlogfmt.QueryText(ev[binlogfmt.HeaderLen:end], c.fd.PostHeaderLen(replication.QUERY_EVENT, 13))
		q = bytes.TrimRight(bytes.TrimSpace(q), ";")
		switch {
		case bytes.EqualFold(q, []byte("BEGIN")):
			return !first
		case bytes.EqualFold(q, []byte("COMMIT")) || bytes.EqualFold(q, []byte("ROLLBACK")):
			c.ended = true
		}
	}
	return false
}
