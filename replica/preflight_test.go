package replica

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/internal/gtid"
)

func TestParseGrants(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  grantSet
	}{
		{"mariadb 10.11 least privilege", []string{
			"GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `repl`@`%` IDENTIFIED BY PASSWORD '*D98280F03D0F78162EBDBB9C883FC01395DEA2BF'",
		}, grantSet{replSlave: true, replClient: true}},
		{"mysql 8", []string{
			"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `repl`@`%`",
			"GRANT BACKUP_ADMIN ON *.* TO `repl`@`%`",
		}, grantSet{replSlave: true, replClient: true}},
		{"all privileges", []string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION",
			"GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION"}, grantSet{replSlave: true, replClient: true}},
		{"usage only", []string{"GRANT USAGE ON *.* TO `nopriv`@`%` IDENTIFIED BY PASSWORD '*X'"}, grantSet{}},
		{"admin privileges are not the ones needed", []string{
			"GRANT REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, SLAVE MONITOR ON *.* TO `u`@`%`",
		}, grantSet{}},
		{"schema-level grants do not count", []string{
			"GRANT USAGE ON *.* TO `u`@`%`", "GRANT ALL PRIVILEGES ON `app`.* TO `u`@`%`",
		}, grantSet{}},
		{"lowercase, no client", []string{"grant replication slave on *.* to 'u'@'h'"}, grantSet{replSlave: true}},
		{"roles", []string{"GRANT USAGE ON *.* TO `u`@`%`", "GRANT `replrole` TO `u`@`%`"}, grantSet{roles: true}},
	}
	for _, tt := range tests {
		if got := parseGrants(tt.lines); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestQuoteAccount(t *testing.T) {
	for in, want := range map[string]string{"repl@%": "'repl'@'%'", "a@b@127.0.0.1": "'a@b'@'127.0.0.1'", "": ""} {
		if got := quoteAccount(in); got != want {
			t.Errorf("quoteAccount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSourceInfoFromVars(t *testing.T) {
	info := sourceInfoFromVars(map[string]string{
		"version": "10.11.19-MariaDB-0+deb12u1-log", "server_id": "7", "log_bin": "ON", "binlog_format": "row",
		"expire_logs_days": "0.500000", "binlog_expire_logs_seconds": "0", "gtid_binlog_pos": "0-7-12",
		"gtid_domain_id": "3", "gtid_strict_mode": "ON",
	})
	if info.Flavor != gtid.MariaDB || info.ServerID != 7 || !info.LogBin || info.BinlogFormat != "ROW" ||
		info.ExpireLogsSeconds != 43200 || info.GTIDPosition != "0-7-12" || info.GTIDMode != "ON" ||
		info.GTIDDomainID != 3 || !info.GTIDStrictMode {
		t.Errorf("mariadb: %+v", info)
	}
	info = sourceInfoFromVars(map[string]string{
		"version": "8.0.36", "server_id": "1", "server_uuid": "3E11FA47-71CA-11E1-9E33-C80AA9429562",
		"log_bin": "ON", "gtid_mode": "OFF_PERMISSIVE", "binlog_expire_logs_seconds": "2592000", "expire_logs_days": "0",
		"gtid_executed": "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5",
	})
	if info.Flavor != gtid.MySQL || info.GTIDMode != "OFF_PERMISSIVE" || info.ExpireLogsSeconds != 2592000 ||
		info.GTIDPosition != "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5" || info.ServerUUID == "" {
		t.Errorf("mysql: %+v", info)
	}
}

// goodSource is a source every check accepts.
func goodSource(f gtid.Flavor) *SourceInfo {
	info := &SourceInfo{Version: "8.0.36", Flavor: f, ServerID: 1, LogBin: true, BinlogFormat: "ROW",
		BinlogRowImage: "FULL", BinlogRowMetadata: "FULL", GTIDMode: "ON", User: "repl@%",
		Grants: []string{"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `repl`@`%`"}}
	if f == gtid.MariaDB {
		info.Version = "10.11.19-MariaDB"
	}
	return info
}

func TestCheckSource(t *testing.T) {
	opts := Options{Flavor: gtid.MySQL, ServerID: 100, RetentionWarning: 24 * time.Hour}
	tests := []struct {
		name      string
		flavor    gtid.Flavor // of the source
		mod       func(*SourceInfo, *Options)
		gtidStart bool
		checks    []string // failed checks, in order
		warn      string   // a substring of a warning
		msg       string   // a substring of the first error
	}{
		{name: "good mysql", flavor: gtid.MySQL, gtidStart: true},
		{name: "good mariadb", flavor: gtid.MariaDB, mod: func(_ *SourceInfo, o *Options) { o.Flavor = gtid.MariaDB }, gtidStart: true},
		{name: "mysql configured, mariadb source", flavor: gtid.MariaDB, checks: []string{CheckFlavor}, msg: "set Flavor to mariadb"},
		{name: "mariadb configured, mysql source", flavor: gtid.MySQL, mod: func(_ *SourceInfo, o *Options) { o.Flavor = gtid.MariaDB },
			checks: []string{CheckFlavor}, msg: "set Flavor to mysql"},
		{name: "binlog off", flavor: gtid.MySQL, mod: func(i *SourceInfo, _ *Options) { i.LogBin = false },
			checks: []string{CheckLogBin}, msg: "--log-bin"},
		{name: "same server id", flavor: gtid.MySQL, mod: func(i *SourceInfo, _ *Options) { i.ServerID = 100 },
			checks: []string{CheckServerID}, msg: "set ServerID"},
		{name: "source server id 0", flavor: gtid.MySQL, mod: func(i *SourceInfo, _ *Options) { i.ServerID = 0 },
			checks: []string{CheckServerID}, msg: "non-zero"},
		{name: "statement", flavor: gtid.MySQL, mod: func(i *SourceInfo, _ *Options) { i.BinlogFormat = "STATEMENT" },
			checks: []string{CheckBinlogFormat}, msg: "binlog_format=ROW"},
		{name: "statement allowed", flavor: gtid.MySQL, mod: func(i *SourceInfo, o *Options) {
			i.BinlogFormat, i.BinlogRowImage, o.AllowStatementFormat = "STATEMENT", "MINIMAL", true
		}},
		{name: "mixed allowed needs full images", flavor: gtid.MySQL, mod: func(i *SourceInfo, o *Options) {
			i.BinlogFormat, i.BinlogRowImage, o.AllowStatementFormat = "MIXED", "MINIMAL", true
		}, checks: []string{CheckRowImage}},
		{name: "minimal", flavor: gtid.MySQL, mod: func(i *SourceInfo, _ *Options) { i.BinlogRowImage = "MINIMAL" },
			checks: []string{CheckRowImage}, msg: "binlog_row_image=FULL"},
		{name: "format and image", flavor: gtid.MySQL, mod: func(i *SourceInfo, _ *Options) { i.BinlogFormat, i.BinlogRowImage = "MIXED", "NOBLOB" },
			checks: []string{CheckBinlogFormat, CheckRowImage}},
		{name: "mysql gtid start without gtid_mode", flavor: gtid.MySQL, gtidStart: true,
			mod: func(i *SourceInfo, _ *Options) { i.GTIDMode = "ON_PERMISSIVE" }, checks: []string{CheckGTIDMode}, msg: "gtid_mode"},
		{name: "mysql file start without gtid_mode", flavor: gtid.MySQL, mod: func(i *SourceInfo, _ *Options) { i.GTIDMode = "OFF" }},
		{name: "no privileges", flavor: gtid.MySQL, mod: func(i *SourceInfo, _ *Options) {
			i.Grants = []string{"GRANT USAGE ON *.* TO `repl`@`%`"}
		}, checks: []string{CheckPrivileges}, msg: "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%'"},
		{name: "privileges maybe from a role", flavor: gtid.MySQL, mod: func(i *SourceInfo, _ *Options) {
			i.Grants = []string{"GRANT USAGE ON *.* TO `repl`@`%`", "GRANT `r` TO `repl`@`%`"}
		}, warn: "roles"},
		{name: "row metadata", flavor: gtid.MySQL, mod: func(i *SourceInfo, _ *Options) { i.BinlogRowMetadata = "MINIMAL" },
			warn: "binlog_row_metadata=FULL"},
		{name: "short retention", flavor: gtid.MySQL, mod: func(i *SourceInfo, _ *Options) { i.ExpireLogsSeconds = 3600 },
			warn: "purges binlogs after 1h0m0s"},
		{name: "long retention", flavor: gtid.MySQL, mod: func(i *SourceInfo, _ *Options) { i.ExpireLogsSeconds = 7 * 86400 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, o := goodSource(tt.flavor), opts
			if tt.mod != nil {
				tt.mod(info, &o)
			}
			err := checkSource(info, o, tt.gtidStart)
			var got []string
			if err != nil {
				errs := []error{err}
				if j, ok := err.(interface{ Unwrap() []error }); ok {
					errs = j.Unwrap()
				}
				for _, e := range errs {
					var pf *PreflightError
					if !errors.As(e, &pf) {
						t.Fatalf("not a *PreflightError: %v", e)
					}
					got = append(got, pf.Check)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.checks, ",") {
				t.Fatalf("failed checks %v, want %v (%v)", got, tt.checks, err)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			warnings := strings.Join(info.Warnings, "\n")
			if (tt.warn == "") != (warnings == "") || !strings.Contains(warnings, tt.warn) {
				t.Errorf("warnings %q, want one with %q", warnings, tt.warn)
			}
		})
	}
}

func TestPreflightErrorIsPrivileges(t *testing.T) {
	err := error(&PreflightError{Check: CheckPrivileges, Msg: "x"})
	if !errors.Is(err, ErrPrivileges) {
		t.Error("privileges preflight error does not match ErrPrivileges")
	}
	if errors.Is(&PreflightError{Check: CheckLogBin}, ErrPrivileges) {
		t.Error("log_bin preflight error matches ErrPrivileges")
	}
}
