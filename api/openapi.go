package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/rosterhq/roster"
)

// openAPIDocument is roster's hand-written OpenAPI 3.1 document, the source of truth for its
// three surfaces; openapi_test.go holds it to Routes() and the e2e tests hold responses to it.
//
//go:embed openapi.json
var openAPIDocument []byte

// docsFS holds the /docs page and the Swagger UI assets it loads (swagger-ui-dist from npm;
// scripts/refresh-swagger-ui.sh refreshes them).
//
//go:embed docs/index.html docs/roster-docs.js docs/swagger-ui-bundle.js docs/swagger-ui.css docs/favicon-32x32.png
var docsFS embed.FS

// staticFile is an embedded response body with its media type and a strong ETag.
type staticFile struct {
	body        []byte
	contentType string
	etag        string
	// gzipped is body compressed, made once on first use; nil for bodies that do not shrink.
	gzipped func() []byte
}

func newStaticFile(body []byte, contentType string) staticFile {
	sum := sha256.Sum256(body)
	f := staticFile{body: body, contentType: contentType, etag: hex.EncodeToString(sum[:16])}
	if len(body) >= 1<<10 && !strings.HasPrefix(contentType, "image/") {
		f.gzipped = sync.OnceValue(func() []byte {
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.DefaultCompression)
			_, _ = zw.Write(body)
			_ = zw.Close()
			return b.Bytes()
		})
	}
	return f
}

// docsPageCSP keeps the page to what roster serves: scripts, styles and the document from
// this origin (Swagger UI sets inline styles and uses data: images in its style sheet).
const docsPageCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var (
	openAPIFile = newStaticFile(openAPIDocument, "application/json")
	docsPage    = mustStatic("docs/index.html", "text/html; charset=utf-8")
	// docsAssets are served at /docs/{file}.
	docsAssets = map[string]staticFile{
		"roster-docs.js":       mustStatic("docs/roster-docs.js", "text/javascript; charset=utf-8"),
		"swagger-ui-bundle.js": mustStatic("docs/swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
		"swagger-ui.css":       mustStatic("docs/swagger-ui.css", "text/css; charset=utf-8"),
		"favicon-32x32.png":    mustStatic("docs/favicon-32x32.png", "image/png"),
	}
)

func mustStatic(name, contentType string) staticFile {
	b, err := docsFS.ReadFile(name)
	if err != nil {
		panic("api: embedded " + name + ": " + err.Error())
	}
	return newStaticFile(b, contentType)
}

func (s *Server) openAPI(c *call) error {
	c.sendStatic(openAPIFile)
	return nil
}

func (s *Server) docs(c *call) error {
	h := c.w.Header()
	h.Set("Content-Security-Policy", docsPageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	c.sendStatic(docsPage)
	return nil
}

// root and /docs/ send a browser to the API reference: roster has no page of its own at /.
func (s *Server) root(c *call) error {
	return c.redirect("/docs")
}

func (s *Server) docsAsset(c *call) error {
	f, ok := docsAssets[c.r.PathValue("file")]
	if !ok {
		return roster.Errorf(roster.CodeNotFound, "no such file")
	}
	c.sendStatic(f)
	return nil
}

// redirect answers 302 Found to a path of this server.
func (c *call) redirect(to string) error {
	h := c.w.Header()
	h.Set("Location", to)
	h.Set("Content-Type", "text/html; charset=utf-8")
	body := `<a href="` + to + `">Found</a>.` + "\n"
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.status = http.StatusFound
	c.w.WriteHeader(http.StatusFound)
	_, _ = io.WriteString(c.w, body)
	return nil
}

// sendStatic writes an embedded file, gzipped when the client accepts it, answering 304 when
// the client already has it.
func (c *call) sendStatic(f staticFile) {
	h := c.w.Header()
	body, etag := f.body, `"`+f.etag+`"`
	if f.gzipped != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(c.r.Header.Get("Accept-Encoding")) {
			body, etag = f.gzipped(), `"`+f.etag+`-gzip"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if etagMatches(c.r.Header.Get("If-None-Match"), etag) {
		c.status = http.StatusNotModified
		c.w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.status = http.StatusOK
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(body)
}

// acceptsGzip reads Accept-Encoding: gzip (or *) with a non-zero quality.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// etagMatches applies If-None-Match (RFC 9110 §13.1.2, weak comparison).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
