package bench

import "context"

// ServerNoAudit is the server of the scenario that measures what the audit trail costs: a
// roster serve with --audit=false, started for that scenario alone on the same database.
const ServerNoAudit = "roster-no-audit"

// startNoAudit starts roster serve with the audit trail off.
func startNoAudit(ctx context.Context, cfg Config, database string) (*child, error) {
	return startChild(ctx, "roster serve --audit=false", cfg.Exe,
		[]string{"serve", "--addr", "127.0.0.1:0", "--database", database, "--rate-limit", "0", "--max-in-flight", "0", "--audit=false"}, cfg.Env, "/readyz")
}
