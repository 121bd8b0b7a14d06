package replica

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/mtreplica/mtreplica/internal/gtid"
)

// SourceInfo is what the preflight learned about the source.
type SourceInfo struct {
	Version    string      // @@version, e.g. "10.11.19-MariaDB-0+deb12u1"
	Flavor     gtid.Flavor // from the version string
	ServerID   uint32
	ServerUUID string // MySQL server_uuid; "" on MariaDB

	LogBin            bool
	BinlogFormat      string // ROW, MIXED, STATEMENT
	BinlogRowImage    string // FULL, MINIMAL, NOBLOB (MariaDB 11: FULL_NODUP)
	BinlogRowMetadata string // FULL, MINIMAL, NO_LOG; "" when the server has no such variable
	BinlogChecksum    string // CRC32 or NONE
	// ExpireLogsSeconds is how long the source keeps binlogs (binlog_expire_logs_seconds,
	// else expire_logs_days); 0 = forever.
	ExpireLogsSeconds int64
	MaxAllowedPacket  int64

	GTIDMode       string // MySQL gtid_mode (OFF ... ON); "ON" on MariaDB, which always writes GTIDs
	GTIDDomainID   uint32 // MariaDB gtid_domain_id
	GTIDStrictMode bool   // MariaDB gtid_strict_mode
	GTIDPosition   string // MariaDB gtid_binlog_pos; MySQL gtid_executed

	User     string   // CURRENT_USER(), e.g. "repl@127.0.0.1"
	Grants   []string // SHOW GRANTS FOR CURRENT_USER()
	Warnings []string // settings that work but deserve a change (logged as warnings)
}

// sourceVariables are read with one SHOW GLOBAL VARIABLES; absent ones stay "".
var sourceVariables = []string{
	"version", "server_id", "server_uuid", "log_bin", "binlog_format", "binlog_row_image",
	"binlog_row_metadata", "binlog_checksum", "binlog_expire_logs_seconds", "expire_logs_days",
	"max_allowed_packet", "gtid_mode", "gtid_domain_id", "gtid_strict_mode", "gtid_binlog_pos", "gtid_executed",
}

// Preflight connects to the source, reads its settings and the user's grants,
// and checks that replication from it can work (see the package doc for the
// list). Failures come back as one or more *PreflightError joined together,
// together with the SourceInfo read; warnings are logged and listed in
// SourceInfo.Warnings. Checks that depend on the start position (gtid_mode)
// run in Run.
func (c *Client) Preflight(ctx context.Context) (*SourceInfo, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		if fe := classify(err); fe != nil {
			return nil, fmt.Errorf("preflight: %w", fe)
		}
		return nil, fmt.Errorf("preflight: connect to %s: %w", c.addr(), err)
	}
	defer conn.Close()
	sock := conn.Conn.Conn // the socket: go-mysql's Close races with a read in flight
	stop := context.AfterFunc(ctx, func() { sock.Close() })
	defer stop()
	info, err := c.preflightConn(conn, false)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return info, err
}

// preflightConn runs the checks on an open connection and logs new warnings.
func (c *Client) preflightConn(conn *client.Conn, gtidStart bool) (*SourceInfo, error) {
	info, err := readSourceInfo(conn)
	if err != nil {
		return nil, err
	}
	checkErr := checkSource(info, c.opts, gtidStart)
	c.mu.Lock()
	var fresh []string
	for _, w := range info.Warnings {
		if !c.warned[w] {
			c.warned[w] = true
			fresh = append(fresh, w)
		}
	}
	c.mu.Unlock()
	for _, w := range fresh {
		c.log.Warn("source setting", "warning", w)
	}
	return info, checkErr
}

// dial opens a plain client connection to the source (not a replication stream).
func (c *Client) dial(ctx context.Context) (conn *client.Conn, err error) {
	d := &net.Dialer{Timeout: connectTimeout}
	err = guard(func() (err error) {
		conn, err = client.ConnectWithDialer(ctx, "", c.addr(), c.opts.User, c.opts.Password, "", d.DialContext,
			func(conn *client.Conn) error {
				conn.SetTLSConfig(c.opts.TLS)
				conn.ReadTimeout = c.opts.ReadTimeout
				conn.WriteTimeout = c.opts.ReadTimeout
				return nil
			})
		return err
	})
	return conn, err
}

// connectTimeout bounds a TCP connect (go-mysql uses the same for its own).
const connectTimeout = 10 * time.Second

func (c *Client) addr() string {
	return net.JoinHostPort(c.opts.Host, strconv.Itoa(int(c.opts.Port)))
}

// readSourceInfo runs the preflight queries. It needs no privilege.
func readSourceInfo(conn *client.Conn) (*SourceInfo, error) {
	q := "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('" + strings.Join(sourceVariables, "','") + "')"
	r, err := conn.Execute(q)
	if err != nil {
		return nil, fmt.Errorf("read source variables: %w", err)
	}
	vars := make(map[string]string, len(sourceVariables))
	for i := 0; i < r.RowNumber(); i++ {
		k, _ := r.GetString(i, 0)
		v, _ := r.GetString(i, 1)
		// go-mysql's strings alias the result's buffer, which Close returns to
		// a pool shared by every connection: copy before closing.
		vars[strings.ToLower(k)] = strings.Clone(v)
	}
	r.Close()
	info := sourceInfoFromVars(vars)

	if r, err = conn.Execute("SELECT CURRENT_USER()"); err != nil {
		return nil, fmt.Errorf("read current user: %w", err)
	}
	info.User, _ = r.GetString(0, 0)
	info.User = strings.Clone(info.User)
	r.Close()
	if r, err = conn.Execute("SHOW GRANTS FOR CURRENT_USER()"); err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	for i := 0; i < r.RowNumber(); i++ {
		g, _ := r.GetString(i, 0)
		info.Grants = append(info.Grants, strings.Clone(g))
	}
	r.Close()
	return info, nil
}

// sourceInfoFromVars fills a SourceInfo from global variables (lowercase names).
func sourceInfoFromVars(v map[string]string) *SourceInfo {
	info := &SourceInfo{
		Version:           v["version"],
		Flavor:            gtid.MySQL,
		ServerUUID:        v["server_uuid"],
		LogBin:            isOn(v["log_bin"]),
		BinlogFormat:      strings.ToUpper(v["binlog_format"]),
		BinlogRowImage:    strings.ToUpper(v["binlog_row_image"]),
		BinlogRowMetadata: strings.ToUpper(v["binlog_row_metadata"]),
		BinlogChecksum:    strings.ToUpper(v["binlog_checksum"]),
		GTIDMode:          strings.ToUpper(v["gtid_mode"]),
		GTIDStrictMode:    isOn(v["gtid_strict_mode"]),
		GTIDPosition:      v["gtid_executed"],
	}
	if strings.Contains(strings.ToLower(info.Version), "mariadb") {
		info.Flavor = gtid.MariaDB
		info.GTIDMode = "ON"
		info.GTIDPosition = v["gtid_binlog_pos"]
	}
	if id, err := strconv.ParseUint(v["server_id"], 10, 32); err == nil {
		info.ServerID = uint32(id)
	}
	if id, err := strconv.ParseUint(v["gtid_domain_id"], 10, 32); err == nil {
		info.GTIDDomainID = uint32(id)
	}
	info.MaxAllowedPacket, _ = strconv.ParseInt(v["max_allowed_packet"], 10, 64)
	if s, err := strconv.ParseInt(v["binlog_expire_logs_seconds"], 10, 64); err == nil && s > 0 {
		info.ExpireLogsSeconds = s
	} else if d, err := strconv.ParseFloat(v["expire_logs_days"], 64); err == nil && d > 0 {
		info.ExpireLogsSeconds = int64(math.Round(d * 86400))
	}
	return info
}

func isOn(s string) bool {
	s = strings.ToUpper(s)
	return s == "ON" || s == "1" || s == "YES" || s == "TRUE"
}

// grantSet is what SHOW GRANTS says about the privileges the receiver needs.
type grantSet struct {
	replSlave  bool // REPLICATION SLAVE (or ALL)
	replClient bool // REPLICATION CLIENT / BINLOG MONITOR (or ALL)
	roles      bool // the user has roles, whose privileges SHOW GRANTS may not list
}

// parseGrants reads the global (ON *.*) privileges of SHOW GRANTS output, as
// both MySQL and MariaDB print it: "GRANT priv, priv ON *.* TO `u`@`h` ...".
func parseGrants(lines []string) grantSet {
	var g grantSet
	for _, line := range lines {
		up := strings.ToUpper(strings.TrimSpace(line))
		rest, ok := strings.CutPrefix(up, "GRANT ")
		if !ok {
			continue
		}
		privs, _, found := strings.Cut(rest, " ON *.* TO ")
		if !found {
			if !strings.Contains(rest, " ON ") {
				g.roles = true // GRANT `role` TO `user`
			}
			continue
		}
		for _, p := range strings.Split(privs, ",") {
			switch strings.Join(strings.Fields(p), " ") {
			case "ALL", "ALL PRIVILEGES":
				g.replSlave, g.replClient = true, true
			case "REPLICATION SLAVE", "REPLICATION REPLICA":
				g.replSlave = true
			case "REPLICATION CLIENT", "BINLOG MONITOR":
				g.replClient = true
			}
		}
	}
	return g
}

// quoteAccount turns CURRENT_USER()'s "user@host" into 'user'@'host'.
func quoteAccount(cu string) string {
	i := strings.LastIndexByte(cu, '@')
	if cu == "" || i < 0 {
		return ""
	}
	return "'" + cu[:i] + "'@'" + cu[i+1:] + "'"
}

// checkSource is the pure part of the preflight: it returns the joined
// *PreflightErrors (nil when replication can work) and fills info.Warnings.
// gtidStart says whether the stream starts from a GTID set.
func checkSource(info *SourceInfo, o Options, gtidStart bool) error {
	fail := func(check, format string, args ...any) *PreflightError {
		return &PreflightError{Check: check, Msg: fmt.Sprintf(format, args...)}
	}
	if info.Flavor != o.Flavor {
		// The other checks read the wrong variables or would mislead: stop here.
		return fail(CheckFlavor, "the source is %s (version %s) but Flavor is %s: set Flavor to %s",
			info.Flavor, info.Version, o.Flavor, info.Flavor)
	}
	var errs []error
	if !info.LogBin {
		errs = append(errs, fail(CheckLogBin, "binary logging is off on the source (log_bin=OFF): "+
			"start the source with --log-bin and a unique --server-id (this needs a restart)"))
	}
	switch {
	case info.ServerID == 0:
		errs = append(errs, fail(CheckServerID, "the source's server_id is 0, and such a source refuses replicas: "+
			"set server_id on the source to a unique non-zero value"))
	case info.ServerID == o.ServerID:
		errs = append(errs, fail(CheckServerID, "our ServerID %d equals the source's server_id: "+
			"set ServerID to a value no other server or replica of this source uses", o.ServerID))
	}
	if info.LogBin {
		rowFormat := info.BinlogFormat == "ROW"
		switch {
		case rowFormat:
		case o.AllowStatementFormat && (info.BinlogFormat == "STATEMENT" || info.BinlogFormat == "MIXED"):
		default:
			errs = append(errs, fail(CheckBinlogFormat, "the source's binlog_format is %s; set binlog_format=ROW "+
				"on the source (SET GLOBAL binlog_format=ROW and in its config file; open sessions keep their "+
				"format until they reconnect), or allow statement-based events with AllowStatementFormat",
				orNone(info.BinlogFormat)))
		}
		if info.BinlogFormat != "STATEMENT" && info.BinlogRowImage != "FULL" {
			errs = append(errs, fail(CheckRowImage, "the source's binlog_row_image is %s; set binlog_row_image=FULL "+
				"on the source (SET GLOBAL binlog_row_image=FULL and in its config file): the applier needs "+
				"every column of the before and after images", orNone(info.BinlogRowImage)))
		}
	}
	if gtidStart && info.Flavor == gtid.MySQL && info.GTIDMode != "ON" {
		errs = append(errs, fail(CheckGTIDMode, "the start position is a GTID set but the source's gtid_mode is %s: "+
			"enable GTIDs on the source (enforce_gtid_consistency=ON, then gtid_mode OFF_PERMISSIVE, "+
			"ON_PERMISSIVE, ON), or start from a file and position", orNone(info.GTIDMode)))
	}
	g := parseGrants(info.Grants)
	var missing []string
	if !g.replSlave {
		missing = append(missing, "REPLICATION SLAVE")
	}
	if !g.replClient {
		missing = append(missing, "REPLICATION CLIENT (BINLOG MONITOR)")
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("user %s lacks %s; %s", info.User, strings.Join(missing, " and "),
			grantHint(quoteAccount(info.User)))
		if g.roles {
			// A role may hold them; SHOW GRANTS does not always expand roles.
			info.Warnings = append(info.Warnings, msg+" (unless one of the user's roles grants it)")
		} else {
			errs = append(errs, fail(CheckPrivileges, "%s", msg))
		}
	}

	if info.LogBin && info.BinlogRowMetadata != "FULL" && info.BinlogFormat != "STATEMENT" {
		info.Warnings = append(info.Warnings, fmt.Sprintf("the source's binlog_row_metadata is %s: set "+
			"binlog_row_metadata=FULL so row events carry column names and signedness (without it the applier "+
			"relies on the target's schema matching the source's)", orNone(info.BinlogRowMetadata)))
	}
	if ret := time.Duration(info.ExpireLogsSeconds) * time.Second; info.LogBin && ret > 0 && ret < o.RetentionWarning {
		info.Warnings = append(info.Warnings, fmt.Sprintf("the source purges binlogs after %v "+
			"(binlog_expire_logs_seconds): a receiver stopped for longer cannot resume; raise it", ret))
	}
	return errors.Join(errs...)
}

func orNone(s string) string {
	if s == "" {
		return "(not set)"
	}
	return s
}
