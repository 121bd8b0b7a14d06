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

	"github.com/mtreplica/mtreplica/relaylog"
)

// Source yields relay log events in order; *relaylog.Reader implements it.
type Source interface {
	Next(ctx context.Context) (relaylog.Event, error)
}

var _ Source = (*relaylog.Reader)(nil)

// Worker applies one transaction to the target, recording its progress in the
// same target transaction; implemented by *applier.Worker. A Worker is used by
// one goroutine at a time.
type Worker interface {
	Apply(ctx context.Context, t *Txn) error
}

// Options configure a Coordinator.
type Options struct {
	// QueueBytes bounds the raw bytes of transactions read but not yet applied
	// (like replica_pending_jobs_size_max). Default 64 MiB. A transaction larger
	// than the budget takes the whole budget.
	QueueBytes int64
	// Skip reports whether the target already holds a transaction (from the
	// executed set read at start). Nil skips nothing.
	Skip func(t *Txn) bool
	// OnApplied is called, in commit order, after each transaction commits,
	// with the low-water mark: the relay position before which everything is applied.
	OnApplied func(t *Txn, lowWater relaylog.Position)
	// Logger; nil discards.
	Logger *slog.Logger
	// Registerer for metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

func (o *Options) setDefaults() {
	if o.QueueBytes <= 0 {
		o.QueueBytes = 64 << 20
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
	LastError     string
	LastErrorTime time.Time
}

// Coordinator reads transactions from a Source and applies them with its workers.
type Coordinator struct {
	src     Source
	workers []Worker
	opts    Options
	asm     *Assembler
	budget  *semaphore.Weighted

	mu     sync.Mutex
	status Status
	queue  []*Txn // read, not yet committed, in order

	metrics *metrics
}

// New returns a Coordinator. This version applies serially: exactly one worker.
func New(src Source, workers []Worker, opts Options) (*Coordinator, error) {
	opts.setDefaults()
	if len(workers) != 1 {
		return nil, fmt.Errorf("coordinator: %d workers given; this build applies with exactly one worker", len(workers))
	}
	return &Coordinator{
		src: src, workers: workers, opts: opts,
		asm:     NewAssembler(),
		budget:  semaphore.NewWeighted(opts.QueueBytes),
		metrics: newMetrics(opts.Registerer),
	}, nil
}

// Status returns a snapshot of the applier state.
func (c *Coordinator) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	if len(c.queue) > 0 {
		s.OldestPending = c.queue[0].CommitTime()
	}
	return s
}

func (c *Coordinator) setState(s string) {
	c.mu.Lock()
	c.status.State = s
	c.mu.Unlock()
}

// Run reads, dispatches and applies until ctx is done (returning nil) or an
// error stops it.
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
	ch := make(chan *Txn, 1024)
	g.Go(func() error {
		defer close(ch)
		return c.read(gctx, ch)
	})
	g.Go(func() error { return c.work(gctx, c.workers[0], ch) })
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

func (c *Coordinator) read(ctx context.Context, ch chan<- *Txn) error {
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
		if c.opts.Skip != nil && c.opts.Skip(t) {
			c.mu.Lock()
			c.status.Skipped++
			c.mu.Unlock()
			c.metrics.skipped.Inc()
			continue
		}
		if err := c.dispatch(ctx, ch, t); err != nil {
			return err
		}
	}
}

// dispatch hands a transaction to the workers once the byte budget allows.
// With one worker every transaction waits for its predecessor, so commit order
// is the source's; the parallel scheduler will decide here which transactions
// may start before their predecessors commit.
func (c *Coordinator) dispatch(ctx context.Context, ch chan<- *Txn, t *Txn) error {
	if err := c.budget.Acquire(ctx, c.weight(t)); err != nil {
		return err
	}
	c.mu.Lock()
	c.queue = append(c.queue, t)
	c.mu.Unlock()
	select {
	case ch <- t:
		return nil
	case <-ctx.Done():
		return ctx.Err()
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

func (c *Coordinator) work(ctx context.Context, w Worker, ch <-chan *Txn) error {
	for t := range ch {
		c.setState("Applying " + t.ID())
		start := time.Now()
		if err := w.Apply(ctx, t); err != nil {
			return err
		}
		c.metrics.applySeconds.Observe(time.Since(start).Seconds())
		c.metrics.applied.Inc()
		c.budget.Release(c.weight(t))
		c.committed(t)
	}
	return ctx.Err()
}

// committed records t as applied and advances the low-water mark.
func (c *Coordinator) committed(t *Txn) {
	c.mu.Lock()
	if len(c.queue) > 0 && c.queue[0] == t {
		c.queue = c.queue[1:]
	}
	low := t.Next
	if len(c.queue) > 0 {
		low = c.queue[0].Start
	}
	c.status.Applied++
	c.status.LastApplied = t.ID()
	c.status.LastCommitTime = t.CommitTime()
	c.status.RelayPos = t.Next
	c.status.SourceFile = t.Info.SourceFile
	c.status.ExecSourcePos = t.Info.EndPos
	c.mu.Unlock()
	c.metrics.lagSeconds.Set(time.Since(t.CommitTime()).Seconds())
	if c.opts.OnApplied != nil {
		c.opts.OnApplied(t, low)
	}
}
