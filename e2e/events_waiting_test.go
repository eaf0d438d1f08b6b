package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

// One account holds at most api.MaxWaiting long polls and event streams open at once (each is a
// goroutine and a watcher woken by every commit): the next one is 429 rate_limited with
// Retry-After, while a read that does not wait still answers, and a closed stream frees its place.
func TestEventsWaitersBounded(t *testing.T) {
	e := start(t, "sqlite")
	acct := str(e.account("Many Streams"), "id")
	admin := e.key(acct, roster.RoleAdmin)
	var cancels []func()
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	for range api.MaxWaiting {
		_, res, cancel := openStream(t, e, admin, "", "")
		cancels = append(cancels, cancel)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: status %d", len(cancels), res.StatusCode)
		}
	}
	_, res, cancel := openStream(t, e, admin, "", "")
	cancel()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "1" {
		t.Fatalf("one stream past the bound: status %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	wantNative(t, e.as(admin, "GET", "/v1/events?wait=1", nil), http.StatusTooManyRequests, "rate_limited")
	e.must(e.as(admin, "GET", "/v1/events?limit=1", nil), http.StatusOK)
	// Another account is not held back by this one's streams.
	other := e.key(str(e.account("Few Streams"), "id"), roster.RoleAdmin)
	e.must(e.as(other, "GET", "/v1/events?wait=0", nil), http.StatusOK)
	_, res, cancelOther := openStream(t, e, other, "", "")
	cancelOther()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("another account's stream: status %d", res.StatusCode)
	}

	cancels[0]()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, res, cancel := openStream(t, e, admin, "", "")
		cancels = append(cancels, cancel)
		if res.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed stream's place was not freed in 10 s: status %d", res.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
