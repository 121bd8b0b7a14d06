package applier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtreplica/mtreplica/coordinator"
)

// SkipErrors is the replica_skip_errors policy: a transaction whose apply
// fails with one of the listed error codes is rolled back and applied again
// without its changes (its progress row only), so it counts as applied and is
// never fetched again. Each skip is logged and counted per code. It is opt-in:
// skipping hides a divergence between source and target.
//
// MySQL skips the failing event and goes on with the rest of the transaction;
// here the whole transaction is skipped, so the target never holds part of one.
// Codes are the target's server error codes (1062 duplicate entry, ...);
// divergence found by row counts (an UPDATE or DELETE that matched no row) has
// code 1032 (ER_KEY_NOT_FOUND), as on MySQL.
type SkipErrors struct {
	codes  map[uint16]bool
	log    *slog.Logger
	metric *prometheus.CounterVec

	mu     sync.Mutex
	counts map[uint16]uint64
}

// NewSkipErrors returns the policy for codes; reg (may be nil) receives the
// counter mtreplica_applier_skipped_errors_total{code}.
func NewSkipErrors(codes []uint16, log *slog.Logger, reg prometheus.Registerer) (*SkipErrors, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &SkipErrors{codes: map[uint16]bool{}, log: log, counts: map[uint16]uint64{},
		metric: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mtreplica", Subsystem: "applier",
			Name: "skipped_errors_total", Help: "Transactions skipped because their apply failed with an error code listed in replica_skip_errors."},
			[]string{"code"})}
	for _, c := range codes {
		if c == 0 {
			return nil, errors.New("replica_skip_errors: error code 0 is not a server error code")
		}
		s.codes[c] = true
	}
	if reg != nil {
		if err := reg.Register(s.metric); err != nil {
			return nil, fmt.Errorf("register skipped errors metric: %w", err)
		}
	}
	return s, nil
}

// Counts returns how many transactions were skipped, per error code.
func (s *SkipErrors) Counts() map[uint16]uint64 {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[uint16]uint64, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Wrap returns a worker that applies with w and skips what the policy lists.
// With no codes it returns w itself. The wrapper applies one transaction at a
// time (it is not a coordinator.GroupWorker): a skip then never takes other
// transactions of a group with it.
func (s *SkipErrors) Wrap(w coordinator.Worker) coordinator.Worker {
	if s == nil || len(s.codes) == 0 {
		return w
	}
	return &skippingWorker{Worker: w, s: s}
}

type skippingWorker struct {
	coordinator.Worker
	s *SkipErrors
}

func (k *skippingWorker) Apply(ctx context.Context, t *coordinator.Txn, gate coordinator.Gate) error {
	err := k.Worker.Apply(ctx, t, gate)
	if err == nil || errors.Is(err, coordinator.ErrAborted) || ctx.Err() != nil {
		return err
	}
	code := ErrorCode(err)
	if !k.s.codes[code] {
		return err
	}
	k.s.log.Warn("skipping transaction after an error listed in replica_skip_errors", "txn", t.ID(), "code", code, "err", err)
	empty := *t
	empty.Events = withoutChanges(t.Events)
	if err := k.Worker.Apply(ctx, &empty, gate); err != nil && !alreadyRecorded(err) {
		// alreadyRecorded: a row-count divergence is found from the answer to a
		// packet that may have carried the COMMIT too; the transaction is then
		// on the target, recorded, and there is nothing left to skip.
		return fmt.Errorf("record skipped transaction %s (after error %d): %w", t.ID(), code, err)
	}
	k.s.mu.Lock()
	k.s.counts[code]++
	k.s.mu.Unlock()
	k.s.metric.WithLabelValues(strconv.Itoa(int(code))).Inc()
	return nil
}

// withoutChanges keeps the events that frame a transaction (GTID, BEGIN,
// COMMIT, XID) and drops the rest.
func withoutChanges(evs []*replication.BinlogEvent) []*replication.BinlogEvent {
	out := make([]*replication.BinlogEvent, 0, 4)
	for _, ev := range evs {
		switch e := ev.Event.(type) {
		case *replication.QueryEvent:
			if !isControlQuery(e.Query) {
				continue
			}
		case *replication.GTIDEvent, *replication.GtidTaggedLogEvent, *replication.MariadbGTIDEvent, *replication.XIDEvent:
		default:
			continue
		}
		out = append(out, ev)
	}
	return out
}

// alreadyRecorded reports the error of a progress row that is already there.
func alreadyRecorded(err error) bool {
	var ae *ApplyError
	return errors.As(err, &ae) && ae.Statement == "record progress" && serverCode(err) == erDupEntry
}
