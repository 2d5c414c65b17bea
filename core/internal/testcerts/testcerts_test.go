package testcerts

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
)

func TestCertsSelfCheck(t *testing.T) {
	c := New(t)
	load := func(fn string) *x509.Certificate {
		data, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(data)
		if b == nil {
			t.Fatalf("%s: no PEM block", fn)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	srv := load(c.ServerCert)
	for _, name := range []string{"127.0.0.1", "localhost"} {
		if _, err := srv.Verify(x509.VerifyOptions{DNSName: name, Roots: c.Pool}); err != nil {
			t.Errorf("server cert for %s: %v", name, err)
		}
	}
	cl := load(c.ClientCert)
	if cl.Subject.CommonName != "test-client" {
		t.Errorf("client CN = %q", cl.Subject.CommonName)
	}
	if _, err := cl.Verify(x509.VerifyOptions{Roots: c.Pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client cert: %v", err)
	}
	other := Other(t)
	if _, err := load(other.ClientCert).Verify(x509.VerifyOptions{Roots: c.Pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("certificate of an unrelated CA verified")
	}
	if _, err := tls.LoadX509KeyPair(c.ServerCert, c.ServerKey); err != nil {
		t.Error(err)
	}
	if _, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey); err != nil {
		t.Error(err)
	}
}
