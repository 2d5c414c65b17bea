package nsqd

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// buildTLSConfig makes the server TLS config from --tls-* options, or nil
// when no certificate is configured (daemon-behaviour.md §10).
func buildTLSConfig(opts *Options) (*tls.Config, error) {
	if opts.TLSCert == "" && opts.TLSKey == "" {
		return nil, nil
	}
	if opts.TLSCert == "" || opts.TLSKey == "" {
		return nil, errors.New("both --tls-cert and --tls-key are needed")
	}
	cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   opts.TLSMinVersion,
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS10
	}
	switch opts.TLSClientAuthPolicy {
	case "require":
		cfg.ClientAuth = tls.RequireAnyClientCert
	case "require-verify":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		cfg.ClientAuth = tls.NoClientCert
	}
	if opts.TLSRootCAFile != "" {
		pool, err := loadCAPool(opts.TLSRootCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
	}
	return cfg, nil
}

func loadCAPool(fn string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(fn)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificates found in %s", fn)
	}
	return pool, nil
}

// tlsVersionName is the /stats name of a TLS version.
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLS1.0"
	case tls.VersionTLS11:
		return "TLS1.1"
	case tls.VersionTLS12:
		return "TLS1.2"
	case tls.VersionTLS13:
		return "TLS1.3"
	}
	return fmt.Sprintf("Unknown %d", v)
}
