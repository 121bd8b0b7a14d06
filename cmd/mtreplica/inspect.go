package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/mtreplica/mtreplica/inspect"
)

// cmdInspect: mtreplica inspect FILE... [--json]
func cmdInspect(args []string) error {
	fs := flag.NewFlagSet("inspect", flag.ExitOnError)
	asJSON := fs.Bool("json", false, "print one JSON object per file")
	decoders := fs.Int("decoders", 0, "goroutines decoding rows in parallel (default: one per CPU)")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, `usage: mtreplica inspect [--json] [--decoders N] FILE...

Summarises binlog or relay log files: server version and flavor, event counts by
type (events inside compressed TRANSACTION_PAYLOADs apart), transactions, GTID
range, rows, the largest transaction, and how many transactions could run at once
under logical-clock and writeset dependency tracking.
`)
		fs.PrintDefaults()
	}
	// Flags may follow the files: mtreplica inspect a b --json.
	var files []string
	for rest := args; len(rest) > 0; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(files) == 0 {
		fs.Usage()
		return errors.New("inspect: no file given")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	failed := 0
	for i, f := range files {
		r, err := inspect.File(ctx, f, inspect.Options{Decoders: *decoders})
		if err != nil {
			fmt.Fprintln(os.Stderr, "mtreplica:", err)
			failed++
			continue
		}
		if *asJSON {
			if err := enc.Encode(r); err != nil {
				return err
			}
			continue
		}
		if i > 0 {
			fmt.Println()
		}
		if err := r.WriteText(os.Stdout); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("inspect: %d of %d files failed", failed, len(files))
	}
	return nil
}
