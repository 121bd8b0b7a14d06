package schedule

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// TestSchedulerProperty drives the scheduler through random interleavings of
// what its shell does (add what the reader read, dispatch to an idle worker,
// commit, abort), over random dependencies, sizes and bounds, with commit order
// preserved or not, and checks every rule of the package doc at every step:
// a slot starts only when every Seq <= Dep has committed or runs before it in
// its group; groups are consecutive, within bounds, Alone slots alone; Low is
// the committed prefix; every slot commits exactly once; and nothing stalls.
func TestSchedulerProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 200).Draw(t, "txns")
		cfg := Config{
			GroupTxns:  rapid.IntRange(0, 8).Draw(t, "groupTxns"),
			GroupBytes: rapid.Int64Range(1, 400).Draw(t, "groupBytes"),
			Pipeline:   rapid.Bool().Draw(t, "pipeline"),
		}
		workers := rapid.IntRange(1, 6).Draw(t, "workers")
		preserve := rapid.Bool().Draw(t, "preserve")
		depBack := rapid.IntRange(0, 10).Draw(t, "depBack") // 0: anything before; else within this many

		slots := make([]*Slot[int], n)
		skipped := make([]bool, n+1)
		for i := range slots {
			seq := uint64(i + 1)
			lo := uint64(0)
			if depBack > 0 && seq > uint64(depBack) {
				lo = seq - 1 - uint64(depBack)
			}
			slots[i] = &Slot[int]{
				Seq:       seq,
				Dep:       rapid.Uint64Range(lo, seq-1).Draw(t, fmt.Sprintf("dep%d", seq)),
				Bytes:     rapid.Int64Range(0, 100).Draw(t, fmt.Sprintf("bytes%d", seq)),
				Alone:     rapid.IntRange(0, 9).Draw(t, fmt.Sprintf("alone%d", seq)) == 0,
				Pipelined: rapid.Bool().Draw(t, fmt.Sprintf("pipelined%d", seq)),
				Value:     i,
			}
			skipped[seq] = rapid.IntRange(0, 19).Draw(t, fmt.Sprintf("skip%d", seq)) == 0
		}
		s := New[int](cfg, 0)
		committed := make([]bool, n+1) // by Seq
		executed := make([]bool, n+1)  // by Seq: running, body applied
		var running []*Slot[int]       // leads
		added := 0
		var retired []*Slot[int]
		lastRetired := uint64(0)
		checkRetired := func(r []*Slot[int]) {
			for _, x := range r {
				if x.Seq != lastRetired+1 {
					t.Fatalf("retired Seq %d after %d", x.Seq, lastRetired)
				}
				lastRetired = x.Seq
			}
			if s.Low() != lastRetired {
				t.Fatalf("Low %d, last retired %d", s.Low(), lastRetired)
			}
			for q := uint64(1); q <= s.Low(); q++ {
				if !committed[q] {
					t.Fatalf("Low %d but Seq %d not committed", s.Low(), q)
				}
			}
			if h := s.Head(); h != nil && h.Seq != s.Low()+1 {
				t.Fatalf("Head Seq %d, Low %d", h.Seq, s.Low())
			}
		}
		commit := func(lead *Slot[int]) {
			if preserve && s.Head() != lead {
				t.Fatalf("commit of Seq %d out of turn (head %d)", lead.Seq, s.Head().Seq)
			}
			var group []*Slot[int]
			group, retired = s.Committed(lead, retired[:0])
			for _, m := range group {
				executed[m.Seq] = false
				if committed[m.Seq] {
					t.Fatalf("Seq %d committed twice", m.Seq)
				}
				committed[m.Seq] = true
			}
			// Committed marked the group before retiring: the retired ones must all be committed.
			for _, x := range retired {
				if !committed[x.Seq] {
					t.Fatalf("retired Seq %d not committed", x.Seq)
				}
			}
			checkRetired(retired)
		}
		for steps := 0; ; steps++ {
			if steps > 100*n+1000 {
				t.Fatalf("no progress: low %d of %d", s.Low(), n)
			}
			if s.Low() == uint64(n) {
				break
			}
			// The actions that are possible now.
			var acts []string
			if added < n {
				acts = append(acts, "add")
			}
			if len(running) < workers {
				acts = append(acts, "dispatch")
			}
			for _, l := range running {
				if !preserve || s.Head() == l {
					acts = append(acts, "commit")
					break
				}
			}
			if len(running) > 0 {
				acts = append(acts, "abort", "execute", "retry")
			}
			if len(acts) == 0 {
				t.Fatalf("stuck: nothing possible, low %d", s.Low())
			}
			// The scheduler's executed prefix matches the model's.
			wantExec := 0
			for _, x := range s.Window() {
				if !committed[x.Seq] && !executed[x.Seq] {
					break
				}
				wantExec++
			}
			if s.exec != wantExec {
				var st []string
				for _, x := range s.Window() {
					st = append(st, fmt.Sprintf("%d:%v/%v/c%v/e%v", x.Seq, x.state, x.executed, committed[x.Seq], executed[x.Seq]))
				}
				t.Fatalf("executed prefix %d, want %d: %v", s.exec, wantExec, st)
			}
			switch act := rapid.SampledFrom(acts).Draw(t, "act"); act {
			case "add":
				sl := slots[added]
				added++
				if skipped[sl.Seq] {
					committed[sl.Seq] = true
				}
				checkRetired(s.Add(sl, skipped[sl.Seq]))
			case "dispatch":
				lead := s.Next(added < n && rapid.Bool().Draw(t, "more"))
				if lead == nil {
					// Liveness: with everything added, nothing running and the
					// window non-empty, something must be startable.
					if added == n && len(running) == 0 && s.Len() > 0 {
						t.Fatalf("Next returned nil with nothing running; low %d, head %d dep %d", s.Low(), s.Head().Seq, s.Head().Dep)
					}
					continue
				}
				g := lead.Group()
				if len(g) == 0 || g[0] != lead {
					t.Fatalf("group of Seq %d does not start with it", lead.Seq)
				}
				if len(g) > max(cfg.GroupTxns, 1) {
					t.Fatalf("group of %d over GroupTxns %d", len(g), cfg.GroupTxns)
				}
				var bytes int64
				for i, m := range g {
					bytes += m.Bytes
					if i > 0 && m.Seq != g[i-1].Seq+1 {
						t.Fatalf("group not consecutive: %d after %d", m.Seq, g[i-1].Seq)
					}
					if m.Running() || m.Done() {
						t.Fatalf("Seq %d handed out while running or done", m.Seq)
					}
					if len(g) > 1 && m.Alone {
						t.Fatalf("Alone Seq %d grouped", m.Seq)
					}
					// Every Seq <= Dep is committed or an earlier member, or
					// (pipeline) everything before the lead has executed.
					for q := uint64(1); q <= m.Dep; q++ {
						if committed[q] || (q >= lead.Seq && q < m.Seq) {
							continue
						}
						if cfg.Pipeline && m.Pipelined && (m == lead || lead.Pipelined) && q < lead.Seq {
							all := true
							for x := uint64(1); x < lead.Seq; x++ {
								all = all && (committed[x] || executed[x])
							}
							if all {
								continue
							}
						}
						t.Fatalf("Seq %d (dep %d, pipelined %v) started before Seq %d committed", m.Seq, m.Dep, m.Pipelined, q)
					}
				}
				if len(g) > 1 && bytes > cfg.GroupBytes {
					t.Fatalf("group of %d bytes over GroupBytes %d", bytes, cfg.GroupBytes)
				}
				// Nothing before the lead is still waiting: slots start in order.
				for _, x := range s.Window() {
					if x == lead {
						break
					}
					if !x.Running() && !x.Done() {
						t.Fatalf("Seq %d started while Seq %d waits", lead.Seq, x.Seq)
					}
				}
				s.Start(lead)
				for _, m := range g {
					if !m.Running() || m.Lead() != lead || (m != lead) != m.Member() {
						t.Fatalf("Seq %d after Start: running %v lead %v", m.Seq, m.Running(), m.Lead())
					}
				}
				running = append(running, lead)
			case "commit":
				var cands []int
				for i, l := range running {
					if !preserve || s.Head() == l {
						cands = append(cands, i)
					}
				}
				i := rapid.SampledFrom(cands).Draw(t, "commitWhich")
				lead := running[i]
				running = append(running[:i], running[i+1:]...)
				commit(lead)
			case "execute":
				lead := running[rapid.IntRange(0, len(running)-1).Draw(t, "executeWhich")]
				for _, m := range lead.Group() {
					executed[m.Seq] = true
				}
				s.Executed(lead)
			case "retry": // rolled back after executing, to be applied again
				lead := running[rapid.IntRange(0, len(running)-1).Draw(t, "retryWhich")]
				for _, m := range lead.Group() {
					executed[m.Seq] = false
				}
				s.Unexecuted(lead)
			case "abort":
				i := rapid.IntRange(0, len(running)-1).Draw(t, "abortWhich")
				lead := running[i]
				running = append(running[:i], running[i+1:]...)
				g := append([]*Slot[int](nil), lead.Group()...)
				for _, m := range g {
					executed[m.Seq] = false
				}
				aborts := lead.Aborts()
				if got := s.Aborted(lead); got != aborts+1 {
					t.Fatalf("Aborted returned %d, want %d", got, aborts+1)
				}
				if lead.Dep != lead.Seq-1 {
					t.Fatalf("aborted Seq %d has Dep %d", lead.Seq, lead.Dep)
				}
				for _, m := range g {
					if m.Running() || m.Done() || m.Lead() != nil {
						t.Fatalf("aborted Seq %d still running", m.Seq)
					}
				}
			}
		}
		for q := 1; q <= n; q++ {
			if !committed[q] {
				t.Fatalf("Seq %d never committed", q)
			}
		}
		if s.Len() != 0 || len(running) != 0 {
			t.Fatalf("window %d, running %d at the end", s.Len(), len(running))
		}
	})
}

// TestSchedulerTable walks through the cases the package doc names.
func TestSchedulerTable(t *testing.T) {
	mk := func(seq, dep uint64) *Slot[int] { return &Slot[int]{Seq: seq, Dep: dep, Bytes: 10} }
	t.Run("blocked slot holds back later ones", func(t *testing.T) {
		s := New[int](Config{GroupTxns: 1}, 0)
		a, b, c := mk(1, 0), mk(2, 1), mk(3, 0)
		s.Add(a, false)
		s.Add(b, false)
		s.Add(c, false)
		if got := s.Next(false); got != a {
			t.Fatalf("Next = %v, want Seq 1", got)
		}
		s.Start(a)
		if got := s.Next(false); got != nil {
			t.Fatalf("Next = Seq %d, want nil: Seq 2 waits for Seq 1, and Seq 3 must not pass it", got.Seq)
		}
		if !s.Blocked() {
			t.Fatal("Blocked = false while Seq 2 waits for Seq 1")
		}
		s.Committed(a, nil)
		if s.Blocked() {
			t.Fatal("Blocked = true once Seq 1 committed")
		}
		if got := s.Next(false); got != b {
			t.Fatalf("Next after commit = %v, want Seq 2", got)
		}
	})
	t.Run("head group takes dependent members, others do not", func(t *testing.T) {
		s := New[int](Config{GroupTxns: 8, GroupBytes: 1000}, 0)
		for q := uint64(1); q <= 4; q++ {
			s.Add(mk(q, q-1), false)
		}
		lead := s.Next(false)
		if len(lead.Group()) != 4 {
			t.Fatalf("head group of %d, want 4 (a chain runs in order on one connection)", len(lead.Group()))
		}
		s2 := New[int](Config{GroupTxns: 8, GroupBytes: 1000}, 0)
		x := mk(1, 0)
		s2.Add(x, false)
		s2.Start(s2.Next(false))
		y, z := mk(2, 0), mk(3, 2)
		s2.Add(y, false)
		s2.Add(z, false)
		if lead := s2.Next(false); lead != y || len(lead.Group()) != 1 {
			t.Fatalf("non-head group %v of %d, want Seq 2 alone (Seq 3 depends on it)", lead, len(lead.Group()))
		}
	})
	t.Run("open group waits while more is coming, unless it is the head", func(t *testing.T) {
		s := New[int](Config{GroupTxns: 8, GroupBytes: 1000}, 0)
		a := mk(1, 0)
		s.Add(a, false)
		if s.Next(true) != a {
			t.Fatal("the head must not wait for more")
		}
		s.Start(a)
		s.Add(mk(2, 0), false)
		if s.Next(true) != nil {
			t.Fatal("an open group behind the head must wait while more is coming")
		}
		if s.Next(false) == nil {
			t.Fatal("nothing more coming: the group must go")
		}
	})
	t.Run("abort rewinds and serialises the lead", func(t *testing.T) {
		s := New[int](Config{GroupTxns: 1}, 0)
		a, b := mk(1, 0), mk(2, 0)
		s.Add(a, false)
		s.Add(b, false)
		s.Start(s.Next(false))
		s.Start(s.Next(false))
		s.Aborted(b)
		if s.Next(false) != nil {
			t.Fatal("aborted Seq 2 must wait for Seq 1 to commit")
		}
		s.Committed(a, nil)
		if s.Next(false) != b {
			t.Fatal("aborted Seq 2 must run again once Seq 1 committed")
		}
	})
	t.Run("skipped slots retire with the prefix", func(t *testing.T) {
		s := New[int](Config{GroupTxns: 1}, 0)
		a := mk(1, 0)
		s.Add(a, false)
		if r := s.Add(mk(2, 0), true); len(r) != 0 {
			t.Fatal("a skipped slot behind a pending one must not retire")
		}
		s.Start(s.Next(false))
		_, r := s.Committed(a, nil)
		if len(r) != 2 || s.Low() != 2 {
			t.Fatalf("retired %d, low %d; want 2 and 2", len(r), s.Low())
		}
	})
}
