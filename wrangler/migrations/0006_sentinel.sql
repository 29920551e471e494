-- The sentinel: incidents it opened and closed (gaps, stale heartbeats, anomalies, the platform's
-- own workers), and the operator's silences.

-- One row per incident: opened once with its alert, closed once with its recovery notice.
CREATE TABLE IF NOT EXISTS sentinel_incidents (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,          -- 'gap', 'heartbeat', 'anomaly', 'platform'
  subject TEXT NOT NULL,       -- a feature key, 'worker' or 'worker:handler'
  project TEXT,
  feature TEXT,
  since INTEGER NOT NULL,      -- when the condition began (epoch ms)
  opened_at INTEGER NOT NULL,
  closed_at INTEGER,           -- NULL while open
  summary TEXT NOT NULL,       -- why it fired, in one line
  detail TEXT NOT NULL,        -- the rule's figures (JSON)
  silenced_by INTEGER          -- the silence that held its alert back, if one did
);
-- At most one open incident per kind and subject: a second opening is refused.
CREATE UNIQUE INDEX IF NOT EXISTS sentinel_incidents_open
  ON sentinel_incidents (kind, subject) WHERE closed_at IS NULL;
CREATE INDEX IF NOT EXISTS sentinel_incidents_by_closed ON sentinel_incidents (closed_at);

CREATE TABLE IF NOT EXISTS sentinel_silences (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  project TEXT,
  feature TEXT,
  kind TEXT,
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sentinel_silences_by_expiry ON sentinel_silences (expires_at);
