package mtreplica_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
	"github.com/mtreplica/mtreplica/replica"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client certificate.
type testPKI struct {
	pool       *x509.CertPool
	client     tls.Certificate
	serverArgs []string // mariadbd options: ssl_ca, ssl_cert, ssl_key
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mtreplica test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, []byte) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: ips,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der, kder
	}
	srvDER, srvKey := leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	cliDER, cliKey := leaf(3, "mtreplica", x509.ExtKeyUsageClientAuth, nil)
	client, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cliDER}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: cliKey}))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return testPKI{pool: pool, client: client, serverArgs: []string{
		"--ssl-ca=" + write("ca.pem", "CERTIFICATE", caDER),
		"--ssl-cert=" + write("server.pem", "CERTIFICATE", srvDER),
		"--ssl-key=" + write("server-key.pem", "PRIVATE KEY", srvKey),
	}}
}

// tlsConfig verifies the server against the PKI's CA and presents the client certificate.
func (p testPKI) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.client}, MinVersion: tls.VersionTLS12}
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
	src := mariadbtest.Start(t, mariadbtest.Options{ExtraArgs: pki.serverArgs})
	dst := mariadbtest.Start(t, mariadbtest.Options{ExtraArgs: pki.serverArgs})
	plain := mariadbtest.Start(t, mariadbtest.Options{})
	// Users that may only connect over TLS with a certificate of the CA: that
	// they work proves TLS and the client certificate are used.
	mustExec(t, src, "CREATE USER 'tlsrepl'@'%' IDENTIFIED BY 'tls-pw' REQUIRE X509",
		"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'tlsrepl'@'%'")
	mustExec(t, dst, "CREATE USER 'tlsapply'@'%' IDENTIFIED BY 'tls-pw' REQUIRE X509",
		"GRANT ALL ON *.* TO 'tlsapply'@'%'")

	config := func(t *testing.T, s, d *mariadbtest.Server) mtreplica.Config {
		cfg := engineConfig(t, s, d, t.TempDir())
		cfg.Source.User, cfg.Source.Password, cfg.Source.TLS = "tlsrepl", "tls-pw", pki.tlsConfig()
		cfg.Target.User, cfg.Target.Password, cfg.Target.TLS = "tlsapply", "tls-pw", pki.tlsConfig()
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
		cfg.Source.TLS = other.tlsConfig()
		err := runUntilError(t, cfg)
		if !errors.Is(err, replica.ErrTLS) || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("want a certificate error, got: %v", err)
		}
		t.Logf("source, wrong CA: %v", err)
	})

	t.Run("target certificate from another CA is refused", func(t *testing.T) {
		cfg := config(t, src, dst)
		cfg.Target.TLS = other.tlsConfig()
		err := runUntilError(t, cfg)
		if !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Fatalf("want a certificate error, got: %v", err)
		}
		t.Logf("target, wrong CA: %v", err)
	})
}
