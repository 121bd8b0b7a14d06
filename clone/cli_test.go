package clone_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// TestCLICloneThenRun: `mtreplica clone --then-run` clones, then replicates what the source writes afterwards.
func TestCLICloneThenRun(t *testing.T) {
	src, dst := pair(t)
	ctx := context.Background()
	if err := src.Exec(ctx, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO app.t VALUES (1, 'a'), (2, 'b')"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mtreplica")
	build := exec.Command("go", "build", "-o", bin, "../cmd/mtreplica")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "clone", "--source-host", src.Host, "--source-port", strconv.Itoa(src.Port), "--source-user", "root",
		"--target-host", dst.Host, "--target-port", strconv.Itoa(dst.Port), "--target-user", "root",
		"--relay-log-dir", filepath.Join(dir, "relay"), "--clone-workers", "2", "--then-run", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("mtreplica clone --then-run: %v", err)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Error("mtreplica did not stop on SIGINT")
		}
	}()
	if err := src.Exec(ctx, "INSERT INTO app.t VALUES (3, 'c')", "UPDATE app.t SET v = 'z' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		rows, err := dst.QueryRows(ctx, "SELECT GROUP_CONCAT(id, v ORDER BY id) FROM app.t")
		if err == nil && len(rows) == 1 && rows[0][0] == "1z,2b,3c" {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("mtreplica exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("target has %v after 60s, want 1z,2b,3c", rows)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := mariadbtest.Compare(ctx, src, dst, "app"); err != nil {
		t.Fatal(err)
	}
}
