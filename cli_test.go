package mtreplica_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// TestCLIControl drives a daemon with the control commands, through its admin
// endpoint: the commands find it by --relay-dir, a command without the token
// is refused, stop/start change what `mtreplica status --json` reports.
func TestCLIControl(t *testing.T) {
	src, dst := pair(t)
	bin := buildBinary(t)
	relayDir := t.TempDir()
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for the endpoint
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("cli-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	daemon := exec.Command(bin, "run", "--source-host", src.Host, "--source-port", strconv.Itoa(src.Port),
		"--source-user", mariadbtest.ReplUser, "--target-host", dst.Host, "--target-port", strconv.Itoa(dst.Port),
		"--target-user", "root", "--relay-dir", relayDir, "--source-heartbeat-period", "1s", "--log-level", "warn",
		"--admin", addr, "--admin-token-file", tokenFile)
	daemon.Env = append(os.Environ(), "MTREPLICA_SOURCE_PASSWORD="+mariadbtest.ReplPassword)
	daemon.Stdout, daemon.Stderr = os.Stderr, os.Stderr
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		daemon.Process.Signal(syscall.SIGTERM)
		daemon.Wait()
	}()
	cli := func(token string, args ...string) (string, error) {
		c := exec.Command(bin, args...)
		c.Env = append(os.Environ(), "MTREPLICA_ADMIN_TOKEN="+token)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	status := func() mtreplica.Status {
		t.Helper()
		out, err := cli("", "status", "--json", "--relay-dir", relayDir)
		if err != nil {
			t.Fatalf("status: %v\n%s", err, out)
		}
		var s mtreplica.Status
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		return s
	}
	waitFor(t, "the daemon's admin endpoint", time.Minute, func() bool {
		_, err := cli("", "status", "--admin", addr)
		return err == nil
	})
	if err := src.Exec(ctx, "CREATE DATABASE cli", "CREATE TABLE cli.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, src, dst, nil, time.Minute)

	if out, err := cli("wrong", "stop", "--sql", "--relay-dir", relayDir); err == nil || !strings.Contains(out, "401") {
		t.Fatalf("stop with a wrong token: %v\n%s", err, out)
	}
	if s := status(); s.ReplicaSQLRunning != "Yes" {
		t.Fatalf("a refused stop stopped the applier: %+v", s)
	}
	if out, err := cli("cli-token", "stop", "--sql", "--relay-dir", relayDir); err != nil || !strings.Contains(out, "Replica_SQL_Running: No") {
		t.Fatalf("stop --sql: %v\n%s", err, out)
	}
	if err := src.Exec(ctx, "INSERT INTO cli.t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if out, err := cli("cli-token", "delay", "1", "--admin", addr); err != nil || !strings.Contains(out, "SQL_Delay: 1") {
		t.Fatalf("delay: %v\n%s", err, out)
	}
	if out, err := cli("cli-token", "start", "--relay-dir", relayDir); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	waitCaughtUp(t, src, dst, nil, time.Minute)
	s := status()
	if s.ReplicaIORunning != "Yes" || s.ReplicaSQLRunning != "Yes" || s.SQLDelay != 1 || !strings.Contains(s.ExecutedGtidSet, "0-") {
		t.Fatalf("status after start: %+v", s)
	}
	out, err := cli("", "status", "--relay-dir", relayDir)
	if err != nil || !strings.Contains(out, "Replica_SQL_Running: Yes") || !strings.Contains(out, "WORKER_ID: 1") {
		t.Fatalf("status for a person: %v\n%s", err, out)
	}
	if strings.Contains(out, mariadbtest.ReplPassword) {
		t.Fatal("the status shows the source password")
	}
}
