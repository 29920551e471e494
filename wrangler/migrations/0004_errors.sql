-- Errors (error-collector). D1 is the record of every fingerprint; KV only caches and dedups.

-- One row per fingerprint. Counts are added per tail batch (one upsert per fingerprint per batch).
-- status: 'open' or 'resolved'; muted: 1 when an operator or a cf:muted/cf:wont-fix label silenced
-- it (resolving never unmutes). issue_number is set once GitHub accepted the issue; claimed_at is
-- the atomic claim of the invocation creating it; attempts/next_attempt_at drive the retry cron.
CREATE TABLE IF NOT EXISTS error_fingerprints (
  fingerprint TEXT PRIMARY KEY,
  project TEXT NOT NULL,
  script TEXT NOT NULL,
  repository TEXT,
  kind TEXT NOT NULL,
  exception TEXT,
  category TEXT,
  priority TEXT NOT NULL,
  title TEXT NOT NULL,
  message TEXT NOT NULL,
  sample TEXT NOT NULL,
  occurrences INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  last_context TEXT NOT NULL,
  last_logs TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',
  muted INTEGER NOT NULL DEFAULT 0,
  issue_number INTEGER,
  issue_priority TEXT,
  claimed_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  last_error TEXT,
  notified_count INTEGER NOT NULL DEFAULT 0,
  notified_at INTEGER,
  issue_created_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS error_fingerprints_by_project ON error_fingerprints (project, last_seen);
CREATE INDEX IF NOT EXISTS error_fingerprints_by_script ON error_fingerprints (script, issue_created_at);
CREATE INDEX IF NOT EXISTS error_fingerprints_pending ON error_fingerprints (issue_number, next_attempt_at);

-- Issues filed at most once per project per day (kind 'digest': warnings; 'gap': coverage gaps).
-- The row is the claim, inserted before GitHub is called and deleted again if GitHub refused.
CREATE TABLE IF NOT EXISTS error_daily_issues (
  kind TEXT NOT NULL,
  project TEXT NOT NULL,
  day TEXT NOT NULL,
  issue_number INTEGER,
  claimed_at INTEGER NOT NULL,
  PRIMARY KEY (kind, project, day)
) WITHOUT ROWID;

-- The collector's own facts for /health (key: last_issue_write, last_github_error).
CREATE TABLE IF NOT EXISTS error_collector_state (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  at INTEGER NOT NULL
) WITHOUT ROWID;
