package schedule_test

import (
	"fmt"
	"testing"

	"github.com/mtreplica/mtreplica/coordinator/deptrack"
	"github.com/mtreplica/mtreplica/coordinator/schedule"
)

// BenchmarkSchedulerNoop measures the scheduler with no-op apply on one
// goroutine: dependencies from the writeset tracker (4 keys per transaction,
// conflict% of transactions share a key with one of the 8 before them), then
// add, dispatch to 16 simulated workers, commit in source order (commit order
// preserved) and retire. The window holds at most 4096 transactions (the
// coordinator's queue bounds it in bytes). Reported: transactions/s.
//
//	go test -run '^$' -bench SchedulerNoop -cpu 1 ./coordinator/schedule/
func BenchmarkSchedulerNoop(b *testing.B) {
	for _, bc := range []struct {
		conflict int
		group    int
	}{{0, 1}, {10, 1}, {100, 1}, {10, 32}} {
		b.Run(fmt.Sprintf("writeset/conflict=%dpct/group=%d", bc.conflict, bc.group), func(b *testing.B) {
			benchNoop(b, bc.conflict, bc.group)
		})
	}
}

func benchNoop(b *testing.B, conflictPct, group int) {
	const (
		workers = 16
		window  = 4096
		perTxn  = 4
	)
	tr := deptrack.NewTracker(deptrack.WriteSet, 0)
	s := schedule.New[struct{}](schedule.Config{GroupTxns: group, GroupBytes: 1 << 20}, 0)
	ring := make([]schedule.Slot[struct{}], 2*window) // slots are reused once retired
	tx := deptrack.Txn{Keys: make([]deptrack.Key, perTxn)}
	mix := func(x uint64) uint64 { // splitmix64
		x += 0x9E3779B97F4A7C15
		x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
		x = (x ^ x>>27) * 0x94D049BB133111EB
		return x ^ x>>31
	}
	var (
		rng      uint64                     = 1
		running  []*schedule.Slot[struct{}] // leads, in dispatch order
		retired  []*schedule.Slot[struct{}]
		added    uint64
		parallel int
		n        = uint64(b.N)
	)
	// commitHead commits the running group whose lead is the head, if any.
	commitHead := func() bool {
		for i, l := range running {
			if l == s.Head() {
				running = append(running[:i], running[i+1:]...)
				_, retired = s.Committed(l, retired[:0])
				return true
			}
		}
		return false
	}
	b.ReportAllocs()
	b.ResetTimer()
	for s.Low() < n {
		if added < n && s.Len() < window {
			added++
			tx.Seq = added
			for k := range tx.Keys {
				tx.Keys[k] = deptrack.Key{Hash: mix(added*perTxn + uint64(k)), Space: uint64(k % 2)}
			}
			rng = mix(rng)
			if int(rng%100) < conflictPct && added > 8 {
				back := added - 1 - (rng>>8)%8
				tx.Keys[0].Hash = mix(back * perTxn)
			}
			sl := &ring[added%uint64(len(ring))]
			sl.Seq, sl.Dep, sl.Bytes = added, tr.Add(&tx), 200
			if sl.Dep < added-1 {
				parallel++
			}
			s.Add(sl, false)
		}
		for len(running) < workers {
			lead := s.Next(added < n && s.Len() < window)
			if lead == nil {
				break
			}
			s.Start(lead)
			running = append(running, lead)
		}
		// The no-op workers finish at once; commit order lets the head go first.
		if len(running) == workers || added == n || s.Len() == window {
			if !commitHead() && len(running) == 0 && s.Len() > 0 {
				b.Fatalf("stuck at low %d", s.Low())
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txn/s")
	b.ReportMetric(float64(parallel)/float64(b.N), "parallel/txn")
}
