package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlite"
)

// TestBackupWhileWriting: a backup taken while writers commit opens, passes integrity_check and
// holds every write acknowledged before it started; its SHA-256 is the file's; restore puts it
// in place, refuses a database a process has open, and the restored database serves.
func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	db := "sqlite:" + path
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	svc := roster.NewService(st, nil, nil)

	var mu sync.Mutex
	var acked []string
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				a, err := svc.CreateAccount(ctx, roster.Operator(), fmt.Appendf(nil, `{"name":"writer %d account %d"}`, w, i))
				if err != nil {
					if ctx.Err() == nil {
						t.Error(err)
					}
					return
				}
				mu.Lock()
				acked = append(acked, a.ID)
				mu.Unlock()
			}
		}()
	}
	waitFor := func(n int) {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			got := len(acked)
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d writes in 30 s", got)
			}
		}
	}
	waitFor(200)
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	backup := filepath.Join(dir, "backup.db")
	out, errOut, err := runCLI(t, map[string]string{"ROSTER_DATABASE": db}, "backup", backup)
	if err != nil {
		t.Fatalf("backup: %v %s", err, errOut)
	}
	waitFor(len(before) + 50) // the writers went on during and after the backup
	cancel()
	wg.Wait()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if want := hex.EncodeToString(sum[:]) + "  " + backup; lastLine(out) != want {
		t.Fatalf("backup printed %q, want %q", out, want)
	}
	if err := sqlite.IntegrityCheck(context.Background(), backup); err != nil {
		t.Fatal(err)
	}
	copySt, err := sqlite.Open(context.Background(), backup)
	if err != nil {
		t.Fatal(err)
	}
	copySvc := roster.NewService(copySt, nil, nil)
	for _, id := range before {
		if _, err := copySvc.Account(context.Background(), id); err != nil {
			t.Fatalf("account %s, acknowledged before the backup started, is not in it: %v", id, err)
		}
	}
	if err := copySt.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, map[string]string{"ROSTER_DATABASE": db}, "backup", backup); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a backup over an existing file: %v", err)
	}

	// Restore: refused while a store has the database open, done once it is closed.
	live, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, map[string]string{"ROSTER_DATABASE": db}, "restore", backup); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("restore under an open store: %v", err)
	}
	live.Close()
	if _, errOut, err := runCLI(t, map[string]string{"ROSTER_DATABASE": db}, "restore", backup); err != nil {
		t.Fatalf("restore: %v %s", err, errOut)
	}
	restored, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	page, err := roster.NewService(restored, nil, nil).ListAccounts(context.Background(), roster.System, roster.PageRequest{Limit: 1, Principal: roster.System})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("the restored database: %v %v", page, err)
	}
	for _, id := range before[:10] {
		if _, err := roster.NewService(restored, nil, nil).Account(context.Background(), id); err != nil {
			t.Fatalf("restored database lacks %s: %v", id, err)
		}
	}

	// PostgreSQL: backup explains pg_dump.
	if pg := os.Getenv("ROSTER_TEST_POSTGRES"); pg != "" {
		if _, _, err := runCLI(t, map[string]string{"ROSTER_DATABASE": pg}, "backup", filepath.Join(dir, "pg.db")); err == nil || !strings.Contains(err.Error(), "pg_dump") {
			t.Fatalf("backup on PostgreSQL: %v", err)
		}
	} else {
		t.Log("ROSTER_TEST_POSTGRES is not set: backup's PostgreSQL answer is not checked")
	}
}
