package main

import (
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/rosterhq/roster/app"
)

// webFlags are the flags of `roster serve` for browsers and the network: TLS and CORS.
type webFlags struct {
	tlsCert, tlsKey, corsOrigins *string
}

// serveWebFlags declares them on fs, each defaulting to its environment variable.
func serveWebFlags(fs *flag.FlagSet, getenv func(string) string) webFlags {
	return webFlags{
		tlsCert: fs.String("tls-cert", getenv("ROSTER_TLS_CERT"), "`PEM` file of the TLS certificate (chain): with --tls-key, serve HTTPS; reloaded when it changes (env ROSTER_TLS_CERT)"),
		tlsKey:  fs.String("tls-key", getenv("ROSTER_TLS_KEY"), "`PEM` file of the TLS certificate's private key (env ROSTER_TLS_KEY)"),
		corsOrigins: fs.String("cors-origins", getenv("ROSTER_CORS_ORIGINS"),
			"comma-separated `origins` browsers may call the API from (https://app.example.com), or * for any; default none (env ROSTER_CORS_ORIGINS)"),
	}
}

// apply checks the flags and sets them on cfg. One of --tls-cert and --tls-key without the
// other is a usage error.
func (w webFlags) apply(cfg *app.Config) error {
	if (*w.tlsCert == "") != (*w.tlsKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together: give both or neither: %w", errUsage)
	}
	cfg.TLSCert, cfg.TLSKey = *w.tlsCert, *w.tlsKey
	for _, o := range strings.Split(*w.corsOrigins, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if u, err := url.Parse(o); o != "*" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil) {
			return fmt.Errorf("--cors-origins: %q is not an origin (scheme://host[:port], or *): %w", o, errUsage)
		}
		cfg.CORSOrigins = append(cfg.CORSOrigins, o)
	}
	return nil
}
