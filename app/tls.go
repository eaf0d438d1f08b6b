package app

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certificate is the server's TLS certificate, read from its two PEM files and read again when
// either file changes (a renewal by certbot or an ACME client), so a renewed certificate needs
// no restart. A pair that does not load keeps the previous one in service, with a warning.
type certificate struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]time.Time // modification times of the files the certificate was read from
	checked time.Time
}

// certCheckEvery bounds how often a handshake looks at the files' modification times.
const certCheckEvery = time.Second

// loadCertificate reads the pair; both files are needed.
func loadCertificate(certFile, keyFile string, log *slog.Logger) (*certificate, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")
	}
	c := &certificate{certFile: certFile, keyFile: keyFile, log: log}
	stamp, err := c.stamps()
	if err != nil {
		return nil, err
	}
	if err := c.load(stamp); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certificate) stamps() ([2]time.Time, error) {
	var st [2]time.Time
	for i, name := range []string{c.certFile, c.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return st, fmt.Errorf("TLS: %w", err)
		}
		st[i] = fi.ModTime()
	}
	return st, nil
}

func (c *certificate) load(stamp [2]time.Time) error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("TLS: loading %s and %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert, c.stamp = &cert, stamp
	return nil
}

// get is tls.Config.GetCertificate.
func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.checked) >= certCheckEvery {
		c.checked = now
		if stamp, err := c.stamps(); err == nil && stamp != c.stamp {
			if err := c.load(stamp); err != nil {
				c.stamp = stamp // warn once per change, not at every handshake
				c.log.Warn("keeping the previous TLS certificate", "err", err)
			} else {
				c.log.Info("TLS certificate reloaded", "cert", c.certFile)
			}
		}
	}
	return c.cert, nil
}
