package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

// auExec runs statements on a server's database beside it, as someone with access to the
// database (not the API) would: the tampering the chains must reveal.
func auExec(t *testing.T, database string, stmts ...string) {
	t.Helper()
	if path, ok := strings.CutPrefix(database, "sqlite:"); ok {
		db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, s := range stmts {
			if _, err := db.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		return
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, database)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// auCLI runs `roster audit verify` with args on database and returns its exit status and output.
func auCLI(t *testing.T, bin, database string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"audit", "verify", "--database", database}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("roster audit verify: %v", err)
	return 0, ""
}

// auObj decodes a response's object with numbers as float64.
func auObj(t *testing.T, r resp) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%v: %s", err, r)
	}
	return m
}

// auChain returns the records of an account's chain by sequence (index 0 is sequence 1).
func auChain(t *testing.T, e *env, account string) []map[string]any {
	t.Helper()
	recs := auditRecords(t, e, e.super, "account_id="+account)
	out := make([]map[string]any, len(recs))
	for _, r := range recs {
		seq := int(r["sequence"].(float64))
		if seq < 1 || seq > len(recs) || out[seq-1] != nil {
			t.Fatalf("chain of %s: sequence %d among %d records", account, seq, len(recs))
		}
		out[seq-1] = r
	}
	return out
}

// TestAuditTamper: a record edited, deleted, two swapped, the tail cut, directly in the
// database; the endpoint and the command line both find the chain broken at the first bad
// record and name it. An intact chain verifies on both, and a head saved away is checked.
func TestAuditTamper(t *testing.T) {
	bin := crBuild(t)
	engines(t, func(t *testing.T, e *env) {
		for _, tc := range []struct {
			name string
			// tamper returns the statements, given the chain's account (bare) and records.
			tamper func(acct string, recs []map[string]any) []string
			// want is the sequence and the record (nil: missing) the check must name.
			want func(recs []map[string]any) (int, any)
		}{
			{"edit a field", func(acct string, recs []map[string]any) []string {
				return []string{fmt.Sprintf(`UPDATE audit_records SET action = 'entity.delete' WHERE account_id = '%s' AND sequence = 5`, acct)}
			}, func(recs []map[string]any) (int, any) { return 5, recs[4]["id"] }},
			{"edit the changes", func(acct string, recs []map[string]any) []string {
				return []string{fmt.Sprintf(`UPDATE audit_records SET changes = replace(changes, 'Tampered 2', 'Tampered 9') WHERE account_id = '%s' AND sequence = 5`, acct)}
			}, func(recs []map[string]any) (int, any) { return 5, recs[4]["id"] }},
			{"make the changes not JSON", func(acct string, recs []map[string]any) []string {
				return []string{fmt.Sprintf(`UPDATE audit_records SET changes = '{"after":' WHERE account_id = '%s' AND sequence = 5`, acct)}
			}, func(recs []map[string]any) (int, any) { return 5, recs[4]["id"] }},
			{"delete one", func(acct string, recs []map[string]any) []string {
				return []string{fmt.Sprintf(`DELETE FROM audit_records WHERE account_id = '%s' AND sequence = 4`, acct)}
			}, func(recs []map[string]any) (int, any) { return 5, recs[4]["id"] }},
			{"swap two", func(acct string, recs []map[string]any) []string {
				w := fmt.Sprintf(` WHERE account_id = '%s' AND sequence = `, acct)
				return []string{`UPDATE audit_records SET sequence = -1` + w + `4`, `UPDATE audit_records SET sequence = 4` + w + `5`,
					`UPDATE audit_records SET sequence = 5` + w + `-1`}
			}, func(recs []map[string]any) (int, any) { return 4, recs[4]["id"] }},
			{"cut the tail", func(acct string, recs []map[string]any) []string {
				return []string{fmt.Sprintf(`DELETE FROM audit_records WHERE account_id = '%s' AND sequence > %d`, acct, len(recs)-2)}
			}, func(recs []map[string]any) (int, any) { return len(recs) - 1, nil }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				acct := e.account("Tamper " + tc.name)["id"].(string)
				bare := strings.TrimPrefix(acct, "account_")
				admin := e.key(acct, roster.RoleAdmin)
				for i := range 6 {
					e.must(e.as(admin, "POST", "/v1/entities", map[string]any{"name": fmt.Sprintf("Tampered %d", i), "module_ids": []string{}, "source": nil, "recipient": nil}), 201)
				}
				verify := "/v1/audit_events/verify?account_id=" + acct
				good := auObj(t, e.must(e.as(e.super, "GET", verify, nil), 200))
				if good["ok"] != true {
					t.Fatalf("the intact chain: %v", good)
				}
				if code, out := auCLI(t, bin, e.database, "--account", acct); code != 0 || !strings.Contains(out, acct+": ok") {
					t.Fatalf("the command line on the intact chain: exit %d\n%s", code, out)
				}
				head := good["head"].(map[string]any)
				saved := fmt.Sprintf("%d:%s", int(head["sequence"].(float64)), head["hash"])
				if v := auObj(t, e.must(e.as(e.super, "GET", verify+"&head="+saved, nil), 200)); v["ok"] != true {
					t.Fatalf("the saved head: %v", v)
				}
				other := fmt.Sprintf("%d:%s", int(head["sequence"].(float64)), strings.Repeat("ab", 32))
				if v := auObj(t, e.must(e.as(e.super, "GET", verify+"&head="+other, nil), 200)); v["ok"] != false {
					t.Fatalf("a head the chain does not hold: %v", v)
				}

				recs := auChain(t, e, acct)
				auExec(t, e.database, tc.tamper(bare, recs)...)
				seq, id := tc.want(recs)

				// The command line first: it writes nothing (the endpoint records its read).
				code, out := auCLI(t, bin, e.database, "--account", acct)
				name := "missing"
				if id != nil {
					name = id.(string)
				}
				if code != 1 || !strings.Contains(out, fmt.Sprintf("BROKEN at sequence %d (%s)", seq, name)) {
					t.Errorf("the command line: exit %d, want 1 naming sequence %d (%s)\n%s", code, seq, name, out)
				}
				if code, out := auCLI(t, bin, e.database); code != 1 || !strings.Contains(out, ": BROKEN at sequence") {
					t.Errorf("the command line on every chain: exit %d\n%s", code, out)
				}
				v := auObj(t, e.must(e.as(e.super, "GET", verify, nil), 200))
				bad, _ := v["first_bad"].(map[string]any)
				if v["ok"] != false || bad == nil || bad["sequence"] != float64(seq) || bad["id"] != id || bad["reason"] == "" ||
					v["records_checked"].(float64) > float64(seq-1) {
					t.Errorf("the endpoint: %v, want first_bad sequence %d id %v after %d records", v, seq, id, seq-1)
				}
			})
		}
		// A database that does not exist is an error that names it, and is not created.
		missing := t.TempDir() + "/none.db"
		if code, out := auCLI(t, bin, "sqlite:"+missing); code != 1 || !strings.Contains(out, missing) {
			t.Errorf("a missing database: exit %d\n%s", code, out)
		}
		if code, _ := auCLI(t, bin, "sqlite:"+missing); code != 1 {
			t.Errorf("the missing database was created")
		}
	})
}

// TestAuditRefusals: 401 and 403 are recorded, a 401 in the platform's chain and a 403 in the
// caller's account's; a flood of 10,000 bad keys from one address, from many goroutines, writes
// about one record a second whose counts add up to the flood.
func TestAuditRefusals(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("Refused Co")["id"].(string)
		reader := e.key(acct, roster.RoleReader)
		e.must(e.as(reader, "POST", "/v1/entities", map[string]any{"name": "no", "module_ids": []string{}, "source": nil, "recipient": nil},
			"X-Request-Id", "denied-1", "User-Agent", "refusal-test"), 403)
		e.must(e.as(reader, "GET", "/v1/audit_events", nil), 403)

		const flood, workers = 10000, 16
		var sent atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
		defer client.CloseIdleConnections()
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < flood; i += workers {
					key := roster.NewSecret() // well formed, unknown: each one looked up
					if i%2 == 1 {
						key = fmt.Sprintf("rk_garbage%d", i)
					}
					req, _ := http.NewRequest("GET", e.base+"/v1/accounts", nil)
					req.Header.Set("Authorization", "Bearer "+key)
					res, err := client.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					res.Body.Close()
					if res.StatusCode != 401 {
						t.Errorf("a bad key: %d", res.StatusCode)
						return
					}
					sent.Add(1)
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		if sent.Load() != flood {
			t.Fatalf("sent %d of %d", sent.Load(), flood)
		}
		// Every window closes within a second of its first refusal.
		var failed []map[string]any
		deadline := time.Now().Add(10 * time.Second)
		total := 0
		for {
			failed = auditRecords(t, e, e.super, "action=auth.failed")
			total = 0
			for _, r := range failed {
				total += int(r["count"].(float64))
			}
			if total >= flood || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if total != flood {
			t.Fatalf("auth.failed records stand for %d refusals, want %d", total, flood)
		}
		if limit := int(elapsed/time.Second) + 2; len(failed) > limit {
			t.Errorf("%d records for a flood of %v from one address, want at most %d (one a second)", len(failed), elapsed, limit)
		}
		t.Logf("%d refusals in %v: %d records", flood, elapsed.Round(time.Millisecond), len(failed))
		for _, r := range failed {
			if r["account_id"] != nil || jsonOf(t, r["actor"]) != `{"key_id":null,"role":null,"type":"anonymous"}` || r["status"] != float64(401) ||
				r["outcome"] != "denied" || r["source"].(map[string]any)["ip"] != "127.0.0.1" {
				t.Fatalf("an auth.failed record: %v", r)
			}
		}

		// The reader's two 403s fall in one window: one record standing for both, the first's.
		var denied []map[string]any
		for range 50 {
			if denied = auditRecords(t, e, e.super, "account_id="+acct+"&action=access.denied"); len(denied) > 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(denied) != 1 {
			t.Fatalf("access.denied records: %v", denied)
		}
		d := denied[0]
		if d["count"] != float64(2) || d["status"] != float64(403) || d["request_id"] != "denied-1" || d["actor"].(map[string]any)["role"] != "reader" ||
			d["source"].(map[string]any)["user_agent"] != "refusal-test" {
			t.Errorf("the access.denied record: %v", d)
		}
		for _, chain := range []string{"", "?account_id=" + acct} {
			if v := auObj(t, e.must(e.as(e.super, "GET", "/v1/audit_events/verify"+chain, nil), 200)); v["ok"] != true {
				t.Errorf("verify %q: %v", chain, v)
			}
		}
	})
}

// TestAuditReads: reads of the trail are recorded (audit.read), in the reader's account's
// chain, with the record read as the target of a GET by id; lists filter by action, key,
// target and time, newest first, and page.
func TestAuditReads(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("Reads Co")["id"].(string)
		admin := e.key(acct, roster.RoleAdmin)
		var ids []string
		for i := range 5 {
			r := e.must(e.as(admin, "POST", "/v1/entities", map[string]any{"name": fmt.Sprintf("Read %d", i), "module_ids": []string{}, "source": nil, "recipient": nil}), 201)
			ids = append(ids, r.Obj()["id"].(string))
		}
		creates := auditRecords(t, e, admin, "action=entity.create")
		if len(creates) != 5 || creates[0]["target"].(map[string]any)["id"] != ids[4] || creates[4]["target"].(map[string]any)["id"] != ids[0] {
			t.Fatalf("entity.create records, newest first: %v", creates)
		}
		keyID := creates[0]["actor"].(map[string]any)["key_id"].(string)
		if got := auditRecords(t, e, admin, "target_id="+ids[2]); len(got) != 1 || got[0]["action"] != "entity.create" {
			t.Errorf("target_id filter: %v", got)
		}
		if got := auditRecords(t, e, admin, "actor_key_id="+keyID+"&action=entity.create"); len(got) != 5 {
			t.Errorf("actor_key_id filter: %d records", len(got))
		}
		// Ids that are well formed but name nothing match nothing, as in every list: not the
		// records with no key (the command line's, refusals') or no target.
		for _, q := range []string{"actor_key_id=key_nosuchkey", "target_id=entity_nosuchentity", "target_id=key_nosuchkey"} {
			if got := auditRecords(t, e, e.super, q); len(got) != 0 {
				t.Errorf("%s: %d records, want none; the first: %v", q, len(got), got[0])
			}
		}
		since := creates[2]["occurred_at"].(string)
		if got := auditRecords(t, e, admin, "action=entity.create&since="+since); len(got) != 3 {
			t.Errorf("since %s: %d records", since, len(got))
		}
		if got := auditRecords(t, e, admin, "action=entity.create&until="+since); len(got) != 3 {
			t.Errorf("until %s: %d records", since, len(got))
		}
		// Pages of one, walked forward and back.
		r := auObj(t, e.must(e.as(admin, "GET", "/v1/audit_events?limit=1&action=entity.create", nil), 200))
		next := r["pagination"].(map[string]any)["next_cursor"].(string)
		r2 := auObj(t, e.must(e.as(admin, "GET", "/v1/audit_events?cursor="+next, nil), 200))
		if r2["data"].([]any)[0].(map[string]any)["id"] != creates[1]["id"] {
			t.Errorf("second page: %v", r2)
		}
		prev := r2["pagination"].(map[string]any)["prev_cursor"].(string)
		r3 := auObj(t, e.must(e.as(admin, "GET", "/v1/audit_events?cursor="+prev, nil), 200))
		if r3["data"].([]any)[0].(map[string]any)["id"] != creates[0]["id"] {
			t.Errorf("back to the first page: %v", r3)
		}

		one := auObj(t, e.must(e.as(admin, "GET", "/v1/audit_events/"+creates[0]["id"].(string), nil, "X-Request-Id", "read-one"), 200))
		if jsonOf(t, one) != jsonOf(t, creates[0]) {
			t.Errorf("GET by id %v, list %v", one, creates[0])
		}
		var read map[string]any
		for _, rec := range auditRecords(t, e, e.super, "account_id="+acct+"&action=audit.read") {
			if rec["request_id"] == "read-one" {
				read = rec
			}
		}
		if read == nil || jsonOf(t, read["target"]) != `{"id":"`+creates[0]["id"].(string)+`","type":"audit_event"}` || read["status"] != float64(200) {
			t.Errorf("the read's record: %v", read)
		}
		// Anyone can recompute a record's hash from the API's answer.
		for _, rec := range []map[string]any{one, read} {
			h := rec["hash"]
			delete(rec, "hash")
			b, _ := json.Marshal(rec)
			if got, err := roster.HashAuditJSON(b); err != nil || got != h {
				t.Errorf("recomputed hash %s, record says %v (%v)", got, h, err)
			}
		}
		// An account id that names nothing has a chain without a record.
		if v := auObj(t, e.must(e.as(e.super, "GET", "/v1/audit_events/verify?account_id=account_abc", nil), 200)); v["ok"] != true || v["records"] != float64(0) {
			t.Errorf("the chain of an account that cannot exist: %v", v)
		}
		// Bad filters are 422, each at its place.
		wantProblems(t, e.as(admin, "GET", "/v1/audit_events?since=yesterday&actor_key_id=nope&target_id=x", nil),
			`["query","since"] datetime_parsing`, `["query","actor_key_id"] string_pattern_mismatch`, `["query","target_id"] string_pattern_mismatch`)
	})
}
