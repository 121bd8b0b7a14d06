package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// gtidPos is a MariaDB GTID position (@@gtid_binlog_pos, @@gtid_slave_pos): the last sequence number per
// replication domain. The server id part is kept only for printing; positions compare by domain and seq.
type gtidPos map[uint32]gtidEntry

type gtidEntry struct {
	serverID uint32
	seq      uint64
}

// parseGTIDPos parses "0-1-100,1-2-5" (empty string: no domain).
func parseGTIDPos(s string) (gtidPos, error) {
	p := gtidPos{}
	s = strings.TrimSpace(s)
	if s == "" {
		return p, nil
	}
	for _, part := range strings.Split(s, ",") {
		f := strings.Split(strings.TrimSpace(part), "-")
		if len(f) != 3 {
			return nil, fmt.Errorf("GTID %q: want domain-server-seq", part)
		}
		d, err1 := strconv.ParseUint(f[0], 10, 32)
		sid, err2 := strconv.ParseUint(f[1], 10, 32)
		seq, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("GTID %q: want domain-server-seq in decimal", part)
		}
		if _, dup := p[uint32(d)]; dup {
			return nil, fmt.Errorf("GTID position %q: domain %d appears twice", s, d)
		}
		p[uint32(d)] = gtidEntry{serverID: uint32(sid), seq: seq}
	}
	return p, nil
}

func (p gtidPos) String() string {
	domains := make([]uint32, 0, len(p))
	for d := range p {
		domains = append(domains, d)
	}
	slices.Sort(domains)
	parts := make([]string, len(domains))
	for i, d := range domains {
		parts[i] = fmt.Sprintf("%d-%d-%d", d, p[d].serverID, p[d].seq)
	}
	return strings.Join(parts, ",")
}

// covers reports whether p has reached want in every domain of want.
func (p gtidPos) covers(want gtidPos) bool {
	for d, w := range want {
		if p[d].seq < w.seq {
			return false
		}
	}
	return true
}

// txnsSince counts the transactions from base to p: the sum over p's domains of the seq difference. With
// gtid_strict_mode every domain's sequence numbers are consecutive, so this is the number of GTIDs.
func (p gtidPos) txnsSince(base gtidPos) int64 {
	var n int64
	for d, e := range p {
		if b := base[d].seq; e.seq > b {
			n += int64(e.seq - b)
		}
	}
	return n
}

// percentile returns the q-quantile (0 <= q <= 1) of xs by linear interpolation between closest ranks (the
// method of numpy's default and of most spreadsheets). NaN for no samples. xs is not modified.
func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	q = min(max(q, 0), 1)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// median of xs (NaN for none).
func median(xs []float64) float64 { return percentile(xs, 0.5) }

// progress keeps one live status line on stderr: which run, how far, the current rate. Log lines printed through
// logf clear it first. On a terminal the line is redrawn in place twice a second; otherwise it is printed as a
// plain line every 15 seconds, so a log file stays readable.
type progress struct {
	w   io.Writer
	tty bool

	mu        sync.Mutex
	label     string
	done      int64
	total     int64
	started   time.Time
	lastDone  int64
	lastAt    time.Time
	rate      float64 // txn/s over the last redraw interval
	drawn     bool
	lastPlain time.Time
}

func newProgress(w io.Writer) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, tty: tty}
}

// start begins a new tracked step; total 0 means unknown.
func (p *progress) start(label string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.label, p.done, p.total, p.started, p.lastDone, p.lastAt, p.rate = label, 0, total, now, 0, now, 0
	p.lastPlain = now
}

// set records how far the current step is.
func (p *progress) set(done int64) {
	p.mu.Lock()
	p.done = done
	p.mu.Unlock()
}

// finish ends the current step (the line disappears).
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	p.label = ""
}

// logf prints a log line above the progress line.
func (p *progress) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.w, "bench: "+format+"\n", args...)
	p.drawLocked()
}

// tick is called periodically by run; it updates the rate and redraws.
func (p *progress) tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.label == "" {
		return
	}
	if dt := now.Sub(p.lastAt).Seconds(); dt >= 0.9 {
		p.rate = float64(p.done-p.lastDone) / dt
		p.lastDone, p.lastAt = p.done, now
	}
	if p.tty {
		p.drawLocked()
	} else if now.Sub(p.lastPlain) >= 15*time.Second {
		p.lastPlain = now
		fmt.Fprintln(p.w, "bench: "+p.lineLocked(now))
	}
}

// run redraws until stop is closed.
func (p *progress) run(stop <-chan struct{}) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			p.finish()
			return
		case now := <-t.C:
			p.tick(now)
		}
	}
}

func (p *progress) lineLocked(now time.Time) string {
	el := now.Sub(p.started).Seconds()
	how := fmt.Sprintf("%d", p.done)
	if p.total > 0 {
		how = fmt.Sprintf("%d/%d (%.0f%%)", p.done, p.total, 100*float64(p.done)/float64(p.total))
	}
	return fmt.Sprintf("%s: %s, %.0f txn/s now, %.1fs", p.label, how, p.rate, el)
}

func (p *progress) drawLocked() {
	if !p.tty || p.label == "" {
		return
	}
	fmt.Fprintf(p.w, "\r\033[K%s", p.lineLocked(time.Now()))
	p.drawn = true
}

func (p *progress) clearLocked() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// fsyncProbe measures the latency of a 4 KiB write followed by fdatasync in dir, n times, and returns the median
// in milliseconds. With strict durability a serial applier commits at most once per redo-log fsync, so this is
// the figure that explains a slow or noisy run on a shared machine.
func fsyncProbe(dir string, n int) (float64, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	lat := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := f.WriteAt(buf, int64(i%16)*4096); err != nil {
			return 0, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return 0, err
		}
		lat = append(lat, float64(time.Since(start).Microseconds())/1000)
	}
	return median(lat), nil
}

// loadAverage returns the 1-minute load average (0 if unknown).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
