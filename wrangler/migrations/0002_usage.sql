-- Usage, budgets and breakers (platform-usage). D1 is the record of truth; KV only broadcasts.

-- Queue message ids already counted: a redelivered message is never counted twice.
CREATE TABLE IF NOT EXISTS telemetry_seen (
  message_id TEXT PRIMARY KEY,
  seen_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS telemetry_seen_by_time ON telemetry_seen (seen_at);

-- Accumulated usage: kind 'feature' (subject = feature key) or 'project' (subject = project id);
-- period 'YYYY-MM-DD' (a UTC day) or 'YYYY-MM' (a UTC month).
CREATE TABLE IF NOT EXISTS usage_totals (
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  period TEXT NOT NULL,
  metric TEXT NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (kind, subject, period, metric)
) WITHOUT ROWID;

-- The latest heartbeat of each feature.
CREATE TABLE IF NOT EXISTS feature_health (
  feature_key TEXT PRIMARY KEY,
  last_heartbeat INTEGER NOT NULL,
  heartbeats INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS feature_breakers (
  feature_key TEXT PRIMARY KEY,
  open INTEGER NOT NULL,
  manual INTEGER NOT NULL,
  reason TEXT,
  tripped_at INTEGER,
  auto_reset_at INTEGER,
  consecutive_trips INTEGER NOT NULL,
  last_reset_at INTEGER,
  exempt_until INTEGER
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS project_breakers (
  project TEXT PRIMARY KEY,
  level TEXT NOT NULL,
  manual INTEGER NOT NULL,
  reason TEXT,
  since INTEGER,
  auto_reset_at INTEGER,
  exempt_until INTEGER
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS global_stop (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  enabled INTEGER NOT NULL,
  reason TEXT,
  since INTEGER NOT NULL
);

-- Budget warnings sent, one per feature, metric, period and threshold.
CREATE TABLE IF NOT EXISTS budget_warnings (
  feature_key TEXT NOT NULL,
  metric TEXT NOT NULL,
  period TEXT NOT NULL,
  threshold INTEGER NOT NULL,
  sent_at INTEGER NOT NULL,
  PRIMARY KEY (feature_key, metric, period, threshold)
) WITHOUT ROWID;

-- Every breaker transition: trips, resets, manual changes, global stops.
CREATE TABLE IF NOT EXISTS breaker_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  scope TEXT NOT NULL,
  subject TEXT NOT NULL,
  event TEXT NOT NULL,
  reason TEXT
);

-- Telemetry that could not be used (kind 'rejected') or exhausted its retries ('dead_letter'),
-- with the full payload so it can be replayed.
CREATE TABLE IF NOT EXISTS telemetry_rejects (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  message_id TEXT NOT NULL,
  queue TEXT NOT NULL,
  reason TEXT NOT NULL,
  payload TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  resolved_at INTEGER
);

-- Alerts to deliver; a failed delivery stays pending and is retried by a later run.
CREATE TABLE IF NOT EXISTS alert_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  sent_at INTEGER,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS alert_outbox_pending ON alert_outbox (sent_at, created_at);
