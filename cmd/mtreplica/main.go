// Command mtreplica is the mtreplica replica daemon and its tools.
//
//	mtreplica run    --source DSN --target DSN --relay-dir DIR [--config FILE]   replicate until SIGINT/SIGTERM
//	mtreplica status --relay-dir DIR [--json]                                    print SHOW REPLICA STATUS fields
//	mtreplica demo                                                               local source + target, a workload, verify
//	mtreplica version
package main

import (
	"fmt"
	"os"
)

var version = "dev"

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = cmdRun(os.Args[2:])
	case "status":
		err = cmdStatus(os.Args[2:])
	case "demo":
		err = cmdDemo(os.Args[2:])
	case "version", "--version":
		fmt.Println("mtreplica", version)
	case "help", "-h", "--help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "mtreplica: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mtreplica:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `mtreplica: a MySQL/MariaDB binlog replica engine

Commands:
  run      replicate a source into a target (mtreplica run --help)
  status   print the replica's status with SHOW REPLICA STATUS names
  demo     start a local source and target, replicate a workload, verify
  version  print the version
`)
}
