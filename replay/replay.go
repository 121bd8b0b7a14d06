package replay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/internal/gtid"
	"github.com/mtreplica/mtreplica/relaylog"
)

// Range selects the transactions to apply (see the package documentation).
// Zero values do not limit.
type Range struct {
	StartGTID, StopGTID         *gtid.Set
	StartPosition, StopPosition uint32
	StartTime, StopTime         time.Time
}

// Options configure a replay.
type Options struct {
	Files  []string
	Range  Range
	Target applier.TargetOptions
	// Workers, DependencyTracking: as in mtreplica.Config (defaults 16 and
	// "logical-clock+writeset").
	Workers            int
	DependencyTracking string
	// UnorderedCommits lets workers commit as soon as they are done instead
	// of in source order: faster on a durable target, and the end state is
	// the same, but until the replay completes the target may hold a state
	// the source never had. A replay that stops early is completed by
	// running it again (the progress table records exactly what was applied).
	UnorderedCommits bool
	// RowApply and GroupTransactions: as in mtreplica.Config ("binlog" sends
	// the row events in BINLOG statements, as mysqlbinlog output does).
	RowApply          string
	GroupTransactions int
	// Channel names the replay in the target's progress table (default "replay").
	Channel string
	// WorkDir holds the temporary relay log (default: a new directory in os.TempDir()).
	WorkDir string
	// KeepRelayLog leaves the relay log in WorkDir.
	KeepRelayLog bool
	Logger       *slog.Logger
}

// Stats describe a replay.
type Stats struct {
	Files        int
	Events       int64 // events read
	Bytes        int64 // bytes read
	Transactions int64 // transactions read
	Selected     int64 // transactions in range, appended to the relay log
	Applied      uint64
	Skipped      uint64 // already on the target
	Read, Apply  time.Duration
	Flavor       gtid.Flavor
}

// ErrNotBinlog reports a file that is not a binlog or relay log file.
var ErrNotBinlog = errors.New("not a binlog file")

// Run replays opts.Files into the target (see the package documentation).
func Run(ctx context.Context, opts Options) (Stats, error) {
	var st Stats
	if len(opts.Files) == 0 {
		return st, errors.New("replay: no files given")
	}
	if opts.Workers <= 0 {
		opts.Workers = 16
	}
	if opts.Channel == "" {
		opts.Channel = "replay"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dir := opts.WorkDir
	if dir == "" {
		d, err := os.MkdirTemp("", "mtreplica-replay-")
		if err != nil {
			return st, fmt.Errorf("replay: work directory: %w", err)
		}
		dir = d
		if !opts.KeepRelayLog {
			defer os.RemoveAll(dir)
		}
	}
	relayDir := filepath.Join(dir, "relay")
	if !opts.KeepRelayLog {
		defer os.RemoveAll(relayDir)
	}
	relay, err := relaylog.Open(relaylog.Options{Dir: relayDir, Sync: relaylog.SyncPolicy{Mode: relaylog.SyncNever},
		Logger: opts.Logger.With("component", "relaylog")})
	if err != nil {
		return st, fmt.Errorf("replay: open relay log in %s: %w", relayDir, err)
	}
	start := time.Now()
	err = Select(opts.Files, opts.Range, &st, relay.Append)
	if cerr := relay.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("replay: close relay log: %w", cerr)
	}
	st.Read = time.Since(start)
	if err != nil {
		return st, err
	}
	opts.Logger.Info("files read", "files", st.Files, "transactions", st.Transactions, "selected", st.Selected,
		"seconds", st.Read.Seconds())
	if st.Selected == 0 {
		return st, nil
	}
	start = time.Now()
	err = apply(ctx, opts, relayDir, &st)
	st.Apply = time.Since(start)
	return st, err
}

// apply runs a Replica without receiver on the relay log until st.Selected
// transactions are applied or skipped.
func apply(ctx context.Context, opts Options, relayDir string, st *Stats) error {
	cfg := mtreplica.Config{
		// The receiver never runs (NoReceiver); the source fields only pass validation.
		Source: mtreplica.SourceConfig{Flavor: st.Flavor, Host: "replay", User: "replay", AllowStatementFormat: true},
		Target: opts.Target, RelayDir: relayDir, Channel: opts.Channel,
		Workers: opts.Workers, DependencyTracking: opts.DependencyTracking, UnorderedCommits: opts.UnorderedCommits,
		RowApply: opts.RowApply, GroupTransactions: opts.GroupTransactions,
		NoReceiver: true, Logger: opts.Logger,
	}
	r, err := mtreplica.New(cfg)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			s := r.Status()
			st.Applied, st.Skipped = s.TransactionsApplied, s.TransactionsSkipped
			if err == nil {
				err = ctx.Err()
			}
			if err == nil {
				err = errors.New("the applier stopped")
			}
			return fmt.Errorf("replay: %w (%d of %d transactions applied)", err, st.Applied+st.Skipped, st.Selected)
		case <-tick.C:
		}
		s := r.Status()
		if s.LastSQLError != "" && s.ReplicaSQLRunning != "Yes" {
			cancel()
			<-done
			return fmt.Errorf("replay: applier stopped: %s", s.LastSQLError)
		}
		if int64(s.TransactionsApplied+s.TransactionsSkipped) >= st.Selected {
			st.Applied, st.Skipped = s.TransactionsApplied, s.TransactionsSkipped
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("replay: stopping the applier: %w", err)
			}
			return nil
		}
	}
}

// Select reads files in order and passes to sink, as a relay log takes them,
// the events of the transactions in rng: for each file a ROTATE naming it,
// its FORMAT_DESCRIPTION, its metadata events and the selected transactions.
// It fills st (Files, Events, Bytes, Transactions, Selected, Flavor).
func Select(files []string, rng Range, st *Stats, sink func(ev []byte) error) error {
	s := selector{rng: rng, st: st, sink: sink}
	for i, f := range files {
		s.first, s.last = i == 0, i == len(files)-1
		stop, err := s.file(f)
		if err != nil {
			return err
		}
		st.Files++
		if stop {
			break
		}
	}
	return nil
}

type selector struct {
	rng         Range
	st          *Stats
	sink        func([]byte) error
	first, last bool
	fr          binlogfmt.Framer
	include     bool // the open transaction is selected
}

// file reads one file; stop reports that a stop condition was reached.
func (s *selector) file(path string) (stop bool, err error) {
	fh, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("replay: %w", err)
	}
	defer fh.Close()
	r := bufio.NewReaderSize(fh, 1<<20)
	magic := make([]byte, len(binlogfmt.Magic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != string(binlogfmt.Magic) {
		return false, fmt.Errorf("replay: %s: %w (no binlog magic)", path, ErrNotBinlog)
	}
	name := filepath.Base(path)
	s.fr.Reset()
	s.include = false
	var off int64 = int64(len(binlogfmt.Magic))
	hdr := make([]byte, binlogfmt.HeaderLen)
	firstEvent := true
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			if err == io.EOF {
				return false, nil
			}
			return false, fmt.Errorf("replay: %s: event header at offset %d: truncated (%w)", path, off, err)
		}
		h, err := binlogfmt.ParseHeader(hdr)
		if err != nil {
			return false, fmt.Errorf("replay: %s: event at offset %d: %w", path, off, err)
		}
		if h.EventSize < binlogfmt.HeaderLen || h.EventSize > binlogfmt.MaxEventSize {
			return false, fmt.Errorf("replay: %s: event at offset %d: size %d", path, off, h.EventSize)
		}
		ev := make([]byte, h.EventSize)
		copy(ev, hdr)
		if _, err := io.ReadFull(r, ev[binlogfmt.HeaderLen:]); err != nil {
			return false, fmt.Errorf("replay: %s: %s at offset %d: truncated after %d of %d bytes (a file still being written?)",
				path, h.Type, off, binlogfmt.HeaderLen, h.EventSize)
		}
		s.st.Events++
		s.st.Bytes += int64(h.EventSize)
		evOff := off
		off += int64(h.EventSize)
		if firstEvent {
			firstEvent = false
			if h.Type != replication.FORMAT_DESCRIPTION_EVENT {
				return false, fmt.Errorf("replay: %s: %w: first event is %s, not FORMAT_DESCRIPTION", path, ErrNotBinlog, h.Type)
			}
			fd, err := binlogfmt.ParseFormatDescription(ev)
			if err != nil {
				return false, fmt.Errorf("replay: %s: format description: %w", path, err)
			}
			flavor := gtid.MySQL
			if fd.MariaDB() {
				flavor = gtid.MariaDB
			}
			if s.st.Flavor != 0 && s.st.Flavor != flavor {
				return false, fmt.Errorf("replay: %s is a %s binlog, earlier files are %s", path, flavor, s.st.Flavor)
			}
			s.st.Flavor = flavor
			// Name the file first, as a source's dump thread does.
			if err := s.sink(binlogfmt.EncodeRotate(h.ServerID, uint64(len(binlogfmt.Magic)), name, fd.Checksum)); err != nil {
				return false, fmt.Errorf("replay: %s: %w", path, err)
			}
			s.fr.SetSource(name, uint32(len(binlogfmt.Magic)))
		}
		f, err := s.fr.Next(ev)
		if err != nil {
			return false, fmt.Errorf("replay: %s: event %s at offset %d: %w", path, h.Type, evOff, err)
		}
		if f.Start {
			s.st.Transactions++
			if s.stopAt(h, uint32(evOff)) {
				return true, nil
			}
			s.include = s.selected(h, uint32(evOff))
			if s.include {
				s.st.Selected++
			}
		}
		if f.Meta || (s.include && (f.Start || s.fr.InTxn() || f.End)) {
			if err := s.sink(ev); err != nil {
				return false, fmt.Errorf("replay: %s: event %s at offset %d: %w", path, h.Type, evOff, err)
			}
		}
		if f.End {
			s.include = false
		}
	}
}

// stopAt reports a stop condition at the start of a transaction.
func (s *selector) stopAt(h binlogfmt.Header, pos uint32) bool {
	if s.last && s.rng.StopPosition > 0 && pos >= s.rng.StopPosition {
		return true
	}
	if !s.rng.StopTime.IsZero() && !time.Unix(int64(h.Timestamp), 0).Before(s.rng.StopTime) {
		return true
	}
	return false
}

// selected reports whether the transaction starting now is in range.
func (s *selector) selected(h binlogfmt.Header, pos uint32) bool {
	if s.first && pos < s.rng.StartPosition {
		return false
	}
	if !s.rng.StartTime.IsZero() && time.Unix(int64(h.Timestamp), 0).Before(s.rng.StartTime) {
		return false
	}
	g := s.fr.Txn().GTID
	if g.IsZero() {
		return true
	}
	if s.rng.StartGTID != nil && s.rng.StartGTID.Contains(g) {
		return false
	}
	if s.rng.StopGTID != nil {
		if last, ok := s.rng.StopGTID.Last(g.Stream); ok && g.Seq > last {
			return false
		}
	}
	return true
}
