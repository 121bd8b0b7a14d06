package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/mtreplica/mtreplica"
)

// Control commands: they talk to a running daemon's admin endpoint, with its token.
//
//	mtreplica start [--io|--sql] [--until-gtids SET | --until-file F --until-pos P]
//	mtreplica stop  [--io|--sql]
//	mtreplica until --gtids SET | --file F --pos P     (start the applier until there)
//	mtreplica skip GTID
//	mtreplica delay SECONDS
//	mtreplica reset --yes
func cmdControl(name string, args []string) error {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	var adm adminFlags
	adm.register(fs, false)
	var io, sql, yes bool
	var untilGTIDs, untilFile string
	var untilPos uint
	switch name {
	case "start", "stop":
		fs.BoolVar(&io, "io", false, "only the receiver (IO_THREAD)")
		fs.BoolVar(&sql, "sql", false, "only the applier (SQL_THREAD)")
		if name == "start" {
			fs.StringVar(&untilGTIDs, "until-gtids", "", "stop the applier before the first transaction not in this GTID set (SQL_AFTER_GTIDS)")
			fs.StringVar(&untilFile, "until-file", "", "stop the applier before the first transaction starting at or after this source file ...")
			fs.UintVar(&untilPos, "until-pos", 0, "... and position")
		}
	case "until":
		fs.StringVar(&untilGTIDs, "gtids", "", "GTID set (SQL_AFTER_GTIDS; MariaDB: a position such as 0-1-100)")
		fs.StringVar(&untilGTIDs, "gtid", "", "same as --gtids")
		fs.StringVar(&untilFile, "file", "", "source binlog file (SOURCE_LOG_FILE)")
		fs.UintVar(&untilPos, "pos", 0, "position in it (SOURCE_LOG_POS)")
	case "reset":
		fs.BoolVar(&yes, "yes", false, "confirm: stop, delete the relay log and forget this channel's progress on the target")
	}
	fs.Parse(args)
	var pos []string // positional arguments, flags allowed after them too
	for fs.NArg() > 0 {
		pos = append(pos, fs.Arg(0))
		fs.Parse(fs.Args()[1:])
	}
	c, err := adm.client()
	if err != nil {
		return err
	}
	params := url.Values{}
	thread := func() error {
		switch {
		case io && sql:
			return errors.New("give --io or --sql, not both (neither means both)")
		case io:
			params.Set("thread", "io")
		case sql:
			params.Set("thread", "sql")
		}
		return nil
	}
	until := func() {
		if untilGTIDs != "" {
			params.Set("until_gtids", untilGTIDs)
		}
		if untilFile != "" {
			params.Set("until_file", untilFile)
			params.Set("until_pos", strconv.FormatUint(uint64(untilPos), 10))
		}
	}
	action := name
	switch name {
	case "start", "stop":
		if err := thread(); err != nil {
			return err
		}
		until()
	case "until":
		if untilGTIDs == "" && untilFile == "" {
			return errors.New("until: give --gtids SET, or --file F --pos P")
		}
		action = "start"
		params.Set("thread", "sql")
		until()
	case "skip":
		if len(pos) != 1 {
			return errors.New("usage: mtreplica skip GTID (the applier must be stopped: mtreplica stop --sql)")
		}
		params.Set("gtid", pos[0])
	case "delay":
		if len(pos) != 1 {
			return errors.New("usage: mtreplica delay SECONDS (0 turns it off)")
		}
		params.Set("seconds", pos[0])
	case "reset":
		if !yes {
			return errors.New("reset stops replication, deletes the relay log and forgets this channel's progress on the target, " +
				"so the next start re-applies from the configured start position; run again with --yes to do it")
		}
	}
	if len(pos) > 0 && name != "skip" && name != "delay" {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := c.Control(ctx, action, params)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	printBrief(st)
	return nil
}

// printBrief prints the fields a control command changes.
func printBrief(s mtreplica.Status) {
	fmt.Printf("Replica_IO_Running: %s\nReplica_SQL_Running: %s\n", s.ReplicaIORunning, s.ReplicaSQLRunning)
	if s.UntilCondition != "None" {
		fmt.Printf("Until_Condition: %s %s%s\n", s.UntilCondition, s.UntilGtids, s.UntilLogFile)
	}
	fmt.Printf("SQL_Delay: %d\nExecuted_Gtid_Set: %s\n", s.SQLDelay, s.ExecutedGtidSet)
}
