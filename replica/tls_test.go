package replica

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
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// testCA writes a CA and a server certificate for 127.0.0.1 under dir and
// returns the pool that trusts the CA and the mariadbd options that use them.
func testCA(t *testing.T, dir string) (*x509.CertPool, []string) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
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
	caKey, srvKey := newKey(), newKey()
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mtreplica test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool, []string{
		"--ssl-ca=" + write("ca.pem", "CERTIFICATE", caDER),
		"--ssl-cert=" + write("server.pem", "CERTIFICATE", srvDER),
		"--ssl-key=" + write("server-key.pem", "PRIVATE KEY", keyDER),
	}
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
