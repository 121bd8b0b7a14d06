package mariadbtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// PKI is a throwaway certificate authority with a server certificate for the
// loopback addresses and a client certificate, for TLS tests.
type PKI struct {
	Pool       *x509.CertPool  // trusts the CA
	Client     tls.Certificate // a client certificate the CA signed
	ServerArgs []string        // mariadbd options (Options.ExtraArgs): --ssl-ca, --ssl-cert, --ssl-key
}

// NewPKI writes the CA and the server's certificate and key as PEM files under
// dir (valid from an hour ago for a day).
func NewPKI(dir string) (*PKI, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mtreplica test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("test CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) (der, key []byte, err error) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: ips,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		if der, err = x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey); err != nil {
			return nil, nil, err
		}
		key, err = x509.MarshalPKCS8PrivateKey(k)
		return der, key, err
	}
	srvDER, srvKey, err := leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	if err != nil {
		return nil, fmt.Errorf("test server certificate: %w", err)
	}
	cliDER, cliKey, err := leaf(3, "mtreplica", x509.ExtKeyUsageClientAuth, nil)
	if err != nil {
		return nil, fmt.Errorf("test client certificate: %w", err)
	}
	client, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cliDER}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: cliKey}))
	if err != nil {
		return nil, err
	}
	p := &PKI{Pool: x509.NewCertPool(), Client: client}
	p.Pool.AddCert(ca)
	for _, f := range []struct {
		opt, name, typ string
		der            []byte
	}{
		{"--ssl-ca", "ca.pem", "CERTIFICATE", caDER},
		{"--ssl-cert", "server.pem", "CERTIFICATE", srvDER},
		{"--ssl-key", "server-key.pem", "PRIVATE KEY", srvKey},
	} {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			return nil, err
		}
		p.ServerArgs = append(p.ServerArgs, f.opt+"="+path)
	}
	return p, nil
}
