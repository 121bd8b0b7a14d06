package relaylog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrLocked is returned by Open when another Log (in this process or another)
// has the directory open: two writers would corrupt the relay log.
var ErrLocked = errors.New("relay log directory is in use")

// lockDir takes an exclusive advisory lock (flock) on DIR/BASE.lock. The
// kernel drops it when the process dies, so a kill -9 leaves no stale lock.
func lockDir(dir, base string) (*os.File, error) {
	path := filepath.Join(dir, base+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("lock relay log: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by another mtreplica (stop it first, or use another --relay-dir)", ErrLocked, path)
		}
		return nil, fmt.Errorf("lock relay log %s: %w", path, err)
	}
	return f, nil
}
