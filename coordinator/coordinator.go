package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/mtreplica/mtreplica/coordinator/schedule"
	"github.com/mtreplica/mtreplica/relaylog"
)

// Source yields relay log events in order; *relaylog.Reader implements it.
type Source interface {
	Next(ctx context.Context) (relaylog.Event, error)
}

var _ Source = (*relaylog.Reader)(nil)

// SourceCloser is a Source to close after use; *relaylog.Reader implements it.
type SourceCloser interface {
	Source
	Close() error
}

var _ SourceCloser = (*relaylog.Reader)(nil)

// Gate is a transaction's commit turn, handed to the worker applying it.
type Gate interface {
	// Ready reports whether the transaction may commit right now, without
	// waiting (every transaction it must follow has committed). A worker that
	// sees Ready need not wait.
	Ready() bool
	// Wait blocks until the transaction may commit. It returns ErrAborted when
	// the coordinator wants the transaction rolled back and applied again later
	// (an order-inversion deadlock), or ctx's error.
	Wait(ctx context.Context) error
	// Aborted reports whether the coordinator has asked for the transaction to
	// be rolled back (a worker whose statement fails checks it, and returns
	// ErrAborted instead of retrying on its own).
	Aborted() bool
}

// ErrUntilReached is returned by Run when Options.Hold reported the until
// condition: every transaction before the one that met it is committed.
var ErrUntilReached = errors.New("until condition reached")

// ErrAborted asks a worker to roll its transaction back: the coordinator
// applies it again once the transactions before it have committed.
var ErrAborted = errors.New("transaction aborted by the coordinator to break an order-inversion deadlock")

// ExecutedGate is a Gate a worker tells when its transaction's body has been
// applied and only its commit is left (Options.Pipeline), and when it rolled
// the transaction back to apply it again (a transient error): its row locks
// are gone, and transactions after it must not start on their account.
type ExecutedGate interface {
	Gate
	Executed()
	Unexecuted()
}

// Worker applies one transaction to the target, recording its progress in the
// same target transaction; implemented by *applier.Worker. A Worker is used by
// one goroutine at a time.
type Worker interface {
	// Apply applies t: the body, then (after gate allows) the commit.
	Apply(ctx context.Context, t *Txn, gate Gate) error
	// ConnectionID is the target connection id (0 when not connected), used to
	// match lock waits on the target to workers.
	ConnectionID() uint32
}

// GroupWorker is a Worker that can apply several consecutive transactions as
// one target transaction (a group): their bodies and progress records in
// source order, one COMMIT. The target then sees all of them or none, so the
// visible state stays a prefix of the source's history, and the cost of a
// commit (a round trip, an fsync of the target's redo log and binlog) is paid
// once per group instead of once per transaction.
type GroupWorker interface {
	Worker
	// ApplyGroup applies ts (at least two, in source order, none of them a
	// Statement) in one target transaction, committing after gate allows.
	ApplyGroup(ctx context.Context, ts []*Txn, gate Gate) error
}

// LockWait is one lock wait on the target: the connection Waiter waits for a
// lock that connection Holder holds.
type LockWait struct{ Waiter, Holder uint32 }

// Options configure a Coordinator.
type Options struct {
	// QueueBytes bounds the raw bytes of transactions read but not yet
	// committed (like replica_pending_jobs_size_max). Default 16 MiB. A
	// transaction larger than the budget takes the whole budget.
	QueueBytes int64
	// PreserveCommitOrder makes transactions commit in source order.
	PreserveCommitOrder bool
	// Skip reports whether the target already holds a transaction (from the
	// executed set read at start). Nil skips nothing.
	Skip func(t *Txn) bool
	// Hold, when set, is called with each transaction about to be queued for a
	// worker (not with skipped ones), from the reader goroutine. It may block:
	// delayed replication (SOURCE_DELAY) waits there. When it returns
	// ErrUntilReached, the coordinator waits until every transaction before t
	// has committed and Run returns ErrUntilReached, t left unapplied (START
	// REPLICA UNTIL). Any other error stops Run.
	Hold func(ctx context.Context, t *Txn) error
	// Dependency returns the Seq t must wait for (t may start once every
	// transaction with Seq <= dep has committed) and whether t is a barrier,
	// after which the next dependency is computed only once t committed (so
	// table definitions read from the target are current). Nil: serial (dep =
	// Seq-1, statements are barriers).
	Dependency func(t *Txn) (dep uint64, barrier bool, err error)
	// OnApplied is called after each transaction commits, with the low-water
	// mark: the relay position before which everything is applied. With
	// PreserveCommitOrder it is called in source order.
	OnApplied func(t *Txn, lowWater relaylog.Position)
	// LockWaits lists lock waits on the target, for the order-inversion
	// deadlock detector. Nil disables detection (lock wait timeouts and
	// retries still end such a cycle, slowly).
	LockWaits func(ctx context.Context) ([]LockWait, error)
	// Interrupt stops the statement a target connection is running (KILL
	// QUERY), to abort a transaction blocked on a lock. Nil: only
	// transactions waiting for their commit turn can be aborted.
	Interrupt func(ctx context.Context, connID uint32) error
	// Filter, when set, edits each transaction not skipped before dependency
	// tracking and apply (replication filters): it may drop events and rename
	// schemas. A transaction it leaves without changes is still applied, which
	// records its progress.
	Filter func(t *Txn)
	// MaxAborts bounds how often one transaction is aborted for order
	// inversion before the coordinator gives up with an error. Default 100.
	MaxAborts int
	// Reopen opens a reader of the relay log at a position, for transactions
	// too large to hold in memory: with it, a transaction whose raw size passes
	// StreamBytes is read to its end without keeping its events, and the worker
	// reads them again from the relay log as it applies them, as a barrier.
	// Nil: every transaction is held whole (QueueBytes then bounds only how
	// many are read ahead, not the size of one).
	Reopen func(from relaylog.Position) (SourceCloser, error)
	// StreamBytes: transactions larger than this are streamed (with Reopen).
	// Default a quarter of QueueBytes: decoded events take several times
	// their raw size.
	StreamBytes int64
	// GroupTxns bounds how many consecutive transactions one worker may apply
	// as one target transaction when its workers are GroupWorkers; 1 disables
	// grouping. Default 256. Only transactions already read are grouped: a
	// group never waits for more, so an idle source sees no extra latency.
	GroupTxns int
	// DeferRows leaves row images undecoded until Txn.DecodeRows (Assembler.DeferRows).
	DeferRows bool
	// Pipeline lets a transaction that changes only rows (Txn.RowsOnly, not a
	// barrier; the Dependency function clears RowsOnly for a transaction whose
	// rows are not all found through a unique key, since a table scan does
	// not wait for an earlier transaction's row lock) start once every
	// transaction before it has applied its body and waits only for its
	// commit turn, whatever its dependency: what it conflicts with is locked
	// until committed, so it waits on the target, and a worker's body
	// overlaps the commits (and the coordinator's work) before it
	// (schedule.Config.Pipeline). Used only with more than one worker.
	Pipeline bool
	// GroupBytes bounds a group's raw size. Default 1 MiB.
	GroupBytes int64
	// PruneEvery: every this many dispatches, a transaction carries the
	// progress low-water marks (Txn.Prune). Default 1000.
	PruneEvery int
	// Logger; nil discards.
	Logger *slog.Logger
	// Registerer for metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

func (o *Options) setDefaults() {
	if o.QueueBytes <= 0 {
		o.QueueBytes = 16 << 20
	}
	if o.MaxAborts <= 0 {
		o.MaxAborts = 100
	}
	if o.StreamBytes <= 0 {
		o.StreamBytes = o.QueueBytes / 4
	}
	if o.GroupTxns <= 0 {
		o.GroupTxns = 256
	}
	if o.GroupBytes <= 0 {
		o.GroupBytes = 1 << 20
	}
	if o.PruneEvery <= 0 {
		o.PruneEvery = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Status is the applier side of SHOW REPLICA STATUS.
type Status struct {
	Running        bool
	State          string // Replica_SQL_Running_State
	RelayPos       relaylog.Position
	SourceFile     string // Relay_Source_Log_File
	ExecSourcePos  uint32 // Exec_Source_Log_Pos
	LastApplied    string // GTID or file:pos of the last committed transaction
	LastCommitTime time.Time
	// OldestPending is the source commit time of the oldest transaction read but
	// not yet committed (zero when none): the basis of Seconds_Behind_Source.
	OldestPending time.Time
	Applied       uint64
	Skipped       uint64
	Aborts        uint64
	Pipelined     uint64 // groups started before their dependency committed (Options.Pipeline)
	LastError     string
	LastErrorTime time.Time
	Workers       []WorkerStatus
}

// WorkerStatus mirrors performance_schema.replication_applier_status_by_worker.
type WorkerStatus struct {
	WorkerID               int           `json:"WORKER_ID"`
	ServiceState           string        `json:"SERVICE_STATE"`
	ApplyingTransaction    string        `json:"APPLYING_TRANSACTION"`
	LastAppliedTransaction string        `json:"LAST_APPLIED_TRANSACTION"`
	TransactionsApplied    uint64        `json:"TRANSACTIONS_APPLIED"`
	Retries                uint64        `json:"RETRIES"`
	BusyTime               time.Duration `json:"BUSY_TIME_NS"`
	CommitWaitTime         time.Duration `json:"COMMIT_WAIT_TIME_NS"`
	IdleTime               time.Duration `json:"IDLE_TIME_NS"`
	// DependencyWaitTime is time idle while the next transaction read waited
	// for a dependency to commit (not counted in IdleTime).
	DependencyWaitTime          time.Duration `json:"DEPENDENCY_WAIT_TIME_NS"`
	LastErrorMessage            string        `json:"LAST_ERROR_MESSAGE"`
	applyingSince, stateSince   time.Time
	waitingCommit, applyingBody bool
	// formatted by Status only: the hot path stores pointers
	applying, lastApplied *Txn
	applyingGroup         int
}

// format fills the transaction names from the pointers the workers store.
func (w *WorkerStatus) format() {
	w.ApplyingTransaction, w.LastAppliedTransaction = "", ""
	if w.applying != nil {
		w.ApplyingTransaction = w.applying.ID()
		if w.applyingGroup > 1 {
			w.ApplyingTransaction += fmt.Sprintf(" (+%d in its group)", w.applyingGroup-1)
		}
	}
	if w.lastApplied != nil {
		w.LastAppliedTransaction = w.lastApplied.ID()
	}
}

// accrue adds the time since the last state change to the current state's
// total; depBlocked: idle time counts as a dependency wait.
func (w *WorkerStatus) accrue(now time.Time, depBlocked bool) {
	switch {
	case w.waitingCommit:
		w.CommitWaitTime += now.Sub(w.stateSince)
	case w.applyingBody:
		w.BusyTime += now.Sub(w.stateSince)
	default:
		if depBlocked {
			w.DependencyWaitTime += now.Sub(w.stateSince)
		} else {
			w.IdleTime += now.Sub(w.stateSince)
		}
	}
	w.stateSince = now
}

// entry is a transaction between dispatch and commit.
type entry struct {
	t       *Txn
	slot    schedule.Slot[*entry] // its place in the scheduler's window
	turn    chan struct{}         // closed when t may commit
	abort   chan struct{}         // closed to abort t
	worker  int                   // the worker applying it, -1 when none
	started time.Time
	waiting bool // the worker is waiting for the commit turn
	skipped bool // the target holds it: committed as far as ordering goes
}

func newEntry(t *Txn) *entry {
	e := &entry{t: t, worker: -1}
	e.slot = schedule.Slot[*entry]{Seq: t.Seq, Dep: t.Dep, Bytes: t.Bytes, Alone: t.Statement || t.Streamed, Value: e}
	return e
}

func (e *entry) running() bool { return e.slot.Running() }
func (e *entry) done() bool    { return e.slot.Done() }

// member reports whether e runs inside another entry's group: the lead
// stands for the whole group in ordering, aborts and deadlock detection.
func (e *entry) member() bool { return e.slot.Member() }

// group returns the group a dispatched lead carries: itself and the
// transactions after it applied in the same target transaction.
func (e *entry) group() []*schedule.Slot[*entry] { return e.slot.Group() }

type result struct {
	e      *entry
	worker int
	err    error
}

// Coordinator reads transactions from a Source and applies them with its workers.
type Coordinator struct {
	src      Source
	workers  []Worker
	grouping bool // every worker is a GroupWorker and GroupTxns > 1
	pipeline bool // Options.Pipeline with more than one worker
	opts     Options
	asm      *Assembler
	budget   *semaphore.Weighted

	mu     sync.Mutex
	status Status
	// sched is the window of transactions read and not yet committed (its
	// Low: every Seq <= Low is committed or skipped). Changed with mu held, by
	// the dispatcher (and by a worker's gate: Executed).
	sched   *schedule.Scheduler[*entry]
	retired []*schedule.Slot[*entry] // scratch for sched
	// depBlocked: the next transaction read waits for a dependency; idle
	// workers' time counts as WorkerStatus.DependencyWaitTime meanwhile.
	depBlocked bool
	// lastStall is the Seq of the last head whose stall was broken (once per head).
	lastStall uint64
	lowCh     chan struct{}
	// wake tells the dispatcher to look again (a worker's group executed).
	wake chan struct{}
	// lastApplied and applyingState are named only when Status is read
	lastApplied, applyingState *Txn
	marks                      map[string]Mark // per stream: the last transaction at or below low

	metrics *metrics
}

// New returns a Coordinator with one goroutine per worker.
func New(src Source, workers []Worker, opts Options) (*Coordinator, error) {
	opts.setDefaults()
	if len(workers) == 0 {
		return nil, errors.New("coordinator: no workers")
	}
	c := &Coordinator{
		src: src, workers: workers, opts: opts,
		asm:     NewAssembler(),
		budget:  semaphore.NewWeighted(opts.QueueBytes),
		metrics: newMetrics(opts.Registerer),
		lowCh:   make(chan struct{}),
		wake:    make(chan struct{}, 1),
		marks:   map[string]Mark{},
	}
	if opts.Reopen != nil {
		c.asm.StreamBytes = opts.StreamBytes
	}
	if opts.DeferRows {
		c.asm.DeferRows()
	}
	c.grouping = opts.GroupTxns > 1
	for _, w := range workers {
		if _, ok := w.(GroupWorker); !ok {
			c.grouping = false
		}
	}
	// One worker cannot overlap anything: pipelining only costs it a wake-up per group.
	c.pipeline = opts.Pipeline && len(workers) > 1
	cfg := schedule.Config{GroupTxns: 1, GroupBytes: opts.GroupBytes, Pipeline: c.pipeline}
	if c.grouping {
		cfg.GroupTxns = opts.GroupTxns
	}
	c.sched = schedule.New[*entry](cfg, 0)
	c.status.Workers = make([]WorkerStatus, len(workers))
	for i := range c.status.Workers {
		c.status.Workers[i] = WorkerStatus{WorkerID: i + 1, ServiceState: "ON", stateSince: time.Now()}
	}
	return c, nil
}

// Status returns a snapshot of the applier state.
func (c *Coordinator) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	s.Pipelined = c.sched.PipelinedStarts()
	s.Workers = append([]WorkerStatus(nil), c.status.Workers...)
	now := time.Now()
	for i := range s.Workers {
		s.Workers[i].accrue(now, c.depBlocked)
		s.Workers[i].format()
		if r, ok := c.workers[i].(interface{ Retries() uint64 }); ok {
			s.Workers[i].Retries = r.Retries()
		}
	}
	if c.lastApplied != nil {
		s.LastApplied = c.lastApplied.ID()
	}
	if s.State == "" && c.applyingState != nil {
		s.State = "Applying " + c.applyingState.ID()
	}
	if head := c.sched.Head(); head != nil {
		s.OldestPending = head.Value.t.CommitTime()
	}
	return s
}

func (c *Coordinator) setState(s string) {
	c.mu.Lock()
	c.status.State = s
	c.applyingState = nil
	c.mu.Unlock()
}

// Run reads, dispatches and applies until ctx is done (returning nil) or an
// error stops it. Goroutines: one reader (assembles, skips, computes
// dependencies), one dispatcher (hands ready transactions to idle workers,
// opens commit turns), one per worker, and the deadlock detector.
func (c *Coordinator) Run(ctx context.Context) error {
	c.mu.Lock()
	c.status.Running = true
	c.status.LastError = ""
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.status.Running = false
		c.status.State = ""
		c.mu.Unlock()
	}()
	g, gctx := errgroup.WithContext(ctx)
	incoming := make(chan *entry, 64)
	work := make(chan *entry)
	results := make(chan result, len(c.workers))
	g.Go(func() error {
		defer close(incoming)
		return c.read(gctx, incoming)
	})
	g.Go(func() error { return c.dispatch(gctx, incoming, work, results) })
	for i, w := range c.workers {
		g.Go(func() error { return c.runWorker(gctx, i, w, work, results) })
	}
	if c.opts.LockWaits != nil && len(c.workers) > 1 && c.opts.PreserveCommitOrder {
		g.Go(func() error { c.detectInversions(gctx); return nil })
	}
	err := g.Wait()
	if err != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		err = nil
	}
	if err != nil {
		c.mu.Lock()
		c.status.LastError = err.Error()
		c.status.LastErrorTime = time.Now()
		c.mu.Unlock()
	}
	return err
}

// read assembles transactions, skips executed ones, computes dependencies and
// queues them, within the byte budget.
func (c *Coordinator) read(ctx context.Context, out chan<- *entry) error {
	var barrier uint64 // wait for this Seq to commit before the next Dependency call
	for {
		if !c.asm.InTxn() {
			c.setState("Replica has read all relay log; waiting for more updates")
		}
		ev, err := c.src.Next(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read relay log: %w", err)
		}
		t, err := c.asm.Add(ev)
		if err != nil {
			return err
		}
		if t == nil {
			continue
		}
		c.metrics.read.Inc()
		if t.Streamed {
			t.open, t.filter = c.opts.Reopen, c.opts.Filter
			c.metrics.streamed.Inc()
		}
		if c.opts.Skip != nil && c.opts.Skip(t) {
			c.mu.Lock()
			c.status.Skipped++
			c.mu.Unlock()
			c.metrics.skipped.Inc()
			// A skipped transaction is committed as far as ordering goes.
			e := newEntry(t)
			e.skipped = true
			if err := c.enqueue(ctx, out, e, false); err != nil {
				return err
			}
			continue
		}
		if c.opts.Hold != nil {
			if err := c.opts.Hold(ctx, t); err != nil {
				if errors.Is(err, ErrUntilReached) {
					if werr := c.waitLow(ctx, t.Seq-1); werr != nil {
						return werr
					}
				}
				return err
			}
		}
		if c.opts.Filter != nil {
			c.opts.Filter(t)
		}
		if barrier > 0 {
			if err := c.waitLow(ctx, barrier); err != nil {
				return err
			}
			barrier = 0
		}
		dep, isBarrier := t.Seq-1, t.Statement || t.Streamed
		if c.opts.Dependency != nil && !t.Streamed {
			if dep, isBarrier, err = c.opts.Dependency(t); err != nil {
				return fmt.Errorf("dependencies of %s: %w", t.ID(), err)
			}
		}
		if dep >= t.Seq {
			dep = t.Seq - 1
		}
		t.Dep = dep
		if isBarrier {
			barrier = t.Seq
		}
		e := newEntry(t)
		e.turn, e.abort = make(chan struct{}), make(chan struct{})
		// (Options.Dependency clears RowsOnly where a row is not found by a unique key.)
		e.slot.Pipelined = t.RowsOnly && !isBarrier
		if err := c.enqueue(ctx, out, e, true); err != nil {
			return err
		}
	}
}

func (c *Coordinator) enqueue(ctx context.Context, out chan<- *entry, e *entry, charge bool) error {
	if charge {
		if err := c.budget.Acquire(ctx, c.weight(e.t)); err != nil {
			return err
		}
	}
	select {
	case out <- e:
		return nil
	case <-ctx.Done():
		if charge {
			c.budget.Release(c.weight(e.t))
		}
		return ctx.Err()
	}
}

// waitLow blocks until every Seq <= seq has committed.
func (c *Coordinator) waitLow(ctx context.Context, seq uint64) error {
	for {
		c.mu.Lock()
		low, ch := c.sched.Low(), c.lowCh
		c.mu.Unlock()
		if low >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *Coordinator) weight(t *Txn) int64 {
	if t.Bytes > c.opts.QueueBytes {
		return c.opts.QueueBytes
	}
	if t.Bytes < 1 {
		return 1
	}
	return t.Bytes
}
