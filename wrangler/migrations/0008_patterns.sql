-- Pattern discovery (pattern-discovery; the error collector records shadow matches).

-- Every rule ever suggested, one row per rule. The id is a digest of the rule (kind: its DSL type, and value), so
-- a rule found again is recognised: rejected, expired and refused rules are never suggested again
-- (a refused one is checked again, as the stored errors change). status: pending, shadow, ready,
-- approved, stale, disabled, rejected, expired, refused; reason says why it left the path.
-- samples and fingerprints (JSON arrays) are its cluster's; backtest (JSON) is its last safety check.
CREATE TABLE IF NOT EXISTS patterns (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  category TEXT NOT NULL,
  scope TEXT NOT NULL DEFAULT 'global',
  source TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  cluster TEXT NOT NULL,
  samples TEXT NOT NULL,
  fingerprints TEXT NOT NULL,
  backtest TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  shadow_from INTEGER,
  shadow_until INTEGER,
  ready_at INTEGER,
  approved_at INTEGER,
  decided_by TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS patterns_by_status ON patterns (status, created_at);

-- Matches of shadow and approved patterns on live errors, counted per tail batch: one upsert per
-- pattern, UTC day (YYYY-MM-DD) and fingerprint.
CREATE TABLE IF NOT EXISTS pattern_matches (
  pattern_id TEXT NOT NULL,
  day TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  matches INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  PRIMARY KEY (pattern_id, day, fingerprint)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pattern_matches_by_last_at ON pattern_matches (last_at);

-- Discovery reads the recent errors, newest first, without scanning the whole history.
CREATE INDEX IF NOT EXISTS error_fingerprints_by_last_seen ON error_fingerprints (last_seen);
