// Package admin serves a running replica over HTTP: its status and metrics for
// people and monitoring, and its controls for operators.
//
//	GET  /status   SHOW REPLICA STATUS as JSON (mtreplica.Status: MySQL's column
//	               names, Workers named like replication_applier_status_by_worker)
//	GET  /metrics  Prometheus exposition of Options.Gatherer
//	POST /start    thread=io|sql|all (default all); until_gtids=SET or
//	               until_file=F&until_pos=P (START REPLICA ... UNTIL)
//	POST /stop     thread=io|sql|all (STOP REPLICA [IO_THREAD|SQL_THREAD])
//	POST /skip     gtid=G: record one transaction as applied without applying it
//	POST /delay    seconds=N: SOURCE_DELAY
//	POST /reset    RESET REPLICA: stop, delete the relay log, forget progress
//
// Control calls (POST) need "Authorization: Bearer TOKEN" with Options.Token;
// without a configured token they are refused (403), with a wrong or missing
// one they get 401. GET calls are open when the server listens on a loopback
// address and need the token too otherwise. Parameters come as a query string
// or a form body; answers are JSON: the status after the call, or
// {"error": "..."}.
//
// The server is started by the program that runs the replica (mtreplica run
// does it for --admin); Client is the other end, used by mtreplica's
// control commands:
//
//	srv, err := admin.Listen(r, admin.Options{Addr: "127.0.0.1:8406", Token: tok, Gatherer: reg})
//	if err != nil { ... }
//	go srv.Serve()
//	defer srv.Close()
package admin
