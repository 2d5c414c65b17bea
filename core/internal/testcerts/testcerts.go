// Package testcerts makes a throw-away PKI for tests: a CA, a server
// certificate for 127.0.0.1/::1/localhost and a client certificate, all
// generated with crypto/x509 at test time (nothing is downloaded).
package testcerts

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// certSet is a CA plus a server and a client certificate signed by it, all
// PEM encoded and generated at test time (nothing is downloaded or checked in).
type certSet struct {
	caPEM, serverCertPEM, serverKeyPEM, clientCertPEM, clientKeyPEM []byte
}

// Certs are the PEM files of a certSet written to a test's temp dir.
type Certs struct {
	CAFile     string // CA certificate
	ServerCert string // server certificate for 127.0.0.1 / ::1 / localhost
	ServerKey  string
	ClientCert string // client certificate, CN "test-client"
	ClientKey  string
	Pool       *x509.CertPool // holds the CA
}

// ClientTLS is a client config trusting the CA; withCert adds the client
// certificate.
func (c *Certs) ClientTLS(t testing.TB, withCert bool) *tls.Config {
	t.Helper()
	cfg := &tls.Config{RootCAs: c.Pool, MinVersion: tls.VersionTLS12}
	if withCert {
		pair, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
		if err != nil {
			t.Fatalf("load client key pair: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg
}

var (
	defaultCertsOnce sync.Once
	defaultCerts     *certSet
	defaultCertsErr  error
)

// New writes the process-wide test PKI (generated once) into
// t.TempDir() and returns the paths and a pool with the CA.
func New(t testing.TB) *Certs {
	t.Helper()
	defaultCertsOnce.Do(func() { defaultCerts, defaultCertsErr = generateCertSet("nsqkit test CA") })
	if defaultCertsErr != nil {
		t.Fatalf("generate certificates: %v", defaultCertsErr)
	}
	return writeCertSet(t, defaultCerts)
}

// Other is a fresh, unrelated PKI (its CA is not trusted by a
// broker using New).
func Other(t testing.TB) *Certs {
	t.Helper()
	cs, err := generateCertSet("nsqkit untrusted CA")
	if err != nil {
		t.Fatalf("generate certificates: %v", err)
	}
	return writeCertSet(t, cs)
}

func writeCertSet(t testing.TB, cs *certSet) *Certs {
	t.Helper()
	dir := t.TempDir()
	out := &Certs{
		CAFile:     filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"),
		ServerKey:  filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey:  filepath.Join(dir, "client-key.pem"),
		Pool:       x509.NewCertPool(),
	}
	for fn, data := range map[string][]byte{
		out.CAFile:     cs.caPEM,
		out.ServerCert: cs.serverCertPEM,
		out.ServerKey:  cs.serverKeyPEM,
		out.ClientCert: cs.clientCertPEM,
		out.ClientKey:  cs.clientKeyPEM,
	} {
		if err := os.WriteFile(fn, data, 0o600); err != nil {
			t.Fatalf("write %s: %v", fn, err)
		}
	}
	if !out.Pool.AppendCertsFromPEM(cs.caPEM) {
		t.Fatal("CA PEM not accepted by CertPool")
	}
	return out
}

// generateCertSet makes an ECDSA P-256 CA, an RSA-2048 server certificate
// for 127.0.0.1, ::1 and localhost, and an ECDSA client certificate with CN
// "test-client".
func generateCertSet(caName string) (*certSet, error) {
	now := time.Now()
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
		return n
	}

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: caName, Organization: []string{"nsqkit tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	serverKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	serverTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	serverDER, err := x509.CreateCertificate(rand.Reader, serverTmpl, caCert, serverKey.Public(), caKey)
	if err != nil {
		return nil, err
	}

	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	clientTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "test-client"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	clientDER, err := x509.CreateCertificate(rand.Reader, clientTmpl, caCert, clientKey.Public(), caKey)
	if err != nil {
		return nil, err
	}

	serverKeyPEM, err := testKeyPEM(serverKey)
	if err != nil {
		return nil, err
	}
	clientKeyPEM, err := testKeyPEM(clientKey)
	if err != nil {
		return nil, err
	}
	return &certSet{
		caPEM:         testCertPEM(caDER),
		serverCertPEM: testCertPEM(serverDER),
		serverKeyPEM:  serverKeyPEM,
		clientCertPEM: testCertPEM(clientDER),
		clientKeyPEM:  clientKeyPEM,
	}, nil
}

func testCertPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func testKeyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// TestGoNSQCertsSelfCheck verifies the generated PKI: the server certificate
// verifies for 127.0.0.1 and localhost, the client certificate for client
// auth with CN "test-client", and the key files pair with their certificates.
