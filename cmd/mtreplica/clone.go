package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/clone"
)

// cmdClone copies the source into an empty target from one consistent snapshot and records the snapshot's
// position, so that `mtreplica run` (or --then-run) continues from exactly there. It takes run's options (the
// source and target, TLS, channel, relay_log_dir for the catch-up and --then-run) plus its own flags.
func cmdClone(args []string) error {
	fs := flag.NewFlagSet("clone", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mtreplica clone [options]\n\n"+
			"Copies the source's schemas into an empty target from one consistent snapshot, in parallel chunks,\n"+
			"resumable after a crash (run it again), and records the snapshot's GTID position on the target so\n"+
			"that `mtreplica run` starts exactly after it. The source user needs SELECT (and RELOAD for\n"+
			"--snapshot-lock or a MySQL source). Takes every option of `mtreplica run` too.\n\n")
		fs.PrintDefaults()
	}
	config := fs.String("config", os.Getenv("MTREPLICA_CONFIG"), "YAML configuration file (flags and environment override it; default $MTREPLICA_CONFIG)")
	schemas := fs.String("schemas", "", "comma-separated schemas to clone (default: every schema but mysql, sys, information_schema, performance_schema, mtreplica)")
	workers := fs.Int("clone-workers", 4, "parallel copy workers, each with a source and a target connection")
	chunkRows := fs.Int("chunk-rows", 10000, "rows per chunk (the unit of checkpointing)")
	insertBytes := fs.Int("insert-bytes", 1<<20, "bytes per multi-row INSERT (below the target's max_allowed_packet)")
	deferIndexes := fs.Bool("defer-indexes", true, "create tables without their secondary indexes and add them after the load (measured faster; --defer-indexes=false keeps them during the load)")
	snapshotLock := fs.Bool("snapshot-lock", false, "always take FLUSH TABLES WITH READ LOCK while the snapshots start (MySQL: always)")
	maxRate := fs.Int("max-rows-per-second", 0, "throttle the copy to spare the source (0: no limit)")
	interval := fs.Duration("progress-interval", 10*time.Second, "how often progress is logged")
	restart := fs.Bool("restart", false, "drop what an earlier clone on this target created (tables, clone state, the channel's progress) and start over")
	thenRun := fs.Bool("then-run", false, "replicate from the snapshot after the clone, as mtreplica run (needs --relay-log-dir)")
	set := newSettings()
	set.register(fs)
	if err := refusePasswordFlags(args); err != nil {
		return err
	}
	fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: options are given as --name value", fs.Arg(0))
	}
	if *config != "" {
		set.readYAML(*config)
	}
	set.readEnv()
	cfg, err := set.config()
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	if *thenRun && cfg.RelayDir == "" {
		return errors.New("--then-run needs --relay-log-dir")
	}
	o := clone.Options{
		Source: cfg.Source, Target: cfg.Target, Channel: cfg.Channel, Filter: cfg.Filter,
		Workers: *workers, ChunkRows: *chunkRows, InsertBytes: *insertBytes, IndexesDuringLoad: !*deferIndexes,
		SnapshotLock: *snapshotLock, MaxRowsPerSecond: *maxRate, ProgressInterval: *interval, Restart: *restart,
		CatchUp: cfg, Logger: cfg.Logger,
	}
	for _, s := range strings.Split(*schemas, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.Schemas = append(o.Schemas, s)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := clone.Run(ctx, o)
	if err != nil {
		return fmt.Errorf("clone: %w (run it again to continue from its checkpoints)", err)
	}
	fmt.Fprintf(os.Stderr, "mtreplica: clone done: %d tables, %d rows in %s; replication starts after %s\n",
		res.Tables, res.Rows, res.Elapsed.Round(time.Millisecond), res.CaughtUpTo)
	if !*thenRun {
		return nil
	}
	r, err := mtreplica.New(cfg)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	done := make(chan struct{})
	statusFile := filepath.Join(cfg.RelayDir, "status.json")
	go writeStatus(ctx, r, statusFile, done)
	err = r.Run(ctx)
	<-done
	writeStatusOnce(r, statusFile)
	return err
}
