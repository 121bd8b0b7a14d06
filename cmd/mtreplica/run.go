package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mtreplica/mtreplica"
)

type runFlags struct {
	config     string
	statusFile string
}

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mtreplica run [options]\n\n"+
			"Every option is also read from the YAML file given by --config (key: the option name with\n"+
			"underscores, e.g. source_host) and from the environment (MTREPLICA_SOURCE_HOST). Flags override the\n"+
			"environment, which overrides the file. Passwords come only from a *_password_file or from\n"+
			"$MTREPLICA_SOURCE_PASSWORD / $MTREPLICA_TARGET_PASSWORD.\n\n")
		fs.PrintDefaults()
	}
	var f runFlags
	fs.StringVar(&f.config, "config", os.Getenv("MTREPLICA_CONFIG"), "YAML configuration file (flags and environment override it; default $MTREPLICA_CONFIG)")
	fs.StringVar(&f.statusFile, "status-file", "", "where to write status JSON every second (default RELAY_DIR/status.json)")
	set := newSettings()
	set.register(fs)
	var adm adminFlags
	adm.register(fs, true)
	if err := refusePasswordFlags(args); err != nil {
		return err
	}
	fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: options are given as --name value", fs.Arg(0))
	}
	if f.config != "" {
		set.readYAML(f.config)
	}
	set.readEnv()
	cfg, err := set.config()
	reg := adm.prepare(&cfg)
	r, nerr := mtreplica.New(cfg) // its checks too: every problem is reported at once
	if err != nil || nerr != nil {
		return fmt.Errorf("configuration:\n%w", errors.Join(err, nerr))
	}
	warnTLS(cfg)
	statusFile := f.statusFile
	if statusFile == "" {
		statusFile = filepath.Join(cfg.RelayDir, "status.json")
	}
	closeAdmin, err := adm.start(r, reg, cfg.Logger, cfg.RelayDir)
	if err != nil {
		return err
	}
	defer closeAdmin()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan struct{})
	go writeStatus(ctx, r, statusFile, done)
	err = r.Run(ctx)
	<-done
	writeStatusOnce(r, statusFile)
	return err
}

// warnTLS logs TLS settings that encrypt without authenticating the server.
func warnTLS(cfg mtreplica.Config) {
	for _, c := range []struct {
		who string
		tls *tls.Config
	}{{"source", cfg.Source.TLS}, {"target", cfg.Target.TLS}} {
		if c.tls != nil && c.tls.InsecureSkipVerify && c.tls.VerifyPeerCertificate == nil {
			cfg.Logger.Warn("TLS encrypts but does not authenticate the server: set "+c.who+"_ssl_ca (and "+
				c.who+"_ssl_verify_server_cert) to verify it", "server", c.who)
		}
	}
}

func writeStatus(ctx context.Context, r *mtreplica.Replica, path string, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			writeStatusOnce(r, path)
		}
	}
}

func writeStatusOnce(r *mtreplica.Replica, path string) {
	b, err := json.MarshalIndent(r.Status(), "", "  ")
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err == nil {
		os.Rename(tmp, path)
	}
}
