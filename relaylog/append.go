package relaylog

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
)

// flushSize: the writer buffers events and writes them at each publish, or
// once this many bytes are pending.
const flushSize = 1 << 20

// writer is the state of the single writer, guarded by Log.wmu.
type writer struct {
	seg       *segment // current segment; nil before the first
	f         *os.File
	off       int64 // logical end of the segment: file bytes plus buf
	flushed   int64 // bytes in the file
	buf       []byte
	boundary  int64 // end of the last complete transaction or metadata event: the published size
	headerEnd int64 // end of the segment header; 0 while the segment has none yet
	hdrFDE    []byte

	fr      binlogfmt.Framer
	fde     []byte // the source's current format description, in-use flag cleared
	bFile   string // source position at boundary
	bPos    uint32
	needNew bool // start a new segment before the next transaction

	dirty    bool // written since the last fsync
	dirSync  bool // a segment file was created since the directory was last fsynced
	lastSync time.Time
	timer    *time.Timer
	closed   bool
	err      error // sticky: the first I/O error
}

func (w *writer) reset() {
	*w = writer{fr: binlogfmt.Framer{VerifyChecksums: true}, lastSync: time.Now()}
}

func (w *writer) setFDE(fde []byte) {
	fd, err := binlogfmt.ParseFormatDescription(fde)
	if err != nil {
		return
	}
	w.fde = fde
	w.fr.SetFormatDescription(fd)
}

// Append stores one whole raw event as received from the source (header,
// body and checksum; go-mysql's BinlogEvent.RawData). It validates the size,
// the checksum and the event's place in the transaction stream; an invalid
// event returns an error wrapping ErrInvalidEvent and changes nothing.
// Heartbeats are not stored. Append does not keep ev.
//
// An I/O error is sticky: every later call returns it (reopen the log).
func (l *Log) Append(ev []byte) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	w := &l.w
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	h, err := binlogfmt.ParseHeader(ev)
	if err != nil {
		return fmt.Errorf("append: %w: %w", ErrInvalidEvent, err)
	}
	if int(h.EventSize) != len(ev) {
		return fmt.Errorf("append %s: %w: event_size %d but %d bytes", h.Type, ErrInvalidEvent, h.EventSize, len(ev))
	}
	switch h.Type {
	case replication.HEARTBEAT_EVENT, replication.HEARTBEAT_LOG_EVENT_V2:
		l.m.heartbeats.Inc()
		return nil
	case replication.FORMAT_DESCRIPTION_EVENT:
		return l.appendFDE(ev)
	case replication.ROTATE_EVENT:
		if isFakeRotate(h) && w.fr.InTxn() {
			l.discard("the source stream restarted", true) // the receiver reconnected without DiscardPartial
		}
	default:
		if w.fde == nil {
			return fmt.Errorf("append %s: %w", h.Type, ErrNoFormatDescription)
		}
	}
	prevFile, prevPos := w.fr.SourceFile(), w.fr.SourcePos()
	f, err := w.fr.Next(ev)
	if err != nil {
		w.fr.SetSource(prevFile, prevPos) // the framer may have taken the rejected event's position
		return fmt.Errorf("append %s (source %s, end_log_pos %d): %w: %w", h.Type, prevFile, h.LogPos, ErrInvalidEvent, err)
	}
	if h.Type == replication.ROTATE_EVENT {
		return l.appendRotate(ev, h, prevFile)
	}
	if f.Abandoned {
		l.discard("a new transaction started before the open one ended", false)
	}
	if (f.Start || f.Meta) && (w.seg == nil || w.headerEnd == 0 || w.needNew) {
		start := prevPos
		if h.LogPos != 0 && h.LogPos >= h.EventSize {
			start = h.LogPos - h.EventSize
		}
		if err := l.startSegment(prevFile, start); err != nil {
			return err
		}
	}
	if w.seg == nil || w.headerEnd == 0 {
		return fmt.Errorf("append %s: %w: no transaction started", h.Type, ErrInvalidEvent)
	}
	if err := l.write(ev); err != nil {
		return err
	}
	if f.End || (f.Meta && !w.fr.InTxn()) {
		return l.publish(f.End)
	}
	return nil
}

// appendFDE takes the source's FORMAT_DESCRIPTION_EVENT. It is not stored as
// is: it becomes the header of the segments that follow. One arriving after
// data (a new source binlog file, or a reconnect) starts a new segment.
func (l *Log) appendFDE(ev []byte) error {
	w := &l.w
	c := bytes.Clone(ev) // the framer keeps it
	f, err := w.fr.Next(c)
	if err != nil {
		return fmt.Errorf("append FORMAT_DESCRIPTION_EVENT: %w: %w", ErrInvalidEvent, err)
	}
	if f.Abandoned {
		l.discard("the source sent a format description inside a transaction", false)
	}
	fd := w.fr.FormatDescription()
	binlogfmt.ClearInUse(c, fd.Checksum)
	if w.seg != nil && w.headerEnd > 0 &&
		(w.boundary > w.headerEnd || !bytes.Equal(c, w.hdrFDE) || w.fr.SourceFile() != w.seg.srcFile) {
		w.needNew = true
	}
	w.fde = c
	l.mu.Lock()
	l.st.fde = c
	l.st.flavor = flavorOf(fd)
	if l.st.retrieved.Empty() {
		l.st.retrieved.Flavor = l.st.flavor
	}
	l.mu.Unlock()
	return nil
}

// appendRotate: the dump thread's fake ROTATE (at the start of a stream or of
// a new source file) only tells the file name; the source's own ROTATE, at
// the end of a binlog file, is stored and ends the segment.
func (l *Log) appendRotate(ev []byte, h binlogfmt.Header, prevFile string) error {
	w := &l.w
	if isFakeRotate(h) {
		if w.seg != nil && w.headerEnd > 0 && w.fr.SourceFile() != prevFile {
			w.needNew = true
		}
		return nil
	}
	if w.seg == nil || w.headerEnd == 0 {
		return nil // nothing to end; the next segment's header names the new file
	}
	if err := l.write(ev); err != nil {
		return err
	}
	if err := l.publish(false); err != nil {
		return err
	}
	w.needNew = true
	return nil
}

// startSegment seals the current segment and starts the next one (or fills
// an empty one left by Open) with its header: magic, format description, and
// a ROTATE naming the source file and position of its first event.
func (l *Log) startSegment(file string, pos uint32) error {
	w := &l.w
	if w.fde == nil {
		return ErrNoFormatDescription
	}
	checksum := w.fr.Checksum()
	fh, _ := binlogfmt.ParseHeader(w.fde)
	hdr := make([]byte, 0, len(binlogfmt.Magic)+len(w.fde)+64+len(file))
	hdr = append(hdr, binlogfmt.Magic...)
	hdr = append(hdr, w.fde...)
	hdr = append(hdr, binlogfmt.EncodeRotate(fh.ServerID, uint64(pos), file, checksum)...)

	reuse := w.seg != nil && w.headerEnd == 0
	s, f := w.seg, w.f
	if !reuse {
		if w.seg != nil {
			if err := l.seal(); err != nil {
				return err
			}
		}
		num := uint64(1)
		l.mu.Lock()
		if n := len(l.segs); n > 0 {
			num = l.segs[n-1].num + 1
		}
		l.mu.Unlock()
		s = &segment{num: num, name: SegmentName(l.opts.BaseName, num)}
		var err error
		if f, err = os.OpenFile(l.path(s.name), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640); err != nil {
			return l.fail("create segment", err)
		}
		w.seg, w.f = s, f
	}
	if _, err := f.WriteAt(hdr, 0); err != nil {
		return l.fail("write segment header", err)
	}
	w.off, w.flushed, w.boundary, w.headerEnd = int64(len(hdr)), int64(len(hdr)), int64(len(hdr)), int64(len(hdr))
	w.buf, w.hdrFDE, w.needNew, w.dirty, w.dirSync = w.buf[:0], w.fde, false, true, w.dirSync || !reuse
	if l.opts.Sync.Mode != SyncNever {
		if err := l.fsync(); err != nil {
			return err
		}
	}
	// The file is complete before the index names it: Open removes a
	// segment file newer than the index's last entry.
	l.idxMu.Lock()
	defer l.idxMu.Unlock()
	l.mu.Lock()
	s.srcFile, s.srcPos = file, pos
	s.setBefore(l.st.retrieved, l.st.lastGTID)
	segs := l.segs
	if !reuse {
		segs = append(segs[:len(segs):len(segs)], s)
	}
	idx := encodeIndex(segs)
	l.mu.Unlock()
	if err := writeFileDurably(l.indexPath, idx); err != nil {
		return l.fail("write relay log index", err)
	}
	l.mu.Lock()
	l.segs = segs
	if n := len(segs); n > 1 {
		segs[n-2].sealed = true
	}
	s.size = int64(len(hdr))
	l.wake()
	l.mu.Unlock()
	if !reuse {
		l.m.segCreated.Inc()
	}
	l.m.segments.Set(float64(len(segs)))
	l.m.bytes.Add(float64(len(hdr)))
	l.m.bytesWritten.Add(float64(len(hdr)))
	l.log.Debug("relay log: new segment", "segment", s.name, "source_file", file, "source_pos", pos)
	return nil
}

// seal finishes the current segment before a new one starts.
func (l *Log) seal() error {
	w := &l.w
	if w.off != w.boundary {
		l.discard("rotation", false)
	}
	if err := l.flush(); err != nil {
		return err
	}
	if l.opts.Sync.Mode != SyncNever {
		if err := l.fsync(); err != nil {
			return err
		}
	}
	if err := w.f.Close(); err != nil {
		return l.fail("close segment", err)
	}
	w.f = nil
	return nil
}

func (l *Log) write(ev []byte) error {
	w := &l.w
	w.dirty = true
	l.m.events.Inc()
	l.m.bytesWritten.Add(float64(len(ev)))
	if len(w.buf) == 0 && len(ev) >= flushSize {
		if _, err := w.f.WriteAt(ev, w.flushed); err != nil {
			return l.fail("write segment", err)
		}
		w.flushed += int64(len(ev))
		w.off = w.flushed
		return nil
	}
	w.buf = append(w.buf, ev...)
	w.off += int64(len(ev))
	if len(w.buf) >= flushSize {
		return l.flush()
	}
	return nil
}

func (l *Log) flush() error {
	w := &l.w
	if len(w.buf) == 0 {
		return nil
	}
	if _, err := w.f.WriteAt(w.buf, w.flushed); err != nil {
		return l.fail("write segment", err)
	}
	w.flushed += int64(len(w.buf))
	w.buf = w.buf[:0]
	if cap(w.buf) > 4*flushSize {
		w.buf = nil
	}
	return nil
}

// publish makes everything written so far visible to readers: the end of a
// transaction (end) or a metadata event between transactions.
func (l *Log) publish(end bool) error {
	w := &l.w
	// The bytes being published, for the tail cache: still in w.buf unless a
	// large transaction was flushed early. They stay untouched until the next write.
	var fresh []byte
	if w.boundary >= w.flushed {
		fresh = w.buf[w.boundary-w.flushed:]
	}
	if err := l.flush(); err != nil {
		return err
	}
	if l.opts.Sync.Mode == SyncEveryTxn {
		if err := l.fsync(); err != nil {
			return err
		}
	}
	w.boundary, w.bFile, w.bPos = w.off, w.fr.SourceFile(), w.fr.SourcePos()
	g := w.fr.Txn().GTID
	l.mu.Lock()
	delta := w.boundary - w.seg.size
	l.tail.add(w.seg.num, w.seg.size, fresh, delta)
	w.seg.size = w.boundary
	l.st.srcFile, l.st.srcPos = w.bFile, w.bPos
	if end && !g.IsZero() {
		if l.st.retrieved.Empty() {
			l.st.retrieved.Flavor = g.Flavor
		}
		l.st.retrieved.Add(g)
		l.st.lastGTID = g
	}
	l.wake()
	l.mu.Unlock()
	l.m.bytes.Add(float64(delta))
	if end {
		l.m.transactions.Inc()
	}
	if w.boundary >= l.opts.SegmentSize {
		w.needNew = true
	}
	if l.opts.Sync.Mode == SyncInterval {
		l.scheduleSync()
	}
	return nil
}

// scheduleSync implements SyncInterval: fsync now when the last one is at
// least Interval old, else arm a timer for when it will be.
func (l *Log) scheduleSync() {
	w := &l.w
	if !w.dirty || w.timer != nil {
		return
	}
	since := time.Since(w.lastSync)
	if since >= l.opts.Sync.Interval {
		_ = l.fsync()
		return
	}
	w.timer = time.AfterFunc(l.opts.Sync.Interval-since, func() {
		l.wmu.Lock()
		defer l.wmu.Unlock()
		w.timer = nil
		if !w.closed && w.err == nil && w.dirty {
			_ = l.fsync()
		}
	})
}

// fsync syncs the current segment (and the directory after a file was created).
func (l *Log) fsync() error {
	w := &l.w
	if w.f == nil || (!w.dirty && !w.dirSync) {
		return nil
	}
	t := time.Now()
	err := w.f.Sync()
	l.m.fsyncs.Inc()
	l.m.fsyncSeconds.Observe(time.Since(t).Seconds())
	if err != nil {
		return l.fail("fsync segment", err)
	}
	if w.dirSync {
		if err := syncDir(l.opts.Dir); err != nil {
			return l.fail("fsync relay log dir", err)
		}
		w.dirSync = false
	}
	w.dirty, w.lastSync = false, t
	return nil
}

// fail records a sticky I/O error.
func (l *Log) fail(op string, err error) error {
	if l.w.err == nil {
		l.w.err = fmt.Errorf("relay log: %s: %w", op, err)
		l.log.Error("relay log: I/O error; the log refuses further writes until reopened", "op", op, "error", err)
	}
	return l.w.err
}

// DiscardPartial drops an open (incomplete) transaction, truncating the
// segment back to the end of the last complete one. The receiver calls it
// after losing its connection, before it resumes from State.
func (l *Log) DiscardPartial() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.w.closed {
		return ErrClosed
	}
	if l.w.err != nil {
		return l.w.err
	}
	l.discard("DiscardPartial", true)
	return l.w.err
}

// discard drops the bytes after the last boundary; resetFramer also forgets
// the open transaction (not when a new one has just started).
func (l *Log) discard(reason string, resetFramer bool) {
	w := &l.w
	if resetFramer {
		w.fr.Reset()
		w.fr.SetSource(w.bFile, w.bPos)
	}
	n := w.off - w.boundary
	if n <= 0 {
		return
	}
	if w.boundary >= w.flushed {
		w.buf = w.buf[:w.boundary-w.flushed]
	} else {
		w.buf = w.buf[:0]
		if err := w.f.Truncate(w.boundary); err != nil {
			_ = l.fail("truncate segment", err)
			return
		}
		w.flushed = w.boundary
	}
	w.off = w.boundary
	l.m.discarded.Add(float64(n))
	l.log.Info("relay log: discarded an incomplete transaction", "reason", reason, "bytes", n,
		"position", l.FormatPosition(Position{Segment: w.seg.num, Offset: w.boundary}))
}

// Sync flushes and fsyncs the current segment, whatever the sync policy.
func (l *Log) Sync() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.w.closed {
		return ErrClosed
	}
	if l.w.err != nil {
		return l.w.err
	}
	if err := l.flush(); err != nil {
		return err
	}
	return l.fsync()
}
