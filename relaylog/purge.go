package relaylog

import (
	"fmt"
	"os"

	"github.com/mtreplica/mtreplica/internal/gtid"
)

// Purge deletes the oldest segments that lie entirely before upTo: segment
// n goes when n < upTo.Segment, or n == upTo.Segment and upTo is at its end
// and a newer segment exists. It never deletes the segment being written nor
// any segment at or after one an open Reader is in (such segments stay until
// a later Purge). The index keeps the GTID set retrieved before the oldest
// remaining segment, so State is unaffected. Purge may run concurrently with
// the writer and readers.
func (l *Log) Purge(upTo Position) (removed int, err error) {
	l.idxMu.Lock()
	defer l.idxMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	limit := uint64(1<<64 - 1)
	for r := range l.readers {
		if r.seg == nil {
			limit = 0
		} else {
			limit = min(limit, r.seg.num)
		}
	}
	n := 0
	for n < len(l.segs)-1 {
		s := l.segs[n]
		before := s.num < upTo.Segment || (s.num == upTo.Segment && s.sealed && upTo.Offset >= s.size)
		if !before || s.num >= limit {
			break
		}
		n++
	}
	if n == 0 {
		l.mu.Unlock()
		return 0, nil
	}
	gone := l.segs[:n:n]
	keep := l.segs[n:]
	idx := encodeIndex(keep)
	l.segs = keep
	l.mu.Unlock()

	// The index first: a crash before the files are gone leaves strays that
	// Open removes.
	if err := writeFileDurably(l.indexPath, idx); err != nil {
		l.mu.Lock()
		l.segs = append(gone, l.segs...)
		l.mu.Unlock()
		return 0, fmt.Errorf("purge relay log: write index: %w", err)
	}
	var bytes int64
	for _, s := range gone {
		bytes += s.size
		if err := os.Remove(l.path(s.name)); err != nil {
			l.log.Warn("relay log: purge: removing a segment file failed; Open will retry", "segment", s.name, "error", err)
		}
	}
	_ = syncDir(l.opts.Dir)
	l.m.segPurged.Add(float64(n))
	l.m.segments.Set(float64(len(keep)))
	l.m.bytes.Sub(float64(bytes))
	l.log.Info("relay log: purged segments", "removed", n, "first", gone[0].name, "last", gone[n-1].name, "bytes", bytes)
	return n, nil
}

// Reset removes every segment and the index and forgets all state (RESET
// REPLICA): the log is empty and the next Append starts relay-bin.000001.
// No Reader may be open.
func (l *Log) Reset() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.idxMu.Lock()
	defer l.idxMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.closed {
		return ErrClosed
	}
	if n := len(l.readers); n > 0 {
		return fmt.Errorf("reset relay log: %d open: %w", n, ErrReadersOpen)
	}
	if l.w.timer != nil {
		l.w.timer.Stop()
	}
	if l.w.f != nil {
		_ = l.w.f.Close()
	}
	// An empty index first: if we crash midway, Open removes the strays.
	if err := writeFileDurably(l.indexPath, nil); err != nil {
		return l.fail("reset: write index", err)
	}
	for _, s := range l.segs {
		if err := os.Remove(l.path(s.name)); err != nil && !os.IsNotExist(err) {
			return l.fail("reset: remove segment", err)
		}
	}
	if err := os.Remove(l.indexPath); err != nil {
		return l.fail("reset: remove index", err)
	}
	if err := syncDir(l.opts.Dir); err != nil {
		return l.fail("reset: fsync dir", err)
	}
	l.log.Info("relay log: reset", "segments_removed", len(l.segs))
	l.segs = nil
	l.st = pubState{retrieved: gtid.NewSet(0)}
	l.tail = tailCache{}
	l.w.reset()
	l.m.segments.Set(0)
	l.m.bytes.Set(0)
	return nil
}
