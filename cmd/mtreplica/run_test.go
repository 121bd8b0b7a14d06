package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// TestRunFromYAMLAndEnvironment runs `mtreplica run` in-process from a YAML
// file, a password in the environment and one in a file, with a filter:
// it replicates, keeps the ignored database and the accounts out, and nothing
// it prints (debug log, admin /status and /metrics) holds a password.
func TestRunFromYAMLAndEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB servers")
	}
	src := mariadbtest.Start(t, mariadbtest.Options{})
	dst := mariadbtest.Start(t, mariadbtest.Options{})
	secret := func() string {
		b := make([]byte, 8)
		rand.Read(b)
		return "Pw-cli-" + hex.EncodeToString(b)
	}
	srcPW, dstPW := secret(), secret()
	ctx := context.Background()
	if err := src.Exec(ctx, fmt.Sprintf("CREATE USER 'clirepl'@'%%' IDENTIFIED BY '%s'", srcPW),
		"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'clirepl'@'%'",
		"CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO app.t VALUES (1, 'a'), (2, 'b')",
		"CREATE DATABASE scratch", "USE scratch", "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO scratch.t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, fmt.Sprintf("CREATE USER 'cliapply'@'%%' IDENTIFIED BY '%s'", dstPW), "GRANT ALL ON *.* TO 'cliapply'@'%'"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "target.pw")
	if err := os.WriteFile(pwFile, []byte(dstPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	relayDir := filepath.Join(dir, "relay")
	yamlPath := filepath.Join(dir, "mtreplica.yaml")
	if err := os.WriteFile(yamlPath, []byte(fmt.Sprintf(`
source_host: %s
source_port: %d
source_user: clirepl
target_host: %s
target_port: %d
target_user: cliapply
target_password_file: %s
relay_log_dir: %s
source_heartbeat_period: 1
replicate_ignore_db: [scratch]
`, src.Host, src.Port, dst.Host, dst.Port, pwFile, relayDir)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MTREPLICA_SOURCE_PASSWORD", srcPW)

	// Capture what the daemon prints.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	var printed bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&printed, r); close(copied) }()
	restore := func() {
		if os.Stderr == w {
			os.Stderr = stderr
			w.Close()
			<-copied
		}
	}
	defer restore()

	done := make(chan error, 1)
	go func() {
		done <- cmdRun([]string{"--config", yamlPath, "--log-level", "debug", "--admin", "127.0.0.1:0"})
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		rows, err := dst.QueryRows(ctx, "SELECT COUNT(*) FROM app.t")
		if err == nil && len(rows) == 1 && rows[0][0] == "2" {
			break
		}
		select {
		case err := <-done:
			restore()
			t.Fatalf("run stopped: %v\n%s", err, printed.String())
		default:
		}
		if time.Now().After(deadline) {
			restore()
			t.Fatalf("not replicated in a minute (%v)\n%s", err, printed.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	var seen []string
	if addr, err := os.ReadFile(filepath.Join(relayDir, "admin.addr")); err == nil {
		for _, path := range []string{"/status", "/metrics"} {
			resp, err := http.Get("http://" + strings.TrimSpace(string(addr)) + path)
			if err != nil {
				t.Errorf("GET %s: %v", path, err)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			seen = append(seen, string(b))
		}
	} else {
		t.Logf("no admin endpoint address recorded (%v): /status and /metrics not scanned", err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after SIGINT: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("run did not stop after SIGINT")
	}
	restore()
	if status, err := os.ReadFile(filepath.Join(relayDir, "status.json")); err == nil {
		seen = append(seen, string(status))
	}
	out := printed.String()
	seen = append(seen, out)
	for _, q := range []string{
		"SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'scratch'",
		"SELECT COUNT(*) FROM mysql.user WHERE user = 'clirepl'",
	} {
		if rows, err := dst.QueryRows(ctx, q); err != nil || rows[0][0] != "0" {
			t.Errorf("%s: %v %v, want 0 (filtered)", q, rows, err)
		}
	}
	if !strings.Contains(out, "replica starting") {
		t.Errorf("the daemon's log was not captured:\n%s", out)
	}
	all := strings.Join(seen, "\n")
	for _, pw := range []string{srcPW, dstPW} {
		if strings.Contains(all, pw) {
			t.Errorf("a password appears in the daemon's output, status or metrics")
		}
	}
	t.Logf("scanned %d bytes of output, status and metrics", len(all))
}
