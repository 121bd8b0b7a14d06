package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// RelayLog is where received events go (implemented by *relaylog.Log).
type RelayLog interface {
	// Append stores one whole raw event (header, body and checksum, exactly as
	// the source sent it). The relay log frames transactions itself. The slice
	// is not reused by the receiver: the relay log may keep it.
	Append(ev []byte) error
	// DiscardPartial drops the events of a transaction whose end was not
	// received (the connection was lost in the middle of it). The receiver calls
	// it before every connection, so the start position computed next is just
	// after the last complete transaction.
	DiscardPartial() error
}

// Client is the receiver: it streams the source's binlog into a RelayLog and
// reconnects when the connection is lost. Status and Preflight are safe for
// concurrent use; Run must not be called twice at the same time.
type Client struct {
	opts  Options
	relay RelayLog
	log   *slog.Logger
	m     *metrics

	running atomic.Bool

	mu     sync.Mutex
	st     Status
	warned map[string]bool // warnings already logged
	// retentionWarned: the retention warning is showing (logged once per episode)
	retentionWarned bool

	// test hooks
	now    func() time.Time
	jitter func() float64 // in [0, 1)
}

// New validates opts and returns a Client that appends to relay.
func New(opts Options, relay RelayLog) (*Client, error) {
	if relay == nil {
		return nil, errors.New("replica: relay log is nil")
	}
	opts = opts.withDefaults(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
	if err := opts.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("replica: register metrics: %w", err)
	}
	c := &Client{
		opts:   opts,
		relay:  relay,
		log:    opts.Logger.With("component", "receiver", "source", net.JoinHostPort(opts.Host, strconv.Itoa(int(opts.Port)))),
		m:      m,
		warned: map[string]bool{},
		now:    time.Now,
		jitter: rand.Float64,
	}
	c.st = Status{
		IORunning:        IONo,
		SourceHost:       opts.Host,
		SourcePort:       opts.Port,
		SourceUser:       opts.User,
		ConnectRetry:     opts.ConnectRetry,
		SourceRetryCount: opts.MaxReconnects,
	}
	return c, nil
}

// Options returns the options in effect (defaults filled in, e.g. the chosen ServerID).
func (c *Client) Options() Options { return c.opts }

// Run connects, streams into the relay log and reconnects on errors until ctx
// is done (it returns nil then) or a permanent error: a *PreflightError, or a
// *FatalError (authentication, privileges, TLS, a purged binlog, a fatal source
// error, MaxReconnects exhausted), or an error of the relay log or of start
// (matching ErrRelayLog or ErrStart).
//
// Before each connection it calls relay.DiscardPartial and then start, which
// returns where to resume: just after the last complete transaction in the
// relay log (or the target's executed set when the relay log is empty).
func (c *Client) Run(ctx context.Context, start func() (StartPosition, error)) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer c.running.Store(false)
	c.mu.Lock()
	c.st.LastIOErrno, c.st.LastIOError, c.st.LastIOErrorTimestamp = 0, "", time.Time{}
	c.mu.Unlock()
	c.setState(IOConnecting)
	defer c.setState(IONo)

	failures := 0 // consecutive connections that made no progress
	for {
		if ctx.Err() != nil {
			return nil
		}
		connected, progressed, err := c.session(ctx, start)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("binlog stream ended")
		}
		if !connected { // session records the end of a stream itself
			c.setState(IOConnecting)
			c.recordError(err, false)
		}
		if perm := classify(err); perm != nil {
			c.log.Error("receiver stopped", "error", perm)
			return perm
		}
		if progressed {
			failures = 0
		}
		failures++
		if c.opts.MaxReconnects > 0 && failures > c.opts.MaxReconnects {
			perm := &FatalError{Kind: ErrTooManyReconnects, Err: err,
				Hint: fmt.Sprintf("gave up after %d attempts; raise MaxReconnects (0 = forever)", failures)}
			c.log.Error("receiver stopped", "error", perm)
			return perm
		}
		c.checkRetention()
		d := backoff(c.opts.ConnectRetry, c.opts.MaxConnectRetry, failures, c.jitter())
		c.log.Warn("source connection failed; reconnecting", "error", err.Error(), "attempt", failures, "delay", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		c.mu.Lock()
		c.st.Reconnects++
		c.mu.Unlock()
		c.m.reconnects.Inc()
	}
}

// session runs one connection: discard a partial transaction, ask where to
// start, connect (running the preflight on the replication connection itself),
// and stream until an error or ctx is done. connected says whether the dump
// started; progressed whether it delivered more than the opening metadata
// events (a transaction's event or a heartbeat).
func (c *Client) session(ctx context.Context, start func() (StartPosition, error)) (connected, progressed bool, err error) {
	if err := c.relay.DiscardPartial(); err != nil {
		return false, false, relayError("discard partial transaction", err)
	}
	pos, err := start()
	if err != nil {
		return false, false, fmt.Errorf("%w: %w", ErrStart, err)
	}
	gset, err := c.dumpGTIDSet(pos)
	if err != nil {
		return false, false, err
	}
	c.mu.Lock()
	c.st.StartPosition = pos.String()
	if pos.GTIDs == nil {
		c.st.SourceLogFile, c.st.ReadSourceLogPos = pos.File, max(pos.Pos, 4)
	}
	c.mu.Unlock()

	h := &streamHandler{c: c}
	var info *SourceInfo
	syncer := replication.NewBinlogSyncer(c.syncerConfig(h, func(conn *client.Conn) error {
		var err error
		info, err = c.preflightConn(conn, pos.GTIDs != nil)
		return err
	}))
	defer syncer.Close()

	c.log.Info("connecting to source", "start", pos.String(), "server_id", c.opts.ServerID)
	var streamer *replication.BinlogStreamer
	err = guard(func() (err error) {
		if gset != nil {
			streamer, err = syncer.StartSyncGTID(gset)
		} else {
			streamer, err = syncer.StartSync(mysql.Position{Name: pos.File, Pos: max(pos.Pos, 4)})
		}
		return err
	})
	if err != nil {
		return false, false, fmt.Errorf("start binlog dump from %s: %w", pos, err)
	}
	c.setConnected(info)
	c.log.Info("streaming from source", "start", pos.String(), "source_version", info.Version)
	_, err = streamer.GetEvent(ctx) // events go to h; only the end of the stream comes here
	if ctx.Err() == nil {
		// Record before the deferred Close, which may wait up to ReadTimeout on a
		// source that stopped answering.
		if err == nil {
			err = errors.New("binlog stream ended")
		}
		c.setState(IOConnecting)
		c.recordError(err, true)
	}
	return true, h.progress.Load(), err
}

// guard runs fn, turning a panic of go-mysql's client into an error: its
// handshake panics on some malformed server replies (a caching_sha2_password
// public key that is not PEM), which a source or a man in the middle could send.
func guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("go-mysql panicked: %v", r)
		}
	}()
	return fn()
}

// dumpGTIDSet converts a GTID start position to go-mysql's type (nil for file/position).
func (c *Client) dumpGTIDSet(pos StartPosition) (mysql.GTIDSet, error) {
	if pos.GTIDs == nil {
		return nil, nil
	}
	if pos.GTIDs.Flavor != c.opts.Flavor {
		return nil, &PreflightError{Check: CheckStart, Msg: fmt.Sprintf(
			"the start position is a %s GTID set but Flavor is %s: start from a %s GTID set",
			pos.GTIDs.Flavor, c.opts.Flavor, c.opts.Flavor)}
	}
	s, err := toGoMySQLSet(pos.GTIDs)
	if err != nil {
		return nil, &PreflightError{Check: CheckStart, Msg: err.Error()}
	}
	return s, nil
}

// toGoMySQLSet converts a gtid.Set. MariaDB: the last GTID of each domain with
// the server id recorded for it (a MariaDB GTID position; holes are not
// expressible). MySQL: every interval.
func toGoMySQLSet(s *gtid.Set) (mysql.GTIDSet, error) {
	switch s.Flavor {
	case gtid.MariaDB:
		ms := &mysql.MariadbGTIDSet{Sets: map[uint32]*mysql.MariadbGTID{}}
		for _, stream := range s.Streams() {
			last, _ := s.Last(stream)
			d, err := strconv.ParseUint(stream, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("GTID set %s: domain %q is not a number", s, stream)
			}
			ms.Sets[uint32(d)] = &mysql.MariadbGTID{DomainID: uint32(d), ServerID: s.ServerID(stream), SequenceNumber: last}
		}
		return ms, nil
	case gtid.MySQL:
		ms, err := mysql.ParseMysqlGTIDSet(s.IntervalString())
		if err != nil {
			return nil, fmt.Errorf("GTID set %s: %w", s.IntervalString(), err)
		}
		return ms, nil
	}
	return nil, fmt.Errorf("GTID set of unknown flavor %d", s.Flavor)
}

// syncerConfig builds the go-mysql configuration for one connection.
func (c *Client) syncerConfig(h *streamHandler, onConnect func(*client.Conn) error) replication.BinlogSyncerConfig {
	flavor := mysql.MySQLFlavor
	var dumpFlags uint16
	if c.opts.Flavor == gtid.MariaDB {
		flavor = mysql.MariaDBFlavor
		// As MariaDB's own replica does (replicate_annotate_row_events): the relay
		// log keeps the statement text, and positions stay exact on 11.4+.
		dumpFlags = replication.BINLOG_SEND_ANNOTATE_ROWS_EVENT
	}
	d := &net.Dialer{Timeout: connectTimeout}
	return replication.BinlogSyncerConfig{
		ServerID:  c.opts.ServerID,
		Flavor:    flavor,
		Host:      c.opts.Host,
		Port:      c.opts.Port,
		User:      c.opts.User,
		Password:  c.opts.Password,
		TLSConfig: c.opts.TLS,
		Dialer:    d.DialContext,
		Option:    onConnect,
		Logger:    slog.New(goMySQLHandler{c.log.Handler()}),

		// Raw mode: only the format description and ROTATE are decoded (the parser
		// needs the first for checksums, Status the second); RawData is intact.
		RawModeEnabled:          true,
		RowsEventDecodeFunc:     func(*replication.RowsEvent, []byte) error { return nil },
		TimestampStringLocation: time.UTC,
		UseDecimal:              true,
		VerifyChecksum:          true,
		DiscardGTIDSet:          true,
		DumpCommandFlag:         dumpFlags,

		HeartbeatPeriod: c.opts.HeartbeatPeriod,
		ReadTimeout:     c.opts.ReadTimeout,
		// go-mysql's own retry resumes mid-transaction in GTID mode; Run reconnects.
		DisableRetrySync: true,
		// Events are handed to the relay log on go-mysql's reading goroutine, one
		// at a time: no unbounded buffer between the socket and the relay log.
		SynchronousEventHandler: h,
	}
}

// streamHandler receives every event of one connection on go-mysql's reading goroutine.
//
// It passes every event to the relay log as the source sent it, except:
//   - heartbeats, which only update Status;
//   - the artificial ROTATE that opens every dump: the source sends it before the
//     format description and without a checksum (we announce ourselves with
//     @master_binlog_checksum='NONE', as go-mysql does), while every later event,
//     later artificial ROTATEs included, carries one. It is held until the format
//     description arrives and, when that says CRC32, given a checksum, so the
//     relay log receives a uniform stream (as MySQL's receiver does).
type streamHandler struct {
	c        *Client
	progress atomic.Bool              // a heartbeat or an event beyond the opening metadata arrived
	sawFD    bool                     // a format description arrived on this connection
	pending  *replication.BinlogEvent // the opening artificial ROTATE, until the format description
}

func (h *streamHandler) HandleEvent(e *replication.BinlogEvent) error {
	now := h.c.now()
	switch e.Header.EventType {
	case replication.HEARTBEAT_EVENT, replication.HEARTBEAT_LOG_EVENT_V2:
		h.progress.Store(true)
		h.c.onHeartbeat(now)
		return nil
	case replication.ROTATE_EVENT:
		if !h.sawFD && h.pending == nil && e.Header.LogPos == 0 {
			h.pending = e
			return nil
		}
	case replication.FORMAT_DESCRIPTION_EVENT:
		h.sawFD = true
		if p := h.pending; p != nil {
			h.pending = nil
			if fd, ok := e.Event.(*replication.FormatDescriptionEvent); ok &&
				fd.ChecksumAlgorithm == replication.BINLOG_CHECKSUM_ALG_CRC32 &&
				binlogfmt.VerifyChecksum(p.RawData) != nil {
				p.RawData = withChecksum(p.RawData)
			}
			if err := h.append(p, now); err != nil {
				return err
			}
		}
	}
	if p := h.pending; p != nil { // not followed by a format description: pass it on as it came
		h.pending = nil
		if err := h.append(p, now); err != nil {
			return err
		}
	}
	return h.append(e, now)
}

func (h *streamHandler) append(e *replication.BinlogEvent, now time.Time) error {
	if err := h.c.relay.Append(e.RawData); err != nil {
		return relayError("append", err)
	}
	switch e.Header.EventType {
	case replication.ROTATE_EVENT, replication.FORMAT_DESCRIPTION_EVENT, replication.PREVIOUS_GTIDS_EVENT,
		replication.MARIADB_GTID_LIST_EVENT, replication.MARIADB_BINLOG_CHECKPOINT_EVENT:
	default:
		h.progress.Store(true)
	}
	h.c.onEvent(e, now)
	return nil
}

// withChecksum returns a copy of a raw event without checksum, with event_size
// grown by 4 and a CRC32 appended.
func withChecksum(ev []byte) []byte {
	out := make([]byte, len(ev)+binlogfmt.ChecksumLen)
	copy(out, ev)
	binary.LittleEndian.PutUint32(out[9:], uint32(len(out))) // event_size
	binlogfmt.FixChecksum(out)
	return out
}

// goMySQLHandler logs go-mysql's own messages at debug level (the receiver logs
// what matters) and drops the one that prints the whole configuration, which
// holds the TLS config and key material.
type goMySQLHandler struct{ h slog.Handler }

func (g goMySQLHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return g.h.Enabled(ctx, slog.LevelDebug)
}

func (g goMySQLHandler) Handle(ctx context.Context, r slog.Record) error {
	drop := false
	r.Attrs(func(a slog.Attr) bool {
		drop = a.Key == "config"
		return !drop
	})
	if drop {
		return nil
	}
	r2 := slog.NewRecord(r.Time, slog.LevelDebug, "go-mysql: "+r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool { r2.AddAttrs(a); return true })
	return g.h.Handle(ctx, r2)
}

func (g goMySQLHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return goMySQLHandler{g.h.WithAttrs(as)}
}

func (g goMySQLHandler) WithGroup(name string) slog.Handler {
	return goMySQLHandler{g.h.WithGroup(name)}
}
