-- The usage ledger, compacted: D1 bills every row written (an index entry included), so a batch
-- writes a handful of rows instead of four per message.

-- Message ids already counted, one row per batch and enqueue minute instead of one indexed row per
-- message. A redelivered message keeps its enqueue time, so its id is looked for in its own minute.
CREATE TABLE IF NOT EXISTS telemetry_receipts (
  minute_at INTEGER NOT NULL,  -- the enqueue minute of the messages (epoch ms, a multiple of 60000)
  seq INTEGER NOT NULL,        -- 0, 1, 2, ... within the minute
  ids TEXT NOT NULL,           -- JSON array of the message ids
  PRIMARY KEY (minute_at, seq)
) WITHOUT ROWID;

-- The guarantee the old primary key on message ids gave: a receipt repeating an id counted before
-- in its minute is refused, and with it the whole batch transaction that would count it again.
-- The minute's receipts are concatenated once and searched for each quoted id, so the check reads
-- the minute's few rows and the new ids, not every pair of them (D1 bills rows read).
CREATE TRIGGER IF NOT EXISTS telemetry_receipts_count_once
BEFORE INSERT ON telemetry_receipts
WHEN EXISTS (
  SELECT 1 FROM json_each(NEW.ids) AS incoming
  WHERE instr(
    (SELECT group_concat(ids, '') FROM telemetry_receipts WHERE minute_at = NEW.minute_at),
    json_quote(incoming.value)
  ) > 0
)
BEGIN
  SELECT RAISE(ABORT, 'telemetry already counted');
END;

-- Usage per project, UTC period and shard. `totals` maps "<feature key> <metric>" to an amount for
-- the features of the project (a feature key holds no whitespace; its %, " and \ are
-- percent-encoded, so an entry is found by a quoted JSON path); a feature's entries belong in
-- shard fnv1a(key) % 16, but readers sum every shard of the project, so placement only spreads
-- the rows. Day rows also keep `activity`: feature key -> [UTC hours bitmask, latest message
-- timestamp], the cadence the sentinel learns from.
CREATE TABLE IF NOT EXISTS usage_rollups (
  project TEXT NOT NULL,
  period TEXT NOT NULL,        -- 'YYYY-MM-DD' (a UTC day) or 'YYYY-MM' (a UTC month)
  shard INTEGER NOT NULL,
  totals TEXT NOT NULL,
  activity TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (project, period, shard)
) WITHOUT ROWID;

-- The old tables, carried over: feature totals into shard 0 of their project, and the ids counted
-- in the last days into a receipt per minute they were counted in.
INSERT OR IGNORE INTO usage_rollups (project, period, shard, totals, activity, updated_at)
SELECT project, period, 0, json_group_object(entry, value), NULL,
       CAST(strftime('%s', 'now') AS INTEGER) * 1000
FROM (
  SELECT substr(subject, 1, instr(subject, ':') - 1) AS project, period,
         replace(replace(replace(subject, '%', '%25'), '"', '%22'), '\', '%5C') || ' ' || metric AS entry,
         value
  FROM usage_totals WHERE kind = 'feature' AND instr(subject, ':') > 1
)
GROUP BY project, period;

INSERT OR IGNORE INTO telemetry_receipts (minute_at, seq, ids)
SELECT (seen_at / 60000) * 60000, 0, json_group_array(message_id)
FROM telemetry_seen GROUP BY seen_at / 60000;

DROP INDEX IF EXISTS telemetry_seen_by_time;
DROP TABLE IF EXISTS telemetry_seen;
DROP TABLE IF EXISTS usage_totals;
