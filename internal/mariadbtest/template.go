package mariadbtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// binaries are the resolved paths of the programs this package runs.
type binaries struct {
	mariadbd  string
	installDB string
	version   string // first line of `mariadbd --version`
}

// searchDirs are tried after $PATH: Debian installs mariadbd in /usr/sbin, which is not on every user's PATH.
var searchDirs = []string{"/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/mysql/bin"}

func lookBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range searchDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, ErrNotInstalled)
}

var (
	binOnce sync.Once
	binRes  binaries
	binErr  error
)

// findBinaries locates mariadbd and mariadb-install-db and reads the server version, once per process.
func findBinaries() (binaries, error) {
	binOnce.Do(func() {
		var b binaries
		if b.mariadbd, binErr = lookBinary("mariadbd"); binErr != nil {
			return
		}
		if b.installDB, binErr = lookBinary("mariadb-install-db"); binErr != nil {
			return
		}
		out, err := exec.Command(b.mariadbd, "--no-defaults", "--version").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("%s --version: %w: %s", b.mariadbd, err, bytesTrim(out))
			return
		}
		b.version = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
		binRes = b
	})
	return binRes, binErr
}

// Available reports whether mariadbd and mariadb-install-db can be found (on $PATH or in /usr/sbin and similar).
// The error wraps ErrNotInstalled and names the apt-get command that installs them.
func Available() error {
	_, err := findBinaries()
	return err
}

// templateRecipe changes whenever the way the template is built changes, so old templates are not reused.
const templateRecipe = "mtreplica-mariadbtest-template-v1"

// templateSQL runs inside mariadb-install-db's bootstrap, after the system tables exist. FLUSH PRIVILEGES turns the
// grant tables on (bootstrap runs with them off), so CREATE USER and GRANT work. The root@<hostname> entries the
// installer adds are dropped: with skip-name-resolve they only produce warnings at every start.
const templateSQL = `FLUSH PRIVILEGES;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'root'@'%';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'replpass';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%';
DELETE FROM mysql.global_priv WHERE Host NOT IN ('localhost', '127.0.0.1', '::1', '%');
DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '127.0.0.1', '::1', '%');
`

// ReplUser and ReplPassword name the least-privilege replication account every server has
// (REPLICATION SLAVE and REPLICATION CLIENT, which MariaDB 10.11 shows as BINLOG MONITOR).
const (
	ReplUser     = "repl"
	ReplPassword = "replpass"
)

func installArgs(dataDir, extraFile string) []string {
	args := []string{
		"--no-defaults",
		"--datadir=" + dataDir,
		"--auth-root-authentication-method=normal", // root@localhost without password, usable over the socket
		"--skip-test-db",
		"--skip-name-resolve",
		"--extra-file=" + extraFile,
		"--innodb-log-file-size=" + DefaultRedoLogSize,
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	return args
}

// templateKey names the template for this mariadbd build and this recipe.
func templateKey(b binaries) string {
	h := sha256.New()
	for _, s := range append([]string{templateRecipe, templateSQL, b.mariadbd, b.version}, installArgs("", "")...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

var (
	templateMu   sync.Mutex
	templateDirs = map[string]string{} // key -> ready template dir
)

// templateDir returns a datadir freshly produced by mariadb-install-db, building it on first use.
//
// The template lives at os.TempDir()/mtreplica-mariadb-template-<key>, where key hashes the mariadbd path, its
// --version output and the recipe, so a different server build never reuses a stale template. It is built in a
// temporary sibling directory and renamed into place, so a template that exists is complete. A lock file serialises
// builders across processes (go test runs package binaries in parallel); the rename alone would also be safe, it only
// wastes the losers' work.
func templateDir(ctx context.Context, b binaries, logf func(string, ...any)) (string, error) {
	key := templateKey(b)
	templateMu.Lock()
	defer templateMu.Unlock()
	if d, ok := templateDirs[key]; ok {
		return d, nil
	}
	final := filepath.Join(os.TempDir(), "mtreplica-mariadb-template-"+key)
	if isDir(final) {
		templateDirs[key] = final
		return final, nil
	}

	unlock, err := lockFile(ctx, final+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if isDir(final) { // another process built it while we waited
		templateDirs[key] = final
		return final, nil
	}

	start := time.Now()
	tmp, err := os.MkdirTemp(os.TempDir(), "mtreplica-mariadb-template-"+key+".tmp-")
	if err != nil {
		return "", fmt.Errorf("create template dir: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	extra := filepath.Join(tmp, "template.sql")
	if err := os.WriteFile(extra, []byte(templateSQL), 0o600); err != nil {
		return "", fmt.Errorf("write template sql: %w", err)
	}
	data := filepath.Join(tmp, "data")
	cmd := exec.CommandContext(ctx, b.installDB, installArgs(data, extra)...)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("mariadb-install-db: %w\n%s", err, tail(string(out), 30))
	}
	if err := os.Remove(extra); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		if isDir(final) { // lost a race with a process that does not take the lock
			templateDirs[key] = final
			return final, nil
		}
		return "", fmt.Errorf("install template: %w", err)
	}
	logf("mariadbtest: built template datadir %s (%s) in %v", final, b.version, time.Since(start).Round(time.Millisecond))
	templateDirs[key] = final
	return final, nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can cancel the wait.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open template lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for template lock %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// copyTree copies the regular files and directories under src to dst (which must not exist), keeping permission
// bits. On Linux io.Copy between files uses copy_file_range, so the data does not pass through user space.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Mkdir(target, info.Mode().Perm()|0o700)
		case info.Mode().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		default:
			return nil // sockets, pipes: nothing the server needs
		}
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func bytesTrim(b []byte) string { return strings.TrimSpace(string(b)) }
