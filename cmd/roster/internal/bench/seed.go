package bench

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster"
)

// BulkLoader is a store with a bulk path: rows go in far faster than through Service, without
// any of the service's checks, in one transaction per table (SQLite: multi-row INSERTs, the
// secondary indexes of an empty table dropped and rebuilt inside the transaction; PostgreSQL:
// COPY). The bench seeds through it; both engines implement it (store/sqlite/bulk.go,
// store/postgres/bulk.go).
type BulkLoader interface {
	// BulkLoad inserts accounts, then entities, then relationships (nil sequences are
	// skipped), all of them new and consistent (every entity's account among accounts or
	// already stored, every relationship's entity owned by its account). A table is loaded
	// whole or not at all.
	//
	// progress, if not nil, is told what is happening: step is a table name while its rows
	// go in (done counts them; total is 0, the sequence's length being unknown), or
	// "<table> indexes" while its indexes are built (done of total).
	BulkLoad(ctx context.Context, accounts []roster.Account, entities iter.Seq[roster.Entity],
		relationships iter.Seq[roster.Relationship], progress func(step string, done, total int)) error
}

// SeedStats is what was seeded and how long it took.
type SeedStats struct {
	Accounts int `json:"accounts"`
	Entities int `json:"entities"`
	// NoisyEntities is how many entities at the maximum field sizes the noisy tenant owns
	// (seeded only when a noisy scenario runs).
	NoisyEntities int `json:"noisy_entities,omitempty"`
	Relationships int `json:"relationships"`
	Keys          int `json:"keys"`
	// Steps is the time of each step of the bulk load ("entities", "entities indexes", ...)
	// and of "keys", in seconds; a step ends when the next one starts, so the last step of a
	// table includes its commit.
	Steps map[string]float64 `json:"steps_seconds"`
	// EntitiesSeconds is the time from the first entity row to the commit of the table.
	EntitiesSeconds float64 `json:"entities_seconds"`
	TotalSeconds    float64 `json:"total_seconds"`
}

// credentials are the keys the load presents.
type credentials struct {
	super   string   // a superadmin secret
	account []string // account j's admin secret
}

// seed fills a fresh store with d through its bulk path, then makes one admin key per account
// and one superadmin key through the service, keeping their secrets.
func seed(ctx context.Context, st roster.Store, d *dataset, progress io.Writer) (SeedStats, credentials, error) {
	stats := SeedStats{Accounts: len(d.accounts), Entities: d.normal, NoisyEntities: len(d.ids) - d.normal, Relationships: d.relationships, Steps: map[string]float64{}}
	if d.noisy >= 0 {
		stats.Accounts-- // the noisy tenant is counted apart
	}
	bl, ok := st.(BulkLoader)
	if !ok {
		return stats, credentials{}, fmt.Errorf("the store %T has no bulk path", st)
	}
	began := time.Now()
	bar := newProgress(progress)
	rows := map[string]int{"accounts": len(d.accounts), "entities": len(d.ids), "relationships": d.relationships}
	step, stepStart := "", began
	var entitiesStart, entitiesEnd time.Time
	finish := func() {
		if step == "" {
			return
		}
		now := time.Now()
		stats.Steps[step] = now.Sub(stepStart).Seconds()
		if strings.HasPrefix(step, "entities") {
			entitiesEnd = now
		}
		bar.done()
	}
	err := bl.BulkLoad(ctx, d.accounts, d.entities(), d.relationshipSeq(), func(s string, done, total int) {
		if s != step {
			finish()
			step, stepStart = s, time.Now()
			if s == "entities" {
				entitiesStart = stepStart
			}
			if total == 0 {
				total = rows[s]
			}
			bar.start("seeding "+s, total)
		}
		bar.set(done)
	})
	finish()
	if err != nil {
		return stats, credentials{}, err
	}
	if !entitiesStart.IsZero() {
		stats.EntitiesSeconds = entitiesEnd.Sub(entitiesStart).Seconds()
	}

	keysStart := time.Now()
	svc := roster.NewService(st, nil, nil)
	creds := credentials{account: make([]string, len(d.accounts))}
	super, err := svc.CreateKey(ctx, roster.Operator(), roster.KeyCreate{Role: roster.RoleSuperadmin, Name: "bench superadmin"}.Body())
	if err != nil {
		return stats, creds, fmt.Errorf("creating the superadmin key: %w", err)
	}
	creds.super = super.Secret
	// Keys go through the service, concurrently so that group commit shares the fsyncs.
	bar.start("seeding keys", len(d.accounts))
	var mu sync.Mutex
	var firstErr error
	made := 0
	work := make(chan int)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for j := range work {
				ck, err := svc.CreateKey(ctx, roster.Operator(), roster.KeyCreate{AccountID: d.accounts[j].ID, Role: roster.RoleAdmin,
					Name: "bench admin"}.Body())
				secret := ck.Secret
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("creating a key for account %s: %w", d.accounts[j].ID, err)
				}
				creds.account[j] = secret
				made++
				bar.set(made)
				mu.Unlock()
			}
		})
	}
	for j := range d.accounts {
		if ctx.Err() != nil {
			break
		}
		work <- j
	}
	close(work)
	wg.Wait()
	bar.done()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	stats.Keys = made + 1
	stats.Steps["keys"] = time.Since(keysStart).Seconds()
	stats.TotalSeconds = time.Since(began).Seconds()
	return stats, creds, firstErr
}

// progress is a one-line progress bar, redrawn with \r at most ten times a second.
type progress struct {
	w       io.Writer
	label   string
	total   int
	n       int
	began   time.Time
	drawn   time.Time
	visible bool
}

func newProgress(w io.Writer) *progress { return &progress{w: w} }

func (p *progress) start(label string, total int) {
	p.label, p.total, p.n, p.began, p.drawn, p.visible = label, total, 0, time.Now(), time.Time{}, false
	p.draw()
}

func (p *progress) set(n int) {
	p.n = n
	if time.Since(p.drawn) >= 100*time.Millisecond {
		p.draw()
	}
}

func (p *progress) draw() {
	if p.w == nil {
		return
	}
	p.drawn = time.Now()
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.n)/float64(p.total), 1)
	}
	filled := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < filled {
			bar[i] = '#'
		}
	}
	rate := 0.0
	if el := time.Since(p.began).Seconds(); el > 0 {
		rate = float64(p.n) / el
	}
	fmt.Fprintf(p.w, "\r%-22s [%s] %5.1f%%  %d/%d  %.0f/s  %s   ", p.label, bar, 100*frac, p.n, p.total, rate,
		time.Since(p.began).Round(100*time.Millisecond))
	p.visible = true
}

func (p *progress) done() {
	if p.w == nil || !p.visible {
		return
	}
	p.draw()
	fmt.Fprintln(p.w)
	p.visible = false
}
