-- The notifications inbox: the people an admin registers, their personal tokens, and the
-- notifications producers create, each once per dedup key.

-- A person: their role is an audience, their email is the Cloudflare Access identity that logs in
-- as them. read_through is the "mark all read" watermark: every notification numbered at or
-- below it is read (one write, however many it covers).
CREATE TABLE IF NOT EXISTS notification_people (
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  email TEXT UNIQUE,
  display_name TEXT,
  read_through INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Personal tokens, stored only as their SHA-256; id is the public handle to revoke one by.
CREATE TABLE IF NOT EXISTS notification_tokens (
  token_hash TEXT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL,
  label TEXT,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS notification_tokens_by_user ON notification_tokens (user_id);

-- seq only grows, so a watermark never covers a later notification. audience_value is the role,
-- or the named people as a JSON array.
CREATE TABLE IF NOT EXISTS notifications (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  dedup_key TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL,
  category TEXT NOT NULL,
  priority TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT,
  audience_kind TEXT NOT NULL,
  audience_value TEXT,
  action_url TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS notifications_by_created ON notifications (created_at);
CREATE INDEX IF NOT EXISTS notifications_by_expiry ON notifications (expires_at) WHERE expires_at IS NOT NULL;

-- Every outbox row also reaches the inbox (through the NOTIFICATIONS service binding), once:
-- inbox_at records it. Rows delivered before the inbox existed are not news.
ALTER TABLE alert_outbox ADD COLUMN inbox_at INTEGER;
UPDATE alert_outbox SET inbox_at = sent_at WHERE sent_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS alert_outbox_inbox_pending ON alert_outbox (id) WHERE inbox_at IS NULL;
