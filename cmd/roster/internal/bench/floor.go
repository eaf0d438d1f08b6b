package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/store/sqlite"
)

// The floors: what this machine serves with nothing of roster in the way. "nodb" is a bare
// net/http handler answering a tiny JSON; "select" is the same handler doing one primary-key
// SELECT of an entity on the benchmark's database, through the same driver and pool size as
// roster's store (modernc SQLite in WAL mode, or a pgx pool). A roster read can hardly beat the
// select floor, so every result is also given as a ratio to it.

// Floor kinds.
const (
	FloorNoDB   = "nodb"
	FloorSelect = "select"
	FloorList   = "list"
)

// ServeFloor serves a floor handler on addr until ctx ends, announcing the address on notice
// as "roster: listening on http://ADDR" like roster serve. It is what `roster bench
// serve-floor` runs in the child process the bench starts.
func ServeFloor(ctx context.Context, kind, database, addr string, notice io.Writer) error {
	mux := http.NewServeMux()
	switch kind {
	case FloorNoDB:
		mux.HandleFunc("GET /floor", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"ok"}`))
		})
	case FloorSelect:
		lookup, closeDB, err := openFloorDB(ctx, database)
		if err != nil {
			return err
		}
		defer closeDB()
		mux.HandleFunc("GET /floor/{id}", func(w http.ResponseWriter, r *http.Request) {
			id, name, err := lookup(r.Context(), r.PathValue("id"))
			switch {
			case errors.Is(err, sql.ErrNoRows):
				http.Error(w, `{"detail":"not found"}`, http.StatusNotFound)
				return
			case err != nil:
				http.Error(w, `{"detail":"internal"}`, http.StatusInternalServerError)
				return
			}
			b, _ := json.Marshal(struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			}{id, name})
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		})
	case FloorList:
		list, closeDB, err := openListFloorDB(ctx, database)
		if err != nil {
			return err
		}
		defer closeDB()
		mux.HandleFunc("GET /floor-list/{account}", func(w http.ResponseWriter, r *http.Request) {
			page, err := list(r.Context(), r.PathValue("account"))
			if err != nil {
				http.Error(w, `{"detail":"internal"}`, http.StatusInternalServerError)
				return
			}
			b, _ := json.Marshal(struct {
				Data []floorEntity `json:"data"`
			}{page})
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		})
	default:
		return fmt.Errorf("unknown floor %q", kind)
	}
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"status":"ok"}`)) })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(notice, "roster: listening on http://%s\n", ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// openFloorDB opens the benchmark database for the one-SELECT floor.
func openFloorDB(ctx context.Context, database string) (func(context.Context, string) (string, string, error), func(), error) {
	const query = `SELECT id, name FROM entities WHERE id = `
	switch {
	case strings.HasPrefix(database, "sqlite:"):
		db, err := openFloorSQLite(ctx, database)
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context, id string) (string, string, error) {
			var gotID, name string
			err := db.QueryRowContext(ctx, query+`?`, id).Scan(&gotID, &name)
			return gotID, name, err
		}, func() { db.Close() }, nil
	case strings.HasPrefix(database, "postgres://"), strings.HasPrefix(database, "postgresql://"):
		pool, err := openFloorPostgres(ctx, database)
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context, id string) (string, string, error) {
			var gotID, name string
			err := pool.QueryRow(ctx, query+`$1`, id).Scan(&gotID, &name)
			if errors.Is(err, pgx.ErrNoRows) {
				err = sql.ErrNoRows
			}
			return gotID, name, err
		}, pool.Close, nil
	default:
		return nil, nil, fmt.Errorf("database %q: want sqlite:PATH or a postgres:// URL", database)
	}
}

// openFloorSQLite opens the benchmark's SQLite file as roster's readers open it.
func openFloorSQLite(ctx context.Context, database string) (*sql.DB, error) {
	db, err := sqlite.OpenReaders(strings.TrimPrefix(database, "sqlite:"))
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openFloorPostgres opens a pgx pool on the benchmark database and checks that it answers.
func openFloorPostgres(ctx context.Context, database string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, database)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// floorEntity is an entity row as the list floor reads it: every column, the way a plain
// database/sql or pgx handler scans it.
type floorEntity struct {
	ID                         string  `json:"id"`
	AccountID                  string  `json:"account_id"`
	Name                       string  `json:"name"`
	ModuleIDs                  string  `json:"module_ids"`
	Source                     *string `json:"source"`
	Recipient                  *string `json:"recipient"`
	Description                *string `json:"description"`
	Deprecated                 bool    `json:"deprecated"`
	See                        *string `json:"see"`
	FieldSuffix                *string `json:"field_suffix"`
	InvitationID               *string `json:"invitation_id"`
	FlowIDs                    string  `json:"flow_ids"`
	LogoURL                    *string `json:"logo_url"`
	Website                    *string `json:"website"`
	TimeZone                   *string `json:"time_zone"`
	TrustedFormCertifiedVendor bool    `json:"trustedform_certified_vendor"`
	CreatedAt                  int64   `json:"created_at"`
	UpdatedAt                  int64   `json:"updated_at"`
}

func (e *floorEntity) dest() []any {
	return []any{&e.ID, &e.AccountID, &e.Name, &e.ModuleIDs, &e.Source, &e.Recipient, &e.Description, &e.Deprecated,
		&e.See, &e.FieldSuffix, &e.InvitationID, &e.FlowIDs, &e.LogoURL, &e.Website, &e.TimeZone,
		&e.TrustedFormCertifiedVendor, &e.CreatedAt, &e.UpdatedAt}
}

// openListFloorDB opens the benchmark database for the list floor: the first page (20 rows,
// every column) of one account's entities by name, the statement roster's per-account list runs
// (roster reads a 21st row to know whether a next page exists), with no authentication, no
// cursor and encoding/json.
func openListFloorDB(ctx context.Context, database string) (func(context.Context, string) ([]floorEntity, error), func(), error) {
	const query = `SELECT id, account_id, name, module_ids, source, recipient, description, deprecated, see, field_suffix,
		invitation_id, flow_ids, logo_url, website, time_zone, trustedform_certified_vendor, created_at, updated_at
		FROM entities WHERE account_id = %s AND deleted_at IS NULL ORDER BY name, id LIMIT 20`
	scan := func(next func() bool, scan func(...any) error, err func() error) ([]floorEntity, error) {
		page := make([]floorEntity, 0, 20)
		for next() {
			var e floorEntity
			if err := scan(e.dest()...); err != nil {
				return nil, err
			}
			page = append(page, e)
		}
		return page, err()
	}
	switch {
	case strings.HasPrefix(database, "sqlite:"):
		db, err := openFloorSQLite(ctx, database)
		if err != nil {
			return nil, nil, err
		}
		stmt, err := db.PrepareContext(ctx, fmt.Sprintf(query, "?"))
		if err != nil {
			db.Close()
			return nil, nil, err
		}
		return func(ctx context.Context, account string) ([]floorEntity, error) {
			rows, err := stmt.QueryContext(ctx, account)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			return scan(rows.Next, rows.Scan, rows.Err)
		}, func() { stmt.Close(); db.Close() }, nil
	case strings.HasPrefix(database, "postgres://"), strings.HasPrefix(database, "postgresql://"):
		pool, err := openFloorPostgres(ctx, database)
		if err != nil {
			return nil, nil, err
		}
		pgQuery := fmt.Sprintf(query, "$1")
		return func(ctx context.Context, account string) ([]floorEntity, error) {
			rows, err := pool.Query(ctx, pgQuery, account)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			return scan(rows.Next, rows.Scan, rows.Err)
		}, pool.Close, nil
	default:
		return nil, nil, fmt.Errorf("database %q: want sqlite:PATH or a postgres:// URL", database)
	}
}
