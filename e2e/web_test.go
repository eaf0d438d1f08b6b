package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/app"
)

// webCert makes a self-signed certificate for 127.0.0.1 and writes it and its key as PEM
// files; it returns the certificate.
func webCert(t *testing.T, certFile, keyFile, name string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Written beside and renamed into place, as an ACME client renews: never half a file.
	for _, f := range []struct {
		name, kind string
		der        []byte
	}{{keyFile, "PRIVATE KEY", keyDER}, {certFile, "CERTIFICATE", der}} {
		tmp := f.name + ".new"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: f.kind, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.name); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// webNoRedirect is a client that shows a redirect instead of following it.
func webNoRedirect(c *http.Client) *http.Client {
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// TestTLS: with --tls-cert and --tls-key roster serves HTTPS only, with the certificate given,
// and a renewed certificate written over the files serves the next connections without a
// restart (SPEC §10).
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := webCert(t, certFile, keyFile, "roster test one")
	e := startConfig(t, app.Config{Database: databaseURL(t, "sqlite"), TLSCert: certFile, TLSKey: keyFile})
	hostPort := strings.TrimPrefix(e.base, "http://")

	trusting := func(certs ...*x509.Certificate) *http.Client {
		pool := x509.NewCertPool()
		for _, c := range certs {
			pool.AddCert(c)
		}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
	}
	e.base, e.client = "https://"+hostPort, trusting(first)

	e.must(e.req("GET", "/healthz", nil), 200)
	accounts := e.must(e.as(e.super, "GET", "/v1/accounts", nil), 200)
	if accounts.Header.Get("X-Request-Id") == "" {
		t.Errorf("no X-Request-Id over TLS: %v", accounts.Header)
	}

	// Plain HTTP on the TLS port gets no API answer.
	if res, err := http.Get("http://" + hostPort + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Fatal("plain HTTP was answered 200 on the TLS port")
		}
	}
	// A client that does not trust the certificate refuses it.
	if _, err := trusting().Get(e.base + "/healthz"); err == nil {
		t.Fatal("a client without the certificate in its pool connected")
	}

	// Renewal: a new pair over the old files serves the next connections.
	second := webCert(t, certFile, keyFile, "roster test two")
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := trusting(second).Get(e.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if got := res.TLS.PeerCertificates[0].Subject.CommonName; got != "roster test two" {
				t.Fatalf("after the renewal the server shows %q", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate was not served within 15 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTLSNeedsBothFiles: a certificate without its key (or the reverse), or files that do not
// hold a pair, stop roster before it opens the database.
func TestTLSNeedsBothFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	webCert(t, certFile, keyFile, "roster")
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"cert alone", certFile, "", "--tls-key"},
		{"key alone", "", keyFile, "--tls-cert"},
		{"missing file", certFile, filepath.Join(dir, "nope.pem"), "nope.pem"},
		{"key as cert", keyFile, keyFile, "loading"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "roster.db")
			_, err := app.New(t.Context(), app.Config{Database: "sqlite:" + db, TLSCert: tc.cert, TLSKey: tc.key})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("app.New: %v, want an error naming %q", err, tc.want)
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Errorf("the database was created before the TLS files were checked (%v)", err)
			}
		})
	}
}

// TestCORS: --cors-origins lets the listed origins call the API from a browser: a preflight
// (OPTIONS with Access-Control-Request-Method) is 204 with the path's methods and the headers
// asked for; actual responses carry the origin and expose the headers a client reads. Any other
// origin gets no CORS header, and its preflight is the 405 it is without CORS (SPEC §10).
func TestCORS(t *testing.T) {
	t.Parallel()
	const app1, app2, other = "https://app.example", "http://localhost:5173", "https://evil.example"
	e := startConfig(t, app.Config{Database: databaseURL(t, "sqlite"), CORSOrigins: []string{app1, app2}})
	preflight := func(e *env, origin, path, method, headers string) resp {
		t.Helper()
		h := []string{"Origin", origin, "Access-Control-Request-Method", method}
		if headers != "" {
			h = append(h, "Access-Control-Request-Headers", headers)
		}
		return e.req("OPTIONS", path, nil, h...)
	}

	for _, tc := range []struct{ path, method, allow string }{
		{"/v1/accounts", "POST", "GET, HEAD, POST"},
		{"/v1/entities/entity_0123456789abcdef01234567", "PATCH", "DELETE, GET, HEAD, PATCH, PUT"},
		{"/v0/accounts/account_0123456789abcdef01234567/entity_relationships/batch", "POST", "POST"},
		{"/entities", "GET", "GET, HEAD, POST"},
	} {
		for _, origin := range []string{app1, app2} {
			r := preflight(e, origin, tc.path, tc.method, "authorization, content-type, idempotency-key")
			if r.Status != 204 || len(r.Body) != 0 {
				t.Fatalf("preflight %s from %s: %s", tc.path, origin, r)
			}
			for name, want := range map[string]string{
				"Access-Control-Allow-Origin":  origin,
				"Access-Control-Allow-Methods": tc.allow,
				"Access-Control-Allow-Headers": "authorization, content-type, idempotency-key",
				"Access-Control-Max-Age":       "600",
			} {
				if got := r.Header.Get(name); got != want {
					t.Errorf("preflight %s from %s: %s = %q, want %q", tc.path, origin, name, got, want)
				}
			}
			if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
				t.Errorf("preflight: no Vary: Origin (%v)", r.Header)
			}
		}
		// Another origin: no CORS header, and the 405 of an unserved method.
		r := preflight(e, other, tc.path, tc.method, "authorization")
		if r.Status != 405 || r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("preflight %s from %s: %s %v", tc.path, other, r, r.Header)
		}
	}
	// An OPTIONS that is no preflight is still 405; so is an unknown path's preflight 404.
	if r := e.req("OPTIONS", "/v1/accounts", nil, "Origin", app1); r.Status != 405 {
		t.Errorf("OPTIONS without Access-Control-Request-Method: %s", r)
	}
	if r := preflight(e, app1, "/v1/nope", "GET", ""); r.Status != 404 {
		t.Errorf("preflight of an unknown path: %s", r)
	}

	// Actual responses, successes and errors alike, name the origin and expose the headers.
	for _, r := range []resp{
		e.as(e.super, "GET", "/v1/accounts", nil, "Origin", app1),
		e.req("GET", "/v1/accounts", nil, "Origin", app1), // 401
		e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": "CORS Co"}, "Origin", app1, "Idempotency-Key", "cors-1"),
		e.req("GET", "/healthz", nil, "Origin", app1),
	} {
		if r.Header.Get("Access-Control-Allow-Origin") != app1 {
			t.Errorf("%s: Access-Control-Allow-Origin %q", r, r.Header.Get("Access-Control-Allow-Origin"))
		}
		exposed := strings.ToLower(r.Header.Get("Access-Control-Expose-Headers"))
		for _, h := range []string{"x-request-id", "idempotent-replayed", "ratelimit", "retry-after", "link"} {
			if !strings.Contains(exposed, h) {
				t.Errorf("%s: %s is not exposed (%q)", r, h, exposed)
			}
		}
	}
	if r := e.as(e.super, "GET", "/v1/accounts", nil, "Origin", other); r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "" ||
		r.Header.Get("Access-Control-Expose-Headers") != "" {
		t.Errorf("from %s: %s %v", other, r, r.Header)
	}

	// "*" allows any origin, answered with "*" (keys travel in headers, never cookies).
	star := startConfig(t, app.Config{Database: databaseURL(t, "sqlite"), CORSOrigins: []string{"*"}})
	if r := preflight(star, other, "/v1/accounts", "GET", "leadr-api-key"); r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight with *: %s %v", r, r.Header)
	}
	if r := star.req("GET", "/healthz", nil, "Origin", other); r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("GET with *: %v", r.Header)
	}

	// Without --cors-origins nothing changes: a preflight is 405 and no CORS header is sent.
	plain := startConfig(t, app.Config{Database: databaseURL(t, "sqlite")})
	if r := preflight(plain, app1, "/v1/accounts", "POST", ""); r.Status != 405 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight without CORS: %s %v", r, r.Header)
	}
	if r := plain.req("GET", "/healthz", nil, "Origin", app1); r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Vary") != "" {
		t.Errorf("GET without CORS: %v", r.Header)
	}
}

// TestRootPointsToDocs: / and /docs/ send a browser to the API reference.
func TestRootPointsToDocs(t *testing.T) {
	t.Parallel()
	e := start(t, "sqlite")
	e.client = webNoRedirect(e.client)
	for _, p := range []string{"/", "/docs/"} {
		for _, m := range []string{"GET", "HEAD"} {
			r := e.req(m, p, nil)
			if r.Status != 302 || r.Header.Get("Location") != "/docs" {
				t.Errorf("%s %s: %s Location %q", m, p, r, r.Header.Get("Location"))
			}
		}
		if r := e.req("POST", p, nil); r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %s Allow %q", p, r, r.Header.Get("Allow"))
		}
	}
	if r := e.req("GET", "/docs", nil); r.Status != 200 {
		t.Errorf("GET /docs: %s", r)
	}
}
