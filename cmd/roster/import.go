package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlstore"
)

// Batches of an import: entities and relationships go in this many to a transaction.
const importBatch = 1000

// maxImportLine bounds one line: an entity at every limit of SPEC §8 is about 89 KB of JSON.
const maxImportLine = 1 << 20

func importCmd(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("import", `usage: roster import [--database URL] [--dry-run] FILE

Reads an export (roster export; FILE "-" is stdin) into the database, idempotently: an object
whose id exists and matches is skipped, one that differs is reported and left as it is. Every
object is validated as the API validates it and written through the same write path as the
API's writes, with its id, times and status as exported. A line that cannot be read or written
is reported by its number ("line 12: …") and the import goes on; the closing line's counts and
SHA-256 are checked. --dry-run does all of it — the same checks, against the database, with
each line seeing what the lines before it would have created — in transactions it rolls back:
it reports what the import would report and writes nothing. Exits 1 when any line was reported.`)
	database := c.database(fs)
	dryRun := fs.Bool("dry-run", false, "validate and compare with the database, write nothing")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.args(1, 1); err != nil {
		return err
	}
	var in io.Reader = os.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	svc, closeFn, err := openService(ctx, *database, *dryRun)
	if err != nil {
		return err
	}
	defer closeFn()
	im := &importer{ctx: ctx, dry: *dryRun, report: c.stderr}
	if sqlitePath(*database) == "" && !im.dry {
		im.analyze = &analyzer{database: *database}
	}
	if im.dry {
		// The import's own operations, each in a transaction rolled back (roster.ImportDryRun).
		d := svc.NewImportDryRun()
		im.writeAccount, im.writeEntities, im.writeRelationships = d.Account, d.Entities, d.Relationships
	} else {
		im.writeAccount = func(ctx context.Context, a roster.Account) (roster.ImportOutcome, error) {
			return svc.ImportAccount(ctx, roster.Operator(), a)
		}
		im.writeEntities = func(ctx context.Context, es []roster.Entity) ([]roster.ImportOutcome, error) {
			return svc.ImportEntities(ctx, roster.Operator(), es)
		}
		im.writeRelationships = func(ctx context.Context, rs []roster.Relationship) ([]roster.ImportOutcome, error) {
			return svc.ImportRelationships(ctx, roster.Operator(), rs)
		}
	}
	start := time.Now()
	if err := im.run(in); err != nil {
		return err
	}
	verb := "imported"
	if im.dry {
		verb = "dry run, nothing written"
	}
	fmt.Fprintf(c.stdout, "%s in %s: accounts %s; entities %s; relationships %s; %d lines reported\n", verb,
		time.Since(start).Round(time.Millisecond), im.tally["account"], im.tally["entity"], im.tally["relationship"], im.bad)
	if im.bad > 0 {
		return fmt.Errorf("%d lines reported above", im.bad)
	}
	return nil
}

// tally counts what an import did with the objects of one kind.
type tally struct{ created, same, differs, invalid int }

func (t *tally) String() string {
	return fmt.Sprintf("%d created, %d unchanged, %d differ, %d invalid", t.created, t.same, t.differs, t.invalid)
}

// pending is an object waiting for its batch, with its line number.
type pending[T any] struct {
	line int
	v    T
}

type importer struct {
	ctx context.Context
	// What writes each kind: the service's import, or its dry run.
	writeAccount       func(context.Context, roster.Account) (roster.ImportOutcome, error)
	writeEntities      func(context.Context, []roster.Entity) ([]roster.ImportOutcome, error)
	writeRelationships func(context.Context, []roster.Relationship) ([]roster.ImportOutcome, error)
	dry                bool
	analyze            *analyzer // PostgreSQL's, when writing
	report             io.Writer
	bad                int
	tally              map[string]*tally

	entities      []pending[roster.Entity]
	seeEntities   []pending[roster.Entity] // those whose see may name an entity further down
	relationships []pending[roster.Relationship]
}

func (im *importer) badLine(n int, format string, args ...any) {
	im.bad++
	fmt.Fprintf(im.report, "line %d: %s\n", n, fmt.Sprintf(format, args...))
}

func (im *importer) run(in io.Reader) error {
	im.tally = map[string]*tally{"account": {}, "entity": {}, "relationship": {}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxImportLine)
	h := sha256.New()
	counts := map[string]int{}
	n := 0
	var end *exportEnd
	endLine := 0
	for sc.Scan() {
		n++
		raw := sc.Bytes()
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		if end != nil {
			im.badLine(n, "a line after the closing line")
			continue
		}
		var head struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			im.badLine(n, "not a JSON object: %v", err)
			continue
		}
		if head.Kind == "end" {
			end, endLine = &exportEnd{}, n
			if err := json.Unmarshal(raw, end); err != nil {
				im.badLine(n, "a closing line that cannot be read: %v", err)
			}
			continue
		}
		h.Write(raw)
		h.Write([]byte{'\n'})
		counts[head.Kind]++
		if err := im.line(n, head.Kind, raw); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", n+1, err)
	}
	if err := im.flush(); err != nil {
		return err
	}
	switch sum := hex.EncodeToString(h.Sum(nil)); {
	case end == nil:
		im.badLine(n+1, "no closing line: the file is cut short, or not an export")
	case end.SHA256 != sum:
		im.badLine(endLine, "the lines' SHA-256 is %s, the closing line says %s: the file was changed or cut", sum, end.SHA256)
	default:
		for _, k := range []string{"account", "entity", "relationship"} {
			if end.Counts[k] != counts[k] {
				im.badLine(endLine, "%d %s lines, the closing line says %d", counts[k], k, end.Counts[k])
			}
		}
	}
	return nil
}

// line reads one object and queues or writes it.
func (im *importer) line(n int, kind string, raw []byte) error {
	v, err := roster.DecodeJSON(raw)
	if err != nil {
		im.badLine(n, "%v", err)
		return nil
	}
	if m, ok := v.(map[string]any); ok {
		delete(m, "kind")
	}
	switch kind {
	case "account":
		a, err := roster.DecodeImportedAccount(v)
		if err != nil {
			im.invalid(n, kind, err)
			return nil
		}
		if err := im.flush(); err != nil { // file order: what came before goes in first
			return err
		}
		return im.account(n, a)
	case "entity":
		e, err := roster.DecodeImportedEntity(v)
		if err != nil {
			im.invalid(n, kind, err)
			return nil
		}
		if e.See != nil {
			im.seeEntities = append(im.seeEntities, pending[roster.Entity]{n, e})
			return nil
		}
		im.entities = append(im.entities, pending[roster.Entity]{n, e})
		if len(im.entities) >= importBatch {
			return im.flushEntities(&im.entities)
		}
	case "relationship":
		r, err := roster.DecodeImportedRelationship(v)
		if err != nil {
			im.invalid(n, kind, err)
			return nil
		}
		if err := im.flushAllEntities(); err != nil {
			return err
		}
		im.relationships = append(im.relationships, pending[roster.Relationship]{n, r})
		if len(im.relationships) >= importBatch {
			return im.flushRelationships()
		}
	default:
		im.badLine(n, "unknown kind %q (want account, entity, relationship or end)", kind)
	}
	return nil
}

func (im *importer) invalid(n int, kind string, err error) {
	im.tally[kind].invalid++
	im.badLine(n, "invalid %s: %v", kind, err)
}

// outcome counts and reports what happened to one object.
func (im *importer) outcome(n int, kind string, o roster.ImportOutcome) {
	t := im.tally[kind]
	switch o.Status {
	case roster.ImportCreated:
		t.created++
	case roster.ImportSame:
		t.same++
	case roster.ImportDiffers:
		t.differs++
		im.badLine(n, "%s: %s", kind, o.Reason)
	case roster.ImportInvalid:
		t.invalid++
		im.badLine(n, "%s not written: %s", kind, o.Reason)
	}
}

func (im *importer) account(n int, a roster.Account) error {
	o, err := im.writeAccount(im.ctx, a)
	var re *roster.Error
	if errors.As(err, &re) {
		im.tally["account"].invalid++
		im.badLine(n, "account not written: %v", err)
		return nil
	} else if err != nil {
		return fmt.Errorf("line %d: %w", n, err)
	}
	im.outcome(n, "account", o)
	return im.grew()
}

// grew is told after each transaction of the import: it keeps PostgreSQL's statistics up with
// the tables the import fills.
func (im *importer) grew() error {
	if im.analyze == nil {
		return nil
	}
	n := 0
	for _, t := range im.tally {
		n += t.created
	}
	return im.analyze.grew(im.ctx, n)
}

// analyzer runs ANALYZE on roster's tables each time an import has doubled what it wrote (from
// 1,000 objects on). An import often fills tables that were empty when its connections
// planned their statements; until the planner's statistics see the rows (autovacuum's analyze
// comes late, or never where it is turned off), the look-up of an object by id may keep a plan
// made for an empty table and read the whole table: measured at 100,000 entities, 100 entities a
// second instead of about 1,000 (docs/operations.md). ANALYZE only samples; it writes no row of roster's.
type analyzer struct {
	database string
	next     int
}

func (a *analyzer) grew(ctx context.Context, written int) error {
	if written < max(a.next, 1000) {
		return nil
	}
	a.next = 2 * written
	conn, err := pgx.Connect(ctx, a.database)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "ANALYZE "+strings.Join(sqlstore.Tables, ", "))
	return err
}

func (im *importer) flush() error {
	if err := im.flushAllEntities(); err != nil {
		return err
	}
	return im.flushRelationships()
}

// flushAllEntities writes the queued entities, those with a see last.
func (im *importer) flushAllEntities() error {
	if err := im.flushEntities(&im.entities); err != nil {
		return err
	}
	return im.flushEntities(&im.seeEntities)
}

// flushEntities writes the queued entities in file order, importBatch a transaction: the
// entities with a see wait for the end of their account's lines, however many they are.
func (im *importer) flushEntities(q *[]pending[roster.Entity]) error {
	queue := *q
	*q = nil
	for len(queue) > 0 {
		n := min(len(queue), importBatch)
		if err := im.writeEntityBatch(queue[:n]); err != nil {
			return err
		}
		queue = queue[n:]
	}
	return nil
}

// writeEntityBatch writes entities in one transaction or, when that fails, each alone.
func (im *importer) writeEntityBatch(batch []pending[roster.Entity]) error {
	es := make([]roster.Entity, len(batch))
	for i, p := range batch {
		es[i] = p.v
	}
	out, err := im.writeEntities(im.ctx, es)
	if err != nil && len(batch) > 1 {
		// One of them cannot go in with the others (its id is a deleted entity's…): each alone,
		// so that the report names it.
		for _, p := range batch {
			if err := im.writeEntityBatch([]pending[roster.Entity]{p}); err != nil {
				return err
			}
		}
		return nil
	}
	if err != nil {
		im.tally["entity"].invalid++
		im.badLine(batch[0].line, "entity not written: %v", err)
		return nil
	}
	for i, o := range out {
		im.outcome(batch[i].line, "entity", o)
	}
	return im.grew()
}

func (im *importer) flushRelationships() error {
	batch := im.relationships
	im.relationships = nil
	if len(batch) == 0 {
		return nil
	}
	rs := make([]roster.Relationship, len(batch))
	for i, p := range batch {
		rs[i] = p.v
	}
	out, err := im.writeRelationships(im.ctx, rs)
	if err != nil {
		return fmt.Errorf("lines %d–%d: %w", batch[0].line, batch[len(batch)-1].line, err)
	}
	for i, o := range out {
		im.outcome(batch[i].line, "relationship", o)
	}
	return im.grew()
}
