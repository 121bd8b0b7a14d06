package mariadbtest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"time"
)

// Sysbench runs sysbench against s as root over TCP, in database db ("" = "sbtest", created if missing), e.g.
//
//	out, err := mariadbtest.Sysbench(ctx, s, "sbtest", "oltp_write_only", "--tables=2", "--table-size=1000", "prepare")
//
// The connection options come first, so an option in args (--mysql-user=repl) overrides them. Debian's sysbench
// is linked against libmariadb, which speaks to this server without a password and, since the server has no
// certificate, without TLS (--mysql-ssl=off is passed anyway). The output is returned in full; on failure the error
// includes it too. ctx cancellation kills sysbench.
func Sysbench(ctx context.Context, s *Server, db string, args ...string) (string, error) {
	path, err := exec.LookPath("sysbench")
	if err != nil {
		return "", fmt.Errorf("sysbench not found; install it with `apt-get install -y sysbench`: %w", err)
	}
	if db == "" {
		db = "sbtest"
	}
	if err := s.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(db)); err != nil {
		return "", fmt.Errorf("sysbench: %w", err)
	}
	full := append([]string{
		"--db-driver=mysql",
		"--mysql-host=" + s.Host,
		"--mysql-port=" + strconv.Itoa(s.Port),
		"--mysql-user=root",
		"--mysql-password=",
		"--mysql-db=" + db,
		"--mysql-ssl=off",
	}, args...)
	cmd := exec.CommandContext(ctx, path, full...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("sysbench %v: %w\n%s", args, err, tail(string(out), 30))
	}
	return string(out), nil
}
