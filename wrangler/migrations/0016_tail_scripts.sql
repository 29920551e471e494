-- The scripts whose tail events reach the error collector, with the last one's time: what tells a
-- script wired as a tail producer (and quiet) from one that is not wired at all. Written at most
-- once per script every ten minutes per isolate, in the tail batch's own D1 round trip; rows older
-- than 90 days are swept by the collector.
CREATE TABLE IF NOT EXISTS tail_scripts (
  script TEXT PRIMARY KEY,
  last_event_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tail_scripts_last_event ON tail_scripts (last_event_at);
