package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/internal/dsn"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// fileConfig is the YAML configuration file. Names follow CHANGE REPLICATION SOURCE TO.
type fileConfig struct {
	Source                string `yaml:"source"` // DSN
	SourcePasswordFile    string `yaml:"source_password_file"`
	Target                string `yaml:"target"`
	TargetPasswordFile    string `yaml:"target_password_file"`
	Flavor                string `yaml:"flavor"`
	RelayDir              string `yaml:"relay_dir"`
	ServerID              uint32 `yaml:"server_id"`
	SourceHeartbeatPeriod string `yaml:"source_heartbeat_period"`
	SourceConnectRetry    string `yaml:"source_connect_retry"`
	StartGTID             string `yaml:"start_gtid"`
	StartFile             string `yaml:"start_file"`
	StartPos              uint32 `yaml:"start_pos"`
	Channel               string `yaml:"channel"`
	RelaySegmentSize      int64  `yaml:"relay_segment_size"`
	Idempotent            bool   `yaml:"idempotent"`
	AllowStatement        bool   `yaml:"allow_statement_format"`
	LogLevel              string `yaml:"log_level"`
	Workers               int    `yaml:"replica_parallel_workers"`
	PreserveCommitOrder   *bool  `yaml:"replica_preserve_commit_order"`
	NoReceiver            bool   `yaml:"no_receiver"`
	NoApplier             bool   `yaml:"no_applier"`
	DependencyTracking    string `yaml:"dependency_tracking"`
}

type runFlags struct {
	fileConfig
	config     string
	statusFile string
}

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var f runFlags
	fs.StringVar(&f.config, "config", "", "YAML configuration file (flags override it)")
	fs.StringVar(&f.Source, "source", "", "source DSN: user[:password]@tcp(host:port)/ (password also from $MTREPLICA_SOURCE_PASSWORD or --source-password-file)")
	fs.StringVar(&f.SourcePasswordFile, "source-password-file", "", "file holding the source password")
	fs.StringVar(&f.Target, "target", "", "target DSN: user[:password]@tcp(host:port)/ (password also from $MTREPLICA_TARGET_PASSWORD or --target-password-file)")
	fs.StringVar(&f.TargetPasswordFile, "target-password-file", "", "file holding the target password")
	fs.StringVar(&f.Flavor, "flavor", "", "source flavor: mariadb (default) or mysql")
	fs.StringVar(&f.RelayDir, "relay-dir", "", "relay log directory")
	var serverID uint
	fs.UintVar(&serverID, "server-id", 0, "our server_id on the source (default: random)")
	fs.StringVar(&f.SourceHeartbeatPeriod, "source-heartbeat-period", "", "SOURCE_HEARTBEAT_PERIOD, e.g. 5s")
	fs.StringVar(&f.SourceConnectRetry, "source-connect-retry", "", "SOURCE_CONNECT_RETRY, first reconnect delay, e.g. 1s")
	fs.StringVar(&f.StartGTID, "start-gtid", "", "GTID set to start after when the target has no progress yet")
	fs.StringVar(&f.StartFile, "start-file", "", "source binlog file to start from when the target has no progress yet")
	var startPos uint
	fs.UintVar(&startPos, "start-pos", 4, "position in --start-file")
	fs.StringVar(&f.Channel, "channel", "", "replication channel name in the progress table")
	fs.BoolVar(&f.Idempotent, "idempotent", false, "ignore missing rows and duplicate keys instead of stopping (counted, logged)")
	fs.BoolVar(&f.AllowStatement, "allow-statement-format", false, "accept a source with binlog_format STATEMENT or MIXED")
	fs.StringVar(&f.LogLevel, "log-level", "", "debug, info (default), warn, error")
	fs.IntVar(&f.Workers, "workers", 0, "parallel workers, each with its own target connection (replica_parallel_workers; default 1)")
	preserve := fs.Bool("preserve-commit-order", true, "commit in source order (replica_preserve_commit_order)")
	fs.StringVar(&f.DependencyTracking, "dependency-tracking", "", "commit-order, logical-clock, writeset, database, or a combination with + (default logical-clock+writeset)")
	fs.BoolVar(&f.NoReceiver, "no-receiver", false, "run only the applier, on what the relay log holds")
	fs.BoolVar(&f.NoApplier, "no-applier", false, "run only the receiver, filling the relay log")
	fs.StringVar(&f.statusFile, "status-file", "", "where to write status JSON every second (default RELAY_DIR/status.json)")
	fs.Parse(args)

	var fc fileConfig
	if f.config != "" {
		b, err := os.ReadFile(f.config)
		if err != nil {
			return fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&fc); err != nil {
			return fmt.Errorf("config %s: %w", f.config, err)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	override(&fc.Source, f.Source)
	override(&fc.SourcePasswordFile, f.SourcePasswordFile)
	override(&fc.Target, f.Target)
	override(&fc.TargetPasswordFile, f.TargetPasswordFile)
	override(&fc.Flavor, f.Flavor)
	override(&fc.RelayDir, f.RelayDir)
	override(&fc.SourceHeartbeatPeriod, f.SourceHeartbeatPeriod)
	override(&fc.SourceConnectRetry, f.SourceConnectRetry)
	override(&fc.StartGTID, f.StartGTID)
	override(&fc.StartFile, f.StartFile)
	override(&fc.Channel, f.Channel)
	override(&fc.LogLevel, f.LogLevel)
	override(&fc.DependencyTracking, f.DependencyTracking)
	if set["server-id"] {
		fc.ServerID = uint32(serverID)
	}
	if set["start-pos"] || fc.StartPos == 0 {
		fc.StartPos = uint32(startPos)
	}
	if set["idempotent"] {
		fc.Idempotent = f.Idempotent
	}
	if set["workers"] {
		fc.Workers = f.Workers
	}
	if set["preserve-commit-order"] {
		fc.PreserveCommitOrder = preserve
	}
	if set["no-receiver"] {
		fc.NoReceiver = f.NoReceiver
	}
	if set["no-applier"] {
		fc.NoApplier = f.NoApplier
	}
	if set["allow-statement-format"] {
		fc.AllowStatement = f.AllowStatement
	}

	cfg, err := buildConfig(fc)
	if err != nil {
		return err
	}
	statusFile := f.statusFile
	if statusFile == "" {
		statusFile = filepath.Join(cfg.RelayDir, "status.json")
	}
	r, err := mtreplica.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan struct{})
	go writeStatus(ctx, r, statusFile, done)
	err = r.Run(ctx)
	<-done
	writeStatusOnce(r, statusFile)
	return err
}

func override(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func buildConfig(fc fileConfig) (mtreplica.Config, error) {
	var cfg mtreplica.Config
	var errs []error
	level := slog.LevelInfo
	if fc.LogLevel != "" {
		if err := level.UnmarshalText([]byte(fc.LogLevel)); err != nil {
			errs = append(errs, fmt.Errorf("log level %q: use debug, info, warn or error", fc.LogLevel))
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if fc.Flavor != "" {
		fl, err := gtid.ParseFlavor(fc.Flavor)
		if err != nil {
			errs = append(errs, err)
		}
		cfg.Source.Flavor = fl
	}
	src, err := dsn.Parse(fc.Source)
	if err != nil {
		errs = append(errs, fmt.Errorf("source: %w", err))
	} else {
		pw, err := password(src.Password, fc.SourcePasswordFile, "MTREPLICA_SOURCE_PASSWORD")
		if err != nil {
			errs = append(errs, fmt.Errorf("source password: %w", err))
		}
		cfg.Source.Host, cfg.Source.Port, cfg.Source.User, cfg.Source.Password = src.Host, src.Port, src.User, pw
		if cfg.Source.TLS, err = tlsConfig(src); err != nil {
			errs = append(errs, fmt.Errorf("source: %w", err))
		}
		if fl := src.Params["flavor"]; fl != "" && fc.Flavor == "" {
			if cfg.Source.Flavor, err = gtid.ParseFlavor(fl); err != nil {
				errs = append(errs, err)
			}
		}
	}
	dst, err := dsn.Parse(fc.Target)
	if err != nil {
		errs = append(errs, fmt.Errorf("target: %w", err))
	} else {
		pw, err := password(dst.Password, fc.TargetPasswordFile, "MTREPLICA_TARGET_PASSWORD")
		if err != nil {
			errs = append(errs, fmt.Errorf("target password: %w", err))
		}
		cfg.Target = applier.TargetOptions{Addr: dst.Addr(), User: dst.User, Password: pw}
		if cfg.Target.TLS, err = tlsConfig(dst); err != nil {
			errs = append(errs, fmt.Errorf("target: %w", err))
		}
	}
	cfg.RelayDir = fc.RelayDir
	cfg.Source.ServerID = fc.ServerID
	if fc.SourceHeartbeatPeriod != "" {
		if cfg.Source.HeartbeatPeriod, err = parseDuration(fc.SourceHeartbeatPeriod); err != nil {
			errs = append(errs, fmt.Errorf("source_heartbeat_period: %w", err))
		}
	}
	if fc.SourceConnectRetry != "" {
		if cfg.Source.ConnectRetry, err = parseDuration(fc.SourceConnectRetry); err != nil {
			errs = append(errs, fmt.Errorf("source_connect_retry: %w", err))
		}
	}
	cfg.StartGTID, cfg.Channel, cfg.RelaySegmentSize = fc.StartGTID, fc.Channel, fc.RelaySegmentSize
	if fc.StartFile != "" {
		cfg.StartFile, cfg.StartPos = fc.StartFile, fc.StartPos
	}
	cfg.Idempotent, cfg.Source.AllowStatementFormat = fc.Idempotent, fc.AllowStatement
	cfg.Workers, cfg.NoReceiver, cfg.NoApplier = fc.Workers, fc.NoReceiver, fc.NoApplier
	cfg.DependencyTracking = fc.DependencyTracking
	if fc.PreserveCommitOrder != nil {
		cfg.UnorderedCommits = !*fc.PreserveCommitOrder
	}
	return cfg, errors.Join(errs...)
}

// parseDuration accepts Go durations ("5s") and plain seconds ("5", as MySQL takes them).
func parseDuration(s string) (time.Duration, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(v * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

func password(inDSN, file, env string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if v, ok := os.LookupEnv(env); ok {
		return v, nil
	}
	return inDSN, nil
}

// tlsConfig builds the TLS settings from DSN parameters: tls=required|verify-ca|verify-identity, tls-ca, tls-cert, tls-key.
func tlsConfig(d dsn.DSN) (*tls.Config, error) {
	mode := d.Params["tls"]
	switch mode {
	case "", "disabled", "false":
		return nil, nil
	case "required", "true", "verify-ca", "verify-identity":
	default:
		return nil, fmt.Errorf("tls=%q: use disabled, required, verify-ca or verify-identity", mode)
	}
	c := &tls.Config{ServerName: d.Host, MinVersion: tls.VersionTLS12}
	if ca := d.Params["tls-ca"]; ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls-ca %s: no certificates found", ca)
		}
		c.RootCAs = pool
	} else if mode != "verify-identity" && mode != "verify-ca" {
		c.InsecureSkipVerify = true // tls=required: encrypted, not verified (as MySQL's REQUIRED)
	}
	if mode == "verify-ca" {
		// Verify the chain but not the host name.
		c.InsecureSkipVerify = true
		roots := c.RootCAs
		c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("server sent no certificate")
			}
			certs := make([]*x509.Certificate, len(raw))
			for i, r := range raw {
				cert, err := x509.ParseCertificate(r)
				if err != nil {
					return err
				}
				certs[i] = cert
			}
			inter := x509.NewCertPool()
			for _, ce := range certs[1:] {
				inter.AddCert(ce)
			}
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	if cert, key := d.Params["tls-cert"], d.Params["tls-key"]; cert != "" || key != "" {
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("tls-cert/tls-key: %w", err)
		}
		c.Certificates = []tls.Certificate{kp}
	}
	return c, nil
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
