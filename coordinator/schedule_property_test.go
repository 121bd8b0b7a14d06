package coordinator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// kvWorld is the "target" of the scheduler property test: a key-value store
// in which every transaction writes a few keys. A transaction that runs
// before the previous writer of one of its keys committed, or after a later
// writer, is caught at once: it checks that each key's last writer is the
// transaction that wrote the key last before it in source order.
type kvWorld struct {
	mu         sync.Mutex
	keys       map[uint64][]int    // per Seq: the keys it writes
	prev       map[uint64][]uint64 // per Seq: each key's previous writer in source order
	lastWriter map[int]uint64      // the store: key -> Seq of the transaction that wrote it last
	uncommit   map[uint64]bool     // applied, not yet committed (its writes are not visible to anyone else yet)
	committed  []uint64
	violations []string
	grouped    int
}

type kvWorker struct {
	id  uint32
	w   *kvWorld
	rng *rand.Rand
}

func (k *kvWorker) ConnectionID() uint32 { return k.id }

func (k *kvWorker) Apply(ctx context.Context, t *Txn, g Gate) error {
	return k.ApplyGroup(ctx, []*Txn{t}, g)
}

func (k *kvWorker) ApplyGroup(ctx context.Context, ts []*Txn, g Gate) error {
	w := k.w
	w.mu.Lock()
	for i, t := range ts {
		if i > 0 && t.Seq != ts[i-1].Seq+1 {
			w.violations = append(w.violations, fmt.Sprintf("group not consecutive: %d after %d", t.Seq, ts[i-1].Seq))
		}
		for j, key := range w.keys[t.Seq] {
			last := w.lastWriter[key]
			if last != w.prev[t.Seq][j] {
				w.violations = append(w.violations, fmt.Sprintf("Seq %d writes key %d after Seq %d, want after Seq %d", t.Seq, key, last, w.prev[t.Seq][j]))
			}
			if last != 0 && w.uncommit[last] && !slices.ContainsFunc(ts, func(x *Txn) bool { return x.Seq == last }) {
				w.violations = append(w.violations, fmt.Sprintf("Seq %d reads key %d written by Seq %d before that committed", t.Seq, key, last))
			}
			w.lastWriter[key] = t.Seq
		}
		w.uncommit[t.Seq] = true
	}
	if len(ts) > 1 {
		w.grouped += len(ts)
	}
	w.mu.Unlock()
	time.Sleep(time.Duration(k.rng.IntN(200)) * time.Microsecond)
	if err := g.Wait(ctx); err != nil {
		return err
	}
	w.mu.Lock()
	for _, t := range ts {
		delete(w.uncommit, t.Seq)
		w.committed = append(w.committed, t.Seq)
	}
	w.mu.Unlock()
	return nil
}

// TestScheduleProperty runs the coordinator's concurrent shell (reader,
// dispatcher, workers; under -race in `make test`) over random key sets, with
// dependencies computed the way writeset tracking does, random worker counts,
// group sizes and commit-order settings. Every transaction must run after the
// previous writer of each of its keys committed (or earlier in its own group)
// and before the next writer, so the end state equals serial apply; with
// commit order preserved, commits follow source order.
func TestScheduleProperty(t *testing.T) {
	const total = 405 // transactions in the fixture
	rapid.Check(t, func(rt *rapid.T) {
		nKeys := rapid.IntRange(1, 40).Draw(rt, "keys")
		workers := rapid.IntRange(1, 8).Draw(rt, "workers")
		group := rapid.IntRange(1, 8).Draw(rt, "group")
		preserve := rapid.Bool().Draw(rt, "preserve")
		barrierEvery := rapid.IntRange(0, 50).Draw(rt, "barrierEvery")
		seed := rapid.Uint64().Draw(rt, "seed")
		rng := rand.New(rand.NewPCG(seed, 2))

		w := &kvWorld{keys: map[uint64][]int{}, prev: map[uint64][]uint64{}, lastWriter: map[int]uint64{}, uncommit: map[uint64]bool{}}
		written := map[int]uint64{} // the dependency tracker's view, in source order
		dep := func(tx *Txn) (uint64, bool, error) {
			n := rng.IntN(4)
			var d uint64
			w.mu.Lock()
			defer w.mu.Unlock()
			for range n {
				key := rng.IntN(nKeys)
				if slices.Contains(w.keys[tx.Seq], key) {
					continue
				}
				w.keys[tx.Seq] = append(w.keys[tx.Seq], key)
				w.prev[tx.Seq] = append(w.prev[tx.Seq], written[key])
				d = max(d, written[key])
				written[key] = tx.Seq
			}
			if barrierEvery > 0 && int(tx.Seq)%barrierEvery == 0 {
				// A barrier writes every key, as DDL would.
				for key := range nKeys {
					if !slices.Contains(w.keys[tx.Seq], key) {
						w.keys[tx.Seq] = append(w.keys[tx.Seq], key)
						w.prev[tx.Seq] = append(w.prev[tx.Seq], written[key])
						written[key] = tx.Seq
					}
				}
				return tx.Seq - 1, true, nil
			}
			return d, false, nil
		}
		var ws []Worker
		for i := range workers {
			ws = append(ws, &kvWorker{id: uint32(i + 1), w: w, rng: rand.New(rand.NewPCG(seed, uint64(i)))})
		}
		c, err := New(fixtureSource(t, "mariadb-poc/domain_id_0__mariadb-repl-bin.000004"), ws, Options{
			PreserveCommitOrder: preserve, GroupTxns: group, Dependency: dep,
		})
		if err != nil {
			rt.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		deadline := time.Now().Add(30 * time.Second)
		for c.Status().Applied < total && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			rt.Fatal(err)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.violations) > 0 {
			rt.Fatalf("%d violations, first: %s", len(w.violations), w.violations[0])
		}
		if len(w.committed) != total {
			rt.Fatalf("committed %d transactions, want %d", len(w.committed), total)
		}
		seen := map[uint64]bool{}
		for i, s := range w.committed {
			if seen[s] {
				rt.Fatalf("Seq %d committed twice", s)
			}
			seen[s] = true
			if preserve && s != uint64(i+1) {
				rt.Fatalf("commit %d is Seq %d: not source order", i, s)
			}
		}
		// the end state equals serial apply: each key's last writer is the last one in source order
		for key, s := range written {
			if w.lastWriter[key] != s {
				rt.Fatalf("key %d last written by Seq %d, serial order says %d", key, w.lastWriter[key], s)
			}
		}
		if group > 1 && w.grouped == 0 && workers == 1 && barrierEvery == 0 {
			rt.Fatalf("one worker with groups of up to %d never applied a group", group)
		}
	})
}
