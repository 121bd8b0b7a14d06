package inspect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"golang.org/x/sync/errgroup"

	"github.com/mtreplica/mtreplica/coordinator/deptrack"
	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// Options tune Inspect. The zero value is ready.
type Options struct {
	// Decoders decode rows in parallel (default GOMAXPROCS).
	Decoders int
	// BufferSize is the size of each read (default 4 MiB).
	BufferSize int
	// ChunkSize: the reader hands decoders chunks of whole transactions of about this size (default 4 MiB).
	ChunkSize int
	// HistorySize bounds the writeset history (deptrack.NewTracker; 0: its default).
	HistorySize int

	noLean bool // decode every rows event with go-mysql (tests compare both decoders)
}

func (o *Options) setDefaults() {
	if o.Decoders <= 0 {
		o.Decoders = runtime.GOMAXPROCS(0)
	}
	if o.BufferSize <= 0 {
		o.BufferSize = 4 << 20
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 4 << 20
	}
}

// ErrNotBinlog is returned for a file that does not start with the binlog magic.
var ErrNotBinlog = errors.New("not a binlog file (bad magic)")

// File inspects one binlog or relay log file.
func File(ctx context.Context, path string, opts Options) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	// A small file needs no large buffers.
	if n := int(min(st.Size(), 1<<30)) + 4096; opts.BufferSize <= 0 && n < 4<<20 {
		opts.BufferSize = n
	}
	if n := int(min(st.Size(), 1<<30)) + 4096; opts.ChunkSize <= 0 && n < 4<<20 {
		opts.ChunkSize = n
	}
	return Reader(ctx, path, f, st.Size(), opts)
}

// txnSpan is one transaction inside a chunk.
type txnSpan struct {
	info       binlogfmt.TxnInfo
	start, end int   // its events in chunk.buf
	pos        int64 // file offset of its first event
	events     int64
	compressed bool
	// statement: a statement inside the transaction (statement-based DML in MIXED), or a single statement.
	statement bool
}

// chunk is a run of whole transactions the reader hands to a decoder.
type chunk struct {
	seq  int
	fde  []byte // the format description its events follow (raw)
	buf  []byte
	txns []txnSpan
}

// txnResult is what a decoder found in one transaction.
type txnResult struct {
	rows         RowCounts
	keys         []deptrack.Key
	decodeErr    string // the first event go-mysql could not decode: the transaction is a barrier
	barrier      bool
	unknown      bool
	unknownTable string
}

type chunkResult struct {
	c            *chunk
	res          []txnResult
	payloadTypes [256]int64
}

// readState is what the reader learned beyond the chunks.
type readState struct {
	fd         *binlogfmt.FormatDescription
	types      [256]int64
	events     int64
	incomplete string
}

// Reader inspects a binlog read from r (size is its length, for the report).
func Reader(ctx context.Context, name string, r io.Reader, size int64, opts Options) (*Report, error) {
	opts.setDefaults()
	began := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	chunks := make(chan *chunk, opts.Decoders)
	results := make(chan *chunkResult, opts.Decoders)
	tokens := make(chan struct{}, 2*opts.Decoders+2) // chunks in flight: bounds memory
	free := make(chan []byte, cap(tokens))           // their buffers, for reuse
	var rs readState
	g.Go(func() error {
		defer close(chunks)
		return readChunks(ctx, filepath.Base(name), r, &opts, &rs, chunks, tokens, free)
	})
	var decoding sync.WaitGroup
	for i := 0; i < opts.Decoders; i++ {
		decoding.Add(1)
		g.Go(func() error {
			defer decoding.Done()
			d := newDecoder()
			d.noLean = opts.noLean
			defer d.close()
			for c := range chunks {
				res, err := d.decodeChunk(c)
				if err != nil {
					return err
				}
				select {
				case results <- res:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}
	go func() {
		decoding.Wait()
		close(results)
	}()
	col := newCollector(opts.HistorySize)
	g.Go(func() error {
		pending := map[int]*chunkResult{}
		next := 0
		for {
			var res *chunkResult
			select {
			case r, ok := <-results:
				if !ok {
					return nil
				}
				res = r
			case <-ctx.Done():
				return ctx.Err()
			}
			pending[res.c.seq] = res
			for {
				p, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				col.add(p)
				next++
				select {
				case free <- p.c.buf[:0]:
				default:
				}
				<-tokens
			}
		}
	})
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("inspect %s: %w", name, err)
	}
	rep := col.report(name, size, &rs)
	rep.Elapsed = time.Since(began)
	return rep, nil
}

// isControl reports whether a statement only delimits a transaction.
func isControl(q []byte) bool {
	q = bytes.TrimSpace(bytes.TrimRight(bytes.TrimSpace(q), ";"))
	for _, c := range []string{"BEGIN", "COMMIT", "ROLLBACK", "XA START", "XA END", "XA PREPARE", "XA COMMIT", "XA ROLLBACK"} {
		if len(q) >= len(c) && bytes.EqualFold(q[:len(c)], []byte(c)) {
			return true
		}
	}
	return false
}

// collector puts chunk results in order and runs the trackers.
type collector struct {
	seq         uint64
	lc, ws      *deptrack.Tracker
	steps       map[string]*stepper
	rows        RowCounts
	txns        int64
	compressed  int64
	statements  int64
	anonymous   int64
	payload     [256]int64
	largest     Transaction
	gtids       *gtid.Set
	first, last string
	unknown     int64
	unknownTbls []string
	decodeErrs  int64
	firstErr    string
}

func newCollector(history int) *collector {
	return &collector{
		lc:    deptrack.NewTracker(deptrack.LogicalClock, history),
		ws:    deptrack.NewTracker(deptrack.WriteSet, history),
		steps: map[string]*stepper{"logical-clock": newStepper(), "writeset": newStepper()},
	}
}

func (c *collector) add(r *chunkResult) {
	for i := range r.payloadTypes {
		c.payload[i] += r.payloadTypes[i]
	}
	for i := range r.c.txns {
		t := &r.c.txns[i]
		res := &r.res[i]
		c.seq++
		c.txns++
		if t.compressed {
			c.compressed++
		}
		if t.info.Statement {
			c.statements++
		}
		if t.info.GTID.IsZero() {
			c.anonymous++
		} else {
			if c.gtids == nil {
				c.gtids = gtid.NewSet(t.info.GTID.Flavor)
			}
			c.gtids.Add(t.info.GTID)
			s := t.info.GTID.String()
			if c.first == "" {
				c.first = s
			}
			c.last = s
		}
		c.rows.Events += res.rows.Events
		c.rows.Written += res.rows.Written
		c.rows.Updated += res.rows.Updated
		c.rows.Deleted += res.rows.Deleted
		if b := int64(t.end - t.start); b > c.largest.Bytes {
			id := t.info.GTID.String()
			if t.info.GTID.IsZero() {
				id = fmt.Sprintf("%s:%d", t.info.SourceFile, t.pos)
			}
			c.largest = Transaction{ID: id, Pos: t.pos, Bytes: b, Events: t.events,
				Rows: res.rows.Written + res.rows.Updated + res.rows.Deleted}
		}
		if res.decodeErr != "" {
			c.decodeErrs++
			if c.firstErr == "" {
				c.firstErr = res.decodeErr
			}
		}
		barrier := res.barrier || t.statement || t.info.Statement
		lcTx := deptrack.Txn{Seq: c.seq, SourceFile: t.info.SourceFile, LastCommitted: t.info.LastCommitted,
			SequenceNumber: t.info.SequenceNumber, CommitID: t.info.CommitID, Barrier: barrier}
		c.steps["logical-clock"].add(c.seq, c.lc.Add(&lcTx), barrier)
		wsBarrier := barrier || res.unknown || len(res.keys) == 0
		if res.unknown && !barrier {
			c.unknown++
			if len(c.unknownTbls) < 10 && !contains(c.unknownTbls, res.unknownTable) {
				c.unknownTbls = append(c.unknownTbls, res.unknownTable)
			}
		}
		wsTx := deptrack.Txn{Seq: c.seq, Barrier: wsBarrier, Keys: res.keys}
		c.steps["writeset"].add(c.seq, c.ws.Add(&wsTx), wsBarrier)
	}
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

func (c *collector) report(name string, size int64, rs *readState) *Report {
	r := &Report{File: name, Bytes: size, Events: rs.events, EventTypes: typeMap(&rs.types),
		Transactions: c.txns, Compressed: c.compressed, Statements: c.statements, Anonymous: c.anonymous,
		FirstGTID: c.first, LastGTID: c.last, Rows: c.rows, Largest: c.largest, UnknownKeys: c.unknown,
		UnknownKeyTables: c.unknownTbls, Incomplete: rs.incomplete, Parallelism: map[string]Parallelism{},
		DecodeErrors: c.decodeErrs, FirstDecodeError: c.firstErr}
	if m := typeMap(&c.payload); len(m) > 0 {
		r.PayloadEventTypes = m
	}
	if c.gtids != nil {
		r.GTIDs = c.gtids.String()
	}
	if fd := rs.fd; fd != nil {
		r.ServerVersion, r.BinlogVersion = fd.ServerVersion, fd.BinlogVersion
		r.Flavor = "mysql"
		if fd.MariaDB() {
			r.Flavor = "mariadb"
		}
		r.Checksum = "NONE"
		if fd.Checksum {
			r.Checksum = "CRC32"
		}
	}
	for m, s := range c.steps {
		r.Parallelism[m] = s.result()
	}
	return r
}

func typeMap(a *[256]int64) map[string]int64 {
	m := map[string]int64{}
	for i, n := range a {
		if n > 0 {
			m[replication.EventType(i).String()] = n
		}
	}
	return m
}

// stepper places transactions on steps: with unlimited workers and equal
// durations, a transaction starts one step after the latest-finishing
// transaction among those it waits for (Seq <= dep).
type stepper struct {
	fin      []int32 // fin[seq]: the highest finishing step among transactions 1..seq
	counts   []int64 // transactions per starting step
	barriers int64
}

func newStepper() *stepper { return &stepper{fin: []int32{0}} }

func (s *stepper) add(seq, dep uint64, barrier bool) {
	start := s.fin[dep]
	f := start + 1
	if p := s.fin[seq-1]; p > f {
		f = p
	}
	s.fin = append(s.fin, f)
	for int(start) >= len(s.counts) {
		s.counts = append(s.counts, 0)
	}
	s.counts[start]++
	if barrier {
		s.barriers++
	}
}

func (s *stepper) result() Parallelism {
	p := Parallelism{Steps: int64(len(s.counts)), Barriers: s.barriers}
	var total int64
	for _, n := range s.counts {
		total += n
		p.Max = max(p.Max, n)
	}
	if p.Steps > 0 {
		p.Average = float64(total) / float64(p.Steps)
	}
	return p
}
