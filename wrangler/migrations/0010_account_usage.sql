-- What the account itself used, as Cloudflare's analytics report it: one row per collected UTC
-- hour and dataset. Collecting an hour again replaces its row, so an hour is counted once however
-- often it is collected, and a dataset that failed leaves the others' rows untouched.
CREATE TABLE IF NOT EXISTS account_usage (
  hour_at INTEGER NOT NULL,         -- the UTC hour's start (epoch ms, a multiple of 3600000)
  dataset TEXT NOT NULL,            -- the collector's dataset id ('workers', 'kv_operations', ...)
  lines TEXT NOT NULL,              -- JSON array of [metric, resource, project or null, amount]
  sample_interval REAL NOT NULL,    -- the dataset's mean sample interval for the hour (1 = exact)
  collected_at INTEGER NOT NULL,
  PRIMARY KEY (hour_at, dataset)
) WITHOUT ROWID;
