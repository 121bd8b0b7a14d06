package mariadbtest

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
)

// Durability selects how often the server syncs its redo log and binlog.
type Durability int

const (
	// Relaxed sets innodb_flush_log_at_trx_commit=2 and sync_binlog=0: a crash of the machine may lose the last
	// second of commits, a crash of mariadbd alone loses nothing. The default, for tests.
	Relaxed Durability = iota
	// Strict sets innodb_flush_log_at_trx_commit=1 and sync_binlog=1: every commit is fsynced.
	Strict
)

func (d Durability) String() string {
	switch d {
	case Relaxed:
		return "relaxed"
	case Strict:
		return "strict"
	default:
		return "Durability(" + strconv.Itoa(int(d)) + ")"
	}
}

// Defaults applied by Options.withDefaults.
const (
	// DefaultBufferPool is innodb_buffer_pool_size when Options.BufferPool is empty.
	DefaultBufferPool = "64M"
	// DefaultRedoLogSize is innodb_log_file_size when Options.RedoLogSize is empty. The template datadir is
	// installed with this size, so servers that keep it start without resizing the redo log.
	DefaultRedoLogSize = "48M"
	// DefaultMaxConnections is max_connections.
	DefaultMaxConnections = 300
)

// Options configures one server. The zero value is a binlogging source with a unique server_id, gtid_domain_id 0,
// relaxed durability and a 64M buffer pool.
type Options struct {
	ServerID        uint32                           // 0 = allocate a unique one (see allocServerID)
	DomainID        uint32                           // gtid_domain_id
	Durability      Durability                       // Relaxed (default) or Strict
	NoBinlog        bool                             // start without log_bin (a target that keeps no binlog)
	BinlogFormat    string                           // binlog_format: "" = ROW, or STATEMENT, MIXED
	LogSlaveUpdates bool                             // log_slave_updates: replicated transactions are written to this server's binlog too
	BufferPool      string                           // innodb_buffer_pool_size, e.g. "64M"; "" = DefaultBufferPool
	RedoLogSize     string                           // innodb_log_file_size, e.g. "1G" for benchmarks; "" = DefaultRedoLogSize
	ExtraArgs       []string                         // passed to mariadbd as-is after the generated ones (so they win), e.g. "--binlog-format=MIXED"
	KeepDir         bool                             // leave the directory in place after Stop (never swept as stale)
	Logf            func(format string, args ...any) // optional progress log; Start uses t.Logf when nil
}

func (o Options) withDefaults() Options {
	if o.ServerID == 0 {
		o.ServerID = allocServerID()
	}
	if o.BufferPool == "" {
		o.BufferPool = DefaultBufferPool
	}
	if o.RedoLogSize == "" {
		o.RedoLogSize = DefaultRedoLogSize
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	o.ExtraArgs = append([]string(nil), o.ExtraArgs...)
	return o
}

func (o Options) binlogFormat() string {
	if o.BinlogFormat == "" {
		return "ROW"
	}
	return o.BinlogFormat
}

func (o Options) validate() error {
	switch o.binlogFormat() {
	case "ROW", "STATEMENT", "MIXED":
	default:
		return fmt.Errorf("invalid binlog format %q: use ROW, STATEMENT or MIXED", o.BinlogFormat)
	}
	switch o.Durability {
	case Relaxed, Strict:
	default:
		return fmt.Errorf("invalid durability %d: use Relaxed or Strict", int(o.Durability))
	}
	for _, a := range o.ExtraArgs {
		if len(a) < 2 || a[0] != '-' {
			return fmt.Errorf("extra argument %q: mariadbd options start with --", a)
		}
	}
	return nil
}

// serverIDs hands out server ids within this process. The base mixes in the pid so that test binaries running at
// the same time (go test ./... runs packages in parallel) do not hand out the same ids: ids are
// (pid mod 2^21) << 10 | counter, so a process may start 1023 servers before its ids can wrap into another's range.
var serverIDs atomic.Uint32

func allocServerID() uint32 {
	n := serverIDs.Add(1) % 1024
	if n == 0 {
		n = serverIDs.Add(1) % 1024
	}
	return uint32(os.Getpid()%(1<<21))<<10 | n
}

// mariadbdArgs returns the command line for a server laid out in dirs, listening on port.
func (o Options) mariadbdArgs(l layout, port int) []string {
	args := []string{
		"--no-defaults", // must come first: /etc/mysql must not leak in
		"--datadir=" + l.dataDir(),
		"--tmpdir=" + l.tmpDir(),
		"--socket=" + l.socket(),
		"--pid-file=" + l.pidFile(),
		"--log-error=" + l.errorLog(),
		"--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		"--skip-name-resolve",
		"--server-id=" + strconv.FormatUint(uint64(o.ServerID), 10),
		"--gtid-domain-id=" + strconv.FormatUint(uint64(o.DomainID), 10),
		"--gtid-strict-mode=ON",
		"--binlog-format=" + o.binlogFormat(),
		"--binlog-row-image=FULL",
		"--binlog-row-metadata=FULL",
		"--relay-log=relay-bin",
		"--innodb-buffer-pool-size=" + o.BufferPool,
		"--innodb-log-file-size=" + o.RedoLogSize,
		"--innodb-buffer-pool-load-at-startup=OFF",
		"--innodb-buffer-pool-dump-at-shutdown=OFF",
		"--max-connections=" + strconv.Itoa(DefaultMaxConnections),
		"--max-allowed-packet=1G",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_general_ci",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	if o.NoBinlog {
		args = append(args, "--skip-log-bin")
	} else {
		args = append(args, "--log-bin="+binlogBasename, "--log-bin-index="+binlogBasename+".index")
	}
	if o.LogSlaveUpdates {
		args = append(args, "--log-slave-updates=ON")
	}
	switch o.Durability {
	case Strict:
		args = append(args, "--innodb-flush-log-at-trx-commit=1", "--sync-binlog=1")
	default:
		args = append(args, "--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0")
	}
	return append(args, o.ExtraArgs...)
}

// binlogBasename is the binlog's base name; relative, so the files live in the datadir.
const binlogBasename = "mysql-bin"
