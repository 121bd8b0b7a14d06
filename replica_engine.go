package mtreplica

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/coordinator"
	"github.com/mtreplica/mtreplica/coordinator/deptrack"
	"github.com/mtreplica/mtreplica/internal/gtid"
	"github.com/mtreplica/mtreplica/internal/tableschema"
	"github.com/mtreplica/mtreplica/relaylog"
	"github.com/mtreplica/mtreplica/replica"
)

// Replica is one replication channel: receiver, relay log and applier.
//
// While Run runs, the receiver and the applier are two threads that start and
// stop independently (START/STOP REPLICA IO_THREAD/SQL_THREAD): StartReceiver,
// StopReceiver, StartApplier, StopApplier. Skip, SetDelay and Reset are the
// other controls; Status is safe to call at any time.
type Replica struct {
	cfg Config

	ctl    sync.Mutex  // serialises the control methods
	active atomic.Bool // Run is running

	delay      atomic.Int64 // SOURCE_DELAY, ns
	holding    atomic.Int64 // while the applier holds a transaction for SOURCE_DELAY: when it is due (Unix ns)
	heldCommit atomic.Int64 // and its source commit time on our clock (Unix ns)
	skew       atomic.Int64 // the source's clock minus ours, ns, measured at connect
	skewKnown  atomic.Bool
	origCommit atomic.Bool  // the last transaction read carried an original commit timestamp
	lagBytes   atomic.Int64 // receiver lag in bytes; -1 unknown
	m          *engineMetrics

	mu       sync.Mutex
	relay    *relaylog.Log
	receiver *replica.Client
	coord    *coordinator.Coordinator
	executed *gtid.Set         // what the target holds: loaded at each applier start, plus what was applied since
	ex       *applier.Executed // the progress read at the last load
	running  bool
	useGTID  bool
	preflown bool // the receiver's preflight passed (Run or the first StartReceiver)
	until    Until
	runCtx   context.Context
	io, sql  *thread
	ioErr    threadError // why the receiver last stopped (kept until it starts again)
	sqlErr   threadError
	fatal    chan error // a thread's error that ends Run (without KeepRunningOnError)
}

// thread is a running receiver or applier.
type thread struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// stop cancels t and waits for it to end or for ctx; a nil t is stopped.
func (t *thread) stop(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.cancel()
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the thread to stop: %w", ctx.Err())
	}
}

// threadError is a thread's last error, as SHOW REPLICA STATUS shows it.
type threadError struct {
	msg  string
	code int
	at   time.Time
}

// New validates cfg and returns a Replica; Run starts it.
func New(cfg Config) (*Replica, error) {
	cfg.setDefaults()
	err := cfg.validate()
	until, uerr := cfg.Until.parse(cfg.Source.Flavor)
	if err = errors.Join(err, uerr); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	r := &Replica{cfg: cfg, until: until, m: newEngineMetrics()}
	r.delay.Store(int64(max(cfg.SourceDelay, 0)))
	r.lagBytes.Store(-1)
	return r, nil
}

// Run replicates until ctx is cancelled (returning nil) or, unless
// Config.KeepRunningOnError, until an error stops the receiver or the applier
// (returning it). With KeepRunningOnError, when ctx is cancelled, Run returns
// the error a thread is stopped with, if any. Shutdown order: the receiver and
// the applier stop, the workers roll back unfinished transactions, the relay
// log is synced and closed.
func (r *Replica) Run(ctx context.Context) (err error) {
	if !r.active.CompareAndSwap(false, true) {
		return errors.New("run: this Replica is running already")
	}
	defer r.active.Store(false)
	cfg := r.cfg
	log := cfg.Logger
	relay, err := relaylog.Open(relaylog.Options{
		Dir: cfg.RelayDir, SegmentSize: cfg.RelaySegmentSize, Sync: cfg.RelaySync,
		Registerer: cfg.Registerer, Logger: log.With("component", "relaylog"),
	})
	if err != nil {
		return fmt.Errorf("open relay log: %w", err)
	}
	defer func() {
		if cerr := relay.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close relay log: %w", cerr)
		}
	}()
	if err := r.m.register(cfg.Registerer, r); err != nil {
		return err
	}
	defer r.m.unregister()

	ex, err := r.loadProgress(ctx)
	if err != nil {
		return err
	}
	recv, err := replica.New(replica.Options{
		Flavor: cfg.Source.Flavor, Host: cfg.Source.Host, Port: cfg.Source.Port,
		User: cfg.Source.User, Password: cfg.Source.Password, ServerID: cfg.Source.ServerID,
		TLS: cfg.Source.TLS, HeartbeatPeriod: cfg.Source.HeartbeatPeriod, ConnectRetry: cfg.Source.ConnectRetry,
		MaxReconnects: cfg.Source.RetryCount, ReadTimeout: cfg.Source.NetTimeout, // SOURCE_RETRY_COUNT, replica_net_timeout
		AllowStatementFormat: cfg.Source.AllowStatementFormat,
		Logger:               log, Registerer: cfg.Registerer, // the receiver names itself in its logs
	}, relay)
	if err != nil {
		return fmt.Errorf("receiver: %w", err)
	}
	r.mu.Lock()
	r.useGTID = cfg.Source.Flavor == gtid.MariaDB
	r.mu.Unlock()
	if !cfg.NoReceiver {
		if err := r.preflight(ctx, recv); err != nil {
			return err
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.ctl.Lock()
	r.mu.Lock()
	r.relay, r.receiver, r.coord, r.running, r.runCtx = relay, recv, nil, true, runCtx
	r.ex, r.executed = ex, ex.Set.Clone()
	r.ioErr, r.sqlErr = threadError{}, threadError{}
	r.fatal = make(chan error, 2)
	log.Info("replica starting", "source", fmt.Sprintf("%s:%d", cfg.Source.Host, cfg.Source.Port),
		"target", cfg.Target.Addr, "executed", r.executed.String(), "relay_dir", cfg.RelayDir)
	if !cfg.NoReceiver {
		r.startReceiverLocked()
	}
	if !cfg.NoApplier {
		r.startApplierLocked()
	}
	fatal := r.fatal
	r.mu.Unlock()
	r.ctl.Unlock()

	select {
	case <-ctx.Done():
	case err = <-fatal:
	}
	r.ctl.Lock()
	r.mu.Lock()
	io, sql := r.io, r.sql
	r.running = false
	r.mu.Unlock()
	cancel()
	_ = io.stop(context.Background())
	_ = sql.stop(context.Background())
	r.mu.Lock()
	if err == nil && cfg.KeepRunningOnError {
		if r.sqlErr.msg != "" {
			err = fmt.Errorf("applier: %s", r.sqlErr.msg)
		} else if r.ioErr.msg != "" {
			err = fmt.Errorf("receiver: %s", r.ioErr.msg)
		}
	}
	r.mu.Unlock()
	r.ctl.Unlock()
	if serr := relay.Sync(); serr != nil && err == nil {
		err = fmt.Errorf("sync relay log: %w", serr)
	}
	log.Info("replica stopped", "err", err)
	return err
}

// preflight checks the source once (the receiver checks again at every connection).
func (r *Replica) preflight(ctx context.Context, recv *replica.Client) error {
	info, err := recv.Preflight(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.useGTID = r.useGTID || info.GTIDMode == "ON"
	r.preflown = true
	r.mu.Unlock()
	return nil
}

// startReceiverLocked starts the receiver thread unless it runs. Call with r.mu held.
func (r *Replica) startReceiverLocked() {
	if r.io != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.runCtx)
	t := &thread{cancel: cancel, done: make(chan struct{})}
	r.io, r.ioErr = t, threadError{}
	go func() {
		defer close(t.done)
		err := r.runReceiver(ctx)
		r.threadExit(t, ctx, err)
	}()
}

// startApplierLocked starts the applier thread unless it runs. Call with r.mu held.
func (r *Replica) startApplierLocked() {
	if r.sql != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.runCtx)
	t := &thread{cancel: cancel, done: make(chan struct{})}
	r.sql, r.sqlErr = t, threadError{}
	go func() {
		defer close(t.done)
		err := r.runApplier(ctx)
		r.threadExit(t, ctx, err)
	}()
}

// threadExit records why a thread ended.
func (r *Replica) threadExit(t *thread, ctx context.Context, err error) {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		err = nil
	}
	if errors.Is(err, coordinator.ErrUntilReached) {
		err = nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	io := r.io == t
	name := "applier"
	if io {
		r.io, name = nil, "receiver"
	} else if r.sql == t {
		r.sql = nil
		r.until = Until{} // met, or cancelled by the stop (as MySQL forgets it at STOP REPLICA)
	}
	if err == nil {
		r.cfg.Logger.Info(name + " stopped")
		return
	}
	e := threadError{msg: err.Error(), code: errorCode(err), at: time.Now()}
	if io {
		r.ioErr = e
		r.m.errors.WithLabelValues("receiver", fmt.Sprint(e.code)).Inc()
	} else {
		r.sqlErr = e
		r.m.errors.WithLabelValues("applier", fmt.Sprint(e.code)).Inc()
	}
	r.cfg.Logger.Error(name+" stopped", "err", err)
	if !r.cfg.KeepRunningOnError {
		select {
		case r.fatal <- fmt.Errorf("%s: %w", name, err):
		default:
		}
	}
}

// runReceiver is the receiver thread: the binlog stream into the relay log,
// and beside it the source monitor (clock skew, receiver lag in bytes).
func (r *Replica) runReceiver(ctx context.Context) error {
	r.mu.Lock()
	recv, relay, preflown := r.receiver, r.relay, r.preflown
	r.mu.Unlock()
	if !preflown {
		if err := r.preflight(ctx, recv); err != nil {
			return err
		}
	}
	start := func() (replica.StartPosition, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.startPosition(relay.State(), r.executed, r.ex, r.useGTID)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.monitorSource(mctx)
	}()
	err := recv.Run(ctx, start)
	stop()
	<-done
	return err
}

// runApplier is the applier thread: it reloads the executed set from the
// target, then reads the relay log from its oldest segment, skipping what the
// target holds.
func (r *Replica) runApplier(ctx context.Context) error {
	cfg := r.cfg
	log := cfg.Logger
	ex, err := r.loadProgress(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	relay := r.relay
	r.ex, r.executed = ex, ex.Set.Clone()
	r.mu.Unlock()

	reader, err := relay.NewReader(relaylog.Position{})
	if err != nil {
		return fmt.Errorf("read relay log: %w", err)
	}
	defer reader.Close()
	progress := r.progress()
	schemas := tableschema.NewCache()
	pending := applier.NewPendingSet(ex.Pending)
	workers := make([]coordinator.Worker, cfg.Workers)
	for i := range workers {
		w := applier.NewWorker(applier.Options{
			Target: cfg.Target, Progress: progress, Idempotent: cfg.Idempotent, RowApply: cfg.RowApply, Pending: pending, Schemas: schemas,
			Name: fmt.Sprintf("worker-%d", i+1), Logger: log.With("component", "applier", "worker", i+1),
		})
		defer w.Close()
		workers[i] = cfg.skip.Wrap(w) // w itself unless replica_skip_errors lists codes
	}
	mode, _ := deptrack.ParseMode(cfg.DependencyTracking)
	deps := newDependencies(ctx, mode, cfg.Target, schemas)
	deps.pipeline = !cfg.NoPipeline
	defer deps.close()
	dependency := deps.dep
	if cfg.Workers == 1 {
		// One worker applies in source order whatever the dependencies: the
		// coordinator's default (each transaction after the one before it,
		// statements as barriers) without extracting writesets.
		dependency = nil
	}
	monitor := &lockMonitor{target: cfg.Target}
	defer monitor.close()
	var reg *scopedRegisterer // a coordinator's metrics live as long as it does
	if cfg.Registerer != nil {
		reg = &scopedRegisterer{reg: cfg.Registerer}
		defer reg.unregisterAll()
	}
	lastPurge := time.Now()
	coord, err := coordinator.New(reader, workers, coordinator.Options{
		QueueBytes: cfg.QueueBytes,
		GroupTxns:  cfg.GroupTransactions,
		Reopen: func(from relaylog.Position) (coordinator.SourceCloser, error) {
			return relay.NewReader(from)
		},
		PreserveCommitOrder: !cfg.UnorderedCommits,
		LockWaits:           monitor.lockWaits,
		Interrupt:           monitor.interrupt,
		Filter:              cfg.txnFilter(), // replication filters
		Dependency:          dependency,
		// Row images are decoded by whoever needs them: writeset extraction,
		// or a worker applying rows as SQL; native row apply needs none.
		DeferRows: true,
		Pipeline:  !cfg.NoPipeline,
		Hold:      r.hold,
		Skip: func(t *coordinator.Txn) bool {
			stream, seq := t.ProgressKey()
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.executed.Contains(gtid.GTID{Stream: stream, Seq: seq})
		},
		OnApplied: func(t *coordinator.Txn, low relaylog.Position) {
			stream, seq := t.ProgressKey()
			r.m.eventsApplied.Add(float64(len(t.Events)))
			r.mu.Lock()
			executed := r.executed
			executed.AddInterval(stream, gtid.Interval{Start: seq, End: seq})
			if t.Info.GTID.Flavor == gtid.MariaDB {
				if last, _ := executed.Last(stream); last == seq {
					executed.SetServerID(stream, t.Info.GTID.ServerID)
				}
			}
			purge := time.Since(lastPurge) > time.Second
			if purge {
				lastPurge = time.Now()
			}
			r.mu.Unlock()
			if purge {
				if n, err := relay.Purge(low); err != nil {
					log.Warn("purge relay log", "err", err)
				} else if n > 0 {
					log.Debug("purged relay log segments", "count", n, "before", low.String())
				}
			}
		},
		Logger: log.With("component", "coordinator"), Registerer: reg.orNil(),
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.coord = coord
	r.mu.Unlock()
	return coord.Run(ctx)
}

func (r *Replica) progress() applier.Progress {
	return applier.Progress{Schema: r.cfg.ProgressSchema, Channel: r.cfg.Channel}
}

// loadProgress reads the executed set from the target, creating the progress
// tables and recording the configured start position when there is none.
func (r *Replica) loadProgress(ctx context.Context) (*applier.Executed, error) {
	conn, err := applier.Dial(ctx, r.cfg.Target)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return r.loadProgressConn(conn)
}

func (r *Replica) loadProgressConn(conn *client.Conn) (*applier.Executed, error) {
	cfg := r.cfg
	progress := r.progress()
	if err := progress.Ensure(conn); err != nil {
		return nil, err
	}
	ex, err := progress.Load(conn, cfg.Source.Flavor)
	if err != nil {
		return nil, err
	}
	if ex.Set.Empty() && len(ex.Pending) == 0 {
		switch {
		case cfg.StartGTID != "":
			start, _ := gtid.ParseSet(cfg.Source.Flavor, cfg.StartGTID)
			for _, s := range start.Streams() {
				last, _ := start.Last(s)
				if err := progress.SetLowWater(conn, s, last, start.ServerID(s), "", 0); err != nil {
					return nil, err
				}
			}
		case cfg.StartFile != "":
			seq := coordinator.AnonymousSeq(cfg.StartFile, cfg.StartPos)
			if err := progress.SetLowWater(conn, coordinator.AnonymousStream, seq, 0, cfg.StartFile, uint64(cfg.StartPos)); err != nil {
				return nil, err
			}
		default:
			return ex, nil
		}
		return progress.Load(conn, cfg.Source.Flavor)
	}
	return ex, nil
}

// startPosition computes where the receiver resumes: after the relay log's
// last complete transaction and after everything the target holds.
func (r *Replica) startPosition(st relaylog.State, executed *gtid.Set, ex *applier.Executed, useGTID bool) (replica.StartPosition, error) {
	if useGTID {
		union := executed.Clone()
		if st.Retrieved != nil {
			union.Union(st.Retrieved)
		}
		set := gtid.NewSet(union.Flavor)
		for _, s := range union.Streams() {
			if s == coordinator.AnonymousStream {
				continue
			}
			ivs := union.Intervals(s)
			if union.Flavor == gtid.MariaDB {
				// A MariaDB position is one GTID per domain: resume after the
				// first interval of what is applied or retrieved, so a hole (a
				// transaction neither applied nor in the relay log, which an
				// out-of-order applier and a lost relay log tail can leave) is
				// fetched again. What is fetched twice is skipped by the applier.
				ivs = ivs[:1]
			}
			for _, iv := range ivs {
				set.AddInterval(s, iv)
			}
			set.SetServerID(s, union.ServerID(s))
			if union.Flavor == gtid.MariaDB && len(union.Intervals(s)) > 1 {
				// the server id of the GTID we resume after is not recorded; look it up in the relay log's or progress record
				set.SetServerID(s, serverIDOf(st, ex, s, ivs[0].End, union.ServerID(s)))
			}
		}
		return replica.StartPosition{GTIDs: set}, nil
	}
	if !st.Empty && st.SourceFile != "" {
		return replica.StartPosition{File: st.SourceFile, Pos: st.SourcePos}, nil
	}
	if f := ex.LastFile[coordinator.AnonymousStream]; f != "" {
		return replica.StartPosition{File: f, Pos: uint32(ex.LastPos[coordinator.AnonymousStream])}, nil
	}
	return replica.StartPosition{}, nil
}

// serverIDOf returns the server id of a MariaDB GTID known only by domain and
// seq_no. With gtid_strict_mode the source's domain has one server id in
// practice; the server id of the highest GTID is the best guess otherwise.
func serverIDOf(st relaylog.State, ex *applier.Executed, stream string, seq uint64, def uint32) uint32 {
	if st.LastGTID.Stream == stream && st.LastGTID.Seq == seq {
		return st.LastGTID.ServerID
	}
	return def
}

// lockMonitor reads lock waits on the target for the coordinator's
// order-inversion deadlock detector, on a connection of its own.
type lockMonitor struct {
	target applier.TargetOptions
	mu     sync.Mutex
	conn   *client.Conn
}

func (m *lockMonitor) lockWaits(ctx context.Context) ([]coordinator.LockWait, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn == nil {
		c, err := applier.Dial(ctx, m.target)
		if err != nil {
			return nil, err
		}
		m.conn = c
	}
	r, err := m.conn.Execute(`SELECT rt.trx_mysql_thread_id, bt.trx_mysql_thread_id
FROM information_schema.INNODB_LOCK_WAITS w
JOIN information_schema.INNODB_TRX rt ON rt.trx_id = w.requesting_trx_id
JOIN information_schema.INNODB_TRX bt ON bt.trx_id = w.blocking_trx_id`)
	if err != nil {
		m.conn.Close()
		m.conn = nil
		return nil, fmt.Errorf("read lock waits: %w", err)
	}
	defer r.Close()
	out := make([]coordinator.LockWait, 0, len(r.Values))
	for i := range r.Values {
		a, _ := r.GetUint(i, 0)
		b, _ := r.GetUint(i, 1)
		out = append(out, coordinator.LockWait{Waiter: uint32(a), Holder: uint32(b)})
	}
	return out, nil
}

func (m *lockMonitor) interrupt(ctx context.Context, connID uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn == nil {
		c, err := applier.Dial(ctx, m.target)
		if err != nil {
			return err
		}
		m.conn = c
	}
	if _, err := m.conn.Execute(fmt.Sprintf("KILL QUERY %d", connID)); err != nil {
		return fmt.Errorf("KILL QUERY %d: %w", connID, err)
	}
	return nil
}

func (m *lockMonitor) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != nil {
		m.conn.Close()
		m.conn = nil
	}
}
