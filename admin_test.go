package mtreplica_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/admin"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// scrape fetches /metrics and parses it.
func scrape(t *testing.T, addr string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scrape does not parse: %v", err)
	}
	return fams, string(body)
}

// value returns the sum of a family's samples whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	var sum float64
	found := false
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(want); i += 2 {
			match := false
			for _, l := range m.GetLabel() {
				match = match || (l.GetName() == want[i] && l.GetValue() == want[i+1])
			}
			if !match {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum, found
}

// TestStatusAndMetrics: through the admin endpoint, status fields and metrics
// move as the source writes and the replica applies; the scrape parses;
// control calls without the token are refused; no field holds a password.
func TestStatusAndMetrics(t *testing.T) {
	src, dst := pair(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	cfg := engineConfig(t, src, dst, t.TempDir())
	cfg.Registerer = reg
	cfg.Workers = 2
	r, stop := startEngine(t, cfg)
	srv, err := admin.Listen(r, admin.Options{Addr: "127.0.0.1:0", Token: "tok-" + t.Name(), Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()
	cl := &admin.Client{Addr: srv.Addr()}

	if err := src.Exec(ctx, "CREATE DATABASE sm", "CREATE TABLE sm.t (id INT PRIMARY KEY, v VARCHAR(100))"); err != nil {
		t.Fatal(err)
	}
	write := func(from, n int) {
		for i := from; i < from+n; i++ {
			if err := src.Exec(ctx, fmt.Sprintf("INSERT INTO sm.t VALUES (%d, REPEAT('x', 100))", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(1, 50)
	waitCaughtUp(t, src, dst, r, time.Minute)
	// The source monitor polls every 2 s: wait for its first figures.
	var before mtreplica.Status
	waitFor(t, "receiver lag and clock skew in the status", 30*time.Second, func() bool {
		before, _, err = cl.Status(ctx)
		return err == nil && before.ReceiverLagBytes != nil && before.SourceClockSkew != nil
	})
	m1, _ := scrape(t, srv.Addr())

	write(51, 50)
	waitCaughtUp(t, src, dst, r, time.Minute)
	after, raw, err := cl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m2, body := scrape(t, srv.Addr())

	// Status: every field the issue names is filled, and positions moved.
	for name, ok := range map[string]bool{
		"Replica_IO_Running":        after.ReplicaIORunning == "Yes",
		"Replica_SQL_Running":       after.ReplicaSQLRunning == "Yes",
		"Source_Host":               after.SourceHost == src.Host,
		"Source_Log_File":           after.SourceLogFile != "",
		"Read_Source_Log_Pos":       after.ReadSourceLogPos > before.ReadSourceLogPos,
		"Relay_Log_File":            strings.HasPrefix(after.RelayLogFile, "relay-bin."),
		"Relay_Log_Pos":             after.RelayLogPos > before.RelayLogPos || after.RelayLogFile != before.RelayLogFile,
		"Relay_Source_Log_File":     after.RelaySourceLogFile == after.SourceLogFile,
		"Exec_Source_Log_Pos":       after.ExecSourceLogPos > before.ExecSourceLogPos,
		"Seconds_Behind_Source":     after.SecondsBehindSource != nil && *after.SecondsBehindSource < 60,
		"Retrieved_Gtid_Set":        after.RetrievedGtidSet != "" && after.RetrievedGtidSet != before.RetrievedGtidSet,
		"Executed_Gtid_Set":         after.ExecutedGtidSet != "" && after.ExecutedGtidSet != before.ExecutedGtidSet,
		"Last_IO_Error":             after.LastIOError == "",
		"Last_SQL_Error":            after.LastSQLError == "",
		"SQL_Delay":                 after.SQLDelay == 0,
		"Replica_SQL_Running_State": after.ReplicaSQLRunningState != "",
		"Transactions_Applied":      after.TransactionsApplied >= before.TransactionsApplied+50,
		"Workers":                   len(after.Workers) == 2,
	} {
		if !ok {
			t.Errorf("status field %s wrong: before %+v\nafter %+v", name, before, after)
		}
	}
	for _, f := range []string{`"Source_Log_File"`, `"Exec_Source_Log_Pos"`, `"Seconds_Behind_Source"`, `"WORKER_ID"`, `"APPLYING_TRANSACTION"`, `"LAST_APPLIED_TRANSACTION"`} {
		if !strings.Contains(string(raw), f) {
			t.Errorf("/status lacks %s", f)
		}
	}
	if skew := *after.SourceClockSkew; skew < -5 || skew > 5 {
		t.Errorf("clock skew between two local servers and us: %v s", skew)
	}

	// Metrics moved.
	moved := func(name string, labels ...string) {
		t.Helper()
		a, ok1 := value(m1, name, labels...)
		b, ok2 := value(m2, name, labels...)
		if !ok1 || !ok2 || b <= a {
			t.Errorf("%s%v did not grow: %v (%v) -> %v (%v)", name, labels, a, ok1, b, ok2)
		}
	}
	moved("mtreplica_receiver_events_total")
	moved("mtreplica_relay_log_transactions_total")
	moved("mtreplica_applier_transactions_applied_total")
	moved("mtreplica_applier_events_total")
	moved("mtreplica_relay_log_bytes")
	moved("mtreplica_applier_worker_transactions_total")
	moved("mtreplica_applier_worker_seconds_total", "state", "applying")
	hit, _ := value(m2, "mtreplica_relay_log_tail_cache_hit_bytes_total")
	miss, _ := value(m2, "mtreplica_relay_log_tail_cache_miss_bytes_total")
	if hit+miss == 0 {
		t.Errorf("tail cache counters absent or zero: hit %v miss %v", hit, miss)
	}
	for _, name := range []string{"mtreplica_seconds_behind_source", "mtreplica_source_clock_skew_seconds",
		"mtreplica_receiver_lag_bytes", "mtreplica_relay_log_segments", "mtreplica_applier_worker_applying"} {
		if _, ok := value(m2, name); !ok {
			t.Errorf("metric %s absent", name)
		}
	}
	// The Grafana dashboard uses only series the engine exports.
	dash, err := os.ReadFile("docs/grafana/mtreplica.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`mtreplica_[a-z_]+`).FindAllString(string(dash), -1) {
		name = strings.TrimSuffix(name, "_bucket")
		if _, ok := m2[name]; !ok && name != "mtreplica_errors_total" { // a vector without samples yet
			t.Errorf("the dashboard uses %s, which the engine does not export", name)
		}
	}
	if v, _ := value(m2, "mtreplica_thread_running", "thread", "receiver"); v != 1 {
		t.Errorf("mtreplica_thread_running{thread=receiver} = %v", v)
	}
	t.Logf("tail cache: %.0f bytes hit, %.0f missed; skew %.6f s; receiver lag %d bytes", hit, miss, *after.SourceClockSkew, *after.ReceiverLagBytes)

	// Control calls without (or with a wrong) token are refused.
	for _, tok := range []string{"", "wrong"} {
		_, err := (&admin.Client{Addr: srv.Addr(), Token: tok}).Control(ctx, "stop", url.Values{"thread": {"sql"}})
		var se *admin.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
			t.Errorf("stop with token %q: %v, want 401", tok, err)
		}
	}
	if st := r.Status(); st.ReplicaSQLRunning != "Yes" {
		t.Fatalf("a refused call stopped the applier")
	}
	st, err := (&admin.Client{Addr: srv.Addr(), Token: "tok-" + t.Name()}).Control(ctx, "stop", url.Values{"thread": {"sql"}})
	if err != nil || st.ReplicaSQLRunning != "No" {
		t.Fatalf("stop with the token: %v, SQL running %s", err, st.ReplicaSQLRunning)
	}

	// No password anywhere: status (the JSON, the metrics), even after an
	// authentication error of the receiver.
	if err := r.StopReceiver(ctx); err != nil {
		t.Fatal(err)
	}
	for _, where := range []string{string(raw), body} {
		if strings.Contains(where, mariadbtest.ReplPassword) {
			t.Fatalf("the password appears in the status or the metrics")
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// A wrong password: the receiver fails; its error must not show either password.
	bad := engineConfig(t, src, dst, t.TempDir())
	bad.Source.Password = "Wr0ng-Secret-" + t.Name()
	bad.KeepRunningOnError = true
	bad.NoReceiver = true // skip the start-up preflight: the receiver is started below
	badReg := prometheus.NewRegistry()
	bad.Registerer = badReg
	rb, stopBad := startEngine(t, bad)
	waitFor(t, "the engine runs", 30*time.Second, func() bool { return rb.StartReceiver() == nil })
	waitFor(t, "the receiver fails to log in", 30*time.Second, func() bool { return rb.Status().LastIOError != "" })
	b, _ := json.Marshal(rb.Status())
	if strings.Contains(string(b), bad.Source.Password) || strings.Contains(string(b), mariadbtest.ReplPassword) {
		t.Fatalf("a password in the status: %s", b)
	}
	t.Logf("receiver error: %s", rb.Status().LastIOError)
	if st := rb.Status(); st.LastIOErrno != 1045 {
		t.Errorf("Last_IO_Errno %d, want 1045 (access denied)", st.LastIOErrno)
	}
	waitFor(t, "the error counted by code", 30*time.Second, func() bool {
		fams, err := badReg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			for _, m := range f.GetMetric() {
				if f.GetName() == "mtreplica_errors_total" && m.GetCounter().GetValue() > 0 {
					for _, l := range m.GetLabel() {
						if l.GetName() == "code" && l.GetValue() == "1045" {
							return true
						}
					}
				}
			}
		}
		return false
	})
	stopBad()
}
