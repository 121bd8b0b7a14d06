package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/admin"
)

// adminFlags are the admin endpoint's options, for run and for the commands
// that talk to it.
type adminFlags struct {
	addr      string
	tokenFile string
	relayDir  string // clients: find the daemon's address in RELAY_DIR/admin.addr
	fs        *flag.FlagSet
}

// addrFile, in the relay log directory, names the address the daemon's admin
// endpoint listens on, so that commands given --relay-dir find that daemon.
const addrFile = "admin.addr"

func (a *adminFlags) register(fs *flag.FlagSet, server bool) {
	a.fs = fs
	def := admin.DefaultAddr
	if v, ok := os.LookupEnv("MTREPLICA_ADMIN"); ok {
		def = v
	}
	help := "admin endpoint host:port (default $MTREPLICA_ADMIN or " + admin.DefaultAddr + ")"
	if server {
		help += "; \"off\" disables it. /status and /metrics are open on loopback; control calls need the token"
	}
	fs.StringVar(&a.addr, "admin", def, help)
	fs.StringVar(&a.tokenFile, "admin-token-file", os.Getenv("MTREPLICA_ADMIN_TOKEN_FILE"),
		"file holding the admin token (else $MTREPLICA_ADMIN_TOKEN)")
	if !server {
		fs.StringVar(&a.relayDir, "relay-dir", "", "the daemon's relay log directory: its admin address is read from RELAY_DIR/"+addrFile+" unless --admin is given")
	}
}

// resolve picks the address for a client: --admin or $MTREPLICA_ADMIN when
// given, else the one the daemon of --relay-dir recorded, else (no
// --relay-dir) the default. It returns false when there is none: the daemon
// of --relay-dir serves no endpoint (the default address may be another's).
func (a *adminFlags) resolve() bool {
	if a.explicit() || a.relayDir == "" {
		return true
	}
	b, err := os.ReadFile(filepath.Join(a.relayDir, addrFile))
	if err != nil {
		return false
	}
	a.addr = strings.TrimSpace(string(b))
	return true
}

func (a *adminFlags) enabled() bool { return a.addr != "" && a.addr != "off" }

// explicit reports whether the address was chosen (flag or environment), not the default.
func (a *adminFlags) explicit() bool {
	set := false
	a.fs.Visit(func(f *flag.Flag) { set = set || f.Name == "admin" })
	_, env := os.LookupEnv("MTREPLICA_ADMIN")
	return set || env
}

// token reads the admin token: the file, else $MTREPLICA_ADMIN_TOKEN; "" when neither is set.
func (a *adminFlags) token() (string, error) {
	if a.tokenFile != "" {
		b, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return "", fmt.Errorf("admin token: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("admin token file %s is empty", a.tokenFile)
		}
		return tok, nil
	}
	return os.Getenv("MTREPLICA_ADMIN_TOKEN"), nil
}

func (a *adminFlags) client() (*admin.Client, error) {
	if !a.resolve() {
		return nil, fmt.Errorf("the daemon of %s serves no admin endpoint (no %s there): start it with --admin, or give --admin", a.relayDir, addrFile)
	}
	tok, err := a.token()
	if err != nil {
		return nil, err
	}
	return &admin.Client{Addr: a.addr, Token: tok}, nil
}

// prepare gives the replica a registry of its own (with the Go runtime and
// process collectors) and, with the endpoint on, keeps the daemon running
// when a thread stops with an error, so the operator can fix, skip and
// start it again.
func (a *adminFlags) prepare(cfg *mtreplica.Config) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Registerer = reg
	cfg.KeepRunningOnError = a.enabled()
	return reg
}

// start serves the admin endpoint. An address in use is fatal when it was
// chosen, and only a warning for the default one (another daemon has it).
func (a *adminFlags) start(r *mtreplica.Replica, reg *prometheus.Registry, log *slog.Logger, relayDir string) (stop func(), err error) {
	if !a.enabled() {
		return func() {}, nil
	}
	tok, err := a.token()
	if err != nil {
		return nil, err
	}
	srv, err := admin.Listen(r, admin.Options{Addr: a.addr, Token: tok, Gatherer: reg, Logger: log.With("component", "admin")})
	if err != nil {
		if !a.explicit() && errors.Is(err, syscall.EADDRINUSE) {
			log.Warn("admin endpoint not started: its default address is in use; choose one with --admin", "addr", a.addr)
			return func() {}, nil
		}
		return nil, fmt.Errorf("%w (choose another with --admin, or --admin off)", err)
	}
	if tok == "" {
		log.Warn("admin endpoint without a token: control calls are refused; set --admin-token-file or MTREPLICA_ADMIN_TOKEN")
	}
	log.Info("admin endpoint", "addr", "http://"+srv.Addr(), "control", tok != "")
	go func() {
		if err := srv.Serve(); err != nil {
			log.Error("admin endpoint", "err", err)
		}
	}()
	af := filepath.Join(relayDir, addrFile)
	if err := os.MkdirAll(relayDir, 0o750); err == nil {
		if err := os.WriteFile(af, []byte(srv.Addr()+"\n"), 0o644); err != nil {
			log.Warn("admin endpoint: record its address", "err", err)
		}
	}
	return func() {
		srv.Close()
		os.Remove(af)
	}, nil
}
