package mariadbtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// Timeouts of the server lifecycle.
const (
	readyTimeout    = 30 * time.Second // from exec to the first successful query
	shutdownTimeout = 60 * time.Second // SIGTERM to exit, before SIGKILL
	portAttempts    = 5                // a free port may be taken between probing and mariadbd's bind
)

// Server is one running mariadbd started by this package. Its exported fields are set by Start and must not be
// changed. Methods are safe for concurrent use, except Restart and Kill, which must not overlap other calls.
type Server struct {
	Host     string // always 127.0.0.1
	Port     int    // TCP port on Host
	Dir      string // root of everything the server owns (see the package doc for the layout)
	DataDir  string // Dir/data: the datadir, holding the binlog files
	Socket   string // unix socket, root@localhost without password
	PID      int    // process id of mariadbd
	ServerID uint32 // server_id
	DomainID uint32 // gtid_domain_id
	Binlog   bool   // log_bin is on
	Version  string // `mariadbd --version`

	opts Options
	bin  binaries
	lay  layout

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd.Wait returns
	waitErr error         // cmd.Wait's result, valid after exited is closed
	killed  bool          // Kill or Stop signalled the process: its exit is expected
	stopped bool
	stopErr error
}

// layout names the files of one server directory.
type layout struct{ dir string }

func (l layout) dataDir() string  { return filepath.Join(l.dir, "data") }
func (l layout) tmpDir() string   { return filepath.Join(l.dir, "tmp") }
func (l layout) socket() string   { return filepath.Join(l.dir, "mariadbd.sock") }
func (l layout) pidFile() string  { return filepath.Join(l.dir, "mariadbd.pid") }
func (l layout) errorLog() string { return filepath.Join(l.dir, "error.log") }
func (l layout) ownerFile() string {
	return filepath.Join(l.dir, "owner") // pid of the process that started the server, for sweepStale
}
func (l layout) keepFile() string { return filepath.Join(l.dir, "keep") } // present when KeepDir: never swept

// serverDirPrefix starts the name of every server directory under os.TempDir().
const serverDirPrefix = "mtreplica-mariadb-srv-"

// Start starts a throwaway server for a test and registers t.Cleanup to stop it and remove its directory.
// When mariadbd is not installed the test is skipped, unless env CI is set (and not "false"/"0") or
// MTREPLICA_REQUIRE_MARIADB=1, in which case it fails and names the apt-get command to run.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if err := Available(); err != nil {
		if !requireServer() {
			t.Skipf("mariadbtest: %v", err)
		}
		t.Fatalf("mariadbtest: %v (CI or MTREPLICA_REQUIRE_MARIADB=1 requires a server)", err)
	}
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // covers a first template build
	defer cancel()
	s, err := StartServer(ctx, opts)
	if err != nil {
		t.Fatalf("mariadbtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("mariadbtest: %v", err)
		}
	})
	return s
}

func requireServer() bool {
	ci := strings.ToLower(os.Getenv("CI"))
	return (ci != "" && ci != "false" && ci != "0") || os.Getenv("MTREPLICA_REQUIRE_MARIADB") == "1"
}

// StartServer starts a throwaway server for a program that is not a test (the demo, the benchmark harness).
// ctx bounds the start only; the server runs until Stop, or until this process dies (Linux kills it then).
// The caller must call Stop.
func StartServer(ctx context.Context, opts Options) (*Server, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("mariadbtest options: %w", err)
	}
	b, err := findBinaries()
	if err != nil {
		return nil, err
	}
	sweepOnce.Do(func() { sweepStale(serverBase(), opts.Logf) })
	tmpl, err := templateDir(ctx, b, opts.Logf)
	if err != nil {
		return nil, err
	}

	start := time.Now()
	dir, err := makeServerDir(opts.KeepDir)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Host:     "127.0.0.1",
		Dir:      dir,
		DataDir:  layout{dir}.dataDir(),
		Socket:   layout{dir}.socket(),
		ServerID: opts.ServerID,
		DomainID: opts.DomainID,
		Binlog:   !opts.NoBinlog,
		Version:  b.version,
		opts:     opts,
		bin:      b,
		lay:      layout{dir},
	}
	for attempt := 1; ; attempt++ {
		if err = s.prepareDataDir(tmpl); err != nil {
			break
		}
		var port int
		if port, err = freePort(); err != nil {
			break
		}
		if err = s.launch(ctx, port); err == nil || !errors.Is(err, errPortInUse) || attempt == portAttempts {
			break
		}
		opts.Logf("mariadbtest: port %d was taken, retrying with another", port)
	}
	if err != nil {
		if !opts.KeepDir {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	opts.Logf("mariadbtest: server_id=%d domain=%d on %s started in %v (%s)",
		s.ServerID, s.DomainID, s.Addr(), time.Since(start).Round(time.Millisecond), s.Dir)
	return s, nil
}

// makeServerDir creates the server's root directory, short enough for a unix socket path (108 bytes on Linux).
func makeServerDir(keep bool) (string, error) {
	dir, err := os.MkdirTemp(serverBase(), serverDirPrefix)
	if err != nil {
		return "", fmt.Errorf("create server dir: %w", err)
	}
	l := layout{dir}
	if err := os.WriteFile(l.ownerFile(), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return "", err
	}
	if keep {
		if err := os.WriteFile(l.keepFile(), nil, 0o600); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// serverBase is the parent of server directories: os.TempDir(), unless that is too long for a socket path.
func serverBase() string {
	if base := os.TempDir(); len(base) <= 60 {
		return base
	}
	return "/tmp"
}

// prepareDataDir (re)creates the datadir as a copy of the template, and an empty tmpdir.
func (s *Server) prepareDataDir(tmpl string) error {
	for _, d := range []string{s.lay.dataDir(), s.lay.tmpDir()} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	os.Remove(s.lay.errorLog())
	if err := copyTree(filepath.Join(tmpl, "data"), s.lay.dataDir()); err != nil {
		return fmt.Errorf("copy template datadir: %w", err)
	}
	return os.Mkdir(s.lay.tmpDir(), 0o700)
}

// freePort asks the kernel for a free loopback port. Another process may take it before mariadbd binds it;
// launch reports that as errPortInUse and StartServer retries.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var errPortInUse = errors.New("port already in use")

// launch execs mariadbd on the existing datadir and waits until it answers a query over TCP.
func (s *Server) launch(ctx context.Context, port int) error {
	logFile, err := os.OpenFile(s.lay.errorLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(s.bin.mariadbd, s.opts.mariadbdArgs(s.lay, port)...)
	cmd.Dir = s.Dir
	cmd.Stdout = logFile // early errors (bad options) are printed before --log-error is opened
	cmd.Stderr = logFile
	if err := startProcess(cmd); err != nil {
		return fmt.Errorf("exec %s: %w", s.bin.mariadbd, err)
	}
	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.exited, s.killed, s.waitErr = cmd, exited, false, nil
	if s.Port != port { // Restart keeps the port: no write that Addr, read without the lock, could race with
		s.Port = port
	}
	s.PID = cmd.Process.Pid
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(exited)
	}()

	if err := s.waitReady(ctx, exited); err != nil {
		s.kill()
		if strings.Contains(s.errorLogTail(), "Address already in use") {
			return fmt.Errorf("start mariadbd on port %d: %w", port, errPortInUse)
		}
		return fmt.Errorf("start mariadbd in %s: %w\nerror log tail:\n%s", s.Dir, err, s.errorLogTail())
	}
	return nil
}

func (s *Server) waitReady(ctx context.Context, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last error
	for {
		select {
		case <-exited:
			s.mu.Lock()
			err := s.waitErr
			s.mu.Unlock()
			return fmt.Errorf("mariadbd exited during startup: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("mariadbd not ready after %v: %w (last error: %v)", readyTimeout, ctx.Err(), last)
		default:
		}
		_, last = s.QueryRows(ctx, "SELECT 1")
		if last == nil {
			return nil
		}
		var myErr *mysql.MyError
		if errors.As(last, &myErr) { // it answered, with an error: waiting will not help
			return fmt.Errorf("mariadbd refused the readiness query: %w", last)
		}
		select {
		case <-exited:
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Stop shuts the server down with SIGTERM (a clean shutdown takes ~40 ms; after a minute it gets SIGKILL) and
// removes its directory unless KeepDir. It reports a server that exited on its own before Stop (a crash) or ignored
// SIGTERM. Calling Stop again returns the first result.
func (s *Server) Stop() error {
	s.mu.Lock()
	if s.stopped {
		defer s.mu.Unlock()
		return s.stopErr
	}
	s.mu.Unlock()

	var errs []error
	if err := s.shutdown(); err != nil {
		errs = append(errs, err)
	}
	if !s.opts.KeepDir {
		if err := os.RemoveAll(s.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", s.Dir, err))
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		err = fmt.Errorf("stop server_id=%d on %s: %w", s.ServerID, s.Addr(), err)
	}
	s.mu.Lock()
	s.stopped, s.stopErr = true, err
	s.mu.Unlock()
	s.opts.Logf("mariadbtest: stopped server_id=%d on %s", s.ServerID, s.Addr())
	return err
}

// Kill sends SIGKILL to the server and waits for it to exit, keeping its directory: a crash, for recovery tests.
// Restart brings it back on the same port and datadir.
func (s *Server) Kill() error {
	if crashed := s.kill(); crashed != nil {
		return crashed
	}
	return nil
}

// kill SIGKILLs the process if it is still running and waits for it. It returns an error only when the process
// had already exited without being asked to.
func (s *Server) kill() error {
	s.mu.Lock()
	cmd, exited, asked := s.cmd, s.exited, s.killed
	s.killed = true
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-exited:
		if !asked {
			return s.unexpectedExit()
		}
		return nil
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGKILL) // our child, not yet reaped: the pid cannot have been reused
	<-exited
	return nil
}

// shutdown sends SIGTERM and waits for a clean exit, falling back to SIGKILL.
func (s *Server) shutdown() error {
	s.mu.Lock()
	cmd, exited, asked := s.cmd, s.exited, s.killed
	s.killed = true
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-exited:
		if !asked {
			return s.unexpectedExit()
		}
		return nil
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return nil
	case <-time.After(shutdownTimeout):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		return fmt.Errorf("mariadbd did not shut down within %v of SIGTERM; killed", shutdownTimeout)
	}
}

func (s *Server) unexpectedExit() error {
	s.mu.Lock()
	err := s.waitErr
	s.mu.Unlock()
	return fmt.Errorf("mariadbd exited before Stop (%v)\nerror log tail:\n%s", err, s.errorLogTail())
}

// Restart shuts the server down cleanly (if it is running) and starts it again on the same port and datadir,
// with the same options. After Kill this is crash recovery. PID changes.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return ErrStopped
	}
	if err := s.shutdown(); err != nil {
		return fmt.Errorf("restart server_id=%d: %w", s.ServerID, err)
	}
	if err := s.launch(ctx, s.Port); err != nil {
		return fmt.Errorf("restart server_id=%d: %w", s.ServerID, err)
	}
	return nil
}

// Running reports whether the mariadbd process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	exited := s.exited
	s.mu.Unlock()
	if exited == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// ErrorLog returns the path of the server's error log.
func (s *Server) ErrorLog() string { return s.lay.errorLog() }

// errorLogTail returns the last lines of the error log, for error messages.
func (s *Server) errorLogTail() string {
	b, err := os.ReadFile(s.lay.errorLog())
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(b) > 16<<10 {
		b = b[len(b)-16<<10:]
	}
	return tail(string(b), 25)
}

var sweepOnce sync.Once

// sweepStale removes server directories left behind by processes that died without calling Stop (a go test
// timeout, a crashed demo): the owner process is gone, the server is gone (Linux killed it with its owner) and the
// directory was not created with KeepDir. Nothing is signalled; only directories are removed.
func sweepStale(base string, logf func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(base, serverDirPrefix+"*"))
	for _, dir := range dirs {
		l := layout{dir}
		if _, err := os.Stat(l.keepFile()); err == nil {
			continue
		}
		owner, err := readPID(l.ownerFile())
		if err != nil || processAlive(owner) {
			continue // no owner file yet (being created) or owner still running
		}
		if pid, err := readPID(l.pidFile()); err == nil && processAlive(pid) {
			continue
		}
		if os.RemoveAll(dir) == nil {
			logf("mariadbtest: removed stale server dir %s (owner pid %d is gone)", dir, owner)
		}
	}
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// processAlive probes pid with signal 0, which checks existence without delivering anything.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
