package e2e

// Abuse (SPEC §5, §10): slow-header clients, huge and deeply nested bodies, 10,000-element
// arrays, very long header values and query strings. Each gets a 4xx (or is cut off), never a
// 5xx or a crash; the server's heap stays bounded; and a well-behaved client, probing the server
// the whole time, is served normally throughout.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster/app"
)

const (
	abReadHeaderTimeout = 1 * time.Second
	abHeapBudget        = 200 << 20
)

// abStart is startWith with a short header read timeout, so that slow clients are cut off fast.
func abStart(t *testing.T) *env {
	t.Helper()
	return startConfig(t, app.Config{Database: databaseURL(t, "sqlite"), ReadHeaderTimeout: abReadHeaderTimeout})
}

// abHeap samples the heap of this process (the server runs in it) until stopped.
type abHeap struct {
	base, peak uint64
	stop       chan struct{}
	done       chan struct{}
}

func abWatchHeap() *abHeap {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := &abHeap{base: ms.HeapAlloc, peak: ms.HeapAlloc, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				h.peak = max(h.peak, ms.HeapAlloc)
			}
		}
	}()
	return h
}

func (h *abHeap) finish() (base, peak uint64) {
	close(h.stop)
	<-h.done
	return h.base, h.peak
}

// abProbe is a well-behaved client reading one account every 50 ms.
type abProbe struct {
	ok, failed atomic.Int64
	worst      atomic.Int64 // nanoseconds
	mu         sync.Mutex
	errs       []string
	stop, done chan struct{}
}

func abStartProbe(e *env, key, path string) *abProbe {
	p := &abProbe{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			t0 := time.Now()
			a := crSend(client, "GET", e.base+path, key, nil)
			d := time.Since(t0)
			if d > time.Duration(p.worst.Load()) {
				p.worst.Store(int64(d))
			}
			if a.err != nil || a.status != 200 {
				p.failed.Add(1)
				p.mu.Lock()
				p.errs = append(p.errs, a.String())
				p.mu.Unlock()
				continue
			}
			p.ok.Add(1)
		}
	}()
	return p
}

func TestAbuse(t *testing.T) {
	e := abStart(t)
	id := e.account("Abuse")["id"].(string)
	ab := &abFixture{e: e, id: id, admin: e.key(id, "admin"), host: strings.TrimPrefix(e.base, "http://")}
	heap := abWatchHeap()
	probe := abStartProbe(e, ab.admin, "/v1/accounts/"+id)

	t.Run("slow headers", ab.slowHeaders)
	t.Run("huge declared body", ab.hugeDeclaredBody)
	t.Run("huge chunked body", ab.hugeChunkedBody)
	t.Run("body at the limit", ab.bodyAtLimit)
	t.Run("deeply nested JSON", ab.deeplyNested)
	t.Run("10,000-element arrays", ab.bigArrays)
	t.Run("long headers and queries", ab.longHeaders)

	close(probe.stop)
	<-probe.done
	abCheckBounded(t, heap, probe)
	e.must(e.as(ab.admin, "GET", "/v1/accounts/"+id, nil), 200)
}

// abCheckBounded holds the run to the heap budget and the well-behaved client to being served.
func abCheckBounded(t *testing.T, heap *abHeap, probe *abProbe) {
	t.Helper()
	base, peak := heap.finish()
	t.Logf("abuse figures: heap %d MiB before, %d MiB at peak (budget %d MiB over the start); probe: %d requests served, %d failed, slowest %v",
		base>>20, peak>>20, abHeapBudget>>20, probe.ok.Load(), probe.failed.Load(), time.Duration(probe.worst.Load()).Round(time.Millisecond))
	if peak-base > abHeapBudget {
		t.Errorf("heap grew by %d MiB, over the %d MiB budget", (peak-base)>>20, abHeapBudget>>20)
	}
	if probe.failed.Load() > 0 || probe.ok.Load() == 0 {
		t.Errorf("the well-behaved client: %d served, %d failed: %v", probe.ok.Load(), probe.failed.Load(), probe.errs)
	}
	if worst := time.Duration(probe.worst.Load()); worst > 3*time.Second {
		t.Errorf("the well-behaved client waited %v", worst)
	}
}

// abFixture is the server TestAbuse abuses, with an account and its admin key.
type abFixture struct {
	e               *env
	id, admin, host string
}

// abWant4xx fails on a 5xx, a transport error, or an answer that is not a refusal.
func abWant4xx(t *testing.T, what string, a crAnswer) {
	t.Helper()
	if a.err != nil || a.status >= 500 || a.status < 400 {
		t.Errorf("%s: want a 4xx, got %s", what, abShort(a))
	}
}

// abEntity is an entity creation body with extra fields.
func abEntity(extra map[string]any) []byte {
	m := map[string]any{"name": "abuse", "module_ids": []string{}, "source": nil, "recipient": nil}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

func (ab *abFixture) slowHeaders(t *testing.T) {
	e, admin, host := ab.e, ab.admin, ab.host
	const slow = 20
	type cut struct {
		after time.Duration
		got   []byte
	}
	cuts := make(chan cut, slow)
	for range slow {
		go func() {
			conn, err := net.Dial("tcp", host)
			if err != nil {
				cuts <- cut{after: -1}
				return
			}
			defer conn.Close()
			t0 := time.Now()
			_, _ = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "))
			go func() { // one more header byte every 200 ms: never a whole header in time
				for range 50 {
					time.Sleep(200 * time.Millisecond)
					if _, err := conn.Write([]byte("a")); err != nil {
						return
					}
				}
			}()
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, _ := io.ReadAll(conn) // ends when the server closes the connection
			cuts <- cut{after: time.Since(t0), got: got}
		}()
	}
	// Meanwhile a normal client is served at once.
	for range 10 {
		t0 := time.Now()
		a := crSend(e.client, "GET", e.base+"/v1/entities", admin, nil)
		if a.err != nil || a.status != 200 || time.Since(t0) > abReadHeaderTimeout {
			t.Errorf("a normal client beside slow ones: %s after %v", abShort(a), time.Since(t0))
		}
		time.Sleep(100 * time.Millisecond)
	}
	var first, last time.Duration
	for i := range slow {
		c := <-cuts
		if i == 0 || c.after < first {
			first = c.after
		}
		last = max(last, c.after)
		switch {
		case c.after < 0:
			t.Error("could not dial")
		case c.after < abReadHeaderTimeout*8/10 || c.after > abReadHeaderTimeout+4*time.Second:
			t.Errorf("slow client cut off after %v, want about %v", c.after, abReadHeaderTimeout)
		case bytes.HasPrefix(c.got, []byte("HTTP/1.1 2")):
			t.Errorf("slow client was served: %q", c.got)
		}
	}
	t.Logf("%d slow clients cut off after %v to %v", slow, first.Round(time.Millisecond), last.Round(time.Millisecond))
}

func (ab *abFixture) hugeDeclaredBody(t *testing.T) {
	admin, host := ab.admin, ab.host
	// 100 MiB announced, 64 KiB sent: the 413 comes without waiting for the rest.
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/entities HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", admin, 100<<20)
	_, _ = conn.Write(bytes.Repeat([]byte(" "), 64<<10))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a huge body: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	res.Body.Close()
	if res.StatusCode != 413 || !bytes.Contains(body, []byte(`"payload_too_large"`)) {
		t.Errorf("want 413 payload_too_large, got %d %s", res.StatusCode, body)
	}
}

func (ab *abFixture) hugeChunkedBody(t *testing.T) {
	admin, host := ab.admin, ab.host
	// No length announced: the server stops reading a little past 1 MiB and answers 413.
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/entities HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", admin)
	var sent atomic.Int64
	go func() {
		chunk := append(append([]byte(fmt.Sprintf("%x\r\n", 64<<10)), bytes.Repeat([]byte(" "), 64<<10)...), "\r\n"...)
		for sent.Load() < 256<<20 {
			_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Write(chunk); err != nil {
				return
			}
			sent.Add(64 << 10)
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a huge chunked body: %v (sent %d bytes)", err, sent.Load())
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	res.Body.Close()
	if res.StatusCode != 413 || !bytes.Contains(body, []byte(`"payload_too_large"`)) {
		t.Errorf("want 413 payload_too_large, got %d %s", res.StatusCode, body)
	}
	if n := sent.Load(); n > 32<<20 {
		t.Errorf("the client got to send %d MiB before the 413", n>>20)
	} else {
		t.Logf("413 after the client sent %d KiB", n>>10)
	}
}

func (ab *abFixture) bodyAtLimit(t *testing.T) {
	e, admin := ab.e, ab.admin
	over := append([]byte(`{"name":"`), bytes.Repeat([]byte("x"), 1<<20)...)
	over = append(over, `"}`...)
	a := crSend(e.client, "POST", e.base+"/v1/entities", admin, over)
	if a.err != nil || a.status != 413 || a.code() != "payload_too_large" {
		t.Errorf("1 MiB + 11 bytes: want 413 payload_too_large, got %s", abShort(a))
	}
	// Under 1 MiB the body is read and judged: no field may be that long (SPEC §8).
	under := abEntity(map[string]any{"description": strings.Repeat("x", (1<<20)-200)})
	a = crSend(e.client, "POST", e.base+"/v1/entities", admin, under)
	if want := `{"detail":[{"loc":["body","description"],"msg":"String should have at most 5000 characters","type":"string_too_long"}]}`; a.err != nil || a.status != 422 || string(a.body) != want {
		t.Errorf("%d bytes (under 1 MiB): want 422 string_too_long, got %s", len(under), abShort(a))
	}
}

func (ab *abFixture) deeplyNested(t *testing.T) {
	e, id, admin := ab.e, ab.id, ab.admin
	bodies := map[string][]byte{
		"100k [":       bytes.Repeat([]byte("["), 100000),
		"100k [ and ]": append(bytes.Repeat([]byte("["), 100000), bytes.Repeat([]byte("]"), 100000)...),
		"50k objects":  append(bytes.Repeat([]byte(`{"a":`), 50000), bytes.Repeat([]byte("}"), 50000)...),
		"deep field":   append(append([]byte(`{"name":"x","module_ids":`), bytes.Repeat([]byte("["), 20000)...), bytes.Repeat([]byte("]"), 20000)...),
	}
	for name, body := range bodies {
		for _, path := range []string{"/v1/entities", "/entities", "/v0/accounts/" + id + "/entity_relationships/batch", "/v1/accounts"} {
			key := admin
			if path == "/v1/accounts" {
				key = e.super // an admin would be refused before its body is read
			}
			a := crSend(e.client, "POST", e.base+path, key, body, "Idempotency-Key", "nested")
			abWant4xx(t, name+" to "+path, a)
		}
	}
}

func (ab *abFixture) bigArrays(t *testing.T) {
	e, id, admin := ab.e, ab.id, ab.admin
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = fmt.Sprintf("entity_%024x", i)
	}
	batch, _ := json.Marshal(map[string]any{"entity_ids": ids, "relationship_type": "account_holder"})
	for _, path := range []string{"/v1/accounts/" + id + "/entity_relationships/batch", "/v0/accounts/" + id + "/entity_relationships/batch"} {
		t0 := time.Now()
		a := crSend(e.client, "POST", e.base+path, admin, batch, "Idempotency-Key", "big-"+path[:3])
		if a.err != nil || a.status != 422 || len(a.body) > 64<<10 || time.Since(t0) > 5*time.Second {
			t.Errorf("10,000 entity_ids to %s: want a short 422, got %s (%d bytes, %v)", path, abShort(a), len(a.body), time.Since(t0))
		}
	}
	modules := make([]string, 10000)
	for i := range modules {
		modules[i] = fmt.Sprintf("module-%d", i)
	}
	t0 := time.Now()
	a := crSend(e.client, "POST", e.base+"/v1/entities", admin, abEntity(map[string]any{"module_ids": modules}))
	if a.err != nil || (a.status != 201 && a.status != 422) || time.Since(t0) > 5*time.Second {
		t.Errorf("10,000 module_ids: want 201 or 422, got %s after %v", abShort(a), time.Since(t0))
	}
	if a.status == 201 {
		var got struct {
			ID        string   `json:"id"`
			ModuleIDs []string `json:"module_ids"`
		}
		_ = json.Unmarshal(a.body, &got)
		if len(got.ModuleIDs) != 10000 {
			t.Errorf("10,000 module_ids stored as %d", len(got.ModuleIDs))
		}
	}
	// 10,000 bad items: every problem is reported, and the answer stays bounded.
	bad := make([]any, 10000)
	for i := range bad {
		bad[i] = i
	}
	for _, field := range []string{"module_ids", "flow_ids"} {
		t0 := time.Now()
		a := crSend(e.client, "POST", e.base+"/v1/entities", admin, abEntity(map[string]any{field: bad}))
		if a.err != nil || a.status != 422 || len(a.body) > 8<<20 || time.Since(t0) > 5*time.Second {
			t.Errorf("10,000 bad %s: want a 422, got %s (%d bytes, %v)", field, abShort(a), len(a.body), time.Since(t0))
		}
	}
}

func (ab *abFixture) longHeaders(t *testing.T) {
	e, admin := ab.e, ab.admin
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		what    string
		method  string
		path    string
		body    []byte
		headers []string
		want    int
	}{
		{"100 KiB header value", "GET", "/v1/entities", nil, []string{"X-Big", long(100 << 10)}, 431},
		{"1 MiB header value", "GET", "/v1/entities", nil, []string{"X-Big", long(1 << 20)}, 431},
		{"60 KiB Idempotency-Key", "POST", "/v1/entities", abEntity(nil), []string{"Idempotency-Key", long(60 << 10)}, 422},
		{"60 KiB leadr-client-nonce", "POST", "/v1/entities", abEntity(nil), []string{"leadr-client-nonce", long(60 << 10)}, 412},
		{"60 KiB Content-Type", "POST", "/v1/entities", abEntity(nil), []string{"Content-Type", "application/" + long(60<<10)}, 415},
		{"100 KiB query string", "GET", "/v1/entities?sort=" + long(100<<10), nil, nil, 431},
		{"50 KiB sort", "GET", "/v1/entities?sort=" + long(50<<10), nil, nil, 400},
		{"50 KiB cursor", "GET", "/v1/entities?cursor=" + long(50<<10), nil, nil, 400},
		{"50 KiB filter", "GET", "/v1/entities?source=" + long(50<<10), nil, nil, 422},
		{"60-digit limit", "GET", "/v1/entities?limit=" + strings.Repeat("9", 60), nil, nil, 422},
		{"50 KiB path id", "GET", "/v1/entities/entity_" + long(50<<10), nil, nil, 422},
	}
	for _, c := range cases {
		a := crSend(e.client, c.method, e.base+c.path, admin, c.body, c.headers...)
		if a.err != nil || a.status != c.want {
			t.Errorf("%s: want %d, got %s", c.what, c.want, abShort(a))
		}
	}
	// Credentials and request ids that are too long are refused or replaced, not echoed.
	a := crSend(e.client, "GET", e.base+"/v1/entities", "rk_"+long(60<<10), nil)
	if a.err != nil || a.status != 401 {
		t.Errorf("60 KiB key: want 401, got %s", abShort(a))
	}
	a = crSend(e.client, "GET", e.base+"/v1/entities", admin, nil, "X-Request-Id", long(60<<10))
	if a.err != nil || a.status != 200 || len(a.header.Get("X-Request-Id")) > 128 {
		t.Errorf("60 KiB X-Request-Id: want 200 with a fresh id, got %s, id of %d bytes", abShort(a), len(a.header.Get("X-Request-Id")))
	}
	// Many parameters and many headers, each small: unknown ones are ignored.
	q := url.Values{}
	for i := range 3000 {
		q.Set(fmt.Sprintf("p%d", i), "1")
	}
	a = crSend(e.client, "GET", e.base+"/v1/entities?"+q.Encode(), admin, nil)
	if a.err != nil || a.status != 200 {
		t.Errorf("3,000 unknown query parameters: want 200, got %s", abShort(a))
	}
	var hs []string
	for i := range 1000 {
		hs = append(hs, fmt.Sprintf("X-H%d", i), "v")
	}
	a = crSend(e.client, "GET", e.base+"/v1/entities", admin, nil, hs...)
	if a.err != nil || a.status != 200 {
		t.Errorf("1,000 small headers: want 200, got %s", abShort(a))
	}
}

// abShort renders an answer with its body cut short.
func abShort(a crAnswer) string {
	s := a.String()
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
