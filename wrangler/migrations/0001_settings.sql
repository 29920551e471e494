-- Operator settings, one text value per key. platform-core's settings module validates each value;
-- an absent or invalid row means the default applies.
CREATE TABLE IF NOT EXISTS settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
