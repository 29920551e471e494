-- The platform watching itself: handler runs, the account-wide issue cap, safe alert delivery.

-- Each worker's handlers (crons, queue and tail consumers) stamp their runs: /health reports them
-- and a cron that stopped running, or keeps failing, is noticed and alerted on.
-- consecutive_failures is reset by a run that succeeds.
CREATE TABLE IF NOT EXISTS handler_runs (
  worker TEXT NOT NULL,
  handler TEXT NOT NULL,
  last_run_at INTEGER NOT NULL,
  last_ok_at INTEGER,
  last_error TEXT,
  last_error_at INTEGER,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (worker, handler)
) WITHOUT ROWID;

-- The error collector's account-wide daily cap counts the day's issue creations over all scripts.
CREATE INDEX IF NOT EXISTS error_fingerprints_by_created ON error_fingerprints (issue_created_at);

-- Several workers deliver the shared outbox: a delivery claims its rows first, so two sweeps
-- running at once cannot post the same alert twice.
ALTER TABLE alert_outbox ADD COLUMN claimed_at INTEGER;
CREATE INDEX IF NOT EXISTS alert_outbox_by_subject ON alert_outbox (kind, subject, created_at);
