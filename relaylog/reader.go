package relaylog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
)

// Event is one event read from the relay log.
type Event struct {
	Raw  []byte   // the whole event (header, body, checksum); owned by the caller
	Pos  Position // where it starts
	Next Position // where the next event starts (NewReader(Next) resumes after it)
}

// Reader reads the relay log from a position, following the writer: Next
// blocks until the next event is published. A Reader is for one goroutine;
// to stop a blocked Next, cancel its context.
//
// It returns every event of each segment, header FORMAT_DESCRIPTION and
// ROTATE included, so a consumer always knows the format and the source file.
// It checks lengths and checksums itself: a bad event is a *CorruptionError
// naming the segment and offset, and the reader stops there.
type Reader struct {
	l        *Log
	seg      *segment // nil until the log has a segment
	f        *os.File
	br       *bufio.Reader
	off      int64 // offset of the next event in seg
	limit    int64 // end of the bytes of seg the reader may read (published)
	haveFD   bool  // read this segment's format description
	checksum bool
	pending  []Event // header events to return before the start position
	err      error   // sticky
	closed   bool
}

// NewReader returns a reader positioned at from; Position{} is the oldest
// segment's first event. A position past a segment's header first returns
// that segment's header FORMAT_DESCRIPTION and ROTATE events (the ROTATE's
// Next is from). from must be an event boundary at or before the published
// end (an Event's Pos or Next).
func (l *Log) NewReader(from Position) (*Reader, error) {
	r := &Reader{l: l}
	var size int64
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	if len(l.segs) > 0 {
		s := l.segs[0]
		if !from.IsZero() {
			i := l.segIndex(from.Segment)
			switch {
			case from.Segment < l.segs[0].num:
				l.mu.Unlock()
				return nil, fmt.Errorf("new reader at %s: %w", l.FormatPosition(from), ErrPurged)
			case i == len(l.segs) || l.segs[i].num != from.Segment || from.Offset > l.segs[i].size:
				l.mu.Unlock()
				return nil, fmt.Errorf("new reader at %s: %w: past the end of the log", l.FormatPosition(from), ErrInvalidPosition)
			}
			s = l.segs[i]
		}
		if err := r.open(s); err != nil {
			l.mu.Unlock()
			return nil, err
		}
		size = s.size
	} else if !from.IsZero() {
		l.mu.Unlock()
		return nil, fmt.Errorf("new reader at %s: %w: the log is empty", l.FormatPosition(from), ErrInvalidPosition)
	}
	l.readers[r] = struct{}{}
	l.mu.Unlock()
	if r.seg != nil && from.Offset > int64(len(binlogfmt.Magic)) {
		if err := r.seekPastHeader(from.Offset, size); err != nil {
			_ = r.Close()
			return nil, err
		}
	}
	return r, nil
}

// open switches the reader to segment s, at its start. Call with l.mu held
// (Purge never removes a segment a reader is in).
func (r *Reader) open(s *segment) error {
	f, err := os.Open(r.l.path(s.name))
	if err != nil {
		return fmt.Errorf("relay log reader: %w", err)
	}
	if r.f != nil {
		_ = r.f.Close()
	}
	r.seg, r.f, r.off, r.limit, r.haveFD, r.checksum = s, f, 0, 0, false, false
	return nil
}

// seekPastHeader reads the segment header (of size published bytes) and
// queues it, then moves to off.
func (r *Reader) seekPastHeader(off, size int64) error {
	pos := int64(len(binlogfmt.Magic))
	magic := make([]byte, pos)
	if _, err := r.f.ReadAt(magic, 0); err != nil || !bytes.Equal(magic, binlogfmt.Magic) {
		return r.corrupt(0, ErrBadMagic)
	}
	for i := 0; i < 2 && pos < off; i++ {
		ev, err := r.readAt(pos, size-pos)
		if err != nil {
			return err
		}
		t := replication.EventType(ev[4])
		if (i == 0 && t != replication.FORMAT_DESCRIPTION_EVENT) || (i == 1 && t != replication.ROTATE_EVENT) {
			return r.corrupt(pos, fmt.Errorf("%w: found %s", ErrBadHeader, t))
		}
		if err := r.check(ev, pos); err != nil {
			return err
		}
		next := pos + int64(len(ev))
		r.pending = append(r.pending, Event{Raw: ev, Pos: Position{r.seg.num, pos}, Next: Position{r.seg.num, next}})
		pos = next
	}
	if pos > off {
		return fmt.Errorf("new reader at %s: %w: inside the segment header", r.l.FormatPosition(Position{r.seg.num, off}), ErrInvalidPosition)
	}
	r.pending[len(r.pending)-1].Next = Position{r.seg.num, off}
	r.off, r.limit = off, off
	return nil
}

func (r *Reader) readAt(off, left int64) ([]byte, error) {
	hb := make([]byte, binlogfmt.HeaderLen)
	if left < binlogfmt.HeaderLen {
		return nil, r.corrupt(off, ErrTruncated)
	}
	if _, err := r.f.ReadAt(hb, off); err != nil {
		return nil, r.corrupt(off, fmt.Errorf("%w: %w", ErrTruncated, err))
	}
	h, err := binlogfmt.ParseHeader(hb)
	if err != nil {
		return nil, r.corrupt(off, err)
	}
	if int64(h.EventSize) > left {
		return nil, r.corrupt(off, fmt.Errorf("%w: %s of %d bytes", ErrTruncated, h.Type, h.EventSize))
	}
	ev := make([]byte, h.EventSize)
	if _, err := r.f.ReadAt(ev, off); err != nil {
		return nil, r.corrupt(off, fmt.Errorf("%w: %w", ErrTruncated, err))
	}
	return ev, nil
}

func (r *Reader) corrupt(off int64, err error) error {
	r.err = &CorruptionError{Segment: r.seg.name, Offset: off, Err: err}
	return r.err
}

// check verifies one event read at off: the segment starts with a format
// description, and every event's checksum holds.
func (r *Reader) check(ev []byte, off int64) error {
	t := replication.EventType(ev[4])
	if (off == int64(len(binlogfmt.Magic))) != (t == replication.FORMAT_DESCRIPTION_EVENT) {
		return r.corrupt(off, fmt.Errorf("%w: found %s", ErrBadHeader, t))
	}
	if t == replication.FORMAT_DESCRIPTION_EVENT {
		fd, err := binlogfmt.ParseFormatDescription(ev)
		if err != nil {
			return r.corrupt(off, err)
		}
		r.haveFD, r.checksum = true, fd.Checksum
		return nil
	}
	if r.checksum {
		if err := binlogfmt.VerifyChecksum(ev); err != nil {
			return r.corrupt(off, fmt.Errorf("%s: %w", t, err))
		}
	}
	return nil
}

// Position returns where the next event starts.
func (r *Reader) Position() Position {
	if r.seg == nil {
		return Position{}
	}
	if len(r.pending) > 0 {
		return r.pending[0].Pos
	}
	return Position{r.seg.num, max(r.off, int64(len(binlogfmt.Magic)))}
}

// Next returns the next event, blocking until one is published. It returns
// ctx.Err() only when it would block; ErrClosed once the log is closed and
// every published event was read; a *CorruptionError for a bad event.
func (r *Reader) Next(ctx context.Context) (Event, error) {
	for {
		if r.closed {
			return Event{}, ErrClosed
		}
		if r.err != nil {
			return Event{}, r.err
		}
		if len(r.pending) > 0 {
			ev := r.pending[0]
			r.pending = r.pending[1:]
			return ev, nil
		}
		if r.seg != nil && r.off < r.limit {
			ev, err := r.read()
			if err != nil || ev.Raw != nil {
				return ev, err
			}
			continue
		}
		wait, err := r.advance()
		if err != nil {
			return Event{}, err
		}
		if wait != nil {
			select {
			case <-wait:
			case <-ctx.Done():
				return Event{}, ctx.Err()
			}
		}
	}
}

// read reads the event at r.off (or the magic, returning a zero Event).
func (r *Reader) read() (Event, error) {
	if r.off == 0 {
		magic := make([]byte, len(binlogfmt.Magic))
		if r.limit < int64(len(magic)) {
			return Event{}, r.corrupt(0, ErrTruncated)
		}
		if _, err := io.ReadFull(r.br, magic); err != nil {
			return Event{}, r.ioErr(err)
		}
		if !bytes.Equal(magic, binlogfmt.Magic) {
			return Event{}, r.corrupt(0, ErrBadMagic)
		}
		r.off = int64(len(magic))
		return Event{}, nil
	}
	var buf []byte
	ev, _, err := readEvent(r.br, r.limit-r.off, &buf)
	if err != nil {
		var perr *os.PathError
		if errors.As(err, &perr) {
			return Event{}, r.ioErr(err)
		}
		return Event{}, r.corrupt(r.off, err)
	}
	if err := r.check(ev, r.off); err != nil {
		return Event{}, err
	}
	pos := Position{r.seg.num, r.off}
	r.off += int64(len(ev))
	return Event{Raw: ev, Pos: pos, Next: Position{r.seg.num, r.off}}, nil
}

func (r *Reader) ioErr(err error) error {
	r.err = fmt.Errorf("relay log reader %s: %w", r.seg.name, err)
	return r.err
}

// advance takes in newly published bytes or the next segment, or returns a
// channel that is closed at the next publish.
func (r *Reader) advance() (<-chan struct{}, error) {
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.seg == nil {
		if len(l.segs) == 0 {
			return l.waitLocked()
		}
		return nil, r.open(l.segs[0])
	}
	if s := r.seg; s.size > r.limit {
		r.limit = s.size
		// The buffer is empty here; grow it up to readBufSize as sections grow.
		if n := r.limit - r.off; r.br == nil || (r.br.Size() < readBufSize && int64(r.br.Size()) < n) {
			r.br = bufio.NewReaderSize(nil, int(min(max(n, 4<<10), readBufSize)))
		}
		if b := l.tail.get(s.num, r.off, r.limit); b != nil {
			r.br.Reset(bytes.NewReader(b))
			l.m.cacheHit.Add(float64(len(b)))
		} else {
			r.br.Reset(io.NewSectionReader(r.f, r.off, r.limit-r.off))
			l.m.cacheMiss.Add(float64(r.limit - r.off))
		}
		return nil, nil
	}
	if r.seg.sealed {
		if i := l.segIndex(r.seg.num) + 1; i < len(l.segs) {
			return nil, r.open(l.segs[i])
		}
	}
	return l.waitLocked()
}

func (l *Log) waitLocked() (<-chan struct{}, error) {
	if l.closed {
		return nil, ErrClosed
	}
	if l.notify == nil {
		l.notify = make(chan struct{})
	}
	return l.notify, nil
}

// Close releases the reader. It must not run concurrently with Next.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.l.mu.Lock()
	delete(r.l.readers, r)
	r.l.mu.Unlock()
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}
