package schedule

// Slot is one transaction in the scheduler's window. The caller sets Seq,
// Dep, Bytes, Alone and Value before Add; the scheduler owns the rest.
type Slot[T any] struct {
	// Seq numbers transactions in source order, from 1, without gaps.
	Seq uint64
	// Dep: the transaction may start once every Seq <= Dep has committed
	// (Dep < Seq). Raised to Seq-1 when it is aborted.
	Dep uint64
	// Bytes is its size, for the group byte bound.
	Bytes int64
	// Alone: never grouped with others (a statement that commits implicitly,
	// a streamed transaction).
	Alone bool
	// Pipelined: the transaction may also start, whatever Dep, once every
	// slot before it has executed (Executed) or committed: it only changes
	// rows (row events), so whatever it conflicts with is locked by an
	// earlier transaction that waits for nothing but its commit turn, and it
	// waits for that lock on the target. Needs Config.Pipeline.
	Pipelined bool
	// Value is the caller's.
	Value T

	state    state
	executed bool       // running, body applied: waits only for its commit
	lead     *Slot[T]   // while running: the lead of its group (itself when it leads)
	group    []*Slot[T] // on a lead, from Next to Committed or Aborted: the group, lead first
	aborts   int
}

type state uint8

const (
	waiting state = iota
	running
	done
)

// Running reports whether the slot has been dispatched and not yet committed or aborted.
func (s *Slot[T]) Running() bool { return s.state == running }

// Done reports whether the slot is committed (or was added done).
func (s *Slot[T]) Done() bool { return s.state == done }

// Lead returns the lead of the running group the slot belongs to, nil when not running.
func (s *Slot[T]) Lead() *Slot[T] { return s.lead }

// Member reports whether the slot runs in a group led by another slot.
func (s *Slot[T]) Member() bool { return s.lead != nil && s.lead != s }

// Group returns the lead's group, lead first, from Next until Committed or
// Aborted; empty on a slot that does not lead one.
func (s *Slot[T]) Group() []*Slot[T] { return s.group }

// Aborts returns how many times the slot's group was aborted with it as lead.
func (s *Slot[T]) Aborts() int { return s.aborts }

// Config bounds groups.
type Config struct {
	// GroupTxns is the most transactions in one group; 1 or less: no groups.
	GroupTxns int
	// GroupBytes is the most bytes in one group (a single transaction may be larger).
	GroupBytes int64
	// Pipeline lets Pipelined slots start once everything before them has
	// executed, not only once their dependency has committed.
	Pipeline bool
}

// Scheduler is the window of transactions read and not yet committed, in Seq
// order. Not safe for concurrent use.
type Scheduler[T any] struct {
	cfg    Config
	buf    []*Slot[T]
	window []*Slot[T] // buf[head:]
	head   int
	next   int    // window index of the first slot that may be waiting
	low    uint64 // every Seq <= low is committed
	exec   int    // the first exec slots of the window are committed or executed
	// pipelined counts the groups started by the pipeline rule alone (their
	// lead's dependency had not committed).
	pipelined uint64
}

// PipelinedStarts returns how many groups started by the pipeline rule alone.
func (s *Scheduler[T]) PipelinedStarts() uint64 { return s.pipelined }

// New returns an empty scheduler whose first slot will be Seq low+1.
func New[T any](cfg Config, low uint64) *Scheduler[T] {
	if cfg.GroupTxns < 1 {
		cfg.GroupTxns = 1
	}
	return &Scheduler[T]{cfg: cfg, low: low}
}

// Low returns the low-water mark: every Seq <= Low has committed.
func (s *Scheduler[T]) Low() uint64 { return s.low }

// Len returns the number of slots in the window (read, not committed).
func (s *Scheduler[T]) Len() int { return len(s.window) }

// Window returns the slots read and not yet retired, in Seq order. The slice
// is the scheduler's: read it only until the next call that changes the window.
func (s *Scheduler[T]) Window() []*Slot[T] { return s.window }

// Head returns the first slot not yet committed, or nil: with commit order
// preserved, the one whose turn it is to commit.
func (s *Scheduler[T]) Head() *Slot[T] {
	if len(s.window) == 0 {
		return nil
	}
	return s.window[0]
}

// Add appends a slot, the next in Seq order. A slot added done (a transaction
// skipped because the target holds it) counts as committed. Add returns the
// slots it retired (see Committed).
func (s *Scheduler[T]) Add(sl *Slot[T], isDone bool) (retired []*Slot[T]) {
	if sl.Dep >= sl.Seq {
		sl.Dep = sl.Seq - 1
	}
	sl.state, sl.lead, sl.group = waiting, nil, sl.group[:0]
	if isDone {
		sl.state = done
	}
	s.buf = append(s.buf, sl)
	s.window = s.buf[s.head:]
	s.advanceExec()
	if isDone && len(s.window) == 1 {
		return s.retire(nil)
	}
	return nil
}

// Next returns the lead of the next group to dispatch, with its group formed
// (Group), or nil when nothing may start yet. Slots start in Seq order, never
// past one whose dependency has not committed. It changes nothing until Start:
// the caller may call Next again instead.
//
// more reports whether more slots are about to be added (the reader is
// ahead): a group that is not first in line and could still grow then waits
// for them. It cannot commit before the slots ahead of it anyway, and one
// full group costs one target commit where small ones cost many.
func (s *Scheduler[T]) Next(more bool) *Slot[T] {
	if !s.firstWaiting() || s.Blocked() {
		return nil
	}
	if s.formGroup(s.next) && s.next > 0 && more {
		return nil
	}
	return s.window[s.next]
}

// firstWaiting moves next to the first slot waiting to start, and reports
// whether there is one.
func (s *Scheduler[T]) firstWaiting() bool {
	for s.next < len(s.window) && s.window[s.next].state != waiting {
		s.next++
	}
	return s.next < len(s.window)
}

// Blocked reports whether the first slot waiting to start may not start yet
// because of its dependency (MySQL's coordinator "waited at clock
// conflicts"): transactions have been read, and what holds them back is a
// commit (or, with Config.Pipeline, an execution) still to come.
func (s *Scheduler[T]) Blocked() bool {
	return s.firstWaiting() && s.window[s.next].Dep > s.low && !s.pipelinedReady(s.next)
}

// index is sl's place in the window: Seqs have no gaps, and the window
// starts at Low+1.
func (s *Scheduler[T]) index(sl *Slot[T]) int { return int(sl.Seq - s.low - 1) }

// formGroup sets the group of the slot at window index i, which is ready: it,
// then as many of the slots right after it as may run in the same target
// transaction. A member must be ready too (its dependency committed), or, when
// the lead is the first uncommitted slot, may depend on the members before it:
// they run before it on the same connection. The group stops at the first slot
// that fails this, at an Alone slot, at one running or done, and at the size
// bounds. It reports whether the group is open: it stopped only because the
// window had nothing more.
func (s *Scheduler[T]) formGroup(i int) (open bool) {
	lead := s.window[i]
	lead.group = append(lead.group[:0], lead)
	if s.cfg.GroupTxns <= 1 || lead.Alone {
		return false
	}
	// The first uncommitted slot's group, or a pipelined group with
	// everything before it executed, may take members that depend on
	// anything before them: what is before the group is committed or
	// locked, what is in it runs in order on one connection.
	isHead := i == 0
	pipelined := !isHead && s.pipelinedReady(i)
	bytes := lead.Bytes
	for k := i + 1; k < len(s.window) && len(lead.group) < s.cfg.GroupTxns; k++ {
		e := s.window[k]
		if e.state != waiting || e.Alone || (e.Dep > s.low && !isHead && !(pipelined && e.Pipelined)) {
			return false
		}
		if bytes += e.Bytes; bytes > s.cfg.GroupBytes {
			return false
		}
		lead.group = append(lead.group, e)
	}
	return len(lead.group) < s.cfg.GroupTxns && i+len(lead.group) == len(s.window)
}

// Executed records that lead's group has applied its body and waits only
// for its commit turn (Config.Pipeline): slots after it that are Pipelined
// may start once everything before them has.
func (s *Scheduler[T]) Executed(lead *Slot[T]) {
	if lead.state != running {
		return
	}
	for _, m := range lead.group {
		m.executed = true
	}
	s.advanceExec()
}

// Unexecuted records that lead's group, executed, was rolled back to be
// applied again (a transient error): it no longer holds its row locks, so
// slots after it wait for it to execute again before they start by the
// pipeline rule. (Any that started meanwhile are already running; a lock they
// took first is an order inversion, which the caller's deadlock detection
// resolves.)
func (s *Scheduler[T]) Unexecuted(lead *Slot[T]) {
	if lead.state != running || !lead.executed {
		return
	}
	for _, m := range lead.group {
		m.executed = false
	}
	s.exec = min(s.exec, s.index(lead))
}

func (s *Scheduler[T]) advanceExec() {
	for s.exec < len(s.window) && (s.window[s.exec].state == done || (s.window[s.exec].state == running && s.window[s.exec].executed)) {
		s.exec++
	}
}

// pipelinedReady reports whether the slot at window index i may start by the
// pipeline rule: it is Pipelined and everything before it has executed.
func (s *Scheduler[T]) pipelinedReady(i int) bool {
	return s.cfg.Pipeline && s.window[i].Pipelined && s.exec >= i
}

// Start marks the group Next returned as running.
func (s *Scheduler[T]) Start(lead *Slot[T]) {
	if lead.Dep > s.low {
		s.pipelined++
	}
	for _, m := range lead.group {
		m.state, m.lead, m.executed = running, lead, false
	}
	if s.next < len(s.window) && s.window[s.next] == lead {
		s.next += len(lead.group)
	}
}

// Committed records that lead's group committed, retires the committed slots
// at the head of the window and advances the low-water mark. It returns the
// group (valid until lead is added again) and appends the slots it retired,
// in Seq order, to retired.
func (s *Scheduler[T]) Committed(lead *Slot[T], retired []*Slot[T]) (group, out []*Slot[T]) {
	group = lead.group
	for _, m := range group {
		m.state, m.lead = done, nil
	}
	lead.group = lead.group[:0] // keeps its array for the slot's reuse
	s.advanceExec()
	return group, s.retire(retired)
}

// Aborted records that lead's group was rolled back: its slots wait again,
// and lead starts next time only once everything before it has committed. It
// returns how many times lead has been aborted.
func (s *Scheduler[T]) Aborted(lead *Slot[T]) int {
	for _, m := range lead.group {
		m.state, m.lead, m.executed = waiting, nil, false
	}
	lead.group = lead.group[:0]
	lead.aborts++
	lead.Dep = lead.Seq - 1
	lead.Pipelined = false // once aborted, it waits for everything before it to commit
	i := s.index(lead)
	s.next, s.exec = min(s.next, i), min(s.exec, i)
	return lead.aborts
}

// retire drops committed slots from the head of the window.
func (s *Scheduler[T]) retire(out []*Slot[T]) []*Slot[T] {
	n := 0
	for n < len(s.window) && s.window[n].state == done {
		s.low = s.window[n].Seq
		out = append(out, s.window[n])
		s.window[n] = nil
		n++
	}
	if n == 0 {
		return out
	}
	if s.next -= n; s.next < 0 {
		s.next = 0
	}
	if s.exec -= n; s.exec < 0 {
		s.exec = 0
	}
	// Reuse buf: start again at its beginning when the window empties, and
	// move the window down when most of buf lies before it.
	switch s.head += n; {
	case s.head == len(s.buf):
		s.buf, s.head = s.buf[:0], 0
	case s.head >= 1024 && s.head > len(s.buf)/2:
		k := copy(s.buf, s.buf[s.head:])
		clear(s.buf[k:])
		s.buf, s.head = s.buf[:k], 0
	}
	s.window = s.buf[s.head:]
	return out
}
