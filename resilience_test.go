package mtreplica_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// sourceWriter commits small transactions on the source until stopped: a new
// row and an increment of one counter, so a transaction applied twice or lost
// makes the target differ (mariadbtest.Compare). Failed commits (the source
// restarting) are retried with the next id after a pause.
type sourceWriter struct {
	stop      chan struct{}
	done      chan struct{}
	committed atomic.Int64
	failed    atomic.Int64
}

func startWriter(t *testing.T, src *mariadbtest.Server) *sourceWriter {
	t.Helper()
	mustExec(t, src, "CREATE DATABASE IF NOT EXISTS res",
		"CREATE TABLE IF NOT EXISTS res.t (id INT PRIMARY KEY, v VARCHAR(40))",
		"CREATE TABLE IF NOT EXISTS res.c (k INT PRIMARY KEY, n BIGINT NOT NULL)",
		"INSERT IGNORE INTO res.c VALUES (1, 0)")
	w := &sourceWriter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		ctx := context.Background()
		for id := 1; ; id++ {
			select {
			case <-w.stop:
				return
			default:
			}
			err := src.Exec(ctx, "BEGIN",
				fmt.Sprintf("INSERT INTO res.t VALUES (%d, 'row %d')", id, id),
				"UPDATE res.c SET n = n + 1 WHERE k = 1", "COMMIT")
			if err != nil {
				w.failed.Add(1)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			w.committed.Add(1)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	t.Cleanup(w.halt)
	return w
}

func (w *sourceWriter) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// waitCommitted waits until the writer committed n more transactions.
func (w *sourceWriter) waitCommitted(t *testing.T, n int64) {
	t.Helper()
	want := w.committed.Load() + n
	deadline := time.Now().Add(time.Minute)
	for w.committed.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("the source writer committed %d of %d transactions in a minute (%d failed)", w.committed.Load(), want, w.failed.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSourceRestartMidStream: the source shuts down and starts again while
// the receiver streams and the writer writes; the receiver reconnects by
// itself, and the target ends equal to the source (nothing lost, nothing applied twice).
func TestSourceRestartMidStream(t *testing.T) {
	src, dst := pair(t)
	cfg := engineConfig(t, src, dst, t.TempDir())
	cfg.Source.ConnectRetry = 200 * time.Millisecond
	cfg.Workers = 4
	r, stop := startEngine(t, cfg)
	w := startWriter(t, src)
	w.waitCommitted(t, 200)
	if err := src.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.waitCommitted(t, 200)
	w.halt()
	waitCaughtUp(t, src, dst, r, 2*time.Minute)
	compare(t, src, dst, "res")
	st := r.Status()
	t.Logf("%d transactions committed on the source (%d attempts failed during the restart); applied %d, executed %s",
		w.committed.Load(), w.failed.Load(), st.TransactionsApplied, st.ExecutedGtidSet)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestTargetRestartMidApply: the target shuts down and starts again while the
// workers apply; they reconnect by themselves and the target ends equal to the source.
func TestTargetRestartMidApply(t *testing.T) {
	src, dst := pair(t)
	cfg := engineConfig(t, src, dst, t.TempDir())
	cfg.Workers = 4
	r, stop := startEngine(t, cfg)
	w := startWriter(t, src)
	w.waitCommitted(t, 300)
	if err := dst.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.waitCommitted(t, 300)
	w.halt()
	waitCaughtUp(t, src, dst, r, 2*time.Minute)
	compare(t, src, dst, "res")
	st := r.Status()
	var retries uint64
	for _, ws := range st.Workers {
		retries += ws.Retries
	}
	t.Logf("%d transactions committed on the source; applied %d, worker retries %d", w.committed.Load(), st.TransactionsApplied, retries)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// blackholeProxy forwards loopback TCP connections to a server. Its switch
// makes it stop forwarding silently: connections open at that moment stay
// open but carry nothing in either direction (no FIN, no RST, as a network
// partition or a dead NAT entry), and new ones are closed at once until the
// switch is turned back.
type blackholeProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	epoch int  // the epoch of connections accepted now
	dead  int  // connections of an epoch below this are black-holed
	off   bool // the switch: true = forwarding stopped
}

func startProxy(t *testing.T, target string) *blackholeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blackholeProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go p.accept()
	return p
}

func (p *blackholeProxy) port() uint16 { return uint16(p.ln.Addr().(*net.TCPAddr).Port) }

// blackhole stops (true) or resumes (false) forwarding.
func (p *blackholeProxy) blackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.off = on
	if on {
		p.dead = p.epoch + 1 // every connection opened so far
		p.epoch++
	}
}

func (p *blackholeProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		off, epoch := p.off, p.epoch
		p.mu.Unlock()
		if off {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		go p.pipe(c, s, epoch)
		go p.pipe(s, c, epoch)
	}
}

// pipe copies from a to b until either end closes; once the connection's
// epoch is black-holed it reads and drops everything instead.
func (p *blackholeProxy) pipe(a, b net.Conn, epoch int) {
	defer a.Close()
	defer b.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := a.Read(buf)
		p.mu.Lock()
		dropped := epoch < p.dead
		p.mu.Unlock()
		if n > 0 && !dropped {
			if _, werr := b.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // the peer closed (io.EOF) or the connection broke
		}
	}
}

// TestSilentNetworkDrop: a proxy between the receiver and the source stops
// forwarding without closing anything. The receiver notices within about
// twice the heartbeat period (its read timeout), reconnects once the network
// is back, and the target ends equal to the source.
func TestSilentNetworkDrop(t *testing.T) {
	src, dst := pair(t)
	proxy := startProxy(t, src.Addr())
	cfg := engineConfig(t, src, dst, t.TempDir())
	cfg.Source.Host, cfg.Source.Port = "localhost", proxy.port() // a name, resolved at every connect
	cfg.Source.HeartbeatPeriod = time.Second
	cfg.Source.ConnectRetry = 200 * time.Millisecond
	r, stop := startEngine(t, cfg)
	w := startWriter(t, src)
	w.waitCommitted(t, 100)
	waitCaughtUp(t, src, dst, r, time.Minute)
	before := r.Status().LastIOError

	dropped := time.Now()
	proxy.blackhole(true)
	var noticed time.Duration
	for {
		st := r.Status()
		if st.LastIOError != "" && st.LastIOError != before {
			noticed = time.Since(dropped)
			t.Logf("noticed after %v: %s (Replica_IO_Running %s)", noticed.Round(10*time.Millisecond), st.LastIOError, st.ReplicaIORunning)
			break
		}
		if time.Since(dropped) > 30*time.Second {
			t.Fatalf("a silent drop not noticed in 30s (heartbeat period %v); status %+v", cfg.Source.HeartbeatPeriod, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The bound: the read timeout is twice the heartbeat period; a generous
	// margin absorbs a loaded machine.
	if limit := 2*cfg.Source.HeartbeatPeriod + 3*time.Second; noticed > limit {
		t.Errorf("silent drop noticed after %v, want within about 2x the heartbeat period (%v with margin)", noticed, limit)
	}
	w.waitCommitted(t, 100) // the source keeps writing during the partition
	proxy.blackhole(false)
	w.waitCommitted(t, 100)
	w.halt()
	waitCaughtUp(t, src, dst, r, 2*time.Minute)
	compare(t, src, dst, "res")
	if st := r.Status(); st.ReplicaIORunning != "Yes" {
		t.Errorf("receiver not streaming again: %s (%s)", st.ReplicaIORunning, st.LastIOError)
	}
	t.Logf("%d transactions committed on the source", w.committed.Load())
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestRetentionWarning: the source keeps binlogs two hours; a transaction
// whose events carry a timestamp an hour old (SET timestamp) puts the
// receiver's position past half the retention: Status shows the warning.
func TestRetentionWarning(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB servers")
	}
	src := mariadbtest.Start(t, mariadbtest.Options{ExtraArgs: []string{"--binlog-expire-logs-seconds=7200"}})
	dst := mariadbtest.Start(t, mariadbtest.Options{})
	cfg := engineConfig(t, src, dst, t.TempDir())
	cfg.Source.HeartbeatPeriod = time.Minute // no heartbeat clears the warning while the test looks
	r, _ := startEngine(t, cfg)
	mustExec(t, src, "CREATE DATABASE ret", "CREATE TABLE ret.t (id INT PRIMARY KEY)")
	waitCaughtUp(t, src, dst, r, time.Minute)
	if w := r.Status().SourceRetentionWarning; w != "" {
		t.Fatalf("warning while current: %s", w)
	}
	mustExec(t, src, "SET timestamp = UNIX_TIMESTAMP() - 3700", "INSERT INTO ret.t VALUES (1)")
	waitCaughtUp(t, src, dst, r, time.Minute)
	w := r.Status().SourceRetentionWarning
	if w == "" {
		t.Fatal("no retention warning for a position an hour old with a two-hour retention")
	}
	t.Log(w)
}
