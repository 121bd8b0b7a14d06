package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/internal/dsn"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// An option is one setting of `mtreplica run`. Its name is the YAML key
// (lower case, as CHANGE REPLICATION SOURCE TO and the replica_* system
// variables name it); the flag is the name with dashes (--source-host), the
// environment variable MTREPLICA_ and the name in upper case
// (MTREPLICA_SOURCE_HOST). Flags override the environment, which overrides
// the file.
type option struct {
	name    string
	kind    kind
	help    string
	aliases []string // earlier flag names and YAML keys, still accepted
}

type kind int

const (
	kString kind = iota
	kInt
	kBool
	kDuration
	kList // YAML list, comma-separated string, or a repeated flag
)

// options lists every setting. Passwords have no option of their own: they
// come from a *_password_file or from MTREPLICA_SOURCE_PASSWORD /
// MTREPLICA_TARGET_PASSWORD, never from a flag or the YAML file.
var options = []option{
	{name: "source_host", help: "SOURCE_HOST: the source's host name or address (resolved again at every connect)"},
	{name: "source_port", kind: kInt, help: "SOURCE_PORT (default 3306)"},
	{name: "source_user", help: "SOURCE_USER: a user with REPLICATION SLAVE and REPLICATION CLIENT"},
	{name: "source_password_file", help: "file holding SOURCE_PASSWORD (or set $MTREPLICA_SOURCE_PASSWORD)"},
	{name: "source_ssl", kind: kBool, help: "SOURCE_SSL: require TLS to the source (never falls back to plaintext)"},
	{name: "source_ssl_ca", help: "SOURCE_SSL_CA: CA file; the source's certificate chain is verified against it"},
	{name: "source_ssl_cert", help: "SOURCE_SSL_CERT: client certificate file"},
	{name: "source_ssl_key", help: "SOURCE_SSL_KEY: client key file"},
	{name: "source_ssl_verify_server_cert", kind: kBool, help: "SOURCE_SSL_VERIFY_SERVER_CERT: also check the certificate names source_host"},
	{name: "source_heartbeat_period", kind: kDuration, help: "SOURCE_HEARTBEAT_PERIOD, e.g. 5s (default 5s)"},
	{name: "source_connect_retry", kind: kDuration, help: "SOURCE_CONNECT_RETRY: first reconnect delay, doubled with jitter up to 60s (default 1s)"},
	{name: "source_retry_count", kind: kInt, help: "SOURCE_RETRY_COUNT: consecutive failed connects before giving up (default 0: forever)"},
	{name: "replica_net_timeout", kind: kDuration, help: "replica_net_timeout: a source connection silent this long is dropped (default 2x the heartbeat period)"},
	{name: "source_log_file", help: "SOURCE_LOG_FILE: binlog file to start from when the target has no progress yet", aliases: []string{"start_file"}},
	{name: "source_log_pos", kind: kInt, help: "SOURCE_LOG_POS: position in source_log_file (default 4)", aliases: []string{"start_pos"}},
	{name: "start_gtid", help: "GTID set to start after when the target has no progress yet"},
	{name: "flavor", help: "source flavor: mariadb (default) or mysql"},
	{name: "server_id", kind: kInt, help: "our server_id on the source (default: random)"},
	{name: "source", help: "the source as a DSN, user@tcp(host:port)/?tls=...: the earlier form of the source_* options, which override it"},

	{name: "target_host", help: "the target's host name or address"},
	{name: "target_port", kind: kInt, help: "the target's port (default 3306)"},
	{name: "target_user", help: "the target user"},
	{name: "target_password_file", help: "file holding the target password (or set $MTREPLICA_TARGET_PASSWORD)"},
	{name: "target_ssl", kind: kBool, help: "require TLS to the target (never falls back to plaintext)"},
	{name: "target_ssl_ca", help: "CA file; the target's certificate chain is verified against it"},
	{name: "target_ssl_cert", help: "client certificate file for the target"},
	{name: "target_ssl_key", help: "client key file for the target"},
	{name: "target_ssl_verify_server_cert", kind: kBool, help: "also check the target's certificate names target_host"},
	{name: "target", help: "the target as a DSN: the earlier form of the target_* options, which override it"},

	{name: "relay_log_dir", help: "relay log directory", aliases: []string{"relay_dir"}},
	{name: "relay_segment_size", kind: kInt, help: "rotate relay log segments past this many bytes (default 256 MiB)"},
	{name: "channel", help: "replication channel name in the progress table"},
	{name: "replica_parallel_workers", kind: kInt, help: "parallel workers, each with its own target connection (default 1)", aliases: []string{"workers"}},
	{name: "replica_preserve_commit_order", kind: kBool, help: "commit in source order (default true)", aliases: []string{"preserve_commit_order"}},
	{name: "group_transactions", kind: kInt, help: "consecutive transactions a worker may apply as one target transaction (default 256; 1: one each)"},
	{name: "pipeline", kind: kBool, help: "start a transaction that changes only rows once those before it have applied their changes (not committed them): the target's row locks order them (default true; with one worker there is nothing to overlap)"},
	{name: "row_apply", help: "how row events are applied: sql (default; statements, columns matched by name) or binlog (BINLOG statements: the target applies the events natively; MariaDB source, same table layout, BINLOG REPLAY privilege)"},
	{name: "dependency_tracking", help: "commit-order, logical-clock, writeset, database, or a combination with + (default logical-clock+writeset)"},
	{name: "idempotent", kind: kBool, help: "ignore missing rows and duplicate keys instead of stopping (replica_exec_mode=IDEMPOTENT)"},
	{name: "replica_skip_errors", kind: kList, help: "target error codes after which a transaction is skipped (recorded, counted), e.g. 1062,1032"},
	{name: "allow_statement_format", kind: kBool, help: "accept a source with binlog_format STATEMENT or MIXED"},
	{name: "no_receiver", kind: kBool, help: "run only the applier, on what the relay log holds"},
	{name: "no_applier", kind: kBool, help: "run only the receiver, filling the relay log"},
	{name: "log_level", help: "debug, info (default), warn, error"},

	{name: "replicate_do_db", kind: kList, help: "replicate only these databases"},
	{name: "replicate_ignore_db", kind: kList, help: "do not replicate these databases"},
	{name: "replicate_do_table", kind: kList, help: "replicate only these tables (db.table)"},
	{name: "replicate_ignore_table", kind: kList, help: "do not replicate these tables (db.table)"},
	{name: "replicate_wild_do_table", kind: kList, help: "replicate only tables matching these patterns (db%.t_%)"},
	{name: "replicate_wild_ignore_table", kind: kList, help: "do not replicate tables matching these patterns"},
	{name: "replicate_rewrite_db", kind: kList, help: "rename databases: from_db->to_db"},
	{name: "replicate_mysql_schema", kind: kBool, help: "replicate the mysql schema and account statements (CREATE USER, GRANT, ...), off by default"},
}

// flagName, envName: how an option is spelled as a flag and in the environment.
func flagName(name string) string { return strings.ReplaceAll(name, "_", "-") }
func envName(name string) string  { return "MTREPLICA_" + strings.ToUpper(name) }

// setting is one option's value and where it came from (for messages).
type setting struct {
	vals   []string
	origin string
}

// settings collects the three layers.
type settings struct {
	byName map[string]*option
	alias  map[string]string // alias -> name
	yaml   map[string]setting
	env    map[string]setting
	flags  map[string]setting
	errs   []error
}

func newSettings() *settings {
	s := &settings{byName: map[string]*option{}, alias: map[string]string{}, yaml: map[string]setting{},
		env: map[string]setting{}, flags: map[string]setting{}}
	for i := range options {
		o := &options[i]
		s.byName[o.name] = o
		for _, a := range o.aliases {
			s.alias[a] = o.name
		}
	}
	return s
}

// register adds a flag for every option and alias to fs.
func (s *settings) register(fs *flag.FlagSet) {
	for i := range options {
		o := &options[i]
		for _, n := range append([]string{o.name}, o.aliases...) {
			fl, help := flagName(n), o.help
			if n != o.name {
				help = "same as --" + flagName(o.name)
			}
			set := func(v string) error {
				prev := s.flags[o.name]
				if o.kind != kList || prev.origin != "flag --"+fl {
					prev = setting{origin: "flag --" + fl}
				}
				prev.vals = append(prev.vals, v)
				s.flags[o.name] = prev
				return nil
			}
			if o.kind == kBool {
				fs.BoolFunc(fl, help, set)
			} else {
				fs.Func(fl, help, set)
			}
		}
	}
}

// refusePasswordFlags rejects a password given as a flag, without repeating
// it: a command line is visible to every user of the machine.
func refusePasswordFlags(args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "source-password" || name == "target-password") {
			return fmt.Errorf("--%s is not accepted (a command line is visible to every user of the machine): "+
				"use --%s-file or $%s", name, name, envName(strings.ReplaceAll(name, "-", "_")))
		}
	}
	return nil
}

// readYAML reads the configuration file: a mapping of option names (or
// aliases) to scalars, or to lists for list options.
func (s *settings) readYAML(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("read configuration file: %w", err))
		return
	}
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		s.errs = append(s.errs, fmt.Errorf("configuration file %s: %w", path, err))
		return
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		node := doc[k]
		origin := fmt.Sprintf("%s line %d: %s", path, node.Line, k)
		name := k
		if a, ok := s.alias[k]; ok {
			name = a
		}
		o, ok := s.byName[name]
		switch {
		case k == "source_password" || k == "target_password":
			s.errs = append(s.errs, fmt.Errorf("%s: passwords are not read from the configuration file: put it in %s_file, or set $%s",
				origin, k, envName(k)))
			continue
		case !ok:
			s.errs = append(s.errs, fmt.Errorf("%s: unknown option: see `mtreplica run -h` for the list%s", origin, suggest(k)))
			continue
		}
		var vals []string
		switch node.Kind {
		case yaml.ScalarNode:
			vals = []string{node.Value}
		case yaml.SequenceNode:
			if o.kind != kList {
				s.errs = append(s.errs, fmt.Errorf("%s: give one value, not a list", origin))
				continue
			}
			for _, n := range node.Content {
				vals = append(vals, n.Value)
			}
		default:
			s.errs = append(s.errs, fmt.Errorf("%s: give a value or a list of values", origin))
			continue
		}
		s.yaml[name] = setting{vals: vals, origin: origin}
	}
}

// readEnv reads MTREPLICA_<NAME> for every option.
func (s *settings) readEnv() {
	for _, o := range options {
		for _, n := range append([]string{o.name}, o.aliases...) {
			if v, ok := os.LookupEnv(envName(n)); ok {
				s.env[o.name] = setting{vals: []string{v}, origin: "environment variable " + envName(n)}
				break
			}
		}
	}
}

// get returns an option's value from the highest layer that has it.
func (s *settings) get(name string) (setting, bool) {
	for _, layer := range []map[string]setting{s.flags, s.env, s.yaml} {
		if v, ok := layer[name]; ok {
			return v, true
		}
	}
	return setting{}, false
}

func (s *settings) fail(st setting, format string, args ...any) {
	s.errs = append(s.errs, fmt.Errorf("%s: %s", st.origin, fmt.Sprintf(format, args...)))
}

func (s *settings) str(name string) string {
	st, ok := s.get(name)
	if !ok {
		return ""
	}
	return strings.TrimSpace(st.vals[len(st.vals)-1])
}

func (s *settings) has(name string) bool { _, ok := s.get(name); return ok }

func (s *settings) integer(name string, bits int) int64 {
	st, ok := s.get(name)
	if !ok {
		return 0
	}
	v, err := strconv.ParseInt(strings.TrimSpace(st.vals[len(st.vals)-1]), 10, bits)
	if err != nil || v < 0 {
		s.fail(st, "%q is not a number in range: give one, e.g. %s", st.vals[len(st.vals)-1], exampleOf(name))
		return 0
	}
	return v
}

func (s *settings) boolean(name string) (v, set bool) {
	st, ok := s.get(name)
	if !ok {
		return false, false
	}
	b, err := strconv.ParseBool(strings.TrimSpace(st.vals[len(st.vals)-1]))
	if err != nil {
		s.fail(st, "%q is not a boolean: use true or false (1 or 0)", st.vals[len(st.vals)-1])
		return false, false
	}
	return b, true
}

func (s *settings) duration(name string) time.Duration {
	st, ok := s.get(name)
	if !ok {
		return 0
	}
	d, err := parseDuration(strings.TrimSpace(st.vals[len(st.vals)-1]))
	if err != nil || d < 0 {
		s.fail(st, "%q is not a duration: give seconds (5, 0.5) or a Go duration (5s, 250ms)", st.vals[len(st.vals)-1])
		return 0
	}
	return d
}

func (s *settings) list(name string) []string {
	st, ok := s.get(name)
	if !ok {
		return nil
	}
	var out []string
	for _, v := range st.vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func exampleOf(name string) string {
	switch name {
	case "source_port", "target_port":
		return "3306"
	case "replica_parallel_workers":
		return "8"
	}
	return "100"
}

// suggest proposes the option a misspelt key probably meant.
func suggest(k string) string {
	k = strings.ReplaceAll(strings.ToLower(k), "-", "_")
	for _, o := range options {
		if o.name == k || slices.Contains(o.aliases, k) {
			return fmt.Sprintf(" (did you mean %s?)", o.name)
		}
	}
	for _, o := range options {
		if strings.Contains(o.name, k) || strings.Contains(k, o.name) {
			return fmt.Sprintf(" (did you mean %s?)", o.name)
		}
	}
	return ""
}

// endpoint is what the source_* or target_* options say about one server.
type endpoint struct {
	host     string
	port     uint16
	user     string
	password string
	tls      *tls.Config
}

// endpoint builds a server's address, user, password and TLS from the DSN
// option (prefix "source" or "target") and the prefix_* options overriding it.
func (s *settings) endpoint(prefix string) endpoint {
	var e endpoint
	var d dsn.DSN
	if st, ok := s.get(prefix); ok {
		var err error
		if d, err = dsn.Parse(s.str(prefix)); err != nil {
			s.fail(st, "%v", err)
		}
		e.host, e.port, e.user, e.password = d.Host, d.Port, d.User, d.Password
	}
	if v := s.str(prefix + "_host"); v != "" {
		e.host = v
	}
	if s.has(prefix + "_port") {
		e.port = uint16(s.integer(prefix+"_port", 17))
	}
	if v := s.str(prefix + "_user"); v != "" {
		e.user = v
	}
	// The password: a file, else the environment, else the DSN (earlier form).
	pwEnv := envName(prefix + "_password")
	if st, ok := s.get(prefix + "_password_file"); ok {
		b, err := os.ReadFile(s.str(prefix + "_password_file"))
		if err != nil {
			s.fail(st, "read the password file: %v", err)
		}
		e.password = strings.TrimRight(string(b), "\r\n")
	} else if v, ok := os.LookupEnv(pwEnv); ok {
		e.password = v
	}
	// TLS: the prefix_ssl* options, else the DSN's tls parameters.
	files := tlsFiles{ca: s.str(prefix + "_ssl_ca"), cert: s.str(prefix + "_ssl_cert"), key: s.str(prefix + "_ssl_key")}
	on, onSet := s.boolean(prefix + "_ssl")
	verify, _ := s.boolean(prefix + "_ssl_verify_server_cert")
	files.verifyName = verify
	anyFile := files.ca != "" || files.cert != "" || files.key != "" || verify
	switch {
	case onSet && !on && anyFile:
		s.errs = append(s.errs, fmt.Errorf("%s_ssl is false but %s_ssl_ca/_cert/_key/_verify_server_cert are set: "+
			"set %s_ssl=true (TLS required) or remove the others", prefix, prefix, prefix))
	case on || anyFile:
		c, err := files.config(e.host)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s TLS: %w", prefix, err))
		}
		e.tls = c
	case !onSet && d.Host != "":
		c, err := tlsFromDSN(d)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s: %w", prefix, err))
		}
		e.tls = c
	}
	return e
}

// tlsFiles are the SSL options of one server, as CHANGE REPLICATION SOURCE TO
// has them: a CA makes the certificate chain verified, verifyName also checks
// the host name (verifyName without a CA verifies against the system's roots).
// Neither: encrypted, the server not authenticated (MySQL's REQUIRED).
type tlsFiles struct {
	ca, cert, key string
	verifyName    bool
}

func (f tlsFiles) config(host string) (*tls.Config, error) {
	mode := "required"
	switch {
	case f.verifyName:
		mode = "verify-identity"
	case f.ca != "":
		mode = "verify-ca"
	}
	return buildTLS(mode, host, f.ca, f.cert, f.key)
}

// buildTLS returns the TLS settings for a mode: required (encrypted, not
// verified), verify-ca (chain checked against ca), verify-identity (chain and
// host name).
func buildTLS(mode, host, ca, cert, key string) (*tls.Config, error) {
	c := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	var errs []error
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			errs = append(errs, fmt.Errorf("CA file: %w", err))
		} else {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				errs = append(errs, fmt.Errorf("CA file %s holds no PEM certificate: give the CA's certificate", ca))
			}
			c.RootCAs = pool
		}
	}
	switch mode {
	case "required":
		c.InsecureSkipVerify = true // encrypted, not verified (as MySQL's REQUIRED)
	case "verify-ca":
		// Verify the chain but not the host name.
		c.InsecureSkipVerify = true
		c.VerifyPeerCertificate = verifyChain(c.RootCAs)
	}
	if cert != "" || key != "" {
		if cert == "" || key == "" {
			errs = append(errs, errors.New("a client certificate needs both the certificate and the key file"))
		} else if kp, err := tls.LoadX509KeyPair(cert, key); err != nil {
			errs = append(errs, fmt.Errorf("client certificate: %w", err))
		} else {
			c.Certificates = []tls.Certificate{kp}
		}
	}
	return c, errors.Join(errs...)
}

// verifyChain checks the server's certificate chain against roots (nil: the system's).
func verifyChain(roots *x509.CertPool) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
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

// tlsFromDSN reads the DSN form's parameters: tls=required|verify-ca|verify-identity, tls-ca, tls-cert, tls-key.
func tlsFromDSN(d dsn.DSN) (*tls.Config, error) {
	mode := d.Params["tls"]
	switch mode {
	case "", "disabled", "false":
		return nil, nil
	case "true":
		mode = "required"
	case "required", "verify-ca", "verify-identity":
	default:
		return nil, fmt.Errorf("tls=%q: use disabled, required, verify-ca or verify-identity", mode)
	}
	if mode == "required" && d.Params["tls-ca"] != "" {
		mode = "verify-ca"
	}
	return buildTLS(mode, d.Host, d.Params["tls-ca"], d.Params["tls-cert"], d.Params["tls-key"])
}

// parseDuration accepts Go durations ("5s") and plain seconds ("5", as MySQL takes them).
func parseDuration(s string) (time.Duration, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(v * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

// config builds the engine's configuration from the settings. Every problem
// is reported, each naming where the value came from and what to change.
func (s *settings) config() (mtreplica.Config, error) {
	var cfg mtreplica.Config
	level := slog.LevelInfo
	if v := s.str("log_level"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			st, _ := s.get("log_level")
			s.fail(st, "%q: use debug, info, warn or error", v)
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if v := s.str("flavor"); v != "" {
		fl, err := gtid.ParseFlavor(v)
		if err != nil {
			st, _ := s.get("flavor")
			s.fail(st, "%v", err)
		}
		cfg.Source.Flavor = fl
	} else if st, ok := s.get("source"); ok {
		if d, err := dsn.Parse(st.vals[len(st.vals)-1]); err == nil && d.Params["flavor"] != "" {
			fl, err := gtid.ParseFlavor(d.Params["flavor"])
			if err != nil {
				s.fail(st, "%v", err)
			}
			cfg.Source.Flavor = fl
		}
	}
	src := s.endpoint("source")
	cfg.Source.Host, cfg.Source.Port, cfg.Source.User, cfg.Source.Password, cfg.Source.TLS =
		src.host, src.port, src.user, src.password, src.tls
	if src.user == "" && src.host != "" {
		s.errs = append(s.errs, errors.New("source user is empty: set source_user (--source-user or MTREPLICA_SOURCE_USER)"))
	}
	dst := s.endpoint("target")
	if dst.host != "" {
		port := dst.port
		if port == 0 {
			port = 3306
		}
		cfg.Target = applier.TargetOptions{Addr: dsn.DSN{Host: dst.host, Port: port}.Addr(), User: dst.user,
			Password: dst.password, TLS: dst.tls}
	}
	cfg.Source.ServerID = uint32(s.integer("server_id", 33))
	cfg.Source.HeartbeatPeriod = s.duration("source_heartbeat_period")
	cfg.Source.ConnectRetry = s.duration("source_connect_retry")
	cfg.Source.RetryCount = int(s.integer("source_retry_count", 32))
	cfg.Source.NetTimeout = s.duration("replica_net_timeout")
	cfg.Source.AllowStatementFormat, _ = s.boolean("allow_statement_format")
	cfg.StartGTID = s.str("start_gtid")
	if f := s.str("source_log_file"); f != "" {
		cfg.StartFile, cfg.StartPos = f, 4
		if s.has("source_log_pos") {
			cfg.StartPos = uint32(s.integer("source_log_pos", 33))
		}
	} else if st, ok := s.get("source_log_pos"); ok {
		s.fail(st, "source_log_pos needs source_log_file: set both, or neither")
	}
	cfg.RelayDir = s.str("relay_log_dir")
	cfg.RelaySegmentSize = s.integer("relay_segment_size", 64)
	cfg.Channel = s.str("channel")
	cfg.Workers = int(s.integer("replica_parallel_workers", 32))
	if v, ok := s.boolean("replica_preserve_commit_order"); ok {
		cfg.UnorderedCommits = !v
	}
	cfg.DependencyTracking = s.str("dependency_tracking")
	cfg.GroupTransactions = int(s.integer("group_transactions", 32))
	cfg.RowApply = s.str("row_apply")
	if v, set := s.boolean("pipeline"); set {
		cfg.NoPipeline = !v
	}
	cfg.Idempotent, _ = s.boolean("idempotent")
	cfg.NoReceiver, _ = s.boolean("no_receiver")
	cfg.NoApplier, _ = s.boolean("no_applier")
	for _, v := range s.list("replica_skip_errors") {
		code, err := strconv.ParseUint(v, 10, 16)
		if err != nil || code == 0 {
			st, _ := s.get("replica_skip_errors")
			s.fail(st, "%q is not a server error code: list codes such as 1062,1032", v)
			continue
		}
		cfg.SkipErrors = append(cfg.SkipErrors, uint16(code))
	}
	cfg.Filter.DoDB = s.list("replicate_do_db")
	cfg.Filter.IgnoreDB = s.list("replicate_ignore_db")
	cfg.Filter.DoTable = s.list("replicate_do_table")
	cfg.Filter.IgnoreTable = s.list("replicate_ignore_table")
	cfg.Filter.WildDoTable = s.list("replicate_wild_do_table")
	cfg.Filter.WildIgnoreTable = s.list("replicate_wild_ignore_table")
	cfg.Filter.RewriteDB = s.list("replicate_rewrite_db")
	cfg.Filter.ReplicateSystemSchema, _ = s.boolean("replicate_mysql_schema")
	return cfg, errors.Join(s.errs...)
}
