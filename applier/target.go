package applier

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
)

// TargetOptions say how to reach the target server.
type TargetOptions struct {
	Addr     string // host:port
	User     string
	Password string
	// TLS, when set, is required: a server without TLS is refused.
	TLS            *tls.Config
	ConnectTimeout time.Duration // default 10s
}

// String describes the options without the password.
func (o TargetOptions) String() string {
	return fmt.Sprintf("target %s as %s (password %s, tls %v)", o.Addr, o.User, redacted(o.Password), o.TLS != nil)
}

// GoString is String, so %#v does not print the password either.
func (o TargetOptions) GoString() string { return o.String() }

// LogValue keeps the password out of logs.
func (o TargetOptions) LogValue() slog.Value {
	return slog.GroupValue(slog.String("addr", o.Addr), slog.String("user", o.User),
		slog.String("password", redacted(o.Password)), slog.Bool("tls", o.TLS != nil))
}

func redacted(pw string) string {
	if pw == "" {
		return "(none)"
	}
	return "(redacted)"
}

// tlsConfig returns o.TLS with ServerName set to the address's host when the
// certificate is verified and no name was given.
func (o TargetOptions) tlsConfig() *tls.Config {
	if o.TLS == nil || o.TLS.ServerName != "" || o.TLS.InsecureSkipVerify {
		return o.TLS
	}
	c := o.TLS.Clone()
	if host, _, err := net.SplitHostPort(o.Addr); err == nil {
		c.ServerName = host
	} else {
		c.ServerName = o.Addr
	}
	return c
}

// Dial opens a target connection set up for applying: CLIENT_FOUND_ROWS (an
// UPDATE's affected rows are the rows it matched), multi-statements, READ
// COMMITTED, autocommit on, and the row-event session.
func Dial(ctx context.Context, o TargetOptions) (*client.Conn, error) {
	timeout := o.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	opts := []client.Option{func(c *client.Conn) error {
		for _, cp := range []uint32{mysql.CLIENT_FOUND_ROWS, mysql.CLIENT_MULTI_STATEMENTS, mysql.CLIENT_MULTI_RESULTS, mysql.CLIENT_LOCAL_FILES} {
			if err := c.SetCapability(cp); err != nil {
				return err
			}
		}
		if tc := o.tlsConfig(); tc != nil {
			c.SetTLSConfig(tc)
		}
		return nil
	}}
	c, err := client.ConnectWithContext(ctx, o.Addr, o.User, o.Password, "", timeout, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to target %s as %s: %w%s", o.Addr, o.User, err, tlsHint(o, err))
	}
	// With a TLS config go-mysql refuses a server that does not offer TLS
	// ("the MySQL Server does not support TLS required by the client"): no plaintext fallback.
	for _, q := range []string{
		"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
		"SET @@session.autocommit=1",
		// A lock wait the coordinator does not break (one holder outside
		// mtreplica) ends in a retry within seconds, not minutes.
		"SET @@session.innodb_lock_wait_timeout=10",
		rowSessionSQL,
	} {
		if _, err := c.Execute(q); err != nil {
			c.Close()
			return nil, fmt.Errorf("set up target session (%s): %w", q, err)
		}
	}
	return c, nil
}

// tlsHint says what to change when a TLS connection to the target failed.
func tlsHint(o TargetOptions, err error) string {
	if o.TLS == nil {
		return ""
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "does not support TLS"):
		return "; the target offers no TLS (TLS is required, never a plaintext fallback): configure ssl_cert and ssl_key on the target, or connect without TLS"
	case strings.Contains(msg, "certificate"):
		return "; check the target's certificate against the CA given (target_ssl_ca) and that it names the target's host"
	}
	return ""
}
