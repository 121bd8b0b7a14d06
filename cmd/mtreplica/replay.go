package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/internal/dsn"
	"github.com/mtreplica/mtreplica/internal/gtid"
	"github.com/mtreplica/mtreplica/replay"
)

// cmdReplay: mtreplica replay [options] FILE...
func cmdReplay(args []string) error {
	opts, verbose, err := parseReplay(args, flag.ExitOnError)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := replay.Run(ctx, opts)
	fmt.Fprintf(os.Stderr, "replay: %d files, %d transactions read, %d in range: %d applied, %d already on the target; read %.2fs, apply %.2fs",
		st.Files, st.Transactions, st.Selected, st.Applied, st.Skipped, st.Read.Seconds(), st.Apply.Seconds())
	if st.Apply > 0 {
		fmt.Fprintf(os.Stderr, " (%.0f txn/s)", float64(st.Applied)/st.Apply.Seconds())
	}
	fmt.Fprintln(os.Stderr)
	return err
}

// parseReplay parses replay's command line (options before or after the files).
func parseReplay(args []string, onError flag.ErrorHandling) (opts replay.Options, verbose bool, err error) {
	fs := flag.NewFlagSet("replay", onError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mtreplica replay --target DSN [options] FILE...\n\n"+
			"Applies binlog or relay log files to the target with parallel workers (point-in-time recovery),\n"+
			"like mysqlbinlog FILE... | mysql. The target password comes from --target-password-file or\n"+
			"$MTREPLICA_TARGET_PASSWORD. Applied transactions are recorded in the target's progress table\n"+
			"(channel --channel): replaying the same files again applies nothing twice.\n\n")
		fs.PrintDefaults()
	}
	var (
		target, pwFile, tracking, channel, workDir string
		rowApply                                   string
		group                                      int
		startGTID, stopGTID, startTime, stopTime   string
		startPos, stopPos                          uint
		workers                                    int
		keep, unordered                            bool
	)
	fs.StringVar(&target, "target", "", "the target as a DSN: user@tcp(host:port)/ or mysql://user@host:port/")
	fs.StringVar(&pwFile, "target-password-file", "", "file holding the target password (or set $MTREPLICA_TARGET_PASSWORD)")
	fs.IntVar(&workers, "workers", 16, "parallel workers, each with its own target connection")
	fs.StringVar(&tracking, "dependency-tracking", "logical-clock+writeset", "commit-order, logical-clock, writeset, database, or a combination joined by +")
	fs.StringVar(&rowApply, "row-apply", "binlog", "how row events are applied: binlog (BINLOG statements applied natively, as mysqlbinlog output is: MariaDB files, the same table layout, BINLOG REPLAY privilege) or sql (statements, columns matched by name)")
	fs.IntVar(&group, "group-transactions", 0, "at most this many consecutive transactions per target transaction (0: the engine's default; 1: none)")
	fs.StringVar(&channel, "channel", "replay", "name of the replay in the target's progress table")
	fs.StringVar(&startGTID, "start-gtid", "", "GTID set already on the target: its transactions are skipped (exclusive)")
	fs.StringVar(&stopGTID, "stop-gtid", "", "last GTIDs to apply (inclusive); later transactions of their streams are not applied")
	fs.UintVar(&startPos, "start-position", 0, "skip transactions starting before this position of the first file")
	fs.UintVar(&stopPos, "stop-position", 0, "stop at the first transaction of the last file starting at or after this position")
	fs.StringVar(&startTime, "start-datetime", "", "skip transactions older than this local time (YYYY-MM-DD hh:mm:ss)")
	fs.StringVar(&stopTime, "stop-datetime", "", "stop at the first transaction at or after this local time")
	fs.StringVar(&workDir, "work-dir", "", "directory for the temporary relay log (default: under $TMPDIR)")
	fs.BoolVar(&unordered, "unordered-commits", false, "commit as soon as done, not in source order (faster; the target is consistent only once the replay completes)")
	fs.BoolVar(&keep, "keep-relay-log", false, "keep the relay log in --work-dir")
	fs.BoolVar(&verbose, "verbose", false, "log progress")
	if err := refusePasswordFlags(args); err != nil {
		return opts, false, err
	}
	// Options may come before or after the files.
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return opts, false, err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	var errs []error
	if len(files) == 0 {
		errs = append(errs, errors.New("no binlog files given"))
	}
	opts = replay.Options{Files: files, Workers: workers, DependencyTracking: tracking, Channel: channel,
		WorkDir: workDir, KeepRelayLog: keep, UnorderedCommits: unordered,
		RowApply: rowApply, GroupTransactions: group}
	if keep && workDir == "" {
		errs = append(errs, errors.New("--keep-relay-log needs --work-dir"))
	}
	if target == "" {
		errs = append(errs, errors.New("--target is required"))
	} else if d, err := dsn.Parse(target); err != nil {
		errs = append(errs, err)
	} else {
		if len(d.Params) > 0 {
			errs = append(errs, fmt.Errorf("--target: parameters %v are not supported by replay", d.Params))
		}
		opts.Target = applier.TargetOptions{Addr: d.Addr(), User: d.User, Password: d.Password}
		if pw, err := targetPassword(pwFile); err != nil {
			errs = append(errs, err)
		} else if pw != "" {
			opts.Target.Password = pw
		}
	}
	if opts.Range.StartGTID, err = parseGTIDSet(startGTID); err != nil {
		errs = append(errs, fmt.Errorf("--start-gtid: %w", err))
	}
	if opts.Range.StopGTID, err = parseGTIDSet(stopGTID); err != nil {
		errs = append(errs, fmt.Errorf("--stop-gtid: %w", err))
	}
	opts.Range.StartPosition, opts.Range.StopPosition = uint32(startPos), uint32(stopPos)
	if opts.Range.StartTime, err = parseDatetime(startTime); err != nil {
		errs = append(errs, fmt.Errorf("--start-datetime: %w", err))
	}
	if opts.Range.StopTime, err = parseDatetime(stopTime); err != nil {
		errs = append(errs, fmt.Errorf("--stop-datetime: %w", err))
	}
	if len(errs) > 0 {
		return opts, false, fmt.Errorf("replay:\n%w", errors.Join(errs...))
	}
	return opts, verbose, nil
}

func targetPassword(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("target password file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return os.Getenv("MTREPLICA_TARGET_PASSWORD"), nil
}

// parseGTIDSet parses a MySQL (uuid:1-5) or MariaDB (0-1-100) GTID set; nil when empty.
func parseGTIDSet(s string) (*gtid.Set, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	f := gtid.MariaDB
	if strings.Contains(s, ":") {
		f = gtid.MySQL
	}
	return gtid.ParseSet(f, s)
}

// parseDatetime parses a local time as mysqlbinlog does.
func parseDatetime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want YYYY-MM-DD hh:mm:ss (local time)", s)
}
