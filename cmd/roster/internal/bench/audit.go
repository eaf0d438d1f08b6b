package bench

import "context"

// ServerNoAudit is the server of the scenario that measures what the audit trail and events cost: a
// roster serve with --audit=false --events=false (issue 19 compares against neither), started for
// that scenario alone on the same database.
const ServerNoAudit = "roster-no-audit"

// startNoAudit starts roster serve with the audit trail and events off.
func startNoAudit(ctx context.Context, cfg Config, database string) (*child, error) {
	return startChild(ctx, "roster serve --audit=false --events=false", cfg.Exe,
		[]string{"serve", "--addr", "127.0.0.1:0", "--database", database, "--rate-limit", "0", "--max-in-flight", "0", "--audit=false", "--events=false"}, cfg.Env, "/readyz")
}
