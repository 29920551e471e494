-- sync-config's state. The config history: each applied config, its version (the hash of the
-- normalised document), the document itself (from which the derived state is recomputed by the
-- resumed runs and the drift check) and the progress of its apply.
CREATE TABLE IF NOT EXISTS config_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  version TEXT NOT NULL,
  applied_at INTEGER NOT NULL,
  document TEXT NOT NULL,
  summary TEXT NOT NULL,
  kv_total INTEGER NOT NULL,
  kv_done INTEGER NOT NULL,
  runs INTEGER NOT NULL,
  completed_at INTEGER
);

-- The record of truth for what sync-config wrote to PLATFORM_CACHE: each key and the digest of
-- its value. A plan is the derived state against these rows.
CREATE TABLE IF NOT EXISTS synced_kv_keys (
  key TEXT PRIMARY KEY,
  digest TEXT NOT NULL,
  written_at INTEGER NOT NULL
);

-- Projects from services.yaml. scripts: JSON array of the project's Worker script names.
CREATE TABLE IF NOT EXISTS project_registry (
  project_id TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  repository TEXT NOT NULL,
  tier INTEGER NOT NULL,
  scripts TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

-- Features from services.yaml, keyed project:category:feature.
CREATE TABLE IF NOT EXISTS feature_registry (
  feature_key TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  category TEXT NOT NULL,
  feature TEXT NOT NULL,
  display_name TEXT NOT NULL,
  circuit_breaker INTEGER NOT NULL,
  cost_tier TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS feature_registry_project ON feature_registry (project_id);

-- One row per daily drift check: how many keys were checked and which were repaired (JSON).
CREATE TABLE IF NOT EXISTS drift_checks (
  checked_at INTEGER PRIMARY KEY,
  version TEXT NOT NULL,
  checked INTEGER NOT NULL,
  repaired TEXT NOT NULL
);
