// Command relayfill runs mtreplica's receiver alone (START REPLICA IO_THREAD) until the relay log holds the
// source's binlog up to a GTID position, then exits. The benchmark harness (go run ./bench) uses it to fill the
// relay log once per workload; every run then applies a copy. It exists until `mtreplica run` has --no-applier.
//
//	relayfill --source 'repl:replpass@tcp(127.0.0.1:P)/' --target 'root@tcp(127.0.0.1:Q)/' --relay-dir DIR \
//	    --start-gtid 0-1-100 [--until 0-1-5000]
//
// --until defaults to the source's @@gtid_binlog_pos when relayfill starts. The receiver records --start-gtid as
// the low-water mark in the target's progress tables (as `mtreplica run --start-gtid` does). DIR/status.json is
// rewritten every 250 ms with the daemon's status fields.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/internal/dsn"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "relayfill:", err)
		os.Exit(1)
	}
}

func run() error {
	source := flag.String("source", "", "source DSN (a user with REPLICATION SLAVE)")
	target := flag.String("target", "", "target DSN (the progress tables live there)")
	relayDir := flag.String("relay-dir", "", "relay log directory")
	start := flag.String("start-gtid", "", "GTID set already on the target")
	until := flag.String("until", "", "stop once the relay log holds this GTID position (default: the source's now)")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after this long")
	flag.Parse()

	src, err := dsn.Parse(*source)
	if err != nil {
		return fmt.Errorf("--source: %w", err)
	}
	dst, err := dsn.Parse(*target)
	if err != nil {
		return fmt.Errorf("--target: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	want := *until
	if want == "" {
		if want, err = sourcePos(ctx, src); err != nil {
			return err
		}
	}
	wantSet, err := gtid.ParseSet(gtid.MariaDB, want)
	if err != nil {
		return fmt.Errorf("--until: %w", err)
	}
	r, err := mtreplica.New(mtreplica.Config{
		Source: mtreplica.SourceConfig{Flavor: gtid.MariaDB, Host: src.Host, Port: src.Port,
			User: src.User, Password: src.Password},
		Target:    applier.TargetOptions{Addr: dst.Addr(), User: dst.User, Password: dst.Password},
		RelayDir:  *relayDir,
		StartGTID: *start,
		NoApplier: true,
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	runErr := make(chan error, 1)
	go func() { runErr <- r.Run(rctx) }()
	statusPath := filepath.Join(*relayDir, "status.json")
	for {
		select {
		case err := <-runErr:
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("receiver stopped before the relay log held %s: %v", want, err)
		case <-time.After(250 * time.Millisecond):
		}
		st := r.Status()
		writeStatus(statusPath, st)
		if covers(st.RetrievedGtidSet, wantSet) {
			rcancel()
			if err := <-runErr; err != nil {
				return err
			}
			writeStatus(statusPath, r.Status())
			return nil
		}
	}
}

// covers reports whether the retrieved set reaches want's last GTID in every stream.
func covers(retrieved string, want *gtid.Set) bool {
	have, err := gtid.ParseSet(gtid.MariaDB, retrieved)
	if err != nil {
		return false
	}
	for _, s := range want.Streams() {
		w, _ := want.Last(s)
		if h, ok := have.Last(s); !ok || h < w {
			return false
		}
	}
	return true
}

func sourcePos(ctx context.Context, d dsn.DSN) (string, error) {
	c, err := client.ConnectWithContext(ctx, d.Addr(), d.User, d.Password, "", 10*time.Second)
	if err != nil {
		return "", fmt.Errorf("connect to the source: %w", err)
	}
	defer c.Close()
	r, err := c.Execute("SELECT @@GLOBAL.gtid_binlog_pos")
	if err != nil {
		return "", err
	}
	defer r.Close()
	return r.GetString(0, 0)
}

func writeStatus(path string, st mtreplica.Status) {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return
	}
	tmp := path + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		os.Rename(tmp, path)
	}
}
