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

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/internal/gtid"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// cmdDemo starts a throwaway source and target, replicates a sysbench
// workload, waits until the target has caught up, verifies the data and prints
// a summary. Exit status 0 only if the target equals the source.
func cmdDemo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	tables := fs.Int("tables", 4, "sysbench tables")
	rows := fs.Int("table-size", 10000, "rows per table")
	threads := fs.Int("threads", 8, "sysbench client threads")
	seconds := fs.Int("time", 10, "seconds of oltp_write_only on the source")
	verbose := fs.Bool("v", false, "log the engine's progress")
	fs.Parse(args)

	if err := mariadbtest.Available(); err != nil {
		return err
	}
	if _, err := lookSysbench(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	step := func(format string, a ...any) { fmt.Printf("demo: "+format+"\n", a...) }
	step("starting a source and a target MariaDB server (throwaway, loopback)")
	src, err := mariadbtest.StartServer(ctx, mariadbtest.Options{})
	if err != nil {
		return fmt.Errorf("start source: %w", err)
	}
	defer src.Stop()
	dst, err := mariadbtest.StartServer(ctx, mariadbtest.Options{})
	if err != nil {
		return fmt.Errorf("start target: %w", err)
	}
	defer dst.Stop()
	relayDir, err := os.MkdirTemp("", "mtreplica-demo-relay-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(relayDir)

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	r, err := mtreplica.New(mtreplica.Config{
		Source: mtreplica.SourceConfig{Flavor: gtid.MariaDB, Host: src.Host, Port: uint16(src.Port),
			User: mariadbtest.ReplUser, Password: mariadbtest.ReplPassword},
		Target:   applier.TargetOptions{Addr: dst.Addr(), User: "root"},
		RelayDir: relayDir,
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	started := time.Now()
	go func() { runErr <- r.Run(rctx) }()
	defer func() { cancel(); <-runErr }()

	step("source %s, target %s, relay log %s", src.Addr(), dst.Addr(), relayDir)
	step("sysbench prepare: %d tables x %d rows", *tables, *rows)
	common := []string{fmt.Sprintf("--tables=%d", *tables), fmt.Sprintf("--table-size=%d", *rows)}
	if out, err := mariadbtest.Sysbench(ctx, src, "sbtest", append([]string{"oltp_write_only"}, append(common, "prepare")...)...); err != nil {
		return fmt.Errorf("sysbench prepare: %w\n%s", err, out)
	}
	step("sysbench oltp_write_only: %d clients for %d s, mtreplica replicating meanwhile", *threads, *seconds)
	if out, err := mariadbtest.Sysbench(ctx, src, "sbtest", append([]string{"oltp_write_only"},
		append(common, fmt.Sprintf("--threads=%d", *threads), fmt.Sprintf("--time=%d", *seconds), "--report-interval=0", "run")...)...); err != nil {
		return fmt.Errorf("sysbench run: %w\n%s", err, out)
	}
	workloadDone := time.Now()
	pos, err := src.GTIDPos(ctx)
	if err != nil {
		return err
	}
	step("workload done; source at GTID %s; waiting for the target to catch up", pos)
	want, err := gtid.ParseSet(gtid.MariaDB, pos)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Minute)
	var st mtreplica.Status
	for {
		select {
		case err := <-runErr:
			runErr <- err
			return fmt.Errorf("replica stopped: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		st = r.Status()
		if caughtUp(st.ExecutedGtidSet, want) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("target did not catch up in 5 minutes: executed %s, source %s (last error: %s%s)",
				st.ExecutedGtidSet, pos, st.LastIOError, st.LastSQLError)
		}
	}
	caught := time.Now()
	step("caught up; verifying the target equals the source (row counts, CHECKSUM TABLE)")
	verr := mariadbtest.Compare(ctx, src, dst, "sbtest")
	elapsed := caught.Sub(started).Seconds()
	lag := "NULL"
	if st.SecondsBehindSource != nil {
		lag = fmt.Sprintf("%d s", *st.SecondsBehindSource)
	}
	fmt.Println()
	fmt.Println("mtreplica demo summary")
	fmt.Printf("  transactions applied:    %d\n", st.TransactionsApplied)
	fmt.Printf("  seconds (start to caught up): %.1f\n", elapsed)
	fmt.Printf("  transactions/s:          %.0f\n", float64(st.TransactionsApplied)/elapsed)
	fmt.Printf("  caught up after workload: %.2f s\n", caught.Sub(workloadDone).Seconds())
	fmt.Printf("  final lag (Seconds_Behind_Source): %s\n", lag)
	fmt.Printf("  executed GTID set:       %s\n", st.ExecutedGtidSet)
	if verr != nil {
		fmt.Printf("  verification:            FAILED\n")
		return fmt.Errorf("target differs from source: %w", verr)
	}
	fmt.Printf("  verification:            target equals source\n")
	return nil
}

func caughtUp(executed string, want *gtid.Set) bool {
	have, err := gtid.ParseSet(gtid.MariaDB, executed)
	if err != nil {
		return false
	}
	for _, s := range want.Streams() {
		w, _ := want.Last(s)
		h, ok := have.Last(s)
		if !ok || h < w {
			return false
		}
	}
	return true
}

func lookSysbench() (string, error) {
	for _, dir := range strings.Split(os.Getenv("PATH")+":/usr/bin:/usr/local/bin", ":") {
		p := dir + "/sysbench"
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("sysbench not found: install it with `apt-get install -y sysbench` (or run `make deps`)")
}
