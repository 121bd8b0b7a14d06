// Command mtreplica is the mtreplica replica daemon and its tools.
//
//	mtreplica run    --source DSN --target DSN --relay-dir DIR [--config FILE]   replicate until SIGINT/SIGTERM
//	mtreplica status [--admin ADDR | --relay-dir DIR] [--json]                   print SHOW REPLICA STATUS fields
//	mtreplica start|stop [--io|--sql]                                            START/STOP REPLICA [IO_THREAD|SQL_THREAD]
//	mtreplica until --gtids SET | --file F --pos P                               start the applier until there
//	mtreplica skip GTID | delay SECONDS | reset --yes                            (control commands use the admin endpoint)
//	mtreplica replay --target DSN [--start-gtid SET] [--stop-gtid SET] ... FILE...   point-in-time recovery
//	mtreplica inspect [--json] FILE...                                           summarise binlog files
//	mtreplica demo                                                               local source + target, a workload, verify
//	mtreplica version
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
)

var version = "dev"

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	stopProfile := startCPUProfile()
	var err error
	switch os.Args[1] {
	case "run":
		err = cmdRun(os.Args[2:])
	case "status":
		err = cmdStatus(os.Args[2:])
	case "clone":
		err = cmdClone(os.Args[2:])
	case "start", "stop", "until", "skip", "delay", "reset":
		err = cmdControl(os.Args[1], os.Args[2:])
	case "demo":
		err = cmdDemo(os.Args[2:])
	case "replay":
		err = cmdReplay(os.Args[2:])
	case "inspect":
		err = cmdInspect(os.Args[2:])
	case "version", "--version":
		fmt.Println("mtreplica", version)
	case "help", "-h", "--help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "mtreplica: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mtreplica:", err)
		os.Exit(1)
	}
}

// startCPUProfile writes a CPU profile of the whole process to
// $MTREPLICA_CPUPROFILE.<pid> when that variable is set (for measuring the
// daemon under the bench harness, whose children inherit the environment).
// The profile is complete when the command returns (after SIGINT/SIGTERM for run).
func startCPUProfile() (stop func()) {
	base := os.Getenv("MTREPLICA_CPUPROFILE")
	if base == "" {
		return func() {}
	}
	f, err := os.Create(base + "." + strconv.Itoa(os.Getpid()))
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mtreplica: MTREPLICA_CPUPROFILE:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `mtreplica: a MySQL/MariaDB binlog replica engine

Commands:
  run      replicate a source into a target (mtreplica run --help)
  status   print the replica's status with SHOW REPLICA STATUS names (--json for scripts)
  clone    copy the source into an empty target from one snapshot, then hand over to run (clone --help)
  start    start the receiver and the applier (--io, --sql: one of them; --until-gtids SET)
  stop     stop them (--io, --sql: one of them)
  until    start the applier until a GTID set (--gtids) or a source position (--file, --pos)
  skip     record one transaction (GTID) as applied without applying it; the applier must be stopped
  delay    set SOURCE_DELAY in seconds (0: off)
  reset    RESET REPLICA: stop, delete the relay log, forget progress (--yes)
           Control commands reach the daemon's admin endpoint (--admin ADDR, or --relay-dir DIR)
           with its token (--admin-token-file FILE or $MTREPLICA_ADMIN_TOKEN).
  demo     start a local source and target, replicate a workload, verify
  replay   apply binlog files to a target with parallel workers (mtreplica replay --help)
  inspect  summarise binlog files: events, transactions, GTIDs, rows, parallelism (--json)
  version  print the version
`)
}
