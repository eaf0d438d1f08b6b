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
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the one-SELECT floor on SQLite
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
		// The pragmas and pool size of roster's SQLite readers.
		q := url.Values{}
		for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)", "query_only(1)"} {
			q.Add("_pragma", p)
		}
		db, err := sql.Open("sqlite", sqliteURI(strings.TrimPrefix(database, "sqlite:"))+"?"+q.Encode())
		if err != nil {
			return nil, nil, err
		}
		n := max(4, 2*runtime.GOMAXPROCS(0))
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, nil, err
		}
		return func(ctx context.Context, id string) (string, string, error) {
			var gotID, name string
			err := db.QueryRowContext(ctx, query+`?`, id).Scan(&gotID, &name)
			return gotID, name, err
		}, func() { db.Close() }, nil
	case strings.HasPrefix(database, "postgres://"), strings.HasPrefix(database, "postgresql://"):
		pool, err := pgxpool.New(ctx, database)
		if err != nil {
			return nil, nil, err
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
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

// sqliteURI turns a file path into the SQLite URI that names it, as store/sqlite does: "?",
// "#" and "%" would otherwise be read as URI syntax.
func sqliteURI(path string) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	if strings.HasPrefix(path, "/") {
		return "file://" + escaped
	}
	return "file:" + escaped
}
