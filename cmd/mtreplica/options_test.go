package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// parse runs the option layers as cmdRun does, with yamlText as the file.
func parse(t *testing.T, yamlText string, args ...string) (*settings, error) {
	t.Helper()
	set := newSettings()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	set.register(fs)
	if err := refusePasswordFlags(args); err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if yamlText != "" {
		p := filepath.Join(t.TempDir(), "mtreplica.yaml")
		if err := os.WriteFile(p, []byte(yamlText), 0o600); err != nil {
			t.Fatal(err)
		}
		set.readYAML(p)
	}
	set.readEnv()
	return set, nil
}

func TestOptionLayers(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "target.pw")
	os.WriteFile(pwFile, []byte("target-secret\n"), 0o600)
	t.Setenv("MTREPLICA_SOURCE_PASSWORD", "source-secret")
	t.Setenv("MTREPLICA_SOURCE_PORT", "3310")
	t.Setenv("MTREPLICA_REPLICA_PARALLEL_WORKERS", "4")
	set, err := parse(t, `
source_host: db1.example
source_port: 3309
source_user: repl
target_host: 127.0.0.1
target_port: 3307
target_user: root
target_password_file: `+pwFile+`
relay_dir: /var/lib/mtreplica
source_heartbeat_period: 2
replicate_do_db: [app, shop]
replicate_rewrite_db: old->app
replica_skip_errors: 1062,1032
`, "--source-host", "db2.example", "--workers", "8", "--replicate-ignore-table", "app.log", "--replicate-ignore-table", "app.tmp",
		"--preserve-commit-order=false", "--source-log-file", "mysql-bin.000003")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := set.config()
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Source
	if s.Host != "db2.example" || s.Port != 3310 || s.User != "repl" || s.Password != "source-secret" ||
		s.HeartbeatPeriod != 2*time.Second {
		t.Errorf("source %+v (flag over env over file)", s)
	}
	if cfg.Target.Addr != "127.0.0.1:3307" || cfg.Target.User != "root" || cfg.Target.Password != "target-secret" {
		t.Errorf("target %s", cfg.Target)
	}
	if cfg.Workers != 8 || !cfg.UnorderedCommits || cfg.RelayDir != "/var/lib/mtreplica" || cfg.StartFile != "mysql-bin.000003" || cfg.StartPos != 4 {
		t.Errorf("workers %d unordered %v relay %q start %s:%d", cfg.Workers, cfg.UnorderedCommits, cfg.RelayDir, cfg.StartFile, cfg.StartPos)
	}
	f := cfg.Filter
	if fmt.Sprint(f.DoDB, f.IgnoreTable, f.RewriteDB, cfg.SkipErrors) != "[app shop] [app.log app.tmp] [old->app] [1062 1032]" {
		t.Errorf("filters %+v, skip errors %v", f, cfg.SkipErrors)
	}
	if out := fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg); strings.Contains(out, "secret") {
		t.Errorf("formatted config shows a password: %s", out)
	}
}

// TestOptionsEarlierForm: today's DSN flags still work.
func TestOptionsEarlierForm(t *testing.T) {
	set, err := parse(t, "", "--source", "repl:pw@tcp(127.0.0.1:4000)/?tls=required", "--target", "root@tcp(127.0.0.1:4001)/",
		"--relay-dir", "/r", "--start-gtid", "0-1-5", "--source-heartbeat-period", "1s")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := set.config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.Host != "127.0.0.1" || cfg.Source.Port != 4000 || cfg.Source.Password != "pw" || cfg.Source.TLS == nil ||
		cfg.Target.Addr != "127.0.0.1:4001" || cfg.StartGTID != "0-1-5" {
		t.Errorf("config %+v source tls %v", cfg, cfg.Source.TLS != nil)
	}
	if cfg.NoPipeline {
		t.Error("pipelining is the default")
	}
}

// TestOptionPipeline: pipelining is on unless turned off, from any layer.
func TestOptionPipeline(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		args []string
		off  bool
	}{
		{"", nil, false},
		{"", []string{"--pipeline=false"}, true},
		{"pipeline: false\n", nil, true},
		{"pipeline: false\n", []string{"--pipeline"}, false},
	} {
		set, err := parse(t, tc.yaml, append([]string{"--source", "repl@tcp(127.0.0.1:4000)/", "--target", "root@tcp(127.0.0.1:4001)/", "--relay-dir", "/r"}, tc.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := set.config()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.NoPipeline != tc.off {
			t.Errorf("yaml %q args %v: NoPipeline %v, want %v", tc.yaml, tc.args, cfg.NoPipeline, tc.off)
		}
	}
}

// TestOptionErrors: every problem at once, each naming where it came from and what to do.
func TestOptionErrors(t *testing.T) {
	t.Setenv("MTREPLICA_SOURCE_PORT", "x")
	set, err := parse(t, `
source_password: hunter2
sourec_host: a
source_heartbeat_period: soon
replicate_do_table: notqualified
target_ssl: false
target_ssl_ca: /nonexistent/ca.pem
`, "--workers", "many", "--replica-skip-errors", "1062,abc", "--source-log-pos", "9")
	if err != nil {
		t.Fatal(err)
	}
	_, err = set.config()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		"source_password: passwords are not read from the configuration file",
		"sourec_host: unknown option",
		"environment variable MTREPLICA_SOURCE_PORT",
		"source_heartbeat_period: \"soon\" is not a duration",
		"flag --workers: \"many\"",
		"\"abc\" is not a server error code",
		"source_log_pos needs source_log_file",
		"target_ssl is false but",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("error shows the password:\n%s", msg)
	}
	// A password flag is refused.
	for _, args := range [][]string{{"--source-password", "hunter2"}, {"-target-password=hunter2"}} {
		if _, err := parse(t, "", args...); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%v: %v", args, err)
		}
	}
}

func TestOptionTLSModes(t *testing.T) {
	set, err := parse(t, "", "--source-host", "h", "--source-user", "u", "--source-ssl")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := set.config()
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Source.TLS; c == nil || !c.InsecureSkipVerify || c.VerifyPeerCertificate != nil {
		t.Errorf("source_ssl alone: want encrypted, not verified: %+v", c)
	}
	set, _ = parse(t, "", "--source-host", "h", "--source-user", "u", "--source-ssl-verify-server-cert")
	cfg, err = set.config()
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Source.TLS; c == nil || c.InsecureSkipVerify || c.ServerName != "h" {
		t.Errorf("verify server cert: want full verification of h: %+v", c)
	}
}
