package replica

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// testCA writes a CA and a server certificate for 127.0.0.1 under dir and
// returns the pool that trusts the CA and the mariadbd options that use them.
func testCA(t *testing.T, dir string) (*x509.CertPool, []string) {
	t.Helper()
	p, err := mariadbtest.NewPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p.Pool, p.ServerArgs
}

func TestTLS(t *testing.T) {
	pool, args := testCA(t, t.TempDir())
	src := mariadbtest.Start(t, mariadbtest.Options{ExtraArgs: args})
	setupSchema(t, src)
	// A user that may only connect over TLS: streaming as it proves TLS is used.
	mustExec(t, src, "CREATE USER 'tlsrepl'@'%' IDENTIFIED BY 'pw' REQUIRE SSL",
		"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'tlsrepl'@'%'")

	t.Run("verified", func(t *testing.T) {
		opts := sourceOptions(src)
		opts.User, opts.Password = "tlsrepl", "pw"
		opts.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12} // ServerName defaults to Host
		relay := newFakeRelay()
		c, err := New(opts, relay)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Preflight(context.Background()); err != nil {
			t.Fatalf("preflight over TLS: %v", err)
		}
		runReceiver(t, c, resumeFrom(relay, StartPosition{}))
		mustExec(t, src, "INSERT INTO app.t VALUES (1, 'tls')")
		last := lastSeq(t, src)
		waitForSeq(t, relay, last)
		checkExactly(t, relay, 1, last)
	})
	t.Run("plaintext refused", func(t *testing.T) {
		opts := sourceOptions(src)
		opts.User, opts.Password = "tlsrepl", "pw"
		c, err := New(opts, newFakeRelay())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Preflight(context.Background()); !errors.Is(err, ErrAuth) {
			t.Fatalf("preflight without TLS for a REQUIRE SSL user: %v, want ErrAuth", err)
		}
	})
	t.Run("unknown CA", func(t *testing.T) {
		otherPool, _ := testCA(t, t.TempDir())
		opts := sourceOptions(src)
		opts.TLS = &tls.Config{RootCAs: otherPool}
		c, err := New(opts, newFakeRelay())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Preflight(context.Background()); !errors.Is(err, ErrTLS) {
			t.Errorf("Preflight: %v, want ErrTLS", err)
		}
		err = c.Run(context.Background(), func() (StartPosition, error) { return StartPosition{}, nil })
		if !errors.Is(err, ErrTLS) {
			t.Errorf("Run: %v, want ErrTLS", err)
		}
	})
}

// TestTLSRequiredNoFallback: TLS configured, source without TLS: a permanent
// error, never a plaintext connection.
func TestTLSRequiredNoFallback(t *testing.T) {
	src := mariadbtest.Start(t, mariadbtest.Options{})
	opts := sourceOptions(src)
	opts.TLS = &tls.Config{RootCAs: x509.NewCertPool()}
	c, err := New(opts, newFakeRelay())
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(context.Background(), func() (StartPosition, error) { return StartPosition{}, nil })
	if !errors.Is(err, ErrTLS) {
		t.Fatalf("Run: %v, want ErrTLS", err)
	}
	t.Log(err)
	if st := c.Status(); st.EventsReceived != 0 || st.Reconnects != 0 {
		t.Errorf("status %+v", st)
	}
}
