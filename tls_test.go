package mtreplica_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
	"github.com/mtreplica/mtreplica/replica"
)

// newTestPKI is a throwaway CA with server and client certificates.
func newTestPKI(t *testing.T) *mariadbtest.PKI {
	t.Helper()
	p, err := mariadbtest.NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tlsConfig verifies the server against the PKI's CA and presents the client certificate.
func tlsConfig(p *mariadbtest.PKI) *tls.Config {
	return &tls.Config{RootCAs: p.Pool, Certificates: []tls.Certificate{p.Client}, MinVersion: tls.VersionTLS12}
}

// runUntilError runs a Replica that must stop by itself with an error.
func runUntilError(t *testing.T, cfg mtreplica.Config) error {
	t.Helper()
	r, err := mtreplica.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = r.Run(ctx)
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Run did not fail by itself: %v (%v)", err, ctx.Err())
	}
	return err
}

// TestTLSEndToEnd: TLS with CA verification and client certificates to the
// source and to the target. TLS required against a server without TLS fails
// with a clear error, never a plaintext fallback; a CA-signed server
// certificate replicates; a server certificate from another CA is refused.
func TestTLSEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB servers")
	}
	pki := newTestPKI(t)
	src := mariadbtest.Start(t, mariadbtest.Options{ExtraArgs: pki.ServerArgs})
	dst := mariadbtest.Start(t, mariadbtest.Options{ExtraArgs: pki.ServerArgs})
	plain := mariadbtest.Start(t, mariadbtest.Options{})
	// Users that may only connect over TLS with a certificate of the CA: that
	// they work proves TLS and the client certificate are used.
	mustExec(t, src, "CREATE USER 'tlsrepl'@'%' IDENTIFIED BY 'tls-pw' REQUIRE X509",
		"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'tlsrepl'@'%'")
	mustExec(t, dst, "CREATE USER 'tlsapply'@'%' IDENTIFIED BY 'tls-pw' REQUIRE X509",
		"GRANT ALL ON *.* TO 'tlsapply'@'%'")

	config := func(t *testing.T, s, d *mariadbtest.Server) mtreplica.Config {
		cfg := engineConfig(t, s, d, t.TempDir())
		cfg.Source.User, cfg.Source.Password, cfg.Source.TLS = "tlsrepl", "tls-pw", tlsConfig(pki)
		cfg.Target.User, cfg.Target.Password, cfg.Target.TLS = "tlsapply", "tls-pw", tlsConfig(pki)
		return cfg
	}

	t.Run("CA-signed certificates replicate", func(t *testing.T) {
		cfg := config(t, src, dst)
		r, stop := startEngine(t, cfg)
		mustExec(t, src, "CREATE DATABASE sec", "CREATE TABLE sec.t (id INT PRIMARY KEY, v VARCHAR(10))",
			"INSERT INTO sec.t VALUES (1, 'a'), (2, 'b')", "UPDATE sec.t SET v = 'c' WHERE id = 2")
		waitCaughtUp(t, src, dst, r, time.Minute)
		compare(t, src, dst, "sec")
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("source without TLS is refused", func(t *testing.T) {
		cfg := config(t, plain, dst)
		cfg.Source.User, cfg.Source.Password = mariadbtest.ReplUser, mariadbtest.ReplPassword
		err := runUntilError(t, cfg)
		if !errors.Is(err, replica.ErrTLS) || !strings.Contains(err.Error(), "TLS") {
			t.Fatalf("want a TLS error, got: %v", err)
		}
		t.Logf("source without TLS: %v", err)
	})

	t.Run("target without TLS is refused", func(t *testing.T) {
		cfg := config(t, src, plain)
		cfg.Target.User, cfg.Target.Password = "root", ""
		err := runUntilError(t, cfg)
		if !strings.Contains(err.Error(), "does not support TLS") {
			t.Fatalf("want a TLS error, got: %v", err)
		}
		t.Logf("target without TLS: %v", err)
	})

	other := newTestPKI(t) // a CA that signed neither server
	t.Run("source certificate from another CA is refused", func(t *testing.T) {
		cfg := config(t, src, dst)
		cfg.Source.TLS = tlsConfig(other)
		err := runUntilError(t, cfg)
		if !errors.Is(err, replica.ErrTLS) || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("want a certificate error, got: %v", err)
		}
		t.Logf("source, wrong CA: %v", err)
	})

	t.Run("target certificate from another CA is refused", func(t *testing.T) {
		cfg := config(t, src, dst)
		cfg.Target.TLS = tlsConfig(other)
		err := runUntilError(t, cfg)
		if !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Fatalf("want a certificate error, got: %v", err)
		}
		t.Logf("target, wrong CA: %v", err)
	})
}
