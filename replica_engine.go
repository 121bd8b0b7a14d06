package mtreplica

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

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
type Replica struct {
	cfg Config

	mu       sync.Mutex
	relay    *relaylog.Log
	receiver *replica.Client
	coord    *coordinator.Coordinator
	executed *gtid.Set // what the target held at start, plus what was applied since
	running  bool
	lastErr  string
	useGTID  bool
}

// New validates cfg and returns a Replica; Run starts it.
func New(cfg Config) (*Replica, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	return &Replica{cfg: cfg}, nil
}

// Run replicates until ctx is cancelled (returning nil) or an error stops the
// receiver or the applier (returning it). Shutdown order: the receiver and the
// applier stop, the worker rolls back an unfinished transaction, the relay log
// is synced and closed.
func (r *Replica) Run(ctx context.Context) (err error) {
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

	progress := applier.Progress{Schema: cfg.ProgressSchema, Channel: cfg.Channel}
	ex, err := r.loadProgress(ctx, progress)
	if err != nil {
		return err
	}

	recv, err := replica.New(replica.Options{
		Flavor: cfg.Source.Flavor, Host: cfg.Source.Host, Port: cfg.Source.Port,
		User: cfg.Source.User, Password: cfg.Source.Password, ServerID: cfg.Source.ServerID,
		TLS: cfg.Source.TLS, HeartbeatPeriod: cfg.Source.HeartbeatPeriod, ConnectRetry: cfg.Source.ConnectRetry,
		MaxReconnects: cfg.Source.RetryCount, ReadTimeout: cfg.Source.NetTimeout,
		AllowStatementFormat: cfg.Source.AllowStatementFormat,
		Logger:               log.With("component", "receiver"), Registerer: cfg.Registerer,
	}, relay)
	if err != nil {
		return fmt.Errorf("receiver: %w", err)
	}
	useGTID := cfg.Source.Flavor == gtid.MariaDB
	if !cfg.NoReceiver {
		info, err := recv.Preflight(ctx)
		if err != nil {
			return err
		}
		useGTID = useGTID || info.GTIDMode == "ON"
	}

	reader, err := relay.NewReader(relaylog.Position{})
	if err != nil {
		return fmt.Errorf("read relay log: %w", err)
	}
	defer reader.Close()

	executed := ex.Set.Clone()
	schemas := tableschema.NewCache()
	pending := applier.NewPendingSet(ex.Pending)
	workers := make([]coordinator.Worker, cfg.Workers)
	for i := range workers {
		w := applier.NewWorker(applier.Options{
			Target: cfg.Target, Progress: progress, Idempotent: cfg.Idempotent, Pending: pending, Schemas: schemas,
			Name: fmt.Sprintf("worker-%d", i+1), Logger: log.With("component", "applier", "worker", i+1),
		})
		defer w.Close()
		workers[i] = cfg.skip.Wrap(w) // itself unless replica_skip_errors lists codes
	}
	mode, _ := deptrack.ParseMode(cfg.DependencyTracking)
	deps := newDependencies(ctx, mode, cfg.Target, schemas)
	defer deps.close()
	monitor := &lockMonitor{target: cfg.Target}
	defer monitor.close()
	lastPurge := time.Now()
	coord, err := coordinator.New(reader, workers, coordinator.Options{
		QueueBytes:          cfg.QueueBytes,
		PreserveCommitOrder: !cfg.UnorderedCommits,
		LockWaits:           monitor.lockWaits,
		Interrupt:           monitor.interrupt,
		Filter:              cfg.txnFilter(),
		Dependency:          deps.dep,
		Skip: func(t *coordinator.Txn) bool {
			stream, seq := t.ProgressKey()
			r.mu.Lock()
			defer r.mu.Unlock()
			return executed.Contains(gtid.GTID{Stream: stream, Seq: seq})
		},
		OnApplied: func(t *coordinator.Txn, low relaylog.Position) {
			stream, seq := t.ProgressKey()
			r.mu.Lock()
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
		Logger: log.With("component", "coordinator"), Registerer: cfg.Registerer,
	})
	if err != nil {
		return err
	}

	r.mu.Lock()
	r.relay, r.receiver, r.coord, r.running, r.useGTID, r.lastErr = relay, recv, coord, true, useGTID, ""
	r.executed = executed
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running = false
		if err != nil {
			r.lastErr = err.Error()
		}
		r.mu.Unlock()
	}()

	start := func() (replica.StartPosition, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.startPosition(relay.State(), executed, ex, useGTID)
	}
	log.Info("replica starting", "source", fmt.Sprintf("%s:%d", cfg.Source.Host, cfg.Source.Port),
		"target", cfg.Target.Addr, "executed", executed.String(), "relay_dir", cfg.RelayDir)
	g, gctx := errgroup.WithContext(ctx)
	if !cfg.NoReceiver {
		g.Go(func() error {
			if err := recv.Run(gctx, start); err != nil {
				return fmt.Errorf("receiver: %w", err)
			}
			return nil
		})
	}
	if !cfg.NoApplier {
		g.Go(func() error {
			if err := coord.Run(gctx); err != nil {
				return fmt.Errorf("applier: %w", err)
			}
			return nil
		})
	}
	err = g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		err = nil
	}
	if serr := relay.Sync(); serr != nil && err == nil {
		err = fmt.Errorf("sync relay log: %w", serr)
	}
	log.Info("replica stopped", "err", err)
	return err
}

func (r *Replica) loadProgress(ctx context.Context, progress applier.Progress) (*applier.Executed, error) {
	cfg := r.cfg
	conn, err := applier.Dial(ctx, cfg.Target)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
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
