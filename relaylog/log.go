package relaylog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// Log is a durable relay log: segment files of raw binlog events plus an
// index. It is safe for one writer goroutine (Append, DiscardPartial, Sync,
// Close, Reset) plus any number of reader goroutines (NewReader, State,
// Purge); each Reader belongs to one goroutine.
//
// Invariants: a transaction is never split across segments; readers see only
// published bytes (whole transactions and the metadata events between them);
// every segment starts with the magic, a FORMAT_DESCRIPTION_EVENT and a
// ROTATE_EVENT naming the source file and position of its first event.
type Log struct {
	opts      Options
	lock      *os.File // flock on the directory's lock file, held while open
	log       *slog.Logger
	m         *metrics
	indexPath string

	wmu sync.Mutex // the writer: w
	w   writer

	idxMu sync.Mutex // serialises index rewrites (segment creation, Purge, Reset)

	mu      sync.Mutex // published state, below
	segs    []*segment // oldest first; the last one is being written
	readers map[*Reader]struct{}
	notify  chan struct{} // closed on publish when a reader waits
	closed  bool
	st      pubState
	tail    tailCache // the newest published bytes, for readers following the writer
}

// pubState is what State reports; the writer changes it under Log.mu.
type pubState struct {
	flavor    gtid.Flavor
	retrieved *gtid.Set
	srcFile   string
	srcPos    uint32
	lastGTID  gtid.GTID
	fde       []byte
}

// SegmentInfo describes one segment file.
type SegmentInfo struct {
	Name       string // "relay-bin.000003"
	Number     uint64
	Size       int64  // published bytes (the whole file once a newer segment exists)
	SourceFile string // source binlog file and position of the segment's first event
	SourcePos  uint32
	Retrieved  string // GTID set retrieved before this segment (IntervalString form; "" if none or unknown)
}

// State is the log's published state: what the receiver resumes from.
type State struct {
	Flavor gtid.Flavor
	// Retrieved holds every complete transaction ever appended, purged
	// segments included (a copy).
	Retrieved *gtid.Set
	// SourceFile and SourcePos: the source position after the last complete
	// transaction (or stored metadata event): where a receiver without GTIDs resumes.
	SourceFile string
	SourcePos  uint32
	LastGTID   gtid.GTID // the last complete transaction's GTID (zero if anonymous or none)
	Segments   []SegmentInfo
	Bytes      int64 // published bytes in all segments
	// FormatDescription is the source's current FORMAT_DESCRIPTION_EVENT
	// (in-use flag cleared), nil before the first one.
	FormatDescription []byte
	// Empty: no segment and no remembered position (a new log, or after
	// Reset): the receiver starts from its configured position.
	Empty bool
}

// Open opens (or creates) the relay log in opts.Dir and recovers it: it
// reconciles the index with the segment files, verifies the last segment
// (lengths, checksums, framing) and truncates a torn tail back to the end of
// the last complete transaction, logging what it cut. Damage that complete
// transactions follow is returned as a *CorruptionError, unless
// opts.RepairCorruption.
func Open(opts Options) (*Log, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("open relay log: %w", err)
	}
	lock, err := lockDir(o.Dir, o.BaseName)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		lock.Close()
		return nil, err
	}
	l := &Log{
		lock:      lock,
		opts:      o,
		log:       o.Logger.With("relay_log", filepath.Join(o.Dir, o.BaseName)),
		m:         m,
		indexPath: filepath.Join(o.Dir, o.BaseName+".index"),
		readers:   map[*Reader]struct{}{},
	}
	l.w.reset()
	if err := l.recover(); err != nil {
		if l.w.f != nil {
			_ = l.w.f.Close()
		}
		m.unregister()
		lock.Close()
		return nil, fmt.Errorf("open relay log %s: %w", filepath.Join(o.Dir, o.BaseName), err)
	}
	return l, nil
}

func (l *Log) path(name string) string { return filepath.Join(l.opts.Dir, name) }

// FormatPosition formats p with the log's base name: "relay-bin.000003:4711".
func (l *Log) FormatPosition(p Position) string { return formatPosition(l.opts.BaseName, p) }

// reconcile reads the index and makes it agree with the directory: files
// older than the index's first segment (an interrupted Purge) or newer than
// its last (an interrupted rotation) are removed; a missing last file becomes
// an empty segment; a missing file in the middle is corruption.
func (l *Log) reconcile() ([]*segment, error) {
	base := l.opts.BaseName
	_ = os.Remove(l.indexPath + ".tmp")
	segs, warnings, exists, err := readIndex(l.indexPath, base)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		l.log.Warn("relay log index: ignoring metadata; rebuilding it from the segments", "problem", w)
	}
	entries, err := os.ReadDir(l.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("list relay log dir: %w", err)
	}
	files := map[uint64]string{}
	var nums []uint64
	for _, e := range entries {
		if n, ok := parseSegmentName(base, e.Name()); ok && e.Type().IsRegular() {
			files[n] = e.Name()
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	if !exists {
		if len(nums) > 0 {
			l.log.Warn("relay log index missing; rebuilding it from the segment files", "segments", len(nums))
		}
		for _, n := range nums {
			segs = append(segs, &segment{num: n, name: files[n]})
		}
		return segs, nil
	}
	inIndex := map[uint64]bool{}
	for _, s := range segs {
		inIndex[s.num] = true
	}
	for _, n := range nums {
		switch {
		case inIndex[n]:
		case len(segs) == 0 || n < segs[0].num || n > segs[len(segs)-1].num:
			l.log.Warn("relay log: removing a segment file the index does not list (interrupted purge or rotation)", "segment", files[n])
			if err := os.Remove(l.path(files[n])); err != nil {
				return nil, fmt.Errorf("remove stray segment: %w", err)
			}
		default:
			l.log.Warn("relay log: ignoring a segment file the index does not list", "segment", files[n])
		}
	}
	for i, s := range segs {
		if _, ok := files[s.num]; ok {
			continue
		}
		if i < len(segs)-1 {
			cerr := &CorruptionError{Segment: s.name, Err: ErrMissingSegment}
			if !l.opts.RepairCorruption {
				return nil, cerr
			}
			l.log.Error("relay log: repairing: segment file missing; dropping it and every later segment", "segment", s.name, "dropped", len(segs)-i)
			for _, t := range segs[i+1:] {
				_ = os.Remove(l.path(t.name))
			}
			segs = segs[:i+1]
		}
		l.log.Warn("relay log: last segment file missing; recreating it empty", "segment", s.name)
		f, err := os.OpenFile(l.path(s.name), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
		if err != nil {
			return nil, fmt.Errorf("create segment: %w", err)
		}
		_ = f.Close()
		break
	}
	return segs, nil
}

// recover rebuilds the log's state from disk (see Open).
func (l *Log) recover() error {
	segs, err := l.reconcile()
	if err != nil {
		return err
	}
	l.st = pubState{retrieved: gtid.NewSet(0)}
	if len(segs) == 0 {
		return l.finishRecovery(segs)
	}
	// Start from the newest segment whose index entry holds the GTID state
	// before it (normally the last one), scanning every segment from there.
	start := len(segs) - 1
	for start > 0 && !segs[start].meta {
		start--
	}
	set, last := gtid.NewSet(0), gtid.GTID{}
	if segs[start].meta {
		if set, last, err = segs[start].before(); err != nil {
			return err
		}
	}
	onTxn := func(g gtid.GTID) {
		if set.Empty() && set.Flavor != g.Flavor {
			set.Flavor = g.Flavor
		}
		set.Add(g)
		last = g
	}
	for i := 0; i < len(segs); i++ {
		s := segs[i]
		if i < start {
			fi, err := os.Stat(l.path(s.name))
			if err != nil {
				return fmt.Errorf("stat segment: %w", err)
			}
			s.size, s.sealed = fi.Size(), true
			continue
		}
		if i > start {
			s.setBefore(set, last)
		}
		isLast := i == len(segs)-1
		f, err := os.OpenFile(l.path(s.name), os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open segment: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return fmt.Errorf("stat segment: %w", err)
		}
		sc := scanSegment(f, fi.Size(), s.name, onTxn)
		if set.Flavor == 0 && sc.fd != nil {
			set.Flavor = flavorOf(sc.fd)
		}
		if !isLast && sc.bad == nil && sc.boundary < sc.size {
			sc.bad = &CorruptionError{Segment: s.name, Offset: sc.boundary, Err: errors.New("incomplete transaction at the end of a segment that is not the last")}
		}
		if sc.bad != nil && !(isLast && sc.tail) {
			if !l.opts.RepairCorruption {
				_ = f.Close()
				return sc.bad
			}
			l.log.Error("relay log: repairing: truncating at damage", "segment", s.name, "damage", sc.bad.Offset,
				"error", sc.bad.Err, "truncate_at", sc.boundary, "dropped_segments", len(segs)-1-i)
			for _, t := range segs[i+1:] {
				_ = os.Remove(l.path(t.name))
			}
			segs, isLast = segs[:i+1], true
		}
		if !isLast {
			_ = f.Close()
			s.size, s.sealed = sc.size, true
			continue
		}
		cut := sc.boundary
		if sc.headerEnd == 0 {
			cut = 0
		}
		if cut < sc.size {
			reason := "incomplete transaction"
			if sc.bad != nil {
				reason = sc.bad.Err.Error()
			}
			l.log.Warn("relay log: truncating torn tail", "segment", s.name, "offset", cut, "bytes", sc.size-cut, "reason", reason)
			if err := f.Truncate(cut); err == nil {
				err = f.Sync()
			}
			if err != nil {
				_ = f.Close()
				return fmt.Errorf("truncate torn tail: %w", err)
			}
			l.m.discarded.Add(float64(sc.size - cut))
		}
		s.size = cut
		l.resumeWriter(segs, s, f, sc, cut)
	}
	if l.st.flavor == 0 {
		l.st.flavor = set.Flavor
	}
	l.st.retrieved, l.st.lastGTID = set, last
	return l.finishRecovery(segs)
}

// resumeWriter sets the writer up to append to the recovered last segment.
func (l *Log) resumeWriter(segs []*segment, s *segment, f *os.File, sc *segScan, cut int64) {
	w := &l.w
	w.seg, w.f, w.off, w.flushed, w.boundary = s, f, cut, cut, cut
	if cut == 0 {
		// No header: the writer writes one at the next event, reusing this
		// segment; the index entry keeps the state before it.
		w.headerEnd = 0
		w.bFile, w.bPos = s.srcFile, s.srcPos
		if len(segs) > 1 {
			if fde := l.readHeaderFDE(segs[len(segs)-2]); fde != nil {
				w.setFDE(fde)
			}
		}
	} else {
		w.headerEnd, w.hdrFDE = sc.headerEnd, sc.fde
		w.setFDE(sc.fde)
		w.bFile, w.bPos = sc.srcFile, sc.srcPos
		s.srcFile, s.srcPos = sc.hdrFile, sc.hdrPos
		w.needNew = sc.hasData() && (cut >= l.opts.SegmentSize || sc.realRotate)
	}
	w.fr.SetSource(w.bFile, w.bPos)
	l.st.srcFile, l.st.srcPos = w.bFile, w.bPos
	if w.fde != nil {
		l.st.fde = w.fde
		l.st.flavor = flavorOf(w.fr.FormatDescription())
	}
}

func (l *Log) finishRecovery(segs []*segment) error {
	var bytes int64
	for _, s := range segs {
		bytes += s.size
	}
	l.segs = segs
	l.m.segments.Set(float64(len(segs)))
	l.m.bytes.Set(float64(bytes))
	if len(segs) == 0 {
		if _, err := os.Stat(l.indexPath); err != nil {
			return nil // a new log: the index appears with the first segment
		}
	}
	if err := writeFileDurably(l.indexPath, encodeIndex(segs)); err != nil {
		return fmt.Errorf("write relay log index: %w", err)
	}
	return nil
}

// readHeaderFDE returns the header FORMAT_DESCRIPTION_EVENT of a segment, or nil.
func (l *Log) readHeaderFDE(s *segment) []byte {
	f, err := os.Open(l.path(s.name))
	if err != nil {
		return nil
	}
	defer f.Close()
	hdr := make([]byte, len(binlogfmt.Magic)+binlogfmt.HeaderLen)
	if _, err := io.ReadFull(f, hdr); err != nil || !bytes.Equal(hdr[:4], binlogfmt.Magic) {
		return nil
	}
	h, err := binlogfmt.ParseHeader(hdr[4:])
	if err != nil || h.EventSize > 1<<20 {
		return nil
	}
	ev := make([]byte, h.EventSize)
	if _, err := f.ReadAt(ev, 4); err != nil {
		return nil
	}
	if _, err := binlogfmt.ParseFormatDescription(ev); err != nil {
		return nil
	}
	return ev
}

func flavorOf(fd *binlogfmt.FormatDescription) gtid.Flavor {
	if fd == nil {
		return 0
	}
	if fd.MariaDB() {
		return gtid.MariaDB
	}
	return gtid.MySQL
}

// State returns the log's published state.
func (l *Log) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := State{
		Flavor:            l.st.flavor,
		Retrieved:         l.st.retrieved.Clone(),
		SourceFile:        l.st.srcFile,
		SourcePos:         l.st.srcPos,
		LastGTID:          l.st.lastGTID,
		FormatDescription: bytes.Clone(l.st.fde),
	}
	for _, seg := range l.segs {
		s.Segments = append(s.Segments, seg.info())
		s.Bytes += seg.size
	}
	s.Empty = len(l.segs) == 0 && s.SourceFile == "" && s.Retrieved.Empty()
	return s
}

// Close drops an open transaction, flushes and (unless SyncNever) fsyncs the
// current segment, and wakes blocked readers: they return the rest of the
// published events, then ErrClosed. It returns the log's sticky error, if any.
func (l *Log) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	w := &l.w
	if w.closed {
		return nil
	}
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	if w.err == nil && w.f != nil {
		l.discard("close", true)
		if w.err == nil && l.opts.Sync.Mode != SyncNever {
			_ = l.fsync()
		}
	}
	if w.f != nil {
		if err := w.f.Close(); err != nil && w.err == nil {
			w.err = fmt.Errorf("close segment: %w", err)
		}
		w.f = nil
	}
	l.mu.Lock()
	l.closed = true
	l.wake()
	l.mu.Unlock()
	l.m.unregister()
	if l.lock != nil {
		l.lock.Close() // releases the flock
		l.lock = nil
	}
	return w.err
}

// wake wakes every reader waiting for a publish. Call with l.mu held.
func (l *Log) wake() {
	if l.notify != nil {
		close(l.notify)
		l.notify = nil
	}
}

// segIndex returns the index in l.segs of segment num, or where it would be. Call with l.mu held.
func (l *Log) segIndex(num uint64) int {
	i, _ := slices.BinarySearchFunc(l.segs, num, func(s *segment, n uint64) int {
		switch {
		case s.num < n:
			return -1
		case s.num > n:
			return 1
		}
		return 0
	})
	return i
}
