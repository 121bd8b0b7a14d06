// Package mtreplica is a MySQL/MariaDB binlog replica engine, for embedding in
// a Go program. A Replica connects to a source server as a replica, streams its
// binary log into a durable relay log on local disk, and applies the
// transactions to a target server, recording its progress on the target in
// the same transactions, so that nothing is lost and nothing applied twice
// after any crash.
//
//	r, err := mtreplica.New(mtreplica.Config{
//		Source:   mtreplica.SourceConfig{Flavor: gtid.MariaDB, Host: "127.0.0.1", Port: 3306, User: "repl", Password: pw},
//		Target:   applier.TargetOptions{Addr: "127.0.0.1:3307", User: "root"},
//		RelayDir: "/var/lib/mtreplica/relay",
//	})
//	if err != nil { ... }
//	err = r.Run(ctx) // until ctx is cancelled; r.Status() meanwhile
//
// The pieces, each in its own package: replica (the receiver), relaylog,
// coordinator (transactions, scheduling, low-water mark), applier (workers and
// the progress table). Run wires them: the receiver and the applier run
// independently, like MySQL's I/O and SQL threads.
//
// # Operating it
//
// While Run runs, the receiver and the applier start and stop separately
// (StartReceiver, StopReceiver, StartApplier, StopApplier: START/STOP REPLICA
// IO_THREAD/SQL_THREAD); StartApplier takes an Until condition (a GTID set or
// a source position). Skip records one transaction as applied without applying
// it, SetDelay sets SOURCE_DELAY, Reset is RESET REPLICA. Status mirrors SHOW
// REPLICA STATUS; metrics go to Config.Registerer. The package admin serves
// all of it over HTTP. See Example for a whole program.
//
// # Where replication resumes
//
// At start the engine reads the executed set from the target's progress table.
// The receiver resumes after the relay log's last complete transaction, or, when
// the relay log is empty, after the executed set, or else from Config.StartGTID /
// StartFile+StartPos, or else from the source's first binlog. The applier reads
// the relay log from its oldest segment and skips what the target already holds.
package mtreplica
