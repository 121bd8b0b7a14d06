package coordinator

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// commitLog records the order in which fake workers start and commit.
type commitLog struct {
	mu        sync.Mutex
	committed []uint64
	running   map[uint64]bool
	maxPar    int
}

type fakeWorker struct {
	id  uint32
	log *commitLog
	rng *rand.Rand
	// holdLock makes a later transaction "hold a lock" its predecessor needs.
	blockedBy func(seq uint64) uint64
}

func (w *fakeWorker) ConnectionID() uint32 { return w.id }

func (w *fakeWorker) Apply(ctx context.Context, t *Txn, g Gate) error {
	w.log.mu.Lock()
	w.log.running[t.Seq] = true
	if n := len(w.log.running); n > w.log.maxPar {
		w.log.maxPar = n
	}
	w.log.mu.Unlock()
	defer func() {
		w.log.mu.Lock()
		delete(w.log.running, t.Seq)
		w.log.mu.Unlock()
	}()
	time.Sleep(time.Duration(w.rng.IntN(300)) * time.Microsecond)
	if err := g.Wait(ctx); err != nil {
		return err
	}
	w.log.mu.Lock()
	w.log.committed = append(w.log.committed, t.Seq)
	w.log.mu.Unlock()
	return nil
}

func runParallel(t *testing.T, preserve bool, dep func(*Txn) uint64) *commitLog {
	log, _ := runParallelStatus(t, preserve, dep)
	return log
}

// runParallelStatus is runParallel that also returns the coordinator's status at the end.
func runParallelStatus(t *testing.T, preserve bool, dep func(*Txn) uint64) (*commitLog, Status) {
	t.Helper()
	src := fixtureSource(t, "mariadb-poc/domain_id_0__mariadb-repl-bin.000004")
	log := &commitLog{running: map[uint64]bool{}}
	var workers []Worker
	for i := 0; i < 8; i++ {
		workers = append(workers, &fakeWorker{id: uint32(i + 1), log: log, rng: rand.New(rand.NewPCG(uint64(i), 1))})
	}
	c, err := New(src, workers, Options{
		PreserveCommitOrder: preserve,
		Dependency: func(t *Txn) (uint64, bool, error) {
			return dep(t), t.Statement, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for c.Status().Applied < 405 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st := c.Status()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(log.committed); n != 405 {
		t.Fatalf("committed %d, want 405", n)
	}
	return log, st
}

// TestDependencyWaitTime: a worker idle while the next transaction waits for
// its dependency accounts the time as a dependency wait, not as idle.
func TestDependencyWaitTime(t *testing.T) {
	sum := func(st Status) (dep, idle time.Duration) {
		for _, w := range st.Workers {
			dep += w.DependencyWaitTime
			idle += w.IdleTime
		}
		return dep, idle
	}
	// A chain: each transaction waits for the one before it, so 7 of the 8
	// workers wait for a dependency while one applies.
	_, chain := runParallelStatus(t, true, func(t *Txn) uint64 { return t.Seq - 1 })
	dep, idle := sum(chain)
	if dep < 10*time.Millisecond || dep < idle {
		t.Errorf("chain: dependency wait %v, idle %v: the waits for dependencies were not counted as such", dep, idle)
	}
	// Nothing depends on anything: no transaction ever waits for one.
	_, free := runParallelStatus(t, true, func(*Txn) uint64 { return 0 })
	if dep, idle := sum(free); dep != 0 {
		t.Errorf("independent transactions: dependency wait %v (idle %v), want 0", dep, idle)
	}
}

// TestParallelPreserveCommitOrder: with no dependencies, transactions run in
// parallel, and still commit in source order.
func TestParallelPreserveCommitOrder(t *testing.T) {
	log := runParallel(t, true, func(*Txn) uint64 { return 0 })
	for i, s := range log.committed {
		if s != uint64(i+1) {
			t.Fatalf("commit %d is Seq %d: not source order", i, s)
		}
	}
	if log.maxPar < 2 {
		t.Errorf("never ran two transactions at once (max %d)", log.maxPar)
	}
	t.Logf("max parallel %d", log.maxPar)
}

// TestParallelUnordered: without commit order every transaction commits once,
// and a transaction never starts before its dependency committed.
func TestParallelUnordered(t *testing.T) {
	dep := func(t *Txn) uint64 {
		if t.Seq > 3 {
			return t.Seq - 3
		}
		return 0
	}
	log := runParallel(t, false, dep)
	seen := map[uint64]int{}
	for i, s := range log.committed {
		seen[s] = i
	}
	for s := uint64(4); s <= 405; s++ {
		if seen[s] < seen[s-3] {
			t.Fatalf("Seq %d committed before its dependency %d", s, s-3)
		}
	}
}

// invertingWorker simulates an order-inversion deadlock: transaction 2 holds a
// "lock" transaction 1 needs while it waits for its commit turn.
type invertingWorker struct {
	id    uint32
	mu    *sync.Mutex
	held  *uint64 // Seq holding the lock (0: free)
	waits *[]LockWait
	conns map[uint64]uint32
}

func (w *invertingWorker) ConnectionID() uint32 { return w.id }

func (w *invertingWorker) Apply(ctx context.Context, t *Txn, g Gate) error {
	w.mu.Lock()
	w.conns[t.Seq] = w.id
	w.mu.Unlock()
	if t.Seq == 2 {
		w.mu.Lock()
		*w.held = 2
		w.mu.Unlock()
	}
	if t.Seq == 1 {
		time.Sleep(20 * time.Millisecond) // let 2 take the lock first
		for {
			w.mu.Lock()
			if *w.held == 0 || *w.held == 1 {
				*w.held = 1
				*w.waits = nil
				w.mu.Unlock()
				break
			}
			*w.waits = []LockWait{{Waiter: w.id, Holder: w.conns[*w.held]}}
			w.mu.Unlock()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
	}
	err := g.Wait(ctx)
	w.mu.Lock()
	if *w.held == t.Seq {
		*w.held = 0 // commit or rollback releases the lock
	}
	w.mu.Unlock()
	return err
}

// TestOrderInversionAbort: the detector aborts the later transaction that
// holds the lock, and everything commits.
func TestOrderInversionAbort(t *testing.T) {
	src := fixtureSource(t, "mariadb-poc/domain_id_0__mariadb-repl-bin.000004")
	var mu sync.Mutex
	var held uint64
	var waits []LockWait
	conns := map[uint64]uint32{}
	var workers []Worker
	for i := 0; i < 4; i++ {
		workers = append(workers, &invertingWorker{id: uint32(i + 1), mu: &mu, held: &held, waits: &waits, conns: conns})
	}
	c, err := New(src, workers, Options{
		PreserveCommitOrder: true,
		Dependency:          func(t *Txn) (uint64, bool, error) { return 0, false, nil },
		LockWaits: func(ctx context.Context) ([]LockWait, error) {
			mu.Lock()
			defer mu.Unlock()
			return append([]LockWait(nil), waits...), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for c.Status().Applied < 405 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	if st.Applied != 405 {
		t.Fatalf("applied %d of 405: the inversion was not broken", st.Applied)
	}
	if st.Aborts == 0 {
		t.Fatal("no abort recorded")
	}
}
