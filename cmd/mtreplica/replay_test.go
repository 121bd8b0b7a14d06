package main

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func TestParseReplay(t *testing.T) {
	t.Setenv("MTREPLICA_TARGET_PASSWORD", "pw")
	opts, verbose, err := parseReplay([]string{"--target", "root@tcp(127.0.0.1:3307)/", "a.000001",
		"--stop-gtid", "0-1-50,1-2-7", "b.000002", "--start-position=120", "--start-datetime", "2026-11-24 07:00:00",
		"--workers", "4", "--verbose", "c.000003"}, flag.ContinueOnError)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(opts.Files, ",") != "a.000001,b.000002,c.000003" || opts.Workers != 4 || !verbose {
		t.Errorf("files %v, workers %d, verbose %v", opts.Files, opts.Workers, verbose)
	}
	if opts.Target.Addr != "127.0.0.1:3307" || opts.Target.User != "root" || opts.Target.Password != "pw" {
		t.Errorf("target %+v", opts.Target)
	}
	if opts.Range.StopGTID == nil || opts.Range.StopGTID.String() != "0-1-50,1-2-7" || opts.Range.StartPosition != 120 {
		t.Errorf("range %+v", opts.Range)
	}
	if want := time.Date(2026, 11, 24, 7, 0, 0, 0, time.Local); !opts.Range.StartTime.Equal(want) {
		t.Errorf("start time %v, want %v", opts.Range.StartTime, want)
	}
	if _, _, err := parseReplay([]string{"--stop-gtid", "x", "--start-datetime", "yesterday"}, flag.ContinueOnError); err == nil ||
		!strings.Contains(err.Error(), "no binlog files") || !strings.Contains(err.Error(), "--target is required") ||
		!strings.Contains(err.Error(), "--stop-gtid") || !strings.Contains(err.Error(), "--start-datetime") {
		t.Errorf("every problem at once: %v", err)
	}
	if _, _, err := parseReplay([]string{"--target-password=x", "f"}, flag.ContinueOnError); err == nil {
		t.Error("a password on the command line was accepted")
	}
}
