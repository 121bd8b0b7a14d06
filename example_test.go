package mtreplica_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/admin"
	"github.com/mtreplica/mtreplica/applier"
)

// Example embeds a replica in a program: configuration, metrics on the
// program's own registry, the admin endpoint, Run until interrupted, and the
// status meanwhile. It needs a source and a target server, so it is compiled
// but not run; TestStatusAndMetrics and TestControl run the same calls
// against real servers.
func Example() {
	reg := prometheus.NewRegistry() // the program's registry; nil would register nothing
	r, err := mtreplica.New(mtreplica.Config{
		Source: mtreplica.SourceConfig{
			Flavor: mtreplica.MariaDB, Host: "127.0.0.1", Port: 3306,
			User: "repl", Password: os.Getenv("MTREPLICA_SOURCE_PASSWORD"),
			HeartbeatPeriod: 5 * time.Second,
		},
		Target:             applier.TargetOptions{Addr: "127.0.0.1:3307", User: "root"},
		RelayDir:           "/var/lib/mtreplica/relay",
		Workers:            8,
		KeepRunningOnError: true, // a stopped thread waits for the operator instead of ending Run
		Registerer:         reg,
		Logger:             slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		log.Fatal(err) // every configuration problem at once, each saying what to set
	}

	// Optional: /status, /metrics and the control calls over HTTP.
	srv, err := admin.Listen(r, admin.Options{Addr: admin.DefaultAddr, Token: os.Getenv("MTREPLICA_ADMIN_TOKEN"), Gatherer: reg})
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		for range time.Tick(10 * time.Second) {
			st := r.Status() // SHOW REPLICA STATUS, safe at any time
			b, _ := json.Marshal(struct {
				IO, SQL string
				Behind  *int64
			}{st.ReplicaIORunning, st.ReplicaSQLRunning, st.SecondsBehindSource})
			fmt.Println(string(b))
		}
	}()
	if err := r.Run(ctx); err != nil { // until ctx is cancelled
		log.Fatal(err)
	}
}

// ExampleReplica_StartApplier: what an operator does after the applier stopped
// on a transaction it cannot apply: look at the error, skip the transaction,
// and apply up to a known GTID only, with a delay from then on.
func ExampleReplica_StartApplier() {
	var r *mtreplica.Replica // running: r.Run(ctx) in another goroutine
	ctx := context.Background()

	st := r.Status()
	fmt.Println(st.LastSQLErrno, st.LastSQLError)
	if err := r.StopApplier(ctx); err != nil { // already stopped here: a no-op
		log.Fatal(err)
	}
	if err := r.Skip(ctx, "0-1-4711"); err != nil { // recorded on the target as applied
		log.Fatal(err)
	}
	// START REPLICA SQL_THREAD UNTIL SQL_AFTER_GTIDS = '0-1-5000'
	if err := r.StartApplier(mtreplica.Until{GTIDs: "0-1-5000"}); err != nil {
		log.Fatal(err)
	}
	r.SetDelay(time.Hour) // CHANGE REPLICATION SOURCE TO SOURCE_DELAY = 3600
}

// ExampleUntil shows the until conditions and how SHOW REPLICA STATUS names them.
func ExampleUntil() {
	for _, u := range []mtreplica.Until{
		{},
		{GTIDs: "0-1-5000"},
		{SourceLogFile: "mariadb-bin.000042", SourceLogPos: 1234},
	} {
		fmt.Println(u.Condition())
	}
	// Output:
	// None
	// SQL_AFTER_GTIDS
	// Source
}
