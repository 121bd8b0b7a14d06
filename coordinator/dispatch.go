package coordinator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mtreplica/mtreplica/coordinator/schedule"
)

// Mark is a progress low-water mark for one stream: every transaction of the
// stream up to Seq is committed on the target.
type Mark struct {
	Stream     string
	Seq        uint64
	ServerID   uint32
	SourceFile string
	SourcePos  uint32
}

// dispatch owns the window (c.sched): it adds what the reader queued, hands
// the next ready group to an idle worker (schedule.Scheduler.Next: in Seq
// order, never past a blocked transaction), opens commit turns, and retires
// committed transactions.
func (c *Coordinator) dispatch(ctx context.Context, incoming <-chan *entry, work chan<- *entry, results <-chan result) error {
	dispatched := 0
	readerDone := false
	for {
		c.mu.Lock()
		var head *entry
		var workCh chan<- *entry
		// A group behind the head that could still grow waits while the
		// reader has more queued (see schedule.Scheduler.Next).
		if lead := c.sched.Next(len(incoming) > 0); lead != nil {
			head, workCh = lead.Value, work
			if (dispatched+1)%c.opts.PruneEvery == 0 && head.t.Prune == nil {
				// Set before the send: the worker reads it. Marks only grow, so
				// they stay valid if this dispatch happens later.
				head.t.Prune = c.markList()
			}
		}
		c.setDepBlocked(head == nil && c.sched.Blocked())
		idle := c.sched.Len() == 0
		c.mu.Unlock()
		if readerDone && idle {
			return nil
		}
		select {
		case e, ok := <-incoming:
			if !ok {
				incoming, readerDone = nil, true
				continue
			}
			c.mu.Lock()
			c.retire(c.sched.Add(&e.slot, e.skipped))
			c.mu.Unlock()
		case workCh <- head:
			c.mu.Lock()
			c.sched.Start(&head.slot)
			now := time.Now()
			group := head.group()
			for _, m := range group {
				m.Value.started = now
			}
			if !c.opts.PreserveCommitOrder {
				openTurn(head)
			}
			dispatched++
			c.mu.Unlock()
			c.metrics.dispatched.Add(float64(len(group)))
		case r := <-results:
			if err := c.finish(r); err != nil {
				return err
			}
		case <-c.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// setDepBlocked records whether the next transaction waits for a dependency;
// idle workers' time is accounted up to the change. Called with c.mu held.
func (c *Coordinator) setDepBlocked(b bool) {
	if b == c.depBlocked {
		return
	}
	now := time.Now()
	for i := range c.status.Workers {
		c.status.Workers[i].accrue(now, c.depBlocked)
	}
	c.depBlocked = b
}

func openTurn(e *entry) {
	if !isClosed(e.turn) {
		close(e.turn)
	}
}

// finish records a worker's result for a dispatched lead and its group.
func (c *Coordinator) finish(r result) error {
	e := r.e
	if r.err == nil {
		c.mu.Lock()
		var group []*schedule.Slot[*entry]
		group, c.retired = c.sched.Committed(&e.slot, c.retired[:0])
		n := len(group)
		last := group[n-1].Value.t
		for _, m := range group {
			m.Value.worker, m.Value.waiting = -1, false
			c.budget.Release(c.weight(m.Value.t))
		}
		c.retire(c.retired)
		low := last.Next
		if head := c.sched.Head(); head != nil { // retired: the head is not committed
			low = head.Value.t.Start
		}
		c.status.Applied += uint64(n)
		c.lastApplied = last
		c.status.LastCommitTime = last.CommitTime()
		c.status.RelayPos = last.Next
		c.status.SourceFile = last.Info.SourceFile
		c.status.ExecSourcePos = last.Info.EndPos
		c.mu.Unlock()
		c.metrics.applied.Add(float64(n))
		c.metrics.lagSeconds.Set(time.Since(last.CommitTime()).Seconds())
		if n > 1 {
			c.metrics.groupedTxns.Add(float64(n))
		}
		if c.opts.OnApplied != nil {
			for _, m := range group { // the lead is done: its group stays as it is
				c.opts.OnApplied(m.Value.t, low)
			}
		}
		return nil
	}
	if errors.Is(r.err, ErrAborted) {
		c.mu.Lock()
		for _, m := range e.group() {
			m.Value.worker, m.Value.waiting = -1, false
		}
		// Next time, only once everything before it has committed.
		aborts := c.sched.Aborted(&e.slot)
		e.abort = make(chan struct{})
		c.status.Aborts++
		c.mu.Unlock()
		c.metrics.aborts.Inc()
		if aborts > c.opts.MaxAborts {
			return fmt.Errorf("transaction %s aborted %d times for order-inversion deadlocks; giving up", e.t.ID(), aborts)
		}
		c.opts.Logger.Info("transaction aborted for an order-inversion deadlock; retrying after its predecessors", "txn", e.t.ID(), "aborts", aborts)
		return nil
	}
	return r.err
}

// retire takes note of the transactions the scheduler retired (committed or
// skipped, at the head of the window): progress marks, the low-water channel,
// and the next commit turn. Called with c.mu held.
func (c *Coordinator) retire(retired []*schedule.Slot[*entry]) {
	for _, sl := range retired {
		t := sl.Value.t
		stream, seq := t.ProgressKey()
		c.marks[stream] = Mark{Stream: stream, Seq: seq, ServerID: t.Info.GTID.ServerID, SourceFile: t.Info.SourceFile, SourcePos: t.Info.EndPos}
	}
	if head := c.sched.Head(); head != nil && c.opts.PreserveCommitOrder && head.Value.turn != nil {
		openTurn(head.Value)
	}
	if len(retired) > 0 {
		close(c.lowCh)
		c.lowCh = make(chan struct{})
	}
}

func (c *Coordinator) markList() []Mark {
	out := make([]Mark, 0, len(c.marks))
	for _, m := range c.marks {
		out = append(out, m)
	}
	return out
}

// runWorker feeds one worker.
func (c *Coordinator) runWorker(ctx context.Context, i int, w Worker, work <-chan *entry, results chan<- result) error {
	var txns []*Txn
	for {
		c.workerState(i, nil, 0, false, false)
		var e *entry
		select {
		case e = <-work:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
		group := e.group() // fixed while it runs: only finish changes it
		for _, m := range group {
			m.Value.worker = i
		}
		n := len(group)
		c.status.State, c.applyingState = "", e.t
		c.mu.Unlock()
		c.workerState(i, e.t, n, true, false)
		start := time.Now()
		gate := &workerGate{c: c, e: e, worker: i}
		var err error
		if n > 1 {
			txns = txns[:0]
			for _, m := range group {
				txns = append(txns, m.Value.t)
			}
			err = w.(GroupWorker).ApplyGroup(ctx, txns, gate)
		} else {
			err = w.Apply(ctx, e.t, gate)
		}
		if err == nil {
			c.metrics.applySeconds.Observe(time.Since(start).Seconds())
			c.mu.Lock()
			ws := &c.status.Workers[i]
			ws.TransactionsApplied += uint64(n)
			ws.lastApplied = group[n-1].Value.t
			c.mu.Unlock()
		} else if !errors.Is(err, ErrAborted) && ctx.Err() == nil {
			c.mu.Lock()
			c.status.Workers[i].LastErrorMessage = err.Error()
			c.mu.Unlock()
		}
		select {
		case results <- result{e: e, worker: i, err: err}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// workerState accounts the worker's time and sets its state.
func (c *Coordinator) workerState(i int, t *Txn, group int, body, commitWait bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &c.status.Workers[i]
	w.accrue(time.Now(), c.depBlocked)
	w.applying, w.applyingGroup = t, group
	w.applyingBody, w.waitingCommit = body, commitWait
}

type workerGate struct {
	c      *Coordinator
	e      *entry
	worker int
}

func (g *workerGate) Ready() bool { return isClosed(g.e.turn) }

// Executed: the group's body is applied and holds its row locks; with
// Options.Pipeline, transactions after it may start now.
func (g *workerGate) Executed() { g.setExecuted(true) }

// Unexecuted: the group was rolled back to be applied again; it no longer
// holds its row locks.
func (g *workerGate) Unexecuted() { g.setExecuted(false) }

func (g *workerGate) setExecuted(yes bool) {
	if !g.c.pipeline {
		return
	}
	g.c.mu.Lock()
	if yes {
		g.c.sched.Executed(&g.e.slot)
	} else {
		g.c.sched.Unexecuted(&g.e.slot)
	}
	g.c.mu.Unlock()
	if yes {
		select {
		case g.c.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

func (g *workerGate) Aborted() bool {
	g.c.mu.Lock()
	abort := g.e.abort
	g.c.mu.Unlock()
	return isClosed(abort)
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (g *workerGate) Wait(ctx context.Context) error {
	if g.Ready() {
		return nil
	}
	g.c.mu.Lock()
	g.e.waiting = true
	abort := g.e.abort
	g.c.mu.Unlock()
	g.c.workerState(g.worker, g.e.t, len(g.e.group()), false, true)
	start := time.Now()
	defer func() {
		g.c.metrics.commitWaitSeconds.Observe(time.Since(start).Seconds())
		g.c.workerState(g.worker, g.e.t, len(g.e.group()), true, false)
		g.c.mu.Lock()
		g.e.waiting = false
		g.c.mu.Unlock()
	}()
	select {
	case <-g.e.turn:
		return nil
	case <-abort:
		return ErrAborted
	case <-ctx.Done():
		return ctx.Err()
	}
}

// detectInversions finds order-inversion deadlocks. With commit order
// preserved, a transaction waits for every earlier one to commit; if an
// earlier transaction waits on the target for a lock a LATER transaction
// holds, the later one can never commit first, and the server cannot see the
// cycle (one edge of it is ours). Whenever a lock wait on the target has a
// holder later than its waiter, the coordinator aborts the holder: a holder
// waiting for its commit turn is woken with ErrAborted; a holder running a
// statement (itself blocked, as in a longer cycle) has that statement killed.
// Its worker rolls back, releasing the lock, and the transaction is applied
// again once its predecessors have committed.
func (c *Coordinator) detectInversions(ctx context.Context) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastWarn time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c.mu.Lock()
		suspect := false
		for _, sl := range c.sched.Window() {
			if e := sl.Value; e.running() && !e.member() && !e.waiting && time.Since(e.started) > 50*time.Millisecond {
				suspect = true
				break
			}
		}
		stalled := c.stalledHead()
		c.mu.Unlock()
		if stalled != nil {
			c.breakStall(ctx, stalled)
			continue
		}
		if !suspect {
			continue
		}
		waits, err := c.opts.LockWaits(ctx)
		if err != nil {
			if time.Since(lastWarn) > 10*time.Second { // the target may be down for a while: not every 50 ms
				c.opts.Logger.Warn("read lock waits on the target", "err", err)
				lastWarn = time.Now()
			}
			continue
		}
		if len(waits) == 0 {
			continue
		}
		var victims []victim
		byConn := map[uint32]*entry{}
		c.mu.Lock()
		for _, sl := range c.sched.Window() {
			if e := sl.Value; e.running() && !e.member() && e.worker >= 0 {
				if id := c.workers[e.worker].ConnectionID(); id != 0 {
					byConn[id] = e
				}
			}
		}
		for _, lw := range waits {
			waiter, holder := byConn[lw.Waiter], byConn[lw.Holder]
			if waiter == nil || holder == nil || holder.t.Seq <= waiter.t.Seq {
				continue
			}
			if v, ok := c.abortEntry(holder); ok {
				victims = append(victims, v)
			}
		}
		c.mu.Unlock()
		for _, v := range victims {
			c.opts.Logger.Info("order-inversion deadlock: aborting the later transaction",
				"txn", v.e.t.ID(), "waiting_for_turn", !v.kill)
		}
		c.interrupt(ctx, victims)
	}
}

// victim is a transaction being aborted; kill: its statement must be interrupted.
type victim struct {
	e    *entry
	conn uint32
	kill bool
}

// abortEntry closes e's abort channel unless it is closed already. Called
// with c.mu held.
func (c *Coordinator) abortEntry(e *entry) (victim, bool) {
	if isClosed(e.abort) {
		return victim{}, false
	}
	close(e.abort)
	return victim{e: e, conn: c.workers[e.worker].ConnectionID(), kill: !e.waiting}, true
}

// interrupt kills the running statement of each victim that is not waiting
// for its commit turn (a waiting one sees its closed abort channel).
func (c *Coordinator) interrupt(ctx context.Context, victims []victim) {
	if c.opts.Interrupt == nil {
		return
	}
	for _, v := range victims {
		if v.kill && v.conn != 0 {
			if err := c.opts.Interrupt(ctx, v.conn); err != nil {
				c.opts.Logger.Warn("interrupt a blocked transaction", "txn", v.e.t.ID(), "err", err)
			}
		}
	}
}

// headStall is how long the first uncommitted transaction may run while later
// ones hold their transactions open before the coordinator assumes a cycle it
// cannot see (a lock held outside the lock-wait view) and aborts the later ones.
const headStall = 2 * time.Second

// stalledHead returns the first uncommitted transaction when it has run longer
// than headStall while later transactions are running. Called with c.mu held.
func (c *Coordinator) stalledHead() *entry {
	var head *entry
	for _, sl := range c.sched.Window() {
		e := sl.Value
		if e.done() || e.member() {
			continue
		}
		if head == nil {
			if !e.running() || e.waiting || time.Since(e.started) < headStall || e.t.Seq == c.lastStall {
				return nil
			}
			head = e
			continue
		}
		if e.running() {
			return head
		}
	}
	return nil
}

// breakStall aborts every running transaction after head, so that whatever
// locks they hold are released and head can commit; they are applied again
// after it. A bounded wait: the fallback when the lock-wait view shows no
// cycle.
func (c *Coordinator) breakStall(ctx context.Context, head *entry) {
	var victims []victim
	c.mu.Lock()
	c.lastStall = head.t.Seq
	for _, sl := range c.sched.Window() {
		e := sl.Value
		if !e.running() || e.member() || e.t.Seq <= head.t.Seq || e.worker < 0 {
			continue
		}
		if v, ok := c.abortEntry(e); ok {
			victims = append(victims, v)
		}
	}
	c.mu.Unlock()
	c.opts.Logger.Info("first transaction stalled; aborting the transactions after it", "txn", head.t.ID(), "aborted", len(victims))
	c.interrupt(ctx, victims)
}
