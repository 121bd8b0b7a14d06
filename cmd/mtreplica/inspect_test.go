package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtreplica/mtreplica/internal/binlogenc"
)

// TestCmdInspect: flags may follow the files; a file that is not a binlog fails the command, the others are
// still reported.
func TestCmdInspect(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "binlog.000001")
	enc := binlogenc.New(binlogenc.MySQL8, 1)
	if err := os.WriteFile(good, append(enc.File(), enc.Rotate("binlog.000002", 4)...), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(bad, []byte("not a binlog"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmdInspect([]string{good, "--json"}); err != nil {
		t.Errorf("inspect %s --json: %v", good, err)
	}
	if err := cmdInspect([]string{"--decoders", "1", good, bad}); err == nil || !strings.Contains(err.Error(), "1 of 2 files failed") {
		t.Errorf("inspect with a bad file: %v", err)
	}
	if err := cmdInspect(nil); err == nil {
		t.Error("inspect without files: no error")
	}
}
