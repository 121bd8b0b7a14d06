package mtreplica_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/mtreplica/mtreplica"
)

// lockedBuffer is a bytes.Buffer safe for the logger's concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNoPasswordLeaks: a replica run with distinctive passwords for the
// source and the target, through a source restart (reconnect errors logged),
// with every log line at debug level captured: no log line, status field,
// metric, formatted configuration or error string holds either password.
func TestNoPasswordLeaks(t *testing.T) {
	src, dst := pair(t)
	secret := func(who string) string {
		b := make([]byte, 8)
		rand.Read(b)
		return "Pw-" + who + "-" + hex.EncodeToString(b)
	}
	srcPW, dstPW := secret("source"), secret("target")
	mustExec(t, src, fmt.Sprintf("CREATE USER 'leakrepl'@'%%' IDENTIFIED BY '%s'", srcPW),
		"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'leakrepl'@'%'")
	mustExec(t, dst, fmt.Sprintf("CREATE USER 'leakapply'@'%%' IDENTIFIED BY '%s'", dstPW), "GRANT ALL ON *.* TO 'leakapply'@'%'")

	var logs lockedBuffer
	reg := prometheus.NewRegistry()
	cfg := engineConfig(t, src, dst, t.TempDir())
	cfg.Source.User, cfg.Source.Password = "leakrepl", srcPW
	cfg.Target.User, cfg.Target.Password = "leakapply", dstPW
	cfg.Source.ConnectRetry = 200 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Registerer = reg
	cfg.SkipErrors = []uint16{1062}

	var seen []string // everything a user could see
	r, stop := startEngine(t, cfg)
	mustExec(t, src, "CREATE DATABASE leak", "CREATE TABLE leak.t (id INT PRIMARY KEY)", "INSERT INTO leak.t VALUES (1)")
	waitCaughtUp(t, src, dst, r, time.Minute)
	if err := src.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustExec(t, src, "INSERT INTO leak.t VALUES (2)")
	waitCaughtUp(t, src, dst, r, time.Minute)
	st, err := json.Marshal(r.Status())
	if err != nil {
		t.Fatal(err)
	}
	seen = append(seen, string(st))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	for _, mf := range mfs {
		expfmt.MetricFamilyToText(&metrics, mf)
	}
	seen = append(seen, metrics.String())
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	seen = append(seen, fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.Source), fmt.Sprint(cfg.Target))
	var cfgLog lockedBuffer
	slog.New(slog.NewTextHandler(&cfgLog, nil)).Info("config", "cfg", cfg, "source", cfg.Source, "target", cfg.Target)
	seen = append(seen, cfgLog.String())

	// Errors: a wrong password on each side, and a configuration error.
	for _, side := range []string{"source", "target"} {
		bad := cfg
		bad.Logger, bad.Registerer = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), nil
		bad.RelayDir = t.TempDir()
		if side == "source" {
			bad.Source.Password = srcPW + "x"
		} else {
			bad.Target.Password = dstPW + "x"
		}
		rep, err := mtreplica.New(bad)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = rep.Run(ctx)
		cancel()
		if err == nil {
			t.Fatalf("%s: Run with a wrong password succeeded", side)
		}
		st, _ := json.Marshal(rep.Status())
		seen = append(seen, fmt.Sprintf("%v %+v", err, err), string(st))
	}
	invalid := cfg
	invalid.Workers = -1
	if _, err := mtreplica.New(invalid); err == nil {
		t.Fatal("invalid configuration accepted")
	} else {
		seen = append(seen, err.Error())
	}
	seen = append(seen, logs.String())

	all := strings.Join(seen, "\n")
	for _, pw := range []string{srcPW, dstPW} {
		if i := strings.Index(all, pw); i >= 0 {
			lo, hi := max(0, i-300), min(len(all), i+len(pw)+100)
			t.Errorf("a password appears in what a user sees: ...%s...", strings.ReplaceAll(all[lo:hi], pw, "<PASSWORD>"))
		}
	}
	if !strings.Contains(logs.String(), "source connection failed") {
		t.Errorf("the source restart left no reconnect log line: the scan did not cover the error path")
	}
	t.Logf("scanned %d bytes of logs, status, metrics and errors", len(all))
}
